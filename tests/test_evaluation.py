"""The evaluation harness: identical held-out episodes for every policy, paired results."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines import TWAP, ConstantActionPolicy, Immediate
from exec_env.evaluation import (
    EpisodeSpec,
    best_baseline,
    evaluate,
    overlapping_episodes,
    report,
    sample_episodes,
    seed_summary,
    verdict,
)
from exec_env.market import MarketCatalogue
from tests.books import T0, S, book, make_day


@pytest.fixture(scope="module")
def config(small_catalogue):
    return ExecutionConfig(market=small_catalogue, horizon_s=300)


def test_episodes_come_from_test_days_only_and_are_reproducible(config):
    a = sample_episodes(config, 30, seed=4, overlap=True)
    assert {e.day for e in a} == {2}  # the last day of three (n_test=1)
    assert a == sample_episodes(config, 30, seed=4, overlap=True)
    assert a != sample_episodes(config, 30, seed=5, overlap=True)
    assert {e.side for e in a} == {1, -1}
    assert len({e.start_ns for e in a}) > 20


def test_every_policy_runs_the_same_episodes_and_returns_match_shortfall(config):
    episodes = sample_episodes(config, 12, seed=0, overlap=True)
    results = evaluate({"TWAP": TWAP(), "Immediate": Immediate(), "Passive": ConstantActionPolicy(0.0, -1.0)},
                       config, episodes)  # fmt: skip
    assert len(results) == 36
    by_policy = {name: frame.set_index("episode") for name, frame in results.groupby("policy")}
    for frame in by_policy.values():
        assert list(frame.index) == list(range(12))
        np.testing.assert_allclose(frame["return"], -frame["shortfall_bps"], atol=1e-9)
        np.testing.assert_array_equal(frame["start_ns"], [e.start_ns for e in episodes])
        np.testing.assert_array_equal(frame["side"], [e.side for e in episodes])
        assert set(frame["date"]) == {str(config.market.day(2).meta.date)}  # the cluster of the report
    assert (by_policy["TWAP"]["n_child_orders"] == 30).all()  # one slice per decision (300 s / 10 s)
    # Immediate sends everything at once; what the book within cross_ticks cannot absorb goes again
    assert (by_policy["Immediate"]["n_child_orders"] <= 3).all()
    assert (by_policy["Immediate"]["n_child_orders"] == 1).any()
    assert (by_policy["Passive"]["maker_fraction"] > by_policy["TWAP"]["maker_fraction"]).all()


def test_a_policy_identical_to_twap_differs_from_it_by_exactly_zero(config, tmp_path):
    episodes = sample_episodes(config, 10, seed=1, overlap=True)
    results = evaluate({"TWAP": TWAP(), "TWAP again": ConstantActionPolicy(0.0, 1.0)}, config, episodes)
    summary, table = report(results, baseline="TWAP", out_dir=tmp_path)
    row = summary.set_index("policy").loc["TWAP again"]
    assert row["mean_diff"] == 0.0 and row["ci_low"] == 0.0 and row["ci_high"] == 0.0
    assert "TWAP again" in table
    payload = json.loads((tmp_path / "eval_summary.json").read_text())
    assert payload["baseline"] == "TWAP" and payload["n_episodes"] == 10
    assert [r["policy"] for r in payload["summary"]] == ["TWAP", "TWAP again"]
    assert (tmp_path / "eval_episodes.csv").read_text().count("\n") == 21


def test_discrete_twap_is_the_continuous_twap(config):
    episodes = sample_episodes(config, 6, seed=2)
    cont = evaluate({"TWAP": TWAP()}, config, episodes)
    disc_cfg = ExecutionConfig(market=config.market, horizon_s=300, action_mode="discrete")
    disc = evaluate({"TWAP": TWAP(gym.spaces.MultiDiscrete([5, 5]))}, disc_cfg, episodes)
    np.testing.assert_array_equal(cont["shortfall_bps"], disc["shortfall_bps"])


def test_an_sb3_model_is_evaluated_through_the_same_protocol(config):
    from stable_baselines3 import PPO

    from exec_env import ExecutionEnv

    model = PPO("MlpPolicy", ExecutionEnv(config), n_steps=64, batch_size=32, seed=0, device="cpu")
    episodes = sample_episodes(config, 4, seed=3)
    a = evaluate({"PPO": model}, config, episodes)
    b = evaluate({"PPO": model}, config, episodes)
    np.testing.assert_array_equal(a["shortfall_bps"], b["shortfall_bps"])  # deterministic predict


def test_baseline_predict_handles_batches_and_rejects_off_grid_values():
    obs = np.zeros((3, 16), dtype=np.float32)
    actions, _ = TWAP().predict(obs)
    np.testing.assert_array_equal(actions, [[0.0, 1.0]] * 3)
    np.testing.assert_array_equal(TWAP(gym.spaces.MultiDiscrete([5, 5])).predict(obs[0])[0], [2, 4])
    with pytest.raises(ValueError, match="not on the discrete grid"):
        ConstantActionPolicy(0.3, 1.0, gym.spaces.MultiDiscrete([5, 5]))
    with pytest.raises(ValueError, match=r"pace=1.5 is outside the allowed range \[-1, 1\]"):
        ConstantActionPolicy(1.5, 1.0)


# --------------------------------------------------------------------------- episode sets


def test_episodes_of_one_day_do_not_overlap_unless_asked(small_catalogue):
    cfg = ExecutionConfig(market=small_catalogue, horizon_s=300)
    # the test day: 2400 s session, 300 s warm-up, 300 s horizon: starts in [300, 2100] s, room for 6
    eps = sample_episodes(cfg, 6, seed=9)
    starts = np.sort([e.start_ns for e in eps])
    assert (np.diff(starts) >= 300 * S).all() and overlapping_episodes(eps, 300) == 0
    assert len({e.episode for e in eps}) == 6
    with pytest.raises(ValueError, match=r"7 non-overlapping 300 s windows do not fit .*room for 6 on 1 days"):
        sample_episodes(cfg, 7, seed=9)
    crowded = sample_episodes(cfg, 40, seed=9, overlap=True)
    assert overlapping_episodes(crowded, 300) == 40


def test_both_sides_run_each_window_as_a_buy_and_a_sell(config):
    eps = sample_episodes(config, 8, seed=3, side="both")
    assert [e.side for e in eps] == [1, -1] * 4
    assert [e.start_ns for e in eps[::2]] == [e.start_ns for e in eps[1::2]]
    assert overlapping_episodes(eps, 300) == 8  # each buy shares its window with its sell
    with pytest.raises(ValueError, match=r"n = 7 episodes with side='both'.*allowed: an even n"):
        sample_episodes(config, 7, side="both")


def test_overlap_count_is_exact_on_hand_placed_windows():
    def spec(i, day, start_s):
        return EpisodeSpec(i, day, T0 + start_s * S, 1, 1.0)

    eps = [spec(0, 0, 0), spec(1, 0, 100), spec(2, 0, 700), spec(3, 1, 100), spec(4, 0, 1300)]
    # horizon 600: 0 and 100 overlap; 700 starts 600 after 100 (touching, not overlapping); day 1 is alone
    assert overlapping_episodes(eps, 600) == 2


def test_every_policy_sees_byte_identical_market_paths(config):
    episodes = sample_episodes(config, 5, seed=6)
    results = evaluate({"TWAP": TWAP(), "Immediate": Immediate()}, config, episodes)
    hashes = results.pivot(index="episode", columns="policy", values="market_hash")
    assert (hashes["TWAP"] == hashes["Immediate"]).all()
    assert hashes["TWAP"].nunique() == 5  # and the digest does tell episodes apart


# --------------------------------------------------------------------------- child orders


def test_child_order_records_reconcile_with_the_episode():
    flat = [book(t, [(100.00, 10**6)], [(100.01, 10**6)]) for t in (0, 1000)]
    cfg = ExecutionConfig(market=MarketCatalogue([make_day(flat, levels=1)]), quantity=1000, horizon_s=300,
                          decision_interval_s=60, warmup_s=0)  # fmt: skip
    orders: list[dict] = []
    spec = EpisodeSpec(0, 0, T0 + 100 * S, 1, 1000.0)
    evaluate({"TWAP": TWAP()}, cfg, [spec], split="all", child_orders=orders)
    assert [o["time_ns"] for o in orders] == [T0 + (100 + 60 * j) * S for j in range(5)]
    assert [o["child_qty"] for o in orders] == [200] * 5
    assert [o["target_qty"] for o in orders] == [200, 400, 600, 800, 1000]
    assert [o["limit_px"] for o in orders] == pytest.approx([100.06] * 5)  # 5 ticks through the ask
    assert [o["fill_px"] for o in orders] == pytest.approx([100.01] * 5)
    assert [o["executed"] for o in orders] == [200, 400, 600, 800, 1000]


# --------------------------------------------------------------------------- reports


def _results(diffs_by_day: dict[int, list[float]]) -> pd.DataFrame:
    rows, ep = [], 0
    for day, diffs in diffs_by_day.items():
        for d in diffs:
            for policy, value in (("A", 1.0), ("B", 2.0), ("PPO", 1.0 + d)):
                rows.append({"policy": policy, "episode": ep, "day": day, "shortfall_bps": value, "fill_rate": 1.0,
                             "maker_fraction": 0.0, "vwap_slippage_bps": 0.0, "fees_bps": 0.0, "n_child_orders": 1})  # fmt: skip
            ep += 1
    return pd.DataFrame(rows)


def test_report_judges_the_learned_policy_against_the_best_baseline_with_day_clusters(tmp_path):
    # PPO is 0.5 cheaper than A on every episode of day 0 and 0.3 dearer on day 1 ...
    results = _results({0: [-0.5] * 6, 1: [0.3] * 6, 2: [-0.4] * 6})
    assert best_baseline(results, ["A", "B"]) == "A"
    summary, text = report(results, baseline=None, baselines=["A", "B"], learned=["PPO"], out_dir=tmp_path)
    row = summary.set_index("policy").loc["PPO"]
    assert row["n_days"] == 3
    # ... so the per-episode interval excludes zero, the day-clustered one (3 days) does not
    assert row["ci_high"] < 0 < row["day_ci_high"]
    assert "PPO is not distinguishable from the best baseline A" in text
    assert "18 episodes on 3 independent day(s)" in text
    payload = json.loads((tmp_path / "eval_summary.json").read_text())
    assert payload["baseline"] == "A" and payload["n_days"] == 3 and payload["verdicts"]


def test_days_of_one_date_are_one_cluster(tmp_path):
    """Two symbols' sessions on one date share the market's moves: one independent unit, not two."""
    results = _results({0: [-0.5] * 3, 1: [-0.4] * 3, 2: [0.3] * 6, 3: [0.2] * 6})  # 6 episodes a date
    results["date"] = results["day"].map({0: "2019-02-11", 1: "2019-02-11", 2: "2019-02-12", 3: "2019-02-13"})
    summary, text = report(results, baseline="A", baselines=["A", "B"], learned=["PPO"])
    row = summary.set_index("policy").loc["PPO"]
    assert row["n_days"] == 3
    # equal dates' sizes: the t-interval of the date means -0.45, +0.3, +0.2 (not of four day means)
    means = np.array([-0.45, 0.3, 0.2])
    half = stats.t.ppf(0.975, 2) * means.std(ddof=1) / np.sqrt(3)
    assert row["day_ci_low"] == pytest.approx(means.mean() - half) and row["day_ci_high"] == pytest.approx(
        means.mean() + half
    )
    assert "18 episodes on 3 independent day(s); 4 market days on 3 dates" in text


def test_best_baseline_of_equal_ones_is_the_first_listed():
    results = _results({0: [0.0] * 3})
    tie = results[results["policy"] == "A"].assign(policy="BestConstant")  # the same action as A
    both = pd.concat([results, tie])
    assert best_baseline(both, ["A", "B", "BestConstant"]) == "A"
    assert best_baseline(both, ["BestConstant", "A", "B"]) == "BestConstant"
    cheaper = both.assign(shortfall_bps=np.where(both["policy"] == "BestConstant", 0.5, both["shortfall_bps"]))
    assert best_baseline(cheaper, ["A", "B", "BestConstant"]) == "BestConstant"


def test_verdict_words():
    base = {"policy": "PPO", "n": 10, "mean_diff": -1.0, "n_days": 4}
    assert "beats" in verdict({**base, "ci_low": -2, "ci_high": -0.5, "day_ci_low": -3, "day_ci_high": -0.1}, "X")
    assert "loses to" in verdict({**base, "ci_low": 0.5, "ci_high": 2, "day_ci_low": 0.1, "day_ci_high": 3}, "X")
    assert "not distinguishable" in verdict(
        {**base, "ci_low": -2, "ci_high": -1, "day_ci_low": -3, "day_ci_high": 1}, "X"
    )
    nan = float("nan")
    one_day = verdict({**base, "n_days": 1, "ci_low": -2, "ci_high": -1, "day_ci_low": nan, "day_ci_high": nan}, "X")
    assert "cannot be judged" in one_day and "nan" not in one_day
    assert one_day.endswith("1 independent day(s): too few for a day-clustered interval")


def test_seed_summary_gives_the_mean_across_seeds_and_its_spread():
    rows = [{"policy": f"PPO[{s}]", "episode": e, "shortfall_bps": v}
            for s, vals in ((1, [1.0, 3.0]), (2, [2.0, 4.0]), (3, [6.0, 8.0])) for e, v in enumerate(vals)]  # fmt: skip
    out = seed_summary(pd.DataFrame(rows), {"PPO": ["PPO[1]", "PPO[2]", "PPO[3]"]}).iloc[0]
    assert out["seed_means"] == [2.0, 3.0, 7.0]
    assert out["mean_across_seeds"] == pytest.approx(4.0)
    assert out["std_across_seeds"] == pytest.approx(math.sqrt(((2 - 4) ** 2 + 1 + 9) / 2))


needs_intraday = pytest.mark.skipif(
    "test_share" not in ExecutionConfig.__dataclass_fields__, reason="ExecutionConfig.test_share (ENV_PATCH.diff)"
)


@needs_intraday
def test_env_intraday_split_keeps_training_away_from_the_test_windows(small_catalogue):
    from dataclasses import replace

    one_day = MarketCatalogue([small_catalogue.day(0)], name="one-day")
    day = one_day.day(0)
    first, last = max(day.meta.session_open_ns, int(day.ts[0])), min(day.meta.session_close_ns, int(day.ts[-1]))
    cut = last - round(0.3 * (last - first))
    cfg = ExecutionConfig(market=one_day, horizon_s=120, test_share=0.3, purge_s=60)
    train_env = ExecutionEnv(cfg)
    test_env = ExecutionEnv(replace(cfg, split="test"))
    for seed in range(30):
        assert train_env.reset(seed=seed)[1]["start_ns"] + 120 * S <= cut - 60 * S
        assert test_env.reset(seed=seed)[1]["start_ns"] >= cut
    eps = sample_episodes(cfg, 5, seed=1)
    assert all(e.start_ns >= cut for e in eps)
    with pytest.raises(ValueError, match=r"test_share = 1.2 is invalid; allowed: 0 <= test_share < 1"):
        ExecutionConfig(test_share=1.2)

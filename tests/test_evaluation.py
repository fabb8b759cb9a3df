"""The evaluation harness: identical held-out episodes for every policy, paired results."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from baselines import TWAP, ConstantActionPolicy, Immediate
from exec_env import ExecutionConfig
from exec_env.evaluation import evaluate, report, sample_episodes


@pytest.fixture(scope="module")
def config(small_catalogue):
    return ExecutionConfig(market=small_catalogue, horizon_s=300)


def test_episodes_come_from_test_days_only_and_are_reproducible(config):
    a = sample_episodes(config, 30, seed=4)
    assert {e.day for e in a} == {2}  # the last day of three (n_test=1)
    assert a == sample_episodes(config, 30, seed=4)
    assert a != sample_episodes(config, 30, seed=5)
    assert {e.side for e in a} == {1, -1}
    assert len({e.start_ns for e in a}) > 20


def test_every_policy_runs_the_same_episodes_and_returns_match_shortfall(config):
    episodes = sample_episodes(config, 12, seed=0)
    results = evaluate({"TWAP": TWAP(), "Immediate": Immediate(), "Passive": ConstantActionPolicy(0.0, -1.0)},
                       config, episodes)  # fmt: skip
    assert len(results) == 36
    by_policy = {name: frame.set_index("episode") for name, frame in results.groupby("policy")}
    for frame in by_policy.values():
        assert list(frame.index) == list(range(12))
        np.testing.assert_allclose(frame["return"], -frame["shortfall_bps"], atol=1e-9)
        np.testing.assert_array_equal(frame["start_ns"], [e.start_ns for e in episodes])
        np.testing.assert_array_equal(frame["side"], [e.side for e in episodes])
    assert (by_policy["TWAP"]["n_child_orders"] == 30).all()  # one slice per decision (300 s / 10 s)
    # Immediate sends everything at once; what the book within cross_ticks cannot absorb goes again
    assert (by_policy["Immediate"]["n_child_orders"] <= 3).all()
    assert (by_policy["Immediate"]["n_child_orders"] == 1).any()
    assert (by_policy["Passive"]["maker_fraction"] > by_policy["TWAP"]["maker_fraction"]).all()


def test_a_policy_identical_to_twap_differs_from_it_by_exactly_zero(config, tmp_path):
    episodes = sample_episodes(config, 10, seed=1)
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

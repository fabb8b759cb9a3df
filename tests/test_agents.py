"""The learning side: the Optuna tuner, saved-and-reloaded policies, the next-move oracle."""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import pytest

from exec_env.agents import PPOSettings, load_trained, make_ppo, save_trained
from exec_env.agents.oracle import NextMoveOracle
from exec_env.agents.ppo import TrainedPolicy, make_vec_env
from exec_env.config import ExecutionConfig
from exec_env.evaluation import evaluate, sample_episodes


def _config(catalogue, **kw) -> ExecutionConfig:
    base = dict(market=catalogue, side="random", quantity=2_000, horizon_s=120, decision_interval_s=10,
                warmup_s=60, compare_twap=True, split="train")  # fmt: skip
    base.update(kw)
    return ExecutionConfig(**base)


def test_validation_config_holds_out_the_newest_training_days_and_drops_the_test_days(small_catalogue):
    from exec_env.agents.tune import validation_config

    val = validation_config(_config(small_catalogue), val_days=1)
    assert len(val.market) == 2 and val.market.indices("train") == [0] and val.market.indices("test") == [1]
    assert val.market.days == small_catalogue.days[:2]
    with pytest.raises(ValueError, match=r"val_days = 2: allowed 1 \.\. 1 \(small-synthetic has 2 training days"):
        validation_config(_config(small_catalogue), val_days=2)


@pytest.mark.slow
def test_the_tuner_runs_a_two_trial_study_into_sqlite_and_resumes_it(small_catalogue, tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    from exec_env.agents.tune import TuneSettings, study_best, tune

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where SB3 puts a logger folder it is not given

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    settings = TuneSettings(n_trials=2, trial_timesteps=1024, n_envs=4, val_days=1, val_episodes=4, checkpoints=2,
                            storage=storage, study_name="tiny", seed=3)  # fmt: skip
    lines: list[str] = []
    study = tune(_config(small_catalogue), settings, log=lines.append)
    assert len(study.trials) == 2
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert all(len(t.intermediate_values) == 2 for t in study.trials)  # two checkpoints reported each
    assert set(study.user_attrs["baselines"]) >= {"TWAP", "PassiveTWAP"}
    assert lines[0].startswith("validation: 1 training days, 1 validation days, 4 episodes; best baseline ")
    settings_best, env_best = study_best(study)
    assert isinstance(settings_best, PPOSettings) and env_best["reward_baseline"] in ("twap", "passive_twap")
    # the study lives in the database: a second run adds to it
    again = tune(_config(small_catalogue), dataclasses.replace(settings, n_trials=1), log=lines.append)
    assert len(again.trials) == 3
    reloaded = optuna.load_study(study_name="tiny", storage=storage)
    assert len(reloaded.trials) == 3 and reloaded.best_value == again.best_value
    assert not list(tmp_path.glob("SB3-*"))  # trials log nowhere: no empty folder per trial


@pytest.mark.slow
@pytest.mark.parametrize("normalize", [False, True])
def test_a_saved_and_reloaded_policy_gives_identical_evaluation_results(small_catalogue, tmp_path, normalize):
    config = _config(small_catalogue)
    vec = make_vec_env(config, n_envs=4, seed=5, normalize=normalize)
    model = make_ppo(vec, PPOSettings(n_steps=64, batch_size=128, n_epochs=2, normalize=normalize), seed=5)
    model.learn(total_timesteps=1024)
    trained = TrainedPolicy.from_training(model, vec)
    assert (trained.obs_rms is not None) == normalize
    save_trained(tmp_path, model, vec)
    assert (tmp_path / "vecnormalize.pkl").is_file() == normalize
    reloaded = load_trained(tmp_path)
    episodes = sample_episodes(config, n=6, seed=9, split="test")
    a = evaluate({"PPO": trained}, config, episodes)
    b = evaluate({"PPO": reloaded}, config, episodes)
    assert len(a) == 6
    np.testing.assert_array_equal(a["shortfall_bps"].to_numpy(), b["shortfall_bps"].to_numpy())
    np.testing.assert_array_equal(a["n_fills"].to_numpy(), b["n_fills"].to_numpy())
    if normalize:  # the frozen statistics are applied: the raw observation is not what the network sees
        obs = np.ones(trained.model.observation_space.shape, dtype=np.float32)
        assert not np.allclose(reloaded.normalize(obs), obs)
        np.testing.assert_array_equal(reloaded.normalize(obs), trained.normalize(obs))


def test_the_oracle_reads_the_next_interval_and_waits_for_a_favourable_move(small_catalogue):
    from exec_env.env import ExecutionEnv
    from exec_env.policy_context import MarketView

    config = _config(small_catalogue, side="buy")
    env = ExecutionEnv(dataclasses.replace(config, split="test"))
    oracle = NextMoveOracle(cross_ticks=1.0)
    oracle.bind(MarketView(env))
    episodes = sample_episodes(config, n=4, seed=2, split="test")
    seen = set()
    for spec in episodes:
        obs, _ = env.reset(options=spec.options())
        done = False
        while not done:
            d = env._episode.data
            now = env._episode.sim.now
            r0 = np.searchsorted(d.ts, now, side="right") - 1
            r1 = np.searchsorted(d.ts, now + 10_000_000_000, side="right") - 1
            move = ((d.bid_px[r1, 0] + d.ask_px[r1, 0]) - (d.bid_px[r0, 0] + d.ask_px[r0, 0])) / 2 / d.tick
            action, _ = oracle.predict(obs)
            expected = (0.3, 1.0) if move >= 1.0 else ((-1.0, -0.5) if move < 0 else (0.0, -0.5))
            assert tuple(action.tolist()) == pytest.approx(expected)
            seen.add(expected)
            obs, _, term, trunc, _ = env.step(action)
            done = term or trunc
    assert len(seen) == 3  # every branch was taken on these episodes
    with pytest.raises(ValueError, match=r"cross_ticks=0; allowed: > 0 or None"):
        NextMoveOracle(cross_ticks=0)


def test_behaviour_records_where_each_child_order_sits_against_the_touch(small_catalogue):
    from exec_env.agents.behaviour import decisions, describe
    from exec_env.baselines import TWAP, PassiveTWAP

    config = _config(small_catalogue)
    episodes = sample_episodes(config, n=3, seed=4, split="test")
    twap = decisions(TWAP(), config, episodes)
    passive = decisions(PassiveTWAP(), config, episodes)
    assert len(twap) == len(passive) == 3 * 12  # 120 s / 10 s decisions
    ordered = twap[twap.child_qty > 0]
    assert len(ordered) > 0 and ordered.crosses.all()
    # TWAP's limit is 5 ticks through the far touch: spread + 5 ticks from the near one
    np.testing.assert_array_equal(ordered.limit_ticks_from_near, ordered.spread_ticks.clip(lower=1) + 5)
    rest = passive[passive.child_qty > 0]
    assert not rest.crosses.any()
    # aggressiveness -0.5 on the grid [-2 ticks, spread + 5]: -2 + floor((7 + spread) / 4 + 1/2) ticks
    expected = -2 + np.floor((7 + rest.spread_ticks.clip(lower=1)) / 4 + 0.5)
    np.testing.assert_array_equal(rest.limit_ticks_from_near, expected)
    assert (rest.limit_ticks_from_near[rest.spread_ticks <= 2] == 0).all()  # joins the near touch
    assert (rest.spread_ticks <= 2).any() and (rest.spread_ticks >= 3).any()  # both cases were seen
    text = describe(passive)
    assert text.startswith(f"36 decisions, {len(rest)} with an order; crossing the far touch in 0.0% of them")

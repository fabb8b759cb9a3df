"""train.py end to end on a small synthetic catalogue: run folder, TensorBoard tags, evaluation files."""

from __future__ import annotations

import json
import re

import pytest

import train
from exec_env.baselines import DEFAULT_BASELINES


@pytest.mark.slow
def test_train_writes_model_config_tensorboard_and_a_paired_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    out = train.main([
        "--total-timesteps", "2048", "--n-envs", "2", "--n-steps", "512", "--batch-size", "256",
        "--eval-episodes", "12", "--days", "3", "--test-days", "1", "--output", str(tmp_path / "runs"),
        "--no-progress", "--seed", "7", "--warmup-s", "120",
    ])  # fmt: skip
    run = tmp_path / "runs" / out["run_dir"].split("/")[-1]
    assert re.fullmatch(r"exec_env-ExecutionDiscrete-v0__ppo__7__\d+", run.name)
    for name in ("model.zip", "config.json", "eval_summary.json", "eval_summary.csv", "eval_episodes.csv",
                 "eval_episodes_spec.csv", "eval_table.txt", "timing.json", "eval_child_orders.csv",
                 "inventory_paths.png", "shortfall_distribution.png", "paired_differences.png"):  # fmt: skip
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["env"]["split"] == "train" and config["env"]["reward_baseline"] == "passive_twap"
    assert config["env"]["action_mode"] == "discrete"  # the default id is the discrete grid
    assert config["env"]["warmup_s"] == 120
    summary = json.loads((run / "eval_summary.json").read_text())
    assert [r["policy"] for r in summary["summary"]] == ["PPO", *DEFAULT_BASELINES]
    assert all(r["n"] == 12 for r in summary["summary"])
    means = {r["policy"]: r["mean"] for r in summary["summary"] if r["policy"] != "PPO"}
    assert summary["baseline"] == min(means, key=means.get)  # the verdict is against the best baseline
    assert summary["verdicts"][0].startswith("PPO ") and summary["baseline"] in summary["verdicts"][0]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    texts: set[str] = set()
    for events in (run / "tb").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
        texts |= set(acc.Tags().get("tensors", []))
    assert {"exec/shortfall_bps", "exec/fill_rate", "exec/vs_passive_twap_bps", "rollout/ep_rew_mean",
            "train/value_loss", "eval/PPO_vs_TWAP_bps", "eval/PPO_vs_best_baseline_bps"} <= tags  # fmt: skip
    assert any("hyperparameters" in t for t in texts)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--test-days", "0"], r"--test-days 0 leaves no test data .* --test-share 0.3"),
        (["--test-days", "2", "--test-share", "0.3"], r"--test-share 0.3 \(an intraday split\) needs --test-days 0"),
        (["--test-share", "1.5", "--test-days", "0"], r"--test-share 1.5: allowed 0 <= test share < 1"),
        (["--eval-episodes", "1"], r"--eval-episodes 1: allowed >= 2"),
        (["--days", "3", "--test-days", "3"], r"--test-days 3: allowed 0 .. --days - 1 = 2"),
    ],
)
def test_settings_that_could_only_fail_after_training_are_refused_before_it(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):
        train.main([*argv, "--output", str(tmp_path / "runs"), "--no-progress"])
    assert not (tmp_path / "runs").exists()  # refused before a run folder (or training) existed


@pytest.mark.slow
def test_ppo_finds_a_planted_order_flow_edge(tmp_path, monkeypatch):
    # A positive control for the whole learning pipeline (features, action grid, reward, PPO):
    # on the liquidity-response market with kappa 0.5 the last 30 s of order flow predicts a
    # 6-spread reversal (README, "The synthetic market"), an edge no fixed action has. Measured:
    # PPO -1.43 bps against PassiveTWAP, paired 95% CI [-1.86, -0.99] (60 episodes, 3 test days,
    # 300k steps, 10 s of training on a quiet machine).
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    out = train.main([
        "--data-options", "sign_persistence=0.6,sign_regime=0.2,liquidity_response=0.5,session_seconds=7200",
        "--days", "8", "--test-days", "3", "--total-timesteps", "300000", "--eval-episodes", "60",
        "--torch-threads", "1", "--seed", "1", "--output", str(tmp_path / "runs"), "--no-progress",
    ])  # fmt: skip
    run = tmp_path / "runs" / out["run_dir"].split("/")[-1]
    summary = json.loads((run / "eval_summary.json").read_text())
    rows = {r["policy"]: r for r in summary["summary"]}
    ppo = rows["PPO"]
    assert summary["baseline"] in ("PassiveTWAP", "BestConstant")
    assert ppo["mean"] < rows[summary["baseline"]]["mean"] - 0.5
    assert ppo["ci_high"] < 0  # the paired per-episode interval against the best baseline

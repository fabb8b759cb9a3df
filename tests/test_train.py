"""train.py end to end on a small synthetic catalogue: run folder, TensorBoard tags, evaluation files."""

from __future__ import annotations

import json
import re

import pytest

import train


@pytest.mark.slow
def test_train_writes_model_config_tensorboard_and_a_paired_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    out = train.main([
        "--total-timesteps", "2048", "--n-envs", "2", "--n-steps", "512", "--batch-size", "256",
        "--eval-episodes", "12", "--days", "3", "--test-days", "1", "--output", str(tmp_path / "runs"),
        "--no-progress", "--seed", "7",
    ])  # fmt: skip
    run = tmp_path / "runs" / out["run_dir"].split("/")[-1]
    assert re.fullmatch(r"exec_env-Execution-v0__ppo__7__\d+", run.name)
    for name in ("model.zip", "config.json", "eval_summary.json", "eval_summary.csv", "eval_episodes.csv",
                 "eval_episodes_spec.csv", "eval_table.txt", "timing.json"):  # fmt: skip
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["env"]["split"] == "train" and config["env"]["reward_baseline"] == "twap"
    summary = json.loads((run / "eval_summary.json").read_text())
    assert [r["policy"] for r in summary["summary"]] == ["PPO", "TWAP", "PassiveTWAP", "Immediate"]
    assert all(r["n"] == 12 for r in summary["summary"])

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    texts: set[str] = set()
    for events in (run / "tb").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
        texts |= set(acc.Tags().get("tensors", []))
    assert {"exec/shortfall_bps", "exec/fill_rate", "exec/vs_twap_bps", "rollout/ep_rew_mean",
            "train/value_loss", "eval/PPO_vs_TWAP_bps"} <= tags  # fmt: skip
    assert any("hyperparameters" in t for t in texts)

"""The README's seed examples, run at small scale through ``python -m exec_env.evaluate``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from exec_env import evaluate


def test_fx_ticks_twap_vwap_dc_reported_as_price_minus_arrival_ask(shared_data, tmp_path):
    out = tmp_path / "fx"
    outcome = evaluate.main([
        "--data", str(shared_data / "fx" / "EURUSD_2026-07-13_12h_ticks.csv"), "--test-days", "0",
        "--test-share", "0.3", "--warmup-s", "0", "--horizon-s", "60", "--decision-interval-s", "5",
        "--quantity", "100000", "--episodes", "20", "--overlap", "--side", "buy", "--policy", "TWAP",
        "--policy", "VWAP", "--policy", "DC", "--out", str(out), "--no-progress", "--no-plots",
    ])  # fmt: skip
    results = pd.read_csv(out / "eval_episodes.csv")
    assert sorted(results["policy"].unique()) == ["DC", "TWAP", "VWAP"]
    assert results.groupby("policy")["episode"].nunique().eq(20).all()
    buy = results["side"] == 1
    assert buy.all()
    # a buy's mean execution price minus the arrival ask, as reported
    expected = results["avg_price"] - results["arrival_ask"]
    pd.testing.assert_series_equal(results["price_vs_arrival_far"], expected, check_names=False)
    # every start lies in the last 30% of the hour of ticks (the test part of the intraday split)
    from exec_env.market.sources import load_market
    from exec_env.policy_context import split_windows

    ((_, cut, _),) = split_windows(load_market(shared_data / "fx" / "EURUSD_2026-07-13_12h_ticks.csv"), "test", 0.3)
    assert (results["start_ns"] >= cut).all()
    assert "one day only" in outcome["text"]


def test_minute_bars_twap_vwap_with_impact_csv_and_json(shared_data, tmp_path):
    out = tmp_path / "bars"
    evaluate.main([
        "--data", str(shared_data / "bars" / "SPY_1min.csv"), "--test-days", "1", "--quantity", "10000",
        "--horizon-s", "1800", "--decision-interval-s", "60", "--episodes", "6", "--policy", "TWAP",
        "--policy", "VWAP", "--sim", "permanent_impact=1e-6,transient_impact=2e-6", "--out", str(out),
        "--no-progress", "--no-plots",
    ])  # fmt: skip
    summary = json.loads((out / "eval_summary.json").read_text())
    assert summary["sim"]["permanent_impact"] == 1e-6 and summary["sim"]["transient_impact"] == 2e-6
    assert [r["policy"] for r in summary["summary"]] == ["TWAP", "VWAP"]
    results = pd.read_csv(out / "eval_episodes.csv")
    assert len(results) == 12 and results["shortfall_bps"].notna().all()
    orders = pd.read_csv(out / "eval_child_orders.csv")
    assert set(orders.columns) >= {"time_ns", "target_qty", "child_qty", "limit_px", "filled", "fill_px", "executed"}
    assert (orders.groupby(["policy", "episode"])["executed"].last() == 10000).all()


def test_the_evaluate_command_refuses_a_bad_spec_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"baseline 'TWAPP' is unknown"):
        evaluate.main(["--policy", "TWAPP", "--out", str(tmp_path / "x"), "--no-progress", "--days", "3",
                       "--test-days", "1"])  # fmt: skip


def test_the_evaluate_command_applies_synthetic_data_options(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match=r"--data-options bogus: not a synthetic market parameter"):
        evaluate.main(["--data-options", "bogus=1", "--out", str(tmp_path / "x"), "--no-progress"])
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    evaluate.main(["--data-options", "session_seconds=3600,sign_persistence=0.6", "--days", "2", "--test-days", "1",
                   "--episodes", "2", "--policy", "TWAP", "--out", str(tmp_path / "out"), "--no-progress"])  # fmt: skip
    (folder,) = (tmp_path / "cache").glob("synthetic-*")
    params = json.loads((folder / "params.json").read_text())["params"]
    assert (params["session_seconds"], params["sign_persistence"]) == (3600.0, 0.6)

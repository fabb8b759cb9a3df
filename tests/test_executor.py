"""The executor: reproduces the env through the simulated broker, survives kills, handles broker
errors, obeys risk limits and market hours."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.baselines import (
    POV,
    TWAP,
    VWAP,
    AlmgrenChriss,
    DirectionalChange,
    Immediate,
    PassiveTWAP,
    SubmitAndLeave,
)
from exec_env.broker import MarketHours, SimulatedBroker
from exec_env.executor import CRASH_ENV, Executor, ExecutorConfig, Journal, RiskLimits
from exec_env.market import MarketCatalogue, save_day
from exec_env.market.synthetic import generate_day
from exec_env.policy_context import MarketView
from tests.books import T0, S, book, make_day, trade
from tests.conftest import SMALL

ROOT = Path(__file__).resolve().parents[1]
SIM = SimConfig(latency_ms=0.0, permanent_impact=1e-6, transient_impact=2e-6)
FIELDS = ["ts", "px", "qty", "fee", "liq"]


@pytest.fixture(scope="module")
def day():
    return generate_day(SMALL, seed=11, day_index=0)


def execute(broker, policy, config, path):
    ex = Executor(broker, policy, config, path)
    try:
        return asyncio.run(ex.run()), ex.journal.decisions(), ex.journal.requests()
    finally:
        ex.close()


def env_episode(day, policy, side, start, sim=SIM, **kw):
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day], n_test=0), side=side, sim=sim, **kw))
    if hasattr(policy, "bind"):
        policy.bind(MarketView(env))
    obs, _ = env.reset(options={"day": 0, "start_ns": start})
    observations, done = [obs], False
    while not done:
        action, _ = policy.predict(obs, deterministic=True)
        obs, _, done, _, info = env.step(action)
        observations.append(obs)
    return info["execution"], env.fill_records(), np.array(observations[:-1])


# -- the env's episode, through the broker ---------------------------------------------------------
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("policy", [TWAP, PassiveTWAP, Immediate], ids=lambda p: p.__name__)
def test_executor_reproduces_the_env_episode_fill_for_fill(day, tmp_path, policy, side):
    start = day.meta.session_open_ns + 400 * S
    metrics, env_fills, env_obs = env_episode(day, policy(), side, start)
    broker = SimulatedBroker(day, SIM, 1 if side == "buy" else -1, start)
    report, decisions, _ = execute(broker, policy(), ExecutorConfig(side=side, quantity=5000, start_ns=start),
                                   tmp_path / "j.sqlite")  # fmt: skip
    fills = broker.sim.fill_records()
    assert np.array_equal(fills[FIELDS], env_fills[FIELDS])
    assert np.array_equal(np.array([d.obs for d in decisions[:60]], dtype=np.float32), env_obs)
    assert report.status == "done" and report.filled == 5000.0
    assert report.broker_position == (5000.0 if side == "buy" else -5000.0)
    assert report.arrival_mid == metrics["arrival_mid"]
    assert report.shortfall_bps == pytest.approx(metrics["shortfall_bps"], abs=1e-9)


def view_policies(day):
    """Fixed policies that read the market view, each as a factory (a fresh policy per run)."""
    cat = MarketCatalogue([day], n_test=0)
    curve = VWAP.from_catalogue(cat, bucket_s=300).curve
    delta = DirectionalChange.from_catalogue(cat, horizon_s=600).delta
    ac = AlmgrenChriss.from_catalogue(cat, 10.0, 1e-6, sim_config=SIM)
    return {
        "VWAP": lambda: VWAP(curve),
        "POV": lambda: POV(rate=0.05, aggressiveness=-0.5),
        "DC": lambda: DirectionalChange(delta, n_slices=8),
        "AC": lambda: AlmgrenChriss(ac.sigma, ac.eta, ac.risk_aversion),
        "SubmitAndLeave": lambda: SubmitAndLeave(offset_ticks=1),
    }


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("name", ["VWAP", "POV", "DC", "AC", "SubmitAndLeave"])
def test_baselines_that_read_the_market_reproduce_their_env_episode(day, tmp_path, name, side):
    make = view_policies(day)[name]
    start = day.meta.session_open_ns + 400 * S
    metrics, env_fills, _ = env_episode(day, make(), side, start)
    broker = SimulatedBroker(day, SIM, 1 if side == "buy" else -1, start)
    report, _, _ = execute(broker, make(), ExecutorConfig(side=side, quantity=5000, start_ns=start),
                                   tmp_path / "j.sqlite")  # fmt: skip
    assert len(env_fills) > 3  # the policy traded in several pieces
    assert np.array_equal(broker.sim.fill_records()[FIELDS], env_fills[FIELDS])
    assert report.shortfall_bps == pytest.approx(metrics["shortfall_bps"], abs=1e-9)
    assert report.status == "done" and report.filled == 5000.0


def test_the_executor_view_sees_the_env_views_prices_with_own_impact(day, tmp_path):
    sim = SimConfig(latency_ms=0.0, permanent_impact=2e-5, transient_impact=4e-5)  # impact of several ticks
    start = day.meta.session_open_ns + 400 * S
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day], n_test=0), side="buy", sim=sim))
    obs, _ = env.reset(options={"day": 0, "start_ns": start})
    done = False
    while not done:
        obs, _, done, _, _ = env.step(TWAP().predict(obs)[0])
    env_ts, env_mid = MarketView(env).mids(start - 60 * S)  # to the end of the episode
    last = start + 590 * S  # the executor's last decision: its market data reach that far
    env_ts, env_mid = env_ts[env_ts <= last], env_mid[env_ts <= last]
    broker = SimulatedBroker(day, sim, 1, start)
    ex = Executor(broker, TWAP(), ExecutorConfig(side="buy", quantity=5000, start_ns=start), tmp_path / "j.sqlite")
    try:
        asyncio.run(ex.run())
        ex.view.at(59, last, np.nan, np.nan, 5000.0)
        ts, mid = ex.view.mids(start - 60 * S)
    finally:
        ex.close()
    replay = 0.5 * (day.bid_px[:, 0] + day.ask_px[:, 0])
    impact = env_mid - replay[np.searchsorted(day.ts, env_ts, side="right") - 1]
    assert impact.max() > 5 * day.meta.tick_size and impact.min() == 0.0  # none before the start
    assert np.array_equal(ts, env_ts) and np.array_equal(mid, env_mid)


def test_executor_reproduces_a_ppo_model(day, tmp_path):
    from stable_baselines3 import PPO

    start = day.meta.session_open_ns + 700 * S
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day], n_test=0), side="sell", sim=SIM))
    model = PPO("MlpPolicy", env, seed=3, device="cpu", policy_kwargs={"net_arch": [8]})
    model.save(tmp_path / "model.zip")
    model = PPO.load(tmp_path / "model.zip", device="cpu")
    metrics, env_fills, _ = env_episode(day, model, "sell", start)
    broker = SimulatedBroker(day, SIM, -1, start)
    report, _, _ = execute(broker, model, ExecutorConfig(side="sell", quantity=5000, start_ns=start),
                           tmp_path / "j.sqlite")  # fmt: skip
    assert np.array_equal(broker.sim.fill_records()[FIELDS], env_fills[FIELDS])
    assert report.shortfall_bps == pytest.approx(metrics["shortfall_bps"], abs=1e-9)


def test_with_latency_the_order_completes_and_never_overfills(day, tmp_path):
    """Documented difference: with latency, in-flight fills trim the amended order and the horizon
    liquidation lands one latency later; the parent still fills exactly."""
    sim = SimConfig(latency_ms=5.0, permanent_impact=1e-6, transient_impact=2e-6)
    start = day.meta.session_open_ns + 400 * S
    metrics, _, _ = env_episode(day, PassiveTWAP(), "buy", start, sim=sim)
    report, _, _ = execute(SimulatedBroker(day, sim, 1, start), PassiveTWAP(),
                           ExecutorConfig(side="buy", quantity=5000, start_ns=start), tmp_path / "j.sqlite")  # fmt: skip
    assert report.filled == 5000.0 and report.broker_position == 5000.0
    assert abs(report.shortfall_bps - metrics["shortfall_bps"]) < 5.0


# -- kills and restarts ------------------------------------------------------------------------------
def cli(
    data: Path, journal: Path, crash: str | None = None, policy: str = "PassiveTWAP"
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    env["PYTHONPATH"] = str(ROOT)
    if crash:
        env[CRASH_ENV] = crash
    cmd = [sys.executable, "-m", "exec_env.execute", "--policy", policy, "--side", "sell", "--quantity", "3000",
           "--data", str(data), "--start-s", "400", "--horizon-s", "300", "--journal", str(journal),
           "--sim", "latency_ms=0", "--no-calibrate", "--quiet"]  # fmt: skip
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def journal_rows(path: Path):
    j = Journal(path)
    try:
        return j.fills(), j.requests(), j.decisions(), j.get("status")
    finally:
        j.close()


def venue_requests(journal: Path):
    import sqlite3

    db = sqlite3.connect(f"{journal}.venue")
    try:
        return db.execute("SELECT kind, payload FROM requests ORDER BY seq").fetchall()
    finally:
        db.close()


@pytest.fixture(scope="module")
def saved_day(day, tmp_path_factory):
    path = tmp_path_factory.mktemp("market") / "day"
    save_day(day, path)
    return path


@pytest.fixture(scope="module")
def reference(saved_day, tmp_path_factory):
    journal = tmp_path_factory.mktemp("reference") / "j.sqlite"
    done = cli(saved_day, journal)
    assert done.returncode == 0, done.stderr
    return journal, done.stdout


CRASHES = [
    ["after_decision:4"],
    ["before_send:7"],
    ["after_send:12"],
    ["after_fill:9"],
    ["after_send:30"],  # the horizon liquidation's submit (the 30th request)
    ["after_fill:3", "before_send:2", "after_decision:6"],  # killed three times
]


@pytest.mark.parametrize("crashes", CRASHES, ids=lambda c: "+".join(c))
def test_killed_executor_restarts_with_the_right_position_and_no_order_twice(saved_day, reference, tmp_path, crashes):
    journal = tmp_path / "j.sqlite"
    for crash in crashes:
        killed = cli(saved_day, journal, crash)
        assert killed.returncode == -9, killed.stderr  # SIGKILL at the injected point
    done = cli(saved_day, journal)
    assert done.returncode == 0, done.stderr
    ref_journal, ref_stdout = reference
    assert done.stdout == ref_stdout  # same fills, same shortfall, broker position -3000
    assert "broker position: -3000" in done.stdout
    fills, requests, decisions, status = journal_rows(journal)
    ref_fills, ref_requests, ref_decisions, _ = journal_rows(ref_journal)
    assert status == "done" and fills == ref_fills and decisions == ref_decisions
    assert all(r.state == "acked" for r in requests) and requests == ref_requests
    assert sum(f[6] for f in fills) == 3000.0
    venue = venue_requests(journal)
    assert venue == venue_requests(ref_journal)  # the venue saw exactly the same requests
    orders = [p for k, p in venue if k != "clock"]
    assert len({p for p in orders}) == len(orders)  # no request sent twice


@pytest.mark.parametrize("policy", ["SubmitAndLeave:offset_ticks=1", "DC:delta=0.0002,n_slices=6"])
def test_a_policy_with_memory_resumes_as_if_never_killed(saved_day, tmp_path, policy):
    # submit-and-leave keeps the price of its first decision, DC the price path it has seen: after
    # a restart the executor shows them their journaled decisions again before the next one
    reference = cli(saved_day, tmp_path / "ref.sqlite", policy=policy)
    assert reference.returncode == 0, reference.stderr
    journal = tmp_path / "j.sqlite"
    for crash in ("after_decision:7", "after_decision:5"):
        killed = cli(saved_day, journal, crash, policy=policy)
        assert killed.returncode == -9, killed.stderr
    done = cli(saved_day, journal, policy=policy)
    assert done.returncode == 0, done.stderr
    assert done.stdout == reference.stdout
    fills, _, decisions, _ = journal_rows(journal)
    ref_fills, _, ref_decisions, _ = journal_rows(tmp_path / "ref.sqlite")
    assert fills == ref_fills and decisions == ref_decisions


def test_resuming_with_another_parent_order_is_refused(day, tmp_path):
    start = day.meta.session_open_ns + 400 * S
    cfg = ExecutorConfig(side="buy", quantity=1000, horizon_s=60.0, start_ns=start)
    execute(SimulatedBroker(day, SIM, 1, start), TWAP(), cfg, tmp_path / "j.sqlite")
    other = ExecutorConfig(side="buy", quantity=2000, horizon_s=60.0, start_ns=start)
    with pytest.raises(ValueError, match=r"another parent order \(fields differing: \['quantity'\]\)"):
        execute(SimulatedBroker(day, SIM, 1, start), TWAP(), other, tmp_path / "j.sqlite")


# -- broker errors -------------------------------------------------------------------------------------
def test_timeouts_and_disconnects_are_retried_without_changing_the_result(day, tmp_path, caplog):
    start = day.meta.session_open_ns + 400 * S
    cfg = ExecutorConfig(side="buy", quantity=3000, horizon_s=300.0, start_ns=start, retry_backoff_s=0.0)
    clean, _, _ = execute(SimulatedBroker(day, SIM, 1, start), PassiveTWAP(), cfg, tmp_path / "a.sqlite")
    faults = {"submit": {1: "timeout", 2: "disconnect"}, "amend": {3: "timeout", 5: "disconnect"},
              "fills": {4: "timeout", 5: "disconnect"}, "order_status": {1: "disconnect"}}  # fmt: skip
    broker = SimulatedBroker(day, SIM, 1, start, faults=faults)
    with caplog.at_level(logging.WARNING, logger="exec_env.executor"):
        faulty, _, requests = execute(broker, PassiveTWAP(), cfg, tmp_path / "b.sqlite")
    assert faulty == clean
    assert all(r.state == "acked" for r in requests)
    text = caplog.text
    assert "submit P1704206200000-0-0: BrokerTimeout" in text
    assert "fills: BrokerTimeout (injected timeout on fills); retry 1" in text
    assert "fills: BrokerDisconnected (injected disconnect on fills); retry 2" in text


def test_a_rejected_order_is_logged_and_the_next_decision_goes_on(day, tmp_path, caplog):
    start = day.meta.session_open_ns + 400 * S
    cfg = ExecutorConfig(side="buy", quantity=3000, horizon_s=300.0, start_ns=start)
    broker = SimulatedBroker(day, SIM, 1, start, faults={"submit": {1: "reject"}})
    with caplog.at_level(logging.WARNING, logger="exec_env.executor"):
        report, _, requests = execute(broker, TWAP(), cfg, tmp_path / "j.sqlite")
    assert (requests[0].step, requests[0].kind, requests[0].state, requests[0].reason) == (0, "submit", "rejected",
                                                                                           "injected")  # fmt: skip
    assert (requests[1].step, requests[1].kind, requests[1].state) == (1, "submit", "acked")
    assert "rejected by the broker: injected" in caplog.text
    assert report.status == "done" and report.filled == 3000.0


def test_retries_exhausted_fail_the_request_loudly(day, tmp_path, caplog):
    start = day.meta.session_open_ns + 400 * S
    cfg = ExecutorConfig(side="buy", quantity=1000, horizon_s=30.0, start_ns=start, max_retries=2,
                         retry_backoff_s=0.0)  # fmt: skip
    broker = SimulatedBroker(day, SIM, 1, start, faults={"submit": {1: "disconnect", 2: "disconnect", 3: "disconnect"}})
    with caplog.at_level(logging.ERROR, logger="exec_env.executor"):
        report, _, requests = execute(broker, TWAP(), cfg, tmp_path / "j.sqlite")
    assert (requests[0].state, requests[0].reason) == ("failed", "retries exhausted")
    assert "submit P1704206200000-0-0 failed after 3 attempts" in caplog.text
    assert report.filled == 1000.0  # later decisions and the horizon complete it


# -- risk limits, kill switch, market hours ----------------------------------------------------------
def flat_day():
    """Bid 100.00 / ask 100.02 all day, 100 units traded every second (seller-initiated at the bid)."""
    rows = [book(t, [(100.00, 5000)], [(100.02, 5000)]) for t in range(1200)]
    return make_day(rows, trades=[trade(t + 0.5, 100.00, 100, -1) for t in range(1200)], levels=1, close_s=1200.0)


FLAT = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)


@pytest.mark.parametrize(
    ("risk", "qty", "px"),
    [
        (RiskLimits(max_order_qty=250), 250.0, 100.07),
        (RiskLimits(max_participation=0.1, participation_window_s=60), 600.0, 100.07),  # 10% of 60 x 100
        (RiskLimits(price_band_bps=3), 1000.0, 100.04),  # floor(100.01 * 1.0003 / 0.01) ticks
    ],
)
def test_risk_limits_cut_the_child_order_exactly(tmp_path, risk, qty, px):
    start = T0 + 300 * S
    cfg = ExecutorConfig(side="buy", quantity=1000, horizon_s=100.0, start_ns=start, risk=risk)
    _, decisions, requests = execute(SimulatedBroker(flat_day(), FLAT, 1, start), Immediate(), cfg,
                                     tmp_path / "j.sqlite")  # fmt: skip
    d = decisions[0]  # Immediate: everything, 5 ticks through the ask (100.07)
    assert (d.qty, d.limit_px) == (qty, pytest.approx(px, abs=1e-9))
    assert (requests[0].kind, requests[0].qty, requests[0].limit_px) == ("submit", qty, d.limit_px)


def test_horizon_liquidation_is_cut_into_max_order_qty_pieces(tmp_path):
    start = T0 + 300 * S
    cfg = ExecutorConfig(side="sell", quantity=1000, horizon_s=20.0, start_ns=start,
                         risk=RiskLimits(max_order_qty=400))  # fmt: skip
    # a policy that never trades leaves everything to the horizon
    from exec_env.baselines.base import ConstantActionPolicy

    report, _, requests = execute(SimulatedBroker(flat_day(), FLAT, -1, start), ConstantActionPolicy(-1.0, -1.0),
                                  cfg, tmp_path / "j.sqlite")  # fmt: skip
    horizon = [(r.kind, r.qty, r.limit_px, r.tif) for r in requests if r.step == 2]
    assert horizon == [("submit", 400.0, None, "day"), ("submit", 400.0, None, "day"), ("submit", 200.0, None, "day")]
    assert report.filled == 1000.0 and report.broker_position == -1000.0


class KillAt:
    """TWAP that sets the kill switch at a given decision (the operator pressing the button)."""

    def __init__(self, path: Path, step: int) -> None:
        self.path, self.step, self.calls, self.twap = path, step, 0, PassiveTWAP()

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        if self.calls == self.step:
            self.path.touch()
        self.calls += 1
        return self.twap.predict(obs, state, episode_start, deterministic)


def test_kill_switch_cancels_and_stops(tmp_path):
    start = T0 + 300 * S
    switch = tmp_path / "STOP"
    cfg = ExecutorConfig(side="buy", quantity=1000, horizon_s=100.0, start_ns=start,
                         risk=RiskLimits(kill_switch_path=str(switch)))  # fmt: skip
    broker = SimulatedBroker(flat_day(), FLAT, 1, start)
    report, decisions, requests = execute(broker, KillAt(switch, 3), cfg, tmp_path / "j.sqlite")
    assert report.status == "killed"
    assert [d.step for d in decisions] == [0, 1, 2, 3]
    assert requests[-1].kind == "cancel" and requests[-1].step == 4 and requests[-1].state == "acked"
    assert broker.sim.resting_qty == 0.0
    assert report.broker_position == report.filled < 1000.0


def test_no_orders_while_the_market_is_closed(day, tmp_path):
    start = day.meta.session_open_ns + 400 * S
    hours = MarketHours(((day.meta.session_open_ns, start + 100 * S), (start + 150 * S, day.meta.session_close_ns)))
    broker = SimulatedBroker(day, SIM, 1, start, market_hours=hours)
    cfg = ExecutorConfig(side="buy", quantity=3000, horizon_s=300.0, start_ns=start)
    report, decisions, requests = execute(broker, PassiveTWAP(), cfg, tmp_path / "j.sqlite")
    closed = [d.step for d in decisions if d.note == "market_closed"]
    assert closed == [10, 11, 12, 13, 14]  # decisions at +100 s .. +140 s; +150 s is open again
    assert all(r.kind == "cancel" for r in requests if 10 <= r.step <= 14)  # a resting order is pulled
    ts = broker.sim.fill_records()["ts"]
    assert not ((ts >= start + 100 * S) & (ts < start + 150 * S)).any()  # so nothing fills in the break
    assert report.status == "done" and report.filled == 3000.0


def test_closed_at_the_horizon_leaves_the_order_incomplete(day, tmp_path):
    start = day.meta.session_open_ns + 400 * S
    hours = MarketHours(((day.meta.session_open_ns, start + 200 * S),))
    broker = SimulatedBroker(day, SIM, 1, start, market_hours=hours)
    cfg = ExecutorConfig(side="buy", quantity=3000, horizon_s=300.0, start_ns=start)
    report, decisions, requests = execute(broker, PassiveTWAP(), cfg, tmp_path / "j.sqlite")
    assert [d.step for d in decisions if d.note == "market_closed"] == list(range(20, 30))
    assert not [r for r in requests if r.step >= 20 and r.kind != "cancel"]
    assert report.status == "incomplete" and report.filled < 3000.0 and report.broker_position == report.filled


# -- configuration and CLI errors --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"side": "long"}, "ExecutorConfig.side = 'long' is invalid; allowed: 'buy' or 'sell'"),
        ({"horizon_s": 95.0}, "ExecutorConfig.horizon_s = 95.0 is invalid; allowed: a whole multiple"),
        ({"quantity": 0}, "ExecutorConfig.quantity = 0 is invalid; allowed: a finite number > 0"),
    ],
)
def test_config_errors_name_field_value_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExecutorConfig(**{"side": "buy", "quantity": 100.0, **kwargs})


def test_risk_limit_errors_name_field_value_and_range():
    with pytest.raises(ValueError, match=r"RiskLimits.max_participation = 1.5 is invalid; allowed: None or a share"):
        RiskLimits(max_participation=1.5)
    with pytest.raises(ValueError, match=r"RiskLimits.price_band_bps = -1 is invalid"):
        RiskLimits(price_band_bps=-1)


def test_cli_reports_bad_arguments(saved_day, capsys):
    from exec_env.execute import main

    base = ["--policy", "TWAP", "--side", "buy", "--data", str(saved_day), "--no-calibrate", "--quiet"]
    assert main([*base, "--quantity", "-5"]) == 2
    assert "ExecutorConfig.quantity = -5.0 is invalid; allowed: a finite number > 0" in capsys.readouterr().err
    assert main([*base, "--quantity", "100", "--start-s", "2300"]) == 2
    assert "--start-s 2300.0 is outside the allowed range [0, 1800]" in capsys.readouterr().err
    assert main([*base, "--quantity", "100", "--sim", "latency=0"]) == 2
    assert "--sim 'latency=0': expected FIELD=VALUE" in capsys.readouterr().err
    assert main([*base, "--quantity", "100", "--policy", "VWAP"]) == 2  # the one day is --day 0: no past
    assert (
        "--policy VWAP is fitted on past days: none given (choose a --day after the first)" in capsys.readouterr().err
    )
    assert main([*base, "--quantity", "100", "--policy", "Adaptive"]) == 2
    assert "--policy Adaptive reads the env's market days and cannot drive a live order" in capsys.readouterr().err
    assert main([*base, "--quantity", "100", "--policy", "VWAP2"]) == 2
    assert "--policy 'VWAP2'; allowed: AC, Adaptive, BestConstant, DC, Immediate, POV" in capsys.readouterr().err


def test_fitted_baselines_learn_from_the_days_before_the_executed_one(day):
    from exec_env.executor import load_policy

    past = MarketCatalogue([generate_day(SMALL, seed=11, day_index=i) for i in (1, 2)], n_test=0)
    config = ExecutionConfig(market=past, side="buy", quantity=5000, sim=SIM)
    vwap = load_policy("vwap:bucket_s=600", past, config)
    assert isinstance(vwap, VWAP)
    expected = VWAP.from_catalogue(past, bucket_s=600).curve
    assert np.array_equal(
        vwap.curve.cumulative(np.arange(0, 1800, 60.0)), expected.cumulative(np.arange(0, 1800, 60.0))
    )
    dc = load_policy("DC:delta=0.0003,n_slices=4")  # given its threshold, DC needs no past
    assert isinstance(dc, DirectionalChange) and dc.delta == 0.0003 and dc.n_slices == 4
    assert isinstance(load_policy("AC", past, config), AlmgrenChriss)

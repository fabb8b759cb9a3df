"""Work a parent order with a policy through a broker, from the command line.

    python -m exec_env.execute --policy runs/<run>/model.zip --side buy --quantity 5000 \\
        --broker sim --data synthetic --day 20 --start-s 900 --journal order.sqlite

Progress goes to stderr (one line per decision and per broker event); the final report (status,
fills, implementation shortfall) to stdout. Running the same command again with the same
``--journal`` resumes a killed run (the simulated venue's state is kept in ``--broker-state``).
Exit status: 0 done, 2 invalid arguments, 3 incomplete or killed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

_RUN_KEYS = ("horizon_s", "decision_interval_s", "passive_ticks", "cross_ticks")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m exec_env.execute", description=__doc__.split("\n\n")[0])
    p.add_argument("--policy", required=True, help="a baseline (TWAP, PassiveTWAP, Immediate, VWAP, POV, DC, AC, "
                   "SubmitAndLeave, BestConstant, with parameters as 'DC:n_slices=8'; VWAP, DC, AC and BestConstant "
                   "are fitted on the days before --day) or the path of a PPO model.zip")  # fmt: skip
    p.add_argument("--side", required=True, choices=("buy", "sell"), help="side of the parent order")
    p.add_argument("--quantity", required=True, type=float, help="parent order size (multiple of the lot size)")
    p.add_argument("--broker", default="sim", choices=("sim",), help="broker (sim: replay through the env's simulator)")
    p.add_argument("--data", default="synthetic", help="market for --broker sim: 'synthetic', a saved day folder, "
                   "or any path load_market reads")  # fmt: skip
    p.add_argument("--day", type=int, default=0, help="day index in the market catalogue (default 0)")
    p.add_argument("--start-s", type=float, default=None, help="start, seconds after the session open "
                   "(default: warm-up 300 s)")  # fmt: skip
    p.add_argument("--horizon-s", type=float, default=None, help="horizon (default: the model's run, else 600)")
    p.add_argument("--decision-interval-s", type=float, default=None, help="decision interval (default: run, else 10)")
    p.add_argument("--passive-ticks", type=int, default=None, help="action mapping (default: the model's run, else 2)")
    p.add_argument("--cross-ticks", type=int, default=None, help="action mapping (default: the model's run, else 5)")
    p.add_argument("--journal", default="execution.sqlite", help="journal file (resumes if it exists)")
    p.add_argument("--broker-state", default=None, help="simulated venue state file (default: <journal>.venue)")
    p.add_argument("--speed", type=float, default=None, help="replay speed vs real time (default: as fast as possible)")
    p.add_argument("--sim", action="append", default=[], metavar="FIELD=VALUE",
                   help="SimConfig field override, repeatable (e.g. latency_ms=0)")  # fmt: skip
    p.add_argument("--no-calibrate", action="store_true", help="no calibrated impact for data from files")
    p.add_argument("--commission-per-unit", type=float, default=0.0)
    p.add_argument("--commission-bps", type=float, default=0.0)
    p.add_argument("--commission-min", type=float, default=0.0, help="minimum commission per order")
    p.add_argument("--commission-max-bps", type=float, default=None, help="cap, bps of the order's notional")
    p.add_argument("--max-order-qty", type=float, default=None)
    p.add_argument("--max-participation", type=float, default=None)
    p.add_argument("--participation-window-s", type=float, default=60.0)
    p.add_argument("--price-band-bps", type=float, default=None)
    p.add_argument("--kill-switch", default=None, help="a file whose existence stops the executor")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def _run_settings(policy: str) -> dict[str, Any]:
    """Action-mapping settings saved by train.py next to a model (``config.json`` ``env``)."""
    cfg = Path(policy).parent / "config.json"
    if not (policy.endswith(".zip") and cfg.is_file()):
        return {}
    env = json.loads(cfg.read_text()).get("env", {})
    return {k: env[k] for k in _RUN_KEYS if k in env}


def _sim_overrides(items: list[str]) -> dict[str, Any]:
    from exec_env.sim import SimConfig

    fields = {f.name: f for f in dataclasses.fields(SimConfig)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or name not in fields:
            raise ValueError(f"--sim {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}")
        default = fields[name].default
        try:
            out[name] = float(raw) if isinstance(default, float) else raw
        except ValueError:
            raise ValueError(f"--sim {item!r}: {name} needs a number") from None
    return out


def _load_day(data: str, index: int):
    from exec_env.market import load_day, resolve_market

    if (Path(data) / "meta.json").is_file():
        from exec_env.market import MarketCatalogue

        catalogue = MarketCatalogue([load_day(data)], n_test=0, name=data)
    else:
        catalogue = resolve_market(data)
    if not 0 <= index < len(catalogue):
        raise ValueError(f"--day {index} is outside the allowed range 0..{len(catalogue) - 1} of {catalogue.name}")
    return catalogue, catalogue.day(index)


def _history(catalogue: Any, args: argparse.Namespace, settings: dict[str, Any], sim: Any) -> tuple[Any, Any]:
    """The days before ``--day`` (what a fitted baseline may learn from) and the order's config."""
    from exec_env.config import ExecutionConfig
    from exec_env.market import MarketCatalogue

    if args.day == 0:
        return None, None
    past = MarketCatalogue(list(catalogue.days[: args.day]), n_test=0, name=f"{catalogue.name} before day {args.day}",
                           sim_defaults=dict(catalogue.sim_defaults))  # fmt: skip
    config = ExecutionConfig(market=past, side=args.side, quantity=args.quantity, sim=sim, **settings)
    return past, config


async def _execute(args: argparse.Namespace) -> int:
    from exec_env.broker import CommissionSchedule, SimulatedBroker
    from exec_env.config import ExecutionConfig
    from exec_env.executor import Executor, ExecutorConfig, RiskLimits, load_policy
    from exec_env.sim.calibrate import IMPACT_KEYS, calibration_for

    settings = {"horizon_s": 600.0, "decision_interval_s": 10.0, "passive_ticks": 2, "cross_ticks": 5}
    settings.update(_run_settings(args.policy))
    for key in _RUN_KEYS:
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    catalogue, day = _load_day(args.data, args.day)
    meta = day.meta
    start_s = 300.0 if args.start_s is None else args.start_s
    session_s = (meta.session_close_ns - meta.session_open_ns) / 1e9
    if not (math.isfinite(start_s) and 0 <= start_s <= session_s - settings["horizon_s"]):
        raise ValueError(
            f"--start-s {start_s} is outside the allowed range [0, {session_s - settings['horizon_s']:g}] "
            f"(session {session_s:g} s minus horizon {settings['horizon_s']:g} s)"
        )
    start_ns = meta.session_open_ns + round(start_s * 1e9)
    calibrated = None
    if not args.no_calibrate and not (IMPACT_KEYS & set(catalogue.sim_defaults)):
        calibrated = calibration_for(catalogue).sim_kwargs()
    sim = ExecutionConfig(market=catalogue).resolved_sim(catalogue.sim_defaults, calibrated)
    sim = dataclasses.replace(sim, **_sim_overrides(args.sim))
    policy = load_policy(args.policy, *_history(catalogue, args, settings, sim))
    risk = RiskLimits(
        max_order_qty=args.max_order_qty, max_participation=args.max_participation,
        participation_window_s=args.participation_window_s, price_band_bps=args.price_band_bps,
        kill_switch_path=args.kill_switch,
    )  # fmt: skip
    config = ExecutorConfig(side=args.side, quantity=args.quantity, start_ns=start_ns, risk=risk, **settings)
    commission = CommissionSchedule(args.commission_per_unit, args.commission_bps, args.commission_min,
                                    args.commission_max_bps)  # fmt: skip
    state = args.broker_state or f"{args.journal}.venue"
    broker = SimulatedBroker(day, sim, config.sign, start_ns, commission=commission, speed=args.speed,
                             state_path=state)  # fmt: skip
    executor = Executor(broker, policy, config, args.journal)
    try:
        report = await executor.run()
    finally:
        executor.close()
        await broker.close()
    print(f"status: {report.status}")
    print(f"filled: {report.filled:g} / {report.quantity:g} ({'buy' if report.side > 0 else 'sell'} {meta.symbol})")
    if report.avg_price is not None:
        print(f"average price: {report.avg_price:.6f} (arrival mid {report.arrival_mid:.6f})")
    print(f"fees: {report.fees:.4f}  commission: {report.commission:.4f}")
    print(f"requests: {report.n_requests}  fills: {report.n_fills}  broker position: {report.broker_position:g}")
    print(f"implementation shortfall: {report.shortfall_bps:.4f} bps")
    return 0 if report.status == "done" else 3


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.quiet:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(_execute(args))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Generation time, size and stylized facts of the synthetic order book days.

Run from the repository root (with exec_env installed, or ``PYTHONPATH=.``)::

    python benchmarks/synthetic_facts.py                  # 5 full days with the defaults
    python benchmarks/synthetic_facts.py --days 3 --betas 0 0.25 0.5 1
    python benchmarks/synthetic_facts.py --days 4 --params sign_persistence=0.6,sign_regime=0.2,liquidity_response=0.5
    python benchmarks/synthetic_facts.py --days 3 --persistence 0.6 --real ../shared/data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv

Prints the time to generate one 6.5 h day (after numba compilation, which is timed separately),
rows and bytes on disk per day, and mean and standard deviation over the days of every stylized
fact; ``--betas`` repeats the facts for other values of ``imbalance_feedback``, ``--persistence``
for values of ``sign_persistence``, ``--params`` for any settings; ``--real`` prints the same facts for real data files (any
format ``load_days`` reads) beside them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from exec_env.evaluate import parse_options
from exec_env.market.data import save_day
from exec_env.market.synthetic import SyntheticParams, generate_day, stylized_facts


def facts_table(
    params: SyntheticParams, days: int, seed: int
) -> tuple[dict[str, np.ndarray], list[float], list, list[int]]:
    """Generate ``days`` days; return the facts per day, the generation times, the days' row counts and bytes."""
    facts: dict[str, list[float]] = {}
    times, rows, sizes = [], [], []
    for i in range(days):
        t0 = time.perf_counter()
        day = generate_day(params, seed, i)
        times.append(time.perf_counter() - t0)
        rows.append((day.n_books, day.n_trades))
        with tempfile.TemporaryDirectory() as tmp:
            save_day(day, tmp)
            sizes.append(sum(f.stat().st_size for f in Path(tmp).iterdir()))
        for key, value in stylized_facts(day).items():
            facts.setdefault(key, []).append(value)
    return {k: np.asarray(v) for k, v in facts.items()}, times, rows, sizes


def print_facts(facts: dict[str, np.ndarray]) -> None:
    for key, values in facts.items():
        print(f"  {key:18s} {values.mean():14.4f} +- {values.std(ddof=1) if values.size > 1 else 0.0:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=5, help="days per setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--betas", type=float, nargs="*", default=[], help="extra imbalance_feedback values")
    parser.add_argument("--persistence", type=float, nargs="*", default=[], help="extra sign_persistence values")
    parser.add_argument(
        "--params",
        nargs="*",
        default=[],
        help="extra settings, each 'name=value,...' of SyntheticParams, e.g. "
        "sign_persistence=0.6,sign_regime=0.2,liquidity_response=0.5",
    )
    parser.add_argument("--real", nargs="*", default=[], help="real data files: their facts, day by day")
    args = parser.parse_args()
    params = SyntheticParams()

    t0 = time.perf_counter()
    generate_day(replace(params, session_seconds=60.0), args.seed, 0)
    print(f"first call (numba compile or cache load): {time.perf_counter() - t0:.2f} s")

    facts, times, rows, sizes = facts_table(params, args.days, args.seed)
    print(f"defaults: {params}")
    print(
        f"generation time per {params.session_seconds / 3600:g} h day: mean {np.mean(times):.3f} s, max {np.max(times):.3f} s"
    )
    books, trades = np.array(rows).T
    print(
        f"book rows per day: {books.mean():.0f}; trades per day: {trades.mean():.0f}; bytes on disk per day: {np.mean(sizes) / 1e6:.1f} MB"
    )
    print(f"stylized facts over {args.days} days (mean +- std):")
    print_facts(facts)

    for beta in args.betas:
        facts, _, _, _ = facts_table(replace(params, imbalance_feedback=beta), args.days, args.seed)
        print(f"imbalance_feedback={beta:g}:")
        print_facts({k: v for k, v in facts.items() if k.startswith(("imb_", "spread_1", "realized"))})

    for phi in args.persistence:
        facts, _, _, _ = facts_table(replace(params, sign_persistence=phi), args.days, args.seed)
        print(f"sign_persistence={phi:g}:")
        print_facts({k: v for k, v in facts.items() if k.startswith(("sign_", "ret_", "imb_acc", "realized"))})

    for spec in args.params:
        try:
            setting = replace(params, **parse_options(spec))
        except (ValueError, TypeError) as e:
            raise SystemExit(f"--params {spec!r}: {e}") from None
        facts, _, _, _ = facts_table(setting, args.days, args.seed)
        print(f"{spec}:")
        print_facts(
            {
                k: v
                for k, v in facts.items()
                if k.startswith(("sign_", "ret_", "flow_", "impact_", "imb_acc", "realized", "spread_1"))
            }
        )

    for path in args.real:
        from exec_env.market.sources import load_days

        for day in load_days(path):
            print(f"{path} ({day.meta.symbol}, {day.n_trades} trades):")
            print_facts({k: np.asarray([v]) for k, v in stylized_facts(day).items()})


if __name__ == "__main__":
    main()

"""Parsing speed of the LOBSTER loader, on one core: events per second, cold and cached.

    python benchmarks/bench_lobster.py [--seconds 23400] [--repeat 3]

1. The AMZN level-1 sample of ``../shared/data/lobster`` (skipped if absent).
2. A large level-10 pair written by ``write_lobster`` from a synthetic day (every event time
   recorded, rates x1.5: about 1.4 million events for a 6.5 h session) in a temporary folder.

An event is one message row and its orderbook row (counted once). "parse" is ``lobster.load``
and "cold" (``sources.load_days`` into an empty cache folder: parse and save) are the best of
``--repeat`` runs after numba compilation; "cached" is ``load_days`` again (memory-mapped ``.npy``
days). The machine's other load makes single runs noisy. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from exec_env.market import lobster
from exec_env.market.sources import load_days
from exec_env.market.synthetic import SyntheticParams, generate_day

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def report(label: str, path: Path, repeat: int) -> None:
    events = lobster.load(path)[0].meta.notes["events"]  # also compiles
    size_mb = sum(p.stat().st_size for p in (path, *lobster.companions(path))) / 1e6
    parse = best_of(lambda: lobster.load(path), repeat)
    colds = []
    with tempfile.TemporaryDirectory() as cache:
        for i in range(repeat):
            t0 = time.perf_counter()
            load_days(path, cache_dir=Path(cache) / str(i))
            colds.append(time.perf_counter() - t0)
        cold = min(colds)
        cached = best_of(lambda: load_days(path, cache_dir=Path(cache) / "0"), repeat)
    print(
        f"{label}: {events:,} events, {size_mb:.1f} MB\n"
        f"  parse  {parse:8.3f} s  {events / parse:12,.0f} events/s\n"
        f"  cold   {cold:8.3f} s  (load_days: parse + save to the cache)\n"
        f"  cached {cached:8.3f} s  speed-up x{cold / cached:,.0f} over cold"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=23_400.0, help="synthetic session length")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    amzn = SHARED / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    if amzn.is_file():
        report("AMZN level 1 (shared sample)", amzn, args.repeat)
    else:
        print(f"AMZN sample not found at {amzn}: skipped")

    base = SyntheticParams(session_seconds=args.seconds, snapshot_interval_ms=0.0, levels=10)
    params = replace(base, k=base.k * 1.5, mu=base.mu * 1.5)
    t0 = time.perf_counter()
    day = generate_day(params, seed=7, day_index=0)
    gen = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        msg, _ = lobster.write_lobster(day, folder)
        write = time.perf_counter() - t0
        print(
            f"synthetic day: {day.n_books:,} book rows + {day.n_trades:,} trades generated in {gen:.1f} s, "
            f"written in {write:.1f} s"
        )
        report("synthetic level 10 (write_lobster)", msg, args.repeat)


if __name__ == "__main__":
    main()

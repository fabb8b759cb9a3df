"""Load time of every real sample in ../shared/data: first load in the process, warm parse, cached.

    python benchmarks/bench_loaders.py [--data ../shared/data]

Tardis has no real sample there: two Tardis files (incremental_book_L2 and book_snapshot_25, with
their trades) are written from a one-hour synthetic day (timestamps floored to microseconds) and
timed too, so the Tardis parser and the compiled book rebuild it shares with Binance are measured.

"first" is the first load in this process (one-time costs included: pandas/numba setup, and compiling
the format's numba kernels when their cache is empty, as on a fresh clone or with a new
EXEC_ENV_CACHE: the kernels are cached under EXEC_ENV_CACHE/numba); "parse"
is a second parse without the cache; "cached" loads the saved days (memory-mapped .npy files).
Rows are the canonical output rows (book snapshots + trades). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from exec_env.market.data import validate
from exec_env.market.sources import detect_format, load_days
from exec_env.market.synthetic import SyntheticParams, generate_day
from exec_env.market.tardis import write_tardis

SAMPLES = [
    ("lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv", {}),
    ("lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv", {}),
    ("databento/ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv", {}),
    ("databento/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst", {}),
    ("databento/ESM4_glbx-mdp3_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.csv", {}),
    ("databento/esh4-glbx-mdp3-20231224.mbo.dbn.zst", {}),
    ("crypto/binance-spot/btcusdt_20240808.gz", {}),
    ("fx/EURUSD_2026-07-13_12h_ticks.csv", {}),
    ("bars/SPY_1min.csv", {}),
    ("bars/AAPL_1min.csv", {}),
    ("taq-multivenue/sampleQDataRaw.csv", {"crossed": "drop"}),
]


def timed(path: Path, options: dict, repeat: int = 1, **kw) -> tuple[float, list]:
    best, out = float("inf"), []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = load_days(path, **kw, **options)
        best = min(best, time.perf_counter() - t0)
    return best, out


def synthetic_tardis(folder: Path) -> list[tuple[Path, dict]]:
    """The Tardis files of a one-hour synthetic day (incremental and 25-level snapshots)."""
    day = generate_day(SyntheticParams(session_seconds=3600.0), seed=5, day_index=0)
    day = validate(replace(day, ts=day.ts // 1000 * 1000, trade_ts=day.trade_ts // 1000 * 1000))
    return [
        (write_tardis(day, folder / name, dataset=name)[0], {}) for name in ("incremental_book_L2", "book_snapshot_25")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    root = Path(args.data)
    print(f"{'sample':58s} {'format':9s} {'rows':>9s} {'first s':>8s} {'parse s':>8s} {'rows/s':>11s} "
          f"{'cached ms':>9s} {'x first':>8s} {'x parse':>8s}")  # fmt: skip
    with tempfile.TemporaryDirectory() as written:
        samples = [(root / rel, options) for rel, options in SAMPLES] + synthetic_tardis(Path(written))
        for path, options in samples:
            rel = str(path.relative_to(root)) if path.is_relative_to(root) else f"synthetic tardis {path.parent.name}"
            if not path.is_file():
                print(f"{rel:58s} (missing)")
                continue
            with tempfile.TemporaryDirectory() as cache:
                first, days = timed(path, options, cache_dir=cache)
                parse, _ = timed(path, options, repeat=3, cache=False)
                cached, _ = timed(path, options, repeat=5, cache_dir=cache)
            rows = sum(d.n_books + d.n_trades for d in days)
            print(f"{rel[-58:]:58s} {detect_format(path):9s} {rows:9,d} {first:8.3f} {parse:8.4f} "
                  f"{rows / parse:11,.0f} {cached * 1e3:9.2f} {first / cached:8.0f} {parse / cached:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()

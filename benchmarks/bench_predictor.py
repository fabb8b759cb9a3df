"""Throughput of the order-flow pass, the walk-forward fit and the adaptive policy's decision (printed numbers).

python benchmarks/bench_predictor.py [--days 24]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exec_env import orderflow
from exec_env.market.synthetic import synthetic_catalogue
from exec_env.orderflow import OrderflowArrays
from exec_env.predictor import fit_predictor, samples


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--days", type=int, default=24)
    args = p.parse_args()
    catalogue = synthetic_catalogue(n_days=args.days, n_test=0)
    day = catalogue.day(0)
    OrderflowArrays.compute(day)  # compile
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        OrderflowArrays.compute(day)
    dt = (time.perf_counter() - t0) / reps
    print(f"orderflow pass: {day.n_books} rows, {day.n_trades} trades in {dt * 1e3:.1f} ms "
          f"({day.n_books / dt / 1e6:.1f} M rows/s)")  # fmt: skip
    t0 = time.perf_counter()
    frame = samples(catalogue, list(range(args.days)), 10.0, 10.0)
    t1 = time.perf_counter()
    model = fit_predictor(frame, 10.0, 10.0)
    t2 = time.perf_counter()
    print(f"samples: {len(frame)} from {args.days} days in {t1 - t0:.2f} s (cached arrays); fit {t2 - t1:.3f} s")
    x = frame[list(orderflow.FEATURE_NAMES)].to_numpy()[:1]
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        model.prob_up(x)
    print(f"one prediction: {(time.perf_counter() - t0) / n * 1e6:.1f} us")
    assert np.isfinite(model.prob_up(x)).all()


if __name__ == "__main__":
    main()

"""Where the batched env's time goes, per env-step: the compiled step (``batch_step``), the rest of
``BatchedExecution.step`` in Python, ``done()`` with ``np.flatnonzero``, and the resets
(``reset_episodes``, also per reset), as ``benchmarks/bench_vector.py`` runs them (TWAP actions,
default synthetic catalogue, resets included).

    python benchmarks/bench_vector_parts.py [--n 1024] [--env-steps 300000] [--ahead 12,8,4]

``--ahead`` sets the prefetch distances of ``batch_step`` (episodes ahead: state rows; rows in
force; data up to the step's end). Prints figures; asserts nothing. On a shared machine compare
settings with several runs (or alternate them) rather than trusting one figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exec_env import ExecutionConfig
from exec_env import vector as V


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--env-steps", type=int, default=300_000)
    ap.add_argument("--ahead", type=str, default=",".join(map(str, V._AHEAD)))
    args = ap.parse_args()
    n = args.n
    eng = V.BatchedExecution(n, ExecutionConfig())
    eng.sampler.reset(seed=0)
    eng.reset_episodes()
    eng._ahead = np.array([int(x) for x in args.ahead.split(",")], dtype=np.int64)
    act = np.tile([0.0, 1.0], (n, 1))
    compiled = V.batch_step
    spent = {"batch_step": 0.0}

    def timed_batch_step(*a):
        t = time.perf_counter()
        compiled(*a)
        spent["batch_step"] += time.perf_counter() - t

    V.batch_step = timed_batch_step  # BatchedExecution.step looks it up in the module
    try:
        for rep in range(4):  # the first is a warm-up
            spent["batch_step"] = 0.0
            step = done = reset = 0.0
            resets = steps = 0
            t0 = time.perf_counter()
            while steps < (min(args.env_steps, 20 * n) if rep == 0 else args.env_steps):
                t = time.perf_counter()
                eng.step(act)
                t1 = time.perf_counter()
                idx = np.flatnonzero(eng.done())
                t2 = time.perf_counter()
                eng.reset_episodes(idx)
                t3 = time.perf_counter()
                step += t1 - t
                done += t2 - t1
                reset += t3 - t2
                resets += idx.size
                steps += n
            if rep == 0:
                continue
            wall = time.perf_counter() - t0

            per = 1e6 / steps  # us per env-step of a total in seconds
            print(
                f"N={n}: {steps / wall:,.0f} env-steps/s; us per env-step: total {wall * per:.3f}, "
                f"batch_step {spent['batch_step'] * per:.3f}, step() in Python {(step - spent['batch_step']) * per:.3f}, "
                f"done() {done * per:.3f}, resets {reset * per:.3f} ({1e6 * reset / max(resets, 1):.2f} us per reset)"
            )
    finally:
        V.batch_step = compiled


if __name__ == "__main__":
    main()

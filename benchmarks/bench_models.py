"""Env steps per second with each market-model component, against the simplest model.

    python benchmarks/bench_models.py [--steps 30000]

Two days of the default synthetic market held in memory (no day switching), random actions, one
core; each figure is the median of three timed runs after a warm-up. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.market import MarketCatalogue, resolve_market

MODELS = {
    "simplest (no impact, conservative queue)": SimConfig(),
    "linear permanent": SimConfig(permanent_impact=1e-6),
    "+ exponential transient": SimConfig(permanent_impact=1e-6, transient_impact=2e-6),
    "+ power-law transient (8 exp.)": SimConfig(
        permanent_impact=1e-6, transient_impact=2e-6, transient_kernel="power_law"
    ),
    "square-root liquidity": SimConfig(liquidity="sqrt", sqrt_coef=1.0, daily_vol=0.015, daily_volume=4.4e6),
    "power queue": SimConfig(queue="power"),
    "log queue": SimConfig(queue="log"),
    "participation cap 10%": SimConfig(participation_cap=0.1),
    "synthetic default (perm + exp. transient)": None,
}


def rate(env: ExecutionEnv, steps: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, (steps, 2)).astype(np.float32)
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for a in actions:
        *_, terminated, _, _ = env.step(a)
        if terminated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30_000)
    args = ap.parse_args()
    full = resolve_market("synthetic")
    cat = MarketCatalogue([full.day(0), full.day(1)], n_test=0, name="two-days", sim_defaults=full.sim_defaults)
    base = None
    for label, sim in MODELS.items():
        env = ExecutionEnv(ExecutionConfig(market=cat, sim=sim))
        rate(env, 2_000, 99)  # compile, warm caches
        sps = float(np.median([rate(env, args.steps, s) for s in range(3)]))
        base = base or sps
        print(f"{label:44s} {sps:10,.0f} steps/s  {sps / base:6.2f}x of the simplest")


if __name__ == "__main__":
    main()

"""Throughput of the environment on one core: env steps per second and synthetic-day generation.

    python benchmarks/bench_env.py [--steps 100000]

Prints figures; asserts nothing. Compilation happens before timing starts.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import exec_env  # noqa: F401  (registers the ids)
from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines import TWAP
from exec_env.market import MarketCatalogue
from exec_env.market.synthetic import SyntheticParams, generate_day


def steps_per_second(env, policy, steps: int, seed: int = 0) -> tuple[float, float]:
    """(env steps/s, replayed market events/s) over ``steps`` steps, resetting as needed."""
    obs, _ = env.reset(seed=seed)
    raw = env.unwrapped
    events = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        row0, trade0 = raw._episode.sim.ist[0], raw._episode.sim.ist[1]
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        events += int(raw._episode.sim.ist[0] - row0 + raw._episode.sim.ist[1] - trade0)
        if terminated or truncated:
            obs, _ = env.reset()
    dt = time.perf_counter() - t0
    return steps / dt, events / dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=3)
    args = parser.parse_args()

    params = SyntheticParams()
    generate_day(SyntheticParams(session_seconds=600), seed=0, day_index=0)  # compile
    times = []
    days = []
    for i in range(args.days):
        t0 = time.perf_counter()
        days.append(generate_day(params, seed=0, day_index=i))
        times.append(time.perf_counter() - t0)
    d = days[0]
    print(f"synthetic day (6.5 h, {d.levels} levels): {np.mean(times):.3f} s mean, {np.max(times):.3f} s max over "
          f"{args.days} days; {d.n_books:,} book rows, {d.n_trades:,} trades")  # fmt: skip

    catalogue = MarketCatalogue(days, n_test=1, name="bench")
    rng = np.random.default_rng(0)
    twap = TWAP()
    cases = [
        ("ExecutionEnv, random actions", ExecutionEnv(ExecutionConfig(market=catalogue)), None),
        ("ExecutionEnv, TWAP", ExecutionEnv(ExecutionConfig(market=catalogue)), "twap"),
        ("gym.make (wrappers), random actions", gym.make("exec_env/Execution-v0", market=catalogue), None),
        (
            "ExecutionEnv + TWAP shadow (compare_twap), random",
            ExecutionEnv(ExecutionConfig(market=catalogue, compare_twap=True)),
            None,
        ),
    ]
    for label, env, kind in cases:
        policy = (
            (lambda o: twap.predict(o)[0]) if kind == "twap" else (lambda o: rng.uniform(-1, 1, 2).astype(np.float32))
        )
        steps_per_second(env, policy, 2_000)  # warm up (compilation, caches)
        sps, eps = steps_per_second(env, policy, args.steps)
        print(f"{label:52s} {sps:10,.0f} steps/s   {eps:12,.0f} market events/s")


if __name__ == "__main__":
    main()

"""Side by side in one process: the single env with resets, Gymnasium's Pendulum-v1, the batched
env at N = 1, 64, 1024, 4096, and train.py's PPO steps/s.

    python benchmarks/bench_vector.py [--steps 30000] [--ppo-steps 65536]

Default synthetic catalogue (16 training days, resets included), TWAP actions for the execution
envs, random actions for Pendulum; each figure is the median of three timed runs after a warm-up.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import exec_env  # noqa: F401  (registers the ids)
from exec_env import ExecutionConfig
from exec_env.vector import BatchedExecution


def single(env_id: str, steps: int, action) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            a = action if action is not None else env.action_space.sample()
            *_, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()
        return n / (time.perf_counter() - t0)

    run(2_000)
    return float(np.median([run(steps) for _ in range(3)]))


def batched(n: int, env_steps: int) -> float:
    eng = BatchedExecution(n, ExecutionConfig())
    eng.sampler.reset(seed=0)
    eng.reset_episodes()
    act = np.tile([0.0, 1.0], (n, 1))

    def run(total: int) -> float:
        done_steps = 0
        t0 = time.perf_counter()
        while done_steps < total:
            eng.step(act)
            done_steps += n
            eng.reset_episodes(np.flatnonzero(eng.done()))
        return done_steps / (time.perf_counter() - t0)

    run(min(env_steps, 10 * n))
    return float(np.median([run(env_steps) for _ in range(3)]))


def ppo(steps: int) -> float:
    from exec_env.agents import PPOSettings, make_ppo
    from exec_env.agents.ppo import make_vec_env

    config = ExecutionConfig(compare_twap=True, reward_baseline="twap")
    venv = make_vec_env(config, 64, 0)
    model = make_ppo(venv, PPOSettings(n_steps=64), seed=0)
    model.learn(4096)
    t0 = time.perf_counter()
    model.learn(steps)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30_000)
    ap.add_argument("--ppo-steps", type=int, default=65_536)
    args = ap.parse_args()
    twap = np.array([0.0, 1.0], dtype=np.float32)
    sps = single("exec_env/Execution-v0", args.steps, twap)
    pendulum = single("Pendulum-v1", args.steps, None)
    print(f"{'single env (gym.make, resets included)':44s} {sps:12,.0f} steps/s")
    print(f"{'Pendulum-v1 (gym.make)':44s} {pendulum:12,.0f} steps/s   single env / Pendulum = {sps / pendulum:.2f}")
    for n in (1, 64, 1024, 4096):
        rate = batched(n, max(args.steps, 200 * n))  # at least 200 calls: one call at N = 1024 is ~1 ms
        print(f"{f'batched env, N = {n}':44s} {rate:12,.0f} env-steps/s")
    print(f"{'train.py PPO (64 batched envs, 64 steps each)':44s} {ppo(args.ppo_steps):12,.0f} steps/s")


if __name__ == "__main__":
    main()

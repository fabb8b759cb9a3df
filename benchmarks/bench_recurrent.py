"""Does recurrence help? sb3-contrib's RecurrentPPO (an LSTM policy) trained like train.py's PPO
(discrete 5 x 5 grid, PassiveTWAP-relative reward, 64 batched envs, undiscounted) on a synthetic
market, then run with its memory on the same test episodes as PassiveTWAP.

    pip install sb3-contrib
    python benchmarks/bench_recurrent.py [--steps 1000000] [--seed 1] [--data-options sign_persistence=0.6,...]

Prints the training time, both mean shortfalls, the paired difference with its day-clustered 95%
interval, and how many episodes the LSTM policy ran exactly as PassiveTWAP. Asserts nothing.
sb3-contrib is not a dependency of exec_env; this script is the only place that uses it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from _market import add_market_args, market_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=200)
    add_market_args(parser)
    args = parser.parse_args()

    try:
        from sb3_contrib import RecurrentPPO
    except ImportError:
        raise SystemExit("bench_recurrent.py needs sb3-contrib: pip install sb3-contrib") from None
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import VecMonitor

    from exec_env.baselines import PassiveTWAP
    from exec_env.evaluation import cluster_column, evaluate, sample_episodes
    from exec_env.stats import clustered_interval
    from exec_env.vector import ExecutionVecEnv

    config = market_config(args, action_mode="discrete", reward_baseline="passive_twap")
    env = VecMonitor(ExecutionVecEnv(64, config, seed=args.seed))
    model = RecurrentPPO(
        "MlpLstmPolicy", env, n_steps=128, batch_size=2048, n_epochs=5, gamma=1.0, gae_lambda=0.95,
        learning_rate=3e-4, seed=args.seed, device="cpu", policy_kwargs={"lstm_hidden_size": 64, "net_arch": [64]},
    )  # fmt: skip
    model.set_logger(Logger(folder=None, output_formats=[]))  # no empty /tmp/SB3-<time> folder
    t0 = time.perf_counter()
    model.learn(args.steps)
    train_s = time.perf_counter() - t0
    env.close()

    class Recurrent:
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return model.predict(obs, state=state, episode_start=episode_start, deterministic=deterministic)

    episodes = sample_episodes(config, args.episodes, seed=args.seed + 10_000, split="test")
    lstm = evaluate({"RecurrentPPO": Recurrent()}, config, episodes)
    passive = evaluate({"PassiveTWAP": PassiveTWAP()}, replace(config, action_mode="continuous"), episodes)
    a = lstm.set_index("episode")["shortfall_bps"]
    b = passive.set_index("episode")["shortfall_bps"].loc[a.index]
    diff = (a - b).to_numpy()
    ci = clustered_interval(diff, passive.set_index("episode")[cluster_column(passive)].loc[a.index].to_numpy())
    print(
        f"RecurrentPPO, {args.steps} steps in {train_s:.0f} s ({args.steps / train_s:,.0f} steps/s), seed {args.seed}"
    )
    print(f"mean shortfall on {len(a)} test episodes: RecurrentPPO {a.mean():.3f} bps, PassiveTWAP {b.mean():.3f}")
    print(f"difference {diff.mean():+.3f} bps, day-clustered 95% CI [{ci.low:+.2f}, {ci.high:+.2f}]; "
          f"{int((diff == 0).sum())} episodes exactly as PassiveTWAP")  # fmt: skip


if __name__ == "__main__":
    main()

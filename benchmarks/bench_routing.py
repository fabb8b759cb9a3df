"""Savings table of smart order routing on Routing-v0 (printed numbers, not pass/fail).

    python benchmarks/bench_routing.py --market synthetic --episodes 60 --ppo-steps 20000
    python benchmarks/bench_routing.py --market taq --episodes 40 --ppo-steps 0

1. Grid search of (lambda_over, lambda_under, theta_queue) for Cont–Kukanov on training days
   (``exec_env.routing_search.grid_search``), saved to ``--out``/ck_choice_<market>.json.
2. CK (chosen values), naive best-price, pro-rata, TWAP and VWAP (naive routing; VWAP's curve from
   training days) and, with ``--ppo-steps``, PPO trained on training days: all on the same
   test episodes; the table gives CK's saving against each (bps, 95% t and bootstrap intervals).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from exec_env.baselines.routing import ContKukanov, NaiveBestPrice, ProRata, TWAPRouted, VWAPRouted, volume_curve
from exec_env.market.venues import VenueCatalogue
from exec_env.routing_env import RoutingConfig, RoutingEnv
from exec_env.routing_search import grid_search, run_policy, sample_episodes, save_choice, savings_table

TAQ = Path(__file__).resolve().parents[2] / "shared" / "data" / "taq-multivenue" / "sampleQDataRaw.csv"


def market(name: str) -> tuple[VenueCatalogue, dict]:
    if name == "synthetic":
        from exec_env.market.synthetic_venues import synthetic_venue_catalogue

        return synthetic_venue_catalogue(), {"quantity": 5000.0}
    if name == "taq":
        from exec_env.market.venues import from_taq

        days = from_taq(TAQ, venues="NPTZ")
        return VenueCatalogue(days, n_test=1, name="taq-NPTZ"), {"quantity": 2000.0}
    raise SystemExit(f"--market {name!r}: allowed synthetic, taq")


class _PPO:
    name = "ppo"

    def __init__(self, model) -> None:
        self.model = model

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return self.model.predict(obs, deterministic=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--market", default="synthetic")
    ap.add_argument("--episodes", type=int, default=60, help="test episodes (and training episodes of the search)")
    ap.add_argument("--ppo-steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/routing")
    args = ap.parse_args()
    t0 = time.time()
    cat, kw = market(args.market)
    cfg = RoutingConfig(market=cat, horizon_s=600.0, decision_interval_s=10.0, **kw)
    chosen, grid = grid_search(cfg, n_episodes=args.episodes, seed=args.seed)
    out = Path(args.out)
    save_choice(out / f"ck_choice_{args.market}.json", chosen, grid, {"market": cat.name, "episodes": args.episodes})
    print(f"grid search on training days ({time.time() - t0:.0f} s): chosen {chosen}")
    test_env = RoutingEnv(cfg, split="test")
    day0 = cat.day(0)
    policies = [
        ContKukanov(test_env.venue_specs, **chosen), NaiveBestPrice(), ProRata(), TWAPRouted(),
        VWAPRouted(volume_curve(cat, "train"), cfg.horizon_s, cfg.n_steps,
                   (day0.meta.session_close_ns - day0.meta.session_open_ns) / 1e9),
    ]  # fmt: skip
    if args.ppo_steps > 0:
        from stable_baselines3 import PPO
        from stable_baselines3.common.logger import Logger

        model = PPO(
            "MlpPolicy", RoutingEnv(cfg, split="train"), n_steps=1024, batch_size=256, seed=args.seed, verbose=0
        )
        model.set_logger(Logger(folder=None, output_formats=[]))  # no empty /tmp/SB3-<time> folder
        model.learn(args.ppo_steps)
        policies.append(_PPO(model))
    episodes = sample_episodes(test_env, args.episodes, seed=args.seed + 1)
    frame = pd.concat([run_policy(test_env, p, episodes) for p in policies], ignore_index=True)
    table = savings_table(frame)
    frame.to_csv(out / f"episodes_{args.market}.csv", index=False)
    table.to_csv(out / f"savings_{args.market}.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.round(2).to_string(index=False))
    print(json.dumps({"market": cat.name, "chosen": chosen, "seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    main()

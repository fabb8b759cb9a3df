"""The adversarial table: can a cheap policy fake a win against the market model?

For each parent-order size, the same paired episodes (test days, buy and sell, 600 s horizon) are
run with TWAP (marketable slices on the linear schedule), WaitDump (do nothing, leave the whole order
to the horizon liquidation), Immediate (everything at once) and PassiveTWAP (the schedule at the near
touch). A sound market model makes WaitDump no cheaper than TWAP on average and Immediate's cost
rise strictly with size.

    python benchmarks/bench_adversarial.py                        # default synthetic market
    python benchmarks/bench_adversarial.py --split all --horizon-s 300 --sizes 2000,100000 \
        --market ../shared/data/lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.evaluation import sample_episodes

POLICIES = {"TWAP": (0.0, 1.0), "WaitDump": (-1.0, -1.0), "Immediate": (1.0, 1.0), "PassiveTWAP": (0.0, -0.5)}


def run(config: ExecutionConfig, n: int, seed: int, split: str) -> dict[str, np.ndarray]:
    specs = sample_episodes(config, n, seed=seed, split=split)
    out: dict[str, np.ndarray] = {}
    extra: dict[str, list] = {}
    for name, action in POLICIES.items():
        env = ExecutionEnv(config, split=split)
        a = np.array(action, dtype=np.float32)
        costs, part = [], []
        for spec in specs:
            env.reset(options=spec.options())
            while True:
                *_, terminated, _, info = env.step(a)
                if terminated:
                    break
            m = info["execution"]
            costs.append(m["shortfall_bps"])
            part.append(m["participation"] if m["participation"] is not None else math.nan)
        out[name] = np.array(costs)
        extra[name] = part
    out["_participation"] = np.array(extra["TWAP"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--market", default="synthetic")
    ap.add_argument("--sizes", default="5000,20000,100000,300000,1000000")
    ap.add_argument("--episodes", type=int, default=60)
    ap.add_argument("--horizon-s", type=float, default=600.0)
    ap.add_argument("--interval-s", type=float, default=10.0)
    ap.add_argument("--warmup-s", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="test", help="'all' for single-day sources (no test days)")
    args = ap.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    print(
        f"market={args.market} {args.split} days, {args.episodes} paired episodes per size, horizon {args.horizon_s:g} s"
    )
    header = f"{'size':>9} {'TWAP':>9} {'WaitDump':>9} {'Immediate':>10} {'Passive':>9} {'WD-TWAP':>9} {'WD<TWAP':>8} {'TWAP part.':>10}"
    print(header)
    immediate = []
    t0 = time.perf_counter()
    for q in sizes:
        cfg = ExecutionConfig(
            market=args.market, quantity=q, horizon_s=args.horizon_s, decision_interval_s=args.interval_s,
            warmup_s=args.warmup_s, side="random",
        )  # fmt: skip
        r = run(cfg, args.episodes, args.seed, args.split)
        d = r["WaitDump"] - r["TWAP"]
        immediate.append(r["Immediate"].mean())
        print(
            f"{q:>9.0f} {r['TWAP'].mean():>9.2f} {r['WaitDump'].mean():>9.2f} {r['Immediate'].mean():>10.2f} "
            f"{r['PassiveTWAP'].mean():>9.2f} {d.mean():>9.2f} {np.mean(d < 0):>8.0%} {np.nanmean(r['_participation']):>10.2f}"
        )
    rising = all(b > a for a, b in itertools.pairwise(immediate))
    print("mean shortfall in bps of arrival notional; WD-TWAP > 0 means waiting and dumping costs more")
    print(f"Immediate rises strictly with size: {rising}; {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

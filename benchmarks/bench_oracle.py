"""How much edge is there to find? The next-move oracle (a diagnostic that reads the future, never a
baseline) against PassiveTWAP, the best constant action and, optionally, trained PPO models, on the
same synthetic test episodes.

    python benchmarks/bench_oracle.py [--quantity 5000] [--episodes 200] [--model runs/<run> ...]
    python benchmarks/bench_oracle.py --data-options sign_persistence=0.6,sign_regime=0.2,liquidity_response=0.22

Prints mean shortfall (bps), the paired difference to PassiveTWAP with its day-clustered 95%
interval, and for each model the share of the oracle's edge over PassiveTWAP that it captures.
Asserts nothing.
"""

from __future__ import annotations

import argparse

from _market import add_market_args, market_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_market_args(parser)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=10_001)
    parser.add_argument("--model", action="append", default=[], help="train.py run folder (repeatable)")
    args = parser.parse_args()

    from exec_env.agents.oracle import NextMoveOracle
    from exec_env.baselines import PassiveTWAP, make_baseline
    from exec_env.evaluate import load_model
    from exec_env.evaluation import cluster_column, evaluate, sample_episodes
    from exec_env.stats import clustered_interval

    config = market_config(args)
    episodes = sample_episodes(config, n=args.episodes, seed=args.seed, split="test")
    policies = {
        "PassiveTWAP": PassiveTWAP(),
        "BestConstant": make_baseline("BestConstant", config, config.market),
        "Oracle(wait)": NextMoveOracle(),
        "Oracle(wait, cross>=1 tick)": NextMoveOracle(cross_ticks=1.0),
    }
    for path in args.model:
        policies[f"PPO[{path.rstrip('/').split('/')[-1][:40]}]"] = load_model(path)
    frame = evaluate(policies, config, episodes)
    piv = frame.pivot(index="episode", columns="policy", values="shortfall_bps")
    days = frame[frame.policy == "PassiveTWAP"].set_index("episode")[cluster_column(frame)]
    oracle_gain = float((piv["PassiveTWAP"] - piv["Oracle(wait)"]).mean())
    print(f"quantity {args.quantity:g}, horizon {args.horizon_s:g} s, decisions every {args.decision_interval_s:g} s, "
          f"{args.episodes} test episodes on {days.nunique()} days; BestConstant chose {policies['BestConstant']!r}")  # fmt: skip
    print(f"{'policy':<44} {'mean':>7} {'vs PassiveTWAP':>15} {'day 95% CI':>18} {'share of oracle edge':>21}")
    for name in policies:
        diff = piv[name] - piv["PassiveTWAP"]
        cmp = clustered_interval(diff.to_numpy(), days.loc[piv.index].to_numpy())
        share = f"{-float(diff.mean()) / oracle_gain:.1%}" if name.startswith("PPO") and oracle_gain > 0 else "-"
        ci = f"[{cmp.low:+.2f}, {cmp.high:+.2f}]" if name != "PassiveTWAP" else "-"
        print(f"{name:<44} {piv[name].mean():7.2f} {diff.mean():+15.2f} {ci:>18} {share:>21}")


if __name__ == "__main__":
    main()

"""PPO against every baseline over several training seeds, from train.py run folders.

    python benchmarks/seed_table.py runs/<seed 1 run> runs/<seed 2 run> runs/<seed 3 run>

Reads each folder's ``eval_episodes.csv`` (one row per policy and test episode) and prints a
Markdown table: for every policy, its mean shortfall (bps) in each run, and PPO minus that policy
with the day-clustered 95% interval (episodes of one day are one cluster). Each run draws its own
test episodes (train.py samples them with the run's seed), so the columns are separate
experiments, not one experiment repeated. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="train.py run folders")
    parser.add_argument("--learner", default="PPO", help="the learned policy's name in eval_episodes.csv")
    args = parser.parse_args()

    import pandas as pd

    from exec_env.evaluation import cluster_column
    from exec_env.stats import clustered_interval

    frames, seeds = [], []
    for run in args.runs:
        path = Path(run) / "eval_episodes.csv"
        if not path.is_file():
            raise SystemExit(f"{path}: no such file; give train.py run folders")
        frames.append(pd.read_csv(path))
        seeds.append(json.loads((Path(run) / "config.json").read_text())["args"]["seed"])
    policies = list(dict.fromkeys(frames[0]["policy"]))
    if args.learner not in policies:
        raise SystemExit(f"{args.learner!r} is not a policy of {args.runs[0]}: {policies}")
    head = " | ".join(f"seed {s}: mean, {args.learner} − it [day 95% CI]" for s in seeds)
    print(f"| policy | {head} |")
    print("|---|" + "---|" * len(seeds))
    for policy in policies:
        cells = []
        for frame in frames:
            piv = frame.pivot(index="episode", columns="policy", values="shortfall_bps")
            days = frame[frame["policy"] == policy].set_index("episode")[cluster_column(frame)].loc[piv.index]
            mean = piv[policy].mean()
            if policy == args.learner:
                cells.append(f"{mean:.2f}")
                continue
            diff = (piv[args.learner] - piv[policy]).to_numpy()
            ci = clustered_interval(diff, days.to_numpy())
            cells.append(f"{mean:.2f}, {diff.mean():+.2f} [{ci.low:+.2f}, {ci.high:+.2f}]")
        print(f"| {policy} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

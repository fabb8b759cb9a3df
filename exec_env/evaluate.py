"""Evaluate fixed policies and saved models on one episode set: tables, CSV, JSON and plots.

    python -m exec_env.evaluate                                   # every baseline, synthetic market
    python -m exec_env.evaluate --policy TWAP --policy VWAP --policy "DC:delta=0.0005" \\
        --policy "AC:risk_aversion=1e-6" --model runs/run_a --model runs/run_b --out eval_out
    python -m exec_env.evaluate --data ../shared/data/fx/EURUSD_2026-07-13_12h_ticks.csv --test-share 0.3 \\
        --horizon-s 60 --decision-interval-s 5 --quantity 100000 --episodes 20 --overlap

Baselines by name with parameters (``TWAP``, ``PassiveTWAP``, ``Immediate``, ``VWAP:bucket_s=300``,
``POV:rate=0.1,max_slice=0.2``, ``DC:delta=0.0005,n_slices=10``, ``AC:risk_aversion=1e-6``,
``SubmitAndLeave:offset_ticks=0``); whatever they estimate comes from training data only. Saved
models: run folders (``model.zip`` inside) or ``.zip`` files; several are aggregated as seeds. The
episode set (split, sides, size, count, seed) is drawn once and run by every policy. ``--out``
receives eval_table.txt, eval_episodes.csv, eval_child_orders.csv, eval_summary.json (with the
configuration and the command), eval_summary.csv and PNG plots.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["load_model", "main", "parse_options", "plot_results", "run"]


def load_model(path: str | Path) -> Any:
    """A saved PPO policy from a run folder (its ``model.zip``, and ``vecnormalize.pkl`` when it
    was trained with normalised observations) or a ``.zip`` file. A model trained on the discrete
    grid acts through the grid values its indices stand for."""
    from exec_env.agents import load_trained

    try:
        return load_trained(path).continuous()  # the harness runs the continuous action mode
    except ValueError as exc:
        raise ValueError(f"--model {exc}") from None


def _model_name(path: str | Path) -> str:
    """``PPO[<run folder>]`` for a run folder or its model.zip, ``PPO[<file stem>]`` otherwise."""
    p = Path(path)
    label = p.name if p.is_dir() else (p.parent.name if p.name == "model.zip" else p.stem)
    return f"PPO[{label}]"


def parse_options(text: str) -> dict[str, Any]:
    """``"a=1,b=drop,c=true"`` -> ``{"a": 1, "b": "drop", "c": True}`` (ints, floats, booleans, none, text)."""
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--data-options: {item!r} is not key=value")
        value: Any = raw.strip()
        lowered = value.lower()
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif lowered == "none":
            value = None
        else:
            for kind in (int, float):
                try:
                    value = kind(value)
                    break
                except ValueError:
                    pass
        out[key.strip()] = value
    return out


def synthetic_params(text: str) -> Any:
    """The synthetic market's parameters with ``--data-options`` overrides, e.g. ``sign_persistence=0.6``;
    an unknown name or a bad value exits with a message naming it."""
    from dataclasses import fields

    from exec_env.market.synthetic import SyntheticParams

    options = parse_options(text)
    names = [f.name for f in fields(SyntheticParams)]
    if unknown := sorted(set(options) - set(names)):
        raise SystemExit(
            f"--data-options {', '.join(unknown)}: not a synthetic market parameter; allowed: {', '.join(names)}"
        )
    try:
        return SyntheticParams(**options)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"--data-options: {e}") from None


def plot_results(
    results: pd.DataFrame,
    child_orders: pd.DataFrame,
    summary: pd.DataFrame,
    out_dir: Path,
    n_sample_episodes: int = 4,
) -> list[Path]:
    """Write the PNG plots: inventory paths on sample episodes, shortfall distributions, and paired
    differences with their per-episode and day-clustered intervals against the baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    policies = list(pd.unique(results["policy"]))
    episodes = sorted(child_orders["episode"].unique())[:n_sample_episodes] if len(child_orders) else []
    if episodes:
        fig, axes = plt.subplots(1, len(episodes), figsize=(4.5 * len(episodes), 3.6), squeeze=False, sharey=True)
        for ax, ep in zip(axes[0], episodes, strict=True):
            sub = child_orders[child_orders["episode"] == ep]
            for name in policies:
                rows = sub[sub["policy"] == name]
                if rows.empty:
                    continue
                t = (rows["time_ns"].to_numpy() - rows["time_ns"].iloc[0]) / 1e9
                dt = t[1] - t[0] if t.size > 1 else 1.0
                q = float(results.loc[(results.policy == name) & (results.episode == ep), "quantity"].iloc[0])
                left = 1.0 - np.concatenate([[0.0], rows["executed"].to_numpy()]) / q
                ax.step(np.concatenate([t, [t[-1] + dt]]), left, where="post", label=name, lw=1.2)
            side = int(results.loc[results.episode == ep, "side"].iloc[0])
            ax.set_title(f"episode {ep} ({'buy' if side > 0 else 'sell'})", fontsize=9)
            ax.set_xlabel("seconds since start")
        axes[0][0].set_ylabel("inventory left (fraction)")
        axes[0][-1].legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        path = out_dir / "inventory_paths.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(policies)), 4))
    data = [results.loc[results.policy == p, "shortfall_bps"].to_numpy() for p in policies]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(policies) + 1), policies, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("implementation shortfall (bps)")
    ax.set_title("shortfall per episode (box: quartiles, triangle: mean)", fontsize=9)
    fig.tight_layout()
    path = out_dir / "shortfall_distribution.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    paired = summary.dropna(subset=["mean_diff"])
    if len(paired):
        baseline = summary.attrs.get("baseline", "baseline")
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(paired) + 1.5))
        y = np.arange(len(paired))
        m = paired["mean_diff"].to_numpy()
        ax.errorbar(m, y + 0.12, xerr=[m - paired["ci_low"], paired["ci_high"] - m], fmt="o", label="per episode")
        if "day_ci_low" in paired and paired["day_ci_low"].notna().any():
            ax.errorbar(m, y - 0.12, xerr=[m - paired["day_ci_low"], paired["day_ci_high"] - m], fmt="s",
                        label=f"day-clustered ({int(paired['n_days'].max())} days)")  # fmt: skip
        ax.axvline(0.0, color="grey", lw=0.8)
        ax.set_yticks(y, paired["policy"], fontsize=8)
        ax.set_xlabel(f"shortfall - {baseline} (bps); negative = cheaper")
        ax.set_title(f"paired differences vs {baseline}, 95% intervals", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / "paired_differences.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def run(
    policies: dict[str, Any],
    config: Any,
    episodes: Sequence[Any],
    out_dir: str | Path | None,
    baselines: Sequence[str],
    learned_groups: dict[str, list[str]] | None = None,
    split: str = "test",
    seed: int = 0,
    progress: bool = True,
    plots: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``policies`` on ``episodes`` and write every output; the harness behind the command
    and train.py. Learned models in ``learned_groups`` with several members (seeds) are also
    aggregated: ``<group> (N seeds)`` is the per-episode mean over the members."""
    from exec_env.evaluation import evaluate, report, seed_summary

    learned_groups = learned_groups or {}
    orders: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(policies) * len(episodes), desc="episodes", unit="ep", disable=None)  # none off a terminal
    try:
        results = evaluate(policies, config, episodes, split=split, child_orders=orders,
                           progress=bar.update if bar is not None else None)  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    learned = [m for members in learned_groups.values() for m in members]
    seeds = None
    for group, members in learned_groups.items():
        if len(members) > 1:
            pooled = results[results.policy.isin(members)].groupby("episode", as_index=False).mean(numeric_only=True)
            pooled.insert(0, "policy", f"{group} ({len(members)} seeds)")
            pooled["market_hash"] = results[results.policy == members[0]]["market_hash"].to_numpy()
            results = pd.concat([results, pooled], ignore_index=True)
            learned.append(f"{group} ({len(members)} seeds)")
    multi = {g: m for g, m in learned_groups.items() if len(m) > 1}
    if multi:
        seeds = seed_summary(results, multi)
    summary, text = report(results, baseline=None, baselines=baselines, learned=learned, out_dir=out_dir, seed=seed,
                           episodes=episodes, horizon_s=config.horizon_s, extra=extra)  # fmt: skip
    if seeds is not None:
        text += "\n" + "\n".join(
            f"{r.group}: mean across {r.n_seeds} seeds {r.mean_across_seeds:.2f} bps, spread (std) "
            f"{r.std_across_seeds:.2f} bps, per seed {r.seed_means}"
            for r in seeds.itertuples()
        )
    child = pd.DataFrame(orders)
    written: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        child.to_csv(out / "eval_child_orders.csv", index=False)
        if seeds is not None:
            seeds.to_csv(out / "eval_seeds.csv", index=False)
        (out / "eval_table.txt").write_text(text + "\n")
        if plots:
            written = plot_results(results, child, summary, out)
    return {"results": results, "summary": summary, "text": text, "child_orders": child, "plots": written}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m exec_env.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--policy", action="append", default=[],
                   help="baseline spec, repeatable (default: all but Adaptive, which trains a predictor)")  # fmt: skip
    p.add_argument("--by-regime", action="store_true",
                   help="also report per volatility/spread regime (thresholds from training data)")  # fmt: skip
    p.add_argument("--model", action="append", default=[], help="run folder or model .zip, repeatable (seeds)")
    p.add_argument("--data", default="synthetic", help="'synthetic' or a file, folder or glob of market data")
    p.add_argument("--format", default="auto", help="format of --data files")
    p.add_argument("--data-options", default="",
                   help="loader options, e.g. 'crossed=drop'; with --data synthetic, the market's parameters, "
                        "e.g. 'sign_persistence=0.6'")  # fmt: skip
    p.add_argument("--sim", default="", help="simulator settings, e.g. 'permanent_impact=1e-6,transient_impact=2e-6'")
    p.add_argument("--days", type=int, default=24, help="synthetic market: days generated")
    p.add_argument("--test-days", type=int, default=8, help="newest days held out (0 with --test-share)")
    p.add_argument("--test-share", type=float, default=0.0, help="intraday split: last share of each session is test")
    p.add_argument("--purge-s", type=float, default=0.0, help="intraday split: gap between train and test, seconds")
    p.add_argument("--split", default="test", choices=["train", "test", "all"], help="split episodes come from")
    p.add_argument("--side", default="random", choices=["buy", "sell", "random", "both"], help="parent order side")
    p.add_argument("--quantity", type=float, default=5000.0, help="parent order size in units")
    p.add_argument("--horizon-s", type=float, default=600.0, help="execution horizon, seconds")
    p.add_argument("--decision-interval-s", type=float, default=10.0, help="seconds between decisions")
    p.add_argument("--warmup-s", type=float, default=300.0, help="earliest start after the session open, seconds")
    p.add_argument("--episodes", type=int, default=200, help="number of episodes, identical for every policy")
    p.add_argument("--seed", type=int, default=0, help="seed of the episode set and the bootstrap")
    p.add_argument("--overlap", action="store_true", help="allow episodes of one day to share market time")
    p.add_argument("--out", default="eval_out", help="output folder")
    p.add_argument("--plots", action=argparse.BooleanOptionalAction, default=True, help="write PNG plots")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    from exec_env.baselines import DEFAULT_BASELINES, make_baseline, parse_spec
    from exec_env.config import ExecutionConfig
    from exec_env.evaluation import episodes_frame, sample_episodes

    t0 = time.perf_counter()
    if args.data == "synthetic":
        from exec_env.market.synthetic import synthetic_catalogue

        catalogue = synthetic_catalogue(n_days=args.days, n_test=0 if args.test_share else args.test_days, seed=0,
                                        params=synthetic_params(args.data_options))  # fmt: skip
    else:
        from exec_env.market.sources import load_market

        catalogue = load_market(args.data, format=args.format, n_test=0 if args.test_share else args.test_days,
                                **parse_options(args.data_options))  # fmt: skip
    if args.test_share and args.split != "test":
        raise SystemExit(f"--test-share {args.test_share} evaluates the test part of each session: --split test")
    fields = {"test_share": args.test_share, "purge_s": args.purge_s}
    if args.sim:
        from exec_env.sim import SimConfig

        fields["sim"] = SimConfig(**{**catalogue.sim_defaults, **parse_options(args.sim)})
    supported = {k: v for k, v in fields.items() if k in ExecutionConfig.__dataclass_fields__ and v is not None}
    config = ExecutionConfig(market=catalogue, quantity=args.quantity, horizon_s=args.horizon_s,
                             decision_interval_s=args.decision_interval_s, warmup_s=args.warmup_s,
                             side="random" if args.side == "both" else args.side, **supported)  # fmt: skip
    sim_config = config.resolved_sim(catalogue.sim_defaults)
    specs = args.policy or list(DEFAULT_BASELINES)
    for s in specs:
        parse_spec(s)  # fail on a bad spec before any work
    policies: dict[str, Any] = {}
    for s in specs:
        policies[s] = make_baseline(s, config, catalogue, sim_config, test_share=args.test_share, purge_s=args.purge_s)
    members = []
    for path in args.model:
        name = _model_name(path)
        policies[name] = load_model(path)
        members.append(name)
    episodes = sample_episodes(config, args.episodes, seed=args.seed, split=args.split, side=args.side,
                               overlap=args.overlap, test_share=args.test_share, purge_s=args.purge_s)  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    episodes_frame(episodes).to_csv(out / "eval_episodes_spec.csv", index=False)
    extra = {"command": " ".join(["python -m exec_env.evaluate", *(argv if argv is not None else sys.argv[1:])]),
             "args": vars(args), "env": config.describe(), "sim": sim_config.__dict__, "policies": list(policies)}  # fmt: skip
    outcome = run(policies, config, episodes, out, baselines=specs, learned_groups={"PPO": members} if members else {},
                  split="all" if args.test_share else args.split, seed=args.seed, progress=args.progress,
                  plots=args.plots, extra=extra)  # fmt: skip
    print(outcome["text"])
    if args.by_regime:
        from exec_env.policy_context import split_windows
        from exec_env.regimes import fit_regimes, label_episodes
        from exec_env.stats import format_table
        from exec_env.walkforward import by_regime

        train_days = [i for i, _, _ in split_windows(catalogue, "train", args.test_share, args.purge_s)]
        thresholds = fit_regimes(catalogue, train_days, config.warmup_s)
        results = outcome["results"]
        results["regime"] = results["episode"].map(label_episodes(thresholds, catalogue, episodes))
        baseline = outcome["summary"].attrs.get("baseline", "TWAP")
        for regime, table in by_regime(results, baseline, args.seed).items():
            print(f"\nregime {regime}:\n{format_table(table)}")
        results.to_csv(out / "eval_episodes.csv", index=False)
    print(f"outputs in {out} ({time.perf_counter() - t0:.0f} s)" + "".join(f"\n  {p}" for p in outcome["plots"]))
    return outcome


if __name__ == "__main__":
    main()

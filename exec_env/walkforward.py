"""Walk-forward backtest of the predictor and the adaptive baseline against the other baselines.

Fold ``k`` trains on days ``0..k-1`` (the predictor, the regime thresholds and every baseline's
estimates) and tests on day ``k``; folds roll from ``k = min_train`` to the last day (the
sessions of several symbols on one date are one fold's test, never split by it). The
episodes of all folds are pooled and judged by :func:`exec_env.evaluation.report` (paired
differences with day-clustered intervals), overall and per regime. With ``--test-share`` (a
source with too few days) there is one fold: every session is cut, the part before the cut
trains and the part after tests (episodes and predictor samples alike).

    python -m exec_env.walkforward --days 24 --min-train 8 --episodes-per-day 12 --out wf_out
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env import orderflow
from exec_env.evaluation import cluster_column
from exec_env.market import MarketCatalogue
from exec_env.predictor import classification_metrics, samples
from exec_env.regimes import fit_regimes, label_episodes
from exec_env.stats import format_table, summarize

__all__ = ["by_regime", "date_folds", "main", "predictor_tables", "run_fold", "walk_forward_backtest"]

_NS = 1_000_000_000


def run_fold(
    catalogue: MarketCatalogue, config: Any, specs: list[str], n_episodes: int, seed: int, side: str,
    adaptive: dict[str, float], test_share: float = 0.0, purge_s: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """One fold: ``catalogue``'s training data trains, its test split is run. Returns the episode
    results (with ``regime``) and the predictor's out-of-sample samples (with ``p_up``, ``regime``)."""
    from exec_env.baselines import make_baseline
    from exec_env.baselines.adaptive import Adaptive, train_predictor
    from exec_env.evaluation import evaluate, sample_episodes
    from exec_env.policy_context import split_windows

    cfg = replace(config, market=catalogue, test_share=test_share, purge_s=purge_s)
    sim_config = cfg.resolved_sim(catalogue.sim_defaults)
    policies = {s: make_baseline(s, cfg, catalogue, sim_config, test_share=test_share, purge_s=purge_s) for s in specs}
    model = train_predictor(catalogue, cfg, test_share, purge_s)
    policies["Adaptive"] = Adaptive(model, **adaptive)
    train = split_windows(catalogue, "train", test_share, purge_s)
    thresholds = fit_regimes(catalogue, [i for i, _, _ in train], cfg.warmup_s)
    episodes = sample_episodes(cfg, n_episodes, seed=seed, split="test", side=side)
    results = evaluate(policies, cfg, episodes, split="all" if test_share else "test")
    labels = label_episodes(thresholds, catalogue, episodes)
    results["regime"] = results["episode"].map(labels)
    test = {i: (lo, hi) for i, lo, hi in split_windows(catalogue, "test", test_share, purge_s)}
    interval = float(cfg.decision_interval_s)
    frame = samples(catalogue, sorted(test), interval, interval, cfg.warmup_s, test)
    frame["p_up"] = model.prob_up(frame[list(orderflow.FEATURE_NAMES)].to_numpy())
    frame["regime"] = [
        thresholds.label_times(catalogue, d, np.array([t]))[0] for d, t in zip(frame["day"], frame["t_ns"], strict=True)
    ]
    return results, frame[["day", "t_ns", "move_bps", "p_up", "regime"]]


def date_folds(catalogue: MarketCatalogue, min_train: int) -> list[tuple[MarketCatalogue, int]]:
    """The walk-forward folds ``(catalogue of days 0..end-1 with the last date's sessions as its test
    split, index k of the first of them)``, one per date from day ``min_train`` on: a date's sessions
    (several symbols) are tested together and never trained on, since their markets move together."""
    if not 1 <= min_train < len(catalogue):
        raise ValueError(f"min_train = {min_train}: allowed 1 .. {len(catalogue) - 1} ({len(catalogue)} days)")
    dates = [catalogue.date(i) for i in range(len(catalogue))]
    starts = [k for k in range(len(dates)) if k == 0 or dates[k] != dates[k - 1]]
    folds = []
    for k, end in zip(starts, [*starts[1:], len(dates)], strict=True):
        if k >= min_train:
            name = f"{catalogue.name}[0..{end - 1}]"
            sub = MarketCatalogue(
                catalogue.days[:end], n_test=end - k, name=name, sim_defaults=dict(catalogue.sim_defaults)
            )
            folds.append((sub, k))
    return folds


def walk_forward_backtest(
    catalogue: MarketCatalogue, config: Any, specs: list[str], min_train: int, episodes_per_day: int,
    seed: int = 0, side: str = "random", adaptive: dict[str, float] | None = None,
    test_share: float = 0.0, purge_s: float = 0.0, progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Every fold of the walk-forward (or the single intraday fold with ``test_share > 0``);
    pooled results with globally unique episode ids and the catalogue's day indices."""
    adaptive = adaptive or {}
    folds: list[tuple[MarketCatalogue, int]] = []
    if test_share > 0:
        folds.append((replace(catalogue, n_test=0, _cache=type(catalogue._cache)()), 0))
    else:
        folds = date_folds(catalogue, min_train)
    all_results, all_samples = [], []
    offset = 0
    for sub, k in folds:
        t0 = time.perf_counter()
        n_episodes = episodes_per_day * max(sub.n_test, 1)
        res, smp = run_fold(sub, config, specs, n_episodes, seed + k, side, adaptive, test_share, purge_s)
        res["episode"] += offset
        offset = int(res["episode"].max()) + 1
        res["fold"] = k
        smp["fold"] = k
        all_results.append(res)
        all_samples.append(smp)
        if progress:
            print(f"fold {k}: {res.episode.nunique()} episodes, {len(smp)} predictor samples "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    return pd.concat(all_results, ignore_index=True), pd.concat(all_samples, ignore_index=True)


def predictor_tables(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy, AUC, calibration error, ... pooled and per regime."""
    rows = [{"regime": "all", **classification_metrics(frame["p_up"], frame["move_bps"])}]
    for regime, sub in frame.groupby("regime"):
        rows.append({"regime": regime, **classification_metrics(sub["p_up"], sub["move_bps"])})
    return pd.DataFrame(rows)


def by_regime(results: pd.DataFrame, baseline: str, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Paired summaries against ``baseline`` per regime (day-clustered intervals where a regime
    spans several days)."""
    out = {}
    for regime, sub in results.groupby("regime"):
        out[str(regime)] = summarize(
            sub, metric="shortfall_bps", baseline=baseline, seed=seed, cluster_col=cluster_column(sub)
        )
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m exec_env.walkforward", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--data", default="synthetic", help="'synthetic' or a file, folder or glob of market data")
    p.add_argument("--format", default="auto", help="format of --data files")
    p.add_argument("--days", type=int, default=24, help="synthetic market: days generated")
    p.add_argument("--min-train", type=int, default=8, help="days in the first training window")
    p.add_argument("--test-share", type=float, default=0.0, help="one intraday fold: last share of each session tests")
    p.add_argument("--purge-s", type=float, default=0.0, help="intraday fold: gap between train and test, seconds")
    p.add_argument("--episodes-per-day", type=int, default=12, help="episodes per test day (per fold)")
    p.add_argument("--policy", action="append", default=[], help="baseline spec, repeatable (default: all)")
    p.add_argument("--side", default="random", choices=["buy", "sell", "random", "both"], help="parent order side")
    p.add_argument("--quantity", type=float, default=5000.0, help="parent order size in units")
    p.add_argument("--horizon-s", type=float, default=600.0, help="execution horizon, seconds")
    p.add_argument("--decision-interval-s", type=float, default=10.0, help="seconds between decisions")
    p.add_argument("--warmup-s", type=float, default=300.0, help="earliest start after the session open, seconds")
    p.add_argument("--max-ahead", type=float, default=0.1, help="Adaptive: largest lead on the linear schedule")
    p.add_argument("--max-behind", type=float, default=0.1, help="Adaptive: largest lag behind the linear schedule")
    p.add_argument("--seed", type=int, default=0, help="seed of the episode sets and the bootstrap")
    p.add_argument("--out", default="wf_out", help="output folder")
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    from exec_env.baselines import DEFAULT_BASELINES
    from exec_env.config import ExecutionConfig
    from exec_env.evaluation import report

    t0 = time.perf_counter()
    if args.data == "synthetic":
        from exec_env.market.synthetic import synthetic_catalogue

        catalogue = synthetic_catalogue(n_days=args.days, n_test=0, seed=0)
    else:
        from exec_env.market.sources import load_market

        catalogue = load_market(args.data, format=args.format)
    config = ExecutionConfig(market=catalogue, quantity=args.quantity, horizon_s=args.horizon_s,
                             decision_interval_s=args.decision_interval_s, warmup_s=args.warmup_s,
                             side="random" if args.side == "both" else args.side)  # fmt: skip
    specs = args.policy or list(DEFAULT_BASELINES)
    results, smp = walk_forward_backtest(
        catalogue, config, specs, args.min_train, args.episodes_per_day, args.seed, args.side,
        {"max_ahead": args.max_ahead, "max_behind": args.max_behind}, args.test_share, args.purge_s, progress=True,
    )  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pred = predictor_tables(smp)
    lines = ["Predictor (sign of the mid move over one decision interval), out of sample:",
             pred.to_string(index=False, float_format=lambda x: f"{x:.4f}"), ""]  # fmt: skip
    summaries = {}
    for baseline in ("TWAP", None):
        summary, text = report(results, baseline=baseline, baselines=specs, learned=["Adaptive"], seed=args.seed,
                               out_dir=out / f"vs_{baseline or 'best'}")  # fmt: skip
        name = summary.attrs.get("baseline", baseline)
        summaries[str(name)] = summary
        lines += [f"Pooled, against {name}:", text, ""]
        for regime, table in by_regime(results, str(name), args.seed).items():
            n = int(results[results.regime == regime].episode.nunique())
            lines += [f"Regime {regime} ({n} episodes), against {name}:", format_table(table), ""]
    text = "\n".join(lines)
    results.to_csv(out / "wf_episodes.csv", index=False)
    smp.to_csv(out / "wf_predictions.csv", index=False)
    pred.to_csv(out / "wf_predictor_metrics.csv", index=False)
    (out / "wf_report.txt").write_text(text + "\n")
    (out / "wf_args.json").write_text(json.dumps(vars(args), indent=1))
    print(text)
    print(f"outputs in {out} ({time.perf_counter() - t0:.0f} s)")
    return {"results": results, "samples": smp, "predictor": pred, "summaries": summaries, "text": text}


if __name__ == "__main__":
    main()

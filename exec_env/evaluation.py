"""Run any set of policies on identical episodes and compare them with paired statistics.

Episodes are drawn once (day, start, side, size) from the *test* data and every policy is run on
that same list through its own environment built from the same configuration, so differences
between policies are paired: the replayed market path is common (``market_hash`` in the results
proves it) and cancels out of the comparison.

By default episodes on one day do not overlap in time; when they do (``overlap=True``, or buy
and sell run on the same window with ``side="both"``) the report says so, and every comparison
carries a day-clustered interval beside the per-episode one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from exec_env.config import ExecutionConfig
from exec_env.env import DISCRETE_GRID, ExecutionEnv, draw_start, halt_free_starts
from exec_env.market import resolve_market
from exec_env.policy_context import MarketView, split_windows, start_range
from exec_env.stats import format_table, summarize

__all__ = [
    "EpisodeSpec",
    "Policy",
    "cluster_column",
    "episodes_frame",
    "evaluate",
    "intraday_split",
    "overlapping_episodes",
    "report",
    "sample_episodes",
    "verdict",
]

_NS = 1_000_000_000
_MS = 1_000_000
SIDE_CHOICES = ("buy", "sell", "random", "both")


class Policy(Protocol):
    """Anything with SB3's ``predict``: trained models and fixed baselines alike."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]: ...


@dataclass(frozen=True)
class EpisodeSpec:
    """One evaluation episode, pinned completely."""

    episode: int
    day: int
    start_ns: int
    side: int
    quantity: float

    def options(self) -> dict[str, Any]:
        return {"day": self.day, "start_ns": self.start_ns, "side": self.side, "quantity": self.quantity}


def intraday_split(config: ExecutionConfig) -> tuple[float, float]:
    """``(test_share, purge_s)`` of ``config`` (0, 0 when the config has no intraday split)."""
    return float(getattr(config, "test_share", 0.0)), float(getattr(config, "purge_s", 0.0))


def _eval_config(config: ExecutionConfig, split: str, test_share: float) -> ExecutionConfig:
    # an intraday split pins starts in the test part of every day: the env then serves all days
    return replace(config, split="all" if test_share > 0 else split, reward_baseline="none", compare_twap=False)


def sample_episodes(
    config: ExecutionConfig,
    n: int,
    seed: int = 0,
    split: str = "test",
    side: str | None = None,
    overlap: bool = False,
    test_share: float | None = None,
    purge_s: float | None = None,
) -> list[EpisodeSpec]:
    """Draw ``n`` episodes from ``split`` once, to be run by every policy.

    Days are drawn uniformly among the split's days that can hold another episode; starts are
    whole milliseconds where the environment allows them (after ``warmup_s``, the horizon inside
    the session), inside the split's part of the day for an intraday split. Without ``overlap``
    the episodes of one day never share market time (k windows are placed uniformly at random
    without intersecting: k sorted uniform draws in ``[lo, hi - (k-1) H]``, the i-th shifted by
    ``i H``); a request beyond that capacity is an error. With ``config.avoid_halts`` (the default)
    no episode meets a trading halt of its day: a day cut by halts is placed window by window.
    ``side`` (default: ``config.side``) is ``buy``, ``sell``, ``random``, or ``both``: every window
    is run as a buy and as a sell (so ``n`` must be even, and each pair shares its market time).
    """
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"n = {n!r} episodes; allowed: an integer >= 1")
    side = config.side if side is None else side
    if side not in SIDE_CHOICES:
        raise ValueError(f"side = {side!r}; allowed: one of {SIDE_CHOICES}")
    if side == "both" and n % 2:
        raise ValueError(f"n = {n} episodes with side='both' (a buy and a sell per window); allowed: an even n")
    ts_default, ps_default = intraday_split(config)
    test_share = ts_default if test_share is None else test_share
    purge_s = ps_default if purge_s is None else purge_s
    catalogue = resolve_market(config.market)
    horizon_ns = config.n_steps * round(config.decision_interval_s * _NS)
    ranges: dict[int, np.ndarray] = {}  # per day, its allowed starts: closed windows of whole ms
    for i, lo_split, hi_split in split_windows(catalogue, split, test_share, purge_s):
        day = catalogue.day(i)
        lo, hi = start_range(day, horizon_ns, config.warmup_s)
        lo = max(lo, -(-lo_split // _MS) * _MS)
        hi = min(hi, ((hi_split - horizon_ns) // _MS) * _MS)
        windows = halt_free_starts(lo, hi, day.halts if config.avoid_halts else None, horizon_ns)
        if len(windows):
            ranges[i] = windows
    if not ranges:
        raise ValueError(
            f"the {split!r} split of {catalogue.name} has no room for a {config.horizon_s} s episode "
            f"(warmup_s {config.warmup_s}, test_share {test_share}, purge_s {purge_s})"
        )
    windows = n // 2 if side == "both" else n
    days = sorted(ranges)
    capacity = {d: int(((ranges[d][:, 1] - ranges[d][:, 0]) // horizon_ns + 1).sum()) for d in days}
    if not overlap and windows > sum(capacity.values()):
        raise ValueError(
            f"{windows} non-overlapping {config.horizon_s} s windows do not fit in the {split!r} split of "
            f"{catalogue.name} (room for {sum(capacity.values())} on {len(days)} days): ask for fewer episodes, "
            "or allow overlapping episodes (overlap=True, --overlap: the report then clusters by day)"
        )
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    left = dict(capacity)
    for _ in range(windows):
        open_days = [d for d in days if overlap or left[d] > 0]
        d = open_days[int(rng.integers(len(open_days)))]
        left[d] -= 1
        chosen.append(d)
    starts: dict[int, list[int]] = {}
    for d in days:
        k = chosen.count(d)
        if k == 0:
            continue
        windows = ranges[d]
        if len(windows) == 1:
            s = _place(rng, windows[0], k, horizon_ns, overlap)
        elif overlap:
            s = np.array([draw_start(rng, windows) for _ in range(k)], dtype=np.int64)
        else:  # the day's windows are apart (a halt between): share the k episodes out, then place
            left = (windows[:, 1] - windows[:, 0]) // horizon_ns + 1
            per = np.zeros(len(windows), dtype=np.int64)
            for _ in range(k):
                w = int(rng.choice(len(windows), p=left / left.sum()))
                left[w] -= 1
                per[w] += 1
            s = np.concatenate([_place(rng, windows[w], int(per[w]), horizon_ns, False) for w in np.flatnonzero(per)])
        starts[d] = [int(x) for x in rng.permutation(s)]
    specs: list[EpisodeSpec] = []
    for d in chosen:
        start = starts[d].pop()
        if side == "both":
            for s_ in (1, -1):
                specs.append(EpisodeSpec(len(specs), d, start, s_, float(config.quantity)))
        else:
            s_ = {"buy": 1, "sell": -1}.get(side) or (1 if rng.integers(2) == 0 else -1)
            specs.append(EpisodeSpec(len(specs), d, start, s_, float(config.quantity)))
    return specs


def _place(rng: np.random.Generator, window: np.ndarray, k: int, horizon_ns: int, overlap: bool) -> np.ndarray:
    """``k`` starts in one window ``[lo, hi]``: uniform, or (``overlap=False``) k sorted uniform draws
    in ``[lo, hi - (k-1) H]``, the i-th shifted by ``i H``, so that no two episodes share market time."""
    lo, hi = int(window[0]), int(window[1])
    if overlap:
        return rng.integers(lo // _MS, hi // _MS + 1, size=k) * _MS
    room = (hi - (k - 1) * horizon_ns) // _MS
    return np.sort(rng.integers(lo // _MS, room + 1, size=k)) * _MS + np.arange(k) * horizon_ns


def overlapping_episodes(episodes: Sequence[EpisodeSpec], horizon_s: float) -> int:
    """How many episodes share market time with another episode of the same day."""
    h = round(horizon_s * _NS)
    by_day: dict[int, list[int]] = {}
    for e in episodes:
        by_day.setdefault(e.day, []).append(e.start_ns)
    count = 0
    for starts in by_day.values():
        s = np.sort(np.asarray(starts, dtype=np.int64))
        close = np.diff(s) < h
        flagged = np.zeros(s.size, dtype=bool)
        flagged[:-1] |= close
        flagged[1:] |= close
        count += int(flagged.sum())
    return count


def _market_hash(env: ExecutionEnv, start_ns: int, end_ns: int) -> str:
    """Digest of the replayed market (book rows and trades) an episode spans, before impact."""
    d = env._episode.data
    r0 = max(int(np.searchsorted(d.ts, start_ns, side="right")) - 1, 0)
    r1 = int(np.searchsorted(d.ts, end_ns, side="right"))
    k0, k1 = np.searchsorted(d.trade_ts, [start_ns, end_ns], side="right")
    h = hashlib.blake2b(digest_size=12)
    for arr in (d.ts[r0:r1], d.bid_px[r0:r1], d.bid_sz[r0:r1], d.ask_px[r0:r1], d.ask_sz[r0:r1]):
        h.update(np.ascontiguousarray(arr).tobytes())
    for arr in (d.trade_ts[k0:k1], d.trade_px[k0:k1], d.trade_sz[k0:k1], d.trade_side[k0:k1]):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _fills_by_step(fills: np.ndarray, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Filled quantity and notional per decision step, from the fill records' ``step`` column."""
    qty = np.asarray(fills["qty"], dtype=np.float64)
    step = np.asarray(fills["step"], dtype=np.int64)
    qty_by = np.bincount(step, weights=qty, minlength=n_steps)
    notional_by = np.bincount(step, weights=np.asarray(fills["px"], dtype=np.float64) * qty, minlength=n_steps)
    return qty_by, notional_by


def evaluate(
    policies: Mapping[str, Policy],
    config: ExecutionConfig,
    episodes: Sequence[EpisodeSpec],
    split: str = "test",
    deterministic: bool = True,
    child_orders: list[dict[str, Any]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run every policy on every episode; one row per (policy, episode) with its metrics.

    Policies with a ``bind`` method (fixed policies that read market data) are bound to a
    :class:`MarketView` of their env. With ``child_orders`` (a list), one dict per decision is
    appended to it: policy, episode, step, time_ns, target_qty (executed + child), child_qty,
    limit_px, filled, fill_px, executed (after the step; the last step includes the forced
    liquidation). ``progress(k)`` is called after each episode. Rows also carry the touches at
    arrival and ``price_vs_arrival_far``: ``side * (average price - arrival far touch)`` (a buy's
    mean execution price minus the arrival ask), and ``market_hash``, a digest of the replayed
    market the episode spans (identical for every policy on one episode).
    """
    rows: list[dict[str, Any]] = []
    test_share, _ = intraday_split(config)
    cfg = _eval_config(config, split, test_share)
    discrete = cfg.action_mode == "discrete"
    for name, policy in policies.items():
        env = ExecutionEnv(cfg)
        view = MarketView(env)
        if hasattr(policy, "bind"):
            policy.bind(view)
        for spec in episodes:
            obs, _ = env.reset(options=spec.options())
            arrival_bid, arrival_ask = view.touch()
            state = None
            start = np.ones((1,), dtype=bool)
            ret = 0.0
            steps = 0
            decisions = []
            while True:
                action, state = policy.predict(obs, state=state, episode_start=start, deterministic=deterministic)
                start = np.zeros((1,), dtype=bool)
                if child_orders is not None:
                    a = np.asarray(action).reshape(-1)
                    pace, aggr = (DISCRETE_GRID[int(a[0])], DISCRETE_GRID[int(a[1])]) if discrete else (a[0], a[1])
                    qty, limit = view.child_order(float(pace), float(aggr))
                    decisions.append((view.now, view.executed + qty, qty, limit))
                obs, reward, terminated, truncated, info = env.step(action)
                if child_orders is not None:
                    decisions[-1] += (info["executed"],)
                ret += reward
                steps += 1
                if terminated or truncated:
                    break
            metrics = info["execution"]
            row = {"policy": name, "episode": spec.episode, "return": ret, "steps": steps}
            row.update({k: (math.nan if v is None else v) for k, v in metrics.items()})
            row["date"] = env.catalogue.date(spec.day)
            row["arrival_bid"], row["arrival_ask"] = arrival_bid, arrival_ask
            far = arrival_ask if spec.side > 0 else arrival_bid
            row["price_vs_arrival_far"] = spec.side * (row["avg_price"] - far)
            row["market_hash"] = _market_hash(env, spec.start_ns, int(metrics["end_ns"]))
            rows.append(row)
            if child_orders is not None:
                qty_by, notional_by = _fills_by_step(env.unwrapped.fill_records(), len(decisions))
                for j, (t, target, qty, limit, executed) in enumerate(decisions):
                    filled = float(qty_by[j])
                    child_orders.append({
                        "policy": name, "episode": spec.episode, "step": j, "time_ns": t, "target_qty": target,
                        "child_qty": qty, "limit_px": limit, "filled": filled,
                        "fill_px": float(notional_by[j]) / filled if filled > 0 else math.nan, "executed": executed,
                    })  # fmt: skip
            if progress is not None:
                progress(1)
    return pd.DataFrame(rows)


def cluster_column(results: pd.DataFrame) -> str:
    """The column of :func:`evaluate`'s rows that groups episodes into independent units: the
    session's date (days of several symbols on one date are one unit), or the day index for rows
    made without dates."""
    return "date" if "date" in results.columns else "day"


def best_baseline(results: pd.DataFrame, baselines: Sequence[str], metric: str = "shortfall_bps") -> str:
    """The baseline with the lowest mean ``metric``; of equal ones the first in ``baselines`` (so
    BestConstant, listed last, is named only when its action beats the named rules it may equal)."""
    present = [b for b in baselines if b in set(results["policy"])]
    if not present:
        raise ValueError(f"none of the baselines {list(baselines)} is in the results")
    means = results[results["policy"].isin(present)].groupby("policy")[metric].mean()
    return min(present, key=lambda b: means[b])  # min keeps the first of equal keys


def verdict(row: Mapping[str, Any], baseline: str, confidence: float = 0.95) -> str:
    """One line judging ``row`` (a summary row) against ``baseline``: it *beats* (or *loses to*)
    the baseline only if the per-episode and the day-clustered intervals both exclude zero."""
    lows = [row["ci_low"], row.get("day_ci_low", row["ci_low"])]
    highs = [row["ci_high"], row.get("day_ci_high", row["ci_high"])]
    if any(math.isnan(v) for v in (*lows, *highs)):
        word = "cannot be judged against"
    elif max(highs) < 0:
        word = "beats"
    elif min(lows) > 0:
        word = "loses to"
    else:
        word = "is not distinguishable from"
    pct = f"{100 * confidence:g}%"
    text = (
        f"{row['policy']} {word} the best baseline {baseline}: mean difference {row['mean_diff']:+.2f} bps, "
        f"{pct} CI [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}] over {int(row['n'])} episodes"
    )
    if "day_ci_low" in row and math.isnan(row["day_ci_low"]):
        text += f"; {int(row['n_days'])} independent day(s): too few for a day-clustered interval"
    elif "day_ci_low" in row:
        text += (
            f", day-clustered {pct} CI [{row['day_ci_low']:+.2f}, {row['day_ci_high']:+.2f}] "
            f"over {int(row['n_days'])} independent days"
        )
    return text


def seed_summary(results: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Several trained models of one kind: per group, the mean shortfall of each member (seed),
    the mean across seeds and its spread (sample std across seeds, ddof=1)."""
    means = results.groupby("policy")["shortfall_bps"].mean()
    rows = []
    for group, members in groups.items():
        vals = np.array([means[m] for m in members])
        rows.append({
            "group": group, "n_seeds": len(members), "seed_means": [round(float(v), 4) for v in vals],
            "mean_across_seeds": float(vals.mean()),
            "std_across_seeds": float(vals.std(ddof=1)) if len(vals) > 1 else math.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)


def report(
    results: pd.DataFrame,
    baseline: str | None = "TWAP",
    out_dir: str | Path | None = None,
    seed: int = 0,
    baselines: Sequence[str] | None = None,
    learned: Sequence[str] = (),
    episodes: Sequence[EpisodeSpec] | None = None,
    horizon_s: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Summarize per policy against ``baseline`` (paired, with day-clustered intervals);
    optionally write CSV/JSON to ``out_dir``.

    ``baseline=None`` compares with the best of ``baselines`` (lowest mean shortfall). Each
    policy in ``learned`` gets a verdict line against it. With ``episodes`` and ``horizon_s`` the
    text says how many episodes share market time with another. Returns the summary frame and
    the printable text (table, notes, verdicts).
    """
    if baselines is None:
        baselines = [p for p in pd.unique(results["policy"]) if p not in set(learned)]
    if baseline is None:
        baseline = best_baseline(results, baselines)
    cluster = cluster_column(results)
    summary = summarize(results, metric="shortfall_bps", baseline=baseline, seed=seed, cluster_col=cluster)
    agg = results.groupby("policy", sort=False).agg(
        fill_rate=("fill_rate", "mean"),
        maker_fraction=("maker_fraction", "mean"),
        vwap_slippage_bps=("vwap_slippage_bps", "mean"),
        fees_bps=("fees_bps", "mean"),
        n_child_orders=("n_child_orders", "mean"),
    )
    attrs = dict(summary.attrs)
    summary = summary.join(agg, on="policy")
    summary.attrs.update(attrs)
    lines = [format_table(summary)]
    n_days = int(results[cluster].nunique())
    notes = [f"{int(results['episode'].nunique())} episodes on {n_days} independent day(s)"]
    if results["day"].nunique() > n_days:  # e.g. two symbols' sessions of one date
        notes.append(
            f"{int(results['day'].nunique())} market days on {n_days} dates: the days of one date count as one "
            "(their markets move together)"
        )
    n_overlap = overlapping_episodes(episodes, horizon_s) if episodes is not None and horizon_s else 0
    if n_overlap:
        notes.append(
            f"{n_overlap} episodes share market time with another episode of the same day (not independent): "
            "judge by the day-clustered interval"
        )
    if n_days < 2:
        notes.append("one day only: no day-clustered interval; the per-episode interval overstates the evidence")
    lines.append("; ".join(notes))
    verdicts = []
    by_policy = summary.set_index("policy", drop=False)
    for name in learned:
        if name in by_policy.index:
            verdicts.append(verdict(by_policy.loc[name].to_dict(), baseline))
    lines.extend(verdicts)
    text = "\n".join(lines)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        results.to_csv(out / "eval_episodes.csv", index=False)
        summary.to_csv(out / "eval_summary.csv", index=False)
        payload = {
            "metric": "shortfall_bps",
            "baseline": baseline,
            "n_episodes": int(results["episode"].nunique()),
            "n_days": n_days,
            "overlapping_episodes": n_overlap,
            "verdicts": verdicts,
            "summary": [
                {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                for row in json.loads(summary.to_json(orient="records"))
            ],
            **(dict(extra) if extra else {}),
        }
        (out / "eval_summary.json").write_text(json.dumps(payload, indent=2, default=str))
        (out / "eval_table.txt").write_text(text + "\n")
    return summary, text


def episodes_frame(episodes: Sequence[EpisodeSpec]) -> pd.DataFrame:
    return pd.DataFrame([asdict(e) for e in episodes])

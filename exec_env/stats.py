"""Paired statistics for comparing execution policies evaluated on the *same* episodes.

Every policy is run on an identical set of episodes (same seeds, same market paths), so the
natural unit of comparison is the per-episode difference ``policy - baseline`` of a cost metric
such as implementation shortfall in bps. Lower is better, so a *negative* mean difference means
the policy is cheaper than the baseline.

:func:`paired_comparison` compares two aligned arrays; :func:`summarize` turns a long results
frame (one row per policy x episode) into one row per policy with the paired statistics against a
baseline; :func:`format_table` renders that summary for a terminal.

Conventions for degenerate samples (all differences identical, so the sample std is zero): the
t-interval collapses to the mean, ``t_stat`` is ``0`` with ``p_value = 1`` when the common
difference is zero, and ``+-inf`` with ``p_value = 0`` otherwise. ``wilcoxon_p`` is NaN when every
difference is zero (the signed-rank test has nothing to rank).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats as sps

__all__ = [
    "CLUSTER_COLUMNS",
    "PAIRED_COLUMNS",
    "SUMMARY_COLUMNS",
    "ClusteredInterval",
    "PairedComparison",
    "clustered_interval",
    "format_table",
    "paired_comparison",
    "summarize",
]

#: Columns of :func:`summarize` that compare a policy with the baseline (NaN on the baseline row).
PAIRED_COLUMNS: tuple[str, ...] = (
    "mean_diff",
    "ci_low",
    "ci_high",
    "boot_low",
    "boot_high",
    "p_value",
    "wilcoxon_p",
    "win_rate",
    "gain_loss_ratio",
)

#: All columns of the frame returned by :func:`summarize`, in order.
SUMMARY_COLUMNS: tuple[str, ...] = ("policy", "n", "mean", "std", *PAIRED_COLUMNS)

#: Columns :func:`summarize` adds with ``cluster_col`` (day-clustered inference; NaN on the baseline).
CLUSTER_COLUMNS: tuple[str, ...] = ("n_days", "day_ci_low", "day_ci_high", "day_p_value")

_MIN_BOOT = 100
# Upper bound on the number of resampled indices held in memory at once by the bootstrap.
_BOOT_CHUNK_ELEMENTS = 1 << 21
_MAX_LISTED = 10


@dataclass(frozen=True)
class PairedComparison:
    """Paired comparison of ``policy`` against ``baseline`` on identical episodes.

    All differences are ``policy - baseline``; with a cost metric, negative means the policy is
    cheaper.

    Attributes:
        policy: Name of the evaluated policy.
        baseline: Name of the reference policy.
        n: Number of paired episodes.
        mean_diff: Mean of the per-episode differences.
        std_diff: Sample standard deviation (``ddof=1``) of the differences.
        ci_low: Lower end of the t-interval for the mean difference.
        ci_high: Upper end of the t-interval for the mean difference.
        boot_low: Lower end of the percentile-bootstrap interval for the mean difference.
        boot_high: Upper end of the percentile-bootstrap interval for the mean difference.
        t_stat: Paired t statistic ``mean_diff / (std_diff / sqrt(n))``.
        p_value: Two-sided p-value of the paired t-test.
        wilcoxon_p: Two-sided p-value of the Wilcoxon signed-rank test (NaN if all differences
            are zero).
        win_rate: Fraction of episodes where the policy is strictly cheaper than the baseline.
        gain_loss_ratio: Sum of gains over sum of losses, where a gain is ``baseline - policy > 0``
            and a loss is ``policy - baseline > 0``; ``inf`` if there are gains but no losses,
            NaN if there are neither.
    """

    policy: str
    baseline: str
    n: int
    mean_diff: float
    std_diff: float
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float
    t_stat: float
    p_value: float
    wilcoxon_p: float
    win_rate: float
    gain_loss_ratio: float


def _as_sample(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """Convert ``values`` to a finite 1-D float array, raising ``ValueError`` naming ``name``."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D sequence of real numbers: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        shown = ", ".join(f"[{i}]={float(arr[i])!r}" for i in bad[:_MAX_LISTED])
        raise ValueError(f"{name} must be finite; non-finite values at {shown} ({bad.size} in total)")
    return arr


def _validate_options(confidence: float, n_boot: int, seed: int) -> None:
    """Check the tuning arguments of :func:`paired_comparison`."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.integer, np.floating)):
        raise ValueError(f"confidence must be a number in the open interval (0, 1), got {confidence!r}")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in the open interval (0, 1), got {confidence!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)):
        raise ValueError(f"n_boot must be an integer >= {_MIN_BOOT}, got {n_boot!r}")
    if n_boot < _MIN_BOOT:
        raise ValueError(f"n_boot must be an integer >= {_MIN_BOOT}, got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _bootstrap_means(diff: npt.NDArray[np.float64], n_boot: int, seed: int) -> npt.NDArray[np.float64]:
    """Means of ``n_boot`` resamples (with replacement) of ``diff``, drawn from ``default_rng(seed)``.

    Resamples are generated in chunks so memory stays bounded for many episodes; the chunking
    depends only on ``len(diff)``, so the result is a deterministic function of the inputs.
    """
    n = diff.size
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOT_CHUNK_ELEMENTS // n)
    means = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    return means


def _wilcoxon_p(diff: npt.NDArray[np.float64]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``diff`` (scipy defaults); NaN if all zero."""
    if not np.any(diff != 0.0):
        return math.nan
    with warnings.catch_warnings():
        # scipy warns about ties/zeros when it falls back to the normal approximation.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        p = float(sps.wilcoxon(diff).pvalue)
    return min(max(p, 0.0), 1.0) if math.isfinite(p) else math.nan


def paired_comparison(
    policy_values: npt.ArrayLike,
    baseline_values: npt.ArrayLike,
    policy: str,
    baseline: str,
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Compare a policy with a baseline on the same episodes (paired samples).

    Args:
        policy_values: Metric of the policy, one value per episode.
        baseline_values: Metric of the baseline on the *same* episodes, in the same order.
        policy: Name of the policy (carried into the result).
        baseline: Name of the baseline (carried into the result).
        confidence: Coverage of the t- and bootstrap intervals, in the open interval (0, 1).
        n_boot: Number of bootstrap resamples (>= 100).
        seed: Seed of the bootstrap's ``numpy.random.default_rng`` (non-negative integer).

    Returns:
        The :class:`PairedComparison` of ``policy - baseline``.

    Raises:
        ValueError: If the inputs differ in length, have fewer than 2 episodes, contain
            non-finite values (or their differences overflow), or an option is out of range.
    """
    _validate_options(confidence, n_boot, seed)
    x = _as_sample(policy_values, "policy_values")
    y = _as_sample(baseline_values, "baseline_values")
    if x.size != y.size:
        raise ValueError(
            f"policy_values and baseline_values must have the same length (one value per shared "
            f"episode), got {x.size} and {y.size}"
        )
    n = int(x.size)
    if n < 2:
        raise ValueError(f"policy_values must hold at least 2 episodes (allowed range: n >= 2), got n={n}")
    with np.errstate(over="ignore", invalid="ignore"):
        diff = x - y
    if not np.all(np.isfinite(diff)):
        raise ValueError("policy_values - baseline_values overflows; the values are too large to compare")

    mean = float(np.mean(diff))
    std = float(np.std(diff, ddof=1))
    se = std / math.sqrt(n)
    alpha = 1.0 - float(confidence)
    df = n - 1

    if se > 0.0:
        half = float(sps.t.ppf(1.0 - alpha / 2.0, df)) * se
        t_stat = mean / se
        p_value = float(min(1.0, 2.0 * sps.t.sf(abs(t_stat), df)))
    else:  # all differences identical
        half = 0.0
        t_stat = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p_value = 1.0 if mean == 0.0 else 0.0

    boot = _bootstrap_means(diff, int(n_boot), int(seed))
    boot_low, boot_high = (float(v) for v in np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0]))
    boot_high = max(boot_low, boot_high)

    gains = float(np.sum(-diff[diff < 0.0]))
    losses = float(np.sum(diff[diff > 0.0]))
    if losses > 0.0:
        gain_loss = gains / losses
    else:
        gain_loss = math.inf if gains > 0.0 else math.nan

    return PairedComparison(
        policy=policy,
        baseline=baseline,
        n=n,
        mean_diff=mean,
        std_diff=std,
        ci_low=mean - half,
        ci_high=mean + half,
        boot_low=boot_low,
        boot_high=boot_high,
        t_stat=float(t_stat),
        p_value=p_value,
        wilcoxon_p=_wilcoxon_p(diff),
        win_rate=float(np.mean(x < y)),
        gain_loss_ratio=gain_loss,
    )


@dataclass(frozen=True)
class ClusteredInterval:
    """Interval for a mean difference when episodes are grouped in clusters (days).

    Attributes:
        n_clusters: Number of clusters G (independent days).
        mean: Mean of the per-episode differences.
        se: Cluster-robust standard error ``sqrt(G / (G - 1) * sum_g (sum_{i in g} (d_i - mean))^2) / n``.
        low: Lower end ``mean - t_{G-1} se``.
        high: Upper end ``mean + t_{G-1} se``.
        p_value: Two-sided p-value of ``mean / se`` against Student's t with ``G - 1`` df.
    """

    n_clusters: int
    mean: float
    se: float
    low: float
    high: float
    p_value: float


def clustered_interval(diff: npt.ArrayLike, clusters: npt.ArrayLike, confidence: float = 0.95) -> ClusteredInterval:
    """Day-clustered t-interval for the mean of ``diff`` (CR1 sandwich variance, ``G - 1`` df).

    Episodes of one day share market conditions (and may share market time), so they are not
    independent; this interval treats days as the independent units. With equal cluster sizes it
    equals the one-sample t-interval of the cluster means. With one cluster the interval and the
    p-value are NaN.
    """
    _validate_options(confidence, _MIN_BOOT, 0)
    d = _as_sample(diff, "diff")
    g = np.asarray(clusters)
    if g.shape != d.shape:
        raise ValueError(f"clusters must have one label per difference: shapes {g.shape} and {d.shape}")
    labels, inverse = np.unique(g, return_inverse=True)
    n_g = labels.size
    mean = float(d.mean()) if d.size else math.nan
    if n_g < 2:
        return ClusteredInterval(n_g, mean, math.nan, math.nan, math.nan, math.nan)
    sums = np.bincount(inverse, weights=d - mean, minlength=n_g)
    se = math.sqrt(n_g / (n_g - 1) * float((sums * sums).sum())) / d.size
    if se == 0.0:
        p = 1.0 if mean == 0.0 else 0.0
        return ClusteredInterval(n_g, mean, 0.0, mean, mean, p)
    half = float(sps.t.ppf(0.5 + confidence / 2.0, n_g - 1)) * se
    p = float(min(1.0, 2.0 * sps.t.sf(abs(mean / se), n_g - 1)))
    return ClusteredInterval(n_g, mean, se, mean - half, mean + half, p)


def _plain(x: Any) -> Any:
    """Python scalar for a numpy scalar (so ``repr`` reads ``103``, not ``np.int64(103)``)."""
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    return x.item() if isinstance(x, np.generic) else x


def _list_ids(ids: Sequence[Any]) -> str:
    """Render at most ``_MAX_LISTED`` ids, noting how many there are in total."""
    shown = ", ".join(repr(_plain(i)) for i in ids[:_MAX_LISTED])
    more = f", ... ({len(ids)} in total)" if len(ids) > _MAX_LISTED else ""
    return f"[{shown}{more}]"


def _sorted_ids(ids: Any) -> list[Any]:
    """Episode ids sorted if they are mutually comparable, else in their given order."""
    items = list(ids)
    try:
        return sorted(items)
    except TypeError:
        return items


def summarize(
    results: pd.DataFrame,
    metric: str = "shortfall_bps",
    baseline: str = "TWAP",
    policy_col: str = "policy",
    episode_col: str = "episode",
    cluster_col: str | None = None,
    **kw: Any,
) -> pd.DataFrame:
    """Summarize a long results frame into one row per policy, paired against ``baseline``.

    Args:
        results: One row per (policy, episode) with at least ``policy_col``, ``episode_col`` and
            ``metric``; other columns are ignored.
        metric: Column to compare (lower is better).
        baseline: Policy every other policy is compared with.
        policy_col: Column naming the policy.
        episode_col: Column identifying the episode (must mean the same episode for every policy).
        cluster_col: Column grouping episodes into independent units (the day); adds the
            columns :data:`CLUSTER_COLUMNS` (a day-clustered interval, :func:`clustered_interval`).
        **kw: ``confidence``, ``n_boot`` and ``seed``, passed to :func:`paired_comparison`.

    Returns:
        A frame with columns :data:`SUMMARY_COLUMNS`, one row per policy in order of first
        appearance in ``results``. ``n``, ``mean`` and ``std`` (``ddof=1``) describe the policy's
        own metric; the paired columns compare it with ``baseline`` and are NaN on the baseline's
        row. Differences are taken over episodes in sorted order, so the result does not depend on
        the row order of ``results``. ``attrs`` records ``metric``, ``baseline`` and ``confidence``.

    Raises:
        ValueError: If a column is missing, the frame is empty, the baseline is absent, a
            (policy, episode) pair is duplicated, the metric is NaN/inf/non-numeric, episode ids
            are missing, policies were not evaluated on identical episode sets, or there are
            fewer than 2 episodes.
        TypeError: If ``results`` is not a DataFrame or ``kw`` holds an unknown keyword.
    """
    allowed_kw = {"confidence", "n_boot", "seed"}
    unknown = sorted(set(kw) - allowed_kw)
    if unknown:
        raise TypeError(f"summarize() got unexpected keyword argument(s) {unknown}; allowed: {sorted(allowed_kw)}")
    confidence = float(kw.get("confidence", 0.95))
    _validate_options(kw.get("confidence", 0.95), kw.get("n_boot", 10_000), kw.get("seed", 0))

    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    needed = (policy_col, episode_col, metric) + ((cluster_col,) if cluster_col else ())
    missing_cols = [c for c in needed if c not in results.columns]
    if missing_cols:
        raise ValueError(f"results lacks column(s) {missing_cols}; available: {list(results.columns)}")
    if results.empty:
        raise ValueError("results is empty: need one row per (policy, episode)")
    if results[policy_col].isna().any() or results[episode_col].isna().any():
        rows = results.index[results[policy_col].isna() | results[episode_col].isna()].tolist()
        raise ValueError(f"results has missing {policy_col!r}/{episode_col!r} values at rows {_list_ids(rows)}")

    policies: list[Hashable] = list(pd.unique(results[policy_col]))
    if baseline not in policies:
        raise ValueError(
            f"baseline policy {baseline!r} not found in results; policies present: {[_plain(p) for p in policies]}"
        )

    keys = results[[policy_col, episode_col]]
    dup_mask = keys.duplicated(keep=False)
    if dup_mask.any():
        dups = keys[dup_mask].drop_duplicates()
        pairs = [(p, e) for p, e in dups.itertuples(index=False, name=None)]
        raise ValueError(f"duplicate (policy, episode) rows in results: {_list_ids(pairs)}")

    try:
        values = pd.to_numeric(results[metric], errors="raise").astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metric column {metric!r} must be numeric: {exc}") from exc
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        pairs = [(p, e) for p, e in keys[bad].itertuples(index=False, name=None)]
        raise ValueError(f"metric {metric!r} is NaN or infinite for (policy, episode) {_list_ids(pairs)}")

    policy_arr = results[policy_col].to_numpy()
    episode_arr = results[episode_col].to_numpy()
    value_arr = values.to_numpy()
    by_policy: dict[Hashable, pd.Series] = {}
    for p in policies:
        mask = policy_arr == p
        by_policy[p] = pd.Series(value_arr[mask], index=pd.Index(episode_arr[mask]))
    episodes_by_policy = {p: set(ser.index) for p, ser in by_policy.items()}
    base_eps = episodes_by_policy[baseline]
    for p in policies:
        eps = episodes_by_policy[p]
        if eps != base_eps:
            lacking = _sorted_ids(base_eps - eps)
            extra = _sorted_ids(eps - base_eps)
            parts = []
            if lacking:
                parts.append(f"missing episodes {_list_ids(lacking)}")
            if extra:
                parts.append(f"extra episodes {_list_ids(extra)}")
            raise ValueError(
                f"policies were not evaluated on identical episode sets: policy {p!r} vs baseline "
                f"{baseline!r}: {'; '.join(parts)}"
            )
    episodes = _sorted_ids(base_eps)
    if len(episodes) < 2:
        raise ValueError(f"need at least 2 episodes per policy (allowed range: n >= 2), got {len(episodes)}")

    base_vals = by_policy[baseline].reindex(episodes).to_numpy(dtype=np.float64)
    if cluster_col:
        cluster_of = results[results[policy_col] == baseline].set_index(episode_col)[cluster_col]
        cluster_labels = cluster_of.reindex(episodes).to_numpy()
    rows: list[dict[str, Any]] = []
    for p in policies:
        vals = by_policy[p].reindex(episodes).to_numpy(dtype=np.float64)
        row: dict[str, Any] = {
            "policy": p,
            "n": len(episodes),
            "mean": float(np.mean(vals)),
            "std": float(np.std(vals, ddof=1)),
        }
        if p == baseline:
            row.update(dict.fromkeys(PAIRED_COLUMNS, math.nan))
        else:
            cmp = paired_comparison(vals, base_vals, policy=str(p), baseline=str(baseline), **kw)
            row.update({c: getattr(cmp, c) for c in PAIRED_COLUMNS})
        if cluster_col:
            row["n_days"] = int(np.unique(cluster_labels).size)
            if p == baseline:
                row.update(dict.fromkeys(CLUSTER_COLUMNS[1:], math.nan))
            else:
                ci = clustered_interval(vals - base_vals, cluster_labels, confidence)
                row.update({"day_ci_low": ci.low, "day_ci_high": ci.high, "day_p_value": ci.p_value})
        rows.append(row)

    columns = list(SUMMARY_COLUMNS) + (list(CLUSTER_COLUMNS) if cluster_col else [])
    out = pd.DataFrame(rows, columns=columns)
    out["n"] = out["n"].astype(np.int64)
    out.attrs.update({"metric": metric, "baseline": baseline, "confidence": confidence})
    return out


def _fmt_num(x: float, decimals: int = 2) -> str:
    """Fixed-point number, ``-`` for NaN."""
    return "-" if math.isnan(x) else f"{x:.{decimals}f}"


def _fmt_signed(x: float, decimals: int = 2) -> str:
    """Fixed-point number with an explicit sign, ``-`` for NaN."""
    return "-" if math.isnan(x) else f"{x:+.{decimals}f}"


def _fmt_p(p: float) -> str:
    """p-value as ``0.412`` (>= 0.001) or ``3.2e-05`` (< 0.001); ``-`` for NaN."""
    if math.isnan(p):
        return "-"
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def _fmt_pct(x: float) -> str:
    """Fraction as a percentage with one decimal, ``-`` for NaN."""
    return "-" if math.isnan(x) else f"{100.0 * x:.1f}%"


def _infer_baseline(summary: pd.DataFrame) -> str:
    """Baseline name from ``attrs``, else the only row whose paired columns are all NaN."""
    name = summary.attrs.get("baseline")
    if name is not None:
        return str(name)
    present = [c for c in PAIRED_COLUMNS if c in summary.columns]
    if present:
        mask = summary[present].isna().all(axis=1)
        if int(mask.sum()) == 1:
            return str(summary.loc[mask, "policy"].iloc[0])
    return "baseline"


def format_table(summary: pd.DataFrame, metric_label: str = "shortfall (bps)") -> str:
    """Render a :func:`summarize` frame as a fixed-width plain-text table.

    Columns: policy, n, mean, std, the mean difference ``vs <baseline>``, the confidence interval
    as ``[lo, hi]``, the paired t-test p-value and the win rate (and the day-clustered interval when
    the summary has one). Metric values are shown with two
    decimals (differences with an explicit sign), p-values as ``0.412`` when >= 0.001 and as
    ``3.2e-05`` below, win rates as percentages with one decimal (``62.5%``). Paired cells of the
    baseline row show ``-``. Policy names longer than 28 characters are shortened with ``..`` so
    typical tables fit in 100 columns.

    Args:
        summary: Output of :func:`summarize` (needs its columns; ``attrs`` supply the baseline's
            name and the confidence level when present).
        metric_label: Human-readable name of the metric, shown in the title line.

    Returns:
        The table as a string of lines joined by ``\\n`` (no trailing newline).

    Raises:
        ValueError: If ``summary`` lacks a required column.
    """
    needed = ["policy", "n", "mean", "std", "mean_diff", "ci_low", "ci_high", "p_value", "win_rate"]
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(f"summary lacks column(s) {missing}; pass the output of summarize()")
    baseline = _infer_baseline(summary)
    confidence = float(summary.attrs.get("confidence", 0.95))
    ci_label = f"{100.0 * confidence:g}% CI"
    max_name = 28

    def short(name: Any) -> str:
        s = str(name)
        return s if len(s) <= max_name else s[: max_name - 2] + ".."

    clustered = "day_ci_low" in summary.columns
    headers = ["policy", "n", "mean", "std", f"vs {short(baseline)}", ci_label, "p-value", "win"]
    if clustered:
        n_days = int(summary["n_days"].max()) if len(summary) else 0
        headers += [f"day {ci_label} ({n_days} days)"]
    body: list[list[str]] = []
    for r in summary.itertuples(index=False):
        lo, hi = float(r.ci_low), float(r.ci_high)
        ci = "-" if math.isnan(lo) or math.isnan(hi) else f"[{lo:+.2f}, {hi:+.2f}]"
        cells = [
            short(r.policy),
            str(int(r.n)),
            _fmt_num(float(r.mean)),
            _fmt_num(float(r.std)),
            _fmt_signed(float(r.mean_diff)),
            ci,
            _fmt_p(float(r.p_value)),
            _fmt_pct(float(r.win_rate)),
        ]
        if clustered:
            dlo, dhi = float(r.day_ci_low), float(r.day_ci_high)
            cells.append("-" if math.isnan(dlo) or math.isnan(dhi) else f"[{dlo:+.2f}, {dhi:+.2f}]")
        body.append(cells)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    title = f"{metric_label}: paired vs {baseline} (diff = policy - {baseline}; negative = cheaper)"
    rule = "-" * len(line(headers))
    return "\n".join([title, line(headers), rule, *(line(row) for row in body)])

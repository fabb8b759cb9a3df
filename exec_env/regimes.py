"""Market regimes by volatility and spread, with thresholds from training data only.

A time ``t`` of a day is described by two statistics of the window ``(t - 300 s, t]`` (data up to
``t`` only): the realised volatility of the mid (``rv_300`` of :mod:`exec_env.orderflow`, bps) and
the mean quoted spread over the window's book rows (ticks). :func:`fit_regimes` takes the median
of each over a grid of times on the training days; a time is then ``calm``/``volatile`` and
``tight``/``wide`` (above the median: ``volatile``, ``wide``), e.g. ``"volatile/tight"``. An
episode is labelled by the window that ends at its start, so the label is known when it begins.
A day is labelled by the medians of its own grid (for tables by day).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from exec_env import orderflow
from exec_env.orderflow import OrderflowArrays, row_at

__all__ = ["REGIMES", "RegimeThresholds", "fit_regimes", "label_episodes", "window_stats"]

REGIMES = ("calm/tight", "calm/wide", "volatile/tight", "volatile/wide")
_NS = 1_000_000_000
_RV = orderflow.FEATURE_NAMES.index("rv_300")
_SPREAD = orderflow.FEATURE_NAMES.index("spread_ticks")


def window_stats(day: Any, flow: OrderflowArrays, t_ns: np.ndarray, window_s: float = 300.0) -> np.ndarray:
    """``(n, 2)``: realised volatility (bps) and mean spread (ticks) over ``(t - window_s, t]``.

    The volatility is the ``rv_300`` feature (its window is 300 s whatever ``window_s``); the spread
    is averaged over the book rows stamped in the window (the row in force at ``t`` when none)."""
    ts = np.asarray(day.ts)
    t = np.asarray(t_ns, dtype=np.int64)
    f = np.asarray(flow.features)
    cum = np.concatenate(([0.0], np.cumsum(f[:, _SPREAD], dtype=np.float64)))
    hi = row_at(ts, t)  # last row <= t
    lo = np.searchsorted(ts, t - round(window_s * _NS), side="right")  # first row > t - w
    lo = np.minimum(lo, np.maximum(hi, 0))
    ok = hi >= 0
    h = np.maximum(hi, 0)
    spread = np.where(ok, (cum[h + 1] - cum[lo]) / (h + 1 - lo), np.nan)
    vol = np.where(ok, f[h, _RV], np.nan)
    return np.column_stack([vol, spread])


@dataclass(frozen=True)
class RegimeThresholds:
    """Medians of the window statistics on the training days."""

    vol_bps: float
    spread_ticks: float
    window_s: float = 300.0
    trained_days: tuple[int, ...] = ()

    def label(self, stats: np.ndarray) -> list[str]:
        stats = np.atleast_2d(stats)
        out = []
        for vol, spread in stats:
            v = "volatile" if vol > self.vol_bps else "calm"
            s = "wide" if spread > self.spread_ticks else "tight"
            out.append(f"{v}/{s}")
        return out

    def label_times(self, catalogue: Any, day: int, t_ns: np.ndarray) -> list[str]:
        flow = OrderflowArrays.for_catalogue_day(catalogue, day)
        return self.label(window_stats(catalogue.day(day), flow, t_ns, self.window_s))

    def label_day(self, catalogue: Any, day: int, warmup_s: float = 300.0, step_s: float = 60.0) -> str:
        return self.label(np.nanmedian(_grid_stats(catalogue, day, warmup_s, step_s, self.window_s), axis=0))[0]


def _grid_stats(catalogue: Any, day: int, warmup_s: float, step_s: float, window_s: float) -> np.ndarray:
    d = catalogue.day(day)
    lo = int(d.meta.session_open_ns) + round(warmup_s * _NS)
    hi = min(int(d.meta.session_close_ns), int(d.ts[-1]))
    t = np.arange(lo, hi + 1, round(step_s * _NS), dtype=np.int64)
    return window_stats(d, OrderflowArrays.for_catalogue_day(catalogue, day), t, window_s)


def fit_regimes(
    catalogue: Any, days: Sequence[int], warmup_s: float = 300.0, step_s: float = 60.0, window_s: float = 300.0
) -> RegimeThresholds:
    """Thresholds from ``days`` (pass training days only): medians over a ``step_s`` grid."""
    stats = np.vstack([_grid_stats(catalogue, d, warmup_s, step_s, window_s) for d in days])
    vol, spread = np.nanmedian(stats, axis=0)
    return RegimeThresholds(float(vol), float(spread), float(window_s), tuple(int(d) for d in days))


def label_episodes(thresholds: RegimeThresholds, catalogue: Any, episodes: Sequence[Any]) -> dict[int, str]:
    """``{episode: regime}`` from the window ending at each episode's start."""
    out: dict[int, str] = {}
    for e in episodes:
        out[e.episode] = thresholds.label_times(catalogue, e.day, np.array([e.start_ns]))[0]
    return out

"""VWAP: follow an intraday volume curve estimated on training days by time-of-day bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from exec_env.baselines.base import MarketPolicy
from exec_env.policy_context import split_windows

__all__ = ["VWAP", "VolumeCurve", "estimate_volume_curve"]

_NS = 1_000_000_000


@dataclass(frozen=True)
class VolumeCurve:
    """Share of a session's volume traded in each ``bucket_s`` bucket after the session open.

    The volume rate is constant inside a bucket, so the share traded between two times is
    ``C(b) - C(a)`` with ``C`` the piecewise-linear cumulative share.
    """

    bucket_s: float
    shares: np.ndarray

    def __post_init__(self) -> None:
        if not (self.bucket_s > 0):
            raise ValueError(f"VolumeCurve.bucket_s = {self.bucket_s!r} is invalid; allowed: > 0 seconds")
        shares = np.asarray(self.shares, dtype=np.float64)
        if shares.ndim != 1 or shares.size == 0 or (shares < 0).any() or not np.isfinite(shares).all():
            raise ValueError("VolumeCurve.shares must be a non-empty 1-D array of finite shares >= 0")

    def cumulative(self, seconds_after_open: np.ndarray | float) -> np.ndarray:
        edges = np.arange(self.shares.size + 1) * self.bucket_s
        cum = np.concatenate([[0.0], np.cumsum(self.shares)])
        return np.interp(seconds_after_open, edges, cum)


def estimate_volume_curve(
    catalogue: Any, bucket_s: float = 300.0, test_share: float = 0.0, purge_s: float = 0.0
) -> VolumeCurve:
    """Mean volume rate per time-of-day bucket over the *training* data of ``catalogue``.

    ``rate_b = sum of volume in bucket b / seconds of training data covering b`` (over days);
    buckets no training data covers (the test part of an intraday split) get the mean rate of
    the covered ones. ``shares = rate_b * len_b / sum``.
    """
    if not (bucket_s > 0):
        raise ValueError(f"VWAP bucket_s = {bucket_s!r} is invalid; allowed: > 0 seconds")
    windows = split_windows(catalogue, "train", test_share, purge_s)
    longest = max(
        int(catalogue.day(i).meta.session_close_ns - catalogue.day(i).meta.session_open_ns) for i, _, _ in windows
    )
    n = max(1, int(np.ceil(longest / (bucket_s * _NS))))
    volume = np.zeros(n)
    covered = np.zeros(n)
    edges = np.arange(n + 1) * bucket_s * _NS
    for i, lo, hi in windows:
        day = catalogue.day(i)
        open_ns = int(day.meta.session_open_ns)
        k0, k1 = np.searchsorted(day.trade_ts, [lo, hi], side="left")
        offsets = np.asarray(day.trade_ts[k0:k1], dtype=np.int64) - open_ns
        b = np.minimum(offsets // round(bucket_s * _NS), n - 1)
        np.add.at(volume, b, np.asarray(day.trade_sz[k0:k1], dtype=np.float64))
        covered += np.clip(np.minimum(edges[1:], hi - open_ns) - np.maximum(edges[:-1], lo - open_ns), 0, None)
    rate = np.divide(volume, covered, out=np.zeros(n), where=covered > 0)
    if (covered > 0).any():
        rate[covered == 0] = rate[covered > 0].mean()
    lengths = np.minimum(edges[1:], longest) - edges[:-1]
    shares = rate * lengths
    total = shares.sum()
    return VolumeCurve(bucket_s, shares / total if total > 0 else lengths / lengths.sum())


class VWAP(MarketPolicy):
    """Trade along the expected intraday volume profile.

    The executed fraction targeted by decision ``j`` (covering ``(t_j, t_{j+1}]``) is

        f_j = (C(t_{j+1}) - C(t_0)) / (C(T) - C(t_0))

    with ``C`` the cumulative volume share of :class:`VolumeCurve` (time of day since the session
    open), ``t_0`` the start and ``T`` the horizon. The curve comes from training days only
    (:meth:`from_catalogue`), never from the episode's own volume. A curve with no volume over
    the episode falls back to the linear (TWAP) schedule. Parameters: ``curve``;
    ``aggressiveness`` (+1: each slice crosses the spread, as TWAP).
    """

    name = "VWAP"

    def __init__(self, curve: VolumeCurve, aggressiveness: float = 1.0) -> None:
        super().__init__(aggressiveness)
        self.curve = curve
        self._fractions = np.zeros(0)

    @classmethod
    def from_catalogue(
        cls, catalogue: Any, bucket_s: float = 300.0, test_share: float = 0.0, purge_s: float = 0.0, **kw: Any
    ) -> VWAP:
        return cls(estimate_volume_curve(catalogue, bucket_s, test_share, purge_s), **kw)

    def start(self, view: Any) -> None:
        open_ns = view.session_open_ns
        times = view.start_ns + np.arange(view.n_steps + 1) * view.interval_ns
        cum = self.curve.cumulative((times - open_ns) / _NS)
        span = cum[-1] - cum[0]
        if span > 0:
            self._fractions = (cum[1:] - cum[0]) / span
        else:
            self._fractions = np.arange(1, view.n_steps + 1) / view.n_steps
        self._fractions[-1] = 1.0

    def target(self, view: Any) -> float:
        return float(self._fractions[view.step_index])

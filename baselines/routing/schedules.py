"""TWAP and VWAP schedules, each child order routed by the naive rule (one IOC on the best venue)."""

from __future__ import annotations

import math

import numpy as np

from exec_env.baselines.routing.base import RoutingPolicy, VenueView, naive_best
from exec_env.market.venues import VenueCatalogue

__all__ = ["TWAPRouted", "VWAPRouted", "volume_curve"]


def _naive(pace: float, view: VenueView) -> np.ndarray:
    a = -np.ones(1 + 2 * view.n_venues, dtype=np.float32)
    a[0] = pace
    a[1 + 2 * naive_best(view)] = 1.0
    return a


class TWAPRouted(RoutingPolicy):
    """Linear schedule (pace 0), the child order as one IOC on the best-priced venue."""

    name = "twap"

    def act(self, view: VenueView) -> np.ndarray:
        return _naive(0.0, view)


def volume_curve(catalogue: VenueCatalogue, split: str = "train", buckets: int = 78) -> np.ndarray:
    """Cumulative fraction of the session's volume (all venues) at ``buckets + 1`` equally spaced
    times from open to close, averaged over the ``split``'s days (training days: no look-ahead)."""
    if not (isinstance(buckets, int) and 1 <= buckets <= 10_000):
        raise ValueError(f"volume_curve: buckets = {buckets!r} is outside the allowed range 1..10000")
    curves = []
    for i in catalogue.indices(split):
        d = catalogue.day(i)
        t = d.trades()
        edges = np.linspace(d.meta.session_open_ns, d.meta.session_close_ns, buckets + 1)
        cum = np.concatenate([[0.0], np.cumsum(t["sz"])])[np.searchsorted(t["ts"], edges, side="right")]
        if cum[-1] > 0:
            curves.append(cum / cum[-1])
    if not curves:
        return np.linspace(0.0, 1.0, buckets + 1)
    return np.mean(curves, axis=0)


class VWAPRouted(RoutingPolicy):
    """Schedule along the training days' volume curve over the episode's window; each child
    order as one IOC on the best-priced venue. ``horizon_s``/``session_s`` locate the window
    (from the observation's ``session_elapsed`` and ``time_left``)."""

    name = "vwap"

    def __init__(self, curve: np.ndarray, horizon_s: float, n_steps: int, session_s: float) -> None:
        curve = np.asarray(curve, dtype=np.float64)
        if curve.ndim != 1 or curve.size < 2 or np.any(np.diff(curve) < 0):
            raise ValueError("VWAPRouted.curve must be a non-decreasing 1-D array of at least 2 values")
        self.curve, self.horizon_s, self.n_steps, self.session_s = curve, horizon_s, n_steps, session_s
        self._x = np.linspace(0.0, 1.0, curve.size)

    def act(self, view: VenueView) -> np.ndarray:
        n = self.n_steps
        j = int(round((1.0 - view.time_left) * n))
        h = self.horizon_s / self.session_s
        start = view.session_elapsed - j * h / n
        c = np.interp([start, start + (j + 1) * h / n, start + h], self._x, self.curve)
        e = (j + 1) / n
        f = (c[1] - c[0]) / (c[2] - c[0]) if c[2] > c[0] else e
        dev = (f - e) / (1.0 - e) if f >= e and e < 1 else (f / e - 1.0 if f < e else 0.0)
        pace = math.copysign(abs(dev) ** (1.0 / 3.0), dev)
        return _naive(float(np.clip(pace, -1.0, 1.0)), view)

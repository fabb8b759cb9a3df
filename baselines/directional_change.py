"""Directional change: trade a slice at every confirmed reversal of the mid by a threshold delta."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from exec_env.baselines.base import MarketPolicy
from exec_env.policy_context import split_windows

__all__ = ["DirectionalChange", "choose_delta", "dc_scan"]

_NS = 1_000_000_000
DELTA_GRID = tuple(float(x) for x in np.geomspace(1e-5, 1e-2, 31))
"""Thresholds tried by :func:`choose_delta` (0.1 to 100 bps)."""


@numba.njit(cache=True)
def dc_scan(mid: np.ndarray, delta: float, state: np.ndarray, events: np.ndarray) -> None:
    """Run the directional-change detector over ``mid``; ``state = [mode, high, low]`` is updated
    in place (mode 0 unknown, +1 up-trend, -1 down-trend); ``events[0]`` counts confirmed
    upturns (mid >= low * (1 + delta)), ``events[1]`` downturns (mid <= high * (1 - delta))."""
    mode, high, low = state[0], state[1], state[2]
    for p in mid:
        if mode == 0.0:
            high = max(high, p)
            low = min(low, p)
            if p <= high * (1.0 - delta):
                mode, low = -1.0, p
                events[1] += 1
            elif p >= low * (1.0 + delta):
                mode, high = 1.0, p
                events[0] += 1
        elif mode > 0.0:
            if p > high:
                high = p
            elif p <= high * (1.0 - delta):
                mode, low = -1.0, p
                events[1] += 1
        else:
            if p < low:
                low = p
            elif p >= low * (1.0 + delta):
                mode, high = 1.0, p
                events[0] += 1
    state[0], state[1], state[2] = mode, high, low


def _day_mids(day: Any, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    r0, r1 = np.searchsorted(day.ts, [lo, hi], side="left")
    ok = (day.bid_sz[r0:r1, 0] > 0) & (day.ask_sz[r0:r1, 0] > 0)
    mid = 0.5 * (day.bid_px[r0:r1, 0] + day.ask_px[r0:r1, 0])
    return np.asarray(day.ts[r0:r1])[ok], np.ascontiguousarray(mid[ok], dtype=np.float64)


def expected_events(
    catalogue: Any, delta: float, horizon_s: float, test_share: float = 0.0, purge_s: float = 0.0
) -> float:
    """Mean number of confirmed events *of one direction* (half of up + down) per horizon-long
    window, over consecutive windows of the training data."""
    counts = []
    h = round(horizon_s * _NS)
    for i, lo, hi in split_windows(catalogue, "train", test_share, purge_s):
        ts, mid = _day_mids(catalogue.day(i), lo, hi)
        for w0 in range(lo, hi - h + 1, h):
            a, b = np.searchsorted(ts, [w0, w0 + h], side="left")
            if b - a < 2:
                continue
            state = np.array([0.0, mid[a], mid[a]])
            events = np.zeros(2, dtype=np.int64)
            dc_scan(mid[a:b], delta, state, events)
            counts.append(0.5 * (events[0] + events[1]))
    return float(np.mean(counts)) if counts else 0.0


def choose_delta(
    catalogue: Any, horizon_s: float, n_slices: int, test_share: float = 0.0, purge_s: float = 0.0
) -> float:
    """The largest threshold of :data:`DELTA_GRID` whose expected number of events of one
    direction per horizon on the training data is at least ``n_slices`` (the smallest if none)."""
    for delta in reversed(DELTA_GRID):
        if expected_events(catalogue, delta, horizon_s, test_share, purge_s) >= n_slices:
            return delta
    return DELTA_GRID[0]


class DirectionalChange(MarketPolicy):
    """Buy a slice ``Q / n_slices`` at every confirmed *downturn* of the mid (sell at upturns).

    A directional-change event with threshold ``delta`` (a fraction of the price) is confirmed
    when the mid has moved ``delta`` against the last extreme: a downturn when
    ``mid <= high * (1 - delta)`` after an up-trend (or from the start), an upturn when
    ``mid >= low * (1 + delta)``. The detector starts at the arrival mid and reads every book row
    up to the decision time. The executed fraction targeted is ``min(1, events / n_slices)``; the
    last decision targets everything (catch-up at the horizon). :meth:`from_catalogue` chooses
    ``delta`` on training days so that the expected number of events covers the slices.
    Parameters: ``delta`` (> 0), ``n_slices`` (>= 1), ``aggressiveness``.
    """

    name = "DC"

    def __init__(self, delta: float, n_slices: int = 10, aggressiveness: float = 1.0) -> None:
        super().__init__(aggressiveness)
        if not (math.isfinite(delta) and 0.0 < delta < 1.0):
            raise ValueError(f"DC: delta={delta!r} is outside the allowed range (0, 1) (a fraction of the price)")
        if not (int(n_slices) == n_slices and n_slices >= 1):
            raise ValueError(f"DC: n_slices={n_slices!r} is outside the allowed range: an integer >= 1")
        self.delta = float(delta)
        self.n_slices = int(n_slices)
        self._state = np.zeros(3)
        self._events = np.zeros(2, dtype=np.int64)
        self._seen_ns = 0
        self._buy = True

    @classmethod
    def from_catalogue(
        cls,
        catalogue: Any,
        horizon_s: float,
        n_slices: int = 10,
        delta: float | None = None,
        test_share: float = 0.0,
        purge_s: float = 0.0,
        **kw: Any,
    ) -> DirectionalChange:
        if delta is None:
            delta = choose_delta(catalogue, horizon_s, n_slices, test_share, purge_s)
        return cls(delta, n_slices, **kw)

    def start(self, view: Any) -> None:
        bid, ask = view.touch()
        arrival = 0.5 * (bid + ask)
        self._state[:] = (0.0, arrival, arrival)
        self._events[:] = 0
        self._seen_ns = view.now

    def events(self) -> int:
        """Events of the trading direction so far (downturns for a buy)."""
        return int(self._events[1] if self._buy else self._events[0])

    def target(self, view: Any) -> float:
        self._buy = view.side > 0
        _, mid = view.mids(self._seen_ns)
        self._seen_ns = view.now
        if mid.size:
            dc_scan(np.ascontiguousarray(mid), self.delta, self._state, self._events)
        if view.step_index == view.n_steps - 1:
            return 1.0
        return min(1.0, self.events() / self.n_slices)

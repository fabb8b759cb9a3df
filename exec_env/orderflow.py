"""Order-flow features of the replayed market, one value per book row, computed in one compiled pass.

The feature row of book row ``i`` (stamped ``t = ts[i]``) uses book rows ``0..i`` and the trades
stamped ``<= t`` only: every window is ``(t - w, t]`` and is read from prefix sums, so a change
to the data after ``t`` leaves the row unchanged (tested by perturbation). Features are *not*
side-oriented (positive = pressure upward); a policy multiplies by its side. The formulas are in
``docs/orderflow.md``; the windows are fixed (:data:`WINDOWS_S`) and part of :data:`VERSION`.

Use :meth:`OrderflowArrays.for_day` with a saved day's directory to read/write the cache
(``orderflow_v<VERSION>_*.npy`` beside the day, memory-mapped afterwards), and
:func:`features_at` for the feature rows in force at arbitrary times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from exec_env.market.data import arrays_beside

__all__ = ["FEATURE_NAMES", "N_FEATURES", "VERSION", "WINDOWS_S", "OrderflowArrays", "features_at", "row_at"]

VERSION = 1
WINDOWS_S: tuple[int, int, int] = (10, 60, 300)
"""Look-back windows in seconds (short, medium, long)."""

FEATURE_NAMES: tuple[str, ...] = (
    "ofi_10",  # Cont-Kukanov-Stoikov order-flow imbalance over 10 s, in units of the mean best depth
    "ofi_60",  # same over 60 s
    "ofi_300",  # same over 300 s
    "qimb_1",  # (bid - ask) / (bid + ask) size at the best level
    "qimb_3",  # same over the best 3 levels
    "qimb_all",  # same over all levels
    "microprice_ticks",  # size-weighted microprice minus mid, in ticks
    "tfi_10",  # (buy - sell) / (buy + sell) aggressor volume over 10 s
    "tfi_60",  # same over 60 s
    "tfi_300",  # same over 300 s
    "rv_60",  # realised volatility of the mid (every book change) over 60 s, bps
    "rv_300",  # same over 300 s
    "ret_10",  # log return of the mid over 10 s, bps
    "ret_60",  # same over 60 s
    "spread_ticks",  # quoted spread in ticks (last two-sided value)
    "spread_dev_60",  # spread minus its mean over the rows of the last 60 s, ticks
    "depth_dev_300",  # log(best depth now / its mean over the rows of the last 300 s)
    "trade_rate_60",  # trades per second over 60 s
    "trade_accel",  # log((trades in 60 s + 1) / (trades in 300 s / 5 + 1))
)
N_FEATURES = len(FEATURE_NAMES)

_NS = 1_000_000_000


@njit(cache=True)
def _orderflow_pass(ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, trade_sz, trade_side, tick, windows, out, mid):
    """Fill ``out`` (n_rows x N_FEATURES, float32) and ``mid`` (forward-filled mid, NaN before the
    first two-sided row). One pass over the rows; every window read from prefix sums."""
    n = ts.shape[0]
    n_levels = bid_sz.shape[1]
    n_tr = trade_ts.shape[0]
    nw = windows.shape[0]
    cum_ofi = np.zeros(n + 1)
    cum_depth = np.zeros(n + 1)
    cum_spread = np.zeros(n + 1)
    cum_r2 = np.zeros(n + 1)
    cum_buy = np.zeros(n_tr + 1)
    cum_sell = np.zeros(n_tr + 1)
    for k in range(n_tr):
        cum_buy[k + 1] = cum_buy[k] + (trade_sz[k] if trade_side[k] > 0 else 0.0)
        cum_sell[k + 1] = cum_sell[k] + (trade_sz[k] if trade_side[k] < 0 else 0.0)
    row_start = np.zeros(nw, dtype=np.int64)  # first row stamped > t - w
    tr_start = np.zeros(nw, dtype=np.int64)  # first trade stamped > t - w
    n_done = 0  # trades stamped <= t
    prev_bp = -np.inf
    prev_bq = 0.0
    prev_ap = np.inf
    prev_aq = 0.0
    last_mid = np.nan
    last_spread = 0.0
    for i in range(n):
        t = ts[i]
        bq = bid_sz[i, 0]
        aq = ask_sz[i, 0]
        bp = bid_px[i, 0] if bq > 0.0 else -np.inf
        ap = ask_px[i, 0] if aq > 0.0 else np.inf
        # order-flow imbalance of this book change (CKS 2014, eq. 2); the first row has none
        e = 0.0
        if i > 0:
            if bp >= prev_bp:
                e += bq
            if bp <= prev_bp:
                e -= prev_bq
            if ap <= prev_ap:
                e -= aq
            if ap >= prev_ap:
                e += prev_aq
        prev_bp, prev_bq, prev_ap, prev_aq = bp, bq, ap, aq
        two_sided = bq > 0.0 and aq > 0.0
        r = 0.0
        if two_sided:
            m = 0.5 * (bp + ap)
            if not np.isnan(last_mid):
                r = np.log(m / last_mid)
            last_mid = m
            last_spread = (ap - bp) / tick
        mid[i] = last_mid
        depth = 0.5 * (bq + aq)
        cum_ofi[i + 1] = cum_ofi[i] + e
        cum_depth[i + 1] = cum_depth[i] + depth
        cum_spread[i + 1] = cum_spread[i] + last_spread
        cum_r2[i + 1] = cum_r2[i] + r * r
        while n_done < n_tr and trade_ts[n_done] <= t:
            n_done += 1
        for w in range(nw):
            lo = t - windows[w]
            while row_start[w] < i and ts[row_start[w]] <= lo:
                row_start[w] += 1
            while tr_start[w] < n_done and trade_ts[tr_start[w]] <= lo:
                tr_start[w] += 1
        # OFI over each window, in units of the mean best depth over the window's rows
        for w in range(3):
            j = row_start[w]
            mean_depth = (cum_depth[i + 1] - cum_depth[j]) / (i + 1 - j)
            out[i, w] = (cum_ofi[i + 1] - cum_ofi[j]) / mean_depth if mean_depth > 0.0 else 0.0
        # queue imbalance at 1, 3, all levels
        for f, depth_levels in ((3, 1), (4, 3), (5, n_levels)):
            b = 0.0
            a = 0.0
            for lv in range(min(depth_levels, n_levels)):
                b += bid_sz[i, lv]
                a += ask_sz[i, lv]
            out[i, f] = (b - a) / (b + a) if a + b > 0.0 else 0.0
        # microprice offset: (ask * q_b + bid * q_a) / (q_b + q_a) - mid, in ticks
        if two_sided:
            out[i, 6] = ((ap * bq + bp * aq) / (bq + aq) - 0.5 * (bp + ap)) / tick
        else:
            out[i, 6] = 0.0
        # trade-flow imbalance
        for w in range(3):
            k0 = tr_start[w]
            buy = cum_buy[n_done] - cum_buy[k0]
            sell = cum_sell[n_done] - cum_sell[k0]
            out[i, 7 + w] = (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
        # realised volatility over 60 s and 300 s
        for f, w in ((10, 1), (11, 2)):
            out[i, f] = 1e4 * np.sqrt(max(cum_r2[i + 1] - cum_r2[row_start[w]], 0.0))
        # mid return over 10 s and 60 s: against the last row stamped <= t - w
        for f, w in ((12, 0), (13, 1)):
            j = row_start[w] - 1
            past = mid[j] if j >= 0 else np.nan
            if np.isnan(past) or np.isnan(last_mid):
                out[i, f] = 0.0
            else:
                out[i, f] = 1e4 * np.log(last_mid / past)
        # spread and depth dynamics
        out[i, 14] = last_spread
        j = row_start[1]
        out[i, 15] = last_spread - (cum_spread[i + 1] - cum_spread[j]) / (i + 1 - j)
        j = row_start[2]
        mean_depth = (cum_depth[i + 1] - cum_depth[j]) / (i + 1 - j)
        out[i, 16] = np.log(depth / mean_depth) if depth > 0.0 and mean_depth > 0.0 else 0.0
        # trade intensity
        n60 = n_done - tr_start[1]
        n300 = n_done - tr_start[2]
        out[i, 17] = n60 / (windows[1] / 1e9)
        out[i, 18] = np.log((n60 + 1.0) / (n300 * windows[1] / windows[2] + 1.0))


class OrderflowArrays:
    """The order-flow features of one day: ``features`` (n_rows x :data:`N_FEATURES`, float32, one
    row per book row) and ``mid`` (forward-filled mid per book row, float64, NaN before the first
    two-sided row)."""

    __slots__ = ("features", "mid")

    def __init__(self, features: np.ndarray, mid: np.ndarray) -> None:
        self.features = features
        self.mid = mid

    @classmethod
    def compute(cls, day: Any) -> OrderflowArrays:
        """Compute from ``day`` (a :class:`~exec_env.market.MarketDay` or a ``DayArrays``)."""
        meta = day.meta if hasattr(day, "meta") else day.day.meta
        arrays = [
            np.ascontiguousarray(getattr(day, k))
            for k in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_sz", "trade_side")
        ]
        n = arrays[0].shape[0]
        out = np.zeros((n, N_FEATURES), dtype=np.float32)
        mid = np.full(n, np.nan)
        windows = np.array([w * _NS for w in WINDOWS_S], dtype=np.int64)
        _orderflow_pass(*arrays, float(meta.tick_size), windows, out, mid)
        return cls(out, mid)

    @classmethod
    def for_day(cls, day: Any, day_dir: str | Path | None = None) -> OrderflowArrays:
        """The arrays of ``day``, read from / saved to ``day_dir`` (``orderflow_v1_*.npy``) when given."""

        def compute() -> dict:
            out = cls.compute(day)
            return {k: getattr(out, k) for k in cls.__slots__}

        arrays = arrays_beside(day_dir, f"orderflow_v{VERSION}", cls.__slots__, compute)
        return cls(*(arrays[k] for k in cls.__slots__))

    @classmethod
    def for_catalogue_day(cls, catalogue: Any, index: int) -> OrderflowArrays:
        """The arrays of day ``index`` of ``catalogue`` (cached beside it when the day is saved)."""
        item = catalogue.days[index]
        return cls.for_day(catalogue.day(index), item if isinstance(item, Path) else None)


def row_at(ts: np.ndarray, t_ns: np.ndarray | int) -> np.ndarray:
    """Index of the last book row stamped ``<= t`` (-1 before the first row)."""
    return np.searchsorted(ts, t_ns, side="right") - 1


def features_at(day: Any, flow: OrderflowArrays, t_ns: np.ndarray) -> np.ndarray:
    """Feature rows in force at times ``t_ns`` (the last book row stamped ``<= t``); rows before
    the first book row are zeros."""
    rows = row_at(np.asarray(day.ts), np.asarray(t_ns, dtype=np.int64))
    out = np.asarray(flow.features)[np.maximum(rows, 0)].astype(np.float64)
    out[rows < 0] = 0.0
    return out

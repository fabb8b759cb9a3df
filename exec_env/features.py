"""Observation features, compiled. Every feature at time ``now`` uses data stamped ``<= now`` only.

Market features are oriented by the order's side (multiplied by +1 for a buy, -1 for a sell) so
that "positive" always means "pressure against us" (prices likely to rise for a buyer); one policy
can then work both sides.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exec_env.market.data import arrays_beside
from exec_env.sim.kernels import impact_at

__all__ = ["FEATURE_NAMES", "OBS_DIM", "OBS_HIGH", "OBS_LOW", "DayFeatureArrays", "write_observation"]

FEATURE_NAMES: tuple[str, ...] = (
    "time_left",  # fraction of the horizon left, 1 -> 0
    "inventory_left",  # fraction of the parent order not yet executed, 1 -> 0
    "schedule_deviation",  # executed fraction minus elapsed fraction (+ = ahead of a linear schedule)
    "last_fill_ratio",  # fraction of the previous child order that filled during its interval
    "side",  # +1 buy, -1 sell
    "log_spread_ticks",  # log of the quoted spread in ticks (0 at one tick)
    "imbalance_1",  # (bid - ask) / (bid + ask) size at the best level, side-oriented
    "imbalance_3",  # same over the best 3 levels
    "imbalance_all",  # same over all levels
    "return_30s",  # side-oriented log return of the mid the agent sees (impact included) over 30 s, units of 10 bps
    "return_300s",  # same over 300 s
    "volatility_300s",  # RMS of 30 s log mid returns over 300 s, in units of 10 bps
    "flow_30s",  # (buy - sell) aggressor volume / total over 30 s, side-oriented
    "flow_300s",  # same over 300 s
    "far_depth_vs_slice",  # log1p(opposite best size net of the agent's depletion / linear-schedule slice)
    "volume_300s_vs_remaining",  # log1p(market volume over 300 s / quantity left)
    "resting_fraction",  # the agent's resting order, fraction of the parent order, [0, 1]
    "queue_ahead_vs_slice",  # log1p(queue ahead of the resting order / schedule slice); 0 without one
)
OBS_DIM = len(FEATURE_NAMES)

# Bounds of each feature. Most are exact by construction; returns and volatility are bounded by
# |log return| <= 1 (a 170% move within 5 minutes), and depth/volume ratios by e^50.
OBS_LOW = np.array([0, 0, -1, 0, -1, 0, -1, -1, -1, -1e3, -1e3, 0, -1, -1, 0, 0, 0, 0], dtype=np.float32)
OBS_HIGH = np.array([1, 1, 1, 1, 1, 50, 1, 1, 1, 1e3, 1e3, 1e3, 1, 1, 50, 50, 1, 50], dtype=np.float32)


class DayFeatureArrays:
    """Per-day arrays the features need beyond the raw data (made once per day, O(N)); saved
    beside a cached day (``features_v1_*.npy``) and memory-mapped from there afterwards."""

    __slots__ = ("cum_buy", "cum_sell", "cum_vol", "mid_ffill")
    VERSION = 1

    @classmethod
    def for_day(cls, data, day_dir=None) -> DayFeatureArrays:
        """The feature arrays of ``data`` (a DayArrays), read from / saved to ``day_dir`` when given."""

        def compute() -> dict:
            out = cls(data.bid_px, data.bid_sz, data.ask_px, data.ask_sz, data.trade_sz, data.trade_side)
            return {k: getattr(out, k) for k in cls.__slots__}

        arrays = arrays_beside(day_dir, f"features_v{cls.VERSION}", cls.__slots__, compute)
        out = cls.__new__(cls)
        for k, v in arrays.items():
            setattr(out, k, v)
        return out

    def __init__(self, bid_px, bid_sz, ask_px, ask_sz, trade_sz, trade_side) -> None:
        two_sided = (bid_sz[:, 0] > 0) & (ask_sz[:, 0] > 0)
        mid = np.where(two_sided, 0.5 * (np.nan_to_num(bid_px[:, 0]) + np.nan_to_num(ask_px[:, 0])), np.nan)
        # forward fill (never backward: no look-ahead); rows before the first two-sided book stay NaN
        idx = np.where(two_sided, np.arange(mid.size), -1)
        np.maximum.accumulate(idx, out=idx)
        self.mid_ffill = np.where(idx >= 0, mid[np.maximum(idx, 0)], np.nan)
        self.cum_buy = np.concatenate(([0.0], np.cumsum(np.where(trade_side > 0, trade_sz, 0.0))))
        self.cum_sell = np.concatenate(([0.0], np.cumsum(np.where(trade_side < 0, trade_sz, 0.0))))
        self.cum_vol = np.concatenate(([0.0], np.cumsum(trade_sz)))


@njit(cache=True)
def count_upto(arr, hi, t):
    """Number of elements of the sorted ``arr[:hi]`` that are ``<= t`` (``arr[hi:]`` is > t or
    unknown), searched backwards from ``hi`` (galloping: O(log distance), cache-local)."""
    if hi <= 0 or arr[hi - 1] <= t:
        return hi
    step = 1
    lo = hi - 1  # arr[lo] > t
    while True:
        probe = hi - 1 - 2 * step
        if probe < 0:
            probe = -1
            break
        if arr[probe] <= t:
            break
        lo = probe
        step *= 2
    # arr[probe] <= t (or probe == -1), arr[lo] > t
    a, b = probe, lo
    while b - a > 1:
        m = (a + b) // 2
        if arr[m] <= t:
            a = m
        else:
            b = m
    return a + 1


@njit(cache=True)
def _mid_at(ts, mid_ffill, row, t):
    r = count_upto(ts, row + 1, t) - 1
    if r < 0:
        return np.nan
    return mid_ffill[r]


@njit(cache=True)
def _log_ret(a, b):
    if np.isnan(a) or np.isnan(b) or a <= 0.0 or b <= 0.0:
        return 0.0
    return np.log(a / b)


@njit(cache=True)
def _imbalance(bid_sz, ask_sz, row, depth):
    b = 0.0
    a = 0.0
    for j in range(min(depth, bid_sz.shape[1])):
        b += bid_sz[row, j]
        a += ask_sz[row, j]
    if a + b <= 0.0:
        return 0.0
    return (b - a) / (b + a)


@njit(cache=True)
def _flow(trade_ts, cum_buy, cum_sell, k1, now, window):
    """Buy and sell aggressor volume in ``(now - window, now]``; ``k1`` trades are ``<= now``."""
    k0 = count_upto(trade_ts, k1, now - window)
    return cum_buy[k1] - cum_buy[k0], cum_sell[k1] - cum_sell[k0]


@njit(cache=True)
def _seen_mid(ts, mid_ffill, row, fills_f, fills_i, n_fills, pp, t, start):
    """Mid the agent saw at ``t``: replay mid plus the impact offset then (none before the start)."""
    m = _mid_at(ts, mid_ffill, row, t)
    if n_fills > 0 and t >= start:
        m += impact_at(fills_f, fills_i, n_fills, pp, t)
    return m


@njit(cache=True, inline="always")
def write_book_features(out, bid_px, bid_sz, ask_px, ask_sz, row, tick, side):
    """Features 5-8 of book row ``row``: log spread in ticks (0 on a one-sided book) and the
    side-oriented depth imbalance at 1, 3 and all levels (the single and the batched env share it)."""
    if bid_sz[row, 0] > 0.0 and ask_sz[row, 0] > 0.0:
        out[5] = np.log(max(np.rint((ask_px[row, 0] - bid_px[row, 0]) / tick), 1.0))
    else:
        out[5] = 0.0
    out[6] = side * _imbalance(bid_sz, ask_sz, row, 1)
    out[7] = side * _imbalance(bid_sz, ask_sz, row, 3)
    out[8] = side * _imbalance(bid_sz, ask_sz, row, bid_sz.shape[1])


@njit(cache=True)
def write_observation(
    out, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill,
    row, now, side, tick, time_left, inventory_left, schedule_deviation, last_fill_ratio, slice_qty, remaining,
    fills_f, fills_i, n_fills, pp, start, depleted, n_trades, resting_fraction, queue_ahead,
):  # fmt: skip
    """Fill ``out`` (float32, OBS_DIM) with the observation at ``now`` (book row ``row``, ``n_trades``
    trades at or before ``now``). Prices are those the agent sees (replay plus the impact of its
    own fills)."""
    s = 30_000_000_000
    out[0] = time_left
    out[1] = inventory_left
    out[2] = schedule_deviation
    out[3] = last_fill_ratio
    out[4] = side
    write_book_features(out, bid_px, bid_sz, ask_px, ask_sz, row, tick, side)
    mid_now = _seen_mid(ts, mid_ffill, row, fills_f, fills_i, n_fills, pp, now, start)
    # the mid the agent saw 30, 60, ..., 300 s ago, each searched back from the previous one
    acc = 0.0
    prev = mid_now
    m30 = np.nan
    hi = row + 1
    for i in range(1, 11):
        t = now - i * s
        r = count_upto(ts, hi, t) - 1
        hi = r + 1
        m = np.nan if r < 0 else mid_ffill[r]
        if n_fills > 0 and t >= start:
            m += impact_at(fills_f, fills_i, n_fills, pp, t)
        if i == 1:
            m30 = m
        acc += _log_ret(prev, m) ** 2
        prev = m
    out[9] = side * _log_ret(mid_now, m30) * 1e3
    out[10] = side * _log_ret(mid_now, prev) * 1e3
    out[11] = np.sqrt(acc / 10.0) * 1e3
    buy, sell = _flow(trade_ts, cum_buy, cum_sell, n_trades, now, s)
    out[12] = side * (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
    buy, sell = _flow(trade_ts, cum_buy, cum_sell, n_trades, now, 10 * s)
    out[13] = side * (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
    far = ask_sz[row, 0] if side > 0 else bid_sz[row, 0]
    out[14] = np.log1p(max(far - depleted, 0.0) / slice_qty)
    out[15] = np.log1p((buy + sell) / max(remaining, slice_qty))
    out[16] = resting_fraction
    out[17] = min(np.log1p(queue_ahead / slice_qty), 50.0) if resting_fraction > 0.0 else 0.0

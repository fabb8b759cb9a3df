"""Synthetic limit order book days from a Cont–Stoikov–Talreja (CST) event model.

The model (Cont, Stoikov & Talreja 2010, "A stochastic model for order book dynamics"), on an
integer tick grid with unit orders of ``order_size`` shares:

- **Limit orders.** A limit buy arrives at distance ``i`` ticks below the best ask
  (``i = 1..D``, ``D = max_distance``) at rate ``lambda(i) = k / i**alpha``; a limit sell at
  distance ``i`` above the best bid likewise. ``i = 1`` joins the best bid when the spread is one
  tick and improves inside the spread when it is wider. Arrivals never cross or lock the book.
- **Market orders.** Buys and sells each arrive at rate ``mu`` (total ``2 mu``) and remove one
  unit from the opposite best queue; each is a trade at that price with its aggressor side.
  *Imbalance feedback* (an extension of CST): with best-level imbalance
  ``I = (bid_sz1 - ask_sz1) / (bid_sz1 + ask_sz1)`` a market order is a buy with probability
  ``0.5 * (1 + beta * I)``, ``beta = imbalance_feedback``; the total rate stays ``2 mu``.
- **Order-flow memory** (optional, off by default). With probability ``sign_persistence`` a
  market order repeats the previous one's side; with probability ``sign_regime`` it takes the side
  of a hidden buyers'/sellers' regime lasting ``sign_regime_seconds`` on average. A *liquidity
  response* (``liquidity_response`` kappa) makes limit orders lean against the flow: a limit
  order is a sell with probability ``0.5 (1 + kappa f)``, ``f`` the running mean of market-order
  signs (memory ``liquidity_memory`` orders). ``stylized_facts`` measures what each does to order
  signs, return autocorrelation and the flow's power to predict the price (README).
- **Cancellations.** Each resting order at distance ``i`` from the *opposite* best quote is
  cancelled at rate ``theta(i)``: CST's calibration for ``i <= 5`` (0.71, 0.81, 0.68, 0.56,
  0.47 /s) and beyond the last given value the power law ``theta(i) = theta[-1] * (n/i)**0.594``
  (``n = len(theta)``; the exponent is the log-log fit of CST's levels 2..5).
- **Cutoff.** Orders further than ``3 * D`` ticks from the opposite best quote are removed (they
  never come back within reach of the rates above and would otherwise accumulate forever).
- **Empty sides.** If a side is empty, arrivals on the other side use the last known best price
  of the empty side as their reference; a market order against an empty side does nothing. Limit
  buys that would land at a price of zero ticks or less are dropped.
- **Intraday activity.** Every rate is multiplied by the U-shape
  ``u(t) = 1 + a * (x**2 - 1/3)``, ``x = 2 t / T - 1`` the position in the session (average 1;
  ``a = u_shape``; open and close are ``(1 + 2a/3) / (1 - a/3)`` times as active as midday, 4x
  for ``a = 1.5``). This is done exactly: the model runs in operational time ``tau`` and an event
  at ``tau`` happens at clock time ``U^{-1}(tau)``, ``U(t) = t + a T / 6 * (x**3 - x)``
  (the integral of ``u``), inverted by a bracketed Newton iteration.
- **Start.** Every day is an independent session starting from ``initial_price``: the book is
  filled with ``max(1, round(lambda(i) / theta(i)))`` orders at distance ``i = 1..D`` on each side
  (best bid at ``initial_price``, one-tick spread), then the model runs ``WARMUP_SECONDS`` (10
  minutes) of operational time at ``u = 1`` unrecorded, so the first recorded row is in steady
  state (its mid is ``initial_price`` plus the warm-up's random walk).

Recording (the canonical form of :mod:`exec_env.market.data`): every trade is recorded with its
exact time. Book snapshots are subsampled: within each ``snapshot_interval_ms`` bucket of clock
time (counted from the open) only the last state is kept, stamped with the time of the last
book-changing event it includes (never a later time), and only if the recorded ``levels`` changed
since the previous row. The first row is the book at the open, stamped at the open.
``snapshot_interval_ms = 0`` records the state after every distinct event time.

Sessions are consecutive business days (Saturday and Sunday skipped, no holidays) from 2024-01-02,
opening at 14:30:00 UTC and closing ``session_seconds`` later (21:00:00 UTC for 6.5 hours).
Each day is deterministic in ``(seed, day_index)`` (``numpy.random.SeedSequence([seed,
day_index])`` seeds numba's generator). Numba's generator is per thread: generate days from
several processes, not several threads of one process.

Measured with the defaults (``benchmarks/synthetic_facts.py``, 5 days): about 0.3 s per 6.5 h
day after compilation; 93,200 book rows and 44,000 trades per day (31.7 MB on disk); spread 1/2/3+
ticks 74%/18%/8% of the time; 213 shares (2.1 orders) at the best; daily volatility about 1.5%.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from numba import njit

from exec_env.market.catalogue import MarketCatalogue
from exec_env.market.data import MAX_LEVELS, MarketDay, MarketMeta, save_day, validate

__all__ = [
    "GENERATOR_VERSION",
    "SIM_DEFAULTS",
    "SyntheticParams",
    "flow_predictability",
    "generate_day",
    "session_bounds",
    "stylized_facts",
    "synthetic_catalogue",
    "trade_impact",
]

GENERATOR_VERSION = 1

# Impact calibration of the default market (price ~ 100, tick 0.01 = 1 bp, ~4.4e6 units a day),
# in SimConfig's units (price per unit traded): a 5,000-unit parent order moves the price by half
# a tick permanently and by one more tick transiently (60 s half-life), on top of the mechanical
# impact of walking the book (depletion and resilience).
SIM_DEFAULTS = {"permanent_impact": 1.0e-6, "transient_impact": 2.0e-6, "transient_half_life_s": 60.0}
"""Bumped whenever the same parameters and seed would produce different days (invalidates caches)."""
WARMUP_SECONDS = 600.0
"""Operational seconds simulated (at u = 1, unrecorded) before the open."""
CUTOFF_FACTOR = 3
"""Orders further than ``CUTOFF_FACTOR * max_distance`` ticks from the opposite best are removed."""
THETA_TAIL_EXPONENT = 0.594
"""Power-law exponent continuing ``theta`` beyond its last given level."""
FIRST_DAY = "2024-01-02"
OPEN_UTC_SECONDS = 14 * 3600 + 30 * 60
"""Session open, seconds after midnight UTC (14:30:00)."""
_MAX_SESSION_SECONDS = 86400.0 - OPEN_UTC_SECONDS


@dataclass(frozen=True)
class SyntheticParams:
    """Parameters of the synthetic order book (see the module docstring for the model)."""

    k: float = 1.92
    """Limit order arrival rate scale, orders/s: ``lambda(i) = k / i**alpha`` per side."""
    alpha: float = 0.52
    """Decay exponent of limit order arrival rates with distance from the opposite best."""
    mu: float = 0.94
    """Market order rate per side, orders/s (total ``2 mu``)."""
    theta: tuple[float, ...] = (0.71, 0.81, 0.68, 0.56, 0.47)
    """Cancellation rate per resting order at distance 1, 2, ... from the opposite best, 1/s;
    beyond the last value a power law with exponent ``THETA_TAIL_EXPONENT``."""
    max_distance: int = 10
    """D: limit orders arrive at distance 1..D ticks from the opposite best (must be >= levels)."""
    levels: int = 10
    """Recorded price levels per side."""
    order_size: float = 100.0
    """Shares per unit order."""
    tick_size: float = 0.01
    """Price tick, currency units."""
    initial_price: float = 100.0
    """Price at which every day's book starts (before the warm-up). With the default rates the mid
    diffuses about 147 ticks (1-minute realized volatility) over 6.5 hours, so with 0.01 ticks
    100.0 gives a daily volatility of about 1.5% (measured: 1.47% +- 0.05% realized, open-to-close
    log returns of similar size)."""
    session_seconds: float = 23400.0
    """Session length, seconds (6.5 hours: 14:30 to 21:00 UTC)."""
    u_shape: float = 1.5
    """a in the intraday activity ``u(t) = 1 + a (x**2 - 1/3)``; 0 is flat, 1.5 makes the open and
    close 4x as active as midday."""
    imbalance_feedback: float = 0.5
    """beta: a market order is a buy with probability ``0.5 (1 + beta I)``, I the best-level
    imbalance. Measured on one-tick-spread snapshots (``stylized_facts``, 5 days each), the
    accuracy of sign(I) for the next mid move is 0.654 (beta = 0: CST's mechanical effect alone),
    0.667 (0.25), 0.678 (0.5) and 0.697 (1), with a day-to-day spread of about 0.004; the
    correlation of I with the move is 0.279, 0.305, 0.324 and 0.360. 0.5 (a buy is 2.3x as likely
    as a sell when I = 0.8) adds a clearly measurable market-order response to the mechanical
    effect."""
    sign_persistence: float = 0.0
    """phi: a market order repeats the side of the previous market order with probability ``phi``
    and otherwise follows the imbalance rule (order-sign persistence, as order splitting makes it
    in real markets). 0 is memoryless."""
    sign_regime: float = 0.0
    """psi: with probability ``psi`` a market order takes the side of a hidden regime (buyers' or
    sellers' market) that flips at random, on average every ``sign_regime_seconds`` of activity
    time: slow order-flow persistence, as a large order split over minutes makes it. 0: none."""
    sign_regime_seconds: float = 60.0
    """Mean duration of a regime of ``sign_regime``, seconds of activity time (exponential)."""
    liquidity_response: float = 0.0
    """kappa: liquidity providers lean against predictable flow. A limit order is a sell with
    probability ``0.5 (1 + kappa f)``, ``f`` the exponentially weighted mean sign of the recent
    market orders (+1 all buys), so the side being consumed is replenished faster, as in real
    markets where order-sign memory does not become price momentum. 0: none (the CST model)."""
    liquidity_memory: float = 20.0
    """Memory of ``f``, in market orders: each market order moves ``f`` by ``1 / liquidity_memory``
    of the way to its sign."""
    snapshot_interval_ms: float = 250.0
    """Book snapshot bucket, milliseconds (0: a row after every distinct event time)."""
    symbol: str = "SYNTH"
    """Instrument name in the metadata."""

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, allowed: str) -> None:
            if not ok:
                raise ValueError(f"SyntheticParams.{name}={getattr(self, name)!r} outside the allowed range: {allowed}")

        def finite(x: object) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        check("k", finite(self.k) and self.k > 0, "finite and > 0")
        check("alpha", finite(self.alpha) and self.alpha >= 0, "finite and >= 0")
        check("mu", finite(self.mu) and self.mu >= 0, "finite and >= 0")
        check(
            "theta",
            isinstance(self.theta, tuple) and len(self.theta) >= 1 and all(finite(x) and x > 0 for x in self.theta),
            "a non-empty tuple of finite values > 0",
        )
        check(
            "levels", isinstance(self.levels, int) and 1 <= self.levels <= MAX_LEVELS, f"an integer in 1..{MAX_LEVELS}"
        )
        check(
            "max_distance",
            isinstance(self.max_distance, int) and self.levels <= self.max_distance <= 200,
            f"an integer in levels..200 (levels={self.levels})",
        )
        check("order_size", finite(self.order_size) and self.order_size > 0, "finite and > 0")
        check("tick_size", finite(self.tick_size) and 1e-8 <= self.tick_size <= 1e4, "1e-8..1e4")
        min_price = 4 * self.max_distance * self.tick_size if finite(self.tick_size) else math.inf
        check(
            "initial_price",
            finite(self.initial_price)
            and min_price <= self.initial_price
            and self.initial_price / max(self.tick_size, 1e-8) < 1e12,
            f">= 4 * max_distance * tick_size = {min_price:g} and < 1e12 ticks",
        )
        check(
            "session_seconds",
            finite(self.session_seconds) and 1.0 <= self.session_seconds <= _MAX_SESSION_SECONDS,
            f"1..{_MAX_SESSION_SECONDS:g} (the session ends by midnight UTC)",
        )
        check("u_shape", finite(self.u_shape) and 0 <= self.u_shape < 3, "0 <= u_shape < 3 (activity stays > 0)")
        check("imbalance_feedback", finite(self.imbalance_feedback) and -1 <= self.imbalance_feedback <= 1, "-1..1")
        check("sign_persistence", finite(self.sign_persistence) and 0 <= self.sign_persistence < 1, "0..1 (1 excluded)")
        check("sign_regime", finite(self.sign_regime) and 0 <= self.sign_regime < 1, "0..1 (1 excluded)")
        check("sign_regime_seconds", finite(self.sign_regime_seconds) and self.sign_regime_seconds > 0, "> 0")
        check("liquidity_response", finite(self.liquidity_response) and 0 <= self.liquidity_response <= 1, "0..1")
        check("liquidity_memory", finite(self.liquidity_memory) and self.liquidity_memory >= 1, ">= 1 (market orders)")
        check(
            "snapshot_interval_ms",
            finite(self.snapshot_interval_ms) and 0 <= self.snapshot_interval_ms <= 3.6e6,
            "0..3.6e6 (0: every event time)",
        )
        check("symbol", isinstance(self.symbol, str) and len(self.symbol) > 0, "a non-empty string")

    def limit_rates(self) -> np.ndarray:
        """``lambda(i)`` for ``i = 0..D`` (index 0 unused, 0)."""
        i = np.arange(self.max_distance + 1, dtype=np.float64)
        lam = np.zeros_like(i)
        lam[1:] = self.k / i[1:] ** self.alpha
        return lam

    def cancel_rates(self) -> np.ndarray:
        """``theta(i)`` for ``i = 0..CUTOFF_FACTOR * D`` (index 0 unused, 0)."""
        cut = CUTOFF_FACTOR * self.max_distance
        th = np.zeros(cut + 1)
        n = len(self.theta)
        for i in range(1, cut + 1):
            th[i] = self.theta[i - 1] if i <= n else self.theta[-1] * (n / i) ** THETA_TAIL_EXPONENT
        return th


# ----------------------------------------------------------------------------------------------
# The compiled event loop
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def _grow1(a, n):
    out = np.empty(max(2 * a.shape[0], n), a.dtype)
    # A loop: an array-to-array slice assignment makes numba compile its shape-error message text
    # (seconds of compile time, once per machine, for a copy).
    for i in range(a.shape[0]):
        out[i] = a[i]
    return out


@njit(cache=True)
def _grow2(a, n):
    out = np.empty((max(2 * a.shape[0], n), a.shape[1]), a.dtype)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] = a[i, j]
    return out


@njit(cache=True)
def _clock_time(tau, t_lo, T, a):
    """Clock time t in [t_lo, T] with U(t) = tau, U(t) = t + a T/6 (x^3 - x), x = 2t/T - 1."""
    if a == 0.0:
        return min(max(tau, t_lo), T)
    lo = t_lo
    hi = T
    t = t_lo
    for _ in range(60):
        x = 2.0 * t / T - 1.0
        f = t + a * T / 6.0 * (x * x * x - x) - tau
        if f > 0.0:
            hi = t
        else:
            lo = t
        if abs(f) < 1e-10 or hi - lo < 1e-12:
            break
        d = 1.0 + a * (x * x - 1.0 / 3.0)
        t_new = t - f / d
        if t_new <= lo or t_new >= hi:
            t_new = 0.5 * (lo + hi)
        t = t_new
    return t


@njit(cache=True)
def _zero(q, lo, hi, base):
    """Zero q at absolute ticks lo..hi (inclusive), clipped to the window."""
    j0 = max(lo - base, 0)
    j1 = min(hi - base, q.shape[0] - 1)
    for j in range(j0, j1 + 1):
        q[j] = 0


# The book's scalar state in ``_simulate`` is the tuple ``s`` = (base, bid, ask, has_bid, has_ask): the
# window's first tick, the best bid and ask ticks, whether each side has an order. Helpers take it
# and return its new value (a value, so the compiled loop keeps it in registers).


@njit(cache=True)
def _snapshot(bq, aq, s, cut, snap):
    """Fill the first L non-empty levels per side into ``snap`` = (bt, bc, at, ac) (count 0 = empty)."""
    bt, bc, at, ac = snap
    base, bid, ask, has_bid, has_ask = s
    L = bt.shape[0]
    bt[:] = 0
    bc[:] = 0
    at[:] = 0
    ac[:] = 0
    n = 0
    if has_bid:
        p = bid
        while n < L and p >= ask - cut and p - base >= 0:
            c = bq[p - base]
            if c > 0:
                bt[n] = p
                bc[n] = c
                n += 1
            p -= 1
    n = 0
    if has_ask:
        p = ask
        while n < L and p <= bid + cut and p - base < aq.shape[0]:
            c = aq[p - base]
            if c > 0:
                at[n] = p
                ac[n] = c
                n += 1
            p += 1


@njit(cache=True)
def _shift(q, shift, scratch):
    """Re-base the window: new q[j] = old q[j + shift] (zero outside)."""
    W = q.shape[0]
    scratch[:] = 0
    for j in range(W):
        k = j + shift
        if 0 <= k < W:
            scratch[j] = q[k]
    for j in range(W):
        q[j] = scratch[j]


@njit(cache=True)
def _append_row(rows, n_rows, ts, snap):
    """Record the snapshot ``snap`` stamped ``ts`` unless it equals the previous row; ``rows`` = (ts,
    bid ticks, bid counts, ask ticks, ask counts), grown when full. Returns (rows, count).

    A row with the same stamp as the previous one replaces it (only the open row can share a stamp
    with the first bucket's row).
    """
    row_ts, row_bt, row_bc, row_at, row_ac = rows
    bt, bc, at, ac = snap
    if row_ts[n_rows - 1] == ts:
        n_rows -= 1
    else:
        same = True
        for j in range(bt.shape[0]):
            if (
                bt[j] != row_bt[n_rows - 1, j]
                or bc[j] != row_bc[n_rows - 1, j]
                or at[j] != row_at[n_rows - 1, j]
                or ac[j] != row_ac[n_rows - 1, j]
            ):
                same = False
                break
        if same:
            return rows, n_rows
    if n_rows >= row_ts.shape[0]:
        row_ts = _grow1(row_ts, n_rows + 1)
        row_bt = _grow2(row_bt, n_rows + 1)
        row_bc = _grow2(row_bc, n_rows + 1)
        row_at = _grow2(row_at, n_rows + 1)
        row_ac = _grow2(row_ac, n_rows + 1)
    rows = (row_ts, row_bt, row_bc, row_at, row_ac)
    _put_row(rows, n_rows, ts, snap)
    return rows, n_rows + 1


@njit(cache=True)
def _put_row(rows, r, ts, snap):
    """Row ``r`` of ``rows`` (see :func:`_append_row`) := ``ts`` and the snapshot ``snap``, element by
    element (see :func:`_grow1`)."""
    rows[0][r] = ts
    for j in range(snap[0].shape[0]):
        rows[1][r, j] = snap[0][j]
        rows[2][r, j] = snap[1][j]
        rows[3][r, j] = snap[2][j]
        rows[4][r, j] = snap[3][j]


@njit(cache=True)
def _record(trades, n_tr, ns, tick, side):
    """Append a trade to ``trades`` = (ts, tick, side), grown when full. Returns (trades, count)."""
    tr_ts, tr_tick, tr_side = trades
    if n_tr >= tr_ts.shape[0]:
        tr_ts = _grow1(tr_ts, n_tr + 1)
        tr_tick = _grow1(tr_tick, n_tr + 1)
        tr_side = _grow1(tr_side, n_tr + 1)
    tr_ts[n_tr] = ns
    tr_tick[n_tr] = tick
    tr_side[n_tr] = side
    return (tr_ts, tr_tick, tr_side), n_tr + 1


@njit(cache=True, inline="always")
def _new_best_bid(aq, s, p, cut):
    """The bid side's best is now ``p``; orders of the ask side beyond the cutoff from it are removed."""
    base, bid, ask, has_bid, has_ask = s
    if not has_bid and p < bid:
        _zero(aq, p + cut + 1, bid + cut, base)
    return (base, p, ask, True, has_ask)


@njit(cache=True, inline="always")
def _new_best_ask(bq, s, p, cut):
    """The ask side's best is now ``p``; orders of the bid side beyond the cutoff from it are removed."""
    base, bid, ask, has_bid, has_ask = s
    if not has_ask and p > ask:
        _zero(bq, ask - cut, p - cut - 1, base)
    return (base, bid, p, has_bid, True)


@njit(cache=True, inline="always")
def _bid_emptied(bq, aq, s, cut):
    """The best bid queue emptied: the next bid within the cutoff is the best, else the side is empty."""
    base, bid, ask, has_bid, has_ask = s
    q = bid - 1
    while q >= ask - cut and bq[q - base] == 0:
        q -= 1
    if q >= ask - cut:
        _zero(aq, q + cut + 1, bid + cut, base)
        return (base, q, ask, has_bid, has_ask)
    return (base, bid, ask, False, has_ask)


@njit(cache=True, inline="always")
def _ask_emptied(bq, aq, s, cut):
    """The best ask queue emptied: the next ask within the cutoff is the best, else the side is empty."""
    base, bid, ask, has_bid, has_ask = s
    q = ask + 1
    while q <= bid + cut and aq[q - base] == 0:
        q += 1
    if q <= bid + cut:
        _zero(bq, ask - cut, q - cut - 1, base)
        return (base, bid, q, has_bid, has_ask)
    return (base, bid, ask, has_bid, False)


@njit(cache=True, inline="always")
def _limit_order(r, lam, lam_tot, bq, aq, s, cut):
    """A limit order at the distance drawn by ``r`` (a buy when ``r < lam_tot``): (changed, state)."""
    base, bid, ask, has_bid, has_ask = s
    D = lam.shape[0] - 1
    buy = r < lam_tot
    v = r if buy else r - lam_tot
    i = 1
    acc = lam[1]
    while acc <= v and i < D:
        i += 1
        acc += lam[i]
    if buy:
        p = ask - i
        if p < 1:
            return False, s
        bq[p - base] += 1
        if not has_bid or p > bid:
            s = _new_best_bid(aq, s, p, cut)
        return True, s
    p = bid + i
    aq[p - base] += 1
    if not has_ask or p < ask:
        s = _new_best_ask(bq, s, p, cut)
    return True, s


@njit(cache=True, inline="always")
def _lean(r, lam_tot, q_buy):
    """Map the limit-order draw ``r`` (uniform on [0, 2 lam_tot)) to one that is a buy (``< lam_tot``)
    with probability ``q_buy``, the distance still uniform given the side."""
    u = r / (2.0 * lam_tot)
    if u < q_buy:
        return u / q_buy * lam_tot
    return lam_tot + (u - q_buy) / (1.0 - q_buy) * lam_tot


@njit(cache=True, inline="always")
def _market_order(beta, phi, last, psi, regime, bq, aq, s, cut):
    """A market order, a buy with probability ``psi [regime > 0] + (1 - psi) p``, ``p = phi [last was
    a buy] + (1 - phi) 0.5 (1 + beta I)``: (side +1/-1, price in ticks, state); side 0 when the
    opposite side is empty."""
    base, bid, ask, has_bid, has_ask = s
    nb = bq[bid - base] if has_bid else 0
    na = aq[ask - base] if has_ask else 0
    imb = (nb - na) / (nb + na) if nb + na > 0 else 0.0
    p_buy = 0.5 * (1.0 + beta * imb)
    if last != 0:
        p_buy = phi * (last > 0) + (1.0 - phi) * p_buy
    if psi > 0.0:
        p_buy = psi * (regime > 0) + (1.0 - psi) * p_buy
    buy = np.random.random() < p_buy  # noqa: NPY002
    if buy and has_ask:
        aq[ask - base] -= 1
        if aq[ask - base] == 0:
            s = _ask_emptied(bq, aq, s, cut)
        return 1, ask, s
    if not buy and has_bid:
        bq[bid - base] -= 1
        if bq[bid - base] == 0:
            s = _bid_emptied(bq, aq, s, cut)
        return -1, bid, s
    return 0, np.int64(0), s


@njit(cache=True, inline="always")
def _cancellation(v, th, c_bid, bq, aq, s, cut):
    """The cancellation drawn by ``v`` (of a bid order when ``v < c_bid``): (changed, state)."""
    base, bid, ask, _, _ = s
    if v < c_bid:
        d = 1
        acc = th[1] * bq[ask - 1 - base]
        while acc <= v and d < cut:
            d += 1
            acc += th[d] * bq[ask - d - base]
        p = ask - d
        if bq[p - base] == 0:  # guards against rounding at the end of the scan
            return False, s
        bq[p - base] -= 1
        if p == bid and bq[p - base] == 0:
            s = _bid_emptied(bq, aq, s, cut)
        return True, s
    v -= c_bid
    d = 1
    acc = th[1] * aq[bid + 1 - base]
    while acc <= v and d < cut:
        d += 1
        acc += th[d] * aq[bid + d - base]
    p = bid + d
    if aq[p - base] == 0:
        return False, s
    aq[p - base] -= 1
    if p == ask and aq[p - base] == 0:
        s = _ask_emptied(bq, aq, s, cut)
    return True, s


@njit(cache=True, inline="always")
def _cancel_rates(th, bq, aq, s, cut):
    """Total cancellation rate of each side: every resting order at distance d from the opposite best."""
    base, bid, ask, _, _ = s
    c_bid = 0.0
    for d in range(1, cut + 1):
        c_bid += th[d] * bq[ask - d - base]
    c_ask = 0.0
    for d in range(1, cut + 1):
        c_ask += th[d] * aq[bid + d - base]
    return c_bid, c_ask


@njit(cache=True)
def _start_book(lam, th, p0, W):
    """The window's two sides and state at the start: ``max(1, round(lambda(i) / theta(i)))`` orders at
    distance ``i = 1..D`` on each side, best bid ``p0``, one-tick spread; and the total limit rate."""
    bq = np.zeros(W, np.int64)
    aq = np.zeros(W, np.int64)
    base, bid, ask = np.int64(p0 - W // 2), np.int64(p0), np.int64(p0 + 1)
    lam_tot = 0.0
    for i in range(1, lam.shape[0]):
        lam_tot += lam[i]
        n0 = max(1, int(lam[i] / th[i] + 0.5))
        bq[ask - i - base] = n0
        aq[bid + i - base] = n0
    return bq, aq, (base, bid, ask, True, True), lam_tot


@njit(cache=True, inline="always")
def _recenter(bq, aq, scratch, s, cut, margin):
    """Keep the book inside the window (rare: the price has drifted far); returns the state."""
    base, bid, ask, has_bid, has_ask = s
    W = bq.shape[0]
    if ask - cut - base < margin or bid + cut - base > W - margin:
        new_base = (bid + ask) // 2 - W // 2
        _shift(bq, new_base - base, scratch)
        _shift(aq, new_base - base, scratch)
        return (new_base, bid, ask, has_bid, has_ask)
    return s


@njit(cache=True)
def _buffers(L, T, mu, interval_ns, record_events):
    """Output buffers (grown by doubling, rarely): rows, trades, event times, the snapshot scratch."""
    row_cap = int(T * 1e9 / interval_ns) + 4 if interval_ns > 0 else 1024
    trade_cap = int(2.0 * mu * T * 1.2) + 1024
    rows = (np.empty(row_cap, np.int64), np.empty((row_cap, L), np.int64), np.empty((row_cap, L), np.int64),
            np.empty((row_cap, L), np.int64), np.empty((row_cap, L), np.int64))  # fmt: skip
    trades = (np.empty(trade_cap, np.int64), np.empty(trade_cap, np.int64), np.empty(trade_cap, np.int8))
    snap = (np.zeros(L, np.int64), np.zeros(L, np.int64), np.zeros(L, np.int64), np.zeros(L, np.int64))
    return rows, trades, np.empty(1024 if record_events else 0, np.int64), snap


@njit(cache=True)
def _simulate(seed, model, session, L, record_events, window):
    """Run the warm-up and one session; return the recorded rows and trades as integer ticks/counts.

    ``model`` = (lambda(i) for i = 0..D, theta(i) for i = 0..cut, mu, beta, phi, psi, regime
    seconds, kappa, 1 / liquidity memory); ``session`` = (initial
    price in ticks, session seconds T, u_shape, warm-up seconds, open ns, snapshot interval ns). The
    book lives in a window of ``window`` ticks (at least ``8 * cut + 8``) that is re-centred when the
    price drifts near its edge; the window size never changes the result.
    """
    np.random.seed(seed)  # noqa: NPY002 (numba supports only the legacy API)
    lam, th, mu, beta, phi, psi, regime_s, kappa, w_flow = model
    p0, T, u_a, warmup, open_ns, interval_ns = session
    cut = th.shape[0] - 1
    W = max(window, 8 * cut + 8)
    bq, aq, s, lam_tot = _start_book(lam, th, p0, W)
    scratch = np.zeros(W, np.int64)
    rows, trades, ev_ts, snap = _buffers(L, T, mu, interval_ns, record_events)
    n_rows, n_tr, n_ev = 0, 0, 0
    tau, t_clock = -warmup, 0.0
    recording, pending = False, False
    cur_bucket, last_ns = np.int64(-1), open_ns
    last_side = 0
    flow = 0.0  # the liquidity providers' running mean of market-order signs
    regime, regime_end = 1, np.inf  # the hidden regime's side and the activity time it ends
    if psi > 0.0:
        regime = 1 if np.random.random() < 0.5 else -1  # noqa: NPY002
        regime_end = -warmup - regime_s * np.log(1.0 - np.random.random())  # noqa: NPY002
    while True:
        c_bid, c_ask = _cancel_rates(th, bq, aq, s, cut)
        rate = 2.0 * lam_tot + 2.0 * mu + c_bid + c_ask
        tau += -np.log(1.0 - np.random.random()) / rate  # noqa: NPY002
        if not recording and tau >= 0.0:
            # the warm-up is over: record the book at the open, restart the clock (memoryless)
            _snapshot(bq, aq, s, cut, snap)
            _put_row(rows, 0, open_ns, snap)
            n_rows = 1
            recording = True
            tau = -np.log(1.0 - np.random.random()) / rate  # noqa: NPY002
        ns = open_ns
        if recording:
            if tau > T:
                break
            t_clock = _clock_time(tau, t_clock, T, u_a)
            ns = open_ns + np.int64(t_clock * 1e9 + 0.5)
            bucket = (ns - open_ns) // interval_ns if interval_ns > 0 else ns - open_ns
            if bucket != cur_bucket:
                if pending:
                    _snapshot(bq, aq, s, cut, snap)
                    rows, n_rows = _append_row(rows, n_rows, last_ns, snap)
                    pending = False
                cur_bucket = bucket

        # choose and apply one event
        r = np.random.random() * rate  # noqa: NPY002
        if r < 2.0 * lam_tot:
            if kappa > 0.0:
                r = _lean(r, lam_tot, 0.5 * (1.0 - kappa * flow))
            changed, s = _limit_order(r, lam, lam_tot, bq, aq, s, cut)
        elif r < 2.0 * lam_tot + 2.0 * mu:
            while tau >= regime_end:  # regimes that ended before this order
                regime = -regime
                regime_end += -regime_s * np.log(1.0 - np.random.random())  # noqa: NPY002
            side, tick, s = _market_order(beta, phi, last_side, psi, regime, bq, aq, s, cut)
            changed = side != 0
            if changed:
                last_side = side
                flow += w_flow * (side - flow)
            if changed and recording:
                trades, n_tr = _record(trades, n_tr, ns, tick, side)
        else:
            changed, s = _cancellation(r - 2.0 * lam_tot - 2.0 * mu, th, c_bid, bq, aq, s, cut)

        if changed and recording:
            last_ns = ns
            pending = True
            if record_events:
                if n_ev >= ev_ts.shape[0]:
                    ev_ts = _grow1(ev_ts, n_ev + 1)
                ev_ts[n_ev] = ns
                n_ev += 1
        s = _recenter(bq, aq, scratch, s, cut, 2 * cut + 2)

    if pending:
        _snapshot(bq, aq, s, cut, snap)
        rows, n_rows = _append_row(rows, n_rows, last_ns, snap)
    row_ts, row_bt, row_bc, row_at, row_ac = rows
    tr_ts, tr_tick, tr_side = trades
    return (row_ts[:n_rows].copy(), row_bt[:n_rows].copy(), row_bc[:n_rows].copy(), row_at[:n_rows].copy(),
            row_ac[:n_rows].copy(), tr_ts[:n_tr].copy(), tr_tick[:n_tr].copy(), tr_side[:n_tr].copy(),
            ev_ts[:n_ev].copy())  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Python layer
# ----------------------------------------------------------------------------------------------


def session_bounds(day_index: int, session_seconds: float = 23400.0) -> tuple[str, int, int]:
    """``(date, open_ns, close_ns)`` of session ``day_index``: the ``day_index``-th business day
    (Monday to Friday, no holidays) from 2024-01-02, 14:30:00 UTC to ``session_seconds`` later."""
    if not (isinstance(day_index, (int, np.integer)) and day_index >= 0):
        raise ValueError(f"day_index={day_index!r} outside the allowed range: an integer >= 0")
    date = np.busday_offset(np.datetime64(FIRST_DAY, "D"), int(day_index), roll="forward")
    open_ns = int(date.astype("datetime64[ns]").astype(np.int64)) + OPEN_UTC_SECONDS * 10**9
    close_ns = open_ns + round(session_seconds * 1e9)
    return str(date), open_ns, close_ns


def _day_seed(seed: int, day_index: int) -> int:
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ValueError(f"seed={seed!r} outside the allowed range: an integer >= 0")
    return int(np.random.SeedSequence([int(seed), int(day_index)]).generate_state(1, dtype=np.uint32)[0])


def _run(params: SyntheticParams, seed: int, day_index: int, record_events: bool = False, window: int = 4096) -> tuple:
    """The raw compiled run: (date, open_ns, close_ns, arrays...) with prices in integer ticks."""
    date, open_ns, close_ns = session_bounds(day_index, params.session_seconds)
    interval_ns = round(params.snapshot_interval_ms * 1e6)
    model = (
        params.limit_rates(),
        params.cancel_rates(),
        float(params.mu),
        float(params.imbalance_feedback),
        float(params.sign_persistence),
        float(params.sign_regime),
        float(params.sign_regime_seconds),
        float(params.liquidity_response),
        1.0 / float(params.liquidity_memory),
    )
    session = (round(params.initial_price / params.tick_size), float(params.session_seconds), float(params.u_shape),
               WARMUP_SECONDS, np.int64(open_ns), np.int64(interval_ns))  # fmt: skip
    out = _simulate(_day_seed(seed, day_index), model, session, params.levels, record_events, window)
    return (date, open_ns, close_ns, *out)


def _prices(ticks: np.ndarray, counts: np.ndarray, tick_size: float) -> np.ndarray:
    """Currency prices of integer ticks, rounded to the tick's decimal grid; NaN where empty."""
    decimals = min(15, max(0, -math.floor(math.log10(tick_size))) + 6)
    return np.where(counts > 0, np.round(ticks * tick_size, decimals), np.nan)


def _source(params: SyntheticParams, seed: int, day_index: int) -> str:
    return (
        f"synthetic CST order book v{GENERATOR_VERSION} (k={params.k}, alpha={params.alpha}, mu={params.mu}, "
        f"theta={list(params.theta)}, D={params.max_distance}, u_shape={params.u_shape}, "
        f"imbalance_feedback={params.imbalance_feedback}, seed={seed}, day_index={day_index})"
    )


def generate_day(params: SyntheticParams = SyntheticParams(), seed: int = 0, day_index: int = 0) -> MarketDay:
    """Simulate session ``day_index`` of the synthetic instrument; deterministic in ``(params, seed, day_index)``."""
    date, open_ns, close_ns, ts, bt, bc, at, ac, tr_ts, tr_tick, tr_side, _ = _run(params, seed, day_index)
    tick = params.tick_size
    meta = MarketMeta(
        symbol=params.symbol,
        tick_size=tick,
        lot_size=1.0,
        session_open_ns=open_ns,
        session_close_ns=close_ns,
        source=_source(params, seed, day_index),
        date=date,
        notes={
            "generator": "exec_env.market.synthetic",
            "generator_version": GENERATOR_VERSION,
            "params": _params_dict(params),
            "seed": int(seed),
            "day_index": int(day_index),
            "warmup_seconds": WARMUP_SECONDS,
            "cutoff_ticks": CUTOFF_FACTOR * params.max_distance,
            "theta_tail_exponent": THETA_TAIL_EXPONENT,
        },
    )
    day = MarketDay(
        meta=meta,
        ts=ts,
        bid_px=_prices(bt, bc, tick),
        bid_sz=bc * float(params.order_size),
        ask_px=_prices(at, ac, tick),
        ask_sz=ac * float(params.order_size),
        trade_ts=tr_ts,
        trade_px=_prices(tr_tick, np.ones_like(tr_tick), tick),
        trade_sz=np.full(tr_ts.shape[0], float(params.order_size)),
        trade_side=tr_side,
    )
    return validate(day)


def _params_dict(params: SyntheticParams) -> dict:
    d = asdict(params)
    d["theta"] = list(params.theta)
    if d["sign_persistence"] == 0.0:  # added later: the memoryless market keeps its cache key
        del d["sign_persistence"]
    if d["sign_regime"] == 0.0:
        del d["sign_regime"], d["sign_regime_seconds"]
    if d["liquidity_response"] == 0.0:
        del d["liquidity_response"], d["liquidity_memory"]
    return d


def _cache_root(cache_dir: str | Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EXEC_ENV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "exec_env"


def synthetic_catalogue(
    n_days: int = 24,
    n_test: int = 8,
    seed: int = 0,
    params: SyntheticParams = SyntheticParams(),
    cache_dir: str | Path | None = None,
) -> MarketCatalogue:
    """Generate (or reuse) days saved under ``cache_dir/synthetic-<hash>/day_XXX`` and catalogue them.

    The hash covers the parameters, the seed and ``GENERATOR_VERSION``. ``cache_dir`` defaults to
    ``$EXEC_ENV_CACHE`` or ``~/.cache/exec_env``. A day whose ``meta.json`` exists is not
    regenerated; a new day is saved into a temporary directory and renamed into place, so
    concurrent processes never see half-written days (the first rename wins). The last ``n_test``
    days are the test split.
    """
    if not (isinstance(n_days, int) and n_days >= 1):
        raise ValueError(f"n_days={n_days!r} outside the allowed range: an integer >= 1")
    if not (isinstance(n_test, int) and 0 <= n_test < n_days):
        raise ValueError(f"n_test={n_test!r} outside the allowed range: 0..{n_days - 1} (n_days={n_days})")
    _day_seed(seed, 0)  # validates seed
    key = json.dumps({"params": _params_dict(params), "seed": int(seed), "version": GENERATOR_VERSION}, sort_keys=True)
    folder = _cache_root(cache_dir) / f"synthetic-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    description = folder / "params.json"
    if not description.is_file():
        tmp = folder / f".params.json.{os.getpid()}.tmp"
        tmp.write_text(key)
        tmp.replace(description)
    paths = []
    missing = [i for i in range(n_days) if not (folder / f"day_{i:03d}" / "meta.json").is_file()]
    bar = None
    if missing:
        import sys

        from tqdm import tqdm

        mb = 30 * len(missing) * params.session_seconds / 23_400
        print(
            f"exec_env: generating {len(missing)} synthetic market day(s) into {folder} (about {mb:.0f} MB, once; "
            f"set EXEC_ENV_CACHE to choose the folder)",
            file=sys.stderr,
            flush=True,
        )
        bar = tqdm(total=len(missing), unit="day", file=sys.stderr, disable=None)
    for i in range(n_days):
        path = folder / f"day_{i:03d}"
        if not (path / "meta.json").is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".day_{i:03d}.", dir=folder))
            try:
                save_day(generate_day(params, seed, i), tmp)
                if path.exists() and not (path / "meta.json").is_file():
                    shutil.rmtree(path, ignore_errors=True)  # left by something else: not a complete day
                try:
                    tmp.rename(path)
                except OSError:
                    if not (path / "meta.json").is_file():
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            if bar is not None:
                bar.update(1)
        paths.append(path)
    if bar is not None:
        bar.close()
    return MarketCatalogue(paths, n_test=n_test, name="synthetic", sim_defaults=dict(SIM_DEFAULTS))


# ----------------------------------------------------------------------------------------------
# Stylized facts
# ----------------------------------------------------------------------------------------------


def stylized_facts(day: MarketDay) -> dict[str, float]:
    """Summary statistics of one day, for checking the generator (or any source) against reality.

    Keys:

    - ``spread_1``, ``spread_2``, ``spread_3plus``: fraction of session time (snapshots weighted by
      how long they stand) with a spread of 1, 2, 3+ ticks (two-sided rows only);
    - ``depth_best``: time-weighted mean size at the best level, mean of both sides (shares);
    - ``return_pct``: log return of the mid, first row to last row, in %;
    - ``realized_vol_pct``: square root of the sum of squared 1-minute log mid returns, in %;
    - ``mid_changes``: number of rows whose mid differs from the previous row's;
    - ``trades``, ``volume``: trade count and traded size;
    - ``imb_accuracy``: over rows with a one-tick spread, a nonzero best-level imbalance
      ``I = (bid_sz1 - ask_sz1) / (bid_sz1 + ask_sz1)`` and a later mid change, the fraction where
      sign(I) equals the direction of the next mid change (the queue-imbalance setting of Gould
      and Bonart 2016);
    - ``imb_corr``: over rows with a one-tick spread and a later mid change, the correlation of I
      with the direction (+1/-1) of the next mid change;
    - ``imb_accuracy_all``, ``imb_corr_all``: the same over all two-sided rows;
    - ``sign_acf_1``, ``sign_acf_5``, ``sign_acf_10``, ``sign_acf_50``: autocorrelation of
      market-order signs at those lags, in orders (a run of trades with one time and one side is
      one order: one order sweeping several resting orders or levels prints several trades);
    - ``ret_acf_10s``, ``ret_acf_60s``: lag-1 autocorrelation of 10-second and 1-minute log mid
      returns (two-sided rows);
    - ``flow_ret_corr``, ``flow_ret_spreads``: how much the recent order flow predicts the price
      (``flow_predictability``): the correlation of the 30 s signed-volume share with the next
      60 s mid return, and the top-minus-bottom flow tercile difference of that return in quoted
      spreads (the unit an execution policy pays to act on it);
    - ``impact_10s``, ``impact_60s``: the mean move of the mid over 10 s and 60 s after a market
      order, in its direction, in half-spreads (:func:`trade_impact`): the adverse selection a
      resting order meets (1: a liquidity provider keeps nothing of the half-spread).

    Each snapshot row is one sample (the rows are what a consumer of the data sees).
    """
    bid = day.bid_px[:, 0]
    ask = day.ask_px[:, 0]
    mid = 0.5 * (bid + ask)
    two_sided = np.isfinite(mid)
    ts = day.ts
    close = max(day.meta.session_close_ns, int(ts[-1]))
    w = np.diff(np.append(ts, close)).astype(np.float64)
    spread = np.round((ask - bid) / day.meta.tick_size)
    ws = np.where(two_sided, w, 0.0)
    total = ws.sum()
    facts: dict[str, float] = {}
    if total > 0:
        facts["spread_1"] = float(ws[spread == 1].sum() / total)
        facts["spread_2"] = float(ws[spread == 2].sum() / total)
        facts["spread_3plus"] = float(ws[spread >= 3].sum() / total)
    else:
        facts["spread_1"] = facts["spread_2"] = facts["spread_3plus"] = float("nan")
    wt = w.sum()
    best = 0.5 * (day.bid_sz[:, 0] + day.ask_sz[:, 0])
    facts["depth_best"] = float((best * w).sum() / wt) if wt > 0 else float(np.mean(best))

    rows = np.flatnonzero(two_sided)
    m, mts = mid[rows], ts[rows]
    facts["return_pct"] = float(100 * np.log(m[-1] / m[0])) if rows.size else float("nan")
    grid = np.arange(day.meta.session_open_ns, close + 1, 60 * 10**9)
    at = np.searchsorted(mts, grid, side="right") - 1
    sampled = m[at[at >= 0]]
    r = np.diff(np.log(sampled))
    facts["realized_vol_pct"] = float(100 * np.sqrt(np.sum(r * r)))
    change = np.flatnonzero(np.diff(m) != 0) + 1  # rows (of m) where the mid moved
    facts["mid_changes"] = float(change.size)
    facts["trades"] = float(day.n_trades)
    facts["volume"] = float(day.trade_sz.sum())

    bsz, asz = day.bid_sz[rows, 0], day.ask_sz[rows, 0]
    imb = (bsz - asz) / (bsz + asz)
    nxt = np.searchsorted(change, np.arange(m.size), side="right")
    has_next = nxt < change.size
    j = np.arange(m.size)[has_next]
    direction = np.sign(m[change[nxt[has_next]]] - m[j])
    one_tick = spread[rows][j] == 1
    for suffix, sel in (("", one_tick), ("_all", np.ones_like(one_tick))):
        i_j, d_j = imb[j][sel], direction[sel]
        nonzero = i_j != 0
        facts[f"imb_accuracy{suffix}"] = (
            float(np.mean(np.sign(i_j[nonzero]) == d_j[nonzero])) if nonzero.any() else float("nan")
        )
        ok = i_j.size > 2 and np.std(i_j) > 0 and np.std(d_j) > 0
        facts[f"imb_corr{suffix}"] = float(np.corrcoef(i_j, d_j)[0, 1]) if ok else float("nan")
    signs = order_signs(day.trade_ts, day.trade_side)
    for lag in (1, 5, 10, 50):
        facts[f"sign_acf_{lag}"] = autocorrelation(signs, lag)
    for seconds in (10, 60):
        grid = np.arange(day.meta.session_open_ns, close + 1, seconds * 10**9)
        at = np.searchsorted(mts, grid, side="right") - 1
        facts[f"ret_acf_{seconds}s"] = autocorrelation(np.diff(np.log(m[at[at >= 0]])), 1)
    facts["flow_ret_corr"], facts["flow_ret_spreads"] = flow_predictability(day)
    for seconds in (10, 60):
        facts[f"impact_{seconds}s"] = trade_impact(day, seconds)
    return facts


def trade_impact(day: MarketDay, horizon_s: float) -> float:
    """How far the mid moves with a market order: the mean over orders of ``side * (mid at t +
    horizon_s - mid before t) / half-spread before t``, in half-spreads.

    An order is a run of trades with one time and one side (as :func:`order_signs` counts them); *before t* is
    the last row with a positive spread stamped strictly before the order, *at t + horizon_s* the last
    two-sided row stamped at or before it. Orders whose horizon runs past the last row, or with no
    such row before them, are left out; NaN when none is left. This is the adverse selection a
    resting order meets: 1 means the price moves, on average, by the half-spread the liquidity
    provider earned (a realized spread of 0); below 1 passive fills keep part of the spread.
    """
    bid, ask = day.bid_px[:, 0], day.ask_px[:, 0]
    rows = np.flatnonzero(np.isfinite(bid) & np.isfinite(ask) & (ask > bid))
    two_sided = np.flatnonzero(np.isfinite(bid) & np.isfinite(ask))
    ts, side = _orders(day.trade_ts, day.trade_side)
    if rows.size == 0 or two_sided.size == 0 or ts.size == 0:
        return float("nan")
    before = np.searchsorted(day.ts[rows], ts, side="left") - 1
    end = ts + round(horizon_s * 1e9)
    after = np.searchsorted(day.ts[two_sided], end, side="right") - 1
    ok = (before >= 0) & (end <= day.ts[two_sided[-1]])
    if not ok.any():
        return float("nan")
    b, a = rows[before[ok]], two_sided[after[ok]]
    mid_before = 0.5 * (bid[b] + ask[b])
    mid_after = 0.5 * (bid[a] + ask[a])
    return float(np.mean(side[ok] * (mid_after - mid_before) / (0.5 * (ask[b] - bid[b]))))


def flow_predictability(
    day: MarketDay, window_s: float = 30.0, horizon_s: float = 60.0, step_s: float = 10.0
) -> tuple[float, float]:
    """How well the recent signed order flow predicts the next mid move.

    On a grid every ``step_s`` from the first two-sided row + ``window_s`` to the last row -
    ``horizon_s``: the flow ``(buy - sell) / (buy + sell)`` traded volume over ``(t - window_s, t]``
    (grid points without trades are left out) and the log mid return from ``t`` to ``t + horizon_s``
    (the mids standing at those times). Returns the correlation of the two, and the mean return of
    the top flow tercile minus that of the bottom tercile divided by the mean relative quoted spread
    at the grid points. NaN when fewer than 3 points.
    """
    mid = 0.5 * (day.bid_px[:, 0] + day.ask_px[:, 0])
    rows = np.flatnonzero(np.isfinite(mid))
    nan = (float("nan"), float("nan"))
    if rows.size < 2:
        return nan
    ts, m = day.ts[rows], mid[rows]
    rel_spread = (day.ask_px[rows, 0] - day.bid_px[rows, 0]) / m
    w, h = round(window_s * 1e9), round(horizon_s * 1e9)
    grid = np.arange(int(ts[0]) + w, int(ts[-1]) - h + 1, round(step_s * 1e9), dtype=np.int64)
    now = np.searchsorted(ts, grid, side="right") - 1
    later = np.searchsorted(ts, grid + h, side="right") - 1
    signed = np.concatenate(([0.0], np.cumsum(day.trade_sz * day.trade_side)))
    volume = np.concatenate(([0.0], np.cumsum(day.trade_sz)))
    a = np.searchsorted(day.trade_ts, grid - w, side="right")
    b = np.searchsorted(day.trade_ts, grid, side="right")
    traded = volume[b] - volume[a]
    keep = traded > 0
    if keep.sum() < 3:
        return nan
    flow = (signed[b] - signed[a])[keep] / traded[keep]
    ret = np.log(m[later] / m[now])[keep]
    corr = float(np.corrcoef(flow, ret)[0, 1]) if np.std(flow) > 0 and np.std(ret) > 0 else float("nan")
    lo, hi = np.quantile(flow, [1 / 3, 2 / 3])
    top, bottom = ret[flow >= hi], ret[flow <= lo]
    if top.size == 0 or bottom.size == 0:
        return corr, float("nan")
    return corr, float((top.mean() - bottom.mean()) / rel_spread[now][keep].mean())


def order_signs(trade_ts: np.ndarray, trade_side: np.ndarray) -> np.ndarray:
    """The sign of each market order: trades with a side, consecutive ones with the same time and
    side merged into one order."""
    return _orders(trade_ts, trade_side)[1]


def _orders(trade_ts: np.ndarray, trade_side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The time and the sign (float) of each market order, as :func:`order_signs` counts them."""
    keep = trade_side != 0
    ts, side = trade_ts[keep], trade_side[keep]
    new = np.ones(ts.size, bool)
    new[1:] = (ts[1:] != ts[:-1]) | (side[1:] != side[:-1])
    return ts[new], side[new].astype(np.float64)


def autocorrelation(x: np.ndarray, lag: int) -> float:
    """Sample autocorrelation of ``x`` at ``lag`` (NaN when too short or constant)."""
    if x.size <= lag + 1:
        return float("nan")
    d = x - x.mean()
    var = float(np.mean(d * d))
    return float(np.mean(d[:-lag] * d[lag:]) / var) if var > 0 else float("nan")

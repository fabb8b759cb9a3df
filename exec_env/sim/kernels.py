"""Compiled matching and accounting kernels (numba). No Python objects, no per-event allocation.

All prices inside the kernels are in the *replay frame* (the prices of the data). The impact
model shifts every price the agent sees and trades at by a common offset (see
:func:`impact_offset`); because the shift is uniform, matching in the replay frame and adding the
offset to each fill price is the same as matching against a shifted book.

State lives in small arrays owned by :class:`exec_env.sim.simulator.ExecutionSimulator`:

* ``fs`` float64 state (cash, inventory, order, impact), indices ``F_*``;
* ``ist`` int64 state (cursors, clock, counts), indices ``I_*``;
* ``dep_px/dep_q/dep_t`` (2, K) depletion slots per book side (0 bid, 1 ask);
* ``fills`` (capacity, FILL_COLS) float64 fill records;
* ``pp`` float64 parameters, indices ``P_*``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# --- float state -----------------------------------------------------------------------------
F_CASH = 0  # signed cash: buys pay, sells receive; fees are paid from cash
F_INV = 1  # signed inventory change from fills (+ bought, - sold)
F_FEES = 2  # fees paid (negative = rebates received)
F_FILLED = 3  # unsigned quantity filled in the episode
F_ORD_PX = 4  # resting order limit price (replay frame)
F_ORD_QTY = 5  # resting order remaining quantity (0 = no order)
F_ORD_QA = 6  # resting order queue ahead (risk-averse queue model)
F_PERM = 7  # permanent impact offset (price units)
F_TRANS = 8  # transient impact state at I_TRANS_TS (price units)
F_LAST_MID = 9  # last valid replay-frame mid
F_STEP_NOTIONAL = 10  # sum of seen price * qty since the last reset_step_accumulators
F_STEP_QTY = 11
F_STEP_FEES = 12
F_NOTIONAL = 13  # sum of seen price * qty in the episode
F_BEYOND_QTY = 14  # quantity liquidated beyond the visible book
F_TAKER_QTY = 15
F_MAKER_QTY = 16
N_FSTATE = 17

# --- int state -------------------------------------------------------------------------------
I_BOOK = 0  # index of the book row in effect (last row with ts <= now)
I_TRADE = 1  # index of the next unprocessed trade
I_NOW = 2  # simulator clock, ns
I_NFILLS = 3  # number of fill records written
I_TRANS_TS = 4  # time of the transient impact state
I_STEP = 5  # decision step index written into fill records
N_ISTATE = 6

# --- parameters ------------------------------------------------------------------------------
P_SIDE = 0  # +1 buy, -1 sell
P_TICK = 1
P_MAKER_BPS = 2
P_TAKER_BPS = 3
P_RESIL_NS = 4  # depletion recovery time constant, ns (0 = instant recovery)
P_PERM = 5  # permanent impact, price units per unit traded
P_TRANS = 6  # transient impact, price units per unit traded
P_TRANS_NS = 7  # transient impact decay time constant, ns
P_BEYOND_TICKS = 8  # forced liquidation beyond the visible book: ticks past the deepest level
P_LOT = 9  # lot size: liquidity net of depletion is taken in whole lots
N_PARAMS = 10

# --- fill records ----------------------------------------------------------------------------
FILL_TS = 0
FILL_PX = 1  # seen price (replay price + impact offset)
FILL_QTY = 2
FILL_FEE = 3
FILL_LIQ = 4  # LIQ_* below
FILL_STEP = 5
FILL_COLS = 6
LIQ_MAKER = 0.0
LIQ_TAKER = 1.0
LIQ_FORCED = 2.0  # forced liquidation at the horizon (taker)
LIQ_BEYOND = 3.0  # forced liquidation beyond the visible book

STATUS_DONE = 0
STATUS_FULL = 1  # fill buffer full: grow it and call again (state is consistent)

_BIG = 1e300


@njit(cache=True)
def impact_offset(fs, ist, pp, now):
    """Price offset of the impact model at ``now``: permanent plus exponentially decaying transient."""
    trans = fs[F_TRANS]
    if trans != 0.0 and pp[P_TRANS_NS] > 0.0:
        trans *= np.exp(-(now - ist[I_TRANS_TS]) / pp[P_TRANS_NS])
    elif pp[P_TRANS_NS] <= 0.0:
        trans = 0.0
    return fs[F_PERM] + trans


@njit(cache=True)
def _apply_impact(fs, ist, pp, now, signed_qty):
    trans = fs[F_TRANS]
    if trans != 0.0 and pp[P_TRANS_NS] > 0.0:
        trans *= np.exp(-(now - ist[I_TRANS_TS]) / pp[P_TRANS_NS])
    fs[F_TRANS] = trans + pp[P_TRANS] * signed_qty
    ist[I_TRANS_TS] = now
    fs[F_PERM] += pp[P_PERM] * signed_qty


@njit(cache=True)
def _depleted(dep_px, dep_q, dep_t, book_side, px, now, pp):
    """Quantity the agent took at ``px`` on ``book_side`` that has not recovered yet."""
    tau = pp[P_RESIL_NS]
    if tau <= 0.0:
        return 0.0
    half = 0.5 * pp[P_TICK]
    for k in range(dep_px.shape[1]):
        if dep_q[book_side, k] > 0.0 and abs(dep_px[book_side, k] - px) < half:
            return dep_q[book_side, k] * np.exp(-(now - dep_t[book_side, k]) / tau)
    return 0.0


@njit(cache=True)
def _available(size, depleted, lot):
    """Displayed size net of what the agent took, in whole lots (no fractional lots)."""
    if depleted <= 0.0:
        return size
    return np.floor((size - depleted) / lot + 1e-9) * lot


@njit(cache=True)
def _deplete(dep_px, dep_q, dep_t, book_side, px, now, take, pp):
    """Record that ``take`` was taken at ``px``: add to the decayed amount there."""
    tau = pp[P_RESIL_NS]
    if tau <= 0.0 or take <= 0.0:
        return
    half = 0.5 * pp[P_TICK]
    victim = 0
    smallest = _BIG
    for k in range(dep_px.shape[1]):
        q = dep_q[book_side, k]
        if q > 0.0:
            q *= np.exp(-(now - dep_t[book_side, k]) / tau)
        if q > 0.0 and abs(dep_px[book_side, k] - px) < half:
            dep_q[book_side, k] = q + take
            dep_t[book_side, k] = now
            return
        if q < smallest:
            smallest = q
            victim = k
    dep_px[book_side, victim] = px
    dep_q[book_side, victim] = take
    dep_t[book_side, victim] = now


@njit(cache=True)
def _record_fill(fs, ist, pp, fills, now, replay_px, qty, fee_bps, liq):
    side = pp[P_SIDE]
    px = replay_px + impact_offset(fs, ist, pp, now)
    notional = px * qty
    fee = notional * fee_bps * 1e-4
    fs[F_CASH] -= side * notional + fee
    fs[F_INV] += side * qty
    fs[F_FEES] += fee
    fs[F_FILLED] += qty
    fs[F_NOTIONAL] += notional
    fs[F_STEP_NOTIONAL] += notional
    fs[F_STEP_QTY] += qty
    fs[F_STEP_FEES] += fee
    if liq == LIQ_MAKER:
        fs[F_MAKER_QTY] += qty
    else:
        fs[F_TAKER_QTY] += qty
    if liq == LIQ_BEYOND:
        fs[F_BEYOND_QTY] += qty
    n = ist[I_NFILLS]
    fills[n, FILL_TS] = now
    fills[n, FILL_PX] = px
    fills[n, FILL_QTY] = qty
    fills[n, FILL_FEE] = fee
    fills[n, FILL_LIQ] = liq
    fills[n, FILL_STEP] = ist[I_STEP]
    ist[I_NFILLS] = n + 1
    _apply_impact(fs, ist, pp, now, side * qty)


@njit(cache=True)
def _own_queue_cap(own_px, own_sz, row, limit_px, side, half, qa):
    """Risk-averse queue model: the queue ahead never exceeds the size displayed at our price.

    Returns the new queue ahead given the displayed own-side book at ``row``.
    """
    levels = own_px.shape[1]
    if own_sz[row, 0] <= 0.0:
        return 0.0  # our side is empty: we are the best
    if side * (limit_px - own_px[row, 0]) > half:
        return 0.0  # we improve on the best price: nobody ahead
    deepest = -1
    for j in range(levels):
        if own_sz[row, j] <= 0.0:
            break
        deepest = j
        if abs(own_px[row, j] - limit_px) < half:
            return min(qa, own_sz[row, j])
    if deepest == levels - 1 and side * (own_px[row, deepest] - limit_px) > half:
        return qa  # deeper than the visible book: unknown, keep
    return 0.0  # a price inside the visible range with nothing displayed


@njit(cache=True)
def in_halt(halt_start, halt_end, t):
    """Is ``t`` inside a trading halt ``[start, end)``? (sorted, non-overlapping intervals)"""
    n = halt_start.shape[0]
    if n == 0:
        return False
    i = np.searchsorted(halt_start, t, side="right") - 1
    return i >= 0 and t < halt_end[i]


@njit(cache=True)
def _match_book_row(book_ts, own_px, own_sz, opp_px, opp_sz, row, fs, ist, dep_px, dep_q, dep_t, fills, pp, halted):
    """A new book row: cap the queue ahead, and fill a resting order the opposite side now reaches."""
    rem = fs[F_ORD_QTY]
    mid_ok = own_sz[row, 0] > 0.0 and opp_sz[row, 0] > 0.0
    if mid_ok:
        fs[F_LAST_MID] = 0.5 * (own_px[row, 0] + opp_px[row, 0])
    if rem <= 0.0:
        return
    side = pp[P_SIDE]
    half = 0.5 * pp[P_TICK]
    limit_px = fs[F_ORD_PX]
    now = book_ts[row]
    fs[F_ORD_QA] = _own_queue_cap(own_px, own_sz, row, limit_px, side, half, fs[F_ORD_QA])
    if halted or opp_sz[row, 0] <= 0.0 or side * (limit_px - opp_px[row, 0]) < -half:
        return
    # The opposite side reaches our price: sellers (buyers) at or through our limit trade with us
    # at our price, up to the liquidity the agent has not already taken.
    opp_book_side = 1 if side > 0 else 0
    avail_total = 0.0
    for j in range(opp_px.shape[1]):
        if opp_sz[row, j] <= 0.0 or side * (limit_px - opp_px[row, j]) < -half:
            break
        avail = _available(
            opp_sz[row, j], _depleted(dep_px, dep_q, dep_t, opp_book_side, opp_px[row, j], now, pp), pp[P_LOT]
        )
        if avail <= 0.0:
            continue
        take = min(avail, rem - avail_total)
        _deplete(dep_px, dep_q, dep_t, opp_book_side, opp_px[row, j], now, take, pp)
        avail_total += take
        if avail_total >= rem:
            break
    if avail_total > 0.0:
        _record_fill(fs, ist, pp, fills, now, limit_px, avail_total, pp[P_MAKER_BPS], LIQ_MAKER)
        fs[F_ORD_QTY] = rem - avail_total


@njit(cache=True)
def _match_trade(k, trade_ts, trade_px, trade_sz, trade_side, fs, ist, fills, pp):
    """A market trade: it fills a resting order at our price after the queue ahead, or at once
    when it trades through our price. Only an aggressor on the other side (or unknown) fills us."""
    rem = fs[F_ORD_QTY]
    if rem <= 0.0:
        return
    side = pp[P_SIDE]
    aggressor = trade_side[k]
    if aggressor != 0 and aggressor != -side:
        return
    half = 0.5 * pp[P_TICK]
    limit_px = fs[F_ORD_PX]
    px = trade_px[k]
    size = trade_sz[k]
    if abs(px - limit_px) < half:
        qa = fs[F_ORD_QA]
        eaten = min(qa, size)
        fs[F_ORD_QA] = qa - eaten
        size -= eaten
    elif side * (limit_px - px) > half:
        fs[F_ORD_QA] = 0.0  # the aggressor went through our price: nothing ahead of us is left
    else:
        return
    if size <= 0.0:
        return
    take = min(rem, size)
    _record_fill(fs, ist, pp, fills, trade_ts[k], limit_px, take, pp[P_MAKER_BPS], LIQ_MAKER)
    fs[F_ORD_QTY] = rem - take


@njit(cache=True)
def advance(
    book_ts, own_px, own_sz, opp_px, opp_sz,
    trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
    fs, ist, dep_px, dep_q, dep_t, fills, pp, until,
):  # fmt: skip
    """Replay every event with ``ts <= until`` in time order (trades before book rows at equal
    times), matching the resting order; inside a trading halt nothing fills. Returns STATUS_FULL
    if ``fills`` has no room left; the state is then consistent and the call can simply be
    repeated after growing ``fills``."""
    n_books = book_ts.shape[0]
    n_trades = trade_ts.shape[0]
    cap = fills.shape[0]
    row = ist[I_BOOK]
    k = ist[I_TRADE]
    while True:
        if ist[I_NFILLS] >= cap:
            ist[I_BOOK] = row
            ist[I_TRADE] = k
            return STATUS_FULL
        tb = book_ts[row + 1] if row + 1 < n_books else np.iinfo(np.int64).max
        tt = trade_ts[k] if k < n_trades else np.iinfo(np.int64).max
        if tt <= tb:
            if tt > until:
                break
            if not in_halt(halt_start, halt_end, tt):
                _match_trade(k, trade_ts, trade_px, trade_sz, trade_side, fs, ist, fills, pp)
            k += 1
        else:
            if tb > until:
                break
            row += 1
            halted = in_halt(halt_start, halt_end, tb)
            _match_book_row(
                book_ts, own_px, own_sz, opp_px, opp_sz, row, fs, ist, dep_px, dep_q, dep_t, fills, pp, halted
            )
    ist[I_BOOK] = row
    ist[I_TRADE] = k
    if until > ist[I_NOW]:
        ist[I_NOW] = until
    return STATUS_DONE


@njit(cache=True)
def _walk(opp_px, opp_sz, fs, ist, dep_px, dep_q, dep_t, fills, pp, qty, limit_px, liq):
    """Take up to ``qty`` from the opposite levels priced at or better than ``limit_px``, net of
    what the agent already took there. Returns (quantity left, price of the deepest level reached
    or NaN)."""
    side = pp[P_SIDE]
    half = 0.5 * pp[P_TICK]
    row = ist[I_BOOK]
    now = ist[I_NOW]
    opp_book_side = 1 if side > 0 else 0
    rem = qty
    last_px = np.nan
    for j in range(opp_px.shape[1]):
        if rem <= 0.0 or opp_sz[row, j] <= 0.0 or side * (limit_px - opp_px[row, j]) < -half:
            break
        px = opp_px[row, j]
        last_px = px
        avail = _available(opp_sz[row, j], _depleted(dep_px, dep_q, dep_t, opp_book_side, px, now, pp), pp[P_LOT])
        if avail <= 0.0:
            continue
        take = min(avail, rem)
        _deplete(dep_px, dep_q, dep_t, opp_book_side, px, now, take, pp)
        _record_fill(fs, ist, pp, fills, now, px, take, pp[P_TAKER_BPS], liq)
        rem -= take
    return rem, last_px


@njit(cache=True)
def submit(own_px, own_sz, opp_px, opp_sz, fs, ist, dep_px, dep_q, dep_t, fills, pp, qty, limit_px, halted):
    """Cancel the resting order and send a limit order of ``qty`` at ``limit_px`` (replay frame).

    The marketable part walks the opposite book level by level (net of the liquidity the agent
    already took); the rest joins the queue at ``limit_px`` behind the displayed size. Needs room
    for ``opp_px.shape[1]`` fill records.
    """
    fs[F_ORD_QTY] = 0.0
    if qty <= 0.0:
        return
    rem = qty
    if not halted:  # during a halt the order only joins the book
        rem, _ = _walk(opp_px, opp_sz, fs, ist, dep_px, dep_q, dep_t, fills, pp, qty, limit_px, LIQ_TAKER)
    if rem > 0.0:
        fs[F_ORD_PX] = limit_px
        fs[F_ORD_QTY] = rem
        fs[F_ORD_QA] = _own_queue_cap(own_px, own_sz, ist[I_BOOK], limit_px, pp[P_SIDE], 0.5 * pp[P_TICK], _BIG)


@njit(cache=True)
def liquidate(opp_px, opp_sz, fs, ist, dep_px, dep_q, dep_t, fills, pp, qty):
    """Forced liquidation of ``qty`` now: cancel the resting order and walk the whole visible
    opposite book; what the book cannot absorb fills ``P_BEYOND_TICKS`` ticks past its deepest
    level (flagged LIQ_BEYOND). Needs room for ``opp_px.shape[1] + 1`` fill records."""
    fs[F_ORD_QTY] = 0.0
    if qty <= 0.0:
        return
    side = pp[P_SIDE]
    rem, last_px = _walk(opp_px, opp_sz, fs, ist, dep_px, dep_q, dep_t, fills, pp, qty, side * _BIG, LIQ_FORCED)
    if rem > 0.0:
        if np.isnan(last_px):
            last_px = fs[F_LAST_MID]
        beyond_px = last_px + side * pp[P_BEYOND_TICKS] * pp[P_TICK]
        _record_fill(fs, ist, pp, fills, ist[I_NOW], beyond_px, rem, pp[P_TAKER_BPS], LIQ_BEYOND)

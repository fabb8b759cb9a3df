"""One decision step of an execution episode as a single compiled call (numba).

``episode_step`` does what ``ExecutionEnv.step`` means: map the action to a child order
(``child_order_nb``), apply the participation cap, let the old order fill during the latency,
submit, replay to the next decision, liquidate at the horizon, compute the reward and write the
next observation. The single env and the batched env (``exec_env.vector``) both call it, so a
batched episode is the single env's episode, step for step.

Per-episode state besides the simulator's (``fs``, ``ist``, ``pp``, fills):
``es`` float64 (``E_*``), ``ei`` int64 (``EI_*``); shared settings ``ec`` float64 (``C_*``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exec_env.features import OBS_HIGH, OBS_LOW, _log_ret, write_book_features, write_observation
from exec_env.sim import kernels as K

E_QTY = 0  # parent quantity
E_ARRIVAL = 1  # arrival mid
E_SCALE = 2  # 1e4 / (quantity * arrival): bps of the arrival notional
E_MID = 3  # mid the agent saw at the last decision (mark to market)
E_FILL_RATIO = 4  # filled / sent of the last child order
E_N_CHILD = 5  # child orders sent
E_FORCED = 6  # quantity left to the forced liquidation
E_TOTAL = 7  # sum of rewards
E_REWARD = 8  # reward of the last step
E_HALT_LIQ = 9  # 1 if the forced liquidation happened inside a halt
E_SIDE = 10
E_LOT = 11
E_TWAP_REWARD = 12  # reward of the shadow TWAP episode in the same step (batched env)
N_ESTATE = 13

EI_STEP = 0
EI_NSTEPS = 1
EI_INTERVAL = 2
EI_START = 3
EI_LATENCY = 4
N_EISTATE = 5

C_PASSIVE = 0  # passive_ticks
C_CROSS = 1  # cross_ticks
C_MTM = 2  # 1 mark to market, 0 arrival
C_CAP = 3  # participation cap share (0 = none)
C_PENALTY = 4  # terminal penalty, bps per unit fraction left
C_SHADOW_PACE = 5  # constant action of the shadow baseline episode (relative reward)
C_SHADOW_AGGR = 6
N_CONFIG = 7

STEP_OK = 0
STEP_NEED_ROOM = 1  # grow the fill buffers to at least the returned ``need`` and call again
STEP_BAD_OBS = 2  # an observation feature left its bounds (or is NaN)


@njit(cache=True, _nrt=False, inline="always")
def child_order_nb(pace, aggressiveness, step, n_steps, quantity, executed, lot, side, bid, ask, tick,
                   passive_ticks, cross_ticks):  # fmt: skip
    """See :func:`exec_env.env.child_order`. Returns (qty, limit price or NaN)."""
    on_schedule = (step + 1) / n_steps
    deviation = pace * pace * pace
    if deviation >= 0.0:
        target = on_schedule + deviation * (1.0 - on_schedule)
    else:
        target = on_schedule * (1.0 + deviation)
    remaining = quantity - executed
    qty = np.floor((target * quantity - executed) / lot + 0.5) * lot
    qty = min(max(qty, 0.0), remaining)
    if np.isnan(bid) and np.isnan(ask):
        return qty, np.nan
    if not np.isnan(bid):
        bid = np.floor(bid / tick + 1e-9) * tick
    if not np.isnan(ask):
        ask = np.ceil(ask / tick - 1e-9) * tick
    if np.isnan(bid):
        bid = ask - tick
    if np.isnan(ask):
        ask = bid + tick
    spread_ticks = max(np.round((ask - bid) / tick), 1.0)
    span = passive_ticks + spread_ticks + cross_ticks
    ticks = -passive_ticks + np.floor((aggressiveness + 1.0) * 0.5 * span + 0.5)
    near = bid if side > 0 else ask
    return qty, np.round((near + side * ticks * tick) / tick) * tick


@njit(cache=True, _nrt=False, inline="always")
def remaining_qty(fs, es):
    left = es[E_QTY] - fs[K.F_FILLED]
    return 0.0 if abs(left) <= 1e-9 * es[E_QTY] else left


@njit(cache=True, _nrt=False)
def fill_bound(book_ts, trade_ts, ist, ei, levels):
    """Fill records a step can write at most: one per trade and per book row it replays, plus a
    sweep and a liquidation over every level and the tail."""
    t_j = ei[EI_START] + ei[EI_STEP] * ei[EI_INTERVAL]
    t_next = t_j + ei[EI_INTERVAL]
    rows = np.searchsorted(book_ts, t_next, side="right") - ist[K.I_BOOK]
    trades = np.searchsorted(trade_ts, t_next, side="right") - ist[K.I_TRADE]
    return rows + trades + 2 * (levels + 2) + 2


@njit(cache=True, _nrt=False, inline="always")
def _advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
             cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry, fs, ist, pp, fills_f, fills_i, until):  # fmt: skip
    """``K.advance`` (the caller made room for the fills); with nothing resting, its jump without
    the cost of a call passing every event array."""
    if fs[K.F_ORD_QTY] <= 0.0:
        K.skip_to(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, cancel_ts, fs, ist, until)
    else:
        K.advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side,
                  halt_start, halt_end, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
                  fs, ist, pp, fills_f, fills_i, until)  # fmt: skip


@njit(cache=True, _nrt=False, inline="always")
def episode_step(day, fs, ist, pp, fills_f, fills_i, es, ei, ec, pace, aggr, obs, room_checked):
    """One decision of one episode. Returns (status, need): STEP_OK, or STEP_NEED_ROOM with the
    number of fill records needed (nothing was done), or STEP_BAD_OBS (the step was done).
    ``day``: the day's arrays (:func:`day_arrays`). ``room_checked``: the caller already made sure
    the fill buffers hold :func:`fill_bound` more."""
    (book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
     cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry, cum_buy, cum_sell, cum_vol, mid_ffill) = day  # fmt: skip
    if not room_checked:
        need = ist[K.I_NFILLS] + fill_bound(book_ts, trade_ts, ist, ei, bid_px.shape[1])
        if need > fills_f.shape[0]:
            return STEP_NEED_ROOM, need
    side = pp[K.P_SIDE]
    if side > 0:
        own_px, own_sz, opp_px, opp_sz = bid_px, bid_sz, ask_px, ask_sz
    else:
        own_px, own_sz, opp_px, opp_sz = ask_px, ask_sz, bid_px, bid_sz
    tick = pp[K.P_TICK]
    lot = es[E_LOT]
    j = ei[EI_STEP]
    n_steps = ei[EI_NSTEPS]
    now = ist[K.I_NOW]
    row = ist[K.I_BOOK]
    off = K.impact_offset(fs, ist, pp, now)
    bid = bid_px[row, 0] + off if bid_sz[row, 0] > 0.0 else np.nan
    ask = ask_px[row, 0] + off if ask_sz[row, 0] > 0.0 else np.nan
    qty, limit_px = child_order_nb(pace, aggr, j, n_steps, es[E_QTY], fs[K.F_FILLED], lot, side, bid, ask, tick,
                                   ec[C_PASSIVE], ec[C_CROSS])  # fmt: skip
    t_j = ei[EI_START] + j * ei[EI_INTERVAL]
    t_next = t_j + ei[EI_INTERVAL]
    cap = np.inf
    if ec[C_CAP] > 0.0:
        k0 = np.searchsorted(trade_ts, t_j, side="right")
        k1 = np.searchsorted(trade_ts, t_next, side="right")
        cap = np.floor(ec[C_CAP] * (cum_vol[k1] - cum_vol[k0]) / lot + 1e-9) * lot
    fs[K.F_STEP_NOTIONAL] = 0.0
    fs[K.F_STEP_QTY] = 0.0
    fs[K.F_STEP_FEES] = 0.0
    fs[K.F_CAP] = cap
    ist[K.I_STEP] = j
    if ei[EI_LATENCY] > 0:  # the old order may still fill in flight
        _advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side,
                 halt_start, halt_end, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
                 fs, ist, pp, fills_f, fills_i, t_j + ei[EI_LATENCY])  # fmt: skip
    qty = min(qty, remaining_qty(fs, es))
    if not np.isnan(limit_px):  # both sides empty: the resting order (if any) stays as it is
        halted = K.in_halt(halt_start, halt_end, ist[K.I_NOW])
        K.submit(own_px, own_sz, opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, limit_px, halted)
        if qty > 0.0:
            es[E_N_CHILD] += 1.0
    _advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side,
             halt_start, halt_end, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
             fs, ist, pp, fills_f, fills_i, t_next)  # fmt: skip
    filled_in_step = fs[K.F_STEP_QTY]
    es[E_FILL_RATIO] = min(filled_in_step / qty, 1.0) if qty > 0.0 else 0.0
    penalty = 0.0
    if j == n_steps - 1:
        left = remaining_qty(fs, es)
        if left > 0.0:
            es[E_HALT_LIQ] = 1.0 if K.in_halt(halt_start, halt_end, ist[K.I_NOW]) else 0.0
            es[E_FORCED] = left
            penalty = ec[C_PENALTY] * left / es[E_QTY]
            K.liquidate(opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, left)
        else:
            fs[K.F_ORD_QTY] = 0.0
    mid_next = fs[K.F_LAST_MID] + K.impact_offset(fs, ist, pp, ist[K.I_NOW])
    notional = fs[K.F_STEP_NOTIONAL]
    step_qty = fs[K.F_STEP_QTY]
    fees = fs[K.F_STEP_FEES]
    if ec[C_MTM] > 0.0:
        rem = remaining_qty(fs, es)
        cost = side * (notional - es[E_MID] * step_qty + rem * (mid_next - es[E_MID])) + fees
    else:
        cost = side * (notional - es[E_ARRIVAL] * step_qty) + fees
    reward = -cost * es[E_SCALE] - penalty
    es[E_MID] = mid_next
    ei[EI_STEP] = j + 1
    es[E_TOTAL] += reward
    es[E_REWARD] = reward
    if obs.shape[0] > 0:
        write_obs(book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill, fs, ist, pp,
                  fills_f, fills_i, es, ei, obs)  # fmt: skip
        for i in range(obs.shape[0]):
            if not (OBS_LOW[i] <= obs[i] <= OBS_HIGH[i]):
                return STEP_BAD_OBS, 0
    return STEP_OK, 0


@njit(cache=True, _nrt=False)
def write_obs(book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill, fs, ist, pp,
              fills_f, fills_i, es, ei, obs):  # fmt: skip
    n = ei[EI_NSTEPS]
    j = ei[EI_STEP]
    q = es[E_QTY]
    rem = remaining_qty(fs, es)
    executed = 1.0 - rem / q
    write_observation(
        obs, book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill,
        ist[K.I_BOOK], ist[K.I_NOW], pp[K.P_SIDE], pp[K.P_TICK], (n - j) / n, rem / q, executed - j / n,
        es[E_FILL_RATIO], q / n, rem, fills_f, fills_i, ist[K.I_NFILLS], pp, ei[EI_START],
        K.depletion(fs, ist, pp, ist[K.I_NOW]), ist[K.I_TRADE], min(fs[K.F_ORD_QTY] / q, 1.0), fs[K.F_ORD_QA],
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Indexed read-outs for the batched env: the same numbers as above, found without scanning
# ---------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False, inline="always")
def count_le(arr, grid, g0, gstep, t):
    """Number of elements of the sorted ``arr`` that are ``<= t``, read from its time index
    ``grid`` (``grid[k]`` = elements ``<= g0 + k * gstep``; see :func:`time_index`): O(1) plus a
    search inside one cell of the index."""
    if t < g0:
        lo = 0
        hi = grid[0]
    else:
        k = (t - g0) // gstep
        if k >= grid.shape[0] - 1:
            lo = grid[grid.shape[0] - 1]
            hi = arr.shape[0]
        else:
            lo = grid[k]
            hi = grid[k + 1]
    # arr[:lo] <= t < arr[hi:]
    while hi - lo > 8:
        m = (lo + hi) // 2
        if arr[m] <= t:
            lo = m + 1
        else:
            hi = m
    while lo < hi and arr[lo] <= t:
        lo += 1
    return lo


def time_index(arr: np.ndarray, per_cell: float = 2.0) -> tuple[np.ndarray, int, int]:
    """The time index of the sorted int64 ``arr`` for :func:`count_le`: ``(grid, g0, gstep)`` with
    cells of about ``per_cell`` elements on average."""
    if arr.size == 0:
        return np.zeros(1, dtype=np.int64), 0, 1
    g0 = int(arr[0])
    span = int(arr[-1]) - g0
    gstep = max(1, int(span * per_cell / arr.size))
    n = span // gstep + 2
    grid = np.searchsorted(arr, g0 + np.arange(n, dtype=np.int64) * gstep, side="right").astype(np.int64)
    return grid, g0, gstep


# the lookback ring of the batched env: one row per decision time u (``start + u * interval``),
# holding what the observation needs at that time once it is final (see write_obs_indexed)
R_TU = 0  # u of the replay record below (NaN: none)
R_MR = 1  # replay mid at u (mid_ffill of the book row in force; NaN before the first two-sided row)
R_CB = 2  # cum_buy of the trades at or before u
R_CS = 3  # cum_sell of them
R_MU = 4  # u of the seen mid below
R_M = 5  # mid the agent saw at u: replay mid plus the impact of its fills up to u
R_LRU = 6  # u of the squared log return below
R_LR = 7  # _log_ret(seen mid at u + P, seen mid at u) ** 2, P decisions per 30 s
N_RING = 8
LOOKBACK_NS = 30_000_000_000


def ring_period(interval_ns: int) -> int:
    """Decisions per 30 s lookback (``P``), or 0 when the decision interval does not divide 30 s
    (then every lookback is searched)."""
    return LOOKBACK_NS // interval_ns if LOOKBACK_NS % interval_ns == 0 else 0


@njit(cache=True, _nrt=False)
def clear_ring(ring):
    for i in range(ring.shape[0]):
        ring[i, R_TU] = np.nan
        ring[i, R_MU] = np.nan
        ring[i, R_LRU] = np.nan


@njit(cache=True, _nrt=False, inline="always")
def write_obs_indexed(book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill,
                      bgrid, bg0, bgstep, tgrid, tg0, tgstep, fs, ist, pp, fills_f, fills_i, es, ei, obs, ring, P):  # fmt: skip
    """:func:`write_obs` (``exec_env.features.write_observation``) for the batched env: the same
    floating-point operations on the same values in the same order, so the same observation
    (tests/test_vector.py compares them with the single env's), but searches of the book and trade
    times go through their time indices (:func:`count_le`), and with ``P > 0`` decisions per 30 s
    every lookback time is a decision time ``u`` of the episode (or before it): what is final about
    it (replay mid, trade volumes, the seen mid and log returns between two past times: fills are
    never stamped before the decision they follow) is kept in ``ring`` (``R_*`` columns, row
    ``u % len(ring)``, cleared by :func:`clear_ring` at the start) and computed once."""
    n = ei[EI_NSTEPS]
    j = ei[EI_STEP]
    q = es[E_QTY]
    rem = remaining_qty(fs, es)
    executed = 1.0 - rem / q
    row = ist[K.I_BOOK]  # the last row at or before now (what count_le(book_ts, now) - 1 gives)
    now = ist[K.I_NOW]
    side = pp[K.P_SIDE]
    tick = pp[K.P_TICK]
    start = ei[EI_START]
    n_fills = ist[K.I_NFILLS]
    slice_qty = q / n
    resting_fraction = min(fs[K.F_ORD_QTY] / q, 1.0)
    s = LOOKBACK_NS
    out = obs
    out[0] = (n - j) / n
    out[1] = rem / q
    out[2] = executed - j / n
    out[3] = es[E_FILL_RATIO]
    out[4] = side
    write_book_features(out, bid_px, bid_sz, ask_px, ask_sz, row, tick, side)
    # the mid the agent saw now and 30, 60, ..., 300 s ago
    mr_now = np.nan if row < 0 else mid_ffill[row]
    mid_now = mr_now
    if n_fills > 0 and now >= start:
        mid_now += K.impact_at(fills_f, fills_i, n_fills, pp, now)
    k1 = ist[K.I_TRADE]  # the trades at or before now
    acc = 0.0
    prev = mid_now
    m30 = np.nan
    if P > 0:
        size = ring.shape[0]
        u_now = j
        slot_now = u_now % size  # rows of u_now - i * P: slot_now - i * P (mod size), without dividing
        rec = ring[slot_now]
        rec[R_TU] = u_now
        rec[R_MR] = mr_now
        rec[R_CB] = cum_buy[k1]
        rec[R_CS] = cum_sell[k1]
        for i in range(1, 11):
            t = now - i * s
            u = u_now - i * P
            slot = slot_now - i * P
            rec = ring[slot + size if slot < 0 else slot]
            if rec[R_TU] != u:
                r = count_le(book_ts, bgrid, bg0, bgstep, t) - 1
                k = count_le(trade_ts, tgrid, tg0, tgstep, t)
                rec[R_TU] = u
                rec[R_MR] = np.nan if r < 0 else mid_ffill[r]
                rec[R_CB] = cum_buy[k]
                rec[R_CS] = cum_sell[k]
            if rec[R_MU] == u:
                m = rec[R_M]
            else:
                m = rec[R_MR]
                if n_fills > 0 and t >= start:
                    m += K.impact_at(fills_f, fills_i, n_fills, pp, t)
                rec[R_MU] = u
                rec[R_M] = m
            if i == 1:  # the log return from now is not final
                m30 = m
                lr = _log_ret(prev, m) ** 2
            elif rec[R_LRU] == u:
                lr = rec[R_LR]
            else:
                lr = _log_ret(prev, m) ** 2
                rec[R_LRU] = u
                rec[R_LR] = lr
            acc += lr
            prev = m
        r30 = ring[slot_now - P + size if slot_now < P else slot_now - P]
        r300 = ring[slot_now - 10 * P + size if slot_now < 10 * P else slot_now - 10 * P]
        b30, s30 = r30[R_CB], r30[R_CS]
        b300, s300 = r300[R_CB], r300[R_CS]
    else:
        hi = row + 1
        for i in range(1, 11):
            t = now - i * s
            r = min(count_le(book_ts, bgrid, bg0, bgstep, t), hi) - 1
            hi = r + 1
            m = np.nan if r < 0 else mid_ffill[r]
            if n_fills > 0 and t >= start:
                m += K.impact_at(fills_f, fills_i, n_fills, pp, t)
            if i == 1:
                m30 = m
            acc += _log_ret(prev, m) ** 2
            prev = m
        k0 = min(count_le(trade_ts, tgrid, tg0, tgstep, now - s), k1)
        b30, s30 = cum_buy[k0], cum_sell[k0]
        k0 = min(count_le(trade_ts, tgrid, tg0, tgstep, now - 10 * s), k1)
        b300, s300 = cum_buy[k0], cum_sell[k0]
    out[9] = side * _log_ret(mid_now, m30) * 1e3
    out[10] = side * _log_ret(mid_now, prev) * 1e3
    out[11] = np.sqrt(acc / 10.0) * 1e3
    buy, sell = cum_buy[k1] - b30, cum_sell[k1] - s30
    out[12] = side * (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
    buy, sell = cum_buy[k1] - b300, cum_sell[k1] - s300
    out[13] = side * (buy - sell) / (buy + sell) if buy + sell > 0.0 else 0.0
    far = ask_sz[row, 0] if side > 0 else bid_sz[row, 0]
    out[14] = np.log1p(max(far - K.depletion(fs, ist, pp, now), 0.0) / slice_qty)
    out[15] = np.log1p((buy + sell) / max(rem, slice_qty))
    out[16] = resting_fraction
    out[17] = min(np.log1p(fs[K.F_ORD_QA] / slice_qty), 50.0) if resting_fraction > 0.0 else 0.0
    inside = True
    for i in range(obs.shape[0]):
        inside &= OBS_LOW[i] <= obs[i] <= OBS_HIGH[i]  # False for NaN
    return STEP_OK if inside else STEP_BAD_OBS

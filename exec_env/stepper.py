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

from exec_env.features import OBS_HIGH, OBS_LOW, write_observation
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


@njit(cache=True)
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


@njit(cache=True)
def remaining_qty(fs, es):
    left = es[E_QTY] - fs[K.F_FILLED]
    return 0.0 if abs(left) <= 1e-9 * es[E_QTY] else left


@njit(cache=True)
def fill_bound(book_ts, trade_ts, ist, ei, levels):
    """Fill records a step can write at most: one per trade and per book row it replays, plus a
    sweep and a liquidation over every level and the tail."""
    t_j = ei[EI_START] + ei[EI_STEP] * ei[EI_INTERVAL]
    t_next = t_j + ei[EI_INTERVAL]
    rows = np.searchsorted(book_ts, t_next, side="right") - ist[K.I_BOOK]
    trades = np.searchsorted(trade_ts, t_next, side="right") - ist[K.I_TRADE]
    return rows + trades + 2 * (levels + 2) + 2


@njit(cache=True)
def episode_step(
    book_ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
    cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
    cum_buy, cum_sell, cum_vol, mid_ffill, fs, ist, pp, fills_f, fills_i, es, ei, ec, pace, aggr, obs, room_checked,
):  # fmt: skip
    """One decision of one episode. Returns (status, need): STEP_OK, or STEP_NEED_ROOM with the
    number of fill records needed (nothing was done), or STEP_BAD_OBS (the step was done).
    ``room_checked``: the caller already made sure the fill buffers hold :func:`fill_bound` more."""
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
        K.advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side,
                  halt_start, halt_end, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
                  fs, ist, pp, fills_f, fills_i, t_j + ei[EI_LATENCY])  # fmt: skip
    qty = min(qty, remaining_qty(fs, es))
    if not np.isnan(limit_px):  # both sides empty: the resting order (if any) stays as it is
        halted = K.in_halt(halt_start, halt_end, ist[K.I_NOW])
        K.submit(own_px, own_sz, opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, limit_px, halted)
        if qty > 0.0:
            es[E_N_CHILD] += 1.0
    K.advance(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, trade_px, trade_sz, trade_side,
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


@njit(cache=True)
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

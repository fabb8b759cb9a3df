"""Compiled matching and accounting kernels (numba). No Python objects, no per-event allocation.

The market model is described in ``docs/market_model.md``; in short:

* **One price frame.** The replayed book is shifted by the impact offset ``I(t)`` (permanent plus
  transient, signed: our buying moves prices up). The agent's orders carry absolute prices in that
  shifted frame. A resting order fills at exactly its limit; a marketable order's every unit is
  priced at or better than its limit.
* **Every unit pays the impact of the units before it, once.** Inside one sweep the marginal price
  of the ``u``-th unit taken at a level of replay price ``p`` is ``p + I0 + s*g*u`` (``s`` the
  side sign, ``I0`` the offset before the sweep, ``g = gamma + eta * sum(w)`` the instantaneous
  impact per unit), so a fill of ``q`` units at that level costs the integral
  ``q*(p + I0) + s*g*(u*q + q**2/2)``, recorded as its average price. After the fill the
  permanent offset has grown by ``gamma*q`` and each transient component by ``eta*w_m*q``.
* **Liquidity is depleted per side**, not per price: ``D(t)`` units of the opposite side that the
  agent took, decaying as ``exp(-dt/resilience)``. A sweep starts ``D`` units deep into the
  cumulative opposite depth, so a book that moves a tick does not hand the agent fresh liquidity.
* **Beyond the recorded levels** (``LIQ_BOOK``): levels continue on the tick grid past the deepest
  recorded price, each holding the mean size of the recorded levels of that row (the "profile
  tail"), so an immediate block's average price worsens without bound as it grows.
  ``LIQ_SQRT``: for sources without depth, the displayed sizes are ignored and the marginal
  concession at cumulative depth ``x`` is ``k*sqrt(x)`` (square-root law).
* Passive fills come only from market trades at or through the order's price (after the queue
  ahead) and from the opposite side reaching the order's price (net of depletion).

State lives in small arrays owned by :class:`exec_env.sim.simulator.ExecutionSimulator`:
``fs`` float64 state (indices ``F_*``), ``ist`` int64 state (``I_*``), ``pp`` float64 parameters
(``P_*``), fill records ``fills_f`` (``FILL_*``) and ``fills_i`` (``FILLI_*``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_TRANSIENT = 8  # transient components (1 for an exponential kernel, up to 8 for a power law)

# --- float state -----------------------------------------------------------------------------
F_CASH = 0  # signed cash: buys pay, sells receive; fees are paid from cash
F_INV = 1  # signed inventory change from fills (+ bought, - sold)
F_FEES = 2  # fees paid (negative = rebates received)
F_FILLED = 3  # unsigned quantity filled in the episode
F_ORD_PX = 4  # resting order limit price (absolute, impacted frame)
F_ORD_QTY = 5  # resting order remaining quantity (0 = no order)
F_ORD_QA = 6  # resting order queue ahead
F_PERM = 7  # permanent impact offset (price units, signed)
F_ORD_LVL = 8  # displayed size at the resting order's level at the last book row, less trades there since
F_LAST_MID = 9  # last valid replay-frame mid
F_STEP_NOTIONAL = 10  # sum of price * qty since the start of the decision step
F_STEP_QTY = 11
F_STEP_FEES = 12
F_NOTIONAL = 13  # sum of price * qty in the episode
F_BEYOND_QTY = 14  # quantity filled beyond the recorded levels
F_TAKER_QTY = 15
F_MAKER_QTY = 16
F_DEP = 17  # opposite-side depletion (units) at I_DEP_TS
F_CAP = 18  # fills still allowed by the participation cap in this step (inf without a cap)
F_BEYOND_SWEEPS = 19  # number of sweeps that went past the recorded levels
F_TR0 = 20  # transient components at I_TRANS_TS, F_TR0 .. F_TR0 + MAX_TRANSIENT - 1
N_FSTATE = F_TR0 + MAX_TRANSIENT

# --- int state -------------------------------------------------------------------------------
I_BOOK = 0  # index of the book row in effect (last row with ts <= now)
I_TRADE = 1  # index of the next unprocessed trade
I_NOW = 2  # simulator clock, ns
I_NFILLS = 3  # number of fill records written
I_TRANS_TS = 4  # time of the transient impact state
I_STEP = 5  # decision step index written into fill records
I_DEP_TS = 6  # time of the depletion state
I_CANCEL = 7  # index of the next unprocessed order-level cancellation
I_JOIN = 8  # time the resting order joined its queue (order-level queue model)
N_ISTATE = 9

# --- parameters ------------------------------------------------------------------------------
P_SIDE = 0  # +1 buy, -1 sell
P_TICK = 1
P_MAKER_BPS = 2
P_TAKER_BPS = 3
P_RESIL_NS = 4  # depletion recovery time constant, ns (0 = instant recovery)
P_PERM = 5  # gamma: permanent impact, price units per unit traded
P_TRANS = 6  # eta: transient impact, price units per unit traded (times the kernel weights)
P_NTR = 7  # number of transient components in use
P_LOT = 8  # lot size: quantities are taken in whole lots
P_LIQ = 9  # LIQ_BOOK or LIQ_SQRT
P_SQRT_K = 10  # square-root concession coefficient k (price units per sqrt(unit))
P_QUEUE = 11  # QUEUE_* below
P_QUEUE_N = 12  # exponent of the power-law queue model
P_TRW0 = 13  # transient weights w_m, P_TRW0 .. + MAX_TRANSIENT - 1
P_TRTAU0 = P_TRW0 + MAX_TRANSIENT  # transient time constants, ns
N_PARAMS = P_TRTAU0 + MAX_TRANSIENT

LIQ_BOOK = 0.0
LIQ_SQRT = 1.0
QUEUE_CONSERVATIVE = 0.0
QUEUE_POWER = 1.0
QUEUE_LOG = 2.0
QUEUE_ORDER = 3.0  # order-level: cancellations of orders that entered before us advance us

# --- fill records ----------------------------------------------------------------------------
FILL_PX = 0  # price paid per unit (average over the units of the record)
FILL_QTY = 1
FILL_FEE = 2
FILL_LIMIT = 3  # the order's limit price; for the forced liquidation, the deepest price reached
FILL_LIQ = 4  # LIQ_* flags below
FILL_PERM_AFTER = 5  # permanent impact offset after this record's sweep (for impact_at)
FILL_TR_AFTER = 6  # transient components after it, FILL_TR_AFTER .. + MAX_TRANSIENT - 1
FILL_COLS = FILL_TR_AFTER + MAX_TRANSIENT
FILLI_TS = 0  # int64 ns
FILLI_STEP = 1
FILLI_COLS = 2
LIQ_MAKER = 0.0
LIQ_TAKER = 1.0
LIQ_FORCED = 2.0  # forced liquidation at the horizon (taker)
LIQ_BEYOND = 3.0  # taken beyond the recorded levels (profile tail)

STATUS_DONE = 0
STATUS_FULL = 1  # fill buffer full: grow it and call again (state is consistent)

_BIG = 1e300
_EPS = 1e-9
_HALF = 0.5 - 1e-6
"""Half a tick, less a hair: a replayed price exactly half a tick from the agent's shifted limit (an
impact offset of k + 1/2 ticks) is neither at our level nor short of it but through it, for a buy and
for a sell alike, whatever the rounding of the two subtractions."""


@njit(cache=True, _nrt=False, inline="always")
def impact_offset(fs, ist, pp, now):
    """Signed price offset of the impact model at ``now``: permanent plus decayed transient."""
    total = fs[F_PERM]
    dt = float(now - ist[I_TRANS_TS])
    for m in range(int(pp[P_NTR])):
        x = fs[F_TR0 + m]
        if x != 0.0:
            total += x * np.exp(-dt / pp[P_TRTAU0 + m])
    return total


@njit(cache=True, _nrt=False, inline="always")
def impact_at(fills_f, fills_i, n, pp, t):
    """The impact offset at an earlier time ``t``, exact: the impact state recorded with the last
    fill at or before ``t`` (the state after that fill's sweep), decayed to ``t``. O(log n)."""
    if n == 0 or fills_i[0, FILLI_TS] > t:
        return 0.0
    # the last index with ts <= t, searched backwards from the newest fill (galloping: the times
    # asked for are mostly recent, often after every fill)
    lo, hi = n - 1, n
    step = 1
    while fills_i[lo, FILLI_TS] > t:  # fills_i[0] <= t stops it
        hi = lo
        lo = max(lo - step, 0)
        step *= 2
    while hi - lo > 1:  # fills_i[lo] <= t < fills_i[hi] (hi == n: none after)
        mid = (lo + hi) // 2
        if fills_i[mid, FILLI_TS] <= t:
            lo = mid
        else:
            hi = mid
    total = fills_f[lo, FILL_PERM_AFTER]
    dt = float(t - fills_i[lo, FILLI_TS])
    for m in range(int(pp[P_NTR])):
        x = fills_f[lo, FILL_TR_AFTER + m]
        if x != 0.0:
            total += x * np.exp(-dt / pp[P_TRTAU0 + m])
    return total


@njit(cache=True, _nrt=False, inline="always")
def instant_rate(pp):
    """``g``: the price move per unit traded at the instant of the trade."""
    g = pp[P_PERM]
    for m in range(int(pp[P_NTR])):
        g += pp[P_TRANS] * pp[P_TRW0 + m]
    return g


@njit(cache=True, _nrt=False, inline="always")
def _apply_impact(fs, ist, pp, now, signed_qty, fills_f, n):
    """Add the impact of ``signed_qty`` traded at ``now``; the resulting state is recorded with
    fill record ``n - 1`` (the last of the sweep) for :func:`impact_at`."""
    dt = float(now - ist[I_TRANS_TS])
    for m in range(int(pp[P_NTR])):
        x = fs[F_TR0 + m]
        if x != 0.0:
            x *= np.exp(-dt / pp[P_TRTAU0 + m])
        x += pp[P_TRANS] * pp[P_TRW0 + m] * signed_qty
        fs[F_TR0 + m] = x
        fills_f[n - 1, FILL_TR_AFTER + m] = x
    ist[I_TRANS_TS] = now
    fs[F_PERM] += pp[P_PERM] * signed_qty
    fills_f[n - 1, FILL_PERM_AFTER] = fs[F_PERM]


@njit(cache=True, _nrt=False)
def add_impact(fs, ist, pp, now, signed_qty):
    """Add the impact of ``signed_qty`` traded elsewhere at ``now`` (e.g. on another venue) to the
    state, without a fill record: :func:`impact_at` sees it only after this simulator's next fill."""
    dt = float(now - ist[I_TRANS_TS])
    for m in range(int(pp[P_NTR])):
        x = fs[F_TR0 + m]
        if x != 0.0:
            x *= np.exp(-dt / pp[P_TRTAU0 + m])
        fs[F_TR0 + m] = x + pp[P_TRANS] * pp[P_TRW0 + m] * signed_qty
    ist[I_TRANS_TS] = now
    fs[F_PERM] += pp[P_PERM] * signed_qty


@njit(cache=True, _nrt=False, inline="always")
def depletion(fs, ist, pp, now):
    """Units of the opposite side the agent took that have not recovered at ``now``."""
    tau = pp[P_RESIL_NS]
    d = fs[F_DEP]
    if tau <= 0.0 or d <= 0.0:
        return 0.0
    return d * np.exp(-float(now - ist[I_DEP_TS]) / tau)


@njit(cache=True, _nrt=False, inline="always")
def _deplete(fs, ist, pp, now, d, take):
    """``take`` more units depleted at ``now``, where the depletion was ``d``."""
    if pp[P_RESIL_NS] <= 0.0 or take <= 0.0:
        return
    fs[F_DEP] = d + take
    ist[I_DEP_TS] = now


@njit(cache=True, _nrt=False, inline="always")
def _lots(q, lot):
    """``q`` rounded down to whole lots (float residue of 1e-9 lot forgiven)."""
    if q <= 0.0:
        return 0.0
    return np.floor(q / lot + _EPS) * lot


@njit(cache=True, _nrt=False, inline="always")
def _left(qty, taken, lot):
    """``qty - taken`` of whole-lot quantities, float residue below a millionth of a lot snapped to 0."""
    left = qty - taken
    return 0.0 if left < 1e-6 * lot else left


@njit(cache=True, _nrt=False, inline="always")
def _record_fill(fs, ist, pp, fills_f, fills_i, now, px, qty, limit_px, fee_bps, liq, impact):
    """Book one fill of ``qty`` at average price ``px``; ``impact`` applies its impact after."""
    side = pp[P_SIDE]
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
    if liq != LIQ_FORCED:
        fs[F_CAP] -= qty
    if liq == LIQ_MAKER:
        fs[F_MAKER_QTY] += qty
    else:
        fs[F_TAKER_QTY] += qty
    n = ist[I_NFILLS]
    fills_f[n, FILL_PX] = px
    fills_f[n, FILL_QTY] = qty
    fills_f[n, FILL_FEE] = fee
    fills_f[n, FILL_LIMIT] = limit_px
    fills_f[n, FILL_LIQ] = liq
    fills_i[n, FILLI_TS] = now
    fills_i[n, FILLI_STEP] = ist[I_STEP]
    ist[I_NFILLS] = n + 1
    if impact:
        _apply_impact(fs, ist, pp, now, side * qty, fills_f, n + 1)


@njit(cache=True, _nrt=False, inline="always")
def in_halt(halt_start, halt_end, t):
    """Is ``t`` inside a trading halt ``[start, end)``? (sorted, non-overlapping intervals)"""
    n = halt_start.shape[0]
    if n == 0:
        return False
    i = np.searchsorted(halt_start, t, side="right") - 1
    return i >= 0 and t < halt_end[i]


# ---------------------------------------------------------------------------------------------
# Taking liquidity
# ---------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False)
def _tail_depth(opp_sz, row, lot):
    """Depth per tick beyond the recorded levels: the mean recorded level size of this row (of
    the last row where the side was not empty), at least one lot."""
    total = 0.0
    n = 0
    for j in range(opp_sz.shape[1]):
        if opp_sz[row, j] <= 0.0:
            break
        total += opp_sz[row, j]
        n += 1
    if n > 0:
        return max(total / n, lot)
    for r in range(row - 1, -1, -1):  # an empty side (rare): the last row that had one
        if opp_sz[r, 0] > 0.0:
            return _tail_depth(opp_sz, r, lot)
    return lot


@njit(cache=True, _nrt=False, inline="always")
def _max_units(side, limit_px, price, g, u):
    """Units that can still be taken at a level of impacted price ``price`` when ``u`` units of
    this sweep went before, so that the marginal unit stays at or better than the limit."""
    room = side * (limit_px - price)
    if room < -_EPS:
        return 0.0
    if g <= 0.0:
        return _BIG
    return max((room + _EPS) / g - u, 0.0)


@njit(cache=True, _nrt=False)
def _sweep_book(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, qty, limit_px, liq, now, d, record):
    """Walk the shifted opposite book, then its profile tail, from depletion depth ``d`` (the
    depletion at ``now``). Returns the quantity taken; with ``record`` False only counts it."""
    side = pp[P_SIDE]
    tick = pp[P_TICK]
    lot = pp[P_LOT]
    i0 = impact_offset(fs, ist, pp, now)
    g = instant_rate(pp)
    rem = qty
    u = 0.0  # units of this sweep so far
    cum = 0.0  # cumulative recorded depth up to the current level
    last_px = np.nan
    blocked = False
    for j in range(opp_px.shape[1]):
        if rem <= 0.0 or opp_sz[row, j] <= 0.0:
            break
        lo = cum
        cum += opp_sz[row, j]
        last_px = opp_px[row, j]
        if cum <= d + _EPS:
            continue
        price = opp_px[row, j] + i0
        avail = cum - max(lo, d)
        n_lim = _max_units(side, limit_px, price, g, u)
        take = _lots(min(avail, rem, n_lim), lot)
        if take <= 0.0:
            if n_lim < avail:
                blocked = True
                break
            continue
        if record:
            avg = price + side * g * (u + 0.5 * take)
            lim = limit_px if abs(limit_px) < _BIG else price + side * g * (u + take)
            _record_fill(fs, ist, pp, fills_f, fills_i, now, avg, take, lim, pp[P_TAKER_BPS], liq, False)
        u += take
        rem -= take
        if n_lim <= take + _EPS and rem > 0.0:
            blocked = True
            break
    if rem > 0.0 and not blocked:
        # the profile tail: levels on the tick grid past the deepest recorded price
        depth = _tail_depth(opp_sz, row, lot)
        if np.isnan(last_px):  # empty side: the tail starts one tick past the last valid mid
            mid = fs[F_LAST_MID]
            if side > 0:
                last_px = np.ceil(mid / tick - _EPS) * tick
            else:
                last_px = np.floor(mid / tick + _EPS) * tick
            last_px -= side * tick
        pos = max(d - cum, 0.0)  # depletion reaching into the tail
        k = int(np.floor(pos / depth + _EPS))
        within = pos - k * depth
        notional = 0.0
        taken = 0.0
        deepest = np.nan
        while rem > 0.0:
            k += 1
            price = last_px + side * k * tick + i0
            avail = depth - within
            within = 0.0
            n_lim = _max_units(side, limit_px, price, g, u)
            take = _lots(min(avail, rem, n_lim), lot)
            if take > 0.0:
                notional += take * (price + side * g * (u + 0.5 * take))
                taken += take
                u += take
                rem -= take
                deepest = price + side * g * u
            if n_lim < avail or take <= 0.0:
                break
        if taken > 0.0 and record:
            lim = limit_px if abs(limit_px) < _BIG else deepest
            _record_fill(fs, ist, pp, fills_f, fills_i, now, notional / taken, taken, lim, pp[P_TAKER_BPS],
                         LIQ_BEYOND, False)  # fmt: skip
            fs[F_BEYOND_QTY] += taken
            fs[F_BEYOND_SWEEPS] += 1.0
    return u


@njit(cache=True, _nrt=False)
def _sweep_sqrt(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, qty, limit_px, liq, now, d, record):
    """Square-root liquidity: marginal price ``touch + I0 + s*(k*sqrt(d + u) + g*u)`` (``d`` the
    depletion at ``now``)."""
    side = pp[P_SIDE]
    tick = pp[P_TICK]
    if opp_sz[row, 0] > 0.0:
        touch = opp_px[row, 0]
    else:
        mid = fs[F_LAST_MID]
        touch = np.ceil(mid / tick - _EPS) * tick if side > 0 else np.floor(mid / tick + _EPS) * tick
    i0 = impact_offset(fs, ist, pp, now)
    g = instant_rate(pp)
    k = pp[P_SQRT_K]
    room = side * (limit_px - touch - i0)
    if room < -_EPS:
        return 0.0
    # largest t with k*sqrt(d + t) + g*t <= room: with s = sqrt(d + t), g*s^2 + k*s - (room + g*d) <= 0
    if g > 0.0:
        s = (-k + np.sqrt(k * k + 4.0 * g * (room + g * d))) / (2.0 * g)
    elif k > 0.0:
        s = room / k
    else:
        s = _BIG
    n_lim = s * s - d if s < 1e150 else _BIG
    take = _lots(min(qty, max(n_lim + _EPS, 0.0)), pp[P_LOT])
    if take <= 0.0:
        return 0.0
    conc = k * (2.0 / 3.0) * ((d + take) ** 1.5 - d**1.5) / take
    avg = touch + i0 + side * (conc + 0.5 * g * take)
    if not record:
        return take
    lim = limit_px if abs(limit_px) < _BIG else touch + i0 + side * (k * np.sqrt(d + take) + g * take)
    _record_fill(fs, ist, pp, fills_f, fills_i, now, avg, take, lim, pp[P_TAKER_BPS], liq, False)
    return take


@njit(cache=True, _nrt=False, inline="always")
def _take(opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, limit_px, liq, now, capped):
    """Marketable part of an order: take up to ``qty`` at prices no worse than ``limit_px``;
    deplete the side and apply the sweep's impact. Returns the quantity taken."""
    want = min(qty, fs[F_CAP]) if capped else qty
    want = _lots(want, pp[P_LOT]) if want < qty else want
    if want <= 0.0:
        return 0.0
    row = ist[I_BOOK]
    d = depletion(fs, ist, pp, now)  # the sweep records fills without impact: d holds until it ends
    if pp[P_LIQ] == LIQ_SQRT:
        taken = _sweep_sqrt(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, want, limit_px, liq, now, d, True)
    else:
        taken = _sweep_book(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, want, limit_px, liq, now, d, True)
    if taken > 0.0:
        _deplete(fs, ist, pp, now, d, taken)
        _apply_impact(fs, ist, pp, now, pp[P_SIDE] * taken, fills_f, ist[I_NFILLS])
    return taken


# ---------------------------------------------------------------------------------------------
# Resting orders
# ---------------------------------------------------------------------------------------------


@njit(cache=True, _nrt=False)
def _own_level_size(own_px, own_sz, row, replay_px, side, half):
    """Displayed own-side size at replay price ``replay_px``: -1 if it is better than the best
    (nobody ahead), -2 if deeper than the recorded levels (unknown), else the size (0 if none)."""
    if own_sz[row, 0] <= 0.0:
        return -1.0
    if side * (replay_px - own_px[row, 0]) > half:
        return -1.0
    deepest = -1
    for j in range(own_px.shape[1]):
        if own_sz[row, j] <= 0.0:
            break
        deepest = j
        if abs(own_px[row, j] - replay_px) < half:
            return own_sz[row, j]
    if deepest == own_px.shape[1] - 1 and side * (own_px[row, deepest] - replay_px) > half:
        return -2.0
    return 0.0


@njit(cache=True, _nrt=False)
def _queue_prob(qa, behind, pp):
    """Probability that a cancellation at our level was ahead of us."""
    model = pp[P_QUEUE]
    if model == QUEUE_POWER:
        n = pp[P_QUEUE_N]
        fa = qa**n
        fb = behind**n
    elif model == QUEUE_LOG:
        fa = np.log1p(qa)
        fb = np.log1p(behind)
    else:
        return 0.0
    if fa + fb <= 0.0:
        return 0.0
    return fa / (fa + fb)


@njit(cache=True, _nrt=False)
def _update_queue(own_px, own_sz, row, fs, ist, pp, now):
    """A new book row: cancellations ahead advance us (by model), and the queue ahead never
    exceeds the size displayed at our price."""
    side = pp[P_SIDE]
    half = _HALF * pp[P_TICK]
    replay_px = fs[F_ORD_PX] - impact_offset(fs, ist, pp, now)
    size = _own_level_size(own_px, own_sz, row, replay_px, side, half)
    qa = fs[F_ORD_QA]
    if size == -1.0:
        qa = 0.0
        size = 0.0
    elif size == -2.0:
        return  # deeper than the recorded book: unknown, keep
    else:
        prev = fs[F_ORD_LVL]
        if prev >= 0.5 * _BIG:
            prev = size  # the level was beyond the recorded book: no cancellation information
        if size < prev and qa > 0.0:
            behind = max(prev - qa, 0.0)
            qa -= (prev - size) * _queue_prob(qa, behind, pp)
        qa = min(max(qa, 0.0), size)
    fs[F_ORD_QA] = qa
    fs[F_ORD_LVL] = size


@njit(cache=True, _nrt=False)
def _cross_resting(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, now):
    """The shifted opposite side reaches the resting order's price: its sellers (buyers) at or
    through our limit trade with us at our limit. The quantity is what a sweep limited to our
    price could take now (net of depletion, marginal impacted price within the limit)."""
    rem = fs[F_ORD_QTY]
    side = pp[P_SIDE]
    limit_px = fs[F_ORD_PX]
    if opp_sz[row, 0] <= 0.0 or side * (limit_px - (opp_px[row, 0] + impact_offset(fs, ist, pp, now))) < -_EPS:
        return
    want = _lots(min(rem, fs[F_CAP]), pp[P_LOT])
    if want <= 0.0:
        return
    d = depletion(fs, ist, pp, now)  # a maker fill moves the impact, not the depletion
    if pp[P_LIQ] == LIQ_SQRT:
        take = _sweep_sqrt(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, want, limit_px, LIQ_MAKER, now, d, False)
    else:
        take = _sweep_book(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, want, limit_px, LIQ_MAKER, now, d, False)
    if take <= 0.0:
        return
    _record_fill(fs, ist, pp, fills_f, fills_i, now, limit_px, take, limit_px, pp[P_MAKER_BPS], LIQ_MAKER, True)
    _deplete(fs, ist, pp, now, d, take)
    fs[F_ORD_QTY] = _left(rem, take, pp[P_LOT])


@njit(cache=True, _nrt=False)
def _match_trade(k, trade_ts, trade_px, trade_sz, trade_side, fs, ist, pp, fills_f, fills_i):
    """A market trade fills a resting order at its limit after the queue ahead when it prints at
    our (shifted) price, or at once when it prints through it. Only an aggressor on the other side
    (or an unknown one) fills us."""
    rem = fs[F_ORD_QTY]
    if rem <= 0.0:
        return
    side = pp[P_SIDE]
    aggressor = trade_side[k]
    if aggressor != 0 and aggressor != -side:
        return
    now = trade_ts[k]
    half = _HALF * pp[P_TICK]
    limit_px = fs[F_ORD_PX]
    px = trade_px[k] + impact_offset(fs, ist, pp, now)
    size = trade_sz[k]
    if abs(px - limit_px) < half:
        qa = fs[F_ORD_QA]
        eaten = min(qa, size)
        fs[F_ORD_QA] = qa - eaten
        fs[F_ORD_LVL] = max(fs[F_ORD_LVL] - size, 0.0)
        size -= eaten
    elif side * (limit_px - px) >= half:
        fs[F_ORD_QA] = 0.0  # the aggressor went through our price: nothing ahead of us is left
    else:
        return
    take = _lots(min(rem, size, fs[F_CAP]), pp[P_LOT])
    if take <= 0.0:
        return
    _record_fill(fs, ist, pp, fills_f, fills_i, now, limit_px, take, limit_px, pp[P_MAKER_BPS], LIQ_MAKER, True)
    fs[F_ORD_QTY] = _left(rem, take, pp[P_LOT])


@njit(cache=True, _nrt=False, inline="always")
def first_after(arr, lo, t):
    """First index ``>= lo`` of the sorted ``arr`` whose value is ``> t`` (``arr[:lo] <= t``),
    searched forwards from ``lo`` (galloping: O(log distance), cache-local)."""
    n = arr.shape[0]
    if lo >= n or arr[lo] > t:
        return lo
    step = 1
    a = lo  # arr[a] <= t
    while True:
        b = lo + 2 * step
        if b >= n:
            b = n
            break
        if arr[b] > t:
            break
        a = b
        step *= 2
    while b - a > 1:  # arr[a] <= t, arr[b] > t (or b == n)
        m = (a + b) // 2
        if arr[m] <= t:
            a = m
        else:
            b = m
    return b


@njit(cache=True, _nrt=False)
def _match_cancel(c, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry, fs, ist, pp):
    """Order-level queue model: a cancellation at our price of an order that entered the book
    before we joined (or whose entry is unknown: it was there before the data) was ahead of us."""
    side = pp[P_SIDE]
    if cancel_side[c] != side or cancel_entry[c] >= ist[I_JOIN]:
        return
    replay_px = fs[F_ORD_PX] - impact_offset(fs, ist, pp, cancel_ts[c])
    if abs(cancel_px[c] - replay_px) < _HALF * pp[P_TICK]:
        fs[F_ORD_QA] = max(fs[F_ORD_QA] - cancel_sz[c], 0.0)


@njit(cache=True, _nrt=False, inline="always")
def skip_to(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, cancel_ts, fs, ist, until):
    """:func:`advance` to ``until`` when no order rests: the events up to ``until`` can only move
    the mid; jump there."""
    row = ist[I_BOOK]
    new_row = first_after(book_ts, row + 1, until) - 1
    if new_row > row:
        for r in range(new_row, row, -1):
            if own_sz[r, 0] > 0.0 and opp_sz[r, 0] > 0.0:
                fs[F_LAST_MID] = 0.5 * (own_px[r, 0] + opp_px[r, 0])
                break
        ist[I_BOOK] = new_row
    ist[I_TRADE] = first_after(trade_ts, ist[I_TRADE], until)
    ist[I_CANCEL] = first_after(cancel_ts, ist[I_CANCEL], until)
    if until > ist[I_NOW]:
        ist[I_NOW] = until


@njit(cache=True, _nrt=False)
def advance(
    book_ts, own_px, own_sz, opp_px, opp_sz,
    trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
    cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry,
    fs, ist, pp, fills_f, fills_i, until,
):  # fmt: skip
    """Replay every event with ``ts <= until`` in time order (at equal times: trades, then
    order-level cancellations, then book rows), matching the resting order; inside a trading halt
    nothing fills. Returns STATUS_FULL if the fill buffers have no room left; the state is then
    consistent and the call can simply be repeated after growing them."""
    n_books = book_ts.shape[0]
    n_trades = trade_ts.shape[0]
    n_cancels = cancel_ts.shape[0]
    cap = fills_f.shape[0]
    row = ist[I_BOOK]
    k = ist[I_TRADE]
    c = ist[I_CANCEL]
    order_level = pp[P_QUEUE] == QUEUE_ORDER
    imax = np.iinfo(np.int64).max
    while True:
        if fs[F_ORD_QTY] <= 0.0:
            ist[I_BOOK] = row
            ist[I_TRADE] = k
            ist[I_CANCEL] = c
            skip_to(book_ts, own_px, own_sz, opp_px, opp_sz, trade_ts, cancel_ts, fs, ist, until)
            return STATUS_DONE
        if ist[I_NFILLS] >= cap:
            ist[I_BOOK] = row
            ist[I_TRADE] = k
            ist[I_CANCEL] = c
            return STATUS_FULL
        tb = book_ts[row + 1] if row + 1 < n_books else imax
        tt = trade_ts[k] if k < n_trades else imax
        tc = cancel_ts[c] if c < n_cancels else imax
        if tt <= tb and tt <= tc:
            if tt > until:
                break
            if not in_halt(halt_start, halt_end, tt):
                _match_trade(k, trade_ts, trade_px, trade_sz, trade_side, fs, ist, pp, fills_f, fills_i)
            k += 1
        elif tc <= tb:
            if tc > until:
                break
            if order_level:
                _match_cancel(c, cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry, fs, ist, pp)
            c += 1
        else:
            if tb > until:
                break
            row += 1
            ist[I_BOOK] = row
            if own_sz[row, 0] > 0.0 and opp_sz[row, 0] > 0.0:
                fs[F_LAST_MID] = 0.5 * (own_px[row, 0] + opp_px[row, 0])
            _update_queue(own_px, own_sz, row, fs, ist, pp, tb)
            if fs[F_ORD_QTY] > 0.0 and not in_halt(halt_start, halt_end, tb):
                _cross_resting(opp_px, opp_sz, row, fs, ist, pp, fills_f, fills_i, tb)
    ist[I_BOOK] = row
    ist[I_TRADE] = k
    ist[I_CANCEL] = c
    if until > ist[I_NOW]:
        ist[I_NOW] = until
    return STATUS_DONE


@njit(cache=True, _nrt=False, inline="always")
def submit(own_px, own_sz, opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, limit_px, halted):
    """Send a limit order of ``qty`` at absolute price ``limit_px`` now, replacing the resting one.

    Keep resting: if an order already rests at ``limit_px``, it is amended in place: a smaller or
    equal quantity keeps its queue place; a larger one re-queues behind the displayed size (as
    exchanges do on a size increase). Otherwise the old order is cancelled, the new order's
    marketable part sweeps the opposite side (subject to the participation cap) and the rest joins
    the queue behind the displayed size. Returns the quantity taken. Needs room for
    ``opp_px.shape[1] + 2`` fill records.
    """
    side = pp[P_SIDE]
    half = _HALF * pp[P_TICK]
    now = ist[I_NOW]
    if fs[F_ORD_QTY] > 0.0 and abs(fs[F_ORD_PX] - limit_px) < half and qty > 0.0:
        if qty <= fs[F_ORD_QTY] + _EPS:
            fs[F_ORD_QTY] = qty
            return 0.0
    fs[F_ORD_QTY] = 0.0
    if qty <= 0.0:
        return 0.0
    rem = qty
    taken = 0.0
    if not halted:  # during a halt the order only joins the book
        taken = _take(opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, limit_px, LIQ_TAKER, now, True)
        rem = _left(qty, taken, pp[P_LOT])
    if rem > _EPS * qty:
        fs[F_ORD_PX] = limit_px
        fs[F_ORD_QTY] = rem
        ist[I_JOIN] = now
        row = ist[I_BOOK]
        size = _own_level_size(own_px, own_sz, row, limit_px - impact_offset(fs, ist, pp, now), side, half)
        if size == -1.0:
            fs[F_ORD_QA] = 0.0
            fs[F_ORD_LVL] = 0.0
        elif size == -2.0:
            fs[F_ORD_QA] = _BIG
            fs[F_ORD_LVL] = _BIG
        else:
            fs[F_ORD_QA] = size
            fs[F_ORD_LVL] = size
    return taken


@njit(cache=True, _nrt=False)
def liquidate(opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty):
    """Forced liquidation of ``qty`` now: cancel the resting order and sweep the opposite side
    with no limit (recorded levels, then the profile tail or the square-root curve); not subject
    to the participation cap. Needs room for ``opp_px.shape[1] + 2`` fill records."""
    fs[F_ORD_QTY] = 0.0
    if qty <= 0.0:
        return
    _take(opp_px, opp_sz, fs, ist, pp, fills_f, fills_i, qty, pp[P_SIDE] * _BIG, LIQ_FORCED, ist[I_NOW], False)

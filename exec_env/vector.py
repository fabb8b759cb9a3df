"""A native batched execution env: N episodes stepped in one compiled call.

The days of the split are copied once into pooled arrays (one block per field, offsets per day),
and :func:`batch_step` runs :func:`exec_env.stepper.episode_step`, the very function the single env
runs, for every episode in a loop compiled with numba. Episodes are drawn by an
:class:`~exec_env.env.ExecutionEnv` built from the same config (its sampler, its RNG), and started
with the same code as the single env, so an episode given the same spec (day, start, side,
quantity) yields the same observations, rewards and fills as in the single env (tested).

Two front ends:

* :class:`ExecutionVectorEnv`: a ``gymnasium.vector.VectorEnv`` with Gymnasium 1.x next-step
  autoreset (the step after an episode ends resets that env and returns its first observation with
  reward 0); ``gymnasium.make_vec("exec_env/Execution-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
* :class:`ExecutionVecEnv`: a stable-baselines3 ``VecEnv`` (reset at once on episode end, the last
  observation in ``infos[i]["terminal_observation"]``), as train.py uses it.

Memory: the pooled copy holds every day of the split in RAM (about 30 MB per synthetic day).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from exec_env import stepper as ST
from exec_env.config import ExecutionConfig
from exec_env.env import _MS, _NS, DISCRETE_GRID, ExecutionEnv, _Episode, episode_quantity, episode_side
from exec_env.features import OBS_DIM, OBS_HIGH, OBS_LOW
from exec_env.market.data import frozen
from exec_env.sim import kernels as K

__all__ = ["BatchedExecution", "ExecutionVecEnv", "ExecutionVectorEnv"]


@intrinsic
def prefetch(typingctx, arr, i, offset):
    """A hint to bring the cache line at byte ``offset`` of ``arr[i]`` (a row of a 2-D or 3-D
    array) into the cache; it reads nothing and never faults (an address outside ``arr`` is
    harmless), so results cannot depend on it."""
    if not (isinstance(arr, types.Array) and isinstance(i, types.Integer) and isinstance(offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty, ity, oty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        stride = builder.extract_value(ary.strides, 0)
        idx = context.cast(builder, args[1], ity, types.intp)
        off = context.cast(builder, args[2], oty, types.intp)
        addr = builder.add(builder.ptrtoint(ary.data, ir.IntType(64)), builder.add(builder.mul(idx, stride), off))
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        # read, keep in all cache levels, data cache
        builder.call(fn, [builder.inttoptr(addr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i, offset), codegen


# per pooled day (``BatchedExecution.dayinfo`` rows, int64): slices of the pooled arrays, the time
# indices of its book and trade times (slice of the pooled ``grid``, origin, cell), the fill bound
D_B0, D_B1, D_T0, D_T1, D_C0, D_C1, D_H0, D_H1, D_X0, D_X1 = range(10)
D_BG0, D_BG1, D_BGT, D_BGS, D_TG0, D_TG1, D_TGT, D_TGS, D_BOUND = range(10, 19)
N_DAYINFO = 19


@njit(cache=True, _nrt=False)
def batch_step(
    ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, trade_px, trade_sz, trade_side, halt_start, halt_end,
    cancel_ts, cancel_px, cancel_sz, cancel_side, cancel_entry, cum_buy, cum_sell, cum_vol, mid_ffill, grid,
    dayinfo, day_of, fs, ist, pp, fills_f, fills_i, es, ei, ec, actions, obs, ring, period, active, status, need,
    tfs, tist, tpp, tfills_f, tfills_i, tes, tei, shadow, ahead,
):  # fmt: skip
    """Step every active episode (and its shadow baseline episode when ``shadow``) with
    :func:`exec_env.stepper.episode_step`, then write its observation; statuses per episode.
    ``ahead``: prefetch distances (episodes ahead) of the state rows, then of the rows in force and
    the time-index cells of the step's end, then of the data at the step's end."""
    empty = obs[0, :0]  # no observation from episode_step: written below
    n = fs.shape[0]
    a_state, a_rows, a_next = ahead[0], ahead[1], ahead[2]
    for e in range(n):
        # the data of episodes a few ahead is brought into the cache while this one computes
        if e + a_state < n:
            _warm_state(e + a_state, fs, ist, pp, es, ei, tfs, tist, tpp, tes, tei, shadow)
        if e + a_rows < n and active[e + a_rows]:
            _warm_rows(e + a_rows, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill,
                       grid, dayinfo, day_of, ist, ei, fills_f, fills_i, ring, period, tist, tfills_f, tfills_i, shadow)  # fmt: skip
        if e + a_next < n and active[e + a_next]:
            _warm_next(e + a_next, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill,
                       grid, dayinfo, day_of, ist, ei)  # fmt: skip
        if not active[e]:
            continue
        di = dayinfo[day_of[e]]
        b0, b1 = di[D_B0], di[D_B1]
        t0, t1 = di[D_T0], di[D_T1]
        c0, c1 = di[D_C0], di[D_C1]
        h0, h1 = di[D_H0], di[D_H1]
        x0, x1 = di[D_X0], di[D_X1]
        # room for both the episode and its shadow before either moves (a step cannot be undone):
        # the day's bound on the fill records of one step (>= stepper.fill_bound)
        nd = ist[e, K.I_NFILLS] + di[D_BOUND]
        if shadow:
            nd = max(nd, tist[e, K.I_NFILLS] + di[D_BOUND])
        room = nd <= fills_f.shape[1]  # a runtime bool: the single env's specialisation of episode_step
        if not room:
            status[e] = ST.STEP_NEED_ROOM
            need[e] = nd
            continue
        day = (
            ts[b0:b1], bid_px[b0:b1], bid_sz[b0:b1], ask_px[b0:b1], ask_sz[b0:b1], trade_ts[t0:t1], trade_px[t0:t1],
            trade_sz[t0:t1], trade_side[t0:t1], halt_start[h0:h1], halt_end[h0:h1], cancel_ts[x0:x1],
            cancel_px[x0:x1], cancel_sz[x0:x1], cancel_side[x0:x1], cancel_entry[x0:x1], cum_buy[c0:c1],
            cum_sell[c0:c1], cum_vol[c0:c1], mid_ffill[b0:b1],
        )  # fmt: skip
        # the shadow episode first, then the agent's: one call site, so one inlined copy of the step
        for k in range(0 if shadow else 1, 2):
            if k == 0:
                state = (tfs[e], tist[e], tpp[e], tfills_f[e], tfills_i[e], tes[e], tei[e])
                pace, aggr = ec[ST.C_SHADOW_PACE], ec[ST.C_SHADOW_AGGR]
            else:
                state = (fs[e], ist[e], pp[e], fills_f[e], fills_i[e], es[e], ei[e])
                pace, aggr = actions[e, 0], actions[e, 1]
            efs, eist, epp, efills_f, efills_i, ees, eei = state
            ST.episode_step(day, efs, eist, epp, efills_f, efills_i, ees, eei, ec, pace, aggr, empty, room)
        status[e] = ST.write_obs_indexed(
            ts[b0:b1], bid_px[b0:b1], bid_sz[b0:b1], ask_px[b0:b1], ask_sz[b0:b1], trade_ts[t0:t1], cum_buy[c0:c1],
            cum_sell[c0:c1], mid_ffill[b0:b1], grid[di[D_BG0] : di[D_BG1]], di[D_BGT], di[D_BGS],
            grid[di[D_TG0] : di[D_TG1]], di[D_TGT], di[D_TGS], fs[e], ist[e], pp[e], fills_f[e], fills_i[e], es[e],
            ei[e], obs[e], ring[e], period,
        )  # fmt: skip
        need[e] = 0


_AHEAD = (12, 8, 4)  # see batch_step (measured with benchmarks/bench_vector.py)


@njit(cache=True, _nrt=False, inline="always")
def _warm_episode(f, fs, ist, pp, es, ei):
    prefetch(ist, f, 0)
    prefetch(ei, f, 0)
    for off in range(0, fs.shape[1] * 8, 64):
        prefetch(fs, f, off)
    for off in range(0, pp.shape[1] * 8, 64):
        prefetch(pp, f, off)
    for off in range(0, es.shape[1] * 8, 64):
        prefetch(es, f, off)


@njit(cache=True, _nrt=False, inline="always")
def _warm_state(f, fs, ist, pp, es, ei, tfs, tist, tpp, tes, tei, shadow):
    _warm_episode(f, fs, ist, pp, es, ei)
    if shadow:
        _warm_episode(f, tfs, tist, tpp, tes, tei)


@njit(cache=True, _nrt=False, inline="always")
def _warm_book_row(ts, bid_px, bid_sz, ask_px, ask_sz, mid_ffill, b):
    prefetch(ts, b, 0)
    prefetch(mid_ffill, b, 0)
    for arr in (bid_px, bid_sz, ask_px, ask_sz):
        prefetch(arr, b, 0)
        prefetch(arr, b, arr.shape[1] * 8 - 8)


@njit(cache=True, _nrt=False, inline="always")
def _warm_rows(f, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill, grid, dayinfo, day_of,
               ist, ei, fills_f, fills_i, ring, period, tist, tfills_f, tfills_i, shadow):  # fmt: skip
    di = dayinfo[day_of[f]]
    _warm_book_row(ts, bid_px, bid_sz, ask_px, ask_sz, mid_ffill, di[D_B0] + ist[f, K.I_BOOK])
    prefetch(trade_ts, di[D_T0] + ist[f, K.I_TRADE], 0)
    nf = ist[f, K.I_NFILLS]
    prefetch(fills_f[f], nf, 0)
    prefetch(fills_f[f], nf, 64)
    prefetch(fills_i[f], nf, 0)
    if nf > 0:
        prefetch(fills_i[f], nf >> 1, 0)
        prefetch(fills_i[f], nf - 1, 0)
        prefetch(fills_f[f], nf - 1, 0)
        prefetch(fills_f[f], nf - 1, 64)
    if shadow:
        nf = tist[f, K.I_NFILLS]
        prefetch(tfills_f[f], nf, 0)
        prefetch(tfills_f[f], nf, 64)
        prefetch(tfills_i[f], nf, 0)
    # the time-index cells of the step's end
    t_next = ei[f, ST.EI_START] + (ei[f, ST.EI_STEP] + 1) * ei[f, ST.EI_INTERVAL]
    prefetch(grid, di[D_BG0] + min(max((t_next - di[D_BGT]) // di[D_BGS], 0), di[D_BG1] - di[D_BG0] - 2), 0)
    prefetch(grid, di[D_TG0] + min(max((t_next - di[D_TGT]) // di[D_TGS], 0), max(di[D_TG1] - di[D_TG0] - 2, 0)), 0)
    if period > 0:
        size = ring.shape[1]
        slot = (ei[f, ST.EI_STEP] + 1) % size
        for _i in range(11):
            prefetch(ring[f], slot + size if slot < 0 else slot, 0)
            slot -= period


@njit(cache=True, _nrt=False, inline="always")
def _warm_next(f, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cum_buy, cum_sell, mid_ffill, grid, dayinfo, day_of,
               ist, ei):  # fmt: skip
    """The book and trade times up to the step's end and the rows in force there (where the time
    index says they are)."""
    di = dayinfo[day_of[f]]
    t_next = ei[f, ST.EI_START] + (ei[f, ST.EI_STEP] + 1) * ei[f, ST.EI_INTERVAL]
    cells = di[D_BG1] - di[D_BG0]
    kb = min(max((t_next - di[D_BGT]) // di[D_BGS], 0), cells - 2)
    lo = di[D_B0] + ist[f, K.I_BOOK]
    hi = di[D_B0] + grid[di[D_BG0] + kb + 1]  # rows at or before the end of its cell
    for b in range(lo, min(hi, lo + 256), 8):
        prefetch(ts, b, 0)
    _warm_book_row(ts, bid_px, bid_sz, ask_px, ask_sz, mid_ffill, hi - 1)
    _warm_book_row(ts, bid_px, bid_sz, ask_px, ask_sz, mid_ffill, di[D_B0] + grid[di[D_BG0] + kb] - 1)
    cells = di[D_TG1] - di[D_TG0]
    if cells >= 2:
        kt = min(max((t_next - di[D_TGT]) // di[D_TGS], 0), cells - 2)
        lo = di[D_T0] + ist[f, K.I_TRADE]
        hi = di[D_T0] + grid[di[D_TG0] + kt + 1]
        for k in range(lo, min(hi, lo + 256), 8):
            prefetch(trade_ts, k, 0)
        prefetch(cum_buy, di[D_C0] + hi - di[D_T0], 0)
        prefetch(cum_sell, di[D_C0] + hi - di[D_T0], 0)


START_OK = 0
START_NO_BOOK = 1  # no book row at or before the start
START_NO_MID = 2  # no two-sided book at or before the start: no arrival mid
START_BAD_OBS = 3  # the first observation left its bounds


@njit(cache=True, _nrt=False)
def _start_one(fs, ist, pp, es, ei, row, k, c, start, mid, side, quantity, tick, lot):
    """``ExecutionSimulator.reset`` and ``_Episode.start`` of one episode, on its state rows."""
    fs[:] = 0.0
    ist[:] = 0
    ist[K.I_BOOK] = row
    ist[K.I_TRADE] = k
    ist[K.I_CANCEL] = c
    ist[K.I_NOW] = start
    ist[K.I_TRANS_TS] = start
    ist[K.I_DEP_TS] = start
    fs[K.F_LAST_MID] = mid
    fs[K.F_CAP] = np.inf
    pp[K.P_SIDE] = side
    pp[K.P_TICK] = tick
    pp[K.P_LOT] = lot
    es[:] = 0.0
    es[ST.E_QTY] = quantity
    es[ST.E_ARRIVAL] = mid
    es[ST.E_SCALE] = 1e4 / (quantity * mid)
    es[ST.E_MID] = mid
    es[ST.E_SIDE] = side
    es[ST.E_LOT] = lot
    ei[ST.EI_STEP] = 0
    ei[ST.EI_START] = start


@njit(cache=True, _nrt=False)
def batch_start(
    ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, cancel_ts, cum_buy, cum_sell, mid_ffill, grid, dayinfo,
    tick_of, lot_of, day_of, idx, days, starts, sides, quantities, sqrt_k, sqrt_den,
    fs, ist, pp, fills_f, fills_i, es, ei, obs, ring, period, tfs, tist, tpp, tes, tei, shadow, status,
):  # fmt: skip
    """Start episode ``idx[i]`` on pooled day ``days[i]`` at ``starts[i]`` (side, quantity) for
    every ``i`` (and its shadow), and write its first observation; ``status[i]`` is START_*."""
    for i in range(idx.shape[0]):
        e = idx[i]
        d = days[i]
        di = dayinfo[d]
        b0, b1 = di[D_B0], di[D_B1]
        start = starts[i]
        # the book row and the next trade at the start, through the day's time indices (what
        # np.searchsorted(..., side="right") gives, without a binary search over the day in memory)
        row = ST.count_le(ts[b0:b1], grid[di[D_BG0] : di[D_BG1]], di[D_BGT], di[D_BGS], start) - 1
        if row < 0:
            status[i] = START_NO_BOOK
            continue
        mid = mid_ffill[b0 + row]
        if not np.isfinite(mid):
            status[i] = START_NO_MID
            continue
        k = ST.count_le(trade_ts[di[D_T0] : di[D_T1]], grid[di[D_TG0] : di[D_TG1]], di[D_TGT], di[D_TGS], start)
        c = np.searchsorted(cancel_ts[di[D_X0] : di[D_X1]], start, side="right")
        # square-root liquidity: as the simulator computes it, sqrt_coef * daily_vol * mid / sqrt(daily_volume)
        sk = sqrt_k * mid / sqrt_den if not np.isnan(sqrt_k) else np.nan
        day_of[e] = d
        _start_one(fs[e], ist[e], pp[e], es[e], ei[e], row, k, c, start, mid, sides[i], quantities[i], tick_of[d],
                   lot_of[d])  # fmt: skip
        if not np.isnan(sk):
            pp[e, K.P_SQRT_K] = sk
        if shadow:
            _start_one(tfs[e], tist[e], tpp[e], tes[e], tei[e], row, k, c, start, mid, sides[i], quantities[i],
                       tick_of[d], lot_of[d])  # fmt: skip
            if not np.isnan(sk):
                tpp[e, K.P_SQRT_K] = sk
        ST.clear_ring(ring[e])
        t0, t1 = di[D_T0], di[D_T1]
        c0, c1 = di[D_C0], di[D_C1]
        st = ST.write_obs_indexed(
            ts[b0:b1], bid_px[b0:b1], bid_sz[b0:b1], ask_px[b0:b1], ask_sz[b0:b1], trade_ts[t0:t1], cum_buy[c0:c1],
            cum_sell[c0:c1], mid_ffill[b0:b1], grid[di[D_BG0] : di[D_BG1]], di[D_BGT], di[D_BGS],
            grid[di[D_TG0] : di[D_TG1]], di[D_TGT], di[D_TGS], fs[e], ist[e], pp[e], fills_f[e], fills_i[e], es[e],
            ei[e], obs[e], ring[e], period,
        )  # fmt: skip
        status[i] = START_BAD_OBS if st == ST.STEP_BAD_OBS else START_OK


class BatchedExecution:
    """N execution episodes on one catalogue split, stepped together. The engine behind both
    vector front ends; usable directly (``reset_episodes`` / ``reset_episode``, ``step``)."""

    def __init__(self, num_envs: int, config: ExecutionConfig | None = None, **overrides: Any) -> None:
        if not (isinstance(num_envs, int) and num_envs >= 1):
            raise ValueError(f"num_envs = {num_envs!r}; allowed: an integer >= 1")
        config = config if config is not None else ExecutionConfig()
        if overrides:
            config = replace(config, **overrides)
        if config.predictor is not None:
            raise ValueError(
                f"ExecutionConfig.predictor = {config.predictor!r}: the batched env does not compute the predicted-move "
                "feature; use the single env (e.g. train.py --vec dummy) or predictor=None"
            )
        self.config = config
        self.num_envs = num_envs
        self.sampler = ExecutionEnv(replace(config, compare_twap=False, reward_baseline="none"))
        self.shadow = config.reward_baseline != "none" or config.compare_twap
        self.relative = config.reward_baseline != "none"
        self.shadow_name = config.reward_baseline if config.reward_baseline != "none" else "twap"
        raw = self.sampler
        self.sim_config = raw.sim_config
        self.calibration = raw.calibration
        self._pool(raw)
        levels = self.levels
        n = num_envs
        cap = 256
        self.fs = np.zeros((n, K.N_FSTATE))
        self.ist = np.zeros((n, K.N_ISTATE), dtype=np.int64)
        self.pp = np.zeros((n, K.N_PARAMS))
        self.fills_f = np.zeros((n, cap, K.FILL_COLS))
        self.fills_i = np.zeros((n, cap, K.FILLI_COLS), dtype=np.int64)
        self.es = np.zeros((n, ST.N_ESTATE))
        self.ei = np.zeros((n, ST.N_EISTATE), dtype=np.int64)
        self.obs = np.zeros((n, OBS_DIM), dtype=np.float32)
        # what the observation keeps of past decision times (stepper.write_obs_indexed), a cache line a row
        self.period = ST.ring_period(int(round(config.decision_interval_s * _NS)))
        self.ring = _aligned((n, 10 * self.period + 1 if self.period else 1, ST.N_RING))
        self.episodes = [_Episode(config, self.sim_config, levels) for _ in range(n)]
        self.shadows = [_Episode(config, self.sim_config, levels) for _ in range(n)] if self.shadow else []
        if self.shadow:
            self.tfs, self.tist, self.tpp = np.zeros_like(self.fs), np.zeros_like(self.ist), np.zeros_like(self.pp)
            self.tfills_f, self.tfills_i = np.zeros_like(self.fills_f), np.zeros_like(self.fills_i)
            self.tes, self.tei = np.zeros_like(self.es), np.zeros_like(self.ei)
        else:
            self.tfs, self.tist, self.tpp = self.fs[:0], self.ist[:0], self.pp[:0]
            self.tfills_f, self.tfills_i = self.fills_f[:0], self.fills_i[:0]
            self.tes, self.tei = self.es[:0], self.ei[:0]
        self._bind_state()
        self._bind_fills()
        self.ec = self.episodes[0].ec
        self.day_of = np.zeros(n, dtype=np.int64)  # pooled day of each episode
        self._bound = np.full(n, -1, dtype=np.int64)  # pooled day each _Episode object is bound to
        self._status = np.zeros(n, dtype=np.int64)
        self._need = np.zeros(n, dtype=np.int64)
        self._actions = np.zeros((n, 2))
        self._all = np.ones(n, dtype=bool)
        self._ahead = np.array(_AHEAD, dtype=np.int64)
        sim = self.sim_config
        if sim.liquidity == "sqrt":  # ExecutionSimulator.reset's coefficient, split around the mid
            self._sqrt_k, self._sqrt_den = sim.sqrt_coef * sim.daily_vol, math.sqrt(sim.daily_volume)
        else:
            self._sqrt_k, self._sqrt_den = math.nan, 1.0

    # -- pooled data --------------------------------------------------------------------------
    def _pool(self, raw: ExecutionEnv) -> None:
        days = raw._day_indices
        self.days = np.asarray(days, dtype=np.int64)  # catalogue index of each pooled day
        self.day_index = {d: k for k, d in enumerate(days)}
        loaded = [raw._load(d) for d in days]
        self.levels = max(int(data.bid_px.shape[1]) for data, _ in loaded)
        lv = self.levels

        def cat(arrs, dtype, fill=0.0):
            return np.ascontiguousarray(np.concatenate(arrs).astype(dtype, copy=False)) if arrs else np.zeros(0, dtype)

        def pad(a, fill):
            if a.shape[1] == lv:
                return np.asarray(a)
            out = np.full((a.shape[0], lv), fill)
            out[:, : a.shape[1]] = a
            return out

        self.pool = {
            "ts": cat([d.ts for d, _ in loaded], np.int64),
            "bid_px": np.concatenate([pad(d.bid_px, np.nan) for d, _ in loaded]),
            "bid_sz": np.concatenate([pad(d.bid_sz, 0.0) for d, _ in loaded]),
            "ask_px": np.concatenate([pad(d.ask_px, np.nan) for d, _ in loaded]),
            "ask_sz": np.concatenate([pad(d.ask_sz, 0.0) for d, _ in loaded]),
            "trade_ts": cat([d.trade_ts for d, _ in loaded], np.int64),
            "trade_px": cat([d.trade_px for d, _ in loaded], np.float64),
            "trade_sz": cat([d.trade_sz for d, _ in loaded], np.float64),
            "trade_side": cat([d.trade_side for d, _ in loaded], np.int8),
            "halt_start": cat([d.halt_start for d, _ in loaded], np.int64),
            "halt_end": cat([d.halt_end for d, _ in loaded], np.int64),
            "cancel_ts": cat([d.cancel_ts for d, _ in loaded], np.int64),
            "cancel_px": cat([d.cancel_px for d, _ in loaded], np.float64),
            "cancel_sz": cat([d.cancel_sz for d, _ in loaded], np.float64),
            "cancel_side": cat([d.cancel_side for d, _ in loaded], np.int8),
            "cancel_entry_ts": cat([d.cancel_entry_ts for d, _ in loaded], np.int64),
            "cum_buy": cat([f.cum_buy for _, f in loaded], np.float64),
            "cum_sell": cat([f.cum_sell for _, f in loaded], np.float64),
            "cum_vol": cat([f.cum_vol for _, f in loaded], np.float64),
            "mid_ffill": cat([f.mid_ffill for _, f in loaded], np.float64),
        }
        # read-only, like the single env's day arrays: the kernels they share compile once
        self.pool = {key: frozen(arr) for key, arr in self.pool.items()}

        def offsets(sizes):
            return np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)

        book_off = offsets([d.ts.size for d, _ in loaded])
        trade_off = offsets([d.trade_ts.size for d, _ in loaded])
        cum_off = offsets([f.cum_vol.size for _, f in loaded])
        halt_off = offsets([d.halt_start.size for d, _ in loaded])
        cancel_off = offsets([d.cancel_ts.size for d, _ in loaded])
        info = np.zeros((len(loaded), N_DAYINFO), dtype=np.int64)
        grids = []
        used = 0
        interval = int(round(self.config.decision_interval_s * _NS))
        for k, (data, _) in enumerate(loaded):
            info[k, D_B0 : D_X1 + 1] = (book_off[k], book_off[k + 1], trade_off[k], trade_off[k + 1], cum_off[k],
                                        cum_off[k + 1], halt_off[k], halt_off[k + 1], cancel_off[k], cancel_off[k + 1])  # fmt: skip
            for cols, arr in (((D_BG0, D_BG1, D_BGT, D_BGS), data.ts), ((D_TG0, D_TG1, D_TGT, D_TGS), data.trade_ts)):
                grid, g0, gstep = ST.time_index(np.asarray(arr, dtype=np.int64))
                info[k, list(cols)] = (used, used + grid.size, g0, gstep)
                grids.append(grid)
                used += grid.size
            # fill records one step can write, at most (stepper.fill_bound at its worst on this day):
            # one per book row and per trade in any decision interval, the row in force, two sweeps
            info[k, D_BOUND] = (_most_in_window(data.ts, interval) + 1 + _most_in_window(data.trade_ts, interval)
                                + 2 * (lv + 2) + 2)  # fmt: skip
        self.dayinfo = info
        self.grid = np.concatenate(grids)
        self._loaded = loaded
        # what a new episode needs per day: its tick and lot, the sampler's start range (whole ms)
        metas = [d.day.meta for d, _ in loaded]
        self.tick_of = np.array([d.tick for d, _ in loaded], dtype=np.float64)
        self.lot_of = np.array([float(m.lot_size) for m in metas], dtype=np.float64)
        self.date_of = [m.date for m in metas]
        windows = [raw._start_windows[d] for d in days]
        self.start_lo_ms = np.array([w[0, 0] // _MS for w in windows], dtype=np.int64)
        self.start_hi_ms = np.array([w[0, 1] // _MS for w in windows], dtype=np.int64)
        # days whose starts are cut by trading halts: every day's windows on one line of milliseconds
        self._halted = any(len(w) > 1 for w in windows)
        if self._halted:
            flat = np.concatenate(windows)
            self.win_lo_ms = flat[:, 0] // _MS
            self.win_count = (flat[:, 1] - flat[:, 0]) // _MS + 1
            self.win_end = np.cumsum(self.win_count)  # the line's position after each window
            first = np.cumsum([0] + [len(w) for w in windows])[:-1]
            self.day_base = np.concatenate(([0], self.win_end))[first]  # the line's position of each day
            self.day_total = np.diff(np.append(self.day_base, self.win_end[-1]))

        def quantity(meta):
            try:
                return episode_quantity(self.config.quantity, meta.lot_size, meta.source)
            except ValueError:
                return math.nan  # raised when an episode draws this day, as the single env does

        self.qty_of = np.array([quantity(m) for m in metas], dtype=np.float64)

    def _groups(self):
        yield self.episodes, self.fs, self.ist, self.pp, self.es, self.ei, self.fills_f, self.fills_i
        if self.shadow:
            yield self.shadows, self.tfs, self.tist, self.tpp, self.tes, self.tei, self.tfills_f, self.tfills_i

    def _bind_state(self) -> None:
        """Once: every episode's state arrays become rows of the batch arrays (as initialised)."""
        for episodes, fs, ist, pp, es, ei, _, _ in self._groups():
            for e, ep in enumerate(episodes):
                sim = ep.sim
                fs[e], ist[e], pp[e], es[e], ei[e] = sim.fs, sim.ist, sim.pp, ep.es, ep.ei
                sim.fs, sim.ist, sim.pp, ep.es, ep.ei = fs[e], ist[e], pp[e], es[e], ei[e]

    def _bind_fills(self) -> None:
        """The episodes' fill buffers are rows of the batch buffers (again after they grow)."""
        for episodes, *_, fills_f, fills_i in self._groups():
            for e, ep in enumerate(episodes):
                ep.sim.fills_f, ep.sim.fills_i = fills_f[e], fills_i[e]

    def _grow(self, need: int) -> None:
        cap = max(2 * self.fills_f.shape[1], need)
        for name in ("fills_f", "fills_i") + (("tfills_f", "tfills_i") if self.shadow else ()):
            old = getattr(self, name)
            new = np.zeros((old.shape[0], cap, old.shape[2]), dtype=old.dtype)
            new[:, : old.shape[1]] = old
            setattr(self, name, new)
        self._bind_fills()

    # -- episodes -----------------------------------------------------------------------------
    def reset_episodes(self, idx: np.ndarray | None = None) -> None:
        """Start new episodes in the slots ``idx`` (default: every slot) at once, drawn from the
        sampler's RNG with the single env's distribution: day uniform over the split, side per
        ``config.side``, start uniform over the day's allowed whole milliseconds."""
        idx = np.arange(self.num_envs) if idx is None else np.asarray(idx, dtype=np.int64).ravel()
        m = idx.size
        if m == 0:
            return
        rng = self.sampler.np_random
        days = rng.integers(self.days.size, size=m)
        side = self.config.side
        if side == "random":
            sides = np.where(rng.integers(2, size=m) == 0, 1.0, -1.0)
        else:
            sides = np.full(m, float(episode_side(side, rng)))
        if self._halted:  # uniform over each day's halt-free starts, as the single env's draw_start
            pos = self.day_base[days] + rng.integers(self.day_total[days])
            k = np.searchsorted(self.win_end, pos, side="right")
            starts = (self.win_lo_ms[k] + pos - (self.win_end[k] - self.win_count[k])) * _MS
        else:
            starts = rng.integers(self.start_lo_ms[days], self.start_hi_ms[days] + 1) * _MS
        quantities = self.qty_of[days]
        if np.isnan(quantities).any():  # the configured quantity is not a whole number of this day's lots
            meta = self._loaded[int(days[np.isnan(quantities)][0])][0].day.meta
            episode_quantity(self.config.quantity, meta.lot_size, meta.source)  # raises the single env's error
        self._start(idx, days, starts, sides, quantities)

    def reset_episode(self, e: int, seed: int | None = None, options: dict | None = None) -> None:
        """Start a new episode in slot ``e``: drawn by the sampler env (or pinned by ``options``),
        exactly the episode the single env gives for that ``seed`` and ``options``."""
        _, info = self.sampler.reset(seed=seed, options=options)
        self._start(
            np.array([e], dtype=np.int64), np.array([self.day_index[info["day"]]], dtype=np.int64),
            np.array([info["start_ns"]], dtype=np.int64), np.array([float(info["side"])]),
            np.array([info["quantity"]], dtype=np.float64),
        )  # fmt: skip

    def _start(self, idx, days, starts, sides, quantities) -> None:
        p = self.pool
        status = np.zeros(idx.size, dtype=np.int64)
        batch_start(
            p["ts"], p["bid_px"], p["bid_sz"], p["ask_px"], p["ask_sz"], p["trade_ts"], p["cancel_ts"], p["cum_buy"],
            p["cum_sell"], p["mid_ffill"], self.grid, self.dayinfo, self.tick_of, self.lot_of, self.day_of, idx, days, starts.astype(np.int64, copy=False), sides, quantities, self._sqrt_k,
            self._sqrt_den, self.fs, self.ist, self.pp, self.fills_f, self.fills_i, self.es, self.ei, self.obs,
            self.ring, self.period, self.tfs, self.tist, self.tpp, self.tes, self.tei, self.shadow, status,
        )  # fmt: skip
        if status.any():
            i = int(np.flatnonzero(status)[0])
            e, d, start = int(idx[i]), int(days[i]), int(starts[i])
            source = self._loaded[d][0].day.meta.source
            if status[i] == START_NO_BOOK:
                raise ValueError(f"{source}: no book snapshot at or before start {start}")
            if status[i] == START_NO_MID:
                row = int(np.searchsorted(self._loaded[d][0].ts, start, side="right")) - 1
                raise ValueError(f"{source}: no two-sided book at or before row {row}: no arrival mid")
            inside = (self.obs[e] >= OBS_LOW) & (self.obs[e] <= OBS_HIGH)
            raise RuntimeError(f"episode {e}: observation features outside their bounds {self.obs[e][~inside]}")

    def _sync(self, e: int) -> None:
        """Bind slot ``e``'s episode objects to their day (for read-outs in Python: metrics, fills)."""
        d = int(self.day_of[e])
        if self._bound[e] == d:
            return
        data, feats = self._loaded[d]
        for ep in (self.episodes[e], *(self.shadows[e : e + 1] if self.shadow else ())):
            ep.bind(data, feats)
            ep.sim.side = int(ep.es[ST.E_SIDE])
            ep.sim.rebind(data)
            ep.sim.arrival_mid = float(ep.es[ST.E_ARRIVAL])
        self._bound[e] = d

    def spec(self, e: int) -> dict[str, Any]:
        """Slot ``e``'s episode as the single env's reset ``info`` gives it."""
        d = int(self.day_of[e])
        es = self.es[e]
        return {"day": int(self.days[d]), "date": self.date_of[d], "start_ns": int(self.ei[e, ST.EI_START]),
                "side": int(es[ST.E_SIDE]), "quantity": float(es[ST.E_QTY]), "arrival_mid": float(es[ST.E_ARRIVAL])}  # fmt: skip

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Step the ``active`` episodes with ``actions`` (N, 2) in [-1, 1] (pace, aggressiveness);
        returns the rewards (N,) (0 where inactive). Observations are in ``self.obs``."""
        acts = self._actions
        acts[:] = actions
        if not (acts.min() >= -1.0 and acts.max() <= 1.0):  # False with a NaN
            raise ValueError("actions outside Box(-1, 1): the env does not clip actions")
        ended = self.ei[:, ST.EI_STEP] >= self.ei[:, ST.EI_NSTEPS]
        if active is None:
            todo = self._all
            stepped_ended = ended.any()
        else:
            todo = np.asarray(active, dtype=bool)
            stepped_ended = (ended & todo).any()
        if stepped_ended:
            raise RuntimeError("step() on an episode that ended: reset it first")
        p = self.pool
        while True:
            batch_step(
                p["ts"], p["bid_px"], p["bid_sz"], p["ask_px"], p["ask_sz"], p["trade_ts"], p["trade_px"],
                p["trade_sz"], p["trade_side"], p["halt_start"], p["halt_end"], p["cancel_ts"], p["cancel_px"],
                p["cancel_sz"], p["cancel_side"], p["cancel_entry_ts"], p["cum_buy"], p["cum_sell"],
                p["cum_vol"], p["mid_ffill"], self.grid, self.dayinfo, self.day_of,
                self.fs, self.ist, self.pp, self.fills_f, self.fills_i, self.es, self.ei, self.ec, acts, self.obs,
                self.ring, self.period, todo, self._status, self._need, self.tfs, self.tist, self.tpp, self.tfills_f, self.tfills_i,
                self.tes, self.tei, self.shadow, self._ahead,
            )  # fmt: skip
            status = self._status
            if not status.any():  # STEP_OK everywhere (the usual case: one test)
                break
            bad = status == ST.STEP_BAD_OBS
            if bad.any():
                e = int(np.flatnonzero(bad)[0])
                inside = (self.obs[e] >= OBS_LOW) & (self.obs[e] <= OBS_HIGH)
                raise RuntimeError(f"episode {e}: observation features outside their bounds {self.obs[e][~inside]}")
            room = status == ST.STEP_NEED_ROOM
            self._grow(int(self._need[room].max()))
            todo = room
        rewards = (
            self.es[:, ST.E_REWARD] - self.tes[:, ST.E_REWARD] if self.relative else self.es[:, ST.E_REWARD].copy()
        )
        if active is not None:
            rewards[~np.asarray(active, dtype=bool)] = 0.0
        return rewards

    def done(self) -> np.ndarray:
        return self.ei[:, ST.EI_STEP] >= self.ei[:, ST.EI_NSTEPS]

    def shortfall_bps(self, shadow: bool = False) -> np.ndarray:
        """Every slot's implementation shortfall so far (bps of the arrival notional), as
        ``_Episode.shortfall_bps`` computes it; of the shadow episodes with ``shadow``."""
        fs, es = (self.tfs, self.tes) if shadow else (self.fs, self.es)
        return (
            es[:, ST.E_SIDE] * (fs[:, K.F_NOTIONAL] - fs[:, K.F_FILLED] * es[:, ST.E_ARRIVAL]) + fs[:, K.F_FEES]
        ) * es[:, ST.E_SCALE]

    def metrics(self, e: int) -> dict[str, Any]:
        self._sync(e)
        out = self.episodes[e].metrics()
        if self.shadow:
            name = self.shadow_name
            out[f"{name}_shortfall_bps"] = self.shadows[e].shortfall_bps()
            out[f"vs_{name}_bps"] = out["shortfall_bps"] - out[f"{name}_shortfall_bps"]
        d = int(self.day_of[e])
        out["day"] = int(self.days[d])
        out["date"] = self.date_of[d]
        return out

    def fill_records(self, e: int) -> np.ndarray:
        self._sync(e)
        return self.episodes[e].sim.fill_records()


def _aligned(shape: tuple[int, ...], align: int = 64) -> np.ndarray:
    """A zeroed float64 array whose data starts on an ``align``-byte boundary."""
    size = int(np.prod(shape))
    raw = np.zeros(size + align // 8, dtype=np.float64)
    skip = (-raw.ctypes.data % align) // 8
    return raw[skip : skip + size].reshape(shape)


def _most_in_window(ts: np.ndarray, width: int) -> int:
    """The most elements of the sorted ``ts`` inside any interval ``(t, t + width]``."""
    if ts.size == 0:
        return 0
    ts = np.asarray(ts, dtype=np.int64)
    return int((np.searchsorted(ts, ts + (width - 1), side="right") - np.arange(ts.size)).max())


def _to_pace_aggr(actions: np.ndarray, mode: str) -> np.ndarray:
    a = np.asarray(actions)
    if mode == "continuous":
        return a.astype(np.float64, copy=False)
    idx = a.astype(np.int64)
    if (idx < 0).any() or (idx >= len(DISCRETE_GRID)).any():
        raise ValueError("actions outside MultiDiscrete([5, 5])")
    return np.asarray(DISCRETE_GRID)[idx]


class ExecutionVectorEnv(VectorEnv):
    """``gymnasium.vector.VectorEnv`` over :class:`BatchedExecution` (next-step autoreset).

    ``info`` holds per-env arrays ``executed`` and ``shortfall_bps`` every step and, with their
    ``_``-masks, ``final_shortfall_bps`` and ``final_vs_twap_bps`` (with ``compare_twap``) on the
    step an episode ends; ``fill_records(i)`` gives env ``i``'s fills of its current or last episode.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, config: ExecutionConfig | None = None, **overrides: Any) -> None:
        self.engine = BatchedExecution(num_envs, config, **overrides)
        raw = self.engine.sampler
        self.num_envs = num_envs
        self.single_observation_space = raw.observation_space
        self.single_action_space = raw.action_space
        self.observation_space = gym.vector.utils.batch_space(raw.observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(raw.action_space, num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._mode = self.engine.config.action_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        """With ``seed`` (or ``options``) env ``i`` starts the single env's episode for ``seed + i``
        (those ``options``); without, all episodes are drawn at once from the engine's RNG."""
        eng = self.engine
        if seed is None and options is None:
            eng.reset_episodes()
        else:
            for e in range(self.num_envs):
                eng.reset_episode(e, seed=(seed + e) if seed is not None else None, options=options)
        self._autoreset[:] = False
        return eng.obs.copy(), {}

    def step(self, actions):
        eng = self.engine
        acts = _to_pace_aggr(actions, self._mode)
        active = ~self._autoreset
        eng.reset_episodes(np.flatnonzero(self._autoreset))
        rewards = eng.step(acts, active) if active.any() else np.zeros(self.num_envs)
        terminated = eng.done() & active
        shortfall = eng.shortfall_bps()
        info: dict[str, Any] = {"executed": eng.fs[:, K.F_FILLED].copy(), "shortfall_bps": shortfall}
        if terminated.any():
            info["final_shortfall_bps"] = np.where(terminated, shortfall, 0.0)
            info["_final_shortfall_bps"] = terminated.copy()
            if eng.shadow:
                vs = np.where(terminated, shortfall - eng.shortfall_bps(shadow=True), 0.0)
                info[f"final_vs_{eng.shadow_name}_bps"] = vs
                info[f"_final_vs_{eng.shadow_name}_bps"] = terminated.copy()
        self._autoreset = terminated
        return (
            eng.obs.copy(),
            rewards.astype(np.float64),
            terminated,
            np.zeros(self.num_envs, dtype=bool),
            info,
        )

    def fill_records(self, i: int) -> np.ndarray:
        return self.engine.fill_records(i)


def _sb3_vecenv_base():
    from stable_baselines3.common.vec_env import VecEnv

    return VecEnv


class ExecutionVecEnv(_sb3_vecenv_base()):  # type: ignore[misc]
    """stable-baselines3 ``VecEnv`` over :class:`BatchedExecution`: an ended episode is reset at
    once; its last observation is ``infos[i]["terminal_observation"]`` and its metrics
    ``infos[i]["execution"]`` (as the single env's final ``info``)."""

    def __init__(self, num_envs: int = 1, config: ExecutionConfig | None = None, seed: int | None = None,
                 **overrides: Any) -> None:  # fmt: skip
        self.engine = BatchedExecution(num_envs, config, **overrides)
        raw = self.engine.sampler
        super().__init__(num_envs, raw.observation_space, raw.action_space)
        self._mode = self.engine.config.action_mode
        self._seed = seed
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        eng = self.engine
        seed, self._seed = self._seed, None
        if seed is None:
            eng.reset_episodes()
        else:  # env i starts the single env's episode for seed + i
            for e in range(self.num_envs):
                eng.reset_episode(e, seed=seed + e)
        return eng.obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = _to_pace_aggr(actions, self._mode)

    def step_wait(self):
        eng = self.engine
        rewards = eng.step(self._actions)
        dones = eng.done()
        infos: list[dict] = [{} for _ in range(self.num_envs)]
        obs = eng.obs.copy()
        ended = np.flatnonzero(dones)
        for e in ended:
            e = int(e)
            infos[e]["terminal_observation"] = obs[e].copy()
            infos[e]["execution"] = eng.metrics(e)
            infos[e]["TimeLimit.truncated"] = False
        if ended.size:
            eng.reset_episodes(ended)
            obs[ended] = eng.obs[ended]
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        pass

    def seed(self, seed: int | None = None):
        self._seed = seed
        return [None if seed is None else seed + e for e in range(self.num_envs)]

    def get_attr(self, attr_name, indices=None):
        return [getattr(self.engine.sampler, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name, value, indices=None):
        raise AttributeError("ExecutionVecEnv does not support set_attr: build a new one with the config you need")

    def env_method(self, method_name, *method_args, indices=None, **method_kwargs):
        raise AttributeError("ExecutionVecEnv has no per-env objects to call methods on")

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False for _ in self._get_indices(indices)]

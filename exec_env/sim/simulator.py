"""The execution simulator: one parent order worked against a replayed day (no Gymnasium here).

Buy and sell share one code path: the simulator keeps the *own* side (where our passive orders
rest: bids for a buy) and the *opposite* side (where our aggressive orders take: asks for a buy)
and every comparison in the kernels is multiplied by the side sign.
"""

from __future__ import annotations

import math

import numpy as np

from exec_env.market.data import MarketDay
from exec_env.sim import kernels as K
from exec_env.sim.config import SimConfig

__all__ = ["DayArrays", "ExecutionSimulator"]

_DEPLETION_SLOTS = 32


class DayArrays:
    """A day's arrays as contiguous ndarrays (memory maps stay memory maps), shared by episodes."""

    FIELDS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")
    __slots__ = ("day", "halt_end", "halt_start", *FIELDS)

    def __init__(self, day: MarketDay) -> None:
        self.day = day
        for name in self.FIELDS:
            arr = np.asarray(getattr(day, name))
            if not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr)
            setattr(self, name, arr)
        halts = day.halts if day.halts is not None else np.zeros((0, 2), dtype=np.int64)
        self.halt_start = np.ascontiguousarray(halts[:, 0])
        self.halt_end = np.ascontiguousarray(halts[:, 1])

    @property
    def tick(self) -> float:
        return float(self.day.meta.tick_size)


class ExecutionSimulator:
    """Episode state and the Python side of the compiled kernels.

    Use: ``reset(day_arrays, side, start_ns)``; then any sequence of ``advance(until_ns)``,
    ``submit(qty, limit_px)`` (replay-frame price), ``liquidate()``.
    """

    def __init__(self, config: SimConfig, levels: int, fill_capacity: int = 512) -> None:
        self.config = config
        self.levels = levels
        self.fs = np.zeros(K.N_FSTATE)
        self.ist = np.zeros(K.N_ISTATE, dtype=np.int64)
        self.pp = np.zeros(K.N_PARAMS)
        self.dep_px = np.zeros((2, _DEPLETION_SLOTS))
        self.dep_q = np.zeros((2, _DEPLETION_SLOTS))
        self.dep_t = np.zeros((2, _DEPLETION_SLOTS), dtype=np.int64)
        self.fills = np.zeros((max(fill_capacity, 4 * levels + 8), K.FILL_COLS))
        self.latency_ns = int(round(config.latency_ms * 1e6))
        self.side = 1
        self.arrival_mid = math.nan
        self._data: DayArrays | None = None
        self._book: tuple = ()
        self._trades: tuple = ()
        self._own_opp: tuple = ()

    # -- episode ------------------------------------------------------------------------------
    def reset(self, data: DayArrays, side: int, start_ns: int) -> None:
        if side not in (1, -1):
            raise ValueError(f"side must be +1 (buy) or -1 (sell), got {side!r}")
        cfg = self.config
        row = int(np.searchsorted(data.ts, start_ns, side="right")) - 1
        if row < 0:
            raise ValueError(f"{data.day.meta.source}: no book snapshot at or before start {start_ns}")
        self.side = side
        self.rebind(data)

        self.fs[:] = 0.0
        self.ist[:] = 0
        self.dep_q[:] = 0.0
        self.ist[K.I_BOOK] = row
        self.ist[K.I_TRADE] = int(np.searchsorted(data.trade_ts, start_ns, side="right"))
        self.ist[K.I_NOW] = start_ns
        self.ist[K.I_TRANS_TS] = start_ns
        mid = self._last_valid_mid(row)
        self.fs[K.F_LAST_MID] = mid
        self.arrival_mid = mid

        pp = self.pp
        pp[K.P_SIDE] = side
        pp[K.P_TICK] = data.tick
        pp[K.P_MAKER_BPS] = cfg.maker_fee_bps
        pp[K.P_TAKER_BPS] = cfg.taker_fee_bps
        pp[K.P_RESIL_NS] = cfg.resilience_s * 1e9
        pp[K.P_PERM] = cfg.permanent_impact
        pp[K.P_TRANS] = cfg.transient_impact
        pp[K.P_TRANS_NS] = cfg.transient_half_life_s * 1e9 / math.log(2.0)
        pp[K.P_BEYOND_TICKS] = cfg.beyond_book_ticks
        pp[K.P_LOT] = float(data.day.meta.lot_size)

    def rebind(self, data: DayArrays) -> None:
        """Point the kernels at ``data`` (after reset, or after unpickling)."""
        self._data = data
        self.levels = int(data.bid_px.shape[1])
        if self.side > 0:
            own_px, own_sz, opp_px, opp_sz = data.bid_px, data.bid_sz, data.ask_px, data.ask_sz
        else:
            own_px, own_sz, opp_px, opp_sz = data.ask_px, data.ask_sz, data.bid_px, data.bid_sz
        self._book = (data.ts, own_px, own_sz, opp_px, opp_sz)
        self._trades = (data.trade_ts, data.trade_px, data.trade_sz, data.trade_side, data.halt_start, data.halt_end)
        self._own_opp = (own_px, own_sz, opp_px, opp_sz)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_data", "_book", "_trades", "_own_opp"):
            state.pop(key, None)
        return state

    def _last_valid_mid(self, row: int) -> float:
        d = self._data
        assert d is not None
        ok = (d.bid_sz[: row + 1, 0] > 0) & (d.ask_sz[: row + 1, 0] > 0)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            raise ValueError(f"{d.day.meta.source}: no two-sided book at or before row {row}: no arrival mid")
        r = int(idx[-1])
        return 0.5 * (float(d.bid_px[r, 0]) + float(d.ask_px[r, 0]))

    # -- actions ------------------------------------------------------------------------------
    def _ensure_room(self, n: int) -> None:
        used = int(self.ist[K.I_NFILLS])
        if used + n > self.fills.shape[0]:
            grown = np.zeros((max(2 * self.fills.shape[0], used + n), K.FILL_COLS))
            grown[:used] = self.fills[:used]
            self.fills = grown

    def advance(self, until_ns: int) -> None:
        """Replay all events up to and including ``until_ns``."""
        while (
            K.advance(
                *self._book,
                *self._trades,
                self.fs,
                self.ist,
                self.dep_px,
                self.dep_q,
                self.dep_t,
                self.fills,
                self.pp,
                until_ns,
            )
            == K.STATUS_FULL
        ):
            self._ensure_room(self.fills.shape[0])

    def submit(self, qty: float, limit_px: float) -> None:
        """Cancel the resting order, then send ``qty`` at ``limit_px`` (replay frame) now."""
        self._ensure_room(self.levels + 1)
        K.submit(
            *self._own_opp, self.fs, self.ist, self.dep_px, self.dep_q, self.dep_t, self.fills, self.pp, qty, limit_px,
            self.halted(),
        )  # fmt: skip

    def cancel(self) -> None:
        self.fs[K.F_ORD_QTY] = 0.0

    def liquidate(self, qty: float) -> None:
        """Cancel the resting order and fill ``qty`` now, whatever the book holds."""
        self._ensure_room(self.levels + 2)
        K.liquidate(
            self._own_opp[2],
            self._own_opp[3],
            self.fs,
            self.ist,
            self.dep_px,
            self.dep_q,
            self.dep_t,
            self.fills,
            self.pp,
            qty,
        )

    def reset_step_accumulators(self) -> None:
        self.fs[K.F_STEP_NOTIONAL] = 0.0
        self.fs[K.F_STEP_QTY] = 0.0
        self.fs[K.F_STEP_FEES] = 0.0

    # -- read-outs ----------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return int(self.ist[K.I_NOW])

    @property
    def book_row(self) -> int:
        return int(self.ist[K.I_BOOK])

    def halted(self) -> bool:
        """Is the market in a trading halt now?"""
        d = self._data
        if d is None or d.halt_start.size == 0:  # most days: no compiled call on the per-step path
            return False
        return bool(K.in_halt(d.halt_start, d.halt_end, self.ist[K.I_NOW]))

    def impact_offset(self) -> float:
        return float(K.impact_offset(self.fs, self.ist, self.pp, self.ist[K.I_NOW]))

    def mid(self) -> float:
        """Mid price the agent sees now: the last valid replay mid plus the impact offset."""
        return float(self.fs[K.F_LAST_MID]) + self.impact_offset()

    @property
    def filled(self) -> float:
        return float(self.fs[K.F_FILLED])

    @property
    def cash(self) -> float:
        return float(self.fs[K.F_CASH])

    @property
    def inventory(self) -> float:
        return float(self.fs[K.F_INV])

    @property
    def fees(self) -> float:
        return float(self.fs[K.F_FEES])

    @property
    def resting_qty(self) -> float:
        return float(self.fs[K.F_ORD_QTY])

    @property
    def n_fills(self) -> int:
        return int(self.ist[K.I_NFILLS])

    def fill_records(self) -> np.ndarray:
        """A copy of the fill records so far, one row per fill (columns ``kernels.FILL_*``)."""
        return self.fills[: self.n_fills].copy()

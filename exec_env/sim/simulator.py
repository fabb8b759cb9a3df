"""The execution simulator: one parent order worked against a replayed day (no Gymnasium here).

Buy and sell share one code path: the simulator keeps the *own* side (where our passive orders
rest: bids for a buy) and the *opposite* side (where our aggressive orders take: asks for a buy)
and every comparison in the kernels is multiplied by the side sign.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from exec_env.market.data import MarketDay, frozen
from exec_env.sim import kernels as K
from exec_env.sim.config import SimConfig

__all__ = ["FILL_DTYPE", "DayArrays", "ExecutionSimulator", "transient_kernel"]

FILL_DTYPE = np.dtype(
    [("ts", "i8"), ("step", "i4"), ("px", "f8"), ("qty", "f8"), ("fee", "f8"), ("limit_px", "f8"), ("liq", "i1")]
)
"""Fill records: time (int64 ns), decision step, average price, quantity, fee, the order's limit
(the deepest marginal price for the forced liquidation) and the liquidity flag (``kernels.LIQ_*``)."""


class DayArrays:
    """A day's arrays as contiguous read-only ndarrays (memory maps stay memory maps), shared by episodes."""

    FIELDS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")
    CANCELS = ("cancel_ts", "cancel_px", "cancel_sz", "cancel_side", "cancel_entry_ts")
    __slots__ = ("day", "halt_end", "halt_start", *FIELDS, *CANCELS)
    _EMPTY = {"cancel_ts": np.int64, "cancel_px": np.float64, "cancel_sz": np.float64, "cancel_side": np.int8,
              "cancel_entry_ts": np.int64}  # fmt: skip

    def __init__(self, day: MarketDay) -> None:
        self.day = day
        for name in self.FIELDS:
            setattr(self, name, frozen(getattr(day, name)))
        for name in self.CANCELS:  # order-level cancellations (LOBSTER messages, MBO), else empty
            arr = getattr(day, name, None)
            setattr(self, name, frozen(arr if arr is not None else np.zeros(0, self._EMPTY[name])))
        halts = day.halts if day.halts is not None else np.zeros((0, 2), dtype=np.int64)
        self.halt_start = frozen(halts[:, 0])
        self.halt_end = frozen(halts[:, 1])

    @property
    def tick(self) -> float:
        return float(self.day.meta.tick_size)


@lru_cache(maxsize=64)
def transient_kernel(kind: str, half_life_s: float, t0_s: float, beta: float) -> tuple[tuple, tuple]:
    """Weights and time constants (ns) of the transient kernel as a sum of exponentials.

    ``exponential``: one component, ``tau = half_life / ln 2``. ``power_law``: ``(1 + t/t0)^-beta``
    fitted with 8 exponentials at log-spaced time constants (``t0 * 10**[-0.5 .. 5]``) by non-negative
    least squares on relative error over ``t`` in ``[0, 1e4 t0]`` (max relative error 1.3% at
    beta = 0.5, 4.4% at beta = 1).
    """
    if kind == "exponential":
        return (1.0,), (half_life_s * 1e9 / math.log(2.0),)
    from scipy.optimize import nnls

    taus = t0_s * np.logspace(-0.5, 5.0, 8)
    t = np.concatenate([[0.0], t0_s * np.logspace(-2, 4, 400)])
    target = (1.0 + t / t0_s) ** -beta
    basis = np.exp(-t[:, None] / taus[None, :])
    w, _ = nnls(basis / target[:, None], np.ones_like(target))
    return tuple(float(x) for x in w), tuple(float(x) * 1e9 for x in taus)


class ExecutionSimulator:
    """Episode state and the Python side of the compiled kernels.

    Use: ``reset(day_arrays, side, start_ns)``; then any sequence of ``advance(until_ns)``,
    ``submit(qty, limit_px)`` (absolute price in the impacted frame the agent sees),
    ``liquidate(qty)``. ``touch()`` gives the shifted best bid and ask.
    """

    def __init__(self, config: SimConfig, levels: int, fill_capacity: int = 512) -> None:
        self.config = config
        self.levels = levels
        self.fs = np.zeros(K.N_FSTATE)
        self.ist = np.zeros(K.N_ISTATE, dtype=np.int64)
        self.pp = np.zeros(K.N_PARAMS)
        cap = max(fill_capacity, 4 * levels + 8)
        self.fills_f = np.zeros((cap, K.FILL_COLS))
        self.fills_i = np.zeros((cap, K.FILLI_COLS), dtype=np.int64)
        self.latency_ns = int(round(config.latency_ms * 1e6))
        self.side = 1
        self.arrival_mid = math.nan
        self._data: DayArrays | None = None
        self._book: tuple = ()
        self._trades: tuple = ()
        self._own_opp: tuple = ()
        self._fill_params()

    def _fill_params(self) -> None:
        cfg = self.config
        pp = self.pp
        pp[K.P_MAKER_BPS] = cfg.maker_fee_bps
        pp[K.P_TAKER_BPS] = cfg.taker_fee_bps
        pp[K.P_RESIL_NS] = cfg.resilience_s * 1e9
        pp[K.P_PERM] = cfg.permanent_impact
        pp[K.P_TRANS] = cfg.transient_impact
        w, tau = transient_kernel(
            cfg.transient_kernel, cfg.transient_half_life_s, cfg.transient_t0_s, cfg.transient_beta
        )
        pp[K.P_NTR] = len(w) if cfg.transient_impact > 0 else 0
        pp[K.P_TRW0 : K.P_TRW0 + len(w)] = w
        pp[K.P_TRTAU0 : K.P_TRTAU0 + len(tau)] = tau
        pp[K.P_LIQ] = K.LIQ_SQRT if cfg.liquidity == "sqrt" else K.LIQ_BOOK
        pp[K.P_QUEUE] = {
            "conservative": K.QUEUE_CONSERVATIVE, "power": K.QUEUE_POWER, "log": K.QUEUE_LOG,
            "order_level": K.QUEUE_ORDER,
        }[cfg.queue]  # fmt: skip
        pp[K.P_QUEUE_N] = cfg.queue_power

    # -- episode ------------------------------------------------------------------------------
    def reset(self, data: DayArrays, side: int, start_ns: int, mid_ffill: np.ndarray | None = None) -> None:
        """Start an episode at ``start_ns``. ``mid_ffill`` (the day's forward-filled two-sided mid
        per book row, if the caller has it) saves a scan for the last valid mid."""
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
        self.ist[K.I_BOOK] = row
        self.ist[K.I_TRADE] = int(np.searchsorted(data.trade_ts, start_ns, side="right"))
        self.ist[K.I_CANCEL] = int(np.searchsorted(data.cancel_ts, start_ns, side="right"))
        self.ist[K.I_NOW] = start_ns
        self.ist[K.I_TRANS_TS] = start_ns
        self.ist[K.I_DEP_TS] = start_ns
        mid = float(mid_ffill[row]) if mid_ffill is not None else math.nan
        if not math.isfinite(mid):
            mid = self._last_valid_mid(row)
        self.fs[K.F_LAST_MID] = mid
        self.fs[K.F_CAP] = math.inf
        self.arrival_mid = mid

        pp = self.pp
        pp[K.P_SIDE] = side
        pp[K.P_TICK] = data.tick
        pp[K.P_LOT] = float(data.day.meta.lot_size)
        if cfg.liquidity == "sqrt":
            pp[K.P_SQRT_K] = cfg.sqrt_coef * cfg.daily_vol * mid / math.sqrt(cfg.daily_volume)

    def rebind(self, data: DayArrays) -> None:
        """Point the kernels at ``data`` (after reset, or after unpickling)."""
        self._data = data
        self.levels = int(data.bid_px.shape[1])
        if self.side > 0:
            own_px, own_sz, opp_px, opp_sz = data.bid_px, data.bid_sz, data.ask_px, data.ask_sz
        else:
            own_px, own_sz, opp_px, opp_sz = data.ask_px, data.ask_sz, data.bid_px, data.bid_sz
        self._book = (data.ts, own_px, own_sz, opp_px, opp_sz)
        self._trades = (
            data.trade_ts, data.trade_px, data.trade_sz, data.trade_side, data.halt_start, data.halt_end,
            data.cancel_ts, data.cancel_px, data.cancel_sz, data.cancel_side, data.cancel_entry_ts,
        )  # fmt: skip
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
        if used + n > self.fills_f.shape[0]:
            size = max(2 * self.fills_f.shape[0], used + n)
            grown_f = np.zeros((size, K.FILL_COLS))
            grown_i = np.zeros((size, K.FILLI_COLS), dtype=np.int64)
            grown_f[:used] = self.fills_f[:used]
            grown_i[:used] = self.fills_i[:used]
            self.fills_f, self.fills_i = grown_f, grown_i

    def advance(self, until_ns: int) -> None:
        """Replay all events up to and including ``until_ns``."""
        while (
            K.advance(*self._book, *self._trades, self.fs, self.ist, self.pp, self.fills_f, self.fills_i, until_ns)
            == K.STATUS_FULL
        ):
            self._ensure_room(self.fills_f.shape[0])

    def submit(self, qty: float, limit_px: float) -> float:
        """Send ``qty`` at absolute price ``limit_px`` now, replacing the resting order (an order
        already resting at ``limit_px`` is amended and keeps its queue place when ``qty`` is not
        larger). Returns the quantity taken at once."""
        if not math.isfinite(limit_px):
            raise ValueError(f"limit price must be finite, got {limit_px!r}")
        self._ensure_room(self.levels + 2)
        return float(
            K.submit(
                *self._own_opp, self.fs, self.ist, self.pp, self.fills_f, self.fills_i, qty, limit_px, self.halted()
            )
        )

    def cancel(self) -> None:
        self.fs[K.F_ORD_QTY] = 0.0

    def liquidate(self, qty: float) -> None:
        """Cancel the resting order and fill ``qty`` now, whatever the book holds."""
        self._ensure_room(self.levels + 2)
        K.liquidate(self._own_opp[2], self._own_opp[3], self.fs, self.ist, self.pp, self.fills_f, self.fills_i, qty)

    def set_step(self, step: int, cap: float = math.inf) -> None:
        """Start decision step ``step``: reset the step accumulators, stamp later fills with the
        step, and allow at most ``cap`` units of fills in it (participation cap)."""
        self.fs[K.F_STEP_NOTIONAL] = 0.0
        self.fs[K.F_STEP_QTY] = 0.0
        self.fs[K.F_STEP_FEES] = 0.0
        self.fs[K.F_CAP] = cap
        self.ist[K.I_STEP] = step

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
        """Signed price shift of the impact model now (+ after buying)."""
        return float(K.impact_offset(self.fs, self.ist, self.pp, self.ist[K.I_NOW]))

    def depletion(self) -> float:
        """Units of the opposite side taken by the agent and not yet recovered."""
        return float(K.depletion(self.fs, self.ist, self.pp, self.ist[K.I_NOW]))

    def mid(self) -> float:
        """Mid price the agent sees now: the last valid replay mid plus the impact offset."""
        return float(self.fs[K.F_LAST_MID]) + self.impact_offset()

    def touch(self) -> tuple[float, float]:
        """Best bid and ask the agent sees now (replay plus impact offset; NaN for an empty side)."""
        d = self._data
        assert d is not None
        row = self.book_row
        off = self.impact_offset()
        bid = float(d.bid_px[row, 0]) + off if d.bid_sz[row, 0] > 0 else math.nan
        ask = float(d.ask_px[row, 0]) + off if d.ask_sz[row, 0] > 0 else math.nan
        return bid, ask

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
    def resting_px(self) -> float:
        return float(self.fs[K.F_ORD_PX]) if self.fs[K.F_ORD_QTY] > 0 else math.nan

    @property
    def queue_ahead(self) -> float:
        return float(self.fs[K.F_ORD_QA])

    @property
    def n_fills(self) -> int:
        return int(self.ist[K.I_NFILLS])

    def fill_records(self) -> np.ndarray:
        """A copy of the fill records so far (structured array of ``FILL_DTYPE``)."""
        n = self.n_fills
        out = np.empty(n, dtype=FILL_DTYPE)
        out["ts"] = self.fills_i[:n, K.FILLI_TS]
        out["step"] = self.fills_i[:n, K.FILLI_STEP]
        out["px"] = self.fills_f[:n, K.FILL_PX]
        out["qty"] = self.fills_f[:n, K.FILL_QTY]
        out["fee"] = self.fills_f[:n, K.FILL_FEE]
        out["limit_px"] = self.fills_f[:n, K.FILL_LIMIT]
        out["liq"] = self.fills_f[:n, K.FILL_LIQ].astype(np.int8)
        return out

"""The env's observation, rebuilt from a broker's market data (``exec_env.features.write_observation``)."""

from __future__ import annotations

import numpy as np

from exec_env.broker.interface import MarketData, OwnImpact
from exec_env.features import OBS_DIM, DayFeatureArrays, write_observation
from exec_env.sim import kernels as K

__all__ = ["MarketRecorder"]

_NO_FILLS_F = np.zeros((1, K.FILL_COLS))
_NO_FILLS_I = np.zeros((1, K.FILLI_COLS), dtype=np.int64)
_NO_PARAMS = np.zeros(K.N_PARAMS)


class MarketRecorder:
    """Book snapshots and trades received from a broker, kept in the canonical layout.

    A simulated broker serves the day from its first row, so the arrays (and the running sums the
    features use) are exactly the env's; a real broker's feed starts when the executor starts.
    """

    def __init__(self) -> None:
        self._parts: list[MarketData] = []
        self._cache: tuple | None = None
        self.last_ts = -1
        """Newest time covered (pass to ``BrokerAPI.market_data(since_ns)``)."""

    def extend(self, md: MarketData, until_ns: int) -> None:
        if md.ts.size or md.trade_ts.size:
            self._parts.append(md)
            self._cache = None
        self.last_ts = max(self.last_ts, until_ns)

    def arrays(self) -> tuple:
        """(ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, trade_px, trade_sz, trade_side, DayFeatureArrays)."""
        if self._cache is None:
            if not self._parts:
                raise RuntimeError("MarketRecorder: no market data received yet")
            cols = [np.concatenate([getattr(p, f) for p in self._parts]) for f in MarketData.__dataclass_fields__]
            cols = [np.ascontiguousarray(c) for c in cols]
            if cols[0].size == 0:
                raise RuntimeError("MarketRecorder: no book snapshot received yet")
            feats = DayFeatureArrays(cols[1], cols[2], cols[3], cols[4], cols[7], cols[8])
            self._cache = (*cols, feats)
        return self._cache

    def market_volume(self, t0: int, t1: int) -> float:
        """Traded volume stamped in ``(t0, t1]``."""
        arr = self.arrays()
        feats = arr[9]
        k0, k1 = np.searchsorted(arr[5], (t0, t1), side="right")
        return float(feats.cum_vol[k1] - feats.cum_vol[k0])

    def last_valid_mid(self) -> float:
        feats = self.arrays()[9]
        return float(feats.mid_ffill[-1])

    def observation(
        self, now: int, side: int, tick: float, step: int, n_steps: int, quantity: float, remaining: float,
        last_fill_ratio: float, own: OwnImpact | None,
    ) -> np.ndarray:  # fmt: skip
        """The env's observation at decision ``step`` (time ``now``), see ``ExecutionEnv``."""
        ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, _, _, _, f = self.arrays()
        row = int(np.searchsorted(ts, now, side="right")) - 1
        if row < 0:
            raise RuntimeError(f"MarketRecorder: no book snapshot at or before {now}")
        if own is None:
            fills_f, fills_i, n_fills, pp, start, depleted = _NO_FILLS_F, _NO_FILLS_I, 0, _NO_PARAMS, now, 0.0
            resting, queue = 0.0, 0.0  # a real venue does not tell the queue: see OwnImpact
        else:
            fills_f, fills_i, n_fills, pp = own.fills_f, own.fills_i, own.n_fills, own.params
            start, depleted = own.start_ns, own.depletion
            resting, queue = own.resting_qty, own.queue_ahead
        out = np.zeros(OBS_DIM, dtype=np.float32)
        executed = 1.0 - remaining / quantity
        write_observation(
            out, ts, bid_px, bid_sz, ask_px, ask_sz, trade_ts, f.cum_buy, f.cum_sell, f.mid_ffill,
            row, now, side, tick, (n_steps - step) / n_steps, remaining / quantity, executed - step / n_steps,
            last_fill_ratio, quantity / n_steps, remaining, fills_f, fills_i, n_fills, pp, start, depleted,
            int(np.searchsorted(trade_ts, now, side="right")), min(resting / quantity, 1.0), queue,
        )  # fmt: skip
        return out

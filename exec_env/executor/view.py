"""The market view of a live executor: what :class:`exec_env.policy_context.MarketView` gives a fixed
policy in the env, rebuilt from the broker's data, so VWAP, POV, directional change,
Almgren–Chriss and submit-and-leave can work a real order.

Every answer is about the decision being taken (set by the executor with :meth:`ExecutorView.at`
before it asks the policy) and reads only the market data received up to then. Against a
``SimulatedBroker`` it answers exactly what the env's view answers, so such a policy reproduces
its env episode fill for fill; the mids include the order's own impact when the broker reports it
(``BrokerAPI.own_impact``); a real venue's feed already does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from exec_env.env import child_order
from exec_env.policy_context import seen_mids

__all__ = ["ActionMapping", "ExecutorView"]


@dataclass(frozen=True)
class ActionMapping:
    """The part of ``ExecutionConfig`` that fixed policies read (``view.config``)."""

    passive_ticks: int
    cross_ticks: int
    action_mode: str = "continuous"


class ExecutorView:
    """``MarketView``'s interface over an :class:`exec_env.executor.Executor`."""

    continuous = True

    def __init__(self, executor: Any) -> None:
        self._ex = executor
        cfg = executor.config
        self.config = ActionMapping(cfg.passive_ticks, cfg.cross_ticks)
        self.side = int(executor.side)
        self.quantity = float(cfg.quantity)
        self.n_steps = int(executor.n)
        self.interval_ns = int(cfg.interval_ns)
        self.tick = float(executor.broker.tick_size)
        self.lot = float(executor.broker.lot_size)
        self.step_index = 0
        self.now = 0
        self.executed = 0.0
        self._touch = (float("nan"), float("nan"))

    def at(self, step: int, now: int, bid: float, ask: float, executed: float) -> None:
        """Position the view at decision ``step`` (time ``now``, the broker's touch, the executed quantity)."""
        self.step_index, self.now, self.executed = int(step), int(now), float(executed)
        self._touch = (float(bid), float(ask))

    # -- the episode ----------------------------------------------------------------------------
    @property
    def start_ns(self) -> int:
        return int(self._ex.start_ns)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.n_steps * self.interval_ns

    @property
    def decision_ns(self) -> int:
        return self.start_ns + self.step_index * self.interval_ns

    @property
    def remaining(self) -> float:
        return self.quantity - self.executed

    @property
    def session_open_ns(self) -> int:
        session = self._ex.broker.market_hours().session_at(self.start_ns)
        if session is None:
            raise RuntimeError(f"ExecutorView: the broker's market hours have no session at the start {self.start_ns}")
        return int(session[0])

    @property
    def catalogue(self) -> Any:
        raise AttributeError("a live executor has no catalogue: this policy needs the env (Adaptive reads its days)")

    # -- market data up to now ------------------------------------------------------------------
    def touch(self) -> tuple[float, float]:
        """The broker's best bid and ask at the decision (NaN for an empty side)."""
        return self._touch

    def mid(self) -> float:
        return 0.5 * (self._touch[0] + self._touch[1])

    def trades(self, since_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Market trades stamped in ``(since_ns, now]``: ``ts, px, sz, side``."""
        arr = self._ex.recorder.arrays()
        k0, k1 = np.searchsorted(arr[5], [since_ns, self.now], side="right")
        return arr[5][k0:k1], arr[6][k0:k1], arr[7][k0:k1], arr[8][k0:k1]

    def volume(self, since_ns: int) -> float:
        return float(self.trades(since_ns)[2].sum())

    def mids(self, since_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Mid at every two-sided book row stamped in ``(since_ns, now]``, with the order's own
        impact at that time when the broker reports it: ``ts, mid``."""
        ts, bid_px, bid_sz, ask_px, ask_sz = self._ex.recorder.arrays()[:5]
        r1 = int(np.searchsorted(ts, self.now, side="right"))
        own = self._ex.broker.own_impact()
        if own is None:  # a real venue's feed already holds the order's impact
            return seen_mids(ts, bid_px, bid_sz, ask_px, ask_sz, since_ns, r1, self.start_ns, None, None, 0, None)
        return seen_mids(ts, bid_px, bid_sz, ask_px, ask_sz, since_ns, r1, self.start_ns, own.fills_f, own.fills_i,
                         own.n_fills, own.params)  # fmt: skip

    # -- what an action would send ----------------------------------------------------------------
    def child_order(self, pace: float, aggressiveness: float) -> tuple[float, float]:
        bid, ask = self._touch
        return child_order(float(pace), float(aggressiveness), self.step_index, self.n_steps, self.quantity,
                           self.executed, self.lot, self.side, bid, ask, self.tick, self.config.passive_ticks,
                           self.config.cross_ticks)  # fmt: skip

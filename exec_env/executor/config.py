"""The executor's configuration: the parent order, the action mapping, risk limits, retries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExecutorConfig", "RiskLimits"]


def _bad(owner: str, name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"{owner}.{name} = {value!r} is invalid; allowed: {allowed}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class RiskLimits:
    """Pre-trade limits applied to every child order (None: no limit)."""

    max_order_qty: float | None = None
    """Largest child order; bigger ones are cut to it (the horizon liquidation is sent in pieces)."""
    max_participation: float | None = None
    """Own fills in the trailing ``participation_window_s`` plus the new order are at most this share
    of the market volume traded in that window (the order is cut to fit; zero volume allows none)."""
    participation_window_s: float = 60.0
    """Window of ``max_participation``."""
    price_band_bps: float | None = None
    """No limit price more than this many bps through the mid (buy above, sell below); orders are
    pulled back to the band and the horizon liquidation becomes an immediate-or-cancel limit order
    at the band's edge instead of a market order."""
    kill_switch_path: str | None = None
    """If this file exists, the executor cancels its working order and stops (status ``killed``)."""

    def __post_init__(self) -> None:
        o = "RiskLimits"
        if self.max_order_qty is not None and not (_number(self.max_order_qty) and self.max_order_qty > 0):
            raise _bad(o, "max_order_qty", self.max_order_qty, "None or a number > 0")
        if self.max_participation is not None and not (
            _number(self.max_participation) and 0 < self.max_participation <= 1
        ):
            raise _bad(o, "max_participation", self.max_participation, "None or a share in (0, 1]")
        if not (_number(self.participation_window_s) and 0 < self.participation_window_s <= 86_400):
            raise _bad(o, "participation_window_s", self.participation_window_s, "(0, 86400] seconds")
        if self.price_band_bps is not None and not (_number(self.price_band_bps) and 0 < self.price_band_bps <= 1e4):
            raise _bad(o, "price_band_bps", self.price_band_bps, "None or (0, 10000] bps")


@dataclass(frozen=True)
class ExecutorConfig:
    """A parent order and how a policy's actions become child orders.

    ``horizon_s``, ``decision_interval_s``, ``passive_ticks`` and ``cross_ticks`` mean exactly what
    they mean in ``ExecutionConfig``: a trained policy must be run with the values it was trained on.
    """

    side: str
    """``buy`` or ``sell``."""
    quantity: float
    """Parent order size in units (a multiple of the broker's lot size)."""
    horizon_s: float = 600.0
    """Time allowed; what is left at the horizon is liquidated (market order)."""
    decision_interval_s: float = 10.0
    """Time between decisions; ``horizon_s`` must be a whole multiple of it."""
    passive_ticks: int = 2
    """Least aggressive price: ticks behind the near touch (aggressiveness -1)."""
    cross_ticks: int = 5
    """Most aggressive price: ticks through the far touch (aggressiveness +1)."""
    start_ns: int | None = None
    """Start of the horizon (ns since the epoch); None: the broker's time when first run."""
    risk: RiskLimits = field(default_factory=RiskLimits)
    """Pre-trade risk limits."""
    max_retries: int = 3
    """Retries of a request after a timeout or disconnect (the same client id, so never doubled)."""
    retry_backoff_s: float = 0.05
    """Wall-clock pause before the first retry, doubled at each further one."""

    def __post_init__(self) -> None:
        o = "ExecutorConfig"
        if self.side not in ("buy", "sell"):
            raise _bad(o, "side", self.side, "'buy' or 'sell'")
        if not (_number(self.quantity) and self.quantity > 0):
            raise _bad(o, "quantity", self.quantity, "a finite number > 0")
        if not (_number(self.decision_interval_s) and 0.001 <= self.decision_interval_s <= 86_400):
            raise _bad(o, "decision_interval_s", self.decision_interval_s, "0.001 .. 86400 seconds")
        if not (_number(self.horizon_s) and self.decision_interval_s <= self.horizon_s <= 86_400):
            raise _bad(o, "horizon_s", self.horizon_s, f"decision_interval_s ({self.decision_interval_s}) .. 86400 s")
        steps = self.horizon_s / self.decision_interval_s
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise _bad(
                o, "horizon_s", self.horizon_s, f"a whole multiple of decision_interval_s ({self.decision_interval_s})"
            )
        if not (isinstance(self.passive_ticks, int) and 0 <= self.passive_ticks <= 100):
            raise _bad(o, "passive_ticks", self.passive_ticks, "an integer 0 .. 100")
        if not (isinstance(self.cross_ticks, int) and 0 <= self.cross_ticks <= 1000):
            raise _bad(o, "cross_ticks", self.cross_ticks, "an integer 0 .. 1000")
        if self.start_ns is not None and not (isinstance(self.start_ns, int) and self.start_ns >= 0):
            raise _bad(o, "start_ns", self.start_ns, "None or an integer >= 0 (ns since the epoch)")
        if not isinstance(self.risk, RiskLimits):
            raise _bad(o, "risk", self.risk, "a RiskLimits")
        if not (isinstance(self.max_retries, int) and 0 <= self.max_retries <= 100):
            raise _bad(o, "max_retries", self.max_retries, "an integer 0 .. 100")
        if not (_number(self.retry_backoff_s) and 0 <= self.retry_backoff_s <= 60):
            raise _bad(o, "retry_backoff_s", self.retry_backoff_s, "0 .. 60 seconds")

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_s / self.decision_interval_s))

    @property
    def interval_ns(self) -> int:
        return int(round(self.decision_interval_s * 1e9))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly view (journaled with the parent order)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "risk"}
        out["risk"] = {k: getattr(self.risk, k) for k in self.risk.__dataclass_fields__}
        return out

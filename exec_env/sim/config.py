"""Configuration of the execution simulator: fees, latency, resilience and impact."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SimConfig"]


def _check_range(owner: str, name: str, value: float, low: float, high: float = math.inf) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{owner}.{name} = {value!r} is outside the allowed range [{low}, {high}]")


@dataclass(frozen=True)
class SimConfig:
    """How child orders meet the replayed market.

    Impact coefficients are in price units per unit traded (Almgren–Chriss convention): a
    permanent coefficient of ``1e-6`` moves every later price by 0.01 after 10,000 units.
    """

    maker_fee_bps: float = 0.0
    """Fee on passive fills in bps of notional; negative is a rebate."""
    taker_fee_bps: float = 0.5
    """Fee on aggressive fills (including the forced liquidation) in bps of notional."""
    latency_ms: float = 1.0
    """Order-to-exchange latency: an order decided at t reaches the book at t + latency (the
    previous resting order can still fill in between)."""
    resilience_s: float = 5.0
    """Time constant of the exponential recovery of liquidity the agent took (0 = instant)."""
    permanent_impact: float = 0.0
    """Permanent impact, price units per unit traded (shifts all later prices)."""
    transient_impact: float = 0.0
    """Transient impact, price units per unit traded, decaying with ``transient_half_life_s``."""
    transient_half_life_s: float = 60.0
    """Half-life of the transient impact (Obizhaeva–Wang exponential kernel)."""
    beyond_book_ticks: float = 5.0
    """Forced liquidation of what the visible book cannot absorb happens this many ticks past
    its deepest level (reported as ``beyond_book_qty``)."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_range(owner, "maker_fee_bps", self.maker_fee_bps, -100.0, 100.0)
        _check_range(owner, "taker_fee_bps", self.taker_fee_bps, -100.0, 100.0)
        _check_range(owner, "latency_ms", self.latency_ms, 0.0, 60_000.0)
        _check_range(owner, "resilience_s", self.resilience_s, 0.0, 86_400.0)
        _check_range(owner, "permanent_impact", self.permanent_impact, 0.0)
        _check_range(owner, "transient_impact", self.transient_impact, 0.0)
        _check_range(owner, "transient_half_life_s", self.transient_half_life_s, 1e-6, 86_400.0)
        _check_range(owner, "beyond_book_ticks", self.beyond_book_ticks, 0.0, 10_000.0)

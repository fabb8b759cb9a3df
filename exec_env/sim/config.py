"""Configuration of the execution simulator: fees, latency, liquidity, queue and impact models.

Every model is chosen by name and validated here; the formulas are in ``docs/market_model.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["LIQUIDITY_MODELS", "QUEUE_MODELS", "TRANSIENT_KERNELS", "SimConfig"]

TRANSIENT_KERNELS = ("exponential", "power_law")
LIQUIDITY_MODELS = ("book", "sqrt")
QUEUE_MODELS = ("conservative", "power", "log", "order_level")


def _check_range(owner: str, name: str, value: float, low: float, high: float = math.inf) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high
    ):
        raise ValueError(f"{owner}.{name} = {value!r} is outside the allowed range [{low}, {high}]")


def _check_name(owner: str, name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{owner}.{name} = {value!r} is invalid; allowed: {', '.join(allowed)}")


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
    previous resting order can still fill in between). Must be shorter than the decision interval."""
    resilience_s: float = 5.0
    """Time constant of the exponential recovery of the opposite-side liquidity the agent took
    (0 = instant recovery, i.e. no depletion)."""
    permanent_impact: float = 0.0
    """gamma, linear permanent impact (Almgren–Chriss), price units per unit traded."""
    transient_impact: float = 0.0
    """eta, transient impact, price units per unit traded at the instant of the trade, decaying
    with ``transient_kernel``."""
    transient_kernel: str = "exponential"
    """``exponential`` (Obizhaeva–Wang, ``G(t) = exp(-t ln2 / half_life)``) or ``power_law``
    (Bouchaud et al. propagator, ``G(t) = (1 + t/t0)^-beta``, as a sum of 8 exponentials)."""
    transient_half_life_s: float = 60.0
    """Half-life of the exponential transient kernel."""
    transient_t0_s: float = 1.0
    """t0 of the power-law kernel."""
    transient_beta: float = 0.5
    """beta of the power-law kernel."""
    liquidity: str = "book"
    """``book``: walk the recorded levels, then a profile tail (levels on the tick grid past the
    deepest recorded price, each with the row's mean recorded level size). ``sqrt``: ignore the
    displayed sizes; the marginal concession at cumulative depth x is
    ``sqrt_coef * daily_vol * price * sqrt(x / daily_volume)`` (for bars and ticks, which have no depth)."""
    sqrt_coef: float = 1.0
    """Y of the square-root law."""
    daily_vol: float = 0.0
    """Daily volatility (fraction) for the square-root law."""
    daily_volume: float = 0.0
    """Daily volume (units) for the square-root law."""
    queue: str = "conservative"
    """Queue model of resting orders: ``conservative`` (cancellations never advance us; the queue
    ahead is capped by the displayed size), ``power`` / ``log`` (a cancellation at our level is
    ahead of us with probability ``f(ahead) / (f(ahead) + f(behind))``, ``f(x) = x**queue_power``
    or ``log(1 + x)``; the expected advance is applied), ``order_level`` (for data that carries
    orders: LOBSTER message files, Databento MBO; our place is behind the orders resting at our
    price when we joined, and only their cancellations, and trades, advance us)."""
    queue_power: float = 2.0
    """Exponent of the ``power`` queue model."""
    participation_cap: float = 0.0
    """If > 0: fills in a decision interval (forced liquidation excepted) are at most this share
    of the market volume traded in that interval (as bar-based simulators do)."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        _check_range(owner, "maker_fee_bps", self.maker_fee_bps, -100.0, 100.0)
        _check_range(owner, "taker_fee_bps", self.taker_fee_bps, -100.0, 100.0)
        _check_range(owner, "latency_ms", self.latency_ms, 0.0, 60_000.0)
        _check_range(owner, "resilience_s", self.resilience_s, 0.0, 86_400.0)
        _check_range(owner, "permanent_impact", self.permanent_impact, 0.0)
        _check_range(owner, "transient_impact", self.transient_impact, 0.0)
        _check_name(owner, "transient_kernel", self.transient_kernel, TRANSIENT_KERNELS)
        _check_range(owner, "transient_half_life_s", self.transient_half_life_s, 1e-6, 86_400.0)
        _check_range(owner, "transient_t0_s", self.transient_t0_s, 1e-3, 86_400.0)
        _check_range(owner, "transient_beta", self.transient_beta, 0.05, 3.0)
        _check_name(owner, "liquidity", self.liquidity, LIQUIDITY_MODELS)
        _check_range(owner, "sqrt_coef", self.sqrt_coef, 0.0, 100.0)
        _check_range(owner, "daily_vol", self.daily_vol, 0.0, 10.0)
        _check_range(owner, "daily_volume", self.daily_volume, 0.0)
        if self.liquidity == "sqrt" and not (self.daily_vol > 0 and self.daily_volume > 0 and self.sqrt_coef > 0):
            raise ValueError(
                f"{owner}.liquidity = 'sqrt' needs sqrt_coef, daily_vol and daily_volume > 0 "
                f"(got {self.sqrt_coef}, {self.daily_vol}, {self.daily_volume}); calibrate() estimates them"
            )
        _check_name(owner, "queue", self.queue, QUEUE_MODELS)
        _check_range(owner, "queue_power", self.queue_power, 0.1, 10.0)
        _check_range(owner, "participation_cap", self.participation_cap, 0.0, 1.0)

    def describe(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

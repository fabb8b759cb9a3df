"""The broker interface an executor works through: market data, orders, fills, positions, hours, fees.

Everything is asynchronous (``async def``) so that one executor can drive a local simulator, a
remote simulator or a real venue with the same code. Quantities are unsigned; ``side`` is +1 (buy)
or -1 (sell). Times are int64 nanoseconds since the Unix epoch (UTC), as in the market data.

Order quantity semantics follow FIX: an order's ``qty`` is its *total* quantity including what has
already filled; an amend sets a new total, so the leaves quantity is ``qty - filled`` at the moment
the amend reaches the venue. A fill that happens while an amend is in flight therefore can never
make the order trade more than the new total (no overfill by race).
"""

from __future__ import annotations

import datetime as dt
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BrokerAPI",
    "BrokerDisconnected",
    "BrokerError",
    "BrokerReject",
    "BrokerTimeout",
    "CommissionSchedule",
    "Fill",
    "MarketData",
    "MarketHours",
    "OrderRequest",
    "OrderState",
    "OwnImpact",
    "Position",
    "Quote",
]

OrderStatus = Literal["working", "filled", "canceled", "rejected"]


# -- errors -------------------------------------------------------------------------------------
class BrokerError(Exception):
    """Base class of broker failures."""


class BrokerReject(BrokerError):
    """The venue refused the request (it was not applied). ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class BrokerTimeout(BrokerError):
    """No answer in time: the request may or may not have been applied (ask ``order_status``)."""


class BrokerDisconnected(BrokerError):
    """The connection dropped before the request was sent: it was not applied."""


# reject codes
NOT_WORKING = "not_working"
"""Amend or cancel of an order that is no longer working (filled or canceled)."""
DUPLICATE = "duplicate_client_id"
MARKET_CLOSED = "market_closed"
INVALID_ORDER = "invalid_order"


# -- value objects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quote:
    """Best bid and ask (NaN for an empty side) with their sizes, at ``ts``."""

    ts: int
    bid: float
    ask: float
    bid_size: float
    ask_size: float

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)


@dataclass(frozen=True)
class MarketData:
    """Book snapshots and trades in the canonical layout (``exec_env.market.data``), in time order."""

    ts: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    trade_ts: np.ndarray
    trade_px: np.ndarray
    trade_sz: np.ndarray
    trade_side: np.ndarray


@dataclass(frozen=True)
class OwnImpact:
    """A simulated venue's model of the executor's own footprint on the prices it publishes.

    A real venue's data already contains the executor's impact, so a real broker returns ``None``
    from :meth:`BrokerAPI.own_impact`. A simulated venue replays recorded data and shifts it by an
    impact model; the executor needs that model's state to see the prices the simulator trades at,
    exactly as the environment's observation does (``exec_env.features.write_observation``).
    """

    fills_f: np.ndarray
    fills_i: np.ndarray
    n_fills: int
    params: np.ndarray
    start_ns: int
    depletion: float
    resting_qty: float = 0.0
    """The simulated venue's view of the executor's resting order (for the observation)."""
    queue_ahead: float = 0.0


@dataclass(frozen=True)
class OrderRequest:
    """A new order. ``limit_px`` None is a market order; ``tif`` ``ioc`` cancels what does not
    fill at once. ``client_id`` is the caller's idempotency key: a venue refuses a second order
    with the same ``client_id``."""

    client_id: str
    symbol: str
    side: int
    qty: float
    limit_px: float | None
    tif: Literal["day", "ioc"] = "day"


@dataclass(frozen=True)
class OrderState:
    """What the venue knows of one order."""

    order_id: str
    client_id: str
    symbol: str
    side: int
    qty: float
    """Total quantity (FIX OrderQty): filled plus leaves."""
    limit_px: float | None
    filled: float
    status: OrderStatus
    client_ids: tuple[str, ...] = ()
    """Every client id that touched the order (the submit, then each amend and cancel)."""

    @property
    def leaves(self) -> float:
        return max(self.qty - self.filled, 0.0) if self.status == "working" else 0.0


@dataclass(frozen=True)
class Fill:
    """One execution. ``seq`` orders the venue's fills; ``fee`` is the exchange fee, ``commission``
    the broker's (``CommissionSchedule``)."""

    seq: int
    fill_id: str
    order_id: str
    ts: int
    px: float
    qty: float
    fee: float
    commission: float
    liquidity: str
    """``maker``, ``taker``, ``forced`` (market order) or ``beyond`` (walked past the recorded book)."""


@dataclass(frozen=True)
class Position:
    symbol: str
    qty: float
    """Signed: + long."""
    cash: float
    """Cash flow of the fills, fees and commissions included."""


# -- market hours -------------------------------------------------------------------------------
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class MarketHours:
    """Trading sessions ``[open, close)`` in ns since the epoch, sorted and disjoint.

    ``MarketHours.always()`` for venues that never close (crypto); ``MarketHours.daily(...)`` for an
    exchange calendar in its own time zone (daylight saving handled by ``zoneinfo``).
    """

    sessions: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        prev_close = None
        for i, (o, c) in enumerate(self.sessions):
            if not c > o:
                raise ValueError(f"MarketHours.sessions[{i}] = ({o}, {c}): close must be after open")
            if prev_close is not None and o < prev_close:
                raise ValueError(
                    f"MarketHours.sessions[{i}] opens at {o}, before session {i - 1} closes ({prev_close})"
                )
            prev_close = c

    @classmethod
    def always(cls) -> MarketHours:
        return cls(((-(2**62), 2**62),))

    @classmethod
    def daily(
        cls,
        open_time: str,
        close_time: str,
        tz: str,
        first_date: str,
        last_date: str,
        weekdays: str = "mon-fri",
        holidays: tuple[str, ...] = (),
    ) -> MarketHours:
        """Sessions from ``open_time`` to ``close_time`` (``HH:MM[:SS]`` local) on each trading date
        from ``first_date`` to ``last_date`` (``YYYY-MM-DD``, inclusive) in time zone ``tz``."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(tz)
        t_open = _parse_time("open_time", open_time)
        t_close = _parse_time("close_time", close_time)
        if t_close <= t_open:
            raise ValueError(f"MarketHours.daily: close_time = {close_time!r} must be after open_time = {open_time!r}")
        days = _parse_weekdays(weekdays)
        first = _parse_date("first_date", first_date)
        last = _parse_date("last_date", last_date)
        skip = {_parse_date("holidays", h) for h in holidays}
        sessions = []
        d = first
        while d <= last:
            if d.weekday() in days and d not in skip:
                o = dt.datetime.combine(d, t_open, tzinfo=zone)
                c = dt.datetime.combine(d, t_close, tzinfo=zone)
                sessions.append((_to_ns(o), _to_ns(c)))
            d += dt.timedelta(days=1)
        return cls(tuple(sessions))

    def is_open(self, ts: int) -> bool:
        return self.session_at(ts) is not None

    def session_at(self, ts: int) -> tuple[int, int] | None:
        """The session containing ``ts`` (open inclusive, close exclusive), or None."""
        i = self._index(ts)
        if i >= 0 and ts < self.sessions[i][1]:
            return self.sessions[i]
        return None

    def next_open(self, ts: int) -> int | None:
        """The first open at or after ``ts`` (``ts`` itself when open), or None."""
        s = self.session_at(ts)
        if s is not None:
            return ts
        i = self._index(ts) + 1
        return self.sessions[i][0] if i < len(self.sessions) else None

    def _index(self, ts: int) -> int:
        """Index of the last session opening at or before ``ts`` (-1 if none)."""
        lo, hi = 0, len(self.sessions)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.sessions[mid][0] <= ts:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1


def _to_ns(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000


def _parse_time(name: str, value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"MarketHours.daily: {name} = {value!r} is not a time; allowed: HH:MM or HH:MM:SS") from None


def _parse_date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"MarketHours.daily: {name} = {value!r} is not a date; allowed: YYYY-MM-DD") from None


def _parse_weekdays(value: str) -> set[int]:
    out: set[int] = set()
    for part in value.lower().split(","):
        ends = part.strip().split("-")
        if not all(e in _WEEKDAYS for e in ends) or len(ends) > 2:
            raise ValueError(
                f"MarketHours.daily: weekdays = {value!r}; allowed: names {', '.join(_WEEKDAYS)} and ranges like mon-fri"
            )
        a, b = _WEEKDAYS.index(ends[0]), _WEEKDAYS.index(ends[-1])
        out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return out


# -- commissions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CommissionSchedule:
    """The broker's commission on one order, charged fill by fill.

    The commission of an order that has filled ``q`` units for notional ``N`` is
    ``C(q, N) = min(max(per_unit * q + bps * 1e-4 * N, minimum), max_bps * 1e-4 * N)`` (no cap when
    ``max_bps`` is None; zero when nothing filled). Each fill is charged ``C`` after it minus ``C``
    before it, so the first fill pays the minimum and the fills of one order always sum to ``C``
    of the whole order (e.g. Interactive Brokers' fixed US equities: ``per_unit=0.005``,
    ``minimum=1.0``, ``max_bps=100``).
    """

    per_unit: float = 0.0
    bps: float = 0.0
    minimum: float = 0.0
    max_bps: float | None = None

    def __post_init__(self) -> None:
        for name in ("per_unit", "bps", "minimum"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 1e6):
                raise ValueError(f"CommissionSchedule.{name} = {value!r} is outside the allowed range [0, 1e6]")
        if self.max_bps is not None and not (math.isfinite(self.max_bps) and 0 < self.max_bps <= 1e4):
            raise ValueError(f"CommissionSchedule.max_bps = {self.max_bps!r} is outside the allowed range (0, 1e4]")

    def order_commission(self, qty: float, notional: float) -> float:
        """``C(q, N)``: the commission of an order that has filled ``qty`` units for ``notional``."""
        if qty <= 0:
            return 0.0
        c = max(self.per_unit * qty + self.bps * 1e-4 * notional, self.minimum)
        if self.max_bps is not None:
            c = min(c, self.max_bps * 1e-4 * notional)
        return c

    def fill_commission(self, filled_before: float, notional_before: float, qty: float, notional: float) -> float:
        """Commission of a fill of ``qty`` for ``notional`` on an order that had filled
        ``filled_before`` for ``notional_before``."""
        after = self.order_commission(filled_before + qty, notional_before + notional)
        return after - self.order_commission(filled_before, notional_before)


# -- the interface ------------------------------------------------------------------------------
class BrokerAPI(ABC):
    """What an executor needs from a broker. Implementations: ``SimulatedBroker`` (replay through
    the env's simulator) and ``CcxtBroker`` (crypto exchanges through ccxt)."""

    symbol: str
    tick_size: float
    lot_size: float

    # clock
    @abstractmethod
    async def now_ns(self) -> int:
        """The venue's time."""

    @abstractmethod
    async def wait_until(self, ts: int) -> None:
        """Return once the venue's time is ``>= ts`` (a simulator may run faster than real time)."""

    # market data
    @abstractmethod
    async def quote(self) -> Quote:
        """The touch as the venue trades it now."""

    @abstractmethod
    async def market_data(self, since_ns: int) -> MarketData:
        """Book snapshots and trades stamped after ``since_ns`` and at or before now."""

    def own_impact(self) -> OwnImpact | None:
        """A simulated venue's footprint model (see :class:`OwnImpact`); None for a real venue."""
        return None

    # orders
    @abstractmethod
    async def submit(self, order: OrderRequest) -> OrderState:
        """Send a new order; raises ``BrokerReject`` (not applied), ``BrokerTimeout`` (unknown) or
        ``BrokerDisconnected`` (not applied)."""

    @abstractmethod
    async def amend(self, order_id: str, client_id: str, qty: float, limit_px: float) -> OrderState:
        """Set a working order's total quantity and limit (``client_id`` names this request)."""

    @abstractmethod
    async def cancel(self, order_id: str, client_id: str) -> OrderState:
        """Cancel a working order (``client_id`` names this request)."""

    @abstractmethod
    async def order_status(self, client_id: str) -> OrderState | None:
        """The order a submit, amend or cancel with ``client_id`` reached, or None if no request
        with that id reached the venue."""

    @abstractmethod
    async def fills(self, since_seq: int) -> list[Fill]:
        """Every fill with ``seq > since_seq``, in order."""

    @abstractmethod
    async def positions(self) -> dict[str, Position]:
        """Positions by symbol."""

    # venue rules
    @abstractmethod
    def market_hours(self) -> MarketHours:
        """When orders are accepted."""

    @abstractmethod
    def commission_schedule(self) -> CommissionSchedule:
        """How the broker charges."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""

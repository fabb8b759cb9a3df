"""SimulatedBroker: a venue that replays one canonical market day through the env's simulator.

The venue is the environment's :class:`~exec_env.sim.ExecutionSimulator` (same book replay,
queues, depletion, impact, latency and fees), behind the :class:`BrokerAPI`:

* time is virtual (``speed=None``: as fast as the executor asks) or real time scaled by ``speed``;
* a request reaches the book ``SimConfig.latency_ms`` after the venue time it was sent at; the
  working order can still fill in between;
* the simulator works one order at a time, so a new limit order while another is working is
  refused (``one_working_order``): amend or cancel it first. Market orders are the simulator's
  forced liquidation (no limit, walks the book and its profile tail);
* orders are accepted inside ``market_hours`` only (default: the day's session), cancels always;
* ``state_path`` makes the venue durable: every request that changed its state is logged to SQLite
  after it is applied, and a new ``SimulatedBroker`` on the same file replays the log, so a venue
  "outlives" an executor process that was killed (as a real venue does);
* ``faults`` injects venue errors for tests of the caller's error handling.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exec_env.broker.interface import (
    DUPLICATE,
    INVALID_ORDER,
    MARKET_CLOSED,
    NOT_WORKING,
    BrokerAPI,
    BrokerDisconnected,
    BrokerReject,
    BrokerTimeout,
    CommissionSchedule,
    Fill,
    MarketData,
    MarketHours,
    OrderRequest,
    OrderState,
    OwnImpact,
    Position,
    Quote,
)
from exec_env.market.data import MarketDay
from exec_env.sim import DayArrays, ExecutionSimulator, SimConfig
from exec_env.sim import kernels as K

__all__ = ["FAULT_KINDS", "SimulatedBroker"]

FAULT_KINDS = ("reject", "disconnect", "timeout")
"""``reject``/``disconnect``: the request is refused before it is applied; ``timeout``: it is
applied, then the answer is lost."""
_FAULT_METHODS = ("submit", "amend", "cancel", "fills", "order_status")
_LIQUIDITY = {int(K.LIQ_MAKER): "maker", int(K.LIQ_TAKER): "taker", int(K.LIQ_FORCED): "forced", 3: "beyond"}
ONE_WORKING_ORDER = "one_working_order"
INVALID = INVALID_ORDER


@dataclass
class _Order:
    order_id: str
    client_id: str
    side: int
    qty: float
    limit_px: float | None
    filled: float = 0.0
    notional: float = 0.0
    commission: float = 0.0
    status: str = "working"
    client_ids: list[str] = field(default_factory=list)

    def state(self, symbol: str) -> OrderState:
        return OrderState(
            self.order_id, self.client_id, symbol, self.side, self.qty, self.limit_px, self.filled,
            self.status, tuple(self.client_ids),  # type: ignore[arg-type]
        )  # fmt: skip


class SimulatedBroker(BrokerAPI):
    """A simulated venue for one instrument, one day and one side (the simulator's episode).

    ``SimulatedBroker(day, sim_config, side, start_ns)`` starts the replay at ``start_ns`` exactly
    as ``ExecutionEnv.reset(options={"start_ns": ...})`` does; ``commission`` adds a broker's
    commission to the simulator's exchange fees; ``market_hours`` defaults to the day's session.
    """

    def __init__(
        self,
        day: MarketDay,
        sim_config: SimConfig,
        side: int,
        start_ns: int,
        *,
        commission: CommissionSchedule | None = None,
        market_hours: MarketHours | None = None,
        speed: float | None = None,
        state_path: str | Path | None = None,
        faults: dict[str, dict[int, str]] | None = None,
    ) -> None:
        if sim_config.participation_cap != 0.0:
            raise ValueError(
                f"SimulatedBroker: SimConfig.participation_cap = {sim_config.participation_cap} is not supported; "
                "allowed: 0 (limit participation with the executor's RiskLimits.max_participation)"
            )
        if side not in (1, -1):
            raise ValueError(f"SimulatedBroker: side = {side!r}; allowed: 1 (buy), -1 (sell)")
        if speed is not None and not (math.isfinite(speed) and 0 < speed <= 1e6):
            raise ValueError(
                f"SimulatedBroker: speed = {speed!r} is outside the allowed range (0, 1e6] (None: virtual)"
            )
        meta = day.meta
        if not meta.session_open_ns <= start_ns < meta.session_close_ns:
            raise ValueError(
                f"SimulatedBroker: start_ns = {start_ns} is outside the session [{meta.session_open_ns}, "
                f"{meta.session_close_ns}) of {meta.symbol} {meta.date}"
            )
        self.day = day
        self.symbol = meta.symbol
        self.tick_size = float(meta.tick_size)
        self.lot_size = float(meta.lot_size)
        self.side = side
        self.start_ns = int(start_ns)
        self.sim_config = sim_config
        self._commission = commission or CommissionSchedule()
        self._hours = market_hours or MarketHours(((meta.session_open_ns, meta.session_close_ns),))
        self.speed = speed
        self._data = DayArrays(day)
        self.sim = ExecutionSimulator(sim_config, day.levels)
        self.sim.reset(self._data, side, self.start_ns)
        self._clock = self.start_ns
        self._orders: dict[str, _Order] = {}
        self._by_client: dict[str, str] = {}
        self._live: str | None = None
        self._fills: list[Fill] = []
        self._cursor = 0  # simulator fill records already turned into Fills
        self._faults = {m: dict(v) for m, v in (faults or {}).items()}
        for method, plan in self._faults.items():
            if method not in _FAULT_METHODS:
                raise ValueError(f"SimulatedBroker: faults method {method!r}; allowed: {_FAULT_METHODS}")
            for n, kind in plan.items():
                if kind not in FAULT_KINDS:
                    raise ValueError(f"SimulatedBroker: faults[{method!r}][{n}] = {kind!r}; allowed: {FAULT_KINDS}")
        self._calls: dict[str, int] = dict.fromkeys(_FAULT_METHODS, 0)
        self._db: sqlite3.Connection | None = None
        if state_path is not None:
            self._open_state(Path(state_path))

    # -- durability ---------------------------------------------------------------------------
    def _fingerprint(self) -> str:
        return json.dumps(
            {"source": self.day.meta.source, "symbol": self.symbol, "date": self.day.meta.date,
             "side": self.side, "start_ns": self.start_ns, "sim": self.sim_config.describe(),
             "commission": [self._commission.per_unit, self._commission.bps, self._commission.minimum,
                            self._commission.max_bps]},
            sort_keys=True,
        )  # fmt: skip

    def _open_state(self, path: Path) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE IF NOT EXISTS venue (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS requests (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL)"
        )
        fp = self._fingerprint()
        row = db.execute("SELECT value FROM venue WHERE key = 'fingerprint'").fetchone()
        if row is None:
            db.execute("INSERT INTO venue VALUES ('fingerprint', ?)", (fp,))
        elif row[0] != fp:
            raise ValueError(
                f"SimulatedBroker: state_path = {str(path)!r} holds another session ({row[0][:200]}...); "
                "use a new file for a new session"
            )
        for kind, payload in db.execute("SELECT kind, payload FROM requests ORDER BY seq").fetchall():
            try:
                self._apply(kind, json.loads(payload))
            except BrokerReject:
                pass  # it was refused the first time too
        self._db = db

    def _log(self, kind: str, payload: dict[str, Any]) -> None:
        if self._db is not None:
            self._db.execute("INSERT INTO requests (kind, payload) VALUES (?, ?)", (kind, json.dumps(payload)))

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """Every logged request (kind, payload), oldest first (needs ``state_path``)."""
        if self._db is None:
            raise RuntimeError("SimulatedBroker.requests() needs a state_path")
        rows = self._db.execute("SELECT kind, payload FROM requests ORDER BY seq").fetchall()
        return [(k, json.loads(p)) for k, p in rows]

    def _request(self, kind: str, payload: dict[str, Any]) -> Any:
        """Apply and log one state-changing request, with fault injection."""
        fault = self._next_fault(kind)
        if fault == "reject":
            raise BrokerReject("injected", f"injected reject of {kind} {payload.get('client_id', '')}")
        if fault == "disconnect":
            raise BrokerDisconnected(f"injected disconnect before {kind} {payload.get('client_id', '')}")
        try:
            result = self._apply(kind, payload)
        except BrokerReject:
            self._log(kind, payload)  # the replay may have moved before the refusal
            raise
        self._log(kind, payload)
        if fault == "timeout":
            raise BrokerTimeout(f"injected timeout after {kind} {payload.get('client_id', '')} was applied")
        return result

    def _next_fault(self, method: str) -> str | None:
        if method not in self._calls:
            return None
        self._calls[method] += 1
        return self._faults.get(method, {}).get(self._calls[method])

    # -- state changes (deterministic: replayed from the log) ---------------------------------
    def _apply(self, kind: str, p: dict[str, Any]) -> Any:
        if kind == "clock":
            self._advance(int(p["ts"]))
            self._clock = max(self._clock, int(p["ts"]))
            return None
        if kind == "submit":
            return self._do_submit(p)
        if kind == "amend":
            return self._do_amend(p)
        if kind == "cancel":
            return self._do_cancel(p)
        raise ValueError(f"SimulatedBroker: unknown request kind {kind!r} in the state log")

    def _advance(self, ts: int) -> None:
        if ts > self.sim.now:
            self.sim.advance(ts)
            self._collect()

    def _arrive(self) -> int:
        """Replay until a request sent now reaches the book; returns that time."""
        t = self._clock + self.sim.latency_ns
        self._advance(t)
        return t

    def _collect(self) -> None:
        """Turn new simulator fill records into Fills of the working order."""
        sim = self.sim
        n = sim.n_fills
        if n > self._cursor:
            order = self._orders[self._live] if self._live is not None else None
            for i in range(self._cursor, n):
                if order is None:  # cannot happen: the simulator fills only our orders
                    raise RuntimeError("SimulatedBroker: a fill without a working order")
                px = float(sim.fills_f[i, K.FILL_PX])
                qty = float(sim.fills_f[i, K.FILL_QTY])
                notional = px * qty
                commission = self._commission.fill_commission(order.filled, order.notional, qty, notional)
                order.filled += qty
                order.notional += notional
                order.commission += commission
                seq = len(self._fills) + 1
                self._fills.append(
                    Fill(seq, f"{order.order_id}-F{seq}", order.order_id, int(sim.fills_i[i, K.FILLI_TS]), px, qty,
                         float(sim.fills_f[i, K.FILL_FEE]), commission, _LIQUIDITY[int(sim.fills_f[i, K.FILL_LIQ])])
                )  # fmt: skip
            self._cursor = n
        if self._live is not None and sim.resting_qty <= 0.0:
            self._orders[self._live].status = "filled"
            self._live = None

    def _check_new(self, client_id: str) -> None:
        if client_id in self._by_client:
            raise BrokerReject(DUPLICATE, f"client id {client_id!r} was used before")

    def _check_price(self, px: float) -> None:
        steps = px / self.tick_size
        if not (math.isfinite(px) and px > 0 and abs(steps - round(steps)) <= 1e-6):
            raise BrokerReject(INVALID, f"limit price {px!r} is not a positive multiple of the tick {self.tick_size}")

    def _check_qty(self, qty: float) -> None:
        lots = qty / self.lot_size
        if not (math.isfinite(qty) and qty > 0 and abs(lots - round(lots)) <= 1e-9 * max(lots, 1.0)):
            raise BrokerReject(INVALID, f"quantity {qty!r} is not a positive multiple of the lot {self.lot_size}")

    def _check_open(self, t: int) -> None:
        if not self._hours.is_open(t):
            raise BrokerReject(MARKET_CLOSED, f"the market is closed at {t} (next open {self._hours.next_open(t)})")

    def _do_submit(self, p: dict[str, Any]) -> OrderState:
        cid, qty, px, tif = p["client_id"], float(p["qty"]), p["limit_px"], p["tif"]
        self._check_new(cid)
        if p["side"] != self.side or p["symbol"] != self.symbol:
            raise BrokerReject(INVALID, f"this session trades {self.symbol} side {self.side}, got {p['symbol']} "
                               f"side {p['side']}")  # fmt: skip
        self._check_qty(qty)
        if px is not None:
            self._check_price(float(px))
        self._check_open(self._clock + self.sim.latency_ns)
        if self._live is not None:
            raise BrokerReject(ONE_WORKING_ORDER, f"order {self._live} is working: amend or cancel it first")
        self._arrive()
        if self._live is not None:  # unreachable: no live order before, so nothing could fill in flight
            raise RuntimeError("SimulatedBroker: working order appeared in flight")
        oid = f"S{len(self._orders) + 1}"
        order = _Order(oid, cid, self.side, qty, None if px is None else float(px), client_ids=[cid])
        self._orders[oid] = order
        self._by_client[cid] = oid
        self._live = oid
        if px is None:
            self.sim.liquidate(qty)
        else:
            self.sim.submit(qty, float(px))
        self._collect()
        if tif == "ioc" and self._live == oid:
            self.sim.cancel()
            order.status = "canceled"
            self._live = None
        return order.state(self.symbol)

    def _do_amend(self, p: dict[str, Any]) -> OrderState:
        cid, oid, qty, px = p["client_id"], p["order_id"], float(p["qty"]), float(p["limit_px"])
        self._check_new(cid)
        order = self._orders.get(oid)
        if order is None:
            raise BrokerReject(INVALID, f"unknown order {oid!r}")
        self._check_qty(qty)
        self._check_price(px)
        self._check_open(self._clock + self.sim.latency_ns)
        self._arrive()
        self._by_client[cid] = oid
        order.client_ids.append(cid)
        if self._live != oid:
            raise BrokerReject(NOT_WORKING, f"order {oid} is {order.status}")
        leaves = qty - order.filled
        order.qty = qty
        order.limit_px = px
        if leaves <= 1e-9 * qty:
            self.sim.cancel()
            order.status = "filled" if order.filled > 0 and abs(order.filled - qty) <= 1e-9 * qty else "canceled"
            self._live = None
        else:
            self.sim.submit(leaves, px)
            self._collect()
        return order.state(self.symbol)

    def _do_cancel(self, p: dict[str, Any]) -> OrderState:
        cid, oid = p["client_id"], p["order_id"]
        self._check_new(cid)
        order = self._orders.get(oid)
        if order is None:
            raise BrokerReject(INVALID, f"unknown order {oid!r}")
        self._arrive()
        self._by_client[cid] = oid
        order.client_ids.append(cid)
        if self._live != oid:
            raise BrokerReject(NOT_WORKING, f"order {oid} is {order.status}")
        self.sim.cancel()
        order.status = "canceled"
        self._live = None
        return order.state(self.symbol)

    # -- BrokerAPI ----------------------------------------------------------------------------
    async def now_ns(self) -> int:
        return self._clock

    async def wait_until(self, ts: int) -> None:
        ts = int(ts)
        if ts <= self._clock:
            return
        if self.speed is not None:
            await asyncio.sleep((ts - self._clock) / 1e9 / self.speed)
        self._request("clock", {"ts": ts})

    async def quote(self) -> Quote:
        bid, ask = self.sim.touch()
        row = self.sim.book_row
        d = self._data
        return Quote(self.sim.now, bid, ask, float(d.bid_sz[row, 0]), float(d.ask_sz[row, 0]))

    async def market_data(self, since_ns: int) -> MarketData:
        d = self._data
        i0, i1 = np.searchsorted(d.ts, (since_ns, self._clock), side="right")
        k0, k1 = np.searchsorted(d.trade_ts, (since_ns, self._clock), side="right")
        return MarketData(
            d.ts[i0:i1], d.bid_px[i0:i1], d.bid_sz[i0:i1], d.ask_px[i0:i1], d.ask_sz[i0:i1],
            d.trade_ts[k0:k1], d.trade_px[k0:k1], d.trade_sz[k0:k1], d.trade_side[k0:k1],
        )  # fmt: skip

    def own_impact(self) -> OwnImpact:
        s = self.sim
        return OwnImpact(s.fills_f, s.fills_i, s.n_fills, s.pp, self.start_ns, s.depletion(), s.resting_qty,
                         s.queue_ahead)  # fmt: skip

    async def submit(self, order: OrderRequest) -> OrderState:
        if order.tif not in ("day", "ioc"):
            raise BrokerReject(INVALID, f"time in force {order.tif!r}; allowed: 'day', 'ioc'")
        return self._request(
            "submit",
            {"client_id": order.client_id, "symbol": order.symbol, "side": order.side, "qty": order.qty,
             "limit_px": order.limit_px, "tif": order.tif},
        )  # fmt: skip

    async def amend(self, order_id: str, client_id: str, qty: float, limit_px: float) -> OrderState:
        return self._request("amend", {"client_id": client_id, "order_id": order_id, "qty": qty, "limit_px": limit_px})

    async def cancel(self, order_id: str, client_id: str) -> OrderState:
        return self._request("cancel", {"client_id": client_id, "order_id": order_id})

    async def order_status(self, client_id: str) -> OrderState | None:
        fault = self._next_fault("order_status")
        if fault in ("disconnect", "timeout", "reject"):
            raise BrokerDisconnected(f"injected {fault} on order_status {client_id}")
        oid = self._by_client.get(client_id)
        return None if oid is None else self._orders[oid].state(self.symbol)

    async def fills(self, since_seq: int) -> list[Fill]:
        fault = self._next_fault("fills")
        if fault == "timeout":
            raise BrokerTimeout("injected timeout on fills")
        if fault in ("disconnect", "reject"):
            raise BrokerDisconnected(f"injected {fault} on fills")
        return list(self._fills[max(since_seq, 0) :])

    async def positions(self) -> dict[str, Position]:
        commission = sum(o.commission for o in self._orders.values())
        return {self.symbol: Position(self.symbol, self.sim.inventory, self.sim.cash - commission)}

    def market_hours(self) -> MarketHours:
        return self._hours

    def commission_schedule(self) -> CommissionSchedule:
        return self._commission

    def order(self, order_id: str) -> OrderState:
        """The venue's view of one order (for reports and tests)."""
        return self._orders[order_id].state(self.symbol)

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

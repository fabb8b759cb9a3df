"""CcxtBroker: the broker interface over a ccxt async exchange (``pip install exec_env[ccxt]``).

Mapping (ccxt unified API, ``ccxt.async_support``):

| BrokerAPI | ccxt |
|---|---|
| ``submit`` | ``create_order(symbol, 'limit'/'market', 'buy'/'sell', amount, price, {'clientOrderId': id, 'timeInForce': 'GTC'/'IOC'})`` |
| ``amend`` | ``edit_order(id, symbol, 'limit', side, amount, price, {'clientOrderId': id})`` (amount = total quantity) |
| ``cancel`` | ``cancel_order(id, symbol)`` |
| ``order_status`` | ``fetch_order(None, symbol, {'clientOrderId': id})`` (None when the exchange does not know it) |
| ``fills`` | ``fetch_my_trades(symbol, since)``, numbered in arrival order |
| ``quote`` / ``market_data`` | ``fetch_order_book(symbol, limit)`` / ``fetch_trades(symbol, since)`` |
| ``positions`` | ``fetch_balance()`` (base currency total) |

ccxt errors map to ours: ``InvalidOrder``/``InsufficientFunds``/``OrderNotFound`` -> ``BrokerReject``,
``RequestTimeout`` -> ``BrokerTimeout``, ``NetworkError`` -> ``BrokerDisconnected``. Crypto venues
never close (``MarketHours.always()``); commissions are the exchange's, reported per trade (``fee``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from exec_env.broker.interface import (
    INVALID_ORDER,
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
    Position,
    Quote,
)

__all__ = ["CcxtBroker"]

_STATUS = {"open": "working", "closed": "filled", "canceled": "canceled", "expired": "canceled", "rejected": "rejected"}


def _errors() -> tuple[Any, ...]:
    """ccxt's exception classes (RequestTimeout, NetworkError, reject-like), or placeholders."""
    try:
        import ccxt
    except ImportError:

        class _Never(Exception):
            pass

        return _Never, _Never, (_Never,), _Never
    rejects = (ccxt.InvalidOrder, ccxt.InsufficientFunds, ccxt.BadRequest)
    return ccxt.RequestTimeout, ccxt.NetworkError, rejects, ccxt.OrderNotFound


class CcxtBroker(BrokerAPI):
    """``CcxtBroker(exchange, symbol)`` with ``exchange`` a ccxt async exchange whose markets are
    loaded (``await exchange.load_markets()``). ``CcxtBroker.connect(exchange_id, symbol, **config)``
    builds one; nothing here touches the network until a method is awaited."""

    def __init__(self, exchange: Any, symbol: str, depth: int = 10) -> None:
        market = exchange.market(symbol)
        self.exchange = exchange
        self.symbol = symbol
        self.base = market["base"]
        precision = market.get("precision", {})
        self.tick_size = float(precision.get("price") or 0.0)
        self.lot_size = float(precision.get("amount") or 0.0)
        if not (self.tick_size > 0 and self.lot_size > 0):
            raise ValueError(
                f"CcxtBroker: market {symbol!r} has precision {precision}; allowed: price and amount steps > 0 "
                "(exchange.precisionMode TICK_SIZE)"
            )
        self.depth = depth
        self._timeout, self._network, self._rejects, self._not_found = _errors()
        self._fills: list[Fill] = []
        self._seen: set[str] = set()

    @classmethod
    async def connect(cls, exchange_id: str, symbol: str, **config: Any) -> CcxtBroker:
        try:
            import ccxt.async_support as ccxt_async
        except ImportError:
            raise ImportError("CcxtBroker needs ccxt: pip install 'exec_env[ccxt]'") from None
        exchange = getattr(ccxt_async, exchange_id)(config)
        await exchange.load_markets()
        return cls(exchange, symbol)

    async def _call(self, what: str, coro) -> Any:
        try:
            return await coro
        except self._timeout as e:  # RequestTimeout is a NetworkError: test it first
            raise BrokerTimeout(f"{what}: {e}") from e
        except self._network as e:
            raise BrokerDisconnected(f"{what}: {e}") from e
        except self._not_found as e:
            raise BrokerReject(NOT_WORKING, f"{what}: {e}") from e
        except self._rejects as e:
            raise BrokerReject(INVALID_ORDER, f"{what}: {e}") from e

    def _state(self, o: dict[str, Any], client_id: str) -> OrderState:
        side = 1 if o["side"] == "buy" else -1
        px = o.get("price")
        return OrderState(
            order_id=str(o["id"]), client_id=o.get("clientOrderId") or client_id, symbol=self.symbol, side=side,
            qty=float(o["amount"]), limit_px=None if o.get("type") == "market" or px is None else float(px),
            filled=float(o.get("filled") or 0.0), status=_STATUS.get(o.get("status"), "working"),  # type: ignore[arg-type]
            client_ids=(client_id,),
        )  # fmt: skip

    # -- clock and data -------------------------------------------------------------------------
    async def now_ns(self) -> int:
        return time.time_ns()

    async def wait_until(self, ts: int) -> None:
        import asyncio

        delay = (ts - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)

    async def quote(self) -> Quote:
        ob = await self._call("fetch_order_book", self.exchange.fetch_order_book(self.symbol, self.depth))
        bid = ob["bids"][0] if ob["bids"] else [float("nan"), 0.0]
        ask = ob["asks"][0] if ob["asks"] else [float("nan"), 0.0]
        ts = ob.get("timestamp") or int(time.time() * 1000)
        return Quote(int(ts) * 1_000_000, float(bid[0]), float(ask[0]), float(bid[1]), float(ask[1]))

    async def market_data(self, since_ns: int) -> MarketData:
        """One book snapshot (now) and the public trades since ``since_ns``."""
        ob = await self._call("fetch_order_book", self.exchange.fetch_order_book(self.symbol, self.depth))
        trades = await self._call(
            "fetch_trades", self.exchange.fetch_trades(self.symbol, since_ns // 1_000_000 if since_ns > 0 else None)
        )
        trades = [t for t in trades if int(t["timestamp"]) * 1_000_000 > since_ns]
        levels = self.depth
        book = np.full((4, 1, levels), np.nan)
        book[1] = book[3] = 0.0
        for j, (px, sz, *_) in enumerate(ob["bids"][:levels]):
            book[0, 0, j], book[1, 0, j] = px, sz
        for j, (px, sz, *_) in enumerate(ob["asks"][:levels]):
            book[2, 0, j], book[3, 0, j] = px, sz
        now = int(ob.get("timestamp") or time.time() * 1000) * 1_000_000
        return MarketData(
            np.array([now], dtype=np.int64), book[0], book[1], book[2], book[3],
            np.array([int(t["timestamp"]) * 1_000_000 for t in trades], dtype=np.int64),
            np.array([float(t["price"]) for t in trades]), np.array([float(t["amount"]) for t in trades]),
            np.array([{"buy": 1, "sell": -1}.get(t.get("side"), 0) for t in trades], dtype=np.int8),
        )  # fmt: skip

    # -- orders ---------------------------------------------------------------------------------
    async def submit(self, order: OrderRequest) -> OrderState:
        kind = "market" if order.limit_px is None else "limit"
        params = {"clientOrderId": order.client_id, "timeInForce": "IOC" if order.tif == "ioc" else "GTC"}
        if kind == "market":
            params.pop("timeInForce")
        o = await self._call(
            f"create_order {order.client_id}",
            self.exchange.create_order(self.symbol, kind, "buy" if order.side > 0 else "sell", order.qty,
                                       order.limit_px, params),
        )  # fmt: skip
        return self._state(o, order.client_id)

    async def amend(self, order_id: str, client_id: str, qty: float, limit_px: float) -> OrderState:
        current = await self._call(f"fetch_order {order_id}", self.exchange.fetch_order(order_id, self.symbol))
        o = await self._call(
            f"edit_order {client_id}",
            self.exchange.edit_order(order_id, self.symbol, "limit", current["side"], qty, limit_px,
                                     {"clientOrderId": client_id}),
        )  # fmt: skip
        return self._state(o, client_id)

    async def cancel(self, order_id: str, client_id: str) -> OrderState:
        o = await self._call(f"cancel_order {order_id}", self.exchange.cancel_order(order_id, self.symbol))
        return self._state(o, client_id)

    async def order_status(self, client_id: str) -> OrderState | None:
        try:
            o = await self._call(
                f"fetch_order {client_id}", self.exchange.fetch_order(None, self.symbol, {"clientOrderId": client_id})
            )
        except BrokerReject:
            return None
        return self._state(o, client_id)

    async def fills(self, since_seq: int) -> list[Fill]:
        trades = await self._call("fetch_my_trades", self.exchange.fetch_my_trades(self.symbol))
        for t in sorted(trades, key=lambda t: (t["timestamp"], str(t["id"]))):
            if str(t["id"]) in self._seen:
                continue
            self._seen.add(str(t["id"]))
            fee = t.get("fee") or {}
            cost = float(fee.get("cost") or 0.0)
            if fee.get("currency") == self.base:
                cost *= float(t["price"])  # fees in the base currency, valued at the fill price
            seq = len(self._fills) + 1
            liquidity = {"maker": "maker", "taker": "taker"}.get(t.get("takerOrMaker"), "taker")
            self._fills.append(
                Fill(seq, str(t["id"]), str(t["order"]), int(t["timestamp"]) * 1_000_000, float(t["price"]),
                     float(t["amount"]), cost, 0.0, liquidity)
            )  # fmt: skip
        return self._fills[max(since_seq, 0) :]

    async def positions(self) -> dict[str, Position]:
        bal = await self._call("fetch_balance", self.exchange.fetch_balance())
        qty = float(bal.get("total", {}).get(self.base) or 0.0)
        return {self.symbol: Position(self.symbol, qty, float("nan"))}

    def market_hours(self) -> MarketHours:
        return MarketHours.always()

    def commission_schedule(self) -> CommissionSchedule:
        return CommissionSchedule()  # the exchange reports its fee with every trade

    async def close(self) -> None:
        await self.exchange.close()

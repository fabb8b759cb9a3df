"""The exchange layer: where to connect, what the messages mean, and the order-book sequence rules.

An exchange is a small object (see :class:`Exchange`) that the recorder asks four things: the
websocket URL of the streams to record, the REST URL of a depth snapshot, what a stream message
is (a depth diff with its update ids, a trade, or something else), and how update ids chain. The
recorder writes the exchange's messages verbatim; this layer only reads them to keep a local book
in sync. Adding an exchange is one class and one entry in :data:`EXCHANGES` (its loader must
exist in ``exec_env.market`` for the files to be usable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

__all__ = ["EXCHANGES", "BinanceSpot", "Diff", "Exchange", "Snapshot", "make_exchange", "normalize_symbol"]


@dataclass(frozen=True)
class Diff:
    """A depth diff: update ids ``first..last`` and ``[price, qty]`` string pairs (qty 0 removes)."""

    first: int
    last: int
    bids: list = field(repr=False)
    asks: list = field(repr=False)


@dataclass(frozen=True)
class Snapshot:
    """A full-depth snapshot valid as of update id ``last``."""

    last: int
    bids: list = field(repr=False)
    asks: list = field(repr=False)


class Exchange(Protocol):
    """What the recorder needs from an exchange (spot order book with update ids)."""

    name: str

    def stream_url(self, symbol: str) -> str:
        """Websocket URL that streams every message to record (depth diffs, trades, ...)."""
        ...

    def snapshot_url(self, symbol: str) -> str:
        """REST URL of a depth snapshot."""
        ...

    def streams(self, symbol: str) -> list[str]:
        """Names of the recorded streams (written in each file's header line)."""
        ...

    def classify(self, message: dict[str, Any]) -> tuple[str, Diff | None]:
        """``("diff", Diff)``, ``("trade", None)`` or ``("other", None)``; ``ValueError`` if malformed."""
        ...

    def parse_snapshot(self, body: dict[str, Any]) -> Snapshot:
        """The REST snapshot's update id and levels; ``ValueError`` naming the field if malformed."""
        ...

    def snapshot_message(self, symbol: str, snapshot: Snapshot) -> dict[str, Any]:
        """A snapshot rebuilt from the local book, as a line the loader reads as a snapshot."""
        ...

    def is_stale(self, snapshot_last: int, diff: Diff) -> bool:
        """The diff is already contained in a snapshot valid at ``snapshot_last``."""
        ...

    def bridges(self, snapshot_last: int, diff: Diff) -> bool:
        """The first diff applied on a snapshot continues it."""
        ...

    def continues(self, previous_last: int, diff: Diff) -> bool:
        """The diff follows the previous applied diff with no update missing."""
        ...


def normalize_symbol(symbol: str) -> str:
    """``"BTC/USDT"``, ``"btc-usdt"``, ``"btcusdt"`` -> ``"BTCUSDT"``; ``ValueError`` if empty or odd."""
    s = symbol.replace("/", "").replace("-", "").replace("_", "").upper()
    if not s.isalnum():
        raise ValueError(f"symbol={symbol!r} is invalid; expected letters and digits, e.g. 'BTCUSDT' or 'BTC/USDT'")
    return s


def _pairs(body: dict[str, Any], key: str, what: str) -> list:
    levels = body.get(key)
    if not isinstance(levels, list):
        raise ValueError(f"{what}: field '{key}' must be a list of [price, qty] pairs, got {str(levels)[:60]!r}")
    for pair in levels:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise ValueError(f"{what}: field '{key}': a level must be a [price, qty] pair of strings, got {pair!r}")
    return levels


def _int(body: dict[str, Any], key: str, what: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: field '{key}' must be an integer update id, got {str(value)[:40]!r}")
    return value


@dataclass(frozen=True)
class BinanceSpot:
    """Binance spot: combined websocket streams and the REST ``/api/v3/depth`` snapshot.

    Streams: ``<symbol>@depth@<depth_speed>`` (diff depth), ``<symbol>@trade`` (or ``aggTrade``),
    and ``<symbol>@bookTicker`` when ``book_ticker``. Sequence rules (Binance's documented local
    book procedure, which ``exec_env.market.crypto`` applies when loading): a diff with
    ``u <= lastUpdateId`` is stale; the first applied diff has ``U <= lastUpdateId + 1 <= u``; every
    later diff has ``U == previous u + 1``. ``ws_base``/``rest_base`` point elsewhere for tests
    (a local replay server) or for Binance's other hosts (e.g. ``wss://data-stream.binance.vision``).
    """

    ws_base: str = "wss://stream.binance.com:9443"
    rest_base: str = "https://api.binance.com"
    depth_limit: int = 1000
    depth_speed: str = "100ms"
    trade_stream: str = "trade"
    book_ticker: bool = False
    name: str = "binance"

    def __post_init__(self) -> None:
        if self.depth_limit not in (5, 10, 20, 50, 100, 500, 1000, 5000):
            raise ValueError(f"depth_limit={self.depth_limit!r} is invalid; Binance allows 5..5000 (e.g. 1000)")
        if self.depth_speed not in ("100ms", "1000ms"):
            raise ValueError(f"depth_speed={self.depth_speed!r} is invalid; allowed values: '100ms', '1000ms'")
        if self.trade_stream not in ("trade", "aggTrade"):
            raise ValueError(f"trade_stream={self.trade_stream!r} is invalid; allowed values: 'trade', 'aggTrade'")

    def streams(self, symbol: str) -> list[str]:
        s = normalize_symbol(symbol).lower()
        depth = f"{s}@depth" if self.depth_speed == "1000ms" else f"{s}@depth@{self.depth_speed}"
        out = [depth, f"{s}@{self.trade_stream}"]
        if self.book_ticker:
            out.append(f"{s}@bookTicker")
        return out

    def stream_url(self, symbol: str) -> str:
        return f"{self.ws_base.rstrip('/')}/stream?streams={'/'.join(self.streams(symbol))}"

    def snapshot_url(self, symbol: str) -> str:
        sym = quote(normalize_symbol(symbol))
        return f"{self.rest_base.rstrip('/')}/api/v3/depth?symbol={sym}&limit={self.depth_limit}"

    def classify(self, message: dict[str, Any]) -> tuple[str, Diff | None]:
        data = message.get("data", message) if "stream" in message else message
        if not isinstance(data, dict):
            return "other", None
        e = data.get("e")
        if e == "depthUpdate":
            what = "depthUpdate message"
            if "pu" in data:
                raise ValueError(f"{what}: field 'pu': futures depth diffs are not recorded, only spot")
            diff = Diff(_int(data, "U", what), _int(data, "u", what), _pairs(data, "b", what), _pairs(data, "a", what))
            if diff.first > diff.last:
                raise ValueError(f"{what}: field 'U': first update id {diff.first} is after the final id {diff.last}")
            return "diff", diff
        if e in ("trade", "aggTrade"):
            return "trade", None
        return "other", None

    def parse_snapshot(self, body: dict[str, Any]) -> Snapshot:
        what = "REST depth snapshot"
        if not isinstance(body, dict):
            raise ValueError(f"{what}: expected a JSON object, got {type(body).__name__}")
        if "code" in body and "msg" in body:
            raise ValueError(f"{what}: the exchange answered an error: code {body['code']}: {str(body['msg'])[:120]}")
        return Snapshot(_int(body, "lastUpdateId", what), _pairs(body, "bids", what), _pairs(body, "asks", what))

    def snapshot_message(self, symbol: str, snapshot: Snapshot) -> dict[str, Any]:
        data = {"lastUpdateId": snapshot.last, "bids": snapshot.bids, "asks": snapshot.asks}
        return {"stream": f"{normalize_symbol(symbol).lower()}@localBook", "data": data}

    def is_stale(self, snapshot_last: int, diff: Diff) -> bool:
        return diff.last <= snapshot_last

    def bridges(self, snapshot_last: int, diff: Diff) -> bool:
        return diff.first <= snapshot_last + 1 <= diff.last

    def continues(self, previous_last: int, diff: Diff) -> bool:
        return diff.first == previous_last + 1


EXCHANGES: dict[str, type] = {"binance": BinanceSpot}


def make_exchange(name: str, **options: Any) -> Exchange:
    """An exchange of :data:`EXCHANGES` by name, with its options (e.g. ``ws_base=``)."""
    if name not in EXCHANGES:
        raise ValueError(f"exchange={name!r} is unknown; known exchanges: {', '.join(EXCHANGES)}")
    return EXCHANGES[name](**options)

"""A local stand-in for Binance spot on 127.0.0.1: replays a raw capture over websocket and REST.

The exchange's side of the recorder tests. The capture's stream messages (depth diffs, trades,
bookTickers) form a timeline sent, timed by their original stamps divided by ``speed``, to
``ws://127.0.0.1:<port>/stream?streams=...`` (only the subscribed streams, in Binance's combined
format). ``GET /api/v3/depth?symbol=...&limit=...`` answers the exchange's book at the current
position of the timeline: the capture's REST snapshot with every diff due so far applied (diffs
that were skipped or omitted included: they happened on the exchange), truncated to ``limit``.

Scripted faults, by timeline index: ``drop_after`` aborts the connection (no close frame) after
sending that message, and the next connection resumes ``drop_skip`` messages later (what the
client missed); ``omit`` indices are never sent (a sequence gap without a disconnect);
``garbage_after`` sends a non-JSON text frame after that message. ``snapshot_faults`` answers the
first REST requests, in order: ``"503"`` an error status, ``"old"`` the capture's own snapshot
(too old to continue the stream once the slice starts later).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


@dataclass
class Timeline:
    """A capture's stream messages and its REST snapshot."""

    ts: list[int]
    stream: list[str]
    text: list[str]
    diff: list[tuple[int, int, list, list] | None]  # (U, u, b, a) for depth diffs
    snapshot: dict
    snapshot_ts: int
    symbol: str

    @classmethod
    def read(cls, path: Path) -> Timeline:
        ts, stream, text, diffs, snapshot, snapshot_ts, symbol = [], [], [], [], None, 0, ""
        with gzip.open(path, "rt") as fh:
            for line in fh:
                stamp, _, body = line.rstrip("\n").partition(" ")
                msg = json.loads(body)
                if "stream" not in msg:
                    if snapshot is None and "lastUpdateId" in msg:
                        snapshot, snapshot_ts = msg, int(stamp)
                    continue
                data = msg["data"]
                ts.append(int(stamp))
                stream.append(msg["stream"])
                text.append(body)
                symbol = data.get("s", symbol)
                is_diff = data.get("e") == "depthUpdate"
                diffs.append((data["U"], data["u"], data["b"], data["a"]) if is_diff else None)
        if snapshot is None:
            raise ValueError(f"{path}: no REST snapshot line to serve")
        return cls(ts, stream, text, diffs, snapshot, snapshot_ts, symbol)


@dataclass
class ReplayExchange:
    """Serve ``timeline[start:stop]``; see the module docstring for the faults."""

    timeline: Timeline
    speed: float = 100.0
    start: int = 0
    stop: int | None = None
    drop_after: int | None = None
    drop_skip: int = 0
    omit: frozenset[int] = frozenset()
    garbage_after: int | None = None
    snapshot_faults: list[str] = field(default_factory=list)
    port: int = 0
    connections: int = 0
    snapshot_requests: int = 0
    sent: list[int] = field(default_factory=list)
    finished: bool = False
    """Every message of the slice has been sent (or skipped)."""
    _pos: int = 0
    _applied: int = 0
    _t0: float | None = None
    _bids: dict[float, tuple[str, str]] = field(default_factory=dict)
    _asks: dict[float, tuple[str, str]] = field(default_factory=dict)
    _last_id: int = 0

    def __post_init__(self) -> None:
        self.stop = len(self.timeline.ts) if self.stop is None else self.stop
        self._pos = self.start  # the exchange book still holds every diff before the slice
        snap = self.timeline.snapshot
        self._last_id = snap["lastUpdateId"]
        self._set(self._bids, snap["bids"])
        self._set(self._asks, snap["asks"])

    @staticmethod
    def _set(side: dict, levels: list) -> None:
        for p, q in levels:
            if float(q) == 0.0:
                side.pop(float(p), None)
            else:
                side[float(p)] = (p, q)

    def _advance_truth(self) -> None:
        """Apply every diff due (sent, skipped or omitted) to the exchange's book."""
        while self._applied < self._pos:
            d = self.timeline.diff[self._applied]
            self._applied += 1
            if d is not None and d[1] > self._last_id:
                self._set(self._bids, d[2])
                self._set(self._asks, d[3])
                self._last_id = d[1]

    def depth(self, limit: int) -> dict:
        self._advance_truth()
        bids = [[p, q] for _, (p, q) in sorted(self._bids.items(), reverse=True)[:limit]]
        asks = [[p, q] for _, (p, q) in sorted(self._asks.items())[:limit]]
        return {"lastUpdateId": self._last_id, "bids": bids, "asks": asks}

    def _rest(self, connection: ServerConnection, request):
        url = urlsplit(request.path)
        if url.path == "/stream":
            return None  # websocket handshake
        query = parse_qs(url.query)
        if url.path != "/api/v3/depth":
            return connection.respond(HTTPStatus.NOT_FOUND, '{"code":-1,"msg":"not found"}')
        if query.get("symbol") != [self.timeline.symbol]:
            return connection.respond(HTTPStatus.BAD_REQUEST, '{"code":-1121,"msg":"Invalid symbol."}')
        self.snapshot_requests += 1
        fault = self.snapshot_faults.pop(0) if self.snapshot_faults else None
        if fault == "503":
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, '{"code":-1003,"msg":"Too busy."}')
        if fault == "old":
            return connection.respond(HTTPStatus.OK, json.dumps(self.timeline.snapshot, separators=(",", ":")))
        limit = int(query.get("limit", ["100"])[0])
        response = connection.respond(HTTPStatus.OK, json.dumps(self.depth(limit), separators=(",", ":")))
        response.headers["Content-Type"] = "application/json"
        return response

    async def _stream(self, ws: ServerConnection) -> None:
        self.connections += 1
        wanted = set(parse_qs(urlsplit(ws.request.path).query).get("streams", [""])[0].split("/"))
        tl = self.timeline
        if self._t0 is None:
            self._t0 = time.monotonic()
        t_first = tl.ts[self.start]
        while self._pos < self.stop:
            i = self._pos
            wait = self._t0 + (tl.ts[i] - t_first) / 1e9 / self.speed - time.monotonic()
            await asyncio.sleep(max(wait, 0.0))  # also lets REST requests in when behind schedule
            self._pos = i + 1
            if i in self.omit or tl.stream[i] not in wanted:
                continue
            try:
                await ws.send(tl.text[i])
            except ConnectionClosed:  # the client left (its deadline): keep the position for the next one
                self._pos = i
                return
            self.sent.append(i)
            if self.garbage_after is not None and i >= self.garbage_after:
                self.garbage_after = None
                await ws.send("<html>Bad Gateway</html>")
            if self.drop_after is not None and i >= self.drop_after:
                self.drop_after = None
                self._pos = i + 1 + self.drop_skip
                ws.transport.abort()
                return
        self.finished = True
        await ws.wait_closed()  # a quiet market: the connection stays open

    async def serve_until(self, stopped: asyncio.Event, ready: threading.Event) -> None:
        async with serve(self._stream, "127.0.0.1", self.port, process_request=self._rest) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await stopped.wait()


class ReplayServer:
    """Run a :class:`ReplayExchange` in a background thread (its own event loop) for a test."""

    def __init__(self, exchange: ReplayExchange) -> None:
        self.exchange = exchange
        self._loop = asyncio.new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stopped = asyncio.Event()
        self._loop.run_until_complete(self.exchange.serve_until(self._stopped, self._ready))

    def __enter__(self) -> ReplayExchange:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the replay server did not start within 10 s")
        return self.exchange

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(lambda: self._stopped and self._stopped.set())
        self._thread.join(10)

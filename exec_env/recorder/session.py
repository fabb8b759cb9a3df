"""The recording loop: one websocket connection at a time, REST snapshots, reconnects, rotation.

Procedure (Binance's documented way to keep a local book, applied to recording):

1. connect the websocket and write every message, verbatim, after its local receive stamp;
2. after the first depth diff of a connection, fetch a REST snapshot and write it when it
   arrives (it therefore always follows a diff of the same connection, so a loader that lost the
   book at a gap finds it after the gap); a snapshot too old to be continued by the buffered
   diffs is discarded and fetched again;
3. on a sequence gap (a diff that does not continue the previous one), fetch a fresh snapshot;
4. on a dropped or silent connection, reconnect with a growing delay and go to 2;
5. stop at the deadline (or on cancellation: Ctrl-C), closing the open file properly.

Besides the exchange's messages the recorder writes its own lines, which loaders count as other
messages and do not use: ``{"stream": "recorder", "data": {"e": EVENT, ...}}`` with EVENT one of
``file`` (first line of every file: exchange, symbol, streams, why the file was opened),
``connect``, ``disconnect`` (reason), ``gap`` (expected and received update ids),
``snapshot_discarded``, ``snapshot_failed`` and ``stop``. A rotated file's second line is a
snapshot of the recorder's book (stream ``<symbol>@localBook``), so that each file loads alone.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exec_env.recorder.book import LocalBook
from exec_env.recorder.exchange import Exchange, normalize_symbol
from exec_env.recorder.writer import CaptureWriter

__all__ = ["RECORDER_VERSION", "RecordStats", "record", "record_async"]

RECORDER_VERSION = 1


@dataclass
class RecordStats:
    """Counts of one recording (also what the progress line shows)."""

    symbol: str
    depth_updates: int = 0
    trades: int = 0
    other_messages: int = 0
    snapshots: int = 0
    snapshots_discarded: int = 0
    snapshot_failures: int = 0
    gaps: int = 0
    connects: int = 0
    disconnects: int = 0
    unparsable: int = 0
    lines: int = 0
    bytes: int = 0
    stamps_raised: int = 0
    best_bid: float | None = None
    best_ask: float | None = None
    current_file: str | None = None
    files: list[str] = field(default_factory=list)
    last_error: str = ""
    elapsed_s: float = 0.0

    def line(self) -> str:
        """One progress line."""
        bbo = f"{self.best_bid} / {self.best_ask}" if self.best_bid is not None else "no book yet"
        mb = self.bytes / 1e6
        return (
            f"[{self.elapsed_s:7.1f}s] {self.symbol} {bbo} | diffs {self.depth_updates} trades {self.trades} "
            f"snapshots {self.snapshots} gaps {self.gaps} reconnects {max(self.connects - 1, 0)} | "
            f"{mb:.1f} MB in {len(self.files) + (self.current_file is not None)} file(s), now {self.current_file}"
        )


def _http_get(url: str, timeout: float) -> str:
    request = urllib.request.Request(url, headers={"User-Agent": "exec_env-recorder"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


def _event(name: str, **fields: Any) -> str:
    return json.dumps({"stream": "recorder", "data": {"e": name, **fields}}, separators=(",", ":"))


class _Recorder:
    def __init__(
        self,
        exchange: Exchange,
        symbol: str,
        folder: Path,
        max_bytes: int,
        compress: bool,
        clock: Callable[[], int],
        http_timeout: float,
        snapshot_attempts: int,
        retry_delay: float,
    ) -> None:
        self.exchange = exchange
        self.symbol = normalize_symbol(symbol)
        self.book = LocalBook(exchange)
        self.writer = CaptureWriter(
            folder, self.symbol, self._header, max_bytes=max_bytes, compress=compress, clock=clock
        )
        self.stats = RecordStats(symbol=self.symbol)
        self.http_timeout = http_timeout
        self.snapshot_attempts = snapshot_attempts
        self.retry_delay = retry_delay
        self.fetch: asyncio.Task | None = None
        self.want_snapshot = False  # fetch after the next diff (set by each connect)

    def _header(self, ts: int, reason: str) -> list[str]:
        lines = [
            _event(
                "file",
                recorder="exec_env.record",
                version=RECORDER_VERSION,
                exchange=self.exchange.name,
                symbol=self.symbol,
                streams=self.exchange.streams(self.symbol),
                reason=reason,
            )
        ]
        snap = self.book.snapshot()
        if snap is not None:
            msg = self.exchange.snapshot_message(self.symbol, snap)
            lines.append(json.dumps(msg, separators=(",", ":")))
        return lines

    def note(self, name: str, **fields: Any) -> None:
        self.writer.write(self.writer.stamp(), _event(name, **fields))

    def on_message(self, raw: str | bytes) -> None:
        ts = self.writer.stamp()
        text = raw.decode() if isinstance(raw, bytes) else raw
        try:
            message = json.loads(text)
            if not isinstance(message, dict):
                raise ValueError(f"expected a JSON object, got {type(message).__name__}")
            kind, diff = self.exchange.classify(message)
        except ValueError as exc:  # never write what a loader cannot read
            self.stats.unparsable += 1
            self.stats.last_error = f"unusable message skipped ({str(exc)[:120]}): {text[:80]!r}"
            return
        if "\n" in text:
            text = json.dumps(message, separators=(",", ":"))
        self.writer.write(ts, text)
        if kind == "diff":
            assert diff is not None
            self.stats.depth_updates += 1
            expected = self.book.last_id + 1
            if self.book.on_diff(diff) == "gap":
                self.stats.gaps += 1
                self.writer.write(ts, _event("gap", expected=expected, first=diff.first, last=diff.last))
            if self.want_snapshot or self.book.needs_snapshot:
                self.want_snapshot = False
                self.request_snapshot()
        elif kind == "trade":
            self.stats.trades += 1
        else:
            self.stats.other_messages += 1

    def request_snapshot(self) -> None:
        if self.fetch is None or self.fetch.done():
            self.fetch = asyncio.create_task(self._fetch_snapshot())

    async def _fetch_snapshot(self) -> None:
        url = self.exchange.snapshot_url(self.symbol)
        for attempt in range(1, self.snapshot_attempts + 1):
            try:
                body = await asyncio.to_thread(_http_get, url, self.http_timeout)
                ts = self.writer.stamp()
                snap = self.exchange.parse_snapshot(json.loads(body))
            except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, HTTPError, timeouts: OSError
                self.stats.snapshot_failures += 1
                self.stats.last_error = f"snapshot attempt {attempt}: {str(exc)[:160]}"
                self.note("snapshot_failed", attempt=attempt, error=str(exc)[:160])
                await asyncio.sleep(self.retry_delay * attempt)
                continue
            if self.book.too_old(snap):
                self.stats.snapshots_discarded += 1
                self.note("snapshot_discarded", lastUpdateId=snap.last, attempt=attempt)
                await asyncio.sleep(self.retry_delay)
                continue
            text = body.strip()
            if "\n" in text:
                text = json.dumps(json.loads(text), separators=(",", ":"))
            self.writer.write(ts, text)
            self.book.on_snapshot(snap)
            self.stats.snapshots += 1
            if self.book.needs_snapshot:  # the buffer broke again after it: one more
                continue
            return

    def refresh(self, started: float) -> RecordStats:
        s = self.stats
        s.lines, s.bytes, s.stamps_raised = self.writer.lines, self.writer.bytes, self.writer.stamps_raised
        s.best_bid, s.best_ask = self.book.best()
        s.current_file = self.writer.current.name if self.writer.current else None
        s.files = [str(p) for p in self.writer.files]
        s.elapsed_s = time.monotonic() - started
        return s


async def record_async(
    exchange: Exchange,
    symbol: str,
    folder: str | Path,
    duration_s: float | None,
    *,
    max_bytes: int = 1 << 30,
    compress: bool = True,
    clock: Callable[[], int] = time.time_ns,
    progress: Callable[[RecordStats], None] | None = None,
    progress_every_s: float = 10.0,
    open_timeout_s: float = 10.0,
    idle_timeout_s: float = 30.0,
    http_timeout_s: float = 10.0,
    snapshot_attempts: int = 5,
    reconnect_delay_s: float = 1.0,
    max_reconnect_delay_s: float = 60.0,
    stop: asyncio.Event | None = None,
) -> RecordStats:
    """Record ``symbol`` from ``exchange`` into ``folder`` for ``duration_s`` seconds (None: no deadline).

    Returns the final counts; ``stats.files`` lists the files written, oldest first. A connection
    silent for ``idle_timeout_s`` counts as dropped. Every wait is bounded by the deadline; setting
    ``stop`` ends the recording as the deadline would (within 0.1 s).
    """
    try:
        import websockets
        from websockets.asyncio.client import connect
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "recording needs the 'websockets' package: pip install 'exec_env[record]'", name=exc.name
        ) from exc

    if duration_s is not None and not duration_s > 0:
        raise ValueError(f"duration_s={duration_s!r} is invalid; allowed values: a number > 0 or None (no limit)")
    rec = _Recorder(
        exchange, symbol, Path(folder), max_bytes, compress, clock, http_timeout_s, snapshot_attempts, reconnect_delay_s
    )
    limit = _Limit(duration_s, stop)

    async def report() -> None:
        while True:
            await asyncio.sleep(progress_every_s)
            if progress is not None:
                progress(rec.refresh(limit.started))

    reporter = asyncio.create_task(report())
    url = exchange.stream_url(rec.symbol)
    delay = reconnect_delay_s
    try:
        while limit.remaining() > 0:
            try:
                async with connect(
                    url,
                    open_timeout=min(open_timeout_s, max(limit.remaining(), 0.001)),
                    max_size=1 << 24,
                    ping_interval=20,
                    ping_timeout=20,
                    close_timeout=1,
                ) as ws:
                    rec.stats.connects += 1
                    rec.note("connect", url=url)
                    rec.want_snapshot = True
                    delay = reconnect_delay_s
                    await _listen(ws, rec, limit, idle_timeout_s)
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {str(exc)[:160]}"
                rec.stats.disconnects += 1
                rec.stats.last_error = reason
                rec.note("disconnect", reason=reason)
                await limit.sleep(delay)
                delay = min(delay * 2, max_reconnect_delay_s)
    finally:
        reporter.cancel()
        if rec.fetch is not None and not rec.fetch.done():
            rec.fetch.cancel()
        if rec.writer.current is not None:
            rec.note("stop", reason=limit.reason())
        rec.writer.close()
    stats = rec.refresh(limit.started)
    if progress is not None:
        progress(stats)
    return stats


class _Limit:
    """The recording's end: a deadline (None: none) and an optional stop event, polled every 0.1 s."""

    def __init__(self, duration_s: float | None, stop: asyncio.Event | None) -> None:
        self.started = time.monotonic()
        self.deadline = None if duration_s is None else self.started + duration_s
        self.stop = stop
        self.poll_s = 0.1 if stop is not None else float("inf")

    def remaining(self) -> float:
        if self.stop is not None and self.stop.is_set():
            return 0.0
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def reason(self) -> str:
        if self.stop is not None and self.stop.is_set():
            return "stopped"
        return "deadline" if self.remaining() <= 0 else "cancelled"

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the recording ends first."""
        until = time.monotonic() + seconds
        while self.remaining() > 0 and time.monotonic() < until:
            await asyncio.sleep(min(until - time.monotonic(), self.poll_s, max(self.remaining(), 0.0)))


async def _listen(ws: Any, rec: _Recorder, limit: _Limit, idle_timeout_s: float) -> None:
    """Hand every message of one connection to the recorder until the end; silence is a TimeoutError."""
    last_message = time.monotonic()
    while (left := limit.remaining()) > 0:
        try:  # cancelling recv() loses no message (websockets >= 13)
            raw = await asyncio.wait_for(ws.recv(), timeout=min(left, idle_timeout_s, limit.poll_s))
        except TimeoutError:
            if limit.remaining() > 0 and time.monotonic() - last_message >= idle_timeout_s:
                raise TimeoutError(f"no message for {idle_timeout_s} s") from None
            continue
        last_message = time.monotonic()
        rec.on_message(raw)


def record(
    exchange: Exchange, symbol: str, folder: str | Path, duration_s: float | None, **options: Any
) -> RecordStats:
    """Blocking :func:`record_async` (``asyncio.run``)."""
    return asyncio.run(record_async(exchange, symbol, folder, duration_s, **options))

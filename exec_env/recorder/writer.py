"""Capture files: ``<local_ts_ns> <json>`` lines, gzip, rotated at UTC midnight and on size.

Each file is written as a hidden ``.<name>.part`` (which ``load_market`` on a folder skips) and
renamed to ``<symbol>_<YYYYMMDD>_<HHMMSS>.gz`` (the UTC time of its first line) when closed, so a
folder being recorded into only ever shows complete files. The part file is flushed every
``flush_seconds``: after a crash ``zcat`` recovers every line up to the last flush.

A new file starts with the lines that ``header(ts, reason)`` returns (the recorder's header line
and, when it has a book, a snapshot of it), stamped like the line that opened the file: each
file can be loaded alone.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

__all__ = ["DAY_NS", "CaptureWriter"]

DAY_NS = 86_400 * 1_000_000_000


class CaptureWriter:
    """Append-only writer of capture lines with strictly increasing local stamps.

    ``stamp()`` reads ``clock`` (default :func:`time.time_ns`) and returns a value above the last
    one (a wall clock stepped back by NTP would otherwise make the file unreadable:
    ``stamps_raised`` counts such corrections). ``write(ts, text)`` first rotates when ``ts`` falls
    on a later UTC date than the open file, or when the file holds ``max_bytes`` (uncompressed)
    beyond its header.
    """

    def __init__(
        self,
        folder: str | Path,
        symbol: str,
        header: Callable[[int, str], list[str]],
        max_bytes: int = 1 << 30,
        compress: bool = True,
        clock: Callable[[], int] = time.time_ns,
        flush_seconds: float = 1.0,
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes={max_bytes!r} is invalid; allowed values: an integer >= 1")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.symbol = symbol.lower()
        self.header = header
        self.max_bytes = max_bytes
        self.compress = compress
        self.clock = clock
        self.flush_seconds = flush_seconds
        self.files: list[Path] = []
        self.stamps_raised = 0
        self.lines = 0
        self.bytes = 0  # uncompressed, all files
        self._fh: IO[bytes] | None = None
        self._part: Path | None = None
        self._final: Path | None = None
        self._day = -1
        self._size = 0  # uncompressed bytes of the open file after its header
        self._body_lines = 0
        self._last_ts = -1
        self._last_flush = 0.0

    def stamp(self) -> int:
        """The local receive time of a line just received (ns), strictly after the previous stamp."""
        now = int(self.clock())
        if now <= self._last_ts:
            self.stamps_raised += 1
            now = self._last_ts + 1
        self._last_ts = now
        return now

    @property
    def current(self) -> Path | None:
        """The final name of the open file (it is written as a hidden ``.part`` until closed)."""
        return self._final

    @property
    def current_size(self) -> int:
        return self._size

    def _open(self, ts: int, reason: str) -> None:
        self._close_file()
        when = datetime.fromtimestamp(ts // 1_000_000_000, tz=timezone.utc)  # whole seconds: no float rounding
        stem = f"{self.symbol}_{when:%Y%m%d_%H%M%S}"
        ext = ".gz" if self.compress else ".txt"
        final = self.folder / f"{stem}{ext}"
        k = 1
        while final.exists() or final in self.files:
            final = self.folder / f"{stem}-{k}{ext}"
            k += 1
        part = self.folder / f".{final.name}.part"
        self._fh = gzip.open(part, "wb", compresslevel=6) if self.compress else open(part, "wb")
        self._part, self._final = part, final
        self._day = ts // DAY_NS
        self._size = 0
        self._body_lines = 0
        for text in self.header(ts, reason):
            self._put(ts, text)

    def _put(self, ts: int, text: str) -> int:
        data = f"{ts} {text}\n".encode()
        assert self._fh is not None
        self._fh.write(data)
        self.lines += 1
        self.bytes += len(data)
        return len(data)

    def write(self, ts: int, text: str) -> None:
        """Write one line (``text`` is one line of JSON), rotating first if due."""
        if "\n" in text:
            raise ValueError(f"a capture line must not contain a newline: {text[:80]!r}")
        if self._fh is None:
            self._open(ts, "start")
        elif ts // DAY_NS != self._day:
            self._open(ts, "midnight")
        elif self._size >= self.max_bytes and self._body_lines > 0:
            self._open(ts, "size")
        self._size += self._put(ts, text)
        self._body_lines += 1
        now = time.monotonic()
        if now - self._last_flush >= self.flush_seconds:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def _close_file(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        assert self._part is not None and self._final is not None
        self._part.replace(self._final)
        self.files.append(self._final)
        self._fh = self._part = self._final = None

    def close(self) -> list[Path]:
        """Close the open file (renamed to its final name); the files written, oldest first."""
        self._close_file()
        return list(self.files)

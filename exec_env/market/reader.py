"""The reader layer every market data format uses: bytes in, clear errors out.

* :func:`read_bytes` opens plain, gzip and zstd files (by their magic numbers, not their names),
  detects truncated or corrupt compressed streams, and for text formats detects the encoding
  (UTF-8 with or without BOM, UTF-16/32 with BOM or UTF-16 without one are transcoded to UTF-8),
  refuses binary data, empty files and absurdly long lines (:data:`MAX_LINE_BYTES`);
* :func:`head_bytes`: the first few decompressed bytes, for ``sniff`` functions (never raises);
* :func:`field_error` / :func:`excerpt`: every error names the file, the line and the field, and
  quotes at most a short excerpt of a bad value (never a 16 MiB line, never a numpy repr);
* :func:`options`: one vocabulary of loader options (e.g. ``crossed``), with the old names
  refused with a pointer to the new one.

Errors are :class:`DataFileError`, a ``ValueError``.
"""

from __future__ import annotations

import inspect
import math
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

__all__ = [
    "MAX_LINE_BYTES",
    "DataFileError",
    "as_text",
    "decompress",
    "excerpt",
    "field_error",
    "head_bytes",
    "read_bytes",
    "renamed_options",
]

MAX_LINE_BYTES = 4 << 20
"""Longest line a text format may hold (a Binance depth snapshot of 5,000 levels a side is ~0.3 MiB)."""
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_EXCERPT = 40


class DataFileError(ValueError):
    """A market data file that cannot be read as asked; the message names file, line and field."""


def excerpt(value: Any, limit: int = _EXCERPT) -> str:
    """A short printable quote of ``value``: its repr cut to ``limit`` characters (plain numbers
    are written as Python numbers, never ``np.float64(...)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isnan(value):
        text = repr(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: limit + 1])
        text = repr(raw)
        if len(value) > limit:
            text = repr(raw[:limit])[:-1] + f"...' ({len(value):,} bytes)"
        return text
    else:
        text = repr(value)
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + f"...' ({len(value):,} characters)"
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def field_error(path: Path | str, line: int | None, field: str | None, problem: str) -> DataFileError:
    """``DataFileError("<path>: line <n>, field '<field>': <problem>")`` (parts left out when None)."""
    where = []
    if line is not None:
        where.append(f"line {int(line)}")
    if field is not None:
        where.append(f"field '{field}'")
    return DataFileError(f"{path}: {', '.join(where)}: {problem}" if where else f"{path}: {problem}")


# ----------------------------------------------------------------------------------------------
# Compression
# ----------------------------------------------------------------------------------------------


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _truncated(path: Path, kind: str, out: bytes) -> DataFileError:
    return DataFileError(
        f"{path}: truncated {kind} stream: the data ends before the end-of-stream marker, in line "
        f"{_line_of(out, len(out))} of the decompressed text; the file is incomplete (interrupted copy?)"
    )


def _gunzip(path: Path, raw: bytes) -> bytes:
    parts: list[bytes] = []
    rest = raw
    while rest:
        d = zlib.decompressobj(wbits=31)
        try:
            parts.append(d.decompress(rest))
        except zlib.error as exc:
            done = b"".join(parts)
            raise DataFileError(
                f"{path}: corrupt gzip data near line {_line_of(done, len(done))} of the text ({excerpt(str(exc))})"
            ) from None
        if not d.eof:
            raise _truncated(path, "gzip", b"".join(parts))
        rest = d.unused_data.lstrip(b"\x00")  # padding after the last member is allowed
        if rest and rest[:2] != GZIP_MAGIC:
            raise DataFileError(f"{path}: trailing garbage after the gzip data ({len(rest):,} bytes)")
    return b"".join(parts)


def _unzstd(path: Path, raw: bytes) -> bytes:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{path}: reading zstd files needs the 'zstandard' package (pip install zstandard)") from exc
    parts: list[bytes] = []
    rest = raw
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        try:
            parts.append(d.decompress(rest))
        except zstandard.ZstdError as exc:
            done = b"".join(parts)
            raise DataFileError(
                f"{path}: corrupt zstd data after {len(done):,} decompressed bytes ({excerpt(str(exc))})"
            ) from None
        if not d.eof:
            raise _truncated(path, "zstd", b"".join(parts))
        rest = d.unused_data
        if rest and rest[:4] != ZSTD_MAGIC:
            raise DataFileError(f"{path}: trailing garbage after the zstd data ({len(rest):,} bytes)")
    return b"".join(parts)


def compression(head: bytes) -> str | None:
    """ "gzip", "zstd" or None from a file's first bytes."""
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    return None


# ----------------------------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------------------------

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


@njit(cache=True)
def _longest_line(buf: np.ndarray) -> tuple[int, int, int, int]:  # pragma: no cover - numba
    """(length, 1-based line, start offset, first NUL offset or -1) of the longest line."""
    best, best_line, best_start, start, line, nul = 0, 1, 0, 0, 1, -1
    for i in range(buf.size):
        c = buf[i]
        if c == 10:
            if i - start > best:
                best, best_line, best_start = i - start, line, start
            start = i + 1
            line += 1
        elif c == 0 and nul < 0:
            nul = i
    if buf.size - start > best:
        best, best_line, best_start = buf.size - start, line, start
    return best, best_line, best_start, nul


def _transcode(path: Path, data: bytes) -> tuple[bytes, str]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _recode(path, data[len(bom) :], codec), codec.upper()
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], "UTF-8 (BOM)"
    head = data[:256]
    if len(head) >= 4 and head[1::2].count(0) >= len(head) // 2 - 1 and head[::2].count(0) == 0:
        return _recode(path, data, "utf-16-le"), "UTF-16-LE (no BOM)"
    if len(head) >= 4 and head[::2].count(0) >= len(head) // 2 - 1 and head[1::2].count(0) == 0:
        return _recode(path, data, "utf-16-be"), "UTF-16-BE (no BOM)"
    return data, "UTF-8"


def _recode(path: Path, data: bytes, codec: str) -> bytes:
    try:
        return data.decode(codec).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not valid {codec.upper()} text at byte {exc.start:,}") from None


def _check_text(path: Path, data: bytes, max_line: int) -> None:
    length, line, start, nul = _longest_line(np.frombuffer(data, dtype=np.uint8))
    if nul >= 0:
        raise DataFileError(
            f"{path}: line {_line_of(data, nul)}: binary data, not text (a NUL byte at byte {nul:,}); "
            "is this a compressed or binary file?"
        )
    if length > max_line:
        raise DataFileError(
            f"{path}: line {line} is {length:,} bytes long (limit {max_line:,}): not a line of this format; "
            f"it starts {data[start : start + 40].decode('utf-8', errors='replace')!r}..."
        )
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = data[exc.start : exc.start + 8]
            raise DataFileError(
                f"{path}: line {_line_of(data, exc.start)}: not UTF-8 text (byte {exc.start:,}: {excerpt(bad)}); "
                "save the file as UTF-8"
            ) from None


def decompress(path: str | Path) -> bytes:
    """The bytes of ``path``, decompressed when it is gzip or zstd (by magic number); an empty
    file, a truncated or a corrupt stream raise :class:`DataFileError`."""
    path = Path(path)
    raw = path.read_bytes()
    kind = compression(raw[:4])
    data = _gunzip(path, raw) if kind == "gzip" else _unzstd(path, raw) if kind == "zstd" else raw
    if not data.strip():
        after = f" after {kind} decompression" if kind else ""
        raise DataFileError(f"{path}: line 1: the file is empty ({len(data)} bytes{after}); expected market data")
    return data


def as_text(path: str | Path, data: bytes, max_line: int = MAX_LINE_BYTES) -> bytes:
    """``data`` as UTF-8 without BOM (UTF-16/32 transcoded); binary data, a line longer than
    ``max_line`` bytes or invalid UTF-8 raise :class:`DataFileError` naming the line."""
    data, _ = _transcode(Path(path), data)
    _check_text(Path(path), data, max_line)
    return data


def read_bytes(path: str | Path, text: bool = True, max_line: int = MAX_LINE_BYTES) -> bytes:
    """The contents of ``path``, decompressed (gzip, zstd) and, when ``text``, as UTF-8 without BOM.

    Raises :class:`DataFileError` naming the file (and the line where one applies) for an empty
    file, a truncated or corrupt compressed stream, binary data in a text file, a line longer than
    ``max_line`` bytes, or text that is neither UTF-8 nor UTF-16/32.
    """
    data = decompress(path)
    return as_text(path, data, max_line) if text else data


def diagnose(path: str | Path) -> None:
    """Raise the reader's :class:`DataFileError` if ``path`` is unreadable as such (empty,
    truncated or corrupt compressed stream, binary or undecodable text); else return. A DBN
    stream (binary by design) is only decompressed."""
    data = decompress(path)
    if data[:3] != b"DBN":
        as_text(path, data)


def text_encoding(path: str | Path) -> str:
    """The encoding :func:`read_bytes` detects (for notes), e.g. ``"UTF-8"`` or ``"UTF-16-LE"``."""
    return _transcode(Path(path), head_bytes(path, 4096))[1]


def head_bytes(path: str | Path, n: int = 8192, text: bool = True) -> bytes:
    """At most ``n`` decompressed bytes from the start of ``path`` (UTF-8 when ``text``; a UTF-16
    head is transcoded); ``b""`` if the file cannot be read. For ``sniff`` functions."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max(n, 65536))
    except OSError:
        return b""
    kind = compression(raw)
    try:
        if kind == "gzip":
            raw = zlib.decompressobj(wbits=31).decompress(raw, n)
        elif kind == "zstd":
            import zstandard

            raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    except Exception:  # a sniff answers "not mine" for anything unreadable
        return b""
    if not text:
        return raw[:n]
    try:
        data, _ = _transcode(Path(path), raw[: 2 * n] if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw[:n])
    except DataFileError:
        return b""
    return data[:n]


def head_lines(path: str | Path, n: int = 3, limit: int = 4096) -> list[str]:
    """Up to ``n`` complete first lines of ``path`` (decompressed, transcoded); [] if not text."""
    raw = head_bytes(path, limit)
    if b"\x00" in raw:
        return []
    text = raw.decode("utf-8", errors="ignore")
    lines = text.splitlines()
    if len(raw) == limit and lines:
        lines = lines[:-1]  # possibly cut
    return lines[:n]


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------

RENAMED: dict[str, str] = {"crossed_rows": "crossed", "on_crossed": "crossed"}
"""Old option names and their new name (refused with a pointer to the new one)."""


def check_option_names(fmt: str, load: Any, options: Mapping[str, Any]) -> None:
    """Refuse an old option name with a pointer to the new one, and (for a loader with a fixed
    list of keyword options) an unknown name with the list of known ones."""
    renamed_options(fmt, options)
    params = inspect.signature(load).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the loader checks its own **options
    known = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    for name in options:
        if name not in known:
            raise ValueError(f"{fmt}: unknown option {name!r}; the options of this format: {', '.join(known)}")


def renamed_options(fmt: str, options: Mapping[str, Any]) -> None:
    """Refuse an old option name with a pointer to the one every format now uses."""
    for old, new in RENAMED.items():
        if old in options:
            raise ValueError(
                f"{fmt}: option {old!r} was renamed {new!r} (the same name in every format): pass {new}="
                f"{excerpt(options[old])}"
            )

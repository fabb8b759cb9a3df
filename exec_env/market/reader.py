"""The reader layer every market data format uses: bytes in, clear errors out.

* :func:`read_bytes` opens plain, gzip and zstd files (by their magic numbers, not their names),
  detects truncated or corrupt compressed streams, and for text formats detects the encoding
  (UTF-8 with or without BOM, UTF-16/32 with BOM or UTF-16 without one are transcoded to UTF-8),
  refuses binary data, empty files and absurdly long lines (:data:`MAX_LINE_BYTES`);
* :func:`head_bytes`: the first few decompressed bytes, for ``sniff`` functions (never raises);
* :func:`field_error` / :func:`fail_first` / :func:`excerpt`: every error about a place in a file
  names the file, the place and the field, and quotes at most a short excerpt of a bad value
  (never a 16 MiB line, never a numpy repr), in under :data:`MAX_MESSAGE` characters;
* :class:`Capture`: the files of one stream read as one sequence of lines (errors still name the
  file and its own line);
* :func:`check_choice` / :func:`check_number` / :func:`bad_option`: one wording of option errors,
  and :func:`check_option_names`: one vocabulary of loader options (e.g. ``crossed``), with the
  old names refused with a pointer to the new one.

The one vocabulary of places: ``<file>: line N, field 'name': <problem>``.

* ``line N`` is a 1-based line of a text file as an editor shows it: a CSV's header line is line 1,
  its first data line line 2 (a headerless file's first line is line 1);
* ``record N`` is the 1-based record of a binary file (DBN records, Parquet rows), the only place
  a binary format has;
* ``row N`` only ever means a row of in-memory arrays (0-based, a :class:`MarketDay` checked
  without file lines), never a place in a file.

Errors of the file itself (empty, truncated, binary) are :class:`DataFileError`; errors about a
place in a readable file are plain ``ValueError``s (the loader layer then checks the file itself
first, so an unreadable file is reported as such, not by what a parser tripped on).
"""

from __future__ import annotations

import inspect
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numba import njit

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_MESSAGE",
    "Capture",
    "DataFileError",
    "InMemory",
    "as_text",
    "bad_option",
    "check_choice",
    "check_number",
    "check_options",
    "check_text",
    "crossed_rows",
    "csv_lines",
    "decompress",
    "excerpt",
    "fail_first",
    "field_error",
    "first",
    "head_bytes",
    "read_bytes",
    "renamed_options",
    "zone_info",
]

MAX_LINE_BYTES = 4 << 20
"""Longest line a text format may hold (a Binance depth snapshot of 5,000 levels a side is ~0.3 MiB)."""
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_EXCERPT = 40
MAX_MESSAGE = 300
"""Longest error message about a place in a file (a longer one is cut, never a whole line quoted)."""


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


def field_error(
    src: Path | str | Capture, line: int | None, field: str | None, problem: str, unit: str = "line"
) -> ValueError:
    """``ValueError("<file>: line <n>, field '<field>': <problem>")`` (parts left out when None).

    ``src`` is the file, or a :class:`Capture` whose line numbers run across its files (the
    message then names the file the line is in and its own line number), or :class:`InMemory`
    data (then ``row N``). ``unit`` is ``"line"`` (text files) or ``"record"`` (binary files).
    The message is cut to :data:`MAX_MESSAGE`.
    """
    if isinstance(src, Capture) and line is not None:
        src, line = src.locate(int(line))
    if isinstance(src, InMemory):
        unit = "row"
    where = []
    if line is not None:
        where.append(f"{unit} {int(line)}")
    if field is not None:
        where.append(f"field '{field}'")
    text = f"{src}: {', '.join(where)}: {problem}" if where else f"{src}: {problem}"
    return ValueError(text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "...")


def first(mask: np.ndarray) -> int:
    """Index of the first True of a 1-D mask, or of the first row with one of a 2-D mask; -1 if none."""
    mask = np.asarray(mask)
    idx = np.flatnonzero(mask.any(axis=1) if mask.ndim == 2 else mask)
    return int(idx[0]) if idx.size else -1


def fail_first(
    bad: np.ndarray, src: Path | str | Capture, lines: np.ndarray, field: Any, problem: Any, unit: str = "line"
) -> None:
    """Raise :func:`field_error` at the first True of ``bad`` (rows: ``lines[k]`` is the place of
    row ``k``); ``field`` and ``problem`` are texts or functions of that index."""
    k = first(bad)
    if k >= 0:
        name = field(k) if callable(field) else field
        raise field_error(src, int(lines[k]), name, problem(k) if callable(problem) else problem, unit)


@dataclass(frozen=True)
class InMemory:
    """Data given in memory (a data frame, arrays) named ``name``: its places are 0-based rows."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Capture:
    """The files of one stream read as one sequence of lines, oldest first.

    Lines are numbered 1.. across the files; :meth:`locate` turns such a number back into the file
    and its own line number, which is what every error message quotes (see :func:`field_error`).
    """

    paths: tuple[Path, ...]
    offsets: np.ndarray  # lines before each file, then the total

    @classmethod
    def of(cls, paths: Sequence[Path], line_counts: Sequence[int]) -> Capture:
        return cls(tuple(paths), np.concatenate([[0], np.cumsum(line_counts)]).astype(np.int64))

    def locate(self, line: int) -> tuple[Path, int]:
        k = min(max(int(np.searchsorted(self.offsets, line, side="left")) - 1, 0), len(self.paths) - 1)
        return self.paths[k], int(line - self.offsets[k])

    def file_starts(self) -> np.ndarray:
        """The (global) number of each later file's first line."""
        return self.offsets[1:-1] + 1

    def __str__(self) -> str:
        return ", ".join(map(str, self.paths))


def crossed_locked(top: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose best bid is above / equal to the best ask (both sides present) of ``top`` = (bid,
    bid size, ask, ask size)."""
    bid, bid_sz, ask, ask_sz = top
    both = (bid_sz > 0) & (ask_sz > 0)
    return both & (bid > ask), both & (bid == ask)


def crossed_rows(
    src: Any, lines: np.ndarray, top: tuple[np.ndarray, ...], policy: str, notes: dict[str, Any],
    field: Any = "bid_px", what: str = "book", unit: str = "line", problem: Any = None,
) -> np.ndarray:  # fmt: skip
    """The rows to keep of a book whose best levels are ``top`` = (bid, bid size, ask, ask size): all
    but those whose best bid is at or above the best ask (both sides present). ``policy="raise"``:
    the first such row is an error naming its line and ``field`` (``problem(k)`` its text, if given);
    ``"drop"``: they are dropped, counted in ``notes["dropped_crossed_rows"]`` (bid > ask) and
    ``notes["dropped_locked_rows"]`` (bid == ask)."""
    bid, _, ask, _ = top
    crossed, locked = crossed_locked(top)
    if policy == "raise":
        fail_first(crossed | locked, src, lines, field, problem or (lambda k: (
            f"{'crossed' if crossed[k] else 'locked'} {what}: best bid {excerpt(bid[k])} {'>' if crossed[k] else '=='} "
            f"best ask {excerpt(ask[k])}; pass crossed='drop' to drop crossed and locked rows (counted in notes)"
        )), unit)  # fmt: skip
    notes["dropped_crossed_rows"] = int(crossed.sum())
    notes["dropped_locked_rows"] = int(locked.sum())
    return ~(crossed | locked)


def csv_lines(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, comma count) of every line of CSV ``data``: ``end`` excludes the line break (``\\n``
    or ``\\r\\n``), a final line break opens no line. The layout checks of Tardis, TAQ and Databento."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if (buf.size and buf[-1] == 10) else np.append(nl, buf.size)
    starts = np.concatenate(([0], nl + 1))[: ends.size]
    ends = ends - (np.asarray(buf[np.maximum(ends - 1, 0)] == 13, dtype=np.int64) * (ends > starts))
    commas = np.flatnonzero(buf == 44)
    return starts, ends, np.searchsorted(commas, ends) - np.searchsorted(commas, starts)


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


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{path}: reading zstd files needs the 'zstandard' package (pip install zstandard)") from exc
    return zstandard


def _inflate(path: Path, raw: bytes, kind: str) -> bytes:
    """Every member (frame) of a gzip or zstd stream, decompressed; a corrupt or truncated stream
    or trailing garbage is a :class:`DataFileError`."""
    if kind == "gzip":
        new, error, magic = (lambda: zlib.decompressobj(wbits=31)), zlib.error, GZIP_MAGIC
    else:
        zstandard = _zstandard(path)
        new, error, magic = (lambda: zstandard.ZstdDecompressor().decompressobj()), zstandard.ZstdError, ZSTD_MAGIC
    parts: list[bytes] = []
    rest = raw
    while rest:
        d = new()
        try:
            parts.append(d.decompress(rest))
        except error as exc:
            done = b"".join(parts)
            where = (
                f"near line {_line_of(done, len(done))} of the text"
                if kind == "gzip"
                else f"after {len(done):,} decompressed bytes"
            )
            raise DataFileError(f"{path}: corrupt {kind} data {where} ({excerpt(str(exc))})") from None
        if not d.eof:
            raise _truncated(path, kind, b"".join(parts))
        rest = d.unused_data.lstrip(b"\x00") if kind == "gzip" else d.unused_data  # gzip: padding allowed
        if rest and rest[: len(magic)] != magic:
            raise DataFileError(f"{path}: trailing garbage after the {kind} data ({len(rest):,} bytes)")
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
    data = _inflate(path, raw, kind) if kind else raw
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


def bad_option(name: str, value: Any, allowed: str) -> ValueError:
    """``ValueError("option <name>=<value> is invalid; allowed: <allowed>")``: every loader's wording."""
    return ValueError(f"option {name}={excerpt(value, 60)} is invalid; allowed: {allowed}")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """``value`` if it is one of ``allowed``, else :func:`bad_option` listing them."""
    if not isinstance(value, (str, bool, int, type(None))) or value not in allowed:
        raise bad_option(name, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def check_number(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    integer: bool = False,
    none: bool = False,
) -> Any:
    """``value`` if it is a finite number in the range (``None`` too when ``none``), else
    :func:`bad_option` saying the range; an int when ``integer``, else a float."""
    if value is None and none:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    ok = ok and math.isfinite(float(value)) and (float(value) > low if low_open else float(value) >= low)
    ok = ok and float(value) <= high
    if integer:
        ok = ok and float(value) == int(value)
    if not ok:
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        rng = lo if high == math.inf else f"{lo} and <= {high:g}"
        kind = "an integer" if integer else "a finite number"
        raise bad_option(name, value, f"{kind} {rng}" + (" or None" if none else ""))
    return int(value) if integer else float(value)


POSITIVE: dict[str, Any] = {"low": 0, "low_open": True}
"""A :func:`check_options` rule: a finite number > 0."""
POSITIVE_OR_NONE: dict[str, Any] = {**POSITIVE, "none": True}


def check_options(o: dict[str, Any], rules: Mapping[str, Any]) -> dict[str, Any]:
    """``o`` with the options named in ``rules`` checked in order, in place: a tuple rule lists the
    allowed values (:func:`check_choice`), a dict rule is :func:`check_number`'s range (the value
    becomes an int or float), a function ``rule(name, value)`` returns the checked value."""
    for name, rule in rules.items():
        if isinstance(rule, tuple):
            check_choice(name, o[name], rule)
        elif isinstance(rule, dict):
            o[name] = check_number(name, o[name], **rule)
        else:
            o[name] = rule(name, o[name])
    return o


def check_text(name: str, value: Any, allowed: str = "None or a non-empty string") -> str | None:
    """``value`` if it is None or a non-empty string (not only blanks), else :func:`bad_option`."""
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise bad_option(name, value, allowed)
    return value


def zone_info(name: str, value: Any) -> ZoneInfo:
    """The time zone named ``value``, else :func:`bad_option`."""
    try:
        return ZoneInfo(value)
    except Exception:  # ZoneInfoNotFoundError, ValueError, TypeError
        raise bad_option(name, value, "an IANA time zone name such as 'America/New_York'") from None


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

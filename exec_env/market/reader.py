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
  old names refused with a pointer to the new one;
* the jobs every format does under its own rules, done once with the rules as parameters:
  :func:`numbers` / :func:`number_problem` (values that fail to parse), :func:`pick` (the symbol or
  instrument of a file), :func:`infer_increment` / :func:`check_grid` (tick and lot sizes),
  :func:`trades_option` / :func:`trades_file` (the ``trades=`` option and the paired trades file),
  :func:`check_sorted` (time order).

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

import functools
import gzip
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
    "check_columns",
    "check_grid",
    "check_in",
    "check_known",
    "check_min",
    "check_number",
    "check_options",
    "check_sorted",
    "check_text",
    "crossed_rows",
    "csv_lines",
    "csv_text",
    "decompress",
    "excerpt",
    "fail_first",
    "field_error",
    "first",
    "head_bytes",
    "increment",
    "infer_increment",
    "number_problem",
    "numbers",
    "off_grid",
    "pick",
    "read_buffer",
    "read_bytes",
    "trades_file",
    "trades_option",
    "unclosed_quote",
    "write_file",
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
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: limit + 1])
        return repr(raw) if len(value) <= limit else repr(raw[:limit])[:-1] + f"...' ({len(value):,} bytes)"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + f"...' ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "..."


def field_error(
    src: Path | str | Capture, line: int | None, field: str | None, problem: str, unit: str = "line"
) -> ValueError:
    """``ValueError("<file>: line <n>, field '<field>': <problem>")`` (parts left out when None).

    ``src`` is the file, or a :class:`Capture` whose line numbers run across its files (the
    message then names the file the line is in and its own line number), or :class:`InMemory`
    data (then ``row N``). ``unit`` is ``"line"`` (text files) or ``"record"`` (binary files).
    The message is cut to under :data:`MAX_MESSAGE` characters.
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
    return ValueError(text if len(text) < MAX_MESSAGE else text[: MAX_MESSAGE - 4] + "...")


def first(mask: np.ndarray) -> int:
    """Index of the first True of a 1-D mask, or of the first row with one of a 2-D mask; -1 if none."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.size:
        return -1
    # Row-major order: the first True of the flattened mask lies in the first row holding one. argmax
    # stops there; any(axis=1) would reduce every row first (200x slower on a 200,000 x 10 mask).
    flat = mask.reshape(-1)
    k = int(flat.argmax())
    if not flat[k]:
        return -1
    return k // mask.shape[1] if mask.ndim == 2 else k


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
    field: Any = "bid_px", what: Any = "book", unit: str = "line",
) -> np.ndarray:  # fmt: skip
    """The rows to keep of a book whose best levels are ``top`` = (bid, bid size, ask, ask size): all
    but those whose best bid is at or above the best ask (both sides present). ``policy="raise"``:
    the first such row is an error naming its line and ``field`` (and ``what`` is crossed: a text, or
    a function of the row); ``"drop"``: they are dropped, counted in ``notes["dropped_crossed_rows"]``
    (bid > ask) and ``notes["dropped_locked_rows"]`` (bid == ask)."""
    bid, _, ask, _ = top
    crossed, locked = crossed_locked(top)
    if policy == "raise":
        fail_first(crossed | locked, src, lines, field, lambda k: (
            f"{'crossed' if crossed[k] else 'locked'} {what(k) if callable(what) else what}: best bid {excerpt(bid[k])} "
            f"{'>' if crossed[k] else '=='} best ask {excerpt(ask[k])}; pass crossed='drop' to drop crossed and locked "
            "rows (counted in notes)"
        ), unit)  # fmt: skip
    notes["dropped_crossed_rows"] = int(crossed.sum())
    notes["dropped_locked_rows"] = int(locked.sum())
    return ~(crossed | locked)


def check_columns(src: Any, counts: np.ndarray, lines: np.ndarray, names: Sequence[str]) -> None:
    """Every row (at places ``lines``) has one field per name of ``names`` (``counts``: its fields);
    the first that does not is an error naming the first missing field, or the last one."""
    k = first(counts != len(names))
    if k >= 0:
        n = int(counts[k])
        field, what = (names[n], "is missing") if n < len(names) else (names[-1], "is followed by extra fields")
        raise field_error(
            src, int(lines[k]), field, f"wrong column count: {n} fields, expected {len(names)}; '{field}' {what}"
        )


def unclosed_quote(src: Any, data: bytes, names: Sequence[str], note: str = "", start: int = 0) -> ValueError:
    """The error of a CSV text the parser refuses although every line has the header's field count:
    a quote character (the first from byte ``start``) opens a quoted field (which may span lines)
    that the text never closes."""
    at = data.find(b'"', start)
    if at < 0:  # pragma: no cover - the column check leaves no other cause
        return field_error(src, None, None, "the CSV parser cannot split the file into fields")
    k = data.count(b",", data.rfind(b"\n", 0, at) + 1, at)
    problem = f"a quote character opens a quoted field that does not close on its line{note}"
    return field_error(src, data.count(b"\n", 0, at) + 1, names[k] if k < len(names) else None, problem)


def csv_text(path: str | Path) -> tuple[bytes, list[str], np.ndarray]:
    """A CSV file's text (:func:`read_bytes`) without the blank lines at its end (an editor or a
    concatenation leaves them; a blank line inside is a row of the wrong column count), the fields of
    its header line (line 1) and the number of fields on every line: the one CSV rule of the formats."""
    data = read_bytes(path)
    end = len(data)
    while end and data[end - 1] in (10, 13):
        end -= 1
    if data[end:] != b"\n":  # a copy only when the file does not end with one line break
        data = data[:end] + b"\n"
    _, ends, commas = csv_lines(data)
    return data, data[: ends[0]].decode("utf-8", errors="replace").split(","), commas + 1


def csv_lines(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, comma count) of every line of CSV ``data``: ``end`` excludes the line break (``\\n``
    or ``\\r\\n``), a final line break opens no line. The layout checks of Tardis, TAQ and Databento."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if (buf.size and buf[-1] == 10) else np.append(nl, buf.size)
    starts = np.concatenate(([0], nl + 1))[: ends.size]
    ends = ends - (np.asarray(buf[np.maximum(ends - 1, 0)] == 13, dtype=np.int64) * (ends > starts))
    # the commas from each line's start to the next one's (a line break holds none): no array of every
    # comma's offset
    return starts, ends, np.add.reduceat(buf == 44, starts, dtype=np.int64)


def check_sorted(
    src: Any, ts: np.ndarray, lines: np.ndarray, field: str, unit: str = "line", why: str = "rows must be in time order"
) -> None:
    """Times ``ts`` (rows at places ``lines``) must not go backwards: the first that does is an error
    (``why``: the format's rule, for the message)."""
    fail_first(np.r_[False, ts[1:] < ts[:-1]], src, lines, field,
               lambda k: f"time {ts[k]} is before the previous {unit}'s {ts[k - 1]} ({why})", unit)  # fmt: skip


def check_in(
    src: Any, values: np.ndarray, allowed: Sequence[Any], lines: np.ndarray, field: str, unit: str = "line"
) -> None:
    """Every value (rows at places ``lines``) is one of ``allowed``."""
    fail_first(~np.isin(values, allowed), src, lines, field,
               lambda k: f"{excerpt(values[k])} is not one of {', '.join(map(str, allowed))}", unit)  # fmt: skip


def check_min(
    src: Any, values: np.ndarray, lines: np.ndarray, field: Any, what: str, low: float = 0.0, strict: bool = False,
    unit: str = "line",
) -> None:  # fmt: skip
    """Every value (rows at places ``lines``) must be finite and ``>= low`` (``> low`` when ``strict``)."""
    bad = ~np.isfinite(values) | ((values <= low) if strict else (values < low))
    op = ">" if strict else ">="
    fail_first(
        bad, src, lines, field, lambda k: f"{what} must be finite and {op} {low:g}, got {excerpt(values[k])}", unit
    )


# ----------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------


def number_problem(raw: Any, integer: bool = False) -> str | None:
    """Why ``raw`` (a text, or a value from JSON or a data frame) is not a finite number (an integer
    when ``integer``), or None if it is one: the one wording of every format's number errors."""
    if isinstance(raw, str):
        raw = raw.strip()
        try:
            value, whole = float(raw), raw.lstrip("+-").isdigit()
        except ValueError:
            return f"unparsable number {excerpt(raw)}" if raw else "missing value"
    elif isinstance(raw, (int, float, np.number)) and not isinstance(raw, (bool, np.bool_)):
        value, whole = float(raw), isinstance(raw, (int, np.integer))
    else:
        return "missing value" if raw is None else f"unparsable number {excerpt(raw)}"
    if not math.isfinite(value):
        return f"not a finite number: {excerpt(raw)}"
    return f"not an integer: {excerpt(raw)}" if integer and not whole else None


def numbers(
    src: Any,
    values: Any,
    lines: np.ndarray,
    field: str,
    unit: str = "line",
    missing: bool = False,
    integer: bool = False,
) -> np.ndarray:
    """``values`` (texts, one per row at places ``lines``) as finite float64 (integers when ``integer``);
    the first missing (empty; NaN when ``missing``), unparsable or non-finite value is an error
    (:func:`number_problem`)."""
    import pandas as pd  # here, not at import: ``import exec_env`` does not need pandas (~0.25 s)

    values = pd.Series(values, dtype=object).reset_index(drop=True)
    out = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(out) & ((out % 1 == 0) if integer else True)
    if missing:
        ok |= (values.astype(str).str.strip() == "").to_numpy()
    fail_first(~ok, src, lines, field,
               lambda k: number_problem(values.iloc[k], integer) or f"unparsable number {excerpt(values.iloc[k])}", unit)  # fmt: skip
    return out


# ----------------------------------------------------------------------------------------------
# Symbols, tick and lot sizes, trades files
# ----------------------------------------------------------------------------------------------


def pick(
    src: Any, found: Mapping[Any, int], wanted: Any, field: str, *, option: str = "symbol", what: str = "symbols",
    label: Any = str, select: bool = True, hint: str | None = None, wanted_from: str | None = None, unit: str = "line",
) -> Any:  # fmt: skip
    """The one value (a symbol, an instrument) of a file's rows to read: ``wanted`` (the option, or a
    companion file's book symbol) if the file has it, else the file's only one, else None (no rows).

    ``found`` maps each value of the file to the place of its first row, in order of appearance.
    Several values without ``wanted`` are an error (``select=False``: a format of one value per file,
    then even with ``wanted``); so is a ``wanted`` the file does not hold (unless it holds none). Errors
    name the place of the first row of the second value (or of the first row) and ``field``.
    """
    names = list(found)
    listing = ", ".join(str(label(n))[:30] for n in names[:8]) + (", ..." if len(names) > 8 else "")
    if len(names) > 1 and (wanted is None or not select):
        advice = f"pass {hint or option + '='} to pick one" if select else "this format reads one per file"
        raise field_error(src, found[names[1]], field, f"{len(names)} {what} in the file ({listing}); {advice}", unit)
    if wanted is not None and names and wanted not in found:
        raise field_error(src, found[names[0]], field,
                          f"{wanted_from or f'option {option}='}{excerpt(wanted)} matches none of the file's {what} ({listing})", unit)  # fmt: skip
    return wanted if wanted is not None else (names[0] if names else None)


def first_places(values: Any, lines: np.ndarray) -> dict[Any, int]:
    """Each distinct value of ``values`` (one per row) and the place of its first row, in order."""
    values = np.asarray(values)
    if values.size and (values == values[0]).all():  # the usual file: one value
        return {values[:1].tolist()[0]: int(lines[0])}
    import pandas as pd  # see numbers()

    first_rows = pd.Series(values).drop_duplicates()
    return dict(zip(first_rows.tolist(), lines[first_rows.index.to_numpy()].tolist(), strict=True))


def infer_increment(values: np.ndarray, *, power_of_ten: bool = False, at_least: int = 1) -> float | None:
    """The tick (or lot) of ``values``: the greatest common divisor of their distinct absolute values
    on their decimal grid (``power_of_ten``: the grid itself, ``10**-d``); None with fewer than
    ``at_least`` distinct values (zeros and non-finite ones left out) or none on a grid of at most 12
    decimals.

    Each value is scaled by ``10**d`` for the smallest ``d`` that makes every value an integer (to
    float precision), the gcd of the integers is taken and scaled back.
    """
    v = np.unique(np.abs(values[np.isfinite(values) & (values != 0)]))
    if v.size < max(at_least, 1):
        return None
    for d in range(13):
        scaled = v * 10.0**d
        if scaled[-1] >= 2.0**62:
            return None
        r = np.round(scaled)
        if np.all(np.abs(scaled - r) <= np.maximum(1e-7, scaled * 3.2e-15)):
            return float(f"1e-{d}") if power_of_ten else int(np.gcd.reduce(r.astype(np.int64))) / 10**d
    return None


def increment(src: Any, given: float | None, values: np.ndarray, name: str = "tick_size", **rule: Any) -> float:
    """``given``, else :func:`infer_increment` of ``values`` (``rule``: its options); an error naming
    the option when it cannot be inferred."""
    if given is not None:
        return given
    out = infer_increment(values, **rule)
    if out is None:
        what = "prices" if name == "tick_size" else "sizes"
        raise ValueError(
            f"{src}: cannot infer {name} from the {what} (too few distinct values, or no decimal grid); pass {name}="
        )
    return out


def off_grid(px: np.ndarray, tick: float) -> np.ndarray:
    """Prices off the ``tick`` grid (by more than 1e-6 tick; NaN is on it)."""
    q = px / tick
    return np.abs(q - np.round(q)) > 1e-6


def check_grid(src: Any, px: np.ndarray, tick: float, lines: np.ndarray, field: Any, unit: str = "line") -> None:
    """Every price (rows at places ``lines``) must be a multiple of the option ``tick_size``."""
    fail_first(off_grid(px, tick), src, lines, field,
               lambda k: f"price {excerpt(px[k])} is not a multiple of tick_size={tick:g} (pass the data's tick_size)", unit)  # fmt: skip


def trades_option(name: str, value: Any) -> Any:
    """A ``trades=`` option: None (the paired file), False (no trades) or a path."""
    if not (value is None or value is False or isinstance(value, (str, Path))):
        raise bad_option(name, value, "None (the paired trades file), False (no trades) or a path")
    return value


def trades_file(path: Path, option: Any, paired: Path | None, kind: Any) -> Path | None:
    """The trades file of the book file ``path``: None with ``trades=False``; else the option's path or
    the ``paired`` file beside it (an error without one), which ``kind(file)`` must call ``"trades"``."""
    if option is False:
        return None
    if option is None and paired is None:
        raise ValueError(f"{path}: no paired trades file beside it; pass trades=<path>, or trades=False for no trades")
    found = Path(option) if option is not None else paired
    if not found.is_file():
        raise FileNotFoundError(f"{found}: no such file (option trades={excerpt(str(option))})")
    other = kind(found)
    if other != "trades":
        raise field_error(found, 1, "header", f"not a trades file but {excerpt(other)} (option trades)")
    return found


# ----------------------------------------------------------------------------------------------
# Compression
# ----------------------------------------------------------------------------------------------


def _line_of(data: Any, offset: int) -> int:
    """The 1-based line of byte ``offset`` of ``data`` (bytes or a uint8 array)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8)[:offset] == 10)) + 1


def _zstandard(path: Path) -> Any:
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{path}: zstd files need the 'zstandard' package (pip install zstandard)") from exc
    return zstandard


def write_file(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (its folder made), gzip or zstd compressed when the name ends in
    ``.gz`` / ``.zst``: the writers' counterpart of :func:`read_bytes`."""
    path = Path(path)
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.lower().endswith(".zst"):
        data = _zstandard(path).ZstdCompressor().compress(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _inflate(path: Path, raw: bytes, kind: str) -> bytes:
    """Every member (frame) of a gzip or zstd stream, decompressed; a corrupt or truncated stream
    or trailing garbage is a :class:`DataFileError`."""
    if kind == "gzip":
        new, error, magic = (lambda: zlib.decompressobj(wbits=31)), zlib.error, GZIP_MAGIC
    else:
        zstandard = _zstandard(path)
        new, error, magic = zstandard.ZstdDecompressor().decompressobj, zstandard.ZstdError, ZSTD_MAGIC  # one context
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
            done = b"".join(parts)
            raise DataFileError(
                f"{path}: truncated {kind} stream: the data ends before the end-of-stream marker, in line "
                f"{_line_of(done, len(done))} of the decompressed text; the file is incomplete (interrupted copy?)"
            )
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


def _encoding(head: bytes) -> tuple[int, str | None, str]:
    """(length of the BOM, codec to transcode from or None for UTF-8, name) of text that starts
    with ``head`` (its first 256 bytes or more)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return len(bom), codec, codec.upper()
    if head.startswith(b"\xef\xbb\xbf"):
        return 3, None, "UTF-8 (BOM)"
    head = head[:256]
    if len(head) >= 4 and head[1::2].count(0) >= len(head) // 2 - 1 and head[::2].count(0) == 0:
        return 0, "utf-16-le", "UTF-16-LE (no BOM)"
    if len(head) >= 4 and head[::2].count(0) >= len(head) // 2 - 1 and head[1::2].count(0) == 0:
        return 0, "utf-16-be", "UTF-16-BE (no BOM)"
    return 0, None, "UTF-8"


def _transcode(path: Path, data: bytes) -> tuple[bytes, str]:
    """``data`` as UTF-8 without BOM (:func:`_encoding`), and the name of its encoding."""
    skip, codec, name = _encoding(data[:256])
    if codec is None:
        return (data[skip:] if skip else data), name
    try:
        return data[skip:].decode(codec).encode("utf-8"), name
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not valid {codec.upper()} text at byte {exc.start:,}") from None


_PIECE = 1 << 20
"""A line over the limit is searched for in pieces of this many bytes, each copied to a ``bytes``
for its ``rfind``: no copy of the whole file, and no compiled kernel (a small file never starts numba)."""


def _has_long_line(view: memoryview, n: int, max_line: int) -> bool:
    """Is a line of ``view[:n]`` longer than ``max_line`` bytes? From the start of a line, the last
    line break within the next ``max_line + 1`` bytes (searched backwards, a piece at a time) starts
    the next window; none means a long line."""
    pos = 0
    while n - pos > max_line:
        hi, k = pos + max_line + 1, -1
        while k < 0 and hi > pos:
            lo = max(pos, hi - _PIECE)
            k = bytes(view[lo:hi]).rfind(b"\n")
            k, hi = (k + lo if k >= 0 else -1), lo
        if k < 0:
            return True
        pos = k + 1
    return False


def _check_text(path: Path, data: bytes | np.ndarray, max_line: int, size: int | None = None) -> None:
    """The checks of text ``data[:size]`` (bytes or a uint8 array; all of it by default)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size if size is None else size
    view = memoryview(buf)
    text = buf[:n]  # reductions: no copy, no mask (a copy of a large text costs its page faults)
    high, has_nul = n > 0 and text.max() >= 128, n > 0 and text.min() == 0
    # the exact byte scan (the messages' line and offset) only for a NUL or a line over the limit
    exact = has_nul or _has_long_line(view, n, max_line)
    length, line, start, nul = _longest_line(text) if exact else (0, 1, 0, -1)
    if nul >= 0:
        raise DataFileError(
            f"{path}: line {_line_of(data, nul)}: binary data, not text (a NUL byte at byte {nul:,}); "
            "is this a compressed or binary file?"
        )
    if length > max_line:
        raise DataFileError(
            f"{path}: line {line} is {length:,} bytes long (limit {max_line:,}): not a line of this format; "
            f"it starts {bytes(buf[start : min(start + 40, n)]).decode('utf-8', errors='replace')!r}..."
        )
    if high:
        try:
            str(memoryview(buf)[:n], "utf-8")
        except UnicodeDecodeError as exc:
            bad = bytes(buf[exc.start : min(exc.start + 8, n)])
            raise DataFileError(
                f"{path}: line {_line_of(data, exc.start)}: not UTF-8 text (byte {exc.start:,}: {excerpt(bad)}); "
                "save the file as UTF-8"
            ) from None


def decompress(path: str | Path) -> bytes:
    """The bytes of ``path``, decompressed when it is gzip or zstd (by magic number); an empty
    file, a truncated or a corrupt stream raise :class:`DataFileError`."""
    path = Path(path)
    return _decompressed(path, path.read_bytes())


def _decompressed(path: Path, raw: bytes) -> bytes:
    """:func:`decompress` of the file's bytes ``raw``, already read."""
    kind = compression(raw[:4])
    data = _inflate(path, raw, kind) if kind else raw
    _check_empty(path, data, len(data), kind)
    return data


def _check_empty(path: Path, data: bytes | np.ndarray, size: int, kind: str | None = None) -> None:
    """An empty file, or one of nothing but white space (a copy of all of it only when its first
    4,096 bytes are white space)."""
    view = memoryview(data)
    if not size or (bytes(view[: min(size, 4096)]).isspace() and bytes(view[:size]).isspace()):
        after = f" after {kind} decompression" if kind else ""
        raise DataFileError(f"{path}: line 1: the file is empty ({size} bytes{after}); expected market data")


def as_text(path: str | Path, data: bytes, max_line: int = MAX_LINE_BYTES) -> bytes:
    """``data`` as UTF-8 without BOM (UTF-16/32 transcoded); binary data, a line longer than
    ``max_line`` bytes or invalid UTF-8 raise :class:`DataFileError` naming the line."""
    size = len(data)
    data, name = _transcode(Path(path), data)
    if not data or data.isspace():  # a byte order mark (and white space) only
        raise DataFileError(
            f"{path}: line 1: the file is empty ({size} bytes of {name} text, all white space); expected market data"
        )
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


def read_buffer(path: str | Path, pad: int = 1) -> tuple[np.ndarray, int]:
    """:func:`read_bytes`'s text in a writable ``uint8`` array with ``pad`` spare bytes after it (for
    a parser's sentinel), and the text's length; the same checks and errors. A plain UTF-8 file
    (the common case) is read straight into the array: no second copy of the data."""
    path = Path(path)
    size = path.stat().st_size
    buf = np.empty(size + pad, dtype=np.uint8)  # not zeroed: bytearray(n) would write n zeros first
    with path.open("rb") as fh:
        size = fh.readinto(memoryview(buf)[:size])
    buf = buf[: size + pad]  # the file may have shrunk since stat()
    buf[size:] = 10  # the pad: line breaks
    head = buf[: min(size, 256)].tobytes()
    skip, codec, _ = _encoding(head)
    if compression(head) or skip or codec:  # decompress or transcode first: a copy
        text = bytearray(as_text(path, _decompressed(path, buf[:size].tobytes())))
        size = len(text)
        text += b"\n" * pad  # appended to the bytearray (text + pad would build one more copy)
        return np.frombuffer(text, dtype=np.uint8), size
    _check_empty(path, buf, size)
    _check_text(path, buf, MAX_LINE_BYTES, size)
    return buf, size


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
            with _zstandard(path).ZstdDecompressor().stream_reader(raw) as stream:  # only the bytes needed
                raw = stream.read(2 * n)
        if text:
            raw, _ = _transcode(Path(path), raw[: 2 * n] if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw[:n])
    except Exception:  # a sniff answers "not mine" for anything unreadable (or undecodable)
        return b""
    return raw[:n]


def head_lines(path: str | Path, n: int = 3, limit: int = 4096) -> list[str]:
    """Up to ``n`` complete first lines of ``path`` (decompressed, transcoded); [] if not text."""
    raw = head_bytes(path, limit)
    if b"\x00" in raw:
        return []
    lines = raw.decode("utf-8", errors="ignore").splitlines()
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
    ok = ok and float(value) <= high and (not integer or float(value) == int(value))
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
    """Refuse an old option name with a pointer to the one every format now uses, and (for a loader
    with a fixed list of keyword options) an unknown name with the list of known ones."""
    for old, new in RENAMED.items():
        if old in options:
            raise ValueError(
                f"{fmt}: option {old!r} was renamed {new!r} (the same name in every format): pass {new}="
                f"{excerpt(options[old])}"
            )
    known = _keyword_options(load)
    if known is not None:  # else (``**options``) the loader checks them
        check_known(fmt, options, known)


@functools.cache
def _keyword_options(load: Any) -> list[str] | None:
    """The keyword-only parameters of ``load``, or None when it takes ``**options``."""
    params = inspect.signature(load).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def check_known(fmt: str, names: Any, known: Sequence[str]) -> None:
    """Every option name in ``names`` is one of ``known``, else an error listing them."""
    for name in names:
        if name not in known:
            raise ValueError(f"{fmt}: unknown option {name!r}; the options of this format: {', '.join(known)}")

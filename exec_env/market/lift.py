"""Shared helpers for sources with less than a book (L1 quotes, OHLCV bars): "lifting" them into
the canonical :class:`~exec_env.market.data.MarketDay`.

Used by :mod:`exec_env.market.fx` (FX tick quotes) and :mod:`exec_env.market.bars` (OHLCV bars),
some helpers also by :mod:`exec_env.market.taq`. What is shared:

* wall-clock and session option checks (:func:`parse_clock`, :func:`parse_session`; the others are
  :mod:`exec_env.market.reader`'s);
* a line-exact CSV reader (:func:`read_columns`): every row keeps its 1-based line number in the
  file, wrong field counts and unparsable or non-finite values raise
  ``ValueError("<file>: line <n>, field '<name>': ...")`` (:func:`reader.field_error`);
* :func:`to_price` (integer ticks to prices without float residue); :func:`tick_signs` (the tick
  rule of a price sequence: TAQ's trade sides, the bars' tie break); :func:`reprs` (exact float
  texts for the writers);
* :func:`ladder`: the deterministic depth that a lifted book shows beyond its best level (levels
  ``step`` ticks apart, a given size each). This is an *assumption*, not data: every loader that
  uses it says so in ``meta.notes``;
* time helpers: wall-clock ``"HH:MM[:SS]"`` options, time zones, UTC <-> local nanoseconds.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.market import reader
from exec_env.market.reader import bad_option, fail_first, field_error

__all__ = [
    "NS",
    "header_roles",
    "ladder",
    "local_ns",
    "parse_clock",
    "parse_session",
    "read_columns",
    "session_utc",
    "split_days",
    "to_price",
    "utc_ns_from_local",
    "utc_ns_of_wall_times",
]

NS = 1_000_000_000
DAY_NS = 86_400 * NS


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


_CLOCK = re.compile(r"^(\d{1,2}):(\d{1,2})(?::(\d{1,2})(\.\d{1,9})?)?$")
_CLOCK_TEXT = "a wall-clock time 'HH:MM[:SS[.fff]]' within one day"


def parse_clock(name: str, value: Any, allow_24: bool = True) -> int:
    """Nanoseconds after midnight of ``"HH:MM"``, ``"HH:MM:SS"``, ``"HH:MM:SS.fff"`` (up to 9 decimals)
    or a ``datetime.time``; ``"24:00"`` only when ``allow_24``. Else :func:`reader.bad_option`."""
    if isinstance(value, dt.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * NS + value.microsecond * 1000
    m = _CLOCK.match(value) if isinstance(value, str) else None
    if m is not None:
        h, mi, sec = int(m[1]), int(m[2]), int(m[3] or 0)
        ns = ((h * 60 + mi) * 60 + sec) * NS + int((m[4] or ".")[1:].ljust(9, "0"))
        if mi <= 59 and sec <= 59 and ns <= (DAY_NS if allow_24 else DAY_NS - 1):
            return ns
    raise bad_option(name, value, _CLOCK_TEXT)


def parse_session(value: Any, named: Sequence[Any] = ()) -> Any:
    """A ``session`` option: one of the ``named`` sessions as is, else a pair of wall-clock times
    (:func:`parse_clock`) as ns after midnight ``(open, close)``, open before close (close at most 24:00)."""
    if (value is None or isinstance(value, str)) and value in named:
        return value
    pair = "a pair of wall-clock times ('HH:MM[:SS]', 'HH:MM[:SS]'), open before close"
    allowed = ", ".join(map(repr, named)) + f" or {pair}" if named else pair
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise bad_option("session", value, allowed)
    o, c = parse_clock("session[0]", value[0], allow_24=False), parse_clock("session[1]", value[1])
    if c <= o:
        raise bad_option("session", value, allowed)
    return o, c


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------


def header_roles(
    names: Sequence[Any], roles: dict[str, set[str]], needed: set[str], ignore: frozenset[str] = frozenset()
) -> dict[str, int] | None:
    """Column index of each role of a header (``roles``: role -> accepted names, compared lower-case
    without punctuation), or None unless every column is one role (at most once) or an ``ignore``d
    name and the ``needed`` roles are there."""
    out: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = re.sub(r"[^a-z0-9]", "", str(raw).strip().strip('"').lower())
        if name in ignore:
            continue
        role = next((r for r, accepted in roles.items() if name in accepted), None)
        if role is None or role in out:
            return None
        out[role] = i
    return out if needed <= out.keys() else None


def first_line(path: Path) -> str:
    """The first line of a text file; an unreadable file or one without a line is an error."""
    head = reader.head_lines(path, 1, limit=65_536)
    if not head:
        reader.read_bytes(path)  # raises naming what is wrong: empty, binary, truncated, ...
        raise ValueError(f"{path}: line 1: no header line found")
    return head[0]


def read_headed(
    path: Path, roles_of: Callable[[str], dict[str, int] | None], header: str, numeric: Collection[str]
) -> tuple[dict[str, Any], np.ndarray, dict[str, int]]:
    """The columns of a CSV whose first line names them (:func:`read_columns`), their lines and the
    column of each role: ``roles_of(line)`` maps the roles to columns, or is None for a line that is not
    ``header`` (an error quoting it); the ``numeric`` roles are read as finite float64."""
    line = first_line(path)
    roles = roles_of(line)
    if roles is None:
        raise field_error(str(path), 1, "header", f"not {header}: {reader.excerpt(line)}")
    names = [""] * len(roles)
    for role, i in roles.items():
        names[i] = role
    cols, rows = read_columns(path, names, [n for n in names if n in numeric], 1)
    if rows.size == 0:
        raise field_error(str(path), 2, names[0], "no data rows after the header line")
    return cols, rows, roles


_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def has_offset(text: Any) -> bool:
    """Whether a time string ends in an explicit UTC offset (``Z``, ``+hh:mm``, ``-hhmm``)."""
    return bool(_OFFSET.search(str(text).strip()))


def parse_times(
    src: Any, s: Any, lines: np.ndarray, formats: Sequence[str], aware: bool, timezone: str, field: str
) -> np.ndarray:
    """UTC ns of the time strings ``s``, each read with the first of ``formats`` that fits (blanks
    around it ignored): with ``aware`` their own UTC offsets, else wall-clock times in ``timezone``;
    an unparsable, nonexistent or ambiguous time is an error naming its line."""
    s = pd.Series(s).reset_index(drop=True)
    parsed = pd.to_datetime(s, format=formats[0], errors="coerce", utc=aware)
    miss = parsed.isna().to_numpy()
    for fmt in [*formats[1:], *formats]:  # other layouts, then surrounding spaces
        if not miss.any():
            break
        parsed[miss] = pd.to_datetime(s[miss].astype(str).str.strip(), format=fmt, errors="coerce", utc=aware)
        miss = parsed.isna().to_numpy()
    fail_first(miss, src, lines, field, lambda k: f"unparsable timestamp {reader.excerpt(s.iloc[k])}")
    if aware:  # UTC instants
        return parsed.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").view(np.int64)
    wall = parsed.to_numpy().astype("datetime64[ns]").view(np.int64)
    return wall if timezone == "UTC" else utc_ns_of_wall_times(src, wall, lines, s.to_numpy(), timezone, field)


def read_columns(
    path: Path, names: Sequence[str], numeric: Sequence[str], header_rows: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of a headerless-after-``header_rows`` CSV: ``numeric`` ones as finite float64,
    the others as strings; and the 1-based file line of every row.

    Fast path: pandas' C parser. On anything irregular (wrong field count, unparsable or
    non-finite number, empty field, blank line) the file is re-read line by line (rows of the wrong
    field count: :func:`reader.check_columns`; values: :func:`reader.numbers`), which raises naming
    the exact line and field.
    """
    origin = str(path)
    first_line = header_rows + 1
    data = reader.read_bytes(path)
    dtypes = {n: (np.float64 if n in numeric else object) for n in names}
    try:
        df = pd.read_csv(io.BytesIO(data), header=None, names=list(names), skiprows=header_rows, dtype=dtypes, index_col=False,
                         skip_blank_lines=False, encoding="utf-8-sig", engine="c")  # fmt: skip
        num = df[list(numeric)].to_numpy(dtype=np.float64)
        ok = len(df) > 0 and bool(np.isfinite(num).all()) and not df.isna().to_numpy().any()
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        ok = False
    if ok:
        cols = {n: df[n].to_numpy(dtype=np.float64) if n in numeric else df[n] for n in names}
        return cols, np.arange(first_line, first_line + len(df), dtype=np.int64)
    lines = data.decode("utf-8").splitlines()
    while lines and not lines[-1].strip():  # blank lines at the end
        lines.pop()
    s = pd.Series(lines[header_rows:], dtype=object)
    numbers = np.arange(first_line, first_line + len(s), dtype=np.int64)
    reader.check_columns(origin, (s.str.count(",") + 1).to_numpy(), numbers, names)
    parts = pd.DataFrame(s.str.split(",", regex=False).tolist(), columns=list(names), dtype=object)
    cols = {n: reader.numbers(origin, parts[n], numbers, n) if n in numeric else parts[n].str.strip() for n in names}
    return cols, numbers


# ----------------------------------------------------------------------------------------------
# Tick grid
# ----------------------------------------------------------------------------------------------


def to_price(ticks: np.ndarray, tick: float) -> np.ndarray:
    """Integer tick counts to prices, rounded so that e.g. 17024 * 0.01 is exactly 170.24."""
    return np.round(np.asarray(ticks, dtype=np.float64) * tick, min(12, max(0, math.ceil(-math.log10(tick))) + 3))


def tick_signs(px: np.ndarray, start: float = 0.0) -> np.ndarray:
    """The tick rule of each price of ``px``: +1 (-1) if it is above (below) the last different price
    before it, ``start`` before any change (so the first price is ``start``)."""
    step = np.sign(np.diff(px))
    last = np.where(step != 0, np.arange(step.size), -1)
    np.maximum.accumulate(last, out=last)
    return np.r_[start, np.where(last >= 0, step[np.maximum(last, 0)], start)]


def ladder(best: np.ndarray, size: np.ndarray, levels: int, step_ticks: int, tick: float, side: int,
           deeper_size: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Prices and sizes ``(N, levels)`` of one book side built from its best price.

    Level ``k`` (0-based) is ``k * step_ticks`` ticks behind ``best`` (``side`` -1 for bids: lower
    prices, +1 for asks: higher); level 0 keeps ``best`` and ``size`` exactly; deeper levels show
    ``deeper_size`` (default: ``size``).
    """
    n = best.shape[0]
    px = np.empty((n, levels))
    sz = np.empty((n, levels))
    px[:, 0] = best
    sz[:, 0] = size
    if levels > 1:
        k = np.arange(1, levels, dtype=np.float64)
        base = np.round(best / tick)
        px[:, 1:] = to_price(base[:, None] + side * step_ticks * k[None, :], tick)
        deeper = np.asarray(size if deeper_size is None else deeper_size, dtype=np.float64)
        sz[:, 1:] = deeper.reshape(-1, 1) if deeper.ndim else deeper
    return px, sz


def reprs(values: Any) -> pd.Series:
    """Python's shortest exact ``repr`` of each value as a float (it reads back as the same float)."""
    return pd.Series(np.asarray(values, dtype=np.float64)).map(repr)


# ----------------------------------------------------------------------------------------------
# Time
# ----------------------------------------------------------------------------------------------


def local_ns(utc_ns: np.ndarray, timezone: str) -> np.ndarray:
    """Local wall-clock time of UTC instants, as ns since 1970-01-01 00:00 local."""
    idx = pd.DatetimeIndex(np.asarray(utc_ns, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")
    return idx.tz_convert(timezone).tz_localize(None).to_numpy().astype("datetime64[ns]").view(np.int64)


def utc_ns_from_local(local: np.ndarray, timezone: str) -> np.ndarray:
    """UTC ns of local wall-clock ns; nonexistent or ambiguous wall times (DST changes) give
    ``np.iinfo(np.int64).min`` (the caller reports them)."""
    idx = pd.DatetimeIndex(np.asarray(local, dtype=np.int64).view("datetime64[ns]"))
    aware = idx.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return aware.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[ns]").view(np.int64)


def session_utc(option: Any, wall: np.ndarray, timezone: str) -> np.ndarray:
    """UTC ns of the local wall times ``wall`` (any shape) of a ``session`` option; one that does not
    exist or is ambiguous in ``timezone`` (a daylight-saving change) is an option error."""
    utc = utc_ns_from_local(np.ravel(wall), timezone).reshape(np.shape(wall))
    if (utc == np.iinfo(np.int64).min).any():
        raise bad_option("session", option, f"wall-clock times that exist, once, in {timezone} on every day")
    return utc


def utc_ns_of_wall_times(
    src: Any, wall: np.ndarray, lines: np.ndarray, raw: Any, timezone: str, field: str
) -> np.ndarray:
    """:func:`utc_ns_from_local`, a wall time that does not exist or is ambiguous in ``timezone`` an
    error naming its line (``raw``: the times as written, for the message)."""
    ns = utc_ns_from_local(wall, timezone)
    fail_first(ns == np.iinfo(np.int64).min, src, lines, field,
               lambda k: f"local time {reader.excerpt(raw[k])} does not exist or is ambiguous in {timezone}")  # fmt: skip
    return ns


def split_days(day_of: np.ndarray, *others: np.ndarray) -> list[tuple[int, slice, list[slice]]]:
    """The one per-date splitter of the loaders: each run of equal day numbers of ``day_of`` (one per
    row, e.g. the date of each row's clock, in days since the epoch), as ``(day, its rows, the rows of
    that day in each of the sorted arrays others)``."""
    cut = np.flatnonzero(np.diff(day_of)) + 1
    out = []
    for a, b in zip(np.r_[0, cut].tolist(), np.r_[cut, day_of.size].tolist(), strict=True):
        d = int(day_of[a])
        out.append((d, slice(a, b), [slice(*np.searchsorted(x, [d, d + 1]).tolist()) for x in others]))
    return out


def date_str(local_midnight_ns: int) -> str:
    return str(np.datetime64(int(local_midnight_ns), "ns").astype("datetime64[D]"))


def clock_str(local_ns_value: int) -> str:
    """``HH:MM:SS`` (``HH:MM:SS.fff...`` if not whole seconds) of a local wall-clock ns value."""
    tod = int(local_ns_value) % DAY_NS
    s, frac = divmod(tod, NS)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return text + (f".{frac:09d}".rstrip("0") if frac else "")

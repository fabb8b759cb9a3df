"""LOBSTER limit order book files (message + orderbook pairs) into the canonical :class:`MarketDay`.

Format (LOBSTER, https://lobsterdata.com, ``LOBSTER_SampleFiles_ReadMe.txt``)
------------------------------------------------------------------------------
One ticker-day is two headerless CSV files with the same number of rows; orderbook row ``k`` is
the book *after* message ``k``::

    TICKER_YYYY-MM-DD_STARTMS_ENDMS_message_L.csv
    TICKER_YYYY-MM-DD_STARTMS_ENDMS_orderbook_L.csv

``STARTMS``/``ENDMS`` are the session's start and end in milliseconds after midnight (exchange
local time; ``34200000`` is 09:30) and ``L`` (1..50) the number of book levels per side.

Message columns: ``time`` (seconds after midnight, exchange local time, 0 to 9 decimals),
``type`` (1 new limit order, 2 partial cancel, 3 delete, 4 execution of a visible order,
5 execution of a hidden order, 6 cross trade, 7 trading halt), ``order_id``, ``size`` (shares),
``price`` (dollars x 10,000) and ``direction`` (+1 buy limit order, -1 sell limit order; for an
execution, the side of the *resting* order, so the aggressor is the opposite side).

Orderbook columns, per level ``l = 1..L``: ``ask_price_l, ask_size_l, bid_price_l, bid_size_l``.
Unoccupied levels have the dummy prices 9999999999 (ask) / -9999999999 (bid) and size 0.

How the canonical form is built
-------------------------------
* **Books**: from the orderbook file, prices / 10,000, dummy levels -> NaN price / 0 size. A
  level with a real price must have size > 0 and a dummy level size 0 (else an error).
* **Equal timestamps** (option ``same_time``): consecutive messages often share a timestamp
  (AMZN sample: 4,232 of 57,515 rows; AAPL: 109 of 999). ``"last"`` (default) keeps only the
  last orderbook row of each timestamp, which *is* the canonical book row ("the state after
  every event stamped t"); the intermediate rows are states between trades stamped ``t``, and a
  replay that applies every trade at ``t`` before any book row at ``t`` (the simulator does)
  would see them out of order. Every trade is kept. ``"all"`` keeps every row (equal ``ts``),
  for analyses that want the event-by-event book.
* **Trades**: message types 4 (visible) and 5 (hidden) executions: ``size``, ``price / 10,000``
  and aggressor side ``-direction``. Hidden executions may be priced between ticks (midpoint
  orders); ``notes["off_tick_trade_prices"]`` counts them (and ``off_tick_best_quotes`` the
  best quotes off the ``tick_size`` grid). Type 6 cross trades (opening/closing
  auction prints) are *excluded* by default (option ``cross_trades="exclude"``): they are not
  executions against the continuous book, and a replay that fills resting orders from trades
  would fill against an auction print. Their count and volume go to ``notes``.
  ``cross_trades="include"`` keeps them as trades of unknown side (0).
* **Cancellations**: types 2 (partial cancel) and 3 (delete) become ``MarketDay.cancel_*``:
  time, ``price / 10,000``, ``size``, side ``direction`` (+1 bid) and the entry time of the order
  id's latest type-1 submission before it in the same file, else ``UNKNOWN_ENTRY`` (the order
  rested before the file starts; ``notes["cancels_entry_unknown"]`` counts them). Executions
  (types 4, 5) are trades, never cancels. A type 2/3 message of size 0 removes nothing: it is not
  a cancel (``notes["cancels_of_size_0"]``; :func:`write_lobster` labels unchanged rows so). Note
  that the type 2/3 labels :func:`write_lobster` gives book rows load back as cancels of unknown
  entry (they are level decreases, not order events).
* **Halts** (type 7; price -1 halt, 0 quoting resumes, 1 trading resumes) become
  ``MarketDay.halts``, ``[halt, trading resumes)`` intervals in UTC ns; the quoting-resumption
  times and every irregularity (a resume without a halt: halt from the session open; a halt
  never resumed: until the session close; a halt and resume at the same instant: no interval)
  are listed in ``notes["halts"]``. ``halts`` is ``None`` on a day without type-7 messages.
* **Timestamps**: seconds after midnight are read exactly (integer ns, no float rounding) and
  joined with the date of the file name in the exchange time zone (option ``timezone``, default
  ``"America/New_York"``, via :mod:`zoneinfo`); the UTC offset in force at the session open is
  applied to the whole file (US time changes happen on Sundays at 02:00, outside any session).
* **Session**: ``session_open_ns``/``session_close_ns`` are ``STARTMS``/``ENDMS`` of the file
  name. A file may cover only part of it (the AAPL sample stops 49 s after the open):
  ``notes["first_event"]``, ``notes["last_event"]`` and ``notes["session_coverage"]`` say how much.
  With the default time zone ``notes["calendar"]`` is ``"us_equities"`` (09:30-16:00 New York,
  :mod:`exec_env.market.hours`): loading warns when a file's session reaches outside it.
* **Checks** (errors name the file, the 1-based line -- the same in both files -- and the field):
  column count, unparsable values, empty lines (trailing blank lines at the end of a file are
  ignored), event type, direction, negative sizes, executions with size or price <= 0, halt
  messages with a price other than -1/0/1, time going backwards or beyond 24 h, a real price
  with size 0 or a dummy price with size > 0, and crossed or locked books (checked on the rows
  kept). Then :func:`~exec_env.market.data.validate`.
* **Repairs** (default: raise): ``crossed="drop"`` drops crossed/locked book rows (after the
  ``same_time`` reduction; the previous state stays in force) and counts them in
  ``notes["dropped_crossed_rows"]`` / ``notes["dropped_locked_rows"]``.

Options of :func:`load`
-----------------------
============== ====================== ===========================================================
option         default                meaning
============== ====================== ===========================================================
tick_size      0.01                   price tick (US equities); off-tick prices are counted in notes
lot_size       1.0                    trading lot in shares
symbol         None                   instrument name; ``None``: the ticker of the file name
timezone       "America/New_York"     exchange time zone of the times and the file name's session
same_time      "last"                 ``"last"`` or ``"all"`` book rows of equal timestamps
cross_trades   "exclude"              ``"exclude"`` or ``"include"`` (side 0) type-6 cross trades
crossed        "raise"                ``"raise"`` or ``"drop"`` crossed/locked book rows
============== ====================== ===========================================================

Companions
----------
``load`` accepts either file of a pair and reads both (``FileNotFoundError`` if the partner is
missing, ``ValueError`` naming both files and counts if their row counts differ); the day's
``meta.source`` is the message file whichever was passed. ``companions(message)`` is
``[orderbook]`` and ``companions(orderbook)`` is ``[message]``: a folder scan reads the pair once
(from whichever file it meets first), and a change to either file invalidates the parse cache.

Speed and measurements (2 shared cores, one used; ``benchmarks/bench_lobster.py``)
-----------------------------------------------------------------------------------
Both files are read by numba byte parsers (one pass each, no per-row Python; a failing line is
re-read by a careful diagnoser for the error message); the event count (message rows =
orderbook rows) is the unit of the rates below, which include :func:`validate`.

* AMZN 2012-06-21, level 1, 57,515 events (3.7 MB): 53,283 book rows, 11,419 trades (8,974
  visible, 2,445 hidden; 63 hidden executions priced between pennies), no halts, no cross
  trades, never crossed or locked, no empty side; 09:30:00.017 to 15:59:59.959. ``load`` 8 ms
  (about 7 million events/s); ``load_days`` into an empty cache 15 ms, cached 1 ms.
* AAPL 2012-06-21, level 10, 999 events (truncated upstream; the README's "998" is the line
  count of a file without a final newline): 890 book rows, 159 trades (98 visible, 61 hidden);
  09:30:00.004 to 09:30:49.086, i.e. only the first 49 s of the 6.5 h session (0.21%,
  ``notes["session_coverage"]``): pin episodes inside it (``reset(options={"start_ns": ...})``).
  ``load`` about 1.5 ms (fixed costs dominate).
* Level-10 pair of 1.38 million events (381 MB) written by :func:`write_lobster`: ``load``
  0.85-1.05 s (1.3 to 1.6 million events/s; validate is about a third of it); cached 1 ms.
* The first load in a process also loads the compiled parsers from numba's cache (about 0.5 s).

Writer
------
:func:`write_lobster` writes a day as a valid pair (e.g. to export synthetic days); see its
docstring for what round-trips exactly.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numba import njit

from exec_env.market import reader
from exec_env.market.data import MAX_LEVELS, UNKNOWN_ENTRY, MarketDay, MarketMeta, validate
from exec_env.market.lift import DAY_NS, NS
from exec_env.market.reader import (
    POSITIVE,
    check_in,
    check_options,
    check_sorted,
    check_text,
    crossed_rows,
    excerpt,
    field_error,
    first,
    number_problem,
    zone_info,
)

__all__ = ["VERSION", "companions", "load", "parse_name", "sniff", "write_lobster"]

VERSION = 3  # 2: order-level cancellations (cancel_* arrays); 3: calendar and crossed counts in notes

NAME_RE = re.compile(
    r"^(?P<ticker>.+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start_ms>\d+)_(?P<end_ms>\d+)_(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
NAME_PATTERN = "TICKER_YYYY-MM-DD_STARTMS_ENDMS_{message|orderbook}_L.csv"
MESSAGE_FIELDS = ("time", "type", "order_id", "size", "price", "direction")
EVENT_TYPES = {
    1: "new_limit_order",
    2: "partial_cancel",
    3: "delete",
    4: "visible_execution",
    5: "hidden_execution",
    6: "cross_trade",
    7: "trading_halt",
}
DUMMY_ASK = 9_999_999_999
DUMMY_BID = -9_999_999_999
PRICE_SCALE = 10_000
SAME_TIME = ("last", "all")
CROSS_TRADES = ("exclude", "include")
CROSSED_ROWS = ("raise", "drop")

# Parser status codes.
_OK, _COLUMNS, _UNPARSABLE, _EMPTY_LINE, _TOO_MANY, _TOO_FEW, _NEG_SIZE, _DUMMY_SIZE, _ZERO_SIZE, _BAD_PRICE = range(10)


# -- file names ---------------------------------------------------------------------------------
def parse_name(path: str | Path) -> dict[str, Any]:
    """Fields of a LOBSTER file name: ticker, date, start_ms, end_ms, kind, levels.

    ``ValueError`` naming the file and the expected pattern if the name does not fit.
    """
    path = Path(path)
    m = NAME_RE.match(path.name)
    if m is None:
        raise ValueError(f"{path}: file name does not follow the LOBSTER pattern {NAME_PATTERN}")
    out: dict[str, Any] = {**m.groupdict(), **{k: int(m[k]) for k in ("start_ms", "end_ms", "levels")}}
    try:
        dt.date.fromisoformat(out["date"])
    except ValueError:
        raise ValueError(f"{path}: file name field 'date': {excerpt(out['date'])} is not a calendar date") from None
    if not 1 <= out["levels"] <= MAX_LEVELS:
        raise ValueError(f"{path}: file name field 'levels': {out['levels']} is outside 1..{MAX_LEVELS}")
    if not 0 <= out["start_ms"] < out["end_ms"] <= 86_400_000:
        raise ValueError(
            f"{path}: file name fields 'start'/'end': {out['start_ms']}..{out['end_ms']} ms after midnight "
            f"must satisfy 0 <= start < end <= 86400000"
        )
    return out


def _pair(path: Path) -> tuple[Path, Path]:
    """(message, orderbook) of the pair ``path`` belongs to; the partner must exist."""
    kind = parse_name(path)["kind"]
    cut = path.name.rfind(f"_{kind}_")
    other = "orderbook" if kind == "message" else "message"
    partner = path.with_name(f"{path.name[:cut]}_{other}_{path.name[cut + len(kind) + 2 :]}")
    if not partner.is_file():
        raise FileNotFoundError(
            f"{path}: its LOBSTER partner file {partner.name} is missing beside it (a message file is read with its "
            f"orderbook file)"
        )
    return (path, partner) if kind == "message" else (partner, path)


def sniff(path: Path) -> bool:
    """A LOBSTER message or orderbook file, recognised by its name."""
    return NAME_RE.match(Path(path).name) is not None


def companions(path: Path) -> list[Path]:
    """The other file of the pair: the orderbook file of a message file, and vice versa."""
    return [p for p in _pair(Path(path)) if p != Path(path)]


# -- byte parsers ---------------------------------------------------------------------------------
# The fast parsers run over a buffer whose byte at ``end`` is a newline sentinel (see ``_read``), so
# digit loops need no bounds checks; they only find *that* a row is bad. The careful diagnosers
# then re-read that one line to say which field is wrong and why.
_POW10 = np.array([10**i for i in range(10)], dtype=np.int64)


@njit(cache=True, inline="always")
def _fast_digits(buf, pos):
    """The run of decimal digits at ``pos`` (sentinel-terminated): (value, digits, new pos)."""
    start = pos
    val = 0
    while True:
        c = buf[pos]
        if c < 48 or c > 57:
            break
        val = val * 10 + (c - 48)
        pos += 1
    return val, pos - start, pos


@njit(cache=True, inline="always")
def _fast_int(buf, pos, last):
    """Optionally negative integer at ``pos`` (sentinel-terminated) and its separator, a comma or,
    when ``last``, the line end (``\\n`` or ``\\r\\n``): (value, pos after the separator, ok)."""
    neg = buf[pos] == 45  # '-'
    val, nd, pos = _fast_digits(buf, pos + neg)
    pos += last & (buf[pos] == 13)  # branch-free in ``last``: cheaper to compile
    return (-val if neg else val), pos + 1, (nd > 0) & (nd <= 18) & (buf[pos] == 44 - 34 * last)


def _count_lines(buf: np.ndarray, start: int, end: int) -> int:
    """Rows in ``buf[start:end]`` (newlines + 1, or 0 if empty)."""
    return int(np.count_nonzero(buf[start:end] == 10)) + 1 if end > start else 0  # SIMD, unlike a numba loop


@njit(cache=True)
def _fast_messages(buf, end, out):
    """Message rows into ``out`` (rows, 6), time in ns after midnight: (status, rows, bad line start)."""
    n = out.shape[0]
    pos = 0
    row = 0
    while pos < end:
        if row >= n:
            return _TOO_MANY, row, pos
        start = pos
        sec, nd, pos = _fast_digits(buf, pos)
        if not 0 < nd <= 9:
            return _UNPARSABLE, row, start
        frac, nf = 0, 0
        if buf[pos] == 46:  # '.'
            frac, nf, pos = _fast_digits(buf, pos + 1)
            if not 0 < nf <= 9:
                return _UNPARSABLE, row, start
        out[row, 0] = sec * 1_000_000_000 + frac * _POW10[9 - nf]
        if buf[pos] != 44:
            return _UNPARSABLE, row, start
        pos += 1
        for col in range(1, 6):
            val, pos, ok = _fast_int(buf, pos, col == 5)
            if not ok:
                return _UNPARSABLE, row, start
            out[row, col] = val
        row += 1
    return _OK, row, -1


@njit(cache=True)
def _fast_book(buf, end, keep, tick_units, bid_px, bid_sz, ask_px, ask_sz):
    """Orderbook rows; rows with ``keep`` go to the output arrays (prices in dollars, empty levels
    NaN/0). Returns (status, rows, bad line start or end position, off-tick best quotes kept)."""
    levels = bid_px.shape[1]
    nrows = keep.shape[0]
    pos = 0
    k = 0
    off_tick = 0
    for row in range(nrows):
        if pos >= end:
            return _TOO_FEW, row, pos, off_tick
        start = pos
        kept = keep[row]
        for j in range(levels):
            for s in range(2):  # 0 ask, 1 bid
                px, pos, ok = _fast_int(buf, pos, False)
                if not ok:
                    return _UNPARSABLE, row, start, off_tick
                if j == levels - 1 and s == 1:  # constant ``last`` arguments: each call is specialised (faster)
                    sz, pos, ok = _fast_int(buf, pos, True)
                else:
                    sz, pos, ok = _fast_int(buf, pos, False)
                if not ok:
                    return _UNPARSABLE, row, start, off_tick
                empty = px == (DUMMY_ASK if s == 0 else DUMMY_BID)  # an empty level: size 0
                if (sz != 0) if empty else (px <= 0 or sz <= 0):
                    return _UNPARSABLE, row, start, off_tick
                if kept:  # stored by name: picking a tuple of the side's arrays costs about 0.2 s more to compile
                    p, q = (np.nan, 0.0) if empty else (px / 10_000.0, sz)
                    if s == 0:
                        ask_px[k, j], ask_sz[k, j] = p, q
                    else:
                        bid_px[k, j], bid_sz[k, j] = p, q
                    if not empty and j == 0 and tick_units > 0 and px % tick_units != 0:
                        off_tick += 1
        if kept:
            k += 1
    if pos < end:
        return _TOO_MANY, nrows, pos, off_tick
    return _OK, nrows, -1, off_tick


_INT = re.compile(rb"-?[0-9]{1,18}")
_TIME = re.compile(rb"[0-9]{1,9}(\.[0-9]{1,9})?")


def _diagnose_line(raw: bytes, levels: int) -> tuple[int, int]:
    """Why one line (no line break) of a message (``levels`` 0) or orderbook file is bad: (status,
    column; for a wrong column count, the number of columns)."""
    if not raw:
        return _EMPTY_LINE, 0
    fields = raw.split(b",")
    for col, text in enumerate(fields):
        if not (_TIME if not levels and col == 0 else _INT).fullmatch(text):
            return _UNPARSABLE, col
    if len(fields) != (4 * levels or len(MESSAGE_FIELDS)):
        return _COLUMNS, len(fields)
    vals = [int(f) for f in fields]
    for j in range(levels):
        for s, dummy in ((0, DUMMY_ASK), (1, DUMMY_BID)):
            c = 4 * j + 2 * s
            px, sz = vals[c], vals[c + 1]
            if sz < 0:
                return _NEG_SIZE, c + 1
            if px == dummy:
                if sz != 0:
                    return _DUMMY_SIZE, c + 1
            elif px <= 0:
                return _BAD_PRICE, c
            elif sz == 0:
                return _ZERO_SIZE, c + 1
    return _OK, -1


def _read(path: Path) -> tuple[np.ndarray, int]:
    """The file's bytes plus one sentinel byte, and the length without trailing line breaks
    (blank lines at the end of a file are ignored); ``buf[end]`` is set to a newline."""
    buf, end = reader.read_buffer(path)
    while end > 0 and buf[end - 1] in (10, 13):
        end -= 1
    buf[end] = 10
    return buf, end


def _field_name(col: int, levels: int) -> str:
    """The name of column ``col`` of a message (``levels`` 0) or orderbook line."""
    if col >= (4 * levels or len(MESSAGE_FIELDS)):
        return f"column {col + 1}"
    if not levels:
        return MESSAGE_FIELDS[col]
    level, kind = divmod(col, 4)
    return f"{('ask_price', 'ask_size', 'bid_price', 'bid_size')[kind]}_{level + 1}"


def _line_error(path: Path, buf: np.ndarray, start: int, row: int, levels: int) -> ValueError:
    """The error for the bad line starting at ``buf[start]`` (1-based line ``row + 1``) of a message
    (``levels`` 0) or orderbook file. The reader limits a line to ``MAX_LINE_BYTES`` and ``_read``
    ends the text with a newline, so the line ends within that many bytes."""
    raw = bytes(buf[start : start + reader.MAX_LINE_BYTES + 1]).split(b"\n", 1)[0].removesuffix(b"\r")
    status, col = _diagnose_line(raw, levels)
    text = raw.decode("utf-8", errors="replace")
    name = _field_name(col, levels) if col >= 0 else "<line>"  # (no column to blame: not expected)
    parts = [*text.split(","), ""]
    value, before = parts[col] if col >= 0 else "", parts[col - 1] if col > 0 else ""
    if status == _COLUMNS:  # the names: the message file's, or 4 x the level of the file name
        names = [_field_name(c, levels) for c in range(4 * levels or len(MESSAGE_FIELDS))]
        reader.check_columns(path, np.array([col]), np.array([row + 1]), names)
    layout = "seconds after midnight with at most 9 decimals" if name == "time" else "an integer of at most 18 digits"
    problems = {
        _EMPTY_LINE: "empty line",
        _UNPARSABLE: number_problem(value, integer=name != "time") or f"not {layout}: {excerpt(value)}",
        _NEG_SIZE: f"size must be finite and >= 0, got {value}",
        _DUMMY_SIZE: f"size {value} at an empty level (dummy price {before})",
        _ZERO_SIZE: f"size 0 at price {before} (only empty levels, with the dummy price, have size 0)",
        _BAD_PRICE: f"price {value} is not positive (and not the dummy price)",
    }
    return field_error(path, row + 1, name, problems.get(status, f"unreadable line {excerpt(text, 80)}"))


# -- loading ----------------------------------------------------------------------------------------
_RULES = {"tick_size": POSITIVE, "lot_size": POSITIVE, "symbol": check_text, "same_time": SAME_TIME,
          "cross_trades": CROSS_TRADES, "crossed": CROSSED_ROWS}  # fmt: skip
"""The checks of :func:`load`'s options (:func:`reader.check_options`), in order."""


def _midnight_utc_ns(date: str, start_ms: int, zone: ZoneInfo) -> tuple[int, int]:
    """(UTC ns of the local midnight of ``date`` with the offset in force at the open, offset in s)."""
    day = dt.date.fromisoformat(date)
    opening = dt.datetime(day.year, day.month, day.day) + dt.timedelta(milliseconds=start_ms)
    offset = opening.replace(tzinfo=zone).utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    days = (day - dt.date(1970, 1, 1)).days
    return days * DAY_NS - offset_s * NS, offset_s


def _clock(ns_after_midnight: int) -> str:
    s, frac = divmod(int(ns_after_midnight), NS)
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:09d}"


def _read_messages(path: Path) -> np.ndarray:
    """Parse and check the message file: int64 (rows, 6), column 0 in ns after midnight."""
    buf, end = _read(path)
    out = np.empty((len(MESSAGE_FIELDS), _count_lines(buf, 0, end)), dtype=np.int64).T  # columns contiguous
    status, rows, start = _fast_messages(buf, end, out)
    if status != _OK:
        raise _line_error(path, buf, start, rows, 0)
    m = out[:rows]
    tc, yc, oc, sc, pc, dc = m.T  # contiguous columns
    execution = (yc >= 4) & (yc <= 6)
    checks = (  # in the order the errors are reported
        (yc < 1) | (yc > 7),
        (dc != 1) & (dc != -1),
        sc < 0,
        oc < 0,
        tc >= DAY_NS,
        execution & (sc <= 0),
        execution & (pc <= 0),
        ((yc == 2) | (yc == 3)) & (sc > 0) & (pc <= 0),
        (yc == 7) & (pc != -1) & (pc != 0) & (pc != 1),
        np.r_[False, tc[1:] < tc[:-1]],
    )
    c = next((c for c, bad in enumerate(checks) if bad.any()), -1)
    if c < 0:
        return m
    k = first(checks[c])
    t, typ, oid, size, price = m[k, :5]
    if c < 2:  # the reader's wording, from the bad row alone: type (column 1) or direction (5)
        col, allowed = (1, list(EVENT_TYPES)) if c == 0 else (5, [1, -1])
        check_in(path, m[k : k + 1, col], allowed, np.array([k + 1]), MESSAGE_FIELDS[col])
    if c == 9:
        check_sorted(path, m[k - 1 : k + 1, 0], np.array([k, k + 1]), "time")
    field, problem = (
        ("size", f"size must be finite and >= 0, got {size}"),
        ("order_id", f"negative order id {oid}"),
        ("time", f"{t // NS}.{t % NS:09d} s is not within the day (< 86400 s after midnight)"),
        ("size", f"an execution (type {typ}) needs a size > 0, got {size}"),
        ("price", f"an execution (type {typ}) needs a price > 0, got {price}"),
        ("price", f"a cancellation (type {typ}) needs a price > 0, got {price}"),
        ("price", f"a trading halt message (type 7) has price -1, 0 or 1, got {price}"),
    )[c - 2]  # fmt: skip
    raise field_error(path, k + 1, field, problem)


@njit(cache=True)
def _entry_times(m, ts, order, unknown):
    """Per message row: for a cancel in ``order`` (rows of submissions and cancels grouped by order
    id, file order within an id), the time of that id's latest submission before it, else
    ``unknown``."""
    out = np.empty(m.shape[0], dtype=np.int64)  # (np.full: about 0.3 s more to compile)
    for r in range(out.size):
        out[r] = unknown
    last = unknown
    for j in range(order.size):
        r = order[j]
        if j == 0 or m[r, 2] != m[order[j - 1], 2]:
            last = unknown
        if m[r, 1] == 1:
            last = ts[r]
        else:
            out[r] = last
    return out


def _cancels(m: np.ndarray, ts: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Cancellation arrays from types 2 (partial cancel) and 3 (delete), and their message rows.

    The entry time is that of the order id's latest type-1 submission before the cancel in the
    same file, else unknown (the order rested before the file starts)."""
    typ = m[:, 1]
    cancel = ((typ == 2) | (typ == 3)) & (m[:, 3] > 0)  # size 0 removes nothing
    both = np.flatnonzero(cancel | (typ == 1))
    order = both[np.argsort(m[both, 2], kind="stable")]  # by order id, file order within one id
    rows = np.flatnonzero(cancel)
    entry = _entry_times(m, ts, order, UNKNOWN_ENTRY)[rows]
    return {
        "cancel_ts": np.ascontiguousarray(ts[rows]),
        "cancel_px": m[rows, 4] / float(PRICE_SCALE),
        "cancel_sz": m[rows, 3].astype(np.float64),
        "cancel_side": m[rows, 5].astype(np.int8),
        "cancel_entry_ts": entry,
    }, rows


def _halts(
    m: np.ndarray, ts: np.ndarray, open_ns: int, close_ns: int, midnight: int
) -> tuple[np.ndarray | None, list[dict[str, Any]]]:
    """Halt intervals [halt, trading resumes) and their description for the notes."""
    rows = np.flatnonzero(m[:, 1] == 7)
    intervals: list[tuple[int, int]] = []
    notes: list[dict[str, Any]] = []
    start: int | None = None
    current: dict[str, Any] = {}
    for r, t, code in zip(rows.tolist(), ts[rows].tolist(), m[rows, 4].tolist(), strict=True):
        if code == -1:
            if start is None:
                start = t
                current = {"halt": _clock(t - midnight), "halt_row": r + 1}
            else:
                current.setdefault("repeated_halt_rows", []).append(r + 1)
            continue
        if start is None:
            start = min(open_ns, int(ts[0]))
            what = "quoting" if code == 0 else "trading"
            current = {"halt": None, "note": f"{what} resumed without a halt message: halted from the open"}
        if code == 0:
            current["quoting_resumed"] = _clock(t - midnight)
        else:
            current["trading_resumed"] = _clock(t - midnight)
            current["trading_resumed_row"] = r + 1
            if t > start:
                intervals.append((start, t))
            else:
                current["note"] = "halt and resumption at the same instant: no interval"
            notes.append(current)
            start = None
    if start is not None:
        end = max(close_ns, int(ts[-1]) + 1, start + 1)
        current["trading_resumed"] = None
        current["note"] = "trading never resumed in the file: halted until the session close"
        intervals.append((start, end))
        notes.append(current)
    if not rows.size:
        return None, notes
    return np.array(intervals, dtype=np.int64).reshape(-1, 2), notes


def _read_book(msg_path: Path, book_path: Path, keep: np.ndarray, tick_int: int, levels: int) -> tuple:
    """The orderbook file's rows of the kept messages (bid_px, bid_sz, ask_px, ask_sz) and the count of
    best quotes off the tick grid; the file must have one row per message."""
    book = tuple(np.empty((int(keep.sum()), levels)) for _ in range(4))  # bid_px, bid_sz, ask_px, ask_sz
    buf, end = _read(book_path)
    status, rows, pos, off_tick = _fast_book(buf, end, keep, tick_int, *book)
    if status in (_TOO_FEW, _TOO_MANY):
        n_book = rows + _count_lines(buf, pos, end)
        # the orderbook file beside the message file by name: the folder once keeps the message short
        book_name = book_path.name if book_path.parent == msg_path.parent else book_path
        raise ValueError(
            f"{msg_path} has {keep.shape[0]} rows but {book_name} has {n_book} rows; "
            f"orderbook row k must be the book after message k"
        )
    if status != _OK:
        raise _line_error(book_path, buf, pos, rows, levels)
    return book, off_tick


def _tick_units(tick_size: float) -> int:
    """The tick in LOBSTER price units (1e-4 dollars), or 0 when it is not a whole number of them."""
    units = tick_size * PRICE_SCALE
    return round(units) if abs(units - round(units)) < 1e-9 and units >= 1 else 0


def _session(
    info: dict[str, Any], zone: ZoneInfo, t_local: np.ndarray, notes: dict[str, Any]
) -> tuple[int, int, int, np.ndarray]:
    """(UTC ns of local midnight, session open, close) from the file name, the UTC ns of the times
    ``t_local`` (ns after midnight); the coverage notes."""
    midnight, offset_s = _midnight_utc_ns(info["date"], info["start_ms"], zone)
    open_ns, close_ns = midnight + info["start_ms"] * 1_000_000, midnight + info["end_ms"] * 1_000_000
    ts = t_local + midnight
    notes.update(
        utc_offset_s=offset_s,
        first_event=_clock(t_local[0]),
        last_event=_clock(t_local[-1]),
        session=f"{_clock(info['start_ms'] * 1_000_000)}..{_clock(info['end_ms'] * 1_000_000)}",
        session_coverage=round(float(min(ts[-1], close_ns) - max(ts[0], open_ns)) / (close_ns - open_ns), 6),
        events_before_open=int((ts < open_ns).sum()),
        events_after_close=int((ts > close_ns).sum()),
    )
    return midnight, open_ns, close_ns, ts


def _event_notes(m: np.ndarray, ts: np.ndarray, trade_idx: np.ndarray, cancels: dict, halts: Any) -> dict[str, Any]:
    """Counts of the message file: events by type, cross trades, cancellations, trades inside halts."""
    typ, counts = m[:, 1], np.bincount(m[:, 1], minlength=8)
    notes = {
        "events": int(m.shape[0]),
        "event_counts": {name: int(counts[code]) for code, name in EVENT_TYPES.items()},
        "cross_trade_volume": int(m[typ == 6, 3].sum()),
        "cancels": int(cancels["cancel_ts"].size),
        "cancels_entry_unknown": int((cancels["cancel_entry_ts"] == UNKNOWN_ENTRY).sum()),
        "cancels_of_size_0": int((((typ == 2) | (typ == 3)) & (m[:, 3] == 0)).sum()),
    }
    if halts is not None and halts.size:
        tt = ts[trade_idx]
        notes["trades_during_halts"] = int(sum(((tt >= a) & (tt < b)) for a, b in halts).astype(bool).sum())
    return notes


def load(
    path: Path,
    *,
    tick_size: float = 0.01,
    lot_size: float = 1.0,
    symbol: str | None = None,
    timezone: str = "America/New_York",
    same_time: str = "last",
    cross_trades: str = "exclude",
    crossed: str = "raise",
) -> list[MarketDay]:
    """Load a LOBSTER pair (``path`` is either file) as one validated :class:`MarketDay`.

    Options are described in the module docstring. Returns a one-element list.
    """
    check_options({k: v for k, v in locals().items() if k in _RULES}, _RULES)
    zone = zone_info("timezone", timezone)
    info = parse_name(Path(path))
    msg_path, book_path = _pair(Path(path))
    m = _read_messages(msg_path)  # at least one row: the reader refuses a file without text
    notes: dict[str, Any] = {"format": "LOBSTER", "message_file": str(msg_path), "orderbook_file": str(book_path),
                             "levels": info["levels"], "timezone": timezone, "same_time": same_time,
                             "cross_trades": cross_trades}  # fmt: skip
    if timezone == "America/New_York":
        notes["calendar"] = "us_equities"
    midnight, open_ns, close_ns, ts_all = _session(info, zone, m[:, 0], notes)
    keep = np.ones(m.shape[0], dtype=np.bool_)  # the messages that give a book row: all, or the last of each time
    if same_time == "last":
        keep[:-1] = m[1:, 0] != m[:-1, 0]
    notes["book_rows_collapsed_same_time"] = int((~keep).sum())
    tick_int = _tick_units(tick_size)
    book, off_tick = _read_book(msg_path, book_path, keep, tick_int, info["levels"])
    book_idx = np.flatnonzero(keep)  # crossed or locked rows raise, or are dropped (counted in notes)
    ok = crossed_rows(book_path, book_idx + 1, tuple(a[:, 0] for a in book), crossed, notes, "bid_price_1")
    if not ok.all():
        book_idx, book = book_idx[ok], tuple(a[ok] for a in book)
    typ = m[:, 1]
    trade_idx = np.flatnonzero((typ == 4) | (typ == 5) | ((typ == 6) & (cross_trades == "include")))
    tm = m[trade_idx]
    halts, notes["halts"] = _halts(m, ts_all, open_ns, close_ns, midnight)
    cancels, cancel_idx = _cancels(m, ts_all)
    notes.update(_event_notes(m, ts_all, trade_idx, cancels, halts))
    notes["off_tick_trade_prices"] = int((tm[:, 4] % tick_int != 0).sum()) if tick_int else None
    notes["off_tick_best_quotes"] = int(off_tick) if tick_int else None
    meta = MarketMeta(
        symbol=symbol if symbol is not None else info["ticker"], tick_size=float(tick_size), lot_size=float(lot_size),
        session_open_ns=int(open_ns), session_close_ns=int(close_ns), source=str(msg_path), date=info["date"],
        notes=notes,
    )  # fmt: skip
    trades = (ts_all[trade_idx], tm[:, 4] / float(PRICE_SCALE), tm[:, 3], np.where(tm[:, 1] == 6, 0, -tm[:, 5]))
    day = MarketDay.build(meta, (ts_all[book_idx], *book), trades, halts=halts, **cancels)
    lines = {"trade_origin": msg_path, "cancel_origin": msg_path}
    return [validate(day, book_path, book_idx + 1, trade_idx + 1, cancel_idx + 1, **lines)]


# -- writing ----------------------------------------------------------------------------------------
@njit(cache=True)
def _digits(v):
    if v < 0:
        v = -v
    d = 1
    while v >= 10:
        v //= 10
        d += 1
    return d


@njit(cache=True)
def _put_digits(out, pos, v, d):
    """The ``d`` last decimal digits of ``v`` >= 0 at ``out[pos:pos + d]``; the position after them."""
    for q in range(d):
        out[pos + d - 1 - q] = 48 + v % 10
        v //= 10
    return pos + d


@njit(cache=True)
def _format_rows(mat, time_col):
    """CSV bytes of an int64 matrix; ``time_col`` (ns after midnight, or -1) as ``s.fffffffff``."""
    n, ncols = mat.shape
    total = 0
    for i in range(n):
        for j in range(ncols):
            v = mat[i, j]
            if j == time_col:
                total += _digits(v // 1_000_000_000) + 10
            else:
                total += _digits(v) + (1 if v < 0 else 0)
            total += 1  # comma or newline
    out = np.empty(total, dtype=np.uint8)
    pos = 0
    for i in range(n):
        for j in range(ncols):
            v = mat[i, j]
            if j == time_col:
                sec = v // 1_000_000_000
                pos = _put_digits(out, pos, sec, _digits(sec))
                out[pos] = 46
                pos = _put_digits(out, pos + 1, v - sec * 1_000_000_000, 9)
            else:
                if v < 0:
                    out[pos] = 45
                    pos += 1
                    v = -v
                pos = _put_digits(out, pos, v, _digits(v))
            out[pos] = 44 if j < ncols - 1 else 10
            pos += 1
    return out


def _grid_prices(px: np.ndarray, name: str, dummy: int) -> np.ndarray:
    """Prices in units of 1e-4 dollars (NaN -> ``dummy``); ``ValueError`` if off the 1e-4 grid."""
    scaled = px * PRICE_SCALE
    units = np.rint(np.nan_to_num(scaled, nan=0.0))
    off = ~np.isnan(px) & (np.abs(scaled - units) > 1e-6)
    if off.any():
        r = np.argwhere(off)[0]
        raise ValueError(f"write_lobster: field '{name}' {tuple(r.tolist())}: {px[tuple(r)]} is not on the 1e-4 grid")
    out = units.astype(np.int64)
    out[np.isnan(px)] = dummy
    return out


def _whole_sizes(sz: np.ndarray, name: str) -> np.ndarray:
    bad = sz != np.rint(sz)
    if bad.any():
        r = np.argwhere(bad)[0]
        raise ValueError(f"write_lobster: field '{name}' {tuple(r.tolist())}: size {sz[tuple(r)]} is not whole shares")
    return sz.astype(np.int64)


def write_lobster(
    day: MarketDay,
    folder: str | Path,
    ticker: str | None = None,
    date: str | None = None,
    timezone: str = "America/New_York",
) -> tuple[Path, Path]:
    """Write ``day`` as a LOBSTER message + orderbook pair in ``folder``; returns their paths.

    File name: ``ticker`` (default ``meta.symbol``), ``date`` (default ``meta.date``), the session
    open/close in ms after midnight in ``timezone`` and ``L = day.levels``. Messages, in time
    order (at equal times: trades, then halt messages, then book rows):

    * every trade: type 4, its size, price and direction ``-side`` (a trade of unknown side,
      0, cannot be written); its orderbook row is the last book row at or before its time;
    * every halt ``[a, b)``: type 7 with price -1 at ``a`` and price 1 at ``b``;
    * every book row: one message labelled by its first changed level (type 1 if the size
      there grew, 2 if it shrank, 3 if the level emptied; size 0 for an unchanged row). The
      labels are plausible, not a reconstruction: a reader rebuilding the book from messages
      would not obtain the orderbook file, :func:`load` does not need them.

    Prices must lie on the 1e-4 grid and sizes be whole shares (``ValueError`` otherwise).
    Loading the pair back with the defaults reproduces ``ts``, the book, the trades and the halts
    exactly when the book timestamps are distinct and every trade and halt time has a book row at
    that time (days loaded from LOBSTER, synthetic days with ``snapshot_interval_ms=0``); a
    trade or halt at a time without a book row adds a row there repeating the book in force.
    """
    folder = Path(folder)
    stem, date, midnight = _file_stem(day, ticker, date, timezone)
    msg_path = folder / f"{stem}_message_{day.levels}.csv"
    book_path = folder / f"{stem}_orderbook_{day.levels}.csv"
    parse_name(msg_path)  # the name must load back
    book = _book_matrix(day)
    other_ts, other = _trade_and_halt_messages(day)
    ev_ts = np.concatenate([other_ts, np.asarray(day.ts)])
    msgs = np.vstack([other, _book_messages(book)])
    rows = np.concatenate([np.searchsorted(day.ts, other_ts, side="right") - 1, np.arange(day.n_books)])
    if other_ts.size and rows[: other_ts.size].min() < 0:
        raise ValueError(
            "write_lobster: a trade or halt precedes the first book row (each message needs a book after it)"
        )
    order = np.argsort(ev_ts, kind="stable")
    msgs = msgs[order]
    msgs[:, 0] = ev_ts[order] - midnight
    msgs[:, 2] = np.arange(1, msgs.shape[0] + 1)
    if msgs[:, 0].min() < 0 or msgs[:, 0].max() >= DAY_NS:
        raise ValueError(f"write_lobster: some times are not within {date} in {timezone}")
    folder.mkdir(parents=True, exist_ok=True)
    _format_rows(msgs, 0).tofile(msg_path)
    _format_rows(book[rows[order]], -1).tofile(book_path)
    return msg_path, book_path


def _file_stem(day: MarketDay, ticker: str | None, date: str | None, timezone: str) -> tuple[str, str, int]:
    """``TICKER_DATE_STARTMS_ENDMS`` of the day's files, the date and the UTC ns of its local midnight
    (the offset in force at the open)."""
    meta, zone = day.meta, zone_info("timezone", timezone)
    ticker = ticker if ticker is not None else meta.symbol
    if not ticker or any(ch in ticker for ch in "/\\"):
        raise ValueError(f"write_lobster: ticker={ticker!r} must be a non-empty name without path separators")
    date = date or meta.date
    if not date:
        raise ValueError("write_lobster: the day has no meta.date; pass date='YYYY-MM-DD'")
    midnight0 = _midnight_utc_ns(date, 0, zone)[0]
    start_ns, end_ns = meta.session_open_ns - midnight0, meta.session_close_ns - midnight0
    if start_ns % 1_000_000 or end_ns % 1_000_000 or not 0 <= start_ns < end_ns <= DAY_NS:
        raise ValueError(
            f"write_lobster: session {meta.session_open_ns}..{meta.session_close_ns} is not whole milliseconds "
            f"within {date} in {timezone}"
        )
    start_ms, end_ms = start_ns // 1_000_000, end_ns // 1_000_000
    return f"{ticker}_{date}_{start_ms}_{end_ms}", date, _midnight_utc_ns(date, start_ms, zone)[0]


def _book_matrix(day: MarketDay) -> np.ndarray:
    """The orderbook file's rows: ask price, ask size, bid price, bid size of every level (int64)."""
    book = np.empty((day.n_books, 4 * day.levels), dtype=np.int64)
    book[:, 0::4] = _grid_prices(np.asarray(day.ask_px), "ask_px", DUMMY_ASK)
    book[:, 1::4] = _whole_sizes(np.asarray(day.ask_sz), "ask_sz")
    book[:, 2::4] = _grid_prices(np.asarray(day.bid_px), "bid_px", DUMMY_BID)
    book[:, 3::4] = _whole_sizes(np.asarray(day.bid_sz), "bid_sz")
    return book


def _book_messages(book: np.ndarray) -> np.ndarray:
    """One message per book row, labelled by its first changed level (see :func:`write_lobster`)."""
    n = book.shape[0]
    empty = np.zeros(book.shape[1], dtype=np.int64)
    empty[0::4], empty[2::4] = DUMMY_ASK, DUMMY_BID
    prev = np.vstack([empty[None, :], book[:-1]])
    j = (book != prev).argmax(axis=1)
    pcol = 4 * (j // 4) + np.where(j % 4 < 2, 0, 2)
    r = np.arange(n)
    new_p, old_p, new_s, old_s = book[r, pcol], prev[r, pcol], book[r, pcol + 1], prev[r, pcol + 1]
    same = new_p == old_p
    msg = np.empty((n, 6), dtype=np.int64)
    msg[:, 1] = np.where(same, np.where(new_s > old_s, 1, np.where(new_s == 0, 3, 2)), np.where(new_s > 0, 1, 3))
    msg[:, 3] = np.where(same, np.abs(new_s - old_s), np.where(new_s > 0, new_s, old_s))
    msg[:, 4] = np.where(same | (new_s > 0), new_p, old_p)
    msg[:, 5] = np.where(pcol % 4 == 0, -1, 1)
    return msg


def _trade_and_halt_messages(day: MarketDay) -> tuple[np.ndarray, np.ndarray]:
    """Times and messages of the trades (type 4, direction -side) and halts (type 7, price -1 then 1)."""
    side = np.asarray(day.trade_side)
    bad = first(~np.isin(side, (-1, 1)))
    if bad >= 0:
        raise ValueError(f"write_lobster: trade {bad} has side {side[bad]}; LOBSTER needs the aggressor side +1/-1")
    trade_msg = np.zeros((day.n_trades, 6), dtype=np.int64)
    trade_msg[:, 1] = 4
    trade_msg[:, 3] = _whole_sizes(np.asarray(day.trade_sz), "trade_sz")
    trade_msg[:, 4] = _grid_prices(np.asarray(day.trade_px), "trade_px", 0)
    trade_msg[:, 5] = -side
    halts = np.asarray(day.halts if day.halts is not None else np.empty((0, 2), np.int64)).reshape(-1, 2)
    halt_msg = np.zeros((halts.size, 6), dtype=np.int64)
    halt_msg[:, 1] = 7
    halt_msg[:, 4] = np.tile([-1, 1], halts.shape[0])
    halt_msg[:, 5] = -1
    return np.concatenate([np.asarray(day.trade_ts), halts.ravel()]), np.vstack([trade_msg, halt_msg])

"""Databento market data (MBP-1, MBP-10, MBO, trades) from DBN or Databento's CSV export.

Format
------
Databento normalises every venue into fixed records (`schemas`). Each record carries
``ts_recv`` (when Databento's capture server received it, ns since the epoch), ``ts_event``
(the matching engine's time), ``rtype``, ``publisher_id`` (dataset + venue), ``instrument_id``,
``action`` (A add, C cancel, M modify, R clear book, T trade, F fill, N none), ``side``
(B bid/buy, A ask/sell, N none), ``price`` (int64 fixed point, 1 unit = 1e-9; ``UNDEF_PRICE`` =
i64 max when absent), ``size`` and ``flags`` (bits: 0x80 F_LAST last record of an event, 0x40
F_TOB, 0x20 F_SNAPSHOT, 0x10 F_MBP, 0x08 F_BAD_TS_RECV, 0x04 F_MAYBE_BAD_BOOK).

* ``mbp-1`` / ``mbp-10`` (rtype 1 / 10): every book event at the top 1 / 10 price levels, each
  record holding the aggregated book after the event (``bid_px_00``..``bid_px_09``,
  ``ask_px_..``, ``bid_sz_..``, ``ask_sz_..``; an empty level has price UNDEF and size 0). A
  trade record (action T) carries the book *before* the trade and is not F_LAST.
* ``mbo`` (rtype 160): every order event keyed by ``order_id``; the book is rebuilt here.
* ``trades`` (rtype 0): the trade records only; it has no book (see ``trades`` below).

Files: DBN (``.dbn``, ``.dbn.zst``; the header ``DBN`` + version byte + u32 metadata length,
then the metadata, then the records) read with ``databento_dbn`` (metadata, record layouts)
and numpy (records viewed in place, no per-record Python); and the CSV export (a header row with
the record's field names; prices as decimal strings (``pretty_px``) or fixed-point integers;
timestamps ISO-8601 with ``Z`` (``pretty_ts``) or integer ns; an optional trailing ``symbol``
column; ``.csv.zst`` is decompressed). The same data in CSV and DBN load to identical arrays:
decimal prices are parsed exactly to the 1e-9 grid and both paths divide the same integers.

Conventions and assumptions
---------------------------
* Clock: ``ts_recv`` (``clock="ts_recv"``) is the replay clock: it is the index Databento sorts
  its files by, so it is non-decreasing, and it is when the data could first have been acted
  on. ``ts_event`` (the venue's matching-engine time, not necessarily sorted across records,
  and on snapshot records an older reference time, days before) is available with
  ``clock="ts_event"``; a file without a ``ts_recv`` column falls back to ``ts_event`` (noted).
  Records whose clock goes backwards raise (the message names the line or record and the field).
* Book rows: one per record carrying F_LAST (the last record of an event), never in the middle
  of an event, so no half-applied event is ever a snapshot. For MBP the row is the record's own
  levels; for MBO it is the rebuilt book's top ``levels`` levels. Rows keep their own ``ts``;
  several rows can share one timestamp, the last of them being the state after every event
  stamped then (the replay looks up the last row at or before a time). Records after the last
  F_LAST record of the file belong to an unfinished event: they change no row (their count is
  ``notes["records_after_last_F_LAST"]``; trades among them are still trades).
* MBO rebuild (numba), following Databento's reference book: A adds an order (side B/A, price,
  size); C cancels ``size`` of it (partial or full; its side and price must match the order's);
  M sets the order's new price and size (0 removes it); R clears the publisher's book; T, F
  and N leave the book unchanged, because every fill is followed by a C record removing the
  filled size. An unknown order id on C or M, a duplicate id on A, a cancel larger than the
  resting size, an Add on side N or without a price, and top-of-book MBO (F_TOB, IEX/NYSE
  National style) raise, naming the file, line (record) and field (Databento's example turns a Modify of
  an unknown id into an Add; after a snapshot it means lost data, so it raises here). Files
  from Databento start with a
  snapshot (an R record and Adds flagged F_SNAPSHOT | F_BAD_TS_RECV, ts_recv = snapshot time),
  so the book is complete from the snapshot's F_LAST record on.
* Cancellations (MBO only; ``MarketDay.cancel_*``), following each order from its Add: C
  removes ``size`` (a cancel at the order's price and side); M to a smaller size at the same
  price removes the difference and the order keeps its place in the queue; M to another price
  or to a larger size loses the place (CME's priority rule, as in Databento's reference book):
  the whole old order is a cancel at its old level and the order re-enters with the modify's
  time as its entry (``notes["modifies_losing_priority"]``). The size a Fill (F) record took is
  removed by the C or M that follows it: that part is an execution, never a cancel. The entry
  time is the clock of the order's Add, ``UNKNOWN_ENTRY`` for snapshot Adds (F_SNAPSHOT: the
  order rested before the data starts); ``notes["cancels"]``, ``notes["cancels_entry_unknown"]``.
  ESM4 sample: 80 C and 27 M records give 102 cancels (2 C and 3 M remove the 5 fills).
* Trades: the records with action T (MBP and MBO; in MBO the aggressor's record), with
  ``side`` the aggressor: B buyer-initiated +1, A seller-initiated -1, N unknown 0. MBO Fill (F)
  records are the resting orders' side of the same trades: they are *not* trades here (that
  would count the volume twice); their count and volume are in ``notes["fill_records"]`` /
  ``notes["fill_volume"]`` beside ``notes["trade_volume"]``.
* Venue: ``MarketDay.venue`` is the ``publisher_id`` (int16) of each book row when the selected
  instrument's records come from more than one publisher (else ``None`` and the single id is in
  ``notes["publisher_ids"]``). MBO keeps one book per publisher; each row is the book of the
  publisher whose event ended. ``publisher_id=`` keeps one publisher only.
* Instruments: one instrument per MarketDay. ``instrument_id=`` or ``symbol=`` selects one; a
  file holding several instruments without a selection raises, listing them. Symbols come from
  the CSV ``symbol`` column or the DBN metadata's symbology mappings, else the instrument id.
* Prices and sizes: UNDEF_PRICE or a size of 0 make an empty level (NaN price, size 0); a level
  with a size but no price, a negative size and an unparsable value raise. Sizes are in the
  instrument's units (contracts, shares), so ``lot_size`` defaults to 1.
* Crossed or locked books (best bid >= best ask, both sides present) raise by default;
  ``crossed="drop"`` drops those rows and counts them in ``notes["dropped_crossed_rows"]`` (bid >
  ask) and ``notes["dropped_locked_rows"]`` (bid == ask).
* Session: Databento files are cut by request time, not by session (the samples are minutes
  of CME's nearly 24-hour session), so the session defaults to the first and last record times
  of the file (clock of the selected instrument's records), trimmed to the venue's calendar where
  the data implies one (``session="calendar"``, the default; :mod:`exec_env.market.hours`): CME
  Globex (dataset GLBX.MDP3, or publisher 1 in a CSV) equity index futures (ES, NQ, YM, RTY and
  their micros) trade Sunday-Friday 17:00-16:00 America/Chicago with a daily 16:00-17:00 halt.
  The session then opens at the first open instant at or after the first record and closes at
  the last one at or before the last record (a Sunday file from 00:00 UTC opens at the 22:00 or
  23:00 UTC reopen), and the closed stretches between are trading halts (``MarketDay.halts``);
  ``notes["calendar"]`` names the calendar and :mod:`exec_env.market.facts` warns about a session
  reaching into closed hours or a book frozen inside it. A file whose records all lie outside the
  hours (a weekend or holiday snapshot) keeps the records' span, and ``session="records"`` always
  does. A file whose records all share one time gets a 1 ns session, noted.
  ``session_open`` / ``session_close`` (ISO strings, naive meaning UTC, or int ns) override. A
  file spanning more than 24 hours raises unless both are given (one MarketDay per file). Rows
  outside ``[session_open, session_close]`` are kept (the replay uses the last row before the
  start as the initial book). ``meta.date`` is the UTC date of the session's last instant (the
  CME trade date for evening-to-afternoon sessions).
* Tick size: ``tick_size=None`` infers it as the greatest common divisor of the distinct prices
  of the file (every record price and book level, on their decimal grid;
  :func:`exec_env.market.reader.infer_increment`, the rule of every format), e.g. 0.25 for ES;
  fewer than two distinct prices raise. With few distinct prices this can be a multiple of the
  true tick; pass ``tick_size=`` when you know it.
* Trades companion: a Databento trades-schema file holds no book and cannot be a MarketDay on
  its own (loading one raises). Beside a book file it is a companion (same name with ``mbp-1``
  / ``mbp-10`` / ``mbo`` replaced by ``trades``): with ``trades="auto"`` (default) the book
  file's own trade records are used and checked to equal the companion's (a mismatch raises);
  ``trades="records"`` ignores the companion. :func:`read_trades` reads any trades file.

Options of :func:`load` (all keyword): ``instrument_id=None``, ``symbol=None``,
``publisher_id=None``, ``levels=None`` (MBO: 10; MBP: the file's depth, or fewer),
``tick_size=None``, ``lot_size=1.0``, ``session="calendar"`` | ``"records"``, ``session_open=None``,
``session_close=None``,
``crossed="raise"`` | ``"drop"``, ``clock="ts_recv"`` | ``"ts_event"``,
``price_format="auto"`` | ``"decimal"`` | ``"fixed"`` (CSV: auto means decimal if any price
contains a ``.``, else fixed-point integers), ``trades="auto"`` | ``"records"``.
Errors name the CSV line (``line N``, the header is line 1) or, for DBN, the 1-based record
(``record N``), and the field.

Measured on the real samples (CME Globex ES futures, ``../shared/data/databento``)
----------------------------------------------------------------------------------
* ESU4 MBP-1 2024-07-01 23:58 - 07-02 00:02 (CSV and DBN v1, identical arrays): 2,288 records,
  2,168 F_LAST book rows, 120 trades (equal to the trades files' 120, 253 contracts), tick 0.25,
  never crossed or locked, ts_recv sorted. A record at 00:00:00.000000000 flagged
  F_SNAPSHOT | F_BAD_TS_RECV (action A, side N) is Databento's snapshot at the start of each
  UTC day inside the request. 78 rows share their ts_recv with another row. In 99 of the 120
  trade events the T record is received before the event's closing book record (a later
  ts_recv): for those few microseconds the book still shows the liquidity the trade took.
* ESM4 MBO 2024-05-08 00:00:00-00:00:02 (CSV): starts with a Clear and a 13,600-order
  snapshot (ts_recv 00:00:00.000; ts_event 2024-05-05 12:00:04.57 on every snapshot record);
  13,796 records, 185 book rows (equal to a plain-Python rebuild at every row), 5 trades, 5 fills
  of the same 6 contracts; never crossed. 13,598 orders rest at the end.
* ESH4 MBO 2023-12-24 (DBN v1): only a snapshot (8,725 Adds, *without* the Clear record that
  Databento's documentation puts first, all at 13:00:05.718 UTC on the Christmas Eve holiday
  when the market was closed): one book row, no trades, a 1 ns session (nothing to replay).
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from exec_env.market import hours, reader
from exec_env.market.crypto import Book, reset_book, set_level, write_side
from exec_env.market.data import MAX_LEVELS, UNKNOWN_ENTRY, MarketDay, MarketMeta, validate
from exec_env.market.lift import parse_times
from exec_env.market.reader import (
    POSITIVE,
    POSITIVE_OR_NONE,
    bad_option,
    check_choice,
    check_in,
    check_min,
    check_options,
    check_sorted,
    crossed_rows,
    excerpt,
    fail_first,
    field_error,
    first,
    first_places,
    increment,
    number_problem,
    pick,
)

__all__ = [
    "F_BAD_TS_RECV",
    "F_LAST",
    "F_MAYBE_BAD_BOOK",
    "F_SNAPSHOT",
    "F_TOB",
    "UNDEF_PRICE",
    "VERSION",
    "companions",
    "load",
    "read_trades",
    "sniff",
    "write_databento",
]

VERSION = 3  # 2: order-level cancellations from MBO (cancel_* arrays); 3: calendar session, locked rows apart
UNDEF_PRICE = 2**63 - 1
F_LAST = 0x80
F_TOB = 0x40
F_SNAPSHOT = 0x20
F_MBP = 0x10
F_BAD_TS_RECV = 0x08
F_MAYBE_BAD_BOOK = 0x04
_SCALE = 1_000_000_000
_EXTRA = "pip install 'exec_env[databento]'"

_RTYPE_SCHEMA = {160: "mbo", 1: "mbp-1", 10: "mbp-10", 0: "trades"}
_SCHEMA_RTYPE = {v: k for k, v in _RTYPE_SCHEMA.items()}
_DBN_CLASS = {160: "MBOMsg", 1: "MBP1Msg", 10: "MBP10Msg", 0: "TradeMsg"}
_CSV_KEYS = {"ts_event", "rtype", "publisher_id", "instrument_id"}
_CODES = {"action": b"ACMRTFN", "side": b"BAN"}  # the ASCII code fields and their values
_KNOWN = {name: np.isin(np.arange(256), np.frombuffer(codes, dtype=np.uint8)) for name, codes in _CODES.items()}
"""Per code field, whether each byte value is one of its codes (a lookup, not a sort per file)."""
_FIELDS = ("publisher_id", "instrument_id", "action", "side", "price", "size", "flags")  # in _Records order
_SCHEMA_TOKEN = re.compile(r"(?<=[_.\-])(mbp-10|mbp-1|mbo)(?=[_.\-])", re.IGNORECASE)

_A, _C, _M, _R, _T, _F, _N = (ord(c) for c in "ACMRTFN")
_BID, _ASK = ord("B"), ord("A")


# ---------------------------------------------------------------------------------------------
# Raw bytes, sniffing, companions
# ---------------------------------------------------------------------------------------------
def sniff(path: Path) -> bool:
    """DBN by its magic bytes ``DBN`` (after zstd decompression), CSV by its header columns."""
    head = reader.head_bytes(Path(path), 4096, text=False)  # b"" when unreadable
    if head[:3] == b"DBN":
        return True
    line = head.split(b"\n", 1)[0].strip().decode("utf-8", errors="replace")
    return _CSV_KEYS <= set(line.split(","))


def companions(path: Path) -> list[Path]:
    """The trades-schema file beside a book file (``..mbp-1..`` -> ``..trades..``), if present."""
    path = Path(path)
    other = path.parent / _SCHEMA_TOKEN.sub("trades", path.name, count=1)  # unchanged without a schema token
    return [other] if other != path and other.is_file() else []


# ---------------------------------------------------------------------------------------------
# Records: the columns both readers produce
# ---------------------------------------------------------------------------------------------
@dataclass
class _Records:
    path: Path
    encoding: str  # "csv" or "dbn"
    schema: str
    clock_name: str
    clock: np.ndarray  # int64 ns
    publisher_id: np.ndarray  # int64
    instrument_id: np.ndarray  # int64
    action: np.ndarray  # uint8 ASCII
    side: np.ndarray  # uint8 ASCII
    price: np.ndarray  # int64 fixed 1e-9, UNDEF_PRICE when absent
    size: np.ndarray  # int64
    flags: np.ndarray  # int64
    rows: np.ndarray  # int64: CSV line number or DBN record number
    order_id: np.ndarray | None = None  # int64 (uint64 bits)
    book: dict[str, np.ndarray] | None = None  # bid_px/ask_px/bid_sz/ask_sz (n, depth) int64
    symbols: dict[int, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """How places are named: CSV lines, DBN records."""
        return "line" if self.encoding == "csv" else "record"

    def take(self, mask: np.ndarray) -> _Records:
        """The records where ``mask`` is True: every array field cut, and the book levels."""
        cut = {k: v[mask] for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        return replace(self, **cut, book=None if self.book is None else {k: v[mask] for k, v in self.book.items()})

    def check(self, bad: np.ndarray, name: str, problem: Any) -> None:
        fail_first(bad, self.path, self.rows, name, problem, self.unit)


def _records(
    path: Path, encoding: str, schema: str, clock: str, rows: np.ndarray, column: Any, **extra: Any
) -> _Records:
    """The records of a file, both readers' last step: ``column(name)`` gives the values of the record
    field ``name`` (int64; ASCII codes for action and side). MBO records add the order ids; MBP
    records the ``(n, depth)`` book levels ``bid_px``, ``bid_sz``, ``ask_px``, ``ask_sz`` of the
    fields ``<side>_<px|sz>_<jj>``."""
    rec = _Records(path, encoding, schema, clock, column(clock), *map(column, _FIELDS), rows, **extra)
    if schema == "mbo":
        rec.order_id = column("order_id")
    elif schema != "trades":
        depth = int(schema.split("-")[1])
        sides = ("bid_px", "bid_sz", "ask_px", "ask_sz")
        rec.book = {k: np.column_stack([column(f"{k}_{j:02d}") for j in range(depth)]) for k in sides}
    return rec


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
def _parse_int(path: Path, rows: np.ndarray, name: str, col: pd.Series, lo: int | None = None) -> np.ndarray:
    num = pd.to_numeric(col, errors="coerce")
    if num.dtype.kind not in "iu":
        ok = col.str.fullmatch(r"-?\d+").fillna(False).to_numpy(dtype=bool)
        fail_first(
            ~ok,
            path,
            rows,
            name,
            lambda k: number_problem(col.iloc[k], True) or f"not an integer: {excerpt(col.iloc[k])}",
        )
    out = num.to_numpy().astype(np.int64, copy=False)  # uint64 (order ids) wraps to its int64 bits
    if lo is not None:
        check_min(path, out, rows, name, "size" if "sz" in name or name == "size" else "value", lo)
    return out


@njit(cache=True)
def _decimal_to_fixed(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Parse ASCII rows ``-?digits(.digits{0,9})?`` (NUL-padded) exactly to 1e-9 fixed point.

    Empty rows give UNDEF_PRICE; the second array flags the rows that do not parse.
    """
    n, width = chars.shape
    out = np.empty(n, dtype=np.int64)
    ok = np.ones(n, dtype=np.bool_)
    for r in range(n):
        if width == 0 or chars[r, 0] == 0:
            out[r] = 9223372036854775807
            continue
        neg = chars[r, 0] == 45
        j = 1 if neg else 0
        whole = np.int64(0)
        n_whole = 0
        while j < width and 48 <= chars[r, j] <= 57:
            whole = whole * 10 + (chars[r, j] - 48)
            n_whole += 1
            j += 1
        frac = np.int64(0)
        n_frac = 0
        if j < width and chars[r, j] == 46:
            j += 1
            while j < width and 48 <= chars[r, j] <= 57:
                frac = frac * 10 + (chars[r, j] - 48)
                n_frac += 1
                j += 1
        bad = n_whole == 0 or n_whole > 10 or whole > 9_223_372_035 or n_frac > 9
        if bad or (j < width and chars[r, j] != 0):
            ok[r] = False
            out[r] = 0
            continue
        for _ in range(9 - n_frac):
            frac *= 10
        value = whole * 1_000_000_000 + frac
        out[r] = -value if neg else value
    return out, ok


def _parse_price(path: Path, rows: np.ndarray, name: str, col: pd.Series, fmt: str) -> np.ndarray:
    if fmt == "fixed":
        empty = (col == "").to_numpy(dtype=bool)
        out = np.full(len(col), UNDEF_PRICE, dtype=np.int64)
        out[~empty] = _parse_int(path, rows[~empty], name, col[~empty])
        return out
    values = col.to_numpy(dtype=object)
    problem = lambda k: number_problem(values[k]) or f"not a decimal price of at most 9 decimals: {excerpt(values[k])}"  # noqa: E731
    try:
        raw = values.astype(np.bytes_)
    except UnicodeEncodeError:
        fail_first(np.array([not v.isascii() for v in values], dtype=bool), path, rows, name, problem)
    chars = raw.view(np.uint8).reshape(len(values), raw.dtype.itemsize)
    out, ok = _decimal_to_fixed(chars)
    fail_first(~ok, path, rows, name, problem)
    return out


def _parse_ts(path: Path, rows: np.ndarray, name: str, col: pd.Series) -> np.ndarray:
    first = col.iloc[0] if len(col) else ""
    if "T" in first or "-" in first[1:]:  # ISO-8601 (pretty_ts), naive meaning UTC
        return parse_times(path, col, rows, ["ISO8601"], True, "UTC", name)
    return _parse_int(path, rows, name, col, lo=0)


def _parse_char(path: Path, rows: np.ndarray, name: str, col: pd.Series, allowed: bytes) -> np.ndarray:
    text = col.to_numpy(dtype=str)
    check_in(path, text, list(allowed.decode()), rows, name)
    return np.ascontiguousarray(text, dtype="U1").view(np.uint32).astype(np.uint8)  # one ASCII code each (checked)


def _csv_frame(path: Path) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """The header, the data lines' numbers and the values (strings) of a Databento CSV export."""
    data, header, fields = reader.csv_text(path)
    rows = np.arange(2, fields.size + 1)
    if b'"' not in data:  # a quoted field may hold commas: the CSV parser's row count is checked below
        reader.check_columns(path, fields[1:], rows, header)
    if rows.size == 0:
        raise field_error(path, 2, header[0], "no data rows after the header line")
    clock = "ts_event" if "ts_event" in header else "ts_recv"  # either clock will do
    required = (clock, "rtype", "publisher_id", "instrument_id", "action", "side", "price", "size", "flags")
    missing = [c for c in required if c not in header]
    if missing:
        raise field_error(path, 1, missing[0], f"missing column; the header has {excerpt(', '.join(header), 120)}")
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False, engine="c")
    except pd.errors.ParserError as exc:
        if "EOF inside string" in str(exc):  # a field runs to the end: the file's last quote opens it
            raise reader.unclosed_quote(path, data, header, start=max(data.rfind(b'"'), 0)) from None
        m = re.search(r"line (\d+), saw (\d+)", str(exc))
        raise field_error(
            path, int(m.group(1)) if m else None, "<columns>", f"malformed CSV ({excerpt(str(exc).strip(), 80)})"
        ) from None
    if len(df) != rows.size:
        raise ValueError(f"{path}: the CSV parser found {len(df)} data rows, the file has {rows.size} data lines")
    dupes = [h for k, h in enumerate(header) if h in header[:k]]
    if dupes:  # the CSV parser would rename the second one and the first would be read
        raise field_error(path, 1, dupes[0], "column appears more than once in the header")
    quoted = [h for h in header if '"' in h]
    if quoted and list(df.columns) != header:  # the quotes joined names across commas
        raise field_error(
            path, 1, quoted[0], f"a quoted column name; the header reads as {len(df.columns)} names, not {len(header)}"
        )
    return header, rows, df


def _csv_schema(path: Path, header: list[str]) -> str:
    if "order_id" in header:
        return "mbo"
    depth = 0
    while f"bid_px_{depth:02d}" in header:
        depth += 1
    if depth not in (0, 1, 10):
        raise field_error(path, 1, "bid_px_00", f"a book of {depth} levels is not a Databento schema (mbp-1, mbp-10)")
    for name in ("bid_sz", "ask_px", "ask_sz"):
        missing = [f"{name}_{j:02d}" for j in range(depth) if f"{name}_{j:02d}" not in header]
        if missing:
            raise field_error(path, 1, missing[0], f"missing column (the header has bid_px_00..bid_px_{depth - 1:02d})")
    return "trades" if depth == 0 else f"mbp-{depth}"


def _read_csv(path: Path, clock: str, price_format: str) -> _Records:
    header, rows, df = _csv_frame(path)
    schema = _csv_schema(path, header)
    if clock not in header and clock == "ts_event":  # the default clock (ts_recv) alone falls back
        raise field_error(
            path, 1, clock, f"missing column (clock='ts_event'); the header has {excerpt(', '.join(header), 120)}"
        )
    clock_name = clock if clock in header else "ts_event"
    notes: dict[str, Any] = {}
    if clock_name != clock:
        notes["clock_fallback"] = f"the file has no '{clock}' column: ts_event is the clock"
    price_cols = ["price"] + [c for c in header if c.startswith(("bid_px_", "ask_px_"))]
    if price_format == "auto":
        dotted = any(df[c].str.contains(".", regex=False).any() for c in price_cols)
        price_format = "decimal" if dotted else "fixed"
    notes["price_format"] = price_format
    ints = {c: _parse_int(path, rows, c, df[c], lo=None if c == "rtype" else 0)
            for c in ("rtype", "publisher_id", "instrument_id", "size", "flags")}  # fmt: skip
    want = _SCHEMA_RTYPE[schema]
    rtype = ints["rtype"]
    fail_first(rtype != want, path, rows, "rtype", lambda k: f"rtype {rtype[k]} in a {schema} file (expected {want})")
    fail_first(ints["flags"] > 255, path, rows, "flags", lambda k: f"flags {ints['flags'][k]} do not fit in 8 bits")

    def column(name: str) -> np.ndarray:
        """The values of field ``name``, parsed as what it holds."""
        if name in ints:
            return ints[name]
        if name == clock_name:
            return _parse_ts(path, rows, name, df[name])
        if name in _CODES:
            return _parse_char(path, rows, name, df[name], _CODES[name])
        if name in price_cols:
            return _parse_price(path, rows, name, df[name], price_format)
        return _parse_int(path, rows, name, df[name], lo=None if name == "order_id" else 0)

    rec = _records(path, "csv", schema, clock_name, rows.astype(np.int64), column, notes=notes)
    if "symbol" in header:
        pairs = pd.DataFrame({"i": rec.instrument_id, "s": df["symbol"].to_numpy(dtype=object)}).drop_duplicates("i")
        rec.symbols = {int(i): str(s) for i, s in zip(pairs["i"], pairs["s"], strict=True) if s}
    return rec


# ---------------------------------------------------------------------------------------------
# DBN
# ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _record_offsets(body: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    n = body.size
    out = np.empty(n // 4 + 1, dtype=np.int64)
    k = 0
    pos = 0
    while pos < n:
        length = np.int64(body[pos]) * 4
        if length == 0:
            return out[:0] - 1  # signals corruption
        out[k] = pos
        k += 1
        pos += length
    if pos != n:
        return out[:0] - 1
    return out[:k]


@njit(cache=True)
def _gather(body: np.ndarray, offsets: np.ndarray, itemsize: int) -> np.ndarray:  # pragma: no cover - numba
    """The ``itemsize`` bytes at each offset, back to back (no index array: a large file stays cheap)."""
    out = np.empty(offsets.size * itemsize, dtype=np.uint8)
    for k in range(offsets.size):
        o = offsets[k]
        for b in range(itemsize):  # a loop: an array slice assignment compiles numba's shape-error text
            out[k * itemsize + b] = body[o + b]
    return out


def _dbn_symbols(meta: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    mappings = getattr(meta, "mappings", None) or {}
    for key, intervals in mappings.items():
        for iv in intervals:
            sym = iv["symbol"] if isinstance(iv, dict) else getattr(iv, "symbol", "")
            with contextlib.suppress(TypeError, ValueError):  # a symbol that is not an instrument id
                out.setdefault(int(sym), str(key))
    return out


def _dbn_stream(path: Path) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """A DBN file's metadata (decoded by ``databento_dbn``), its record bytes and notes."""
    try:
        import databento_dbn
    except ImportError as exc:
        raise ImportError(f"{path}: reading DBN files needs the 'databento-dbn' package: {_EXTRA}") from exc
    raw = reader.decompress(path)
    if raw[:3] != b"DBN" or len(raw) < 8:
        raise ValueError(f"{path}: not a DBN stream (no 'DBN' magic bytes after decompression)")
    start = 8 + struct.unpack_from("<I", raw, 4)[0]
    if start > len(raw):
        raise ValueError(f"{path}: DBN metadata length {start - 8} runs past the end of the file ({len(raw)} bytes)")
    decoder = databento_dbn.DBNDecoder()
    try:
        decoder.write(raw[:start])
        meta = decoder.decode()[0]
    except (databento_dbn.DBNError, IndexError) as exc:
        raise field_error(path, None, "metadata", f"cannot be decoded ({excerpt(str(exc), 100)})") from None
    body = np.frombuffer(raw, dtype=np.uint8, offset=start)
    if body.size == 0:
        raise ValueError(f"{path}: the DBN file holds no records")
    return meta, body, {"dbn_version": int(raw[3]), "dataset": str(meta.dataset)}


def _dbn_rtype(path: Path, meta: Any, rtypes: np.ndarray) -> int:
    """The book or trade rtype of the file: its metadata's schema, else the only one present."""
    if meta.schema is not None:
        name = str(meta.schema.name).lower().replace("_", "-")
        if name not in _SCHEMA_RTYPE:
            raise ValueError(f"{path}: DBN schema {name!r} is not supported (supported: {', '.join(_SCHEMA_RTYPE)})")
        return _SCHEMA_RTYPE[name]
    present = sorted({int(r) for r in np.unique(rtypes)} & set(_RTYPE_SCHEMA))
    if len(present) != 1:
        raise ValueError(f"{path}: mixed-schema DBN file with book/trade rtypes {present}; expected exactly one")
    return present[0]


def _dbn_offsets(path: Path, body: np.ndarray) -> tuple[np.ndarray, int]:
    """The start of every record, and their common length in bytes (0 when they differ)."""
    size0 = int(body[0]) * 4
    uniform = size0 > 0 and body.size % size0 == 0 and bool(np.all(body[::size0] == body[0]))
    offsets = np.arange(0, body.size, size0, dtype=np.int64) if uniform else _record_offsets(body)
    if offsets.size == 0 or offsets[0] < 0:
        raise ValueError(f"{path}: corrupt DBN record stream (record lengths do not add up to the file size)")
    return offsets, size0 if uniform else 0


def _dbn_array(path: Path, body: np.ndarray, offsets: np.ndarray, stride: int, sel: np.ndarray, dtype: np.dtype,
               schema: str) -> tuple:  # fmt: skip
    """The selected records viewed as ``dtype`` (in place when all are, each of one length ``stride``)
    and their 1-based record numbers."""
    record_no, off = np.flatnonzero(sel) + 1, offsets[sel]
    lengths = body[off].astype(np.int64) * 4
    fail_first(lengths < dtype.itemsize, path, record_no, "length",
               lambda k: f"record of {lengths[k]} bytes, a {schema} record has {dtype.itemsize}", "record")  # fmt: skip
    if stride:  # every record in place; the selected ones copied out only when some are not
        arr = np.ndarray(shape=(offsets.size,), dtype=dtype, buffer=body, offset=0, strides=(stride,))
        return (arr if off.size == offsets.size else arr[sel]), record_no
    return _gather(body, off, dtype.itemsize).view(dtype), record_no


def _read_dbn(path: Path, clock: str) -> _Records:
    meta, body, notes = _dbn_stream(path)  # first: a missing databento_dbn is an error naming the extra
    import databento_dbn

    offsets, stride = _dbn_offsets(path, body)
    rtypes = body[offsets + 1].astype(np.int64)
    want = _dbn_rtype(path, meta, rtypes)
    if (rtypes != want).any():
        vals, counts = np.unique(rtypes[rtypes != want], return_counts=True)
        notes["excluded_records"] = {f"rtype {int(v)}": int(c) for v, c in zip(vals, counts, strict=True)}
    dtype = np.dtype(getattr(databento_dbn, _DBN_CLASS[want])._dtypes)
    arr, record_no = _dbn_array(path, body, offsets, stride, rtypes == want, dtype, _RTYPE_SCHEMA[want])
    if clock not in dtype.names:
        raise ValueError(f"{path}: DBN records have no field {clock!r}")

    def column(name: str) -> np.ndarray:
        """The values of field ``name`` as int64 (unsigned ones: their bits), ASCII codes as bytes."""
        return arr[name].view(np.uint8).copy() if name in _CODES else arr[name].astype(np.int64)

    rec = _records(path, "dbn", _RTYPE_SCHEMA[want], clock, record_no.astype(np.int64), column, notes=notes)
    rec.symbols = _dbn_symbols(meta)
    rec.check(rec.clock == -1, clock, "undefined timestamp (UNDEF_TIMESTAMP)")  # 2**64 - 1 as uint64
    for name, allowed in _CODES.items():
        codes = getattr(rec, name)
        rec.check(~_KNOWN[name][codes], name,
                  lambda k: f"{bytes([codes[k]])!r} is not one of {', '.join(allowed.decode())}")  # noqa: B023  # fmt: skip
    return rec


def _read(path: Path, clock: str, price_format: str) -> _Records:
    head = reader.head_bytes(path, 8, text=False)
    if head[:3] == b"DBN":
        return _read_dbn(path, clock)
    return _read_csv(path, clock, price_format)


# ---------------------------------------------------------------------------------------------
# MBO rebuild (numba)
# ---------------------------------------------------------------------------------------------
# Error codes of _rebuild_mbo (0: no error).
_E_CANCEL_UNKNOWN, _E_DUPLICATE_ADD, _E_CANCEL_TOO_LARGE, _E_SIDE_MISMATCH, _E_PRICE_MISMATCH = range(1, 6)
_E_MODIFY_UNKNOWN, _E_ADD_SIDE, _E_NO_PRICE, _E_TOB, _E_ADD_SIZE, _E_LEVEL = range(6, 12)


@njit(cache=True, inline="always")
def _change(bid_q, ask_q, st, s, r, delta):  # pragma: no cover - numba
    """Add ``delta`` to the level at index ``r`` of the price grid on side ``s`` (0 bid, 1 ask) of the
    book ``bid_q``, ``ask_q``, ``st`` (:func:`exec_env.market.crypto.rebuild_book`'s book); False (and
    no change) if the level would go below 0."""
    q = (bid_q if s == 0 else ask_q)[r] + delta
    if q < 0:
        return False
    set_level(s, r, q, bid_q, ask_q, st, bid_q.shape[0])
    return True


@njit(cache=True, inline="always")
def _mbo_add(rec, orders, gen, bid_q, ask_q, st):  # pragma: no cover - numba
    """An Add record (``rec``: its values, see :func:`_rebuild_mbo`): its error code, or 0."""
    _, side, price, size, key, flags, clock, rank = rec
    if flags & 0x40:
        return _E_TOB
    if side != _BID and side != _ASK:
        return _E_ADD_SIDE
    if price == UNDEF_PRICE:
        return _E_NO_PRICE
    if size <= 0:
        return _E_ADD_SIZE
    if orders[key, 0] == gen:
        return _E_DUPLICATE_ADD
    entry = UNKNOWN_ENTRY if flags & F_SNAPSHOT else clock  # a snapshot order rested before the data
    orders[key, 0], orders[key, 1], orders[key, 2], orders[key, 3], orders[key, 4] = gen, side, price, size, entry
    orders[key, 5] = rank
    return 0 if _change(bid_q, ask_q, st, 0 if side == _BID else 1, rank, size) else _E_LEVEL


@njit(cache=True, inline="always")
def _take_fill(pending, key, gen, removed):  # pragma: no cover - numba
    """The part of ``removed`` that is the book side of an earlier Fill of order ``key``."""
    if pending[key, 0] != gen:
        return 0
    filled = min(pending[key, 1], removed)
    pending[key, 1] -= filled
    return filled


@njit(cache=True, inline="always")
def _mbo_cancel_modify(i, rec, orders, pending, gen, bid_q, ask_q, st, cancels, cnt):  # pragma: no cover - numba
    """A Cancel (``size`` of the order) or Modify (new price and size) record ``i`` (``rec``: its
    values): (error code, detail for the message). The size it takes from the order's place in the
    queue, less what an earlier Fill of the order took (``pending``), is a cancellation: row
    ``cnt[0]`` of ``cancels``; ``cnt[1]`` counts the Modify records that lose the order's place."""
    a, side, price, size, key, _, clock, rank = rec
    if orders[key, 0] != gen:
        return _E_CANCEL_UNKNOWN if a == _C else _E_MODIFY_UNKNOWN, 0
    os_, op, osz, entry, o_rank = orders[key, 1], orders[key, 2], orders[key, 3], orders[key, 4], orders[key, 5]
    if (side == _BID or side == _ASK) and side != os_:
        return _E_SIDE_MISMATCH, os_
    s = 0 if os_ == _BID else 1
    if a == _C:
        if price != UNDEF_PRICE and price != op:
            return _E_PRICE_MISMATCH, op
        if size > osz:
            return _E_CANCEL_TOO_LARGE, osz
        removed, new_p, new_q, new_entry, new_rank = size, op, osz - size, entry, o_rank
        ok = _change(bid_q, ask_q, st, s, o_rank, -size)
    else:
        if price == UNDEF_PRICE:
            return _E_NO_PRICE, 0
        ok = _change(bid_q, ask_q, st, s, o_rank, -osz) and _change(bid_q, ask_q, st, s, rank, size)
        moved = price != op or size > osz  # to the back of a queue (CME's priority rule)
        removed, new_p, new_q, new_rank = osz if moved else osz - size, price, size, rank
        new_entry = clock if moved else entry
        cnt[1] += moved
    gone = removed - _take_fill(pending, key, gen, removed)
    if gone > 0:
        k = cnt[0]
        cancels[k, 0], cancels[k, 1], cancels[k, 2], cancels[k, 3], cancels[k, 4] = i, op, gone, os_, entry
        cnt[0] += 1
    if new_q > 0:
        orders[key, 2], orders[key, 3], orders[key, 4], orders[key, 5] = new_p, new_q, new_entry, new_rank
    else:
        orders[key, 0] = 0
        pending[key, 0] = 0
    return 0 if ok else _E_LEVEL, 0


@njit(cache=True)
def _rebuild_mbo(r, n_keys, grid, levels):  # pragma: no cover - numba
    """One publisher's book rebuilt from its MBO records ``r`` = (action, side, price, size, order key,
    flags, clock, index of the price on ``grid``) on the price ``grid`` (every price of the records),
    a row of its best ``levels`` at each F_LAST record (empty levels NaN / 0), and its cancellations
    (record index, price, size, side B/A, entry time): (bid_px, bid_sz, ask_px, ask_sz, record of
    each row, error code, record index, detail, cancellations, Modify records losing priority); on
    success the code is 0 and the detail the orders resting at the end. The loop reads arrays, not
    the tuple ``r`` (each array taken out of a tuple costs reference count updates).

    Order ids are keys ``0..n_keys-1`` (the caller numbers the distinct ids): the resting orders are
    rows of ``orders`` (generation, side, price, size, entry time, grid index) and the filled sizes
    a C or M removes next rows of ``pending`` (generation, size). A row is live while its generation
    is the current one, which each Clear (R) increments. Arrays, not numba's typed dicts, and no
    np.searchsorted or np.count_nonzero here: each costs seconds of compile time on first use."""
    action, side, price, size, oid, flags, clock, rank = r
    n_emit = 0
    for i in range(flags.size):
        n_emit += (flags[i] & F_LAST) != 0
    bpx, bsz, apx, asz = (np.empty((n_emit, levels)), np.empty((n_emit, levels)), np.empty((n_emit, levels)),
                          np.empty((n_emit, levels)))  # fmt: skip
    emit = np.empty(n_emit, dtype=np.int64)
    orders, pending, gen = np.zeros((n_keys, 6), dtype=np.int64), np.zeros((n_keys, 2), dtype=np.int64), 1
    cancels, cnt = np.empty((action.size, 5), dtype=np.int64), np.zeros(2, dtype=np.int64)
    bid_q, ask_q = np.zeros(grid.shape[0]), np.zeros(grid.shape[0])
    st = np.array([-1, grid.shape[0], 0, 0], dtype=np.int64)  # crypto.rebuild_book's book state
    e = 0
    for i in range(action.size):
        a = action[i]
        rec = (a, side[i], price[i], size[i], oid[i], flags[i], clock[i], rank[i])
        code, detail = 0, 0
        if a == _A:
            code = _mbo_add(rec, orders, gen, bid_q, ask_q, st)
        elif a == _C or a == _M:
            code, detail = _mbo_cancel_modify(i, rec, orders, pending, gen, bid_q, ask_q, st, cancels, cnt)
        elif a == _F and orders[oid[i], 0] == gen:  # the resting order's fill; the C or M removing it follows
            k = oid[i]
            pending[k, 1] = (pending[k, 1] if pending[k, 0] == gen else 0) + size[i]
            pending[k, 0] = gen
        elif a == _R:
            gen += 1
            reset_book(bid_q, ask_q, st)
        # T, N: no change to the book
        if code:
            return bpx, bsz, apx, asz, emit, code, i, detail, cancels[:0], 0
        if flags[i] & F_LAST:
            write_side(e, grid, bid_q, st[0], st[2], -1, bpx, bsz)
            write_side(e, grid, ask_q, st[1], st[3], 1, apx, asz)
            emit[e] = i
            e += 1
    resting = 0
    for k in range(n_keys):
        resting += orders[k, 0] == gen
    return bpx, bsz, apx, asz, emit, 0, -1, resting, cancels[: cnt[0]], cnt[1]


_MBO_ERRORS = {
    _E_CANCEL_UNKNOWN: ("order_id", "cancel (C) of unknown order id {oid} (no Add since the last Clear/snapshot)"),
    _E_MODIFY_UNKNOWN: ("order_id", "modify (M) of unknown order id {oid} (no Add since the last Clear/snapshot)"),
    _E_DUPLICATE_ADD: ("order_id", "add (A) of order id {oid}, which is already resting"),
    _E_CANCEL_TOO_LARGE: ("size", "cancel of {size} from order {oid}, which rests with size {detail}"),
    _E_SIDE_MISMATCH: ("side", "{act} record on side {side} for order {oid} resting on side {detail_char}"),
    _E_PRICE_MISMATCH: ("price", "cancel at price {price} for order {oid} resting at {detail_price}"),
    _E_ADD_SIDE: ("side", "{act} record with side {side}: an order rests on side B or A"),
    _E_NO_PRICE: ("price", "{act} record without a price (UNDEF_PRICE)"),
    _E_TOB: ("flags", "top-of-book MBO (F_TOB) is not supported: load the venue's MBP-1 data instead"),
    _E_ADD_SIZE: ("size", "add (A) of size {size}: an order needs a positive size"),
    _E_LEVEL: ("size", "the aggregated level went negative (inconsistent order state)"),
}
"""The field and message of each error code of :func:`_rebuild_mbo`."""


def _mbo_error(rec: _Records, code: int, i: int, detail: int) -> ValueError:
    name, text = _MBO_ERRORS[code]
    problem = text.format(
        oid=int(rec.order_id[i]) & (2**64 - 1), act=chr(rec.action[i]), side=chr(rec.side[i]), size=int(rec.size[i]),
        price=rec.price[i] / _SCALE, detail=detail, detail_char=chr(detail) if 0 <= detail < 128 else "?",
        detail_price=detail / _SCALE,
    )  # fmt: skip
    return field_error(rec.path, int(rec.rows[i]), name, problem, rec.unit)


def _mbo_book(rec: _Records, levels: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict, np.ndarray, dict]:
    """Rebuilt L2 rows (fixed-point prices as floats, empty levels NaN / 0), the record index of each row, the day's ``cancel_*``
    arrays with their record rows, and notes."""
    parts, cancels, resting, lost = [], [], {}, 0
    cols = (rec.action, rec.side, rec.price, rec.size, rec.order_id, rec.flags, rec.clock)
    for pub in np.unique(rec.publisher_id):
        idx = np.flatnonzero(rec.publisher_id == pub)
        r = tuple(x[idx] for x in cols)
        ids, key = np.unique(r[4], return_inverse=True)  # order ids numbered 0..n-1 (see _rebuild_mbo)
        grid = np.unique(r[2][r[2] != UNDEF_PRICE])
        r = (*r[:4], key.astype(np.int64).reshape(-1), *r[5:], np.searchsorted(grid, r[2]).astype(np.int64))
        bpx, bsz, apx, asz, emit, code, where, n_orders, c, n_lost = _rebuild_mbo(r, ids.size, grid, levels)
        if code:
            raise _mbo_error(rec, int(code), int(idx[where]), int(n_orders))
        parts.append((idx[emit], bpx, bsz, apx, asz))
        c[:, 0] = idx[c[:, 0]]
        cancels.append(c)
        resting[str(int(pub))] = int(n_orders)
        lost += int(n_lost)
    at, *levels = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(at, kind="stable")
    book = {name: v[order] for name, v in zip(("bid_px", "bid_sz", "ask_px", "ask_sz"), levels, strict=True)}
    c = np.concatenate(cancels)
    c = c[np.argsort(c[:, 0], kind="stable")]
    arrays = {
        "cancel_ts": rec.clock[c[:, 0]].astype(np.int64),
        "cancel_px": c[:, 1] / _SCALE,
        "cancel_sz": c[:, 2].astype(np.float64),
        "cancel_side": np.where(c[:, 3] == _BID, 1, -1).astype(np.int8),
        "cancel_entry_ts": np.ascontiguousarray(c[:, 4]),
    }
    fills = rec.action == _F
    notes = {
        "orders_resting_at_end": resting,
        "fill_records": int(fills.sum()),
        "fill_volume": int(rec.size[fills].sum()),
        "cancels": int(c.shape[0]),
        "cancels_entry_unknown": int((c[:, 4] == UNKNOWN_ENTRY).sum()),
        "modifies_losing_priority": lost,
    }
    return book, at[order], arrays, rec.rows[c[:, 0]], notes


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
def _time_option(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        ts = pd.NaT
        with contextlib.suppress(ValueError):  # unparsable: the option error below
            ts = pd.Timestamp(value)
        if ts is not pd.NaT:
            return int(ts.as_unit("ns").value)  # ns since the epoch, UTC (a naive time means UTC)
    raise bad_option(name, value, "an ISO-8601 time string (naive = UTC) or int ns since the epoch, or None")


_RULES: dict[str, Any] = {
    "crossed": ("raise", "drop"), "clock": ("ts_recv", "ts_event"), "price_format": ("auto", "decimal", "fixed"),
    "trades": ("auto", "records"), "session": ("calendar", "records"),
    "levels": {"low": 1, "high": MAX_LEVELS, "integer": True, "none": True}, "tick_size": POSITIVE_OR_NONE,
    "lot_size": POSITIVE, "session_open": _time_option, "session_close": _time_option,
    "instrument_id": {"low": 0, "integer": True, "none": True}, "publisher_id": {"low": 0, "integer": True, "none": True},
}  # fmt: skip
"""The checks of :func:`load`'s options (:func:`reader.check_options`; session times become int ns)."""


# ---------------------------------------------------------------------------------------------
# Selection and trades
# ---------------------------------------------------------------------------------------------
def _select(rec: _Records, instrument_id: int | None, symbol: str | None, publisher_id: int | None) -> _Records:
    found = first_places(rec.instrument_id, rec.rows)
    rec.notes["instruments_in_file"] = {str(i): rec.symbols.get(i, "") for i in sorted(found)}
    rule = {"what": "instruments", "label": lambda i: f"{i} ({rec.symbols.get(i, '?')})", "unit": rec.unit}
    if instrument_id is None and symbol is not None:
        match = [i for i in found if rec.symbols.get(i) == symbol]
        if len(match) > 1:
            raise bad_option("symbol", symbol, f"a symbol of one instrument (instruments {match}); pass instrument_id=")
        chosen = pick(rec.path, found, match[0] if match else symbol, "symbol", **rule)
    else:
        chosen = pick(rec.path, found, instrument_id, "instrument_id", option="instrument_id",
                      hint="instrument_id= or symbol=", **rule)  # fmt: skip
        if symbol is not None and rec.symbols.get(chosen) not in (None, symbol):
            raise bad_option("symbol", symbol, f"{rec.symbols.get(chosen)!r} (the symbol of instrument {chosen})")
    out = rec  # the usual file: one instrument, every record kept
    if len(found) > 1:
        out = rec.take(rec.instrument_id == chosen)
        rec.notes["other_instrument_records"] = rec.clock.size - out.clock.size
    if publisher_id is not None:
        pick(rec.path, first_places(out.publisher_id, out.rows), publisher_id, "publisher_id", option="publisher_id",
             what="publishers", unit=rec.unit)  # fmt: skip
        keep = out.publisher_id == publisher_id
        out.notes["other_publisher_records"] = int((~keep).sum())
        out = out.take(keep)
    out.notes["instrument_id"] = chosen
    return out


def _check_sorted(rec: _Records) -> None:
    check_sorted(rec.path, rec.clock, rec.rows, rec.clock_name, rec.unit, why="Databento files are sorted by ts_recv")


def _trades(rec: _Records) -> dict[str, np.ndarray]:
    t = rec.take(rec.action == _T)
    t.check(t.price == UNDEF_PRICE, "price", "trade (T) record without a price (UNDEF_PRICE)")
    t.check(t.size <= 0, "size", lambda k: f"trade (T) record with size {t.size[k]}")
    return {
        "trade_ts": t.clock,
        "trade_px": t.price / _SCALE,
        "trade_sz": t.size.astype(np.float64),
        "trade_side": np.where(t.side == _BID, 1, np.where(t.side == _ASK, -1, 0)).astype(np.int8),
        "rows": t.rows,
    }


def read_trades(
    path: str | Path,
    instrument_id: int | None = None,
    symbol: str | None = None,
    publisher_id: int | None = None,
    clock: str = "ts_recv",
    price_format: str = "auto",
) -> dict[str, np.ndarray]:
    """The trade (action T) records of any Databento file, as ``trade_ts``, ``trade_px``,
    ``trade_sz``, ``trade_side`` and ``rows`` (line or record numbers), with :func:`load`'s
    conventions (clock, aggressor side, instrument selection)."""
    check_choice("clock", clock, ("ts_recv", "ts_event"))
    check_choice("price_format", price_format, ("auto", "decimal", "fixed"))
    rec = _select(_read(Path(path), clock, price_format), instrument_id, symbol, publisher_id)
    _check_sorted(rec)
    return _trades(rec)


def _check_companion(path: Path, rec: _Records, tr: dict[str, np.ndarray], notes: dict[str, Any]) -> None:
    """With ``trades="auto"``: the trades file beside ``path`` holds exactly its trade records."""
    for sibling in companions(path):  # none or one
        try:
            other = read_trades(sibling, instrument_id=notes["instrument_id"], clock=rec.clock_name)
        except ValueError as exc:
            raise ValueError(
                f"{path}: the trades file beside it ({sibling}) cannot be checked against this file's trades ({exc}); "
                f"pass trades='records' to use this file's own trades"
            ) from exc
        if not all(np.array_equal(other[k], tr[k]) for k in ("trade_ts", "trade_px", "trade_sz", "trade_side")):
            raise ValueError(
                f"{path}: its {tr['trade_ts'].size} trade records differ from the {other['trade_ts'].size} of the "
                f"trades file beside it ({sibling}); pass trades='records' to use this file's own trades"
            )
        notes["trades_checked_against"] = sibling.name


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
def _infer_tick(path: Path, prices: np.ndarray) -> float:
    """The tick of fixed-point ``prices`` (:func:`reader.infer_increment`, at least two distinct prices)."""
    return increment(path, None, prices[prices != UNDEF_PRICE] / _SCALE, at_least=2)


def _levels_to_float(px: np.ndarray, sz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    empty = (px == UNDEF_PRICE) | (sz == 0)
    return np.where(empty, np.nan, px / _SCALE), np.where(empty, 0.0, sz.astype(np.float64))


def _book_rows(rec: _Records, levels: int | None, notes: dict[str, Any]) -> tuple[Book, dict, np.ndarray | None]:
    """The book after every F_LAST record (``seq``: the index of that record; empty levels NaN / 0),
    and (MBO) the day's cancellation arrays with their places."""
    last = np.flatnonzero(rec.flags & F_LAST)
    if last.size == 0:
        raise ValueError(f"{rec.path}: no record carries the F_LAST flag (0x80), so no event ever completes")
    notes["records_after_last_F_LAST"] = int(rec.clock.size - 1 - last[-1])
    cancels, cancel_rows = {}, None
    if rec.schema == "mbo":
        book, last, cancels, cancel_rows, extra = _mbo_book(rec, 10 if levels is None else levels)
        notes.update(extra)
    else:
        file_depth = rec.book["bid_px"].shape[1]
        if levels is not None and levels > file_depth:
            raise bad_option("levels", levels, f"None or 1..{file_depth} (the file's {rec.schema} depth)")
        book = {k: v[last, : levels or file_depth] for k, v in rec.book.items()}
        for s in ("bid", "ask"):
            bad, sz = (book[f"{s}_px"] == UNDEF_PRICE) & (book[f"{s}_sz"] > 0), book[f"{s}_sz"]
            fail_first(bad, rec.path, rec.rows[last], lambda r: f"{s}_px_{first(bad[r]):02d}",  # noqa: B023
                       lambda r: f"a level of size {sz[r, first(bad[r])]} has no price", rec.unit)  # noqa: B023  # fmt: skip
    sides = [a for s in ("bid", "ask") for a in _levels_to_float(book[f"{s}_px"], book[f"{s}_sz"])]
    return Book(rec.clock[last], rec.rows[last], last, *sides), cancels, cancel_rows


def _count(rec: _Records, notes: dict[str, Any]) -> None:
    """Records by action and flag, and the publishers (which must fit ``MarketDay.venue``)."""
    counts = np.bincount(rec.action, minlength=256)  # action codes are bytes
    notes["records"] = int(rec.clock.size)
    notes["records_by_action"] = {chr(a): int(counts[a]) for a in np.flatnonzero(counts)}
    for name, bit in (("snapshot", F_SNAPSHOT), ("bad_ts_recv", F_BAD_TS_RECV), ("maybe_bad_book", F_MAYBE_BAD_BOOK)):
        notes[f"{name}_records"] = int(((rec.flags & bit) != 0).sum())
    pub = rec.publisher_id
    pubs = pub[:1] if pub.size and (pub == pub[0]).all() else np.unique(pub)  # the usual file: one publisher
    notes["publisher_ids"] = [int(p) for p in pubs]
    if pubs.size > 1 and pubs[-1] > np.iinfo(np.int16).max:
        rec.check(rec.publisher_id == pubs[-1], "publisher_id",
                  f"publisher id {pubs[-1]} does not fit MarketDay.venue (int16)")  # fmt: skip


def _session(rec: _Records, o: dict[str, Any], notes: dict[str, Any], symbol: str) -> tuple[int, int, Any]:
    """(open, close, halts) of the day: the options; else the records' first and last times, trimmed
    to the venue's calendar when one is known (``session="calendar"``), its closed stretches between
    them then trading halts."""
    first_t, last_t = int(rec.clock[0]), int(rec.clock[-1])
    open_ns, close_ns = o["session_open"], o["session_close"]
    if last_t - first_t > 86_400 * _SCALE and (open_ns is None or close_ns is None):
        raise ValueError(
            f"{rec.path}: the records span {(last_t - first_t) / 3.6e12:.1f} hours, more than one session; pass "
            f"session_open= and session_close= (one MarketDay per file)"
        )
    key = hours.cme_calendar(rec.notes.get("dataset"), notes["publisher_ids"], symbol)
    if key is not None:
        notes["calendar"] = key
    given = open_ns is not None or close_ns is not None
    notes["session"] = "options" if given else "first/last record time"
    if not given and key is not None and o["session"] == "calendar":
        cal = hours.CALENDARS[key]
        opened = cal.open_intervals(first_t, last_t)
        if opened.size:
            notes["session"] = f"first/last record time inside the hours of {cal.name} ({cal.text}; calendar)"
            halts = np.column_stack([opened[:-1, 1], opened[1:, 0]])
            return int(opened[0, 0]), int(opened[-1, 1]), halts if halts.size else None
        notes["session"] += f" (every record lies outside the hours of {cal.name}: {cal.text})"
    open_ns = first_t if open_ns is None else open_ns
    if close_ns is None:
        close_ns = last_t
        if close_ns <= open_ns:
            close_ns = open_ns + 1
            notes["session"] += " (all records share one time: a 1 ns session)"
    return open_ns, close_ns, None


def load(
    path: Path,
    *,
    instrument_id: int | None = None,
    symbol: str | None = None,
    publisher_id: int | None = None,
    levels: int | None = None,
    tick_size: float | None = None,
    lot_size: float = 1.0,
    session: str = "calendar",
    session_open: str | int | None = None,
    session_close: str | int | None = None,
    crossed: str = "raise",
    clock: str = "ts_recv",
    price_format: str = "auto",
    trades: str = "auto",
) -> list[MarketDay]:
    """Parse a Databento DBN or CSV file (MBP-1, MBP-10, MBO) into one validated MarketDay.

    See the module docstring for the format, the conventions and every option.
    """
    path = Path(path)
    o = check_options({k: v for k, v in locals().items() if k != "path"}, _RULES)
    rec = _select(_read(path, clock, price_format), o["instrument_id"], symbol, o["publisher_id"])
    if rec.schema == "trades":
        raise ValueError(
            f"{path}: a Databento 'trades' file holds no order book, so it cannot be a MarketDay on its own; load "
            f"the instrument's book file (mbp-1, mbp-10 or mbo), which holds these trades too (read_trades() reads it)"
        )
    if rec.clock.size == 0:
        raise ValueError(f"{path}: no records for the selected instrument")
    _check_sorted(rec)
    notes = {
        **rec.notes,
        "format": "databento",
        "encoding": rec.encoding,
        "schema": rec.schema,
        "clock": rec.clock_name,
    }
    book, cancels, cancel_rows = _book_rows(rec, o["levels"], notes)
    book = book.take(crossed_rows(path, book.line, book.top(), crossed, notes, "bid_px_00", unit=rec.unit))
    if book.ts.size == 0:
        raise ValueError(f"{path}: every book row is crossed or locked; nothing is left")
    tr = _trades(rec)
    notes["trade_volume"] = int(rec.size[rec.action == _T].sum())
    if trades == "auto":
        _check_companion(path, rec, tr, notes)
    _count(rec, notes)
    sym = rec.symbols.get(notes["instrument_id"], str(notes["instrument_id"]))
    open_ns, close_ns, halts = _session(rec, o, notes, sym)
    tick = o["tick_size"]
    if tick is None:
        prices = [rec.price] + ([] if rec.book is None else [rec.book["bid_px"].ravel(), rec.book["ask_px"].ravel()])
        tick = _infer_tick(path, np.concatenate(prices))
        notes["tick_size"] = "inferred: gcd of the distinct prices"
    meta = MarketMeta(
        symbol=sym, tick_size=tick, lot_size=o["lot_size"],
        session_open_ns=int(open_ns), session_close_ns=int(close_ns), source=str(path),
        date=pd.Timestamp(close_ns - 1, unit="ns", tz="UTC").strftime("%Y-%m-%d"), notes=notes,
    )  # fmt: skip
    venue = rec.publisher_id[book.seq].astype(np.int16) if len(notes["publisher_ids"]) > 1 else None
    book_arrays = (book.ts, book.bid_px, book.bid_sz, book.ask_px, book.ask_sz)
    trade_arrays = (tr["trade_ts"], tr["trade_px"], tr["trade_sz"], tr["trade_side"])
    day = MarketDay.build(meta, book_arrays, trade_arrays, venue=venue, halts=halts, **cancels)
    return [validate(day, path, book.line, tr["rows"], cancel_rows, unit=rec.unit)]


# ---------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------
def _fixed(px: np.ndarray) -> np.ndarray:
    out = np.full(px.shape, UNDEF_PRICE, dtype=np.int64)
    ok = np.isfinite(px)
    out[ok] = np.round(px[ok] * _SCALE).astype(np.int64)
    return out


def _pretty_px(fixed: np.ndarray) -> np.ndarray:
    undef = fixed == UNDEF_PRICE
    a = np.abs(np.where(undef, 0, fixed))
    whole = (a // _SCALE).astype(str).astype(object)
    frac = pd.Series((a % _SCALE).astype(str)).str.zfill(9).to_numpy(dtype=object)
    sign = np.where(fixed < 0, "-", "").astype(object)
    out = sign + whole + "." + frac
    out[undef] = ""
    return out


def _pretty_ts(ns: np.ndarray) -> np.ndarray:
    secs = pd.to_datetime(ns // _SCALE, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
    frac = pd.Series((ns % _SCALE).astype(str)).str.zfill(9).to_numpy(dtype=object)
    return secs + "." + frac + "Z"


def _record_columns(day: MarketDay, depth: int, publisher_id: int) -> dict[str, np.ndarray]:
    """The day as MBP records: a book record (action N, F_LAST) per row, a trade record (action T) per
    trade holding the book before it, trades before the book row of the same time."""
    nb, nt = day.n_books, day.n_trades
    ts_all = np.concatenate([day.trade_ts, day.ts])
    order = np.argsort(ts_all, kind="stable")  # trades first: at equal times they come before the book row
    is_book = order >= nt
    row_of = np.cumsum(is_book)  # the book row shown by each record, + 1 (0: no row yet)
    cols: dict[str, np.ndarray] = {"ts": ts_all[order]}
    width = min(depth, day.levels)
    pad = ((1, 0), (0, depth - width))  # row 0: before the first book row; levels past the day's: empty
    for s in ("bid", "ask"):
        cols[f"{s}_px"] = _fixed(np.pad(getattr(day, f"{s}_px")[:, :width], pad, constant_values=np.nan))[row_of]
        cols[f"{s}_sz"] = np.pad(getattr(day, f"{s}_sz")[:, :width], pad).astype(np.int64)[row_of]

    def records(trade_values: np.ndarray, book_values: Any, dtype: Any = np.int64) -> np.ndarray:
        """One value per record: the trades' and the book rows' values in record order."""
        return np.concatenate([trade_values, np.broadcast_to(book_values, nb)]).astype(dtype)[order]

    tside = day.trade_side
    cols["publisher_id"] = records(np.full(nt, publisher_id), publisher_id if day.venue is None else day.venue)
    cols["price"] = records(_fixed(day.trade_px), UNDEF_PRICE)
    cols["size"] = records(day.trade_sz, 0)
    cols["side"] = records(np.where(tside > 0, b"B", np.where(tside < 0, b"A", b"N")), b"N", "S1")
    cols["action"] = np.where(is_book, b"N", b"T")
    cols["flags"] = np.where(is_book, F_LAST, 0).astype(np.int64)
    return cols


def _write_dbn(path: Path, day: MarketDay, cols: dict[str, np.ndarray], schema: str, ids: tuple[int, str]) -> None:
    import databento_dbn

    rtype, (instrument_id, dataset) = _SCHEMA_RTYPE[schema], ids
    ts, n = cols["ts"], cols["ts"].size
    dtype = np.dtype(getattr(databento_dbn, _DBN_CLASS[rtype])._dtypes)
    arr = np.zeros(n, dtype=dtype)
    arr["length"], arr["rtype"], arr["instrument_id"] = dtype.itemsize // 4, rtype, instrument_id
    arr["ts_event"], arr["ts_recv"], arr["sequence"] = ts, ts, np.arange(n)
    for key in ("publisher_id", "price", "size", "action", "side", "flags"):
        arr[key] = cols[key]
    for j in range(cols["bid_px"].shape[1]):
        for key in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
            arr[f"{key}_{j:02d}"] = cols[key][:, j]
    d0 = pd.Timestamp(int(ts[0]), unit="ns", tz="UTC").date()
    d1 = pd.Timestamp(int(ts[-1]), unit="ns", tz="UTC").date() + pd.Timedelta(days=1)
    interval = type("Interval", (), {"start_date": d0, "end_date": d1, "symbol": str(instrument_id)})()
    mapping = type("Mapping", (), {"raw_symbol": day.meta.symbol, "intervals": [interval]})()
    meta = databento_dbn.Metadata(
        dataset=dataset, start=int(ts[0]), end=int(ts[-1]) + 1, stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID, schema=databento_dbn.Schema.from_str(schema),
        symbols=[day.meta.symbol], mappings=[mapping], version=int(databento_dbn.DBN_VERSION),
    )  # fmt: skip
    reader.write_file(path, bytes(meta.encode()) + arr.tobytes())


def _write_csv(path: Path, day: MarketDay, cols: dict[str, np.ndarray], schema: str, instrument_id: int,
               pretty: tuple[bool, bool]) -> None:  # fmt: skip
    n = cols["ts"].size

    def prices(v: np.ndarray) -> Any:
        return _pretty_px(v) if pretty[0] else np.where(v == UNDEF_PRICE, "", v.astype(str))

    out: dict[str, Any] = {"ts_recv": _pretty_ts(cols["ts"]) if pretty[1] else cols["ts"]}
    out.update(ts_event=out["ts_recv"], rtype=_SCHEMA_RTYPE[schema], publisher_id=cols["publisher_id"],
               instrument_id=instrument_id, action=cols["action"].astype(str),
               side=cols["side"].astype(str), depth=0, price=prices(cols["price"]), size=cols["size"],
               flags=cols["flags"], ts_in_delta=0, sequence=np.arange(n))  # fmt: skip
    for j in range(cols["bid_px"].shape[1]):
        for key in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
            out[f"{key}_{j:02d}"] = prices(cols[key][:, j]) if key.endswith("_px") else cols[key][:, j]
        out[f"bid_ct_{j:02d}"] = (cols["bid_sz"][:, j] > 0).astype(np.int64)
        out[f"ask_ct_{j:02d}"] = (cols["ask_sz"][:, j] > 0).astype(np.int64)
    out["symbol"] = day.meta.symbol
    pd.DataFrame(out).to_csv(path, index=False, lineterminator="\n")


def write_databento(
    day: MarketDay,
    path: str | Path,
    schema: str = "mbp-10",
    instrument_id: int = 1,
    publisher_id: int = 1,
    dataset: str = "EXEC_ENV.SYNTH",
    pretty_px: bool = True,
    pretty_ts: bool = True,
) -> Path:
    """Write ``day`` as a Databento MBP-1 or MBP-10 file: CSV (``.csv``) or DBN (``.dbn``, ``.dbn.zst``).

    Every book row becomes one F_LAST record (action N, side N, no price) holding the levels;
    every trade an action-T record (side B/A/N, flags 0) holding the book before it, placed
    before the book row of the same time. ``ts_recv`` = ``ts_event`` = the day's times;
    ``day.venue`` (if any) gives each book row's publisher. CSV prices are decimal strings with
    9 decimals (``pretty_px``) or fixed-point integers, times ISO-8601 (``pretty_ts``) or ns.
    Loading the file with the day's session and tick reproduces its arrays (up to ``schema``'s
    depth).
    """
    path = Path(path)
    check_choice("schema", schema, ("mbp-1", "mbp-10"))
    cols = _record_columns(day, 1 if schema == "mbp-1" else 10, publisher_id)
    if path.name.lower().endswith((".dbn", ".dbn.zst")):
        _write_dbn(path, day, cols, schema, (instrument_id, dataset))
    else:
        _write_csv(path, day, cols, schema, instrument_id, (pretty_px, pretty_ts))
    return path

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
  Records whose clock goes backwards raise (the message names the row and field).
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
  National style) raise, naming the file, row and field (Databento's example turns a Modify of
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
  ``crossed="drop"`` drops those rows and counts them in ``notes["dropped_crossed_rows"]``.
* Session: Databento files are cut by request time, not by session (the samples are minutes
  of CME's nearly 24-hour session), so the session defaults to the first and last record times
  of the file (clock of the selected instrument's records; a file whose records all share one
  time gets a 1 ns session, noted). ``session_open`` / ``session_close`` (ISO strings, naive
  meaning UTC, or int ns) override. A file spanning more than 24 hours raises unless both are
  given (one MarketDay per file). Rows outside ``[session_open, session_close]`` are kept (the
  replay uses the last row before the start as the initial book). ``meta.date`` is the UTC
  date of the session's last instant (the CME trade date for evening-to-afternoon sessions).
* Tick size: ``tick_size=None`` infers it as the greatest common divisor of the differences
  between the distinct prices of the file (every record price and book level, on the
  fixed-point 1e-9 grid), e.g. 0.25 for ES. With few distinct prices this is a multiple of the
  true tick; pass ``tick_size=`` when you know it.
* Trades companion: a Databento trades-schema file holds no book and cannot be a MarketDay on
  its own (loading one raises). Beside a book file it is a companion (same name with ``mbp-1``
  / ``mbp-10`` / ``mbo`` replaced by ``trades``): with ``trades="auto"`` (default) the book
  file's own trade records are used and checked to equal the companion's (a mismatch raises);
  ``trades="records"`` ignores the companion. :func:`read_trades` reads any trades file.

Options of :func:`load` (all keyword): ``instrument_id=None``, ``symbol=None``,
``publisher_id=None``, ``levels=None`` (MBO: 10; MBP: the file's depth, or fewer),
``tick_size=None``, ``lot_size=1.0``, ``session_open=None``, ``session_close=None``,
``crossed="raise"`` | ``"drop"``, ``clock="ts_recv"`` | ``"ts_event"``,
``price_format="auto"`` | ``"decimal"`` | ``"fixed"`` (CSV: auto means decimal if any price
contains a ``.``, else fixed-point integers), ``trades="auto"`` | ``"records"``.
Rows in error messages are CSV line numbers (the header is line 1) and, for DBN, 1-based record
numbers.

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

import io
import re
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit, types
from numba.typed import Dict

from exec_env.market import reader
from exec_env.market.data import MAX_LEVELS, MarketDay, MarketMeta, validate
from exec_env.market.reader import excerpt

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

VERSION = 2  # 2: order-level cancellations from MBO (cancel_* arrays)
UNDEF_PRICE = 2**63 - 1
F_LAST = 0x80
F_TOB = 0x40
F_SNAPSHOT = 0x20
F_MBP = 0x10
F_BAD_TS_RECV = 0x08
F_MAYBE_BAD_BOOK = 0x04
_SCALE = 1_000_000_000
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_EXTRA = "pip install 'exec_env[databento]'"

_RTYPE_SCHEMA = {160: "mbo", 1: "mbp-1", 10: "mbp-10", 0: "trades"}
_SCHEMA_RTYPE = {v: k for k, v in _RTYPE_SCHEMA.items()}
_DBN_CLASS = {160: "MBOMsg", 1: "MBP1Msg", 10: "MBP10Msg", 0: "TradeMsg"}
_CSV_KEYS = {"ts_event", "rtype", "publisher_id", "instrument_id"}
_ACTIONS = b"ACMRTFN"
_SIDES = b"BAN"
_SCHEMA_TOKEN = re.compile(r"(?<=[_.\-])(mbp-10|mbp-1|mbo)(?=[_.\-])", re.IGNORECASE)

_A, _C, _M, _R, _T, _F, _N = (ord(c) for c in "ACMRTFN")
_BID, _ASK = ord("B"), ord("A")
_ORDER_T = types.UniTuple(types.int64, 3)  # (side, price, size) of a resting order


# ---------------------------------------------------------------------------------------------
# Raw bytes, sniffing, companions
# ---------------------------------------------------------------------------------------------
def _zstd():
    try:
        import zstandard
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading zstd-compressed Databento files needs the 'zstandard' package: {_EXTRA}") from exc
    return zstandard


def _read_bytes(path: Path) -> bytes:
    return reader.decompress(path)


def _head(path: Path, n: int = 4096) -> bytes:
    return reader.head_bytes(path, n, text=False)


def sniff(path: Path) -> bool:
    """DBN by its magic bytes ``DBN`` (after zstd decompression), CSV by its header columns."""
    try:
        head = _head(Path(path))
    except (OSError, ImportError):
        return False
    if head[:3] == b"DBN":
        return True
    line = head.split(b"\n", 1)[0].strip().decode("utf-8", errors="replace")
    return _CSV_KEYS <= set(line.split(","))


def _sibling_trades(path: Path) -> Path | None:
    name = path.name
    if not _SCHEMA_TOKEN.search(name):
        return None
    other = path.with_name(_SCHEMA_TOKEN.sub("trades", name, count=1))
    return other if other.is_file() and other != path else None


def companions(path: Path) -> list[Path]:
    """The trades-schema file beside a book file (``..mbp-1..`` -> ``..trades..``), if present."""
    other = _sibling_trades(Path(path))
    return [other] if other is not None else []


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

    def take(self, mask: np.ndarray) -> _Records:
        cols = ("clock", "publisher_id", "instrument_id", "action", "side", "price", "size", "flags", "rows")
        out = {c: getattr(self, c)[mask] for c in cols}
        out["order_id"] = None if self.order_id is None else self.order_id[mask]
        out["book"] = None if self.book is None else {k: v[mask] for k, v in self.book.items()}
        return replace(self, **out)

    def fail(self, i: int, name: str, problem: str) -> ValueError:
        return ValueError(f"{self.path}: row {int(self.rows[i])}, field '{name}': {problem}")


def _err(path: Path, row: int, name: str, problem: str) -> ValueError:
    return ValueError(f"{path}: row {int(row)}, field '{name}': {problem}")


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------
def _line_layout(path: Path, data: bytes) -> tuple[list[str], np.ndarray]:
    """Header columns and the 1-based line numbers of the data lines; checks the column counts."""
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    ends = nl if (buf.size and buf[-1] == 10) else np.append(nl, buf.size)
    starts = np.concatenate(([0], nl + 1))[: ends.size]
    stripped = ends - (np.asarray(buf[np.maximum(ends - 1, 0)] == 13, dtype=np.int64) * (ends > starts))
    blank = stripped <= starts
    lines = np.flatnonzero(~blank)
    if lines.size == 0:
        raise ValueError(f"{path}: empty file (no header row)")
    if lines[0] != 0:
        raise _err(path, 1, "<header>", "the file must start with the header row, found a blank line")
    header = data[starts[0] : stripped[0]].decode("utf-8", errors="replace").split(",")
    data_lines = lines[1:]
    if b'"' not in data:
        commas = np.flatnonzero(buf == 44)
        count = np.searchsorted(commas, stripped) - np.searchsorted(commas, starts)
        bad = np.flatnonzero(count[data_lines] != len(header) - 1)
        if bad.size:
            ln = int(data_lines[bad[0]])
            raise _err(
                path,
                ln + 1,
                "<columns>",
                f"expected {len(header)} comma-separated fields (as in the header), found {int(count[ln]) + 1}",
            )
    return header, data_lines + 1


def _as_str(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype=object)


def _first_bad(ok: np.ndarray) -> int:
    idx = np.flatnonzero(~ok)
    return int(idx[0]) if idx.size else -1


def _parse_int(path: Path, rows: np.ndarray, name: str, col: pd.Series, lo: int | None = None) -> np.ndarray:
    num = pd.to_numeric(col, errors="coerce")
    if num.dtype.kind not in "iu":
        ok = col.str.fullmatch(r"-?\d+").fillna(False).to_numpy(dtype=bool)
        i = _first_bad(ok)
        raise _err(path, rows[i], name, f"cannot parse {excerpt(col.iloc[i])} as an integer")
    out = num.to_numpy()
    if out.dtype == np.uint64:
        out = out.view(np.int64)
    out = out.astype(np.int64, copy=False)
    if lo is not None:
        i = _first_bad(out >= lo)
        if i >= 0:
            what = "negative size" if lo == 0 else f"value below {lo}"
            raise _err(path, rows[i], name, f"{what}: {excerpt(col.iloc[i])}")
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
        j = 0
        neg = chars[r, 0] == 45
        if neg:
            j = 1
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
        if not empty.all():
            out[~empty] = _parse_int(path, rows[~empty], name, col[~empty])
        return out
    values = col.to_numpy(dtype=object)
    try:
        raw = values.astype(np.bytes_)
    except UnicodeEncodeError:
        ok = np.array([v.isascii() for v in values], dtype=bool)
        i = _first_bad(ok)
        raise _err(path, rows[i], name, f"cannot parse {excerpt(values[i])} as a decimal price") from None
    chars = raw.view(np.uint8).reshape(len(values), raw.dtype.itemsize)
    out, ok = _decimal_to_fixed(chars)
    i = _first_bad(ok)
    if i >= 0:
        raise _err(path, rows[i], name, f"cannot parse {excerpt(values[i])} as a decimal price")
    return out


def _parse_ts(path: Path, rows: np.ndarray, name: str, col: pd.Series) -> np.ndarray:
    first = col.iloc[0] if len(col) else ""
    if "T" in first or "-" in first[1:]:
        ts = pd.to_datetime(col, format="ISO8601", utc=True, errors="coerce")
        bad = ts.isna().to_numpy(dtype=bool)
        i = _first_bad(~bad)
        if i >= 0:
            raise _err(path, rows[i], name, f"cannot parse {excerpt(col.iloc[i])} as an ISO-8601 timestamp")
        return ts.astype("datetime64[ns, UTC]").to_numpy(dtype="datetime64[ns]").view(np.int64)
    return _parse_int(path, rows, name, col, lo=0)


def _parse_char(path: Path, rows: np.ndarray, name: str, col: pd.Series, allowed: bytes) -> np.ndarray:
    ok = (col.str.len() == 1).to_numpy(dtype=bool)
    i = _first_bad(ok)
    if i < 0:
        codes = np.frombuffer("".join(_as_str(col)).encode("latin-1", errors="replace"), dtype=np.uint8)
        ok = np.isin(codes, np.frombuffer(allowed, dtype=np.uint8))
        i = _first_bad(ok)
        if i < 0:
            return codes.copy()
    raise _err(path, rows[i], name, f"{excerpt(col.iloc[i])} is not one of {', '.join(allowed.decode())}")


def _depth(header: list[str]) -> int:
    d = 0
    while f"bid_px_{d:02d}" in header:
        d += 1
    return d


def _read_csv(path: Path, clock: str, price_format: str) -> _Records:
    data = reader.read_bytes(path)
    header, rows = _line_layout(path, data)
    if rows.size == 0:
        raise _err(path, 2, header[0], "no records after the header line")
    missing = [c for c in ("rtype", "publisher_id", "instrument_id", "action", "side", "price", "size", "flags")
               if c not in header]  # fmt: skip
    if "ts_event" not in header and "ts_recv" not in header:
        missing.insert(0, "ts_recv")
    if missing:
        raise _err(path, 1, missing[0], f"missing column; the header has {', '.join(header)}")
    try:
        df = pd.read_csv(
            io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=True, engine="c"
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+), saw (\d+)", str(exc))
        row = int(m.group(1)) if m else 0
        raise _err(path, row, "<columns>", f"malformed CSV ({str(exc).strip()})") from None
    if len(df) != rows.size:
        raise ValueError(f"{path}: the CSV parser found {len(df)} data rows, the file has {rows.size} data lines")
    notes: dict[str, Any] = {}
    if "order_id" in header:
        schema = "mbo"
    else:
        depth = _depth(header)
        schema = "trades" if depth == 0 else f"mbp-{depth}"
        if depth not in (0, 1, 10):
            raise _err(path, 1, "bid_px_00", f"a book of {depth} levels is not a Databento schema (mbp-1, mbp-10)")
    clock_name = clock if clock in header else "ts_event"
    if clock_name != clock:
        notes["clock_fallback"] = f"the file has no '{clock}' column: ts_event is the clock"
    price_cols = ["price"] + [c for c in header if c.startswith(("bid_px_", "ask_px_"))]
    if price_format == "auto":
        dotted = any(df[c].str.contains(".", regex=False).any() for c in price_cols)
        price_format = "decimal" if dotted else "fixed"
    notes["price_format"] = price_format
    rtype = _parse_int(path, rows, "rtype", df["rtype"])
    want = _SCHEMA_RTYPE[schema]
    i = _first_bad(rtype == want)
    if i >= 0:
        raise _err(path, rows[i], "rtype", f"rtype {rtype[i]} in a {schema} file (expected {want})")
    rec = _Records(
        path=path,
        encoding="csv",
        schema=schema,
        clock_name=clock_name,
        clock=_parse_ts(path, rows, clock_name, df[clock_name]),
        publisher_id=_parse_int(path, rows, "publisher_id", df["publisher_id"], lo=0),
        instrument_id=_parse_int(path, rows, "instrument_id", df["instrument_id"], lo=0),
        action=_parse_char(path, rows, "action", df["action"], _ACTIONS),
        side=_parse_char(path, rows, "side", df["side"], _SIDES),
        price=_parse_price(path, rows, "price", df["price"], price_format),
        size=_parse_int(path, rows, "size", df["size"], lo=0),
        flags=_parse_int(path, rows, "flags", df["flags"], lo=0),
        rows=rows.astype(np.int64),
        notes=notes,
    )
    i = _first_bad(rec.flags <= 255)
    if i >= 0:
        raise rec.fail(i, "flags", f"flags {rec.flags[i]} do not fit in 8 bits")
    if schema == "mbo":
        rec.order_id = _parse_int(path, rows, "order_id", df["order_id"])
    elif schema != "trades":
        depth = int(schema.split("-")[1])
        book = {}
        for side in ("bid", "ask"):
            book[f"{side}_px"] = np.column_stack(
                [
                    _parse_price(path, rows, f"{side}_px_{j:02d}", df[f"{side}_px_{j:02d}"], price_format)
                    for j in range(depth)
                ]
            )
            book[f"{side}_sz"] = np.column_stack(
                [_parse_int(path, rows, f"{side}_sz_{j:02d}", df[f"{side}_sz_{j:02d}"], lo=0) for j in range(depth)]
            )
        rec.book = book
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
    out = np.empty(offsets.size * itemsize, dtype=np.uint8)
    for k in range(offsets.size):
        o = offsets[k]
        out[k * itemsize : (k + 1) * itemsize] = body[o : o + itemsize]
    return out


def _dbn_symbols(meta: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    mappings = getattr(meta, "mappings", None) or {}
    for key, intervals in mappings.items():
        for iv in intervals:
            sym = iv["symbol"] if isinstance(iv, dict) else getattr(iv, "symbol", "")
            try:
                out.setdefault(int(sym), str(key))
            except (TypeError, ValueError):
                continue
    return out


def _read_dbn(path: Path, clock: str) -> _Records:
    try:
        import databento_dbn
    except ImportError as exc:
        raise ImportError(f"{path}: reading DBN files needs the 'databento-dbn' package: {_EXTRA}") from exc
    raw = _read_bytes(path)
    if raw[:3] != b"DBN" or len(raw) < 8:
        raise ValueError(f"{path}: not a DBN stream (no 'DBN' magic bytes after decompression)")
    version = raw[3]
    mlen = struct.unpack_from("<I", raw, 4)[0]
    start = 8 + mlen
    if start > len(raw):
        raise ValueError(f"{path}: DBN metadata length {mlen} runs past the end of the file ({len(raw)} bytes)")
    decoder = databento_dbn.DBNDecoder()
    decoder.write(raw[:start])
    meta = decoder.decode()[0]
    body = np.frombuffer(raw, dtype=np.uint8, offset=start)
    notes: dict[str, Any] = {"dbn_version": int(version), "dataset": str(meta.dataset)}
    schema_name = str(meta.schema.name).lower().replace("_", "-") if meta.schema is not None else None
    if body.size == 0:
        raise ValueError(f"{path}: the DBN file holds no records")
    size0 = int(body[0]) * 4
    uniform = size0 > 0 and body.size % size0 == 0 and bool(np.all(body[::size0] == body[0]))
    offsets = np.arange(0, body.size, size0, dtype=np.int64) if uniform else _record_offsets(body)
    if offsets.size == 0 or offsets[0] < 0:
        raise ValueError(f"{path}: corrupt DBN record stream (record lengths do not add up to the file size)")
    rtypes = body[offsets + 1].astype(np.int64)
    if schema_name is not None:
        if schema_name not in _SCHEMA_RTYPE:
            raise ValueError(
                f"{path}: DBN schema {schema_name!r} is not supported (supported: {', '.join(_SCHEMA_RTYPE)})"
            )
        want = _SCHEMA_RTYPE[schema_name]
    else:
        present = sorted({int(r) for r in np.unique(rtypes)} & set(_RTYPE_SCHEMA))
        if len(present) != 1:
            raise ValueError(f"{path}: mixed-schema DBN file with book/trade rtypes {present}; expected exactly one")
        want = present[0]
    cls = getattr(databento_dbn, _DBN_CLASS[want])
    dtype = np.dtype(cls._dtypes)
    sel = rtypes == want
    other = rtypes[~sel]
    if other.size:
        vals, counts = np.unique(other, return_counts=True)
        notes["excluded_records"] = {f"rtype {int(v)}": int(c) for v, c in zip(vals, counts, strict=True)}
    record_no = np.flatnonzero(sel) + 1
    off = offsets[sel]
    lengths = body[off].astype(np.int64) * 4
    i = _first_bad(lengths >= dtype.itemsize)
    if i >= 0:
        raise _err(
            path,
            record_no[i],
            "length",
            f"record of {lengths[i]} bytes, a {_RTYPE_SCHEMA[want]} record has {dtype.itemsize}",
        )
    if uniform:
        arr = np.ndarray(shape=(off.size,), dtype=dtype, buffer=body, offset=0, strides=(size0,))
    else:
        arr = _gather(body, off, dtype.itemsize).view(dtype)
    if clock not in dtype.names:
        raise ValueError(f"{path}: DBN records have no field {clock!r}")
    ts = arr[clock].astype(np.uint64)
    i = _first_bad(ts != np.uint64(2**64 - 1))
    if i >= 0:
        raise _err(path, record_no[i], clock, "undefined timestamp (UNDEF_TIMESTAMP)")
    rec = _Records(
        path=path,
        encoding="dbn",
        schema=_RTYPE_SCHEMA[want],
        clock_name=clock,
        clock=ts.astype(np.int64),
        publisher_id=arr["publisher_id"].astype(np.int64),
        instrument_id=arr["instrument_id"].astype(np.int64),
        action=arr["action"].view(np.uint8).copy(),
        side=arr["side"].view(np.uint8).copy(),
        price=arr["price"].astype(np.int64),
        size=arr["size"].astype(np.int64),
        flags=arr["flags"].astype(np.int64),
        rows=record_no.astype(np.int64),
        symbols=_dbn_symbols(meta),
        notes=notes,
    )
    for name, allowed in (("action", _ACTIONS), ("side", _SIDES)):
        codes = getattr(rec, name)
        i = _first_bad(np.isin(codes, np.frombuffer(allowed, dtype=np.uint8)))
        if i >= 0:
            raise rec.fail(i, name, f"{bytes([codes[i]])!r} is not one of {', '.join(allowed.decode())}")
    if want == 160:
        rec.order_id = arr["order_id"].view(np.int64).copy()
    elif want in (1, 10):
        depth = 1 if want == 1 else 10
        rec.book = {
            f"{s}_{q}": np.column_stack([arr[f"{s}_{q}_{j:02d}"].astype(np.int64) for j in range(depth)])
            for s in ("bid", "ask")
            for q in ("px", "sz")
        }
    return rec


def _read(path: Path, clock: str, price_format: str) -> _Records:
    head = _head(path, 8)
    if head[:3] == b"DBN":
        return _read_dbn(path, clock)
    return _read_csv(path, clock, price_format)


# ---------------------------------------------------------------------------------------------
# MBO rebuild (numba)
# ---------------------------------------------------------------------------------------------
@njit(cache=True)
def _level_change(keys, sizes, n, key, delta):  # pragma: no cover - numba
    """Add ``delta`` to the level ``key`` of a side kept ascending (best level last)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and keys[lo] == key:
        sizes[lo] += delta
        if sizes[lo] < 0:
            return keys, sizes, n, False
        if sizes[lo] == 0:
            for j in range(lo, n - 1):
                keys[j] = keys[j + 1]
                sizes[j] = sizes[j + 1]
            n -= 1
        return keys, sizes, n, True
    if delta < 0:
        return keys, sizes, n, False
    if delta == 0:
        return keys, sizes, n, True
    if n == keys.size:
        nk = np.empty(2 * keys.size, dtype=np.int64)
        ns = np.empty(2 * keys.size, dtype=np.int64)
        nk[:n] = keys[:n]
        ns[:n] = sizes[:n]
        keys = nk
        sizes = ns
    for j in range(n, lo, -1):
        keys[j] = keys[j - 1]
        sizes[j] = sizes[j - 1]
    keys[lo] = key
    sizes[lo] = delta
    return keys, sizes, n + 1, True


# Error codes of _rebuild_mbo.
_E_CANCEL_UNKNOWN = 1
_E_DUPLICATE_ADD = 2
_E_CANCEL_TOO_LARGE = 3
_E_SIDE_MISMATCH = 4
_E_PRICE_MISMATCH = 5
_E_MODIFY_UNKNOWN = 6
_E_ADD_SIDE = 7
_E_NO_PRICE = 8
_E_TOB = 9
_E_ADD_SIZE = 10
_E_LEVEL = 11


@njit(cache=True)
def _rebuild_mbo(action, side, price, size, oid, flags, levels):  # pragma: no cover - numba
    n = action.size
    n_emit = 0
    for i in range(n):
        if flags[i] & 0x80:
            n_emit += 1
    bpx = np.full((n_emit, levels), 9223372036854775807, dtype=np.int64)
    apx = np.full((n_emit, levels), 9223372036854775807, dtype=np.int64)
    bsz = np.zeros((n_emit, levels), dtype=np.int64)
    asz = np.zeros((n_emit, levels), dtype=np.int64)
    emit = np.empty(n_emit, dtype=np.int64)
    orders = Dict.empty(key_type=types.int64, value_type=_ORDER_T)
    bk = np.empty(256, dtype=np.int64)
    bs = np.empty(256, dtype=np.int64)
    ak = np.empty(256, dtype=np.int64)
    as_ = np.empty(256, dtype=np.int64)
    nb = 0
    na = 0
    e = 0
    undef = 9223372036854775807
    for i in range(n):
        a = action[i]
        ok = True
        if a == 65:  # A
            if flags[i] & 0x40:
                return bpx, bsz, apx, asz, emit, _E_TOB, i, 0
            s = side[i]
            if s != 66 and s != 65:
                return bpx, bsz, apx, asz, emit, _E_ADD_SIDE, i, 0
            if price[i] == undef:
                return bpx, bsz, apx, asz, emit, _E_NO_PRICE, i, 0
            if size[i] <= 0:
                return bpx, bsz, apx, asz, emit, _E_ADD_SIZE, i, 0
            if oid[i] in orders:
                return bpx, bsz, apx, asz, emit, _E_DUPLICATE_ADD, i, 0
            orders[oid[i]] = (np.int64(s), price[i], size[i])
            if s == 66:
                bk, bs, nb, ok = _level_change(bk, bs, nb, price[i], size[i])
            else:
                ak, as_, na, ok = _level_change(ak, as_, na, -price[i], size[i])
        elif a == 67 or a == 77:  # C, M
            if oid[i] not in orders:
                return bpx, bsz, apx, asz, emit, (_E_CANCEL_UNKNOWN if a == 67 else _E_MODIFY_UNKNOWN), i, 0
            o = orders[oid[i]]
            os_ = o[0]
            op = o[1]
            osz = o[2]
            if (side[i] == 66 or side[i] == 65) and side[i] != os_:
                return bpx, bsz, apx, asz, emit, _E_SIDE_MISMATCH, i, os_
            if a == 67:
                if price[i] != undef and price[i] != op:
                    return bpx, bsz, apx, asz, emit, _E_PRICE_MISMATCH, i, op
                if size[i] > osz:
                    return bpx, bsz, apx, asz, emit, _E_CANCEL_TOO_LARGE, i, osz
                if size[i] == osz:
                    del orders[oid[i]]
                else:
                    orders[oid[i]] = (os_, op, osz - size[i])
                if os_ == 66:
                    bk, bs, nb, ok = _level_change(bk, bs, nb, op, -size[i])
                else:
                    ak, as_, na, ok = _level_change(ak, as_, na, -op, -size[i])
            else:
                if price[i] == undef:
                    return bpx, bsz, apx, asz, emit, _E_NO_PRICE, i, 0
                if os_ == 66:
                    bk, bs, nb, ok = _level_change(bk, bs, nb, op, -osz)
                    if ok:
                        bk, bs, nb, ok = _level_change(bk, bs, nb, price[i], size[i])
                else:
                    ak, as_, na, ok = _level_change(ak, as_, na, -op, -osz)
                    if ok:
                        ak, as_, na, ok = _level_change(ak, as_, na, -price[i], size[i])
                if size[i] == 0:
                    del orders[oid[i]]
                else:
                    orders[oid[i]] = (os_, price[i], size[i])
        elif a == 82:  # R
            orders = Dict.empty(key_type=types.int64, value_type=_ORDER_T)
            nb = 0
            na = 0
        # T, F, N: no change to the book
        if not ok:
            return bpx, bsz, apx, asz, emit, _E_LEVEL, i, 0
        if flags[i] & 0x80:
            for j in range(min(levels, nb)):
                bpx[e, j] = bk[nb - 1 - j]
                bsz[e, j] = bs[nb - 1 - j]
            for j in range(min(levels, na)):
                apx[e, j] = -ak[na - 1 - j]
                asz[e, j] = as_[na - 1 - j]
            emit[e] = i
            e += 1
    return bpx, bsz, apx, asz, emit, 0, -1, len(orders)


_ENTRY_T = types.UniTuple(types.int64, 4)  # (side, price, size, entry time) of a resting order


@njit(cache=True)
def _take_fill(pending, oid, removed):  # pragma: no cover - numba
    """The part of ``removed`` that is the book side of an earlier Fill of ``oid``."""
    if oid not in pending:
        return 0
    filled = min(pending[oid], removed)
    if pending[oid] == filled:
        del pending[oid]
    else:
        pending[oid] = pending[oid] - filled
    return filled


@njit(cache=True)
def _mbo_cancels(action, side, price, size, oid, flags, clock):  # pragma: no cover - numba
    """Cancellations of one publisher's (already checked) MBO records: (record index, price,
    size, side B/A, entry time) columns and how many Modify records lost priority."""
    n = action.size
    out = np.empty((n, 5), dtype=np.int64)
    orders = Dict.empty(key_type=types.int64, value_type=_ENTRY_T)
    pending = Dict.empty(key_type=types.int64, value_type=types.int64)
    unknown = np.iinfo(np.int64).min
    k = 0
    lost = 0
    for i in range(n):
        a = action[i]
        key = oid[i]
        if a == 65:  # A
            entry = unknown if flags[i] & 0x20 else clock[i]
            orders[key] = (np.int64(side[i]), price[i], size[i], entry)
        elif a == 70:  # F: the resting order's fill; the C or M removing it follows
            if key in orders:
                pending[key] = pending.get(key, 0) + size[i]
        elif a == 82:  # R
            orders = Dict.empty(key_type=types.int64, value_type=_ENTRY_T)
            pending = Dict.empty(key_type=types.int64, value_type=types.int64)
        elif (a == 67 or a == 77) and key in orders:
            s, p, q, entry = orders[key]
            if a == 67:
                removed, new_p, new_q, new_entry = size[i], p, q - size[i], entry
            elif price[i] != p or size[i] > q:  # moves to the back of a queue
                removed, new_p, new_q, new_entry = q, price[i], size[i], clock[i]
                lost += 1
            else:
                removed, new_p, new_q, new_entry = q - size[i], p, size[i], entry
            gone = removed - _take_fill(pending, key, removed)
            if gone > 0:
                out[k, 0], out[k, 1], out[k, 2], out[k, 3], out[k, 4] = i, p, gone, s, entry
                k += 1
            if new_q > 0:
                orders[key] = (s, new_p, new_q, new_entry)
            else:
                del orders[key]
                if key in pending:
                    del pending[key]
    return out[:k], lost


def _mbo_error(rec: _Records, code: int, i: int, detail: int) -> ValueError:
    oid = int(rec.order_id[i]) & (2**64 - 1)
    act, side, size = chr(rec.action[i]), chr(rec.side[i]), int(rec.size[i])
    messages = {
        _E_CANCEL_UNKNOWN: lambda: (
            "order_id",
            f"cancel (C) of unknown order id {oid} (no Add since the last Clear/snapshot)",
        ),
        _E_MODIFY_UNKNOWN: lambda: (
            "order_id",
            f"modify (M) of unknown order id {oid} (no Add since the last Clear/snapshot)",
        ),
        _E_DUPLICATE_ADD: lambda: ("order_id", f"add (A) of order id {oid}, which is already resting"),
        _E_CANCEL_TOO_LARGE: lambda: ("size", f"cancel of {size} from order {oid}, which rests with size {detail}"),
        _E_SIDE_MISMATCH: lambda: (
            "side",
            f"{act} record on side {side} for order {oid} resting on side {chr(detail)}",
        ),
        _E_PRICE_MISMATCH: lambda: (
            "price",
            f"cancel at price {rec.price[i] / _SCALE} for order {oid} resting at {detail / _SCALE}",
        ),
        _E_ADD_SIDE: lambda: ("side", f"{act} record with side {side}: an order rests on side B or A"),
        _E_NO_PRICE: lambda: ("price", f"{act} record without a price (UNDEF_PRICE)"),
        _E_TOB: lambda: ("flags", "top-of-book MBO (F_TOB) is not supported: load the venue's MBP-1 data instead"),
        _E_ADD_SIZE: lambda: ("size", f"add (A) of size {size}: an order needs a positive size"),
        _E_LEVEL: lambda: ("size", "the aggregated level went negative (inconsistent order state)"),
    }
    name, problem = messages[code]()
    return rec.fail(i, name, problem)


def _mbo_book(rec: _Records, levels: int) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """Rebuilt L2 rows (fixed-point levels) and the record index of each row."""
    pubs = np.unique(rec.publisher_id)
    parts = []
    resting = {}
    for pub in pubs:
        idx = np.flatnonzero(rec.publisher_id == pub)
        out = _rebuild_mbo(
            rec.action[idx], rec.side[idx], rec.price[idx], rec.size[idx], rec.order_id[idx], rec.flags[idx], levels
        )
        bpx, bsz, apx, asz, emit, code, where, n_orders = out
        if code:
            raise _mbo_error(rec, int(code), int(idx[where]), int(n_orders))
        parts.append((idx[emit], bpx, bsz, apx, asz))
        resting[str(int(pub))] = int(n_orders)
    at = np.concatenate([p[0] for p in parts])
    order = np.argsort(at, kind="stable")
    book = {
        name: np.concatenate([p[k] for p in parts])[order]
        for k, name in ((1, "bid_px"), (2, "bid_sz"), (3, "ask_px"), (4, "ask_sz"))
    }
    return book, at[order], {"orders_resting_at_end": resting}


def _mbo_cancel_arrays(rec: _Records) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """The day's ``cancel_*`` arrays from MBO records, their record rows, and notes."""
    parts, lost = [], 0
    for pub in np.unique(rec.publisher_id):
        idx = np.flatnonzero(rec.publisher_id == pub)
        cols = (rec.action, rec.side, rec.price, rec.size, rec.order_id, rec.flags, rec.clock)
        out, n_lost = _mbo_cancels(*(c[idx] for c in cols))
        out[:, 0] = idx[out[:, 0]]
        parts.append(out)
        lost += int(n_lost)
    c = np.concatenate(parts) if parts else np.empty((0, 5), dtype=np.int64)
    c = c[np.argsort(c[:, 0], kind="stable")]
    at = c[:, 0]
    arrays = {
        "cancel_ts": rec.clock[at].astype(np.int64),
        "cancel_px": c[:, 1] / _SCALE,
        "cancel_sz": c[:, 2].astype(np.float64),
        "cancel_side": np.where(c[:, 3] == _BID, 1, -1).astype(np.int8),
        "cancel_entry_ts": np.ascontiguousarray(c[:, 4]),
    }
    notes = {
        "cancels": int(at.size),
        "cancels_entry_unknown": int((c[:, 4] == np.iinfo(np.int64).min).sum()),
        "modifies_losing_priority": lost,
    }
    return arrays, rec.rows[at], notes


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------
def _bad_option(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"databento option {name}={value!r} is invalid; allowed: {allowed}")


def _time_option(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            ts = pd.Timestamp(value)
        except ValueError:
            ts = None
        if ts is not None and ts is not pd.NaT:
            ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
            return int(ts.as_unit("ns").value)
    raise _bad_option(name, value, "an ISO-8601 time string (naive = UTC) or int ns since the epoch, or None")


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise _bad_option(name, value, " | ".join(repr(a) for a in allowed))


# ---------------------------------------------------------------------------------------------
# Selection and trades
# ---------------------------------------------------------------------------------------------
def _select(rec: _Records, instrument_id: int | None, symbol: str | None, publisher_id: int | None) -> _Records:
    ids = np.unique(rec.instrument_id)
    listing = ", ".join(f"{int(i)} ({rec.symbols.get(int(i), '?')})" for i in ids)
    rec.notes["instruments_in_file"] = {str(int(i)): rec.symbols.get(int(i), "") for i in ids}
    if instrument_id is not None:
        if not isinstance(instrument_id, (int, np.integer)) or int(instrument_id) not in set(ids.tolist()):
            raise _bad_option("instrument_id", instrument_id, f"an instrument id in the file: {listing}")
        chosen = int(instrument_id)
        if symbol is not None and rec.symbols.get(chosen) not in (None, symbol):
            raise _bad_option("symbol", symbol, f"{rec.symbols.get(chosen)!r} (the symbol of instrument {chosen})")
    elif symbol is not None:
        match = [int(i) for i in ids if rec.symbols.get(int(i)) == symbol]
        if len(match) != 1:
            raise _bad_option("symbol", symbol, f"a symbol in the file: {listing}")
        chosen = match[0]
    elif ids.size > 1:
        raise ValueError(
            f"{rec.path}: the file holds {ids.size} instruments ({listing}); pass instrument_id= or symbol= to choose one"
        )
    else:
        chosen = int(ids[0])
    mask = rec.instrument_id == chosen
    if ids.size > 1:
        rec.notes["other_instrument_records"] = int((~mask).sum())
    out = rec.take(mask)
    if publisher_id is not None:
        pubs = np.unique(out.publisher_id)
        if not isinstance(publisher_id, (int, np.integer)) or int(publisher_id) not in set(pubs.tolist()):
            raise _bad_option("publisher_id", publisher_id, f"a publisher of instrument {chosen}: {pubs.tolist()}")
        keep = out.publisher_id == int(publisher_id)
        out.notes["other_publisher_records"] = int((~keep).sum())
        out = out.take(keep)
    out.notes["instrument_id"] = chosen
    return out


def _check_sorted(rec: _Records) -> None:
    i = _first_bad(np.diff(rec.clock) >= 0)
    if i >= 0:
        raise rec.fail(
            i + 1,
            rec.clock_name,
            f"timestamp {rec.clock[i + 1]} is before the previous record's {rec.clock[i]} "
            f"(Databento files are sorted by ts_recv)",
        )


def _trades(rec: _Records) -> dict[str, np.ndarray]:
    t = np.flatnonzero(rec.action == _T)
    px = rec.price[t]
    i = _first_bad(px != UNDEF_PRICE)
    if i >= 0:
        raise rec.fail(int(t[i]), "price", "trade (T) record without a price (UNDEF_PRICE)")
    i = _first_bad(rec.size[t] > 0)
    if i >= 0:
        raise rec.fail(int(t[i]), "size", f"trade (T) record with size {rec.size[t[i]]}")
    s = rec.side[t]
    side = np.where(s == _BID, 1, np.where(s == _ASK, -1, 0)).astype(np.int8)
    return {
        "trade_ts": rec.clock[t].astype(np.int64),
        "trade_px": px / _SCALE,
        "trade_sz": rec.size[t].astype(np.float64),
        "trade_side": side,
        "rows": rec.rows[t],
        "fixed_px": px,
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
    _check_choice("clock", clock, ("ts_recv", "ts_event"))
    _check_choice("price_format", price_format, ("auto", "decimal", "fixed"))
    rec = _select(_read(Path(path), clock, price_format), instrument_id, symbol, publisher_id)
    _check_sorted(rec)
    out = _trades(rec)
    out.pop("fixed_px")
    return out


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
def _infer_tick(path: Path, prices: np.ndarray) -> float:
    u = np.unique(prices[prices != UNDEF_PRICE])
    if u.size < 2:
        raise ValueError(
            f"{path}: cannot infer tick_size from {u.size} distinct price(s); pass tick_size= (e.g. 0.25 for ES)"
        )
    g = int(np.gcd.reduce(np.diff(u)))
    return g / _SCALE


def _levels_to_float(px: np.ndarray, sz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    empty = (px == UNDEF_PRICE) | (sz == 0)
    return np.where(empty, np.nan, px / _SCALE), np.where(empty, 0.0, sz.astype(np.float64))


def load(
    path: Path,
    *,
    instrument_id: int | None = None,
    symbol: str | None = None,
    publisher_id: int | None = None,
    levels: int | None = None,
    tick_size: float | None = None,
    lot_size: float = 1.0,
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
    _check_choice("crossed", crossed, ("raise", "drop"))
    _check_choice("clock", clock, ("ts_recv", "ts_event"))
    _check_choice("price_format", price_format, ("auto", "decimal", "fixed"))
    _check_choice("trades", trades, ("auto", "records"))
    if levels is not None and not (isinstance(levels, (int, np.integer)) and 1 <= levels <= MAX_LEVELS):
        raise _bad_option("levels", levels, f"None or an int in 1..{MAX_LEVELS}")
    if tick_size is not None and not (isinstance(tick_size, (int, float)) and np.isfinite(tick_size) and tick_size > 0):
        raise _bad_option("tick_size", tick_size, "None (inferred) or a finite number > 0")
    if not (isinstance(lot_size, (int, float)) and np.isfinite(lot_size) and lot_size > 0):
        raise _bad_option("lot_size", lot_size, "a finite number > 0")
    open_ns = _time_option("session_open", session_open)
    close_ns = _time_option("session_close", session_close)

    rec = _select(_read(path, clock, price_format), instrument_id, symbol, publisher_id)
    if rec.schema == "trades":
        raise ValueError(
            f"{path}: a Databento 'trades' file holds no order book, so it cannot be a MarketDay on its own; load "
            f"the book file (mbp-1, mbp-10 or mbo) of the same instrument, which holds the same trade records "
            f"(read_trades() reads this file)"
        )
    if rec.clock.size == 0:
        raise ValueError(f"{path}: no records for the selected instrument")
    _check_sorted(rec)
    notes = dict(rec.notes)
    notes.update(format="databento", encoding=rec.encoding, schema=rec.schema, clock=rec.clock_name)

    # Book rows.
    last = np.flatnonzero(rec.flags & F_LAST)
    if last.size == 0:
        raise ValueError(f"{path}: no record carries the F_LAST flag (0x80), so no event ever completes")
    notes["records_after_last_F_LAST"] = int(rec.clock.size - 1 - last[-1])
    if rec.schema == "mbo":
        depth = 10 if levels is None else int(levels)
        book, at, extra = _mbo_book(rec, depth)
        notes.update(extra)
        fills = rec.action == _F
        notes["fill_records"] = int(fills.sum())
        notes["fill_volume"] = int(rec.size[fills].sum())
        cancels, cancel_rows, extra = _mbo_cancel_arrays(rec)
        notes.update(extra)
    else:
        cancels, cancel_rows = {}, None
        file_depth = rec.book["bid_px"].shape[1]
        depth = file_depth if levels is None else int(levels)
        if depth > file_depth:
            raise _bad_option("levels", levels, f"None or 1..{file_depth} (the file's {rec.schema} depth)")
        at = last
        book = {k: v[last, :depth] for k, v in rec.book.items()}
        for s in ("bid", "ask"):
            px, sz = book[f"{s}_px"], book[f"{s}_sz"]
            bad = np.flatnonzero(((px == UNDEF_PRICE) & (sz > 0)).any(axis=1))
            if bad.size:
                j = int(np.flatnonzero((px[bad[0]] == UNDEF_PRICE) & (sz[bad[0]] > 0))[0])
                raise rec.fail(int(at[bad[0]]), f"{s}_px_{j:02d}", f"a level of size {sz[bad[0], j]} has no price")
    bid_px, bid_sz = _levels_to_float(book["bid_px"], book["bid_sz"])
    ask_px, ask_sz = _levels_to_float(book["ask_px"], book["ask_sz"])
    ts = rec.clock[at]
    venue = rec.publisher_id[at]
    book_rows = rec.rows[at]

    both = (bid_sz[:, 0] > 0) & (ask_sz[:, 0] > 0)
    cross = both & (bid_px[:, 0] >= ask_px[:, 0])
    if cross.any():
        i = int(np.flatnonzero(cross)[0])
        if crossed == "raise":
            what = "crossed" if bid_px[i, 0] > ask_px[i, 0] else "locked"
            raise _err(
                path,
                book_rows[i],
                "bid_px_00",
                f"{what} book: best bid {bid_px[i, 0]} >= best ask {ask_px[i, 0]} "
                f"({int(cross.sum())} such rows; crossed='drop' drops them)",
            )
        keep = ~cross
        notes["dropped_crossed_rows"] = int(cross.sum())
        notes["dropped_locked_rows"] = int((cross & (bid_px[:, 0] == ask_px[:, 0])).sum())
        ts, venue, book_rows = ts[keep], venue[keep], book_rows[keep]
        bid_px, bid_sz, ask_px, ask_sz = bid_px[keep], bid_sz[keep], ask_px[keep], ask_sz[keep]
        if ts.size == 0:
            raise ValueError(f"{path}: every book row is crossed or locked; nothing is left")

    tr = _trades(rec)
    notes["trade_volume"] = int(rec.size[rec.action == _T].sum())
    sibling = _sibling_trades(path)
    if trades == "auto" and sibling is not None:
        try:
            other = read_trades(sibling, instrument_id=notes["instrument_id"], clock=rec.clock_name)
        except ValueError as exc:
            raise ValueError(
                f"{path}: the trades file beside it ({sibling}) cannot be checked against this file's trades ({exc}); "
                f"pass trades='records' to use this file's own trades"
            ) from exc
        same = other["trade_ts"].size == tr["trade_ts"].size and all(
            np.array_equal(other[k], tr[k]) for k in ("trade_ts", "trade_px", "trade_sz", "trade_side")
        )
        if not same:
            raise ValueError(
                f"{path}: its {tr['trade_ts'].size} trade records differ from the {other['trade_ts'].size} of the "
                f"trades file beside it ({sibling}); pass trades='records' to use this file's own trades"
            )
        notes["trades_checked_against"] = sibling.name

    # Counts worth knowing.
    acts, counts = np.unique(rec.action, return_counts=True)
    notes["records"] = int(rec.clock.size)
    notes["records_by_action"] = {chr(a): int(c) for a, c in zip(acts, counts, strict=True)}
    for name, bit in (("snapshot", F_SNAPSHOT), ("bad_ts_recv", F_BAD_TS_RECV), ("maybe_bad_book", F_MAYBE_BAD_BOOK)):
        notes[f"{name}_records"] = int(((rec.flags & bit) != 0).sum())
    pubs = np.unique(rec.publisher_id)
    notes["publisher_ids"] = [int(p) for p in pubs]
    if pubs.size > 1 and pubs[-1] > np.iinfo(np.int16).max:
        i = int(np.flatnonzero(rec.publisher_id == pubs[-1])[0])
        raise rec.fail(i, "publisher_id", f"publisher id {pubs[-1]} does not fit MarketDay.venue (int16)")

    # Session, tick, symbol.
    first, last_t = int(rec.clock[0]), int(rec.clock[-1])
    if last_t - first > 86_400 * _SCALE and (open_ns is None or close_ns is None):
        raise ValueError(
            f"{path}: the records span {(last_t - first) / 3.6e12:.1f} hours, more than one session; pass "
            f"session_open= and session_close= (one MarketDay per file)"
        )
    notes["session"] = "options" if (open_ns is not None or close_ns is not None) else "first/last record time"
    open_ns = first if open_ns is None else open_ns
    if close_ns is None:
        close_ns = last_t
        if close_ns <= open_ns:
            close_ns = open_ns + 1
            notes["session"] += " (all records share one time: a 1 ns session)"
    if tick_size is None:
        prices = [rec.price] + ([] if rec.book is None else [rec.book["bid_px"].ravel(), rec.book["ask_px"].ravel()])
        tick = _infer_tick(path, np.concatenate(prices))
        notes["tick_size"] = "inferred: gcd of the differences between distinct prices"
    else:
        tick = float(tick_size)
    sym = rec.symbols.get(notes["instrument_id"], str(notes["instrument_id"]))
    date = pd.Timestamp(close_ns - 1, unit="ns", tz="UTC").strftime("%Y-%m-%d")

    meta = MarketMeta(
        symbol=sym,
        tick_size=tick,
        lot_size=float(lot_size),
        session_open_ns=int(open_ns),
        session_close_ns=int(close_ns),
        source=str(path),
        date=date,
        notes=notes,
    )
    day = MarketDay(
        meta=meta,
        ts=np.ascontiguousarray(ts, dtype=np.int64),
        bid_px=np.ascontiguousarray(bid_px),
        bid_sz=np.ascontiguousarray(bid_sz),
        ask_px=np.ascontiguousarray(ask_px),
        ask_sz=np.ascontiguousarray(ask_sz),
        trade_ts=tr["trade_ts"],
        trade_px=tr["trade_px"],
        trade_sz=tr["trade_sz"],
        trade_side=tr["trade_side"],
        venue=venue.astype(np.int16) if pubs.size > 1 else None,
        **cancels,
    )
    return [validate(day, origin=str(path), book_rows=book_rows, trade_rows=tr["rows"], cancel_rows=cancel_rows)]


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
    _check_choice("schema", schema, ("mbp-1", "mbp-10"))
    depth = 1 if schema == "mbp-1" else 10
    rtype = _SCHEMA_RTYPE[schema]
    nb, nt = day.n_books, day.n_trades
    n = nb + nt
    # Trades first at equal times: sort by (ts, kind) with kind 0 = trade, 1 = book.
    ts_all = np.concatenate([day.trade_ts, day.ts])
    kind = np.concatenate([np.zeros(nt, np.int8), np.ones(nb, np.int8)])
    order = np.lexsort((np.arange(n), kind, ts_all))
    is_book = kind[order] == 1
    src = np.concatenate([np.arange(nt), np.arange(nb)])[order]
    # Book state shown by each record: its own row for book records, the last earlier row for trades.
    row_of = np.cumsum(is_book) - 1
    L = min(depth, day.levels)
    lv = {}
    for s in ("bid", "ask"):
        px = np.full((nb + 1, depth), UNDEF_PRICE, dtype=np.int64)
        sz = np.zeros((nb + 1, depth), dtype=np.int64)
        px[1:, :L] = _fixed(getattr(day, f"{s}_px")[:, :L])
        sz[1:, :L] = getattr(day, f"{s}_sz")[:, :L].astype(np.int64)
        lv[f"{s}_px"] = px[row_of + 1]
        lv[f"{s}_sz"] = sz[row_of + 1]
    pub = np.full(n, publisher_id, dtype=np.int64)
    if day.venue is not None:
        pub[is_book] = day.venue[src[is_book]].astype(np.int64)
    t_idx = src[~is_book]
    price = np.full(n, UNDEF_PRICE, dtype=np.int64)
    price[~is_book] = _fixed(day.trade_px[t_idx])
    size = np.zeros(n, dtype=np.int64)
    size[~is_book] = day.trade_sz[t_idx].astype(np.int64)
    side = np.full(n, ord("N"), dtype=np.uint8)
    tside = day.trade_side[t_idx]
    side[~is_book] = np.where(tside > 0, ord("B"), np.where(tside < 0, ord("A"), ord("N")))
    action = np.where(is_book, ord("N"), ord("T")).astype(np.uint8)
    flags = np.where(is_book, F_LAST, 0).astype(np.int64)
    ts = ts_all[order]
    name = path.name.lower()
    if name.endswith((".dbn", ".dbn.zst")):
        import databento_dbn

        dtype = np.dtype(getattr(databento_dbn, _DBN_CLASS[rtype])._dtypes)
        arr = np.zeros(n, dtype=dtype)
        arr["length"] = dtype.itemsize // 4
        arr["rtype"] = rtype
        arr["publisher_id"] = pub
        arr["instrument_id"] = instrument_id
        arr["ts_event"] = ts
        arr["ts_recv"] = ts
        arr["price"] = price
        arr["size"] = size
        arr["action"] = action.view("S1")
        arr["side"] = side.view("S1")
        arr["flags"] = flags
        arr["sequence"] = np.arange(n)
        for j in range(depth):
            for key in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
                arr[f"{key}_{j:02d}"] = lv[key][:, j]
        d0 = pd.Timestamp(int(ts[0]), unit="ns", tz="UTC").date()
        d1 = pd.Timestamp(int(ts[-1]), unit="ns", tz="UTC").date() + pd.Timedelta(days=1)
        interval = type("Interval", (), {"start_date": d0, "end_date": d1, "symbol": str(instrument_id)})()
        mapping = type("Mapping", (), {"raw_symbol": day.meta.symbol, "intervals": [interval]})()
        meta = databento_dbn.Metadata(
            dataset=dataset,
            start=int(ts[0]),
            end=int(ts[-1]) + 1,
            stype_in=databento_dbn.SType.RAW_SYMBOL,
            stype_out=databento_dbn.SType.INSTRUMENT_ID,
            schema=databento_dbn.Schema.from_str(schema),
            symbols=[day.meta.symbol],
            mappings=[mapping],
            version=int(databento_dbn.DBN_VERSION),
        )
        data = bytes(meta.encode()) + arr.tobytes()
        if name.endswith(".zst"):
            data = _zstd().ZstdCompressor().compress(data)
        path.write_bytes(data)
        return path
    cols: dict[str, Any] = {}
    cols["ts_recv"] = _pretty_ts(ts) if pretty_ts else ts
    cols["ts_event"] = cols["ts_recv"]
    cols["rtype"] = rtype
    cols["publisher_id"] = pub
    cols["instrument_id"] = instrument_id
    cols["action"] = action.view("S1").astype(str)
    cols["side"] = side.view("S1").astype(str)
    cols["depth"] = 0
    cols["price"] = _pretty_px(price) if pretty_px else np.where(price == UNDEF_PRICE, "", price.astype(str))
    cols["size"] = size
    cols["flags"] = flags
    cols["ts_in_delta"] = 0
    cols["sequence"] = np.arange(n)
    for j in range(depth):
        for key in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
            v = lv[key][:, j]
            if key.endswith("_px"):
                v = _pretty_px(v) if pretty_px else np.where(v == UNDEF_PRICE, "", v.astype(str))
            cols[f"{key}_{j:02d}"] = v
        cols[f"bid_ct_{j:02d}"] = (lv["bid_sz"][:, j] > 0).astype(np.int64)
        cols[f"ask_ct_{j:02d}"] = (lv["ask_sz"][:, j] > 0).astype(np.int64)
    cols["symbol"] = day.meta.symbol
    pd.DataFrame(cols).to_csv(path, index=False, lineterminator="\n")
    return path

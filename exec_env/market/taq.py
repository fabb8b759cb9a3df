"""NYSE TAQ style multi-venue quotes and trades (CSV): a consolidated book and one book per venue.

Format
------
Two CSV files with a header row, as in the ``highfrequency`` R package's ``sampleQDataRaw`` /
``sampleTDataRaw`` (Daily TAQ records exported to CSV):

* quotes: ``DT_ET, DT_epoch_s, EX, BID, BIDSIZ, OFR, OFRSIZ, SYMBOL`` (``ASK``/``ASKSIZ`` are
  accepted for ``OFR``/``OFRSIZ``; other extra columns are ignored and listed in
  ``notes["ignored_quote_columns"]``). Each record is one venue's (``EX``) new top of book: it
  replaces that venue's previous bid and offer.
* trades: ``DT_ET, DT_epoch_s, EX, SYMBOL, COND, SIZE, PRICE, CORR``, the companion of the quotes
  file: the same name with ``QData`` -> ``TData`` (or ``quotes`` -> ``trades``, ``Quote`` ->
  ``Trade``), or the ``trades=`` option.

``DT_epoch_s`` (seconds since the Unix epoch, UTC, up to 9 decimals) is the clock; it is parsed
from its decimal text exactly (no float rounding). ``DT_ET`` (New York wall time) is only
checked: it must agree with ``DT_epoch_s`` to within 1 ms (the export truncated ``DT_ET`` to the
millisecond and rounded ``DT_epoch_s``; on the samples they differ by 0 ms in 68,294 quote rows
and by exactly 1 ms in 63,107). Quote and trade times must be non-decreasing in each file.

NYSE TAQ conventions (Daily TAQ client specification; Holden & Jacobsen's Daily TAQ SAS code,
found through the search tool; the CTA/UTP sale-condition tables):

* **Quote sizes are in round lots** (100 shares): Holden & Jacobsen multiply ``BIDSIZ``/``ASKSIZ``
  by 100 ("Bid/Ask size are in round lots"). The samples agree: quote sizes are 0..97 (mostly 1-3)
  while trade sizes are shares (median 100, odd lots of 1-99 shares flagged ``I``). The loader
  converts quote sizes to shares with ``quote_size_unit=100``; trade sizes are already shares.
* **Withdrawn quotes**: a price or a size of 0 means that venue has no bid (offer), not a price
  of zero (Holden & Jacobsen delete such quotes; here the venue's side becomes empty). Counted,
  over the session's records, in ``notes["quote_records_bid_empty"]``/``["quote_records_ask_empty"]``
  (the inconsistent cases, price 0 with size > 0 or the reverse, also in
  ``notes["quote_records_zero_price_or_size_only"]``).
* **CORR** (trade correction indicator): ``00`` regular trade; ``01`` original trade later
  corrected; ``07`` original trade later marked erroneous; ``08`` original trade later cancelled;
  ``10`` cancel record; ``11`` error record; ``12`` correction record. Holden & Jacobsen keep
  only ``00``; so does this loader (``corrected="exclude"``), the default raises. The samples hold
  one ``8`` (2018-01-03 08:51:06.055, a 127,300-share FINRA TRF print at 157.04) and its ``10``
  cancel record (17:55:19.250), both outside the regular session.
* **COND** (sale conditions, up to 4 one-character codes): ``@`` or blank regular, ``E``
  automatic execution, ``F`` intermarket sweep, ``I`` odd lot, ``T`` Form T (extended hours),
  ``U`` extended hours out of sequence, ``Z`` sold out of sequence, ``4`` derivatively priced,
  ``B``/``W`` average price, ``7`` qualified contingent, ``V`` contingent, ``N`` next day, ``R``
  seller's option, ``C`` cash, ``O`` opening prints, ``6`` closing prints, ``Q``/``M`` market
  center official open/close, ``P`` prior reference price, ``X`` cross. A trade is kept when
  every code of its ``COND`` (spaces ignored) is in ``trade_conditions``; the default is
  ``highfrequency``'s ``tradesCondition`` set ``{@, E, F, I}`` (plus ``T`` for the extended
  session, where every trade is Form T). Excluded trades are counted per ``COND`` value.
* **Exchange codes** (``EX``) and their ``MarketDay.venue`` ids (``ord(letter) - 64``, so the
  table is the same for every file; 0 marks a row that is not one venue's update, the opening
  state carried from before the session):

  ==== ==== ============================================================
  EX   id   venue
  ==== ==== ============================================================
  A    1    NYSE American (NYSE MKT, formerly AMEX)
  B    2    Nasdaq BX (formerly Boston)
  C    3    NYSE National (formerly National Stock Exchange)
  D    4    FINRA ADF / Trade Reporting Facilities (off-exchange)
  E    5    Market independent (SIP generated)
  H    8    MIAX Pearl Equities
  I    9    Nasdaq ISE
  J    10   Cboe EDGA
  K    11   Cboe EDGX
  L    12   Long-Term Stock Exchange
  M    13   NYSE Chicago (formerly Chicago Stock Exchange)
  N    14   New York Stock Exchange
  P    16   NYSE Arca
  Q    17   Nasdaq (Nasdaq-listed, UTP)
  S    19   Consolidated Tape System (SIP generated)
  T    20   Nasdaq
  U    21   Members Exchange (MEMX)
  V    22   Investors Exchange (IEX)
  W    23   Cboe Stock Exchange (CBSX)
  X    24   Nasdaq PSX (formerly Philadelphia)
  Y    25   Cboe BYX
  Z    26   Cboe BZX
  ==== ==== ============================================================

  Any other letter raises. ``notes["venue_codes"]`` holds the table for the venues of the day.

The books
---------
* **Per venue** (:func:`load_venue_books`): each venue's latest quote, one level, a row at each
  of its updates; trades are the kept trades printed on that venue (``EX``), sides as below.
* **Consolidated** (:func:`load`): after every quote update, all venues' current quotes
  aggregated by price (sizes summed over venues quoting the same price) into ``levels`` levels,
  best first, so level 1 is the NBBO. Several updates with the same timestamp make one row (the
  state after all of them, the canonical rule); ``MarketDay.venue`` is the venue of the last
  update of the row (file order). ``notes["quote_updates_merged_same_ts"]`` counts the merged
  updates.
* **Locked/crossed** consolidated (or venue) rows (best bid >= best ask, e.g. a stale quote
  left by a venue while the others moved): ``crossed="raise"`` (default) names the file, the line
  of the quote that made the book cross and the field; ``crossed="drop"`` drops those rows
  (``notes["dropped_crossed_rows"]``, ``["dropped_locked_rows"]``). Dropping a row never changes
  the venues' quotes: later rows include the quote whose row was dropped.
* **Opening state**: venues' quotes posted before the session open (same New York date) are the
  state at the open (``opening_state="carry"``, default): when the first in-session update is
  after the open, a row stamped at the open carries it (venue id 0). ``"empty"`` starts each
  session from an empty book. Either way the count is in ``notes``.
* **Aggressor side** (TAQ has none), ``side_rule``: ``"quote"`` compares the price with the NBBO
  mid prevailing strictly before the trade's timestamp (a book row stamped ``t`` follows the
  trades stamped ``t``; Holden & Jacobsen also match trades with the NBBO of the prior
  microsecond): above +1, below -1, at the mid, or with no two-sided, unlocked, uncrossed NBBO,
  0. ``"tick"``: +1 (-1) if the price is above (below) the last different price of the day's kept
  trades, 0 before any change. ``"lee_ready"`` (default): the quote rule, and the tick test where
  that gives 0 (Lee & Ready 1991). ``"none"``: all 0. The NBBO here includes rows dropped as
  crossed (such a state gives 0) and the selected venues only.

Sessions and selection
----------------------
``session="regular"`` is 09:30-16:00 New York time, ``"extended"`` 04:00-20:00, or a pair of
``"HH:MM[:SS]"`` strings; bounds come from ``zoneinfo`` for each New York date (one MarketDay
per date with quotes), both ends included, and give ``meta.session_open_ns``/``close_ns``.
Records outside the session (after the close, or before the open when not carried) are excluded
and counted in ``notes``; so are trades with a non-regular condition, corrected trades (with
``corrected="exclude"``), quotes of venues not in ``venues``, and rows of other symbols.
In New York time ``notes["calendar"]`` is ``"us_equities"`` (:mod:`exec_env.market.hours`):
loading warns when a session reaches outside 09:30-16:00 (``"extended"`` does) or falls on a weekend.

Options (keyword arguments of :func:`load` and :func:`load_venue_books`)
-----------------------------------------------------------------------
``symbol=None`` (the file must hold one symbol; else the symbol to select);
``session="regular"``; ``timezone="America/New_York"`` (TAQ's clock for sessions and dates);
``levels=10`` (consolidated book only); ``tick_size=0.01`` (quotes off this grid raise: sub-penny
quotes are not allowed above $1; trades may be off the grid, e.g. midpoint prints, counted in
``notes["trades_off_tick"]``); ``lot_size=1.0`` (shares; every size is converted to shares);
``quote_size_unit=100.0`` (shares per unit of ``BIDSIZ``/``OFRSIZ``; 1 if a file has shares);
``crossed="raise"|"drop"``; ``trades=None`` (the companion file; raises if there is none; it must
hold trades of the quotes' symbol) | a
path | ``False`` (no trades, noted); ``side_rule="lee_ready"|"quote"|"tick"|"none"``;
``trade_conditions=None`` (the default set above) | an iterable of one-character codes;
``corrected="raise"|"exclude"``; ``venues=None`` (all) | an iterable of ``EX`` letters whose
quotes make the book (trades are never filtered by venue); ``opening_state="carry"|"empty"``.

:func:`write_taq` writes a MarketDay as a quotes/trades pair (book level ``k`` quoted by venue
``WRITE_VENUES[k]``), e.g. to export synthetic days; :func:`load` reads it back exactly.

Errors (``ValueError``, naming the file, the 1-based line and the field): wrong column count,
unparsable value, unsorted time, negative size or price, non-integral quote size, quote price off
the tick grid, unknown exchange code, ``DT_ET`` disagreeing with ``DT_epoch_s``, crossed/locked
rows (default), corrected trades (default), several symbols without ``symbol=``.

Measured on the samples (``taq-multivenue``, stock "XXX", 2018-01-02/03)
------------------------------------------------------------------------
131,401 quote records (N 94,422; Y 6,583; B 6,105; P 5,597; T 5,461; Z 4,281; K 3,757; X 1,998;
V 1,722; J 1,262; A 166; M 47) and 77,263 trades (D, the FINRA TRF, prints 23,697; D never
quotes); times sorted in both files, 70,944 quote records share the previous one's millisecond.
Quote sizes 0..97 lots; venue A quotes a stub bid of 90.80 and offers up to 190.00 appear (deep
levels, never the NBBO). Withdrawn sides: 52 bids and 79 offers (venues M and A mostly), always
price and size together. Quotes start at 04:00 (P); N, the most active venue, quotes from 09:30:00.1 to 16:05.

**The consolidated book is locked or crossed most of the time**: in the regular session of
2018-01-02, 20,311 of the 30,348 rows (67% of the time); the older of the two quotes that cross
is a median 69 s old (90th percentile 2,000 s) and crosses are often several ticks wide. Each
venue's own book is never locked or crossed. Real venues cannot stay crossed for minutes, so the sample
most likely holds a subset of the quote updates (or pseudonymised prices): stale venue quotes
linger. With ``venues="N"`` the book is never crossed; ``venues="NP"`` still leaves 2,626 and
2,444 crossed or locked rows.

Regular session with ``crossed="drop"`` (asserted by the integration test; verified by an
independent replay of the raw file):

* quote records in the session: 65,998 and 64,620 (2018-01-02 and 2018-01-03); before the open,
  carried: 673 and 74; after the close: 24 and 12; merged with a same-timestamp update: 35,651 and
  35,271;
* rows dropped as crossed / locked: 16,811 / 3,500 and 12,917 / 4,653; book rows kept: 10,037 and
  11,780, from 14:30:00 UTC (the opening row) to 20:59:58.140 and 20:59:59.950;
* trades kept: 38,858 and 37,457; excluded by condition: 337 and 160 (mostly ``4 B``); outside
  the session: 275 and 176; Lee-Ready sides +1 / -1: 18,789 / 20,069 and 17,904 / 19,553.

The first NBBO (opening row at 09:30:00, from the venues' last quotes before the open):
2018-01-02 158.01 x 400 (K) / 158.30 x 4,100 (K 1 lot + P 40 lots); 2018-01-03 157.11 x 900 (K)
/ 157.32 x 700 (T 3 + Z 4 lots). The default ``crossed="raise"`` stops at line 678 (N bids
158.39 at 09:30:00.115 against P's offer of 158.39: locked). ``DT_ET`` is 0 ms behind
``DT_epoch_s`` in 68,294 quote rows and 1 ms in 63,107. Parsing both files takes about 0.5 s
(~400,000 records/s); a cached load takes a few milliseconds.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

try:  # optional: parses the TAQ sample about 5x faster; the same results without it
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pa_csv
except ImportError:  # pragma: no cover - depends on the environment
    pa = None

from exec_env.market import reader
from exec_env.market.data import MAX_LEVELS, MarketDay, MarketMeta, validate
from exec_env.market.lift import clock_str, date_str, local_ns, parse_session, reprs, session_utc, tick_signs
from exec_env.market.reader import (
    bad_option,
    check_grid,
    check_in,
    check_known,
    check_min,
    check_options,
    check_sorted,
    check_text,
    crossed_rows,
    excerpt,
    fail_first,
    field_error,
    first_places,
    numbers,
    off_grid,
    pick,
    trades_file,
    trades_option,
    zone_info,
)

__all__ = [
    "EXCHANGES",
    "OPENING_VENUE",
    "VENUE_CODES",
    "VERSION",
    "WRITE_VENUES",
    "companions",
    "load",
    "load_venue_books",
    "sniff",
    "write_taq",
]

VERSION = 2  # 2: the US equities calendar named in notes
"""Bumped whenever the same files and options would parse differently (invalidates caches)."""

EXCHANGES: dict[str, str] = {
    "A": "NYSE American",
    "B": "Nasdaq BX",
    "C": "NYSE National",
    "D": "FINRA ADF/TRF",
    "E": "Market independent (SIP)",
    "H": "MIAX Pearl",
    "I": "Nasdaq ISE",
    "J": "Cboe EDGA",
    "K": "Cboe EDGX",
    "L": "Long-Term Stock Exchange",
    "M": "NYSE Chicago",
    "N": "New York Stock Exchange",
    "P": "NYSE Arca",
    "Q": "Nasdaq (UTP)",
    "S": "Consolidated Tape System (SIP)",
    "T": "Nasdaq",
    "U": "MEMX",
    "V": "IEX",
    "W": "Cboe Stock Exchange",
    "X": "Nasdaq PSX",
    "Y": "Cboe BYX",
    "Z": "Cboe BZX",
}
"""TAQ exchange codes (``EX``) and venue names."""
VENUE_CODES: dict[str, int] = {letter: ord(letter) - 64 for letter in EXCHANGES}
"""``MarketDay.venue`` id of each exchange code: ``ord(letter) - 64`` (A=1 ... Z=26)."""
OPENING_VENUE = 0
"""``MarketDay.venue`` of a row that carries the state from before the session open."""

SESSIONS = {
    "regular": (34_200 * 1_000_000_000, 57_600 * 1_000_000_000),
    "extended": (14_400 * 1_000_000_000, 72_000 * 1_000_000_000),
}
"""The named sessions: open and close, ns after local midnight."""
SIDE_RULES = ("lee_ready", "quote", "tick", "none")
REGULAR_CONDITIONS = frozenset("@EFI")
"""Sale condition codes of regular trades (``highfrequency::tradesCondition``'s default)."""
EXTENDED_CONDITIONS = REGULAR_CONDITIONS | {"T"}

_TIME = "DT_epoch_s"
_ET = "DT_ET"
_QUOTE_REQUIRED = (_TIME, "EX", "BID", "BIDSIZ", "OFR", "OFRSIZ", "SYMBOL")
_TRADE_REQUIRED = (_TIME, "EX", "SYMBOL", "COND", "SIZE", "PRICE", "CORR")
_ALIASES = {"ASK": "OFR", "ASKSIZ": "OFRSIZ"}
_COMPANION_SWAPS = (("QData", "TData"), ("qdata", "tdata"), ("Quotes", "Trades"), ("quotes", "trades"),
                    ("QUOTES", "TRADES"), ("Quote", "Trade"), ("quote", "trade"))  # fmt: skip
_ET_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
_ET_TOLERANCE_NS = 1_000_000
_QUOTE_NOTE = " (TAQ fields are not quoted)"
_MAX_TEXT = 64
"""Longest value of a column read as text (times, codes, symbol): a longer one is an error, not a
numpy string array of that width for every row."""
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS

_DEFAULTS: dict[str, Any] = {
    "symbol": None, "session": "regular", "timezone": "America/New_York", "levels": 10, "tick_size": 0.01,
    "lot_size": 1.0, "quote_size_unit": 100.0, "crossed": "raise", "trades": None, "side_rule": "lee_ready",
    "trade_conditions": None, "corrected": "raise", "venues": None, "opening_state": "carry",
}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Registry functions
# ----------------------------------------------------------------------------------------------


def _names(header: list[str]) -> list[str]:
    """The column names of a header line's fields (``ASK``/``ASKSIZ`` read as ``OFR``/``OFRSIZ``)."""
    return [_ALIASES.get(n, n) for n in (c.strip().strip('"') for c in header)]


def _kind(path: Path) -> str | None:
    """``"quotes"``, ``"trades"`` or None, from the header."""
    head = reader.head_bytes(path, 4096).split(b"\n", 1)[0].rstrip(b"\r")  # b"" if unreadable
    cols = set(_names(head.decode("utf-8", errors="replace").split(",")))
    if set(_QUOTE_REQUIRED) <= cols:
        return "quotes"
    if set(_TRADE_REQUIRED) <= cols:
        return "trades"
    return None


def sniff(path: Path) -> bool:
    """A TAQ quotes or trades CSV (by its header); a trades file is read as its quotes file's companion."""
    return _kind(Path(path)) is not None


def companions(path: Path) -> list[Path]:
    """The trades file beside a quotes file (``QData`` -> ``TData``, ``quotes`` -> ``trades``, ...)."""
    path = Path(path)
    if _kind(path) != "quotes":
        return []
    for old, new in _COMPANION_SWAPS:
        candidate = path.with_name(path.name.replace(old, new))
        if old in path.name and candidate.is_file() and _kind(candidate) == "trades":
            return [candidate]
    return []


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------


def _codes_option(name: str, value: Any, allowed: Any, what: str) -> frozenset[str] | None:
    """None, or one-character codes (a string ``"NP"`` means N and P) from ``allowed`` (any when None)."""
    if value is None:
        return None
    items = list(value) if isinstance(value, (str, Iterable)) else None
    if not items or not all(isinstance(c, str) and len(c) == 1 and (allowed is None or c in allowed) for c in items):
        raise bad_option(name, value, f"None or a non-empty iterable of {what}")
    return frozenset(items)


_RULES: dict[str, Any] = {
    "symbol": check_text, "session": lambda n, v: parse_session(v, tuple(SESSIONS)), "timezone": zone_info,
    "trades": trades_option,
    "crossed": ("raise", "drop"), "side_rule": SIDE_RULES, "corrected": ("raise", "exclude"),
    "opening_state": ("carry", "empty"),
    "trade_conditions": lambda n, v: _codes_option(n, v, None, "one-character sale condition codes"),
    "levels": {"low": 1, "high": MAX_LEVELS, "integer": True}, "tick_size": {"low": 1e-8, "high": 1e4},
    "lot_size": {"low": 1e-8, "high": 1e8}, "quote_size_unit": {"low": 1e-8, "high": 1e8},
    "venues": lambda n, v: _codes_option(n, v, EXCHANGES, f"exchange codes from {''.join(EXCHANGES)}"),
}  # fmt: skip
"""The checks of the options (:func:`reader.check_options`), in order."""


def _options(options: dict[str, Any], venue_books: bool = False) -> SimpleNamespace:
    """The options checked, as attributes; ``session`` becomes ``session_name``, ``open_time`` and
    ``close_time`` (texts) and ``open_ns``, ``close_ns``, ``timezone`` also ``tz`` (its ZoneInfo),
    ``trade_conditions`` ``conditions``."""
    check_known("taq", options, [k for k in _DEFAULTS if not (venue_books and k == "levels")])
    o = check_options({**_DEFAULTS, **options}, _RULES)
    sess = o.pop("session")
    o["open_ns"], o["close_ns"] = SESSIONS.get(sess, sess)
    o["open_time"], o["close_time"] = (
        clock_str(t) if t < _DAY_NS else "24:00:00" for t in (o["open_ns"], o["close_ns"])
    )
    o["session_name"] = sess if isinstance(sess, str) else f"{o['open_time']}-{o['close_time']}"
    o["tz"], o["timezone"] = o["timezone"], str(o["timezone"])
    o["symbol"] = o["symbol"].strip() if o["symbol"] else None
    conds = o.pop("trade_conditions")
    regular = EXTENDED_CONDITIONS if o["session_name"] == "extended" else REGULAR_CONDITIONS
    o["conditions"] = conds if conds is not None else regular
    return SimpleNamespace(**o)


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------


def _read(path: Path, required: tuple[str, ...], kind: str, tz: ZoneInfo) -> tuple:
    """The records as strings, their 1-based line numbers, the ignored columns, and the checked
    columns every record has: times (ns), the ``DT_ET`` differences and the exchange codes.

    Checks the header and that every line has the header's field count (no quoted commas); a quotes
    file needs a data row.
    """
    raw, header, fields = reader.csv_text(path)
    names = _names(header)
    for name in required:
        if name not in names:
            raise field_error(path, 1, name, f"column missing from the {kind} header {names}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise field_error(path, 1, dupes[0], f"column appears more than once in the {kind} header {names}")
    reader.check_columns(path, fields[1:], np.arange(2, fields.size + 1), names)
    frame = _frame(raw, names, path)
    if kind == "quotes" and frame.shape[0] == 0:
        raise field_error(path, 2, _TIME, "no data rows after the header line")
    lines = np.arange(2, frame.shape[0] + 2, dtype=np.int64)
    for name in (_TIME, _ET, "EX", "SYMBOL", "CORR", "COND"):
        if name in frame.columns:
            size = frame[name].str.len().to_numpy(dtype=np.float64, na_value=0.0)
            fail_first(size > _MAX_TEXT, path, lines, name,
                       lambda k, c=frame[name]: f"value longer than {_MAX_TEXT} characters: {excerpt(c.iloc[k])}")  # fmt: skip
    ignored = [n for n in names if n not in required and n != _ET]
    ts = _epoch_ns(path, frame, lines)
    check_sorted(path, ts, lines, _TIME)
    et_diff = _check_et(path, frame, lines, ts, tz)
    ex = _text(frame, "EX")
    check_in(path, ex, list(EXCHANGES), lines, "EX")
    return frame, lines, ignored, ts, et_diff, ex.astype("U1")


def _frame(raw: bytes, names: list[str], path: Path | str = "<data>") -> pd.DataFrame:
    """Every column as strings: pyarrow's CSV reader when installed (about 5x faster on the TAQ
    sample), else pandas' C parser; both give the same frame (checked by the tests)."""
    if pa is None:  # pragma: no cover - depends on the environment
        try:
            return pd.read_csv(
                io.BytesIO(raw), header=0, names=names, dtype=str, keep_default_na=False, na_filter=False,
                skip_blank_lines=False, engine="c",
            )  # fmt: skip
        except pd.errors.ParserError:
            raise reader.unclosed_quote(path, raw, names, _QUOTE_NOTE) from None
    try:
        table = pa_csv.read_csv(
            io.BytesIO(raw),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
            parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),
        )  # fmt: skip
    except pa.ArrowInvalid:
        raise reader.unclosed_quote(path, raw, names, _QUOTE_NOTE) from None
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)


def _arrow_text(frame: pd.DataFrame, name: str) -> Any:
    """A column as trimmed arrow strings (pyarrow installed)."""
    return pc.utf8_trim_whitespace(pa.array(frame[name].array).cast(pa.string()))


def _text(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A column as a numpy unicode array with surrounding blanks removed (C loops, no Python per row;
    as fast as pyarrow's trim, and the same on any text: the reader refuses NUL bytes)."""
    return np.char.strip(frame[name].to_numpy(dtype=str))


def _numbers(path: Path, frame: pd.DataFrame, lines: np.ndarray, name: str) -> np.ndarray:
    """A column as finite float64: pyarrow's cast when installed, else (or for a value it cannot read
    or that is not finite) :func:`reader.numbers`, which names the line."""
    if pa is not None:
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = pc.cast(_arrow_text(frame, name), pa.float64()).to_numpy(zero_copy_only=False)
            if np.isfinite(out).all():
                return out
    return numbers(path, frame[name].to_numpy(dtype=object), lines, name)


def _epoch_ns(path: Path, frame: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    """Epoch seconds to exact int64 ns: pyarrow's decimal cast when installed and every value is plain
    digits with at most 9 decimals, else the same from the texts (naming the line of a bad value)."""
    if frame.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    if pa is not None:
        text = _arrow_text(frame, _TIME)
        if pc.all(pc.match_substring_regex(text, r"^[0-9]{1,12}(\.[0-9]{1,9})?$")).as_py():
            seconds = pc.cast(text, pa.decimal128(22, 9))
            return pc.cast(pc.multiply(seconds, pa.scalar(Decimal(_NS), pa.decimal128(10, 0))), pa.int64()).to_numpy()
    whole, dot, frac = np.char.partition(_text(frame, _TIME), ".").T
    whole_ok = np.char.isdigit(whole) & (np.char.str_len(whole) <= 12)
    frac_ok = ((dot == "") & (frac == "")) | (np.char.isdigit(frac) & (np.char.str_len(frac) <= 9))
    fail_first(~(whole_ok & frac_ok), path, lines, _TIME,
               lambda i: f"unparsable time {excerpt(frame[_TIME].iloc[i])} (expected seconds like 1514883853.125)")  # fmt: skip
    return whole.astype(np.int64) * _NS + np.char.ljust(frac, 9, "0").astype(np.int64)


def _check_et(path: Path, frame: pd.DataFrame, lines: np.ndarray, ts: np.ndarray, tz: ZoneInfo) -> dict[str, int]:
    """``DT_ET`` must be within 1 ms of ``DT_epoch_s``; returns the count of each whole-ms difference."""
    if _ET not in frame.columns:
        return {}
    et = pd.to_datetime(_text(frame, _ET), format=_ET_FORMAT, errors="coerce")
    bad = ~np.asarray((et >= pd.Timestamp.min) & (et <= pd.Timestamp.max))  # NaT, or a year numpy ns cannot hold
    fail_first(bad, path, lines, _ET,
               lambda i: f"unparsable time {excerpt(frame[_ET].iloc[i])} (expected {_ET_FORMAT})")  # fmt: skip
    local = pd.DatetimeIndex(pd.to_datetime(ts, unit="ns", utc=True)).tz_convert(tz).tz_localize(None)
    diff = local.as_unit("ns").asi8 - pd.DatetimeIndex(et).as_unit("ns").asi8
    fail_first(np.abs(diff) > _ET_TOLERANCE_NS, path, lines, _ET, lambda i: f"{frame[_ET].iloc[i]} disagrees with "
               f"{_TIME}={frame[_TIME].iloc[i]} ({local[i]} in {tz.key}) by {diff[i] / 1e6:g} ms (more than 1 ms)")  # fmt: skip
    values, counts = np.unique(np.round(diff / 1e6).astype(np.int64), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


@dataclass
class _Quotes:
    ts: np.ndarray
    lines: np.ndarray
    ex: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    odd_zero: np.ndarray
    et_diff: dict[str, int]
    other_symbol: int
    ignored: list[str]
    symbol: str
    self_crossed: int
    """Quotes whose bid is above their own offer, dropped under ``crossed='drop'``."""


def _read_quotes(path: Path, opt: SimpleNamespace) -> _Quotes:
    frame, lines, ignored, ts, et_diff, ex = _read(path, _QUOTE_REQUIRED, "quotes", opt.tz)
    values = {}
    for name in ("BID", "BIDSIZ", "OFR", "OFRSIZ"):
        v, text = _numbers(path, frame, lines, name), frame[name]
        check_min(path, v, lines, name, "size" if name.endswith("SIZ") else "price")
        if name.endswith("SIZ"):
            fail_first(v != np.floor(v), path, lines, name, lambda i: f"quote size {text.iloc[i]!r} is not a whole "  # noqa: B023
                       f"number of units (quote_size_unit={opt.quote_size_unit:g} shares)")  # fmt: skip
        values[name] = v
    bid_empty = (values["BID"] == 0) | (values["BIDSIZ"] == 0)
    ask_empty = (values["OFR"] == 0) | (values["OFRSIZ"] == 0)
    odd = ((values["BID"] == 0) != (values["BIDSIZ"] == 0)) | ((values["OFR"] == 0) != (values["OFRSIZ"] == 0))
    bid_px = np.where(bid_empty, np.nan, values["BID"])
    ask_px = np.where(ask_empty, np.nan, values["OFR"])
    check_grid(path, bid_px, opt.tick_size, lines, "BID")
    check_grid(path, ask_px, opt.tick_size, lines, "OFR")
    sym = _text(frame, "SYMBOL")
    symbol = pick(path, first_places(sym, lines), opt.symbol, "SYMBOL")
    mask = sym == symbol
    crossed = bid_px > ask_px  # at the quote's own venue (False where a side is empty: NaN)
    if opt.crossed == "raise":
        fail_first(crossed, path, lines, "BID", lambda i: f"quote crossed at its own venue {ex[i]}: bid "
                   f"{bid_px[i]:g} > offer {ask_px[i]:g}; pass crossed='drop' to drop such quotes "
                   "(counted in notes)")  # fmt: skip
    keep = mask & ~crossed
    unit = opt.quote_size_unit
    return _Quotes(
        ts=ts[keep], lines=lines[keep], ex=ex[keep], bid_px=bid_px[keep], ask_px=ask_px[keep],
        bid_sz=np.where(bid_empty, 0.0, values["BIDSIZ"] * unit)[keep],
        ask_sz=np.where(ask_empty, 0.0, values["OFRSIZ"] * unit)[keep],
        odd_zero=odd[keep], et_diff=et_diff, other_symbol=int((~mask).sum()), ignored=ignored, symbol=symbol,
        self_crossed=int((crossed & mask).sum()),
    )  # fmt: skip


@dataclass
class _Trades:
    path: Path
    ts: np.ndarray
    lines: np.ndarray
    ex: np.ndarray
    cond: np.ndarray
    size: np.ndarray
    price: np.ndarray
    corr: np.ndarray
    et_diff: dict[str, int]
    other_symbol: int


def _read_trades(path: Path, opt: SimpleNamespace, symbol: str) -> _Trades:
    frame, lines, _, ts, et_diff, ex = _read(path, _TRADE_REQUIRED, "trades", opt.tz)
    size = _numbers(path, frame, lines, "SIZE")
    price = _numbers(path, frame, lines, "PRICE")
    check_min(path, size, lines, "SIZE", "trade size", strict=True)
    check_min(path, price, lines, "PRICE", "trade price", strict=True)
    corr_text = _text(frame, "CORR")
    fail_first(~(np.char.isdigit(corr_text) & (np.char.str_len(corr_text) <= 2)), path, lines, "CORR",
               lambda i: f"unparsable correction indicator {frame['CORR'].iloc[i]!r}")  # fmt: skip
    corr = corr_text.astype(np.int64)
    cond = frame["COND"].to_numpy(dtype=str)
    cond = np.char.replace(cond, " ", "") if cond.size else cond  # numpy's replace fails on no rows
    sym = _text(frame, "SYMBOL")
    mask = sym == pick(path, first_places(sym, lines), symbol, "SYMBOL", wanted_from="the quotes' symbol ")
    return _Trades(path=path, ts=ts[mask], lines=lines[mask], ex=ex[mask], cond=cond[mask], size=size[mask],
                   price=price[mask], corr=corr[mask], et_diff=et_diff,
                   other_symbol=int((~mask).sum()))  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Sessions and books
# ----------------------------------------------------------------------------------------------


def _aggregate(px: np.ndarray, sz: np.ndarray, levels: int, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate (G, V) venue quotes by price into (G, levels), best first; empty: NaN / 0."""
    g = px.shape[0]
    live = sz > 0
    key = np.where(live, -px if descending else px, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    k = np.take_along_axis(key, order, axis=1)
    s = np.take_along_axis(sz, order, axis=1)
    p = np.take_along_axis(px, order, axis=1)
    alive = np.isfinite(k)
    new = np.ones_like(alive)
    new[:, 1:] = k[:, 1:] != k[:, :-1]
    level = np.cumsum(new & alive, axis=1) - 1
    keep = alive & (level < levels)
    flat = np.nonzero(keep)[0] * levels + level[keep]
    out_sz = np.bincount(flat, weights=s[keep], minlength=g * levels).reshape(g, levels)
    out_px = np.full(g * levels, np.nan)
    out_px[flat] = p[keep]
    return out_px.reshape(g, levels), out_sz


@dataclass
class _Book:
    """Rows of one session's book (all groups, before any crossed-row drop)."""

    ts: np.ndarray
    lines: np.ndarray
    venue: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    field: np.ndarray
    """'BID' or 'OFR': the field of the update that decided whether the row is crossed."""


def _book_rows(q: _Quotes, idx: np.ndarray, slots: np.ndarray, n_slots: int, levels: int) -> _Book:
    """The book after each timestamp group of records ``idx`` (venue slots ``slots``)."""
    ts = q.ts[idx]
    new_ts = np.diff(ts) != 0
    ends = np.append(np.flatnonzero(new_ts), ts.size - 1)  # the last record of each group
    gid = np.r_[0, np.cumsum(new_ts)]  # each record's group
    last = np.full((ends.size, n_slots), -1, dtype=np.int64)
    np.maximum.at(last, (gid, slots), np.arange(idx.size))
    last = np.maximum.accumulate(last, axis=0)
    has = last >= 0
    rec = idx[np.where(has, last, 0)]  # a venue without a quote yet: size 0 (its price is never read)
    bpx, bsz = _aggregate(q.bid_px[rec], np.where(has, q.bid_sz[rec], 0.0), levels, descending=True)
    apx, asz = _aggregate(q.ask_px[rec], np.where(has, q.ask_sz[rec], 0.0), levels, descending=False)
    end_rec = idx[ends]
    below_ask = q.bid_px[end_rec] < np.nan_to_num(apx[:, 0], nan=np.inf)
    field = np.where((q.bid_sz[end_rec] > 0) & ~below_ask, "BID", "OFR")
    return _Book(ts=ts[ends], lines=q.lines[end_rec], venue=_codes(q.ex[end_rec]), bid_px=bpx, bid_sz=bsz,
                 ask_px=apx, ask_sz=asz, field=field)  # fmt: skip


def _codes(ex: np.ndarray) -> np.ndarray:
    """``VENUE_CODES`` of an array of exchange letters (dtype ``U1``)."""
    return (np.ascontiguousarray(ex, dtype="U1").view(np.int32) - 64).astype(np.int16)


def _slots(ex: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The sorted venues present and each record's index among them."""
    present = np.unique(ex)
    return [str(e) for e in present], np.searchsorted(present, ex).astype(np.int64)


def _take(book: _Book, rows: np.ndarray) -> _Book:
    return _Book(**{k: getattr(book, k)[rows] for k in _Book.__dataclass_fields__})


def _crossed(path: Path, book: _Book, policy: str, what: str, notes: dict[str, Any]) -> _Book:
    """The crossed/locked policy applied (:func:`reader.crossed_rows`; dropped rows counted in ``notes``)."""

    def after(i: int) -> str:
        venue = book.venue[i]
        return f"{what} after " + (
            "the opening state" if venue == OPENING_VENUE else f"this quote (venue {chr(64 + venue)})"
        )

    top = (book.bid_px[:, 0], book.bid_sz[:, 0], book.ask_px[:, 0], book.ask_sz[:, 0])
    keep = crossed_rows(path, book.lines, top, policy, notes, lambda i: str(book.field[i]), after)
    return _take(book, np.flatnonzero(keep))


def _session_rows(p: _Parsed, s: _Session, every: _Book, what: str, n_in_session: int) -> tuple[_Book, dict]:
    """Session ``s``'s rows of the book ``every`` (all its states; ``n_in_session`` quote records in
    the session), with a row at the open carrying the pre-open state when needed and the crossed
    policy; their notes."""
    inside = np.flatnonzero((every.ts >= s.open_ns) & (every.ts <= s.close_ns))
    before = np.flatnonzero(every.ts < s.open_ns)
    pre_open = p.opt.opening_state == "carry" and before.size > 0  # a state to carry
    opening = bool(pre_open and (inside.size == 0 or every.ts[inside[0]] > s.open_ns))
    book = _take(every, np.r_[before[-1:], inside] if opening else inside)
    if opening:
        book.ts[0] = s.open_ns
        book.venue[0] = OPENING_VENUE
    notes = {"quote_updates_merged_same_ts": n_in_session - inside.size, "opening_row": opening}
    book = _crossed(p.path, book, p.opt.crossed, what, notes)
    notes["book_rows"] = int(book.ts.size)
    return book, notes


def _infer_sides(rule: str, trade_ts: np.ndarray, trade_px: np.ndarray, nbbo: _Book) -> np.ndarray:
    """Aggressor side of each trade (see the module docstring); ``nbbo`` holds every state of the day."""
    n = trade_ts.size
    if rule == "none" or n == 0:
        return np.zeros(n, dtype=np.int8)
    tick = tick_signs(trade_px).astype(np.int8)
    if rule == "tick":
        return tick
    g = np.searchsorted(nbbo.ts, trade_ts, side="left") - 1  # the state strictly before the trade
    ok = g >= 0
    gg = np.maximum(g, 0)
    bid = np.where(ok & (nbbo.bid_sz[gg, 0] > 0), nbbo.bid_px[gg, 0], np.nan)
    ask = np.where(ok & (nbbo.ask_sz[gg, 0] > 0), nbbo.ask_px[gg, 0], np.nan)
    valid = np.isfinite(bid) & np.isfinite(ask) & (bid < ask)
    quote = np.where(valid, np.sign(trade_px - 0.5 * (bid + ask)), 0).astype(np.int8)  # 0 at the mid
    return quote if rule == "quote" else np.where(quote != 0, quote, tick)


def _counts(values: np.ndarray) -> dict[str, int]:
    keys, counts = np.unique(values.astype(str), return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts, strict=True)}


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


@dataclass
class _Session:
    """One New York date: its quote record indices (all venues) and session bounds."""

    day: int  # the date, in days since 1970-01-01
    open_ns: int
    close_ns: int
    idx: np.ndarray
    """Selected records of the date up to the close (pre-open ones only when carried)."""
    notes: dict[str, Any]


@dataclass
class _Parsed:
    path: Path
    opt: SimpleNamespace
    quotes: _Quotes
    trades: _Trades | None
    sessions: list[_Session]
    trade_days: np.ndarray


def _parse(path: Path, opt: SimpleNamespace) -> _Parsed:
    kind = _kind(path)
    if kind == "trades":
        raise ValueError(
            f"{path}: this is a TAQ trades file; load its quotes file, which reads this one as its companion "
            "(or pass trades=<this path>)"
        )
    if kind != "quotes":
        raise ValueError(f"{path}: not a TAQ quotes file (the header needs the columns {list(_QUOTE_REQUIRED)})")
    q = _read_quotes(path, opt)
    tpath = trades_file(path, opt.trades, (companions(path) or [None])[0], _kind)
    trades = _read_trades(tpath, opt, q.symbol) if tpath is not None else None
    qdays = local_ns(q.ts, opt.timezone) // _DAY_NS
    tdays = local_ns(trades.ts, opt.timezone) // _DAY_NS if trades is not None else np.zeros(0, np.int64)
    venue_ok = np.ones(q.ts.size, bool) if opt.venues is None else np.isin(q.ex, sorted(opt.venues))
    carry = opt.opening_state == "carry"
    sessions, days = [], np.unique(qdays)
    bounds = session_utc(opt.session_name, days * _DAY_NS + np.array([[opt.open_ns], [opt.close_ns]]), opt.timezone)
    for dn, open_ns, close_ns in zip(days.tolist(), *bounds.tolist(), strict=True):
        on_day = qdays == dn
        sel = on_day & venue_ok
        before = sel & (q.ts < open_ns)
        after = sel & (q.ts > close_ns)
        inside = sel & ~before & ~after
        idx = np.flatnonzero(inside | (before & carry))
        if idx.size == 0:
            raise ValueError(
                f"{path}: date {date_str(dn * _DAY_NS)} has {int(on_day.sum())} quote records but none in the {opt.session_name} "
                f"session ({opt.open_time}-{opt.close_time} {opt.timezone}) of the selected venues"
            )
        notes = {
            "quote_records": int(on_day.sum()),
            "quote_records_in_session": int(inside.sum()),
            "quote_records_before_session": int(before.sum()),
            "quote_records_before_session_carried": int(before.sum()) if carry else 0,
            "quote_records_after_session": int(after.sum()),
            "quote_records_excluded_venue": int((on_day & ~venue_ok).sum()),
            "quote_records_bid_empty": int((np.isnan(q.bid_px) & inside).sum()),  # an empty side has no price
            "quote_records_ask_empty": int((np.isnan(q.ask_px) & inside).sum()),
            "quote_records_zero_price_or_size_only": int((q.odd_zero & inside).sum()),
        }
        sessions.append(_Session(day=dn, open_ns=open_ns, close_ns=close_ns, idx=idx, notes=notes))
    if trades is not None:
        fail_first(~np.isin(tdays, days), trades.path, trades.lines, _TIME,
                   lambda i: f"trade on a date with no quotes ({date_str(tdays[i] * _DAY_NS)})")  # fmt: skip
    return _Parsed(path=path, opt=opt, quotes=q, trades=trades, sessions=sessions, trade_days=tdays)


def _select_trades(p: _Parsed, s: _Session, nbbo: _Book) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    """Indices of the session's kept trades, the notes about the others, and the kept trades' sides
    inferred against ``nbbo`` (every state of the day)."""
    t = p.trades
    if t is None:
        return np.zeros(0, np.int64), {"trades_file": "none (trades=False)"}, np.zeros(0, np.int8)
    on_day = p.trade_days == s.day
    inside = on_day & (t.ts >= s.open_ns) & (t.ts <= s.close_ns)
    corrected = inside & (t.corr != 0)
    if p.opt.corrected == "raise":
        fail_first(corrected, t.path, t.lines, "CORR",
                   lambda i: f"corrected/cancelled trade (CORR={t.corr[i]}); pass corrected='exclude' to exclude such trades")  # fmt: skip
    allowed = p.opt.conditions
    unique, inverse = np.unique(t.cond, return_inverse=True)
    unique_ok = np.array([all(c in allowed for c in (cond or "@")) for cond in unique], dtype=bool)  # a few dozen
    regular = inside & ~corrected & unique_ok[inverse.reshape(-1)]
    excluded_cond = inside & ~corrected & ~regular
    keep = np.flatnonzero(regular)
    px = t.price[keep]
    notes = {
        "trades_file": str(t.path),
        "trade_records": int(on_day.sum()),
        "trades_outside_session": int((on_day & ~inside).sum()),
        "trades_excluded_corrected": _counts(t.corr[corrected]),
        "trades_excluded_condition": int(excluded_cond.sum()),
        "trades_excluded_by_condition": _counts(t.cond[excluded_cond]),
        "trades_kept": int(keep.size),
        "trades_off_tick": int(off_grid(px, p.opt.tick_size).sum()),
        "trades_kept_by_exchange": _counts(t.ex[keep]),
        "trade_conditions_kept": "".join(sorted(allowed)),
    }
    return keep, notes, _infer_sides(p.opt.side_rule, t.ts[keep], px, nbbo)


def _day(
    p: _Parsed, s: _Session, notes: dict, book: _Book, venue: np.ndarray, keep: np.ndarray, side: np.ndarray
) -> MarketDay:
    """A validated day of ``book`` (rows of ``venue``) and the trades ``keep`` with their ``side``."""
    t, opt = p.trades, p.opt
    notes = {
        "format": "taq",
        **({"calendar": "us_equities"} if opt.timezone == "America/New_York" else {}),
        "session": opt.session_name,
        "session_local": f"{opt.open_time}-{opt.close_time} {opt.timezone} (both included)",
        "quote_size_unit": opt.quote_size_unit,
        "sizes": f"shares (quote BIDSIZ/OFRSIZ x {opt.quote_size_unit:g}; trade SIZE as is)",
        "opening_state": opt.opening_state,
        "crossed": opt.crossed,
        "dropped_self_crossed_quotes": p.quotes.self_crossed,
        "side_rule": opt.side_rule,
        "corrected": opt.corrected,
        "venues_selected": "all" if opt.venues is None else "".join(sorted(opt.venues)),
        "other_symbol_quote_rows": p.quotes.other_symbol,
        "other_symbol_trade_rows": t.other_symbol if t is not None else 0,
        "ignored_quote_columns": p.quotes.ignored,
        "dt_et_check": "DT_epoch_s (New York time) - DT_ET within 1 ms; counts per ms (whole file)",
        "dt_et_minus_ms_quotes": p.quotes.et_diff,
        "dt_et_minus_ms_trades": t.et_diff if t is not None else {},
        **s.notes,
        **notes,
        "trade_side_counts": _counts(side),
    }
    meta = MarketMeta(
        symbol=p.quotes.symbol, tick_size=opt.tick_size, lot_size=opt.lot_size, session_open_ns=s.open_ns,
        session_close_ns=s.close_ns, source=str(p.path), date=date_str(s.day * _DAY_NS), notes=notes,
    )  # fmt: skip
    trades = None if t is None else (t.ts[keep], t.price[keep], t.size[keep], side)
    day = MarketDay.build(meta, (book.ts, book.bid_px, book.bid_sz, book.ask_px, book.ask_sz), trades,
                          venue=venue.astype(np.int16))  # fmt: skip
    rows, origin = (None, None) if t is None else (t.lines[keep], t.path)
    return validate(day, p.path, book.lines, rows, trade_origin=origin)


def load(path: Path, **options: Any) -> list[MarketDay]:
    """The consolidated multi-venue book and trades, one MarketDay per New York date (see module docs)."""
    opt = _options(options)
    p = _parse(Path(path), opt)
    q = p.quotes
    days = []
    for s in p.sessions:
        present, slots = _slots(q.ex[s.idx])
        every = _book_rows(q, s.idx, slots, len(present), opt.levels)
        book, book_notes = _session_rows(p, s, every, "consolidated book", int(s.notes["quote_records_in_session"]))
        keep, tnotes, side = _select_trades(p, s, every)
        notes = {
            "book": "consolidated",
            "levels": opt.levels,
            "venue_codes": {e: VENUE_CODES[e] for e in present},
            "venue_names": {e: EXCHANGES[e] for e in present},
            "venue_code_opening_row": OPENING_VENUE,
            **book_notes,
            **tnotes,
        }
        days.append(_day(p, s, notes, book, book.venue, keep, side))
    return days


def load_venue_books(path: Path, **options: Any) -> dict[str, list[MarketDay]]:
    """One book per venue (its own quote, one level), keyed by exchange code, one MarketDay per date.

    Takes the options of :func:`load` except ``levels``. Each venue's trades are the kept trades
    printed on that venue (``EX``), with sides inferred against the consolidated NBBO.
    """
    opt = _options(options, venue_books=True)
    p = _parse(Path(path), opt)
    q, t = p.quotes, p.trades
    out: dict[str, list[MarketDay]] = {}
    for s in p.sessions:
        present, slots = _slots(q.ex[s.idx])
        keep, tnotes, side = _select_trades(p, s, _book_rows(q, s.idx, slots, len(present), 1))
        for e in present:
            own = s.idx[q.ex[s.idx] == e]
            every = _book_rows(q, own, np.zeros(own.size, np.int64), 1, 1)
            n_in = int(((q.ts[own] >= s.open_ns) & (q.ts[own] <= s.close_ns)).sum())
            book, book_notes = _session_rows(p, s, every, f"book of venue {e}", n_in)
            if book.ts.size == 0:
                continue  # quotes only before the open (not carried), or only crossed ones dropped
            mine = (t.ex[keep] == e) if t is not None else np.zeros(0, bool)
            notes = {"book": f"venue {e}", "venue": e, "venue_name": EXCHANGES[e], "venue_code": VENUE_CODES[e],
                     "venue_quote_records_in_session": n_in, **book_notes, **tnotes, "venue_trades": int(mine.sum())}  # fmt: skip
            venue = np.full(book.ts.size, VENUE_CODES[e], dtype=np.int16)
            out.setdefault(e, []).append(_day(p, s, notes, book, venue, keep[mine], side[mine]))
    return out


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

WRITE_VENUES = "NPTZKYBJXVAMCIWLU"
"""Venue of each book level in :func:`write_taq`: level k is quoted by ``WRITE_VENUES[k]``."""


def _epoch_text(ts: np.ndarray) -> pd.Series:
    ts = np.asarray(ts, dtype=np.int64)
    return pd.Series(ts // _NS).astype(str) + "." + pd.Series(ts % _NS).astype(str).str.zfill(9)


def _et_text(ts: np.ndarray, timezone: str) -> pd.Series:
    local = pd.to_datetime(np.asarray(ts, np.int64), unit="ns", utc=True).tz_convert(ZoneInfo(timezone))
    return pd.Series(local.strftime(_ET_FORMAT)).str[:-3]


def write_taq(
    day: MarketDay,
    quotes_path: str | Path,
    trades_path: str | Path | None = None,
    *,
    quote_size_unit: float = 100.0,
    timezone: str = "America/New_York",
) -> tuple[Path, Path | None]:
    """Write ``day`` as TAQ quotes (and trades) CSV files that :func:`load` reads back.

    TAQ carries one quote per venue, so book level ``k`` is quoted by venue ``WRITE_VENUES[k]``:
    a record for that venue whenever level ``k`` changes (both sides, 0 for an empty side), all
    stamped with the row's time. The consolidated book of the file is then exactly ``day``'s book.
    Book sizes must be whole multiples of ``quote_size_unit``. Trades are written on
    venue ``N`` (NYSE) with a blank condition and ``CORR`` 0 (sides are not carried: TAQ has none).
    Prices are written with ``repr`` (they read back bit for bit), times with 9 decimals.
    """
    if day.levels > len(WRITE_VENUES):
        raise ValueError(f"write_taq: day has {day.levels} levels, at most {len(WRITE_VENUES)} venues can carry them")
    quotes_path = Path(quotes_path)
    n, levels = day.bid_px.shape
    changed = np.zeros((n, levels), bool)
    changed[0] = True
    for a in (day.bid_px, day.bid_sz, day.ask_px, day.ask_sz):
        changed[1:] |= (a[1:] != a[:-1]) & ~(np.isnan(a[1:]) & np.isnan(a[:-1]))  # NaN to NaN is no change
    rows, lev = np.nonzero(changed)  # row-major: time order, then level
    sizes = {}
    for name, a in (("BIDSIZ", day.bid_sz), ("OFRSIZ", day.ask_sz)):
        units = a[rows, lev] / quote_size_unit
        if np.any(units != np.round(units)):
            raise ValueError(f"write_taq: {name} sizes of {day.meta.source} are not multiples of {quote_size_unit:g}")
        sizes[name] = units.astype(np.int64)
    ts = day.ts[rows]
    bid = np.where(day.bid_sz[rows, lev] > 0, day.bid_px[rows, lev], 0.0)
    ask = np.where(day.ask_sz[rows, lev] > 0, day.ask_px[rows, lev], 0.0)
    quotes = pd.DataFrame({
        "DT_ET": _et_text(ts, timezone), "DT_epoch_s": _epoch_text(ts),
        "EX": np.array(list(WRITE_VENUES[:levels]))[lev], "BID": reprs(bid), "BIDSIZ": sizes["BIDSIZ"],
        "OFR": reprs(ask), "OFRSIZ": sizes["OFRSIZ"], "SYMBOL": day.meta.symbol,
    })  # fmt: skip
    quotes.to_csv(quotes_path, index=False)
    if trades_path is None:
        return quotes_path, None
    trades_path = Path(trades_path)
    sz = np.asarray(day.trade_sz)
    size_text = [str(int(x)) if x == int(x) else repr(float(x)) for x in sz]
    trades = pd.DataFrame({
        "DT_ET": _et_text(day.trade_ts, timezone), "DT_epoch_s": _epoch_text(day.trade_ts), "EX": "N",
        "SYMBOL": day.meta.symbol, "COND": "", "SIZE": size_text, "PRICE": reprs(day.trade_px), "CORR": 0,
    }, columns=[_ET, *_TRADE_REQUIRED])  # fmt: skip
    trades.to_csv(trades_path, index=False)
    return quotes_path, trades_path

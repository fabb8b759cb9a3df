"""Tardis.dev downloadable CSV files: ``incremental_book_L2``, ``book_snapshot_N`` and ``trades``.

Format (registry name ``"tardis"``; https://docs.tardis.dev/downloadable-csv-files)
==================================================================================
Comma-separated, ``\\n`` line ends, one header line, no quoting, plain or gzip (``.csv.gz``, as Tardis
serves them) or zstd; timestamps are integer **microseconds** since the epoch, UTC. The dataset is
recognised by the header:

* ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``.
  One row per price level update; ``side`` is ``bid``/``ask``; ``amount`` is the new absolute size
  of the level, 0 removes it. Rows of one exchange message share a ``local_timestamp``. A run of
  ``is_snapshot=true`` rows after a non-snapshot row (or at the start) resets the book (a new day or
  a reconnection); update rows before the first snapshot are skipped, as Tardis documents
  (``notes["updates_before_first_snapshot"]``). The full book is rebuilt (compiled) and after every
  message (distinct ``local_timestamp``) its best ``levels`` (default 20) levels per side make a row.
* ``book_snapshot_N`` (``book_snapshot_25``, ``book_snapshot_5``): ``exchange,symbol,timestamp,
  local_timestamp`` then ``asks[i].price,asks[i].amount,bids[i].price,bids[i].amount`` for
  ``i = 0..N-1``; empty cells are missing levels (an ``amount`` of 0 is also read as a missing level:
  ``notes["zero_amount_levels"]``). Each row is a book row; ``levels`` defaults to ``N``.
* ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``; ``side`` is the
  aggressor (liquidity taker): ``buy`` -> +1, ``sell`` -> -1, ``unknown`` -> 0.

A book file gives a day's book; its trades come from, in order: the option ``trades=path``; else the
*paired file* beside it, named as Tardis' downloaders name files
(``{exchange}_{data_type}_{YYYY-MM-DD}_{symbol}.csv.gz``): the book file
``binance_incremental_book_L2_2024-08-08_BTCUSDT.csv.gz`` pairs with
``binance_trades_2024-08-08_BTCUSDT.csv.gz`` (or ``.csv``), which is then a companion (loaded with
the book, never as a day of its own). Without either the load raises (as for TAQ): pass
``trades=False`` for a day without trades (empty trade arrays, ``notes["trades_file"] = None``),
which also ignores a paired file. A trades file loaded alone is an error (it has no book). The
exchange of both files must agree, and the trades file must hold rows of the book's symbol.

Clock and sessions
------------------
``local_timestamp`` (message arrival at Tardis' collector) is the replay clock: that is when the data
was known, and Tardis orders and splits its files by it. The exchange ``timestamp`` is not used as
the clock; ``notes["exchange_minus_local_ms"]`` summarises ``timestamp - local_timestamp``. A day is a
UTC date; ``session_open_ns`` is the first book row of the date, ``session_close_ns`` the last row of
either file on that date; ``session=("HH:MM:SS", "HH:MM:SS")`` sets UTC times instead (as in
:mod:`exec_env.market.crypto`).

Options: ``levels`` (1..50; default 20 for incremental files, N for snapshot files; more than N is
an error); ``tick_size=None``: gcd of every price on its decimal grid (a given tick must divide every
price); ``lot_size=None``: gcd of the trade amounts, or of the book amounts without trades;
``symbol=None``: the file's only symbol (a file of several symbols needs ``symbol=`` to pick one; rows
of other symbols are counted in ``notes["rows_other_symbols"]``); ``trades``; ``crossed`` "raise" |
"drop" (a crossed or locked book row is an error naming the line unless dropped, counted in notes);
``session``. Amounts are as the exchange gives them (contracts for some derivatives).

Captures in several files
-------------------------
Tardis serves one file per UTC date; a capture of one stream can also be split anywhere (at
midnight, on size). The book files of one stream (same exchange, dataset and symbol: see
:func:`stream_key`) are read as one capture when loaded together (``load([...])``, or a folder, glob
or list given to ``load_market``, which groups them and orders them by their first row's time), as
:mod:`exec_env.market.crypto` does for Binance: rows are taken in file order, ``local_timestamp``
must not go back across files, and a later file continues the previous file's book: its updates
apply to it, and a snapshot block at its start resets it (``notes["file_restarts"]``). A later file
loaded alone has no book until its first snapshot block (an error when it has none, saying to load
the files together). Each book file's paired trades file is read with it (``trades=`` names one
file, so it is for a single book file). Errors name the file and its own line; each UTC date still
yields its own day, ``meta.source`` and ``notes["files"]`` list the files read.

Malformed input, each a ``ValueError`` naming the file, the 1-based line and the field: wrong column
count, unparsable or missing value, ``is_snapshot`` or ``side`` out of its set, negative amount,
``local_timestamp`` going backwards (within a file or across the files of a stream), crossed or
locked book, mismatched trades file.

No Tardis sample is in the shared data (their files are licensed); the tests write files from
synthetic days with :func:`write_tardis`, in exactly the documented layout, and read them back.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.market import reader
from exec_env.market.crypto import (
    C_MERGED,
    C_PRE_FIRST,
    CAPTURE_RULES,
    Book,
    capture_meta,
    check_levels,
    level_changes,
    make_days,
    minmax_median,
    rebuild_book,
    session_note,
)
from exec_env.market.data import MarketDay
from exec_env.market.lift import parse_session
from exec_env.market.reader import (
    Capture,
    bad_option,
    check_in,
    check_min,
    check_options,
    check_sorted,
    crossed_rows,
    excerpt,
    fail_first,
    field_error,
    first_places,
    numbers,
    pick,
    trades_file,
    trades_option,
)

__all__ = ["VERSION", "companions", "load", "sniff", "stream_key", "write_tardis"]

VERSION = 2  # 2: files of one stream read together; dropped_locked_rows counted apart
PREFIX = ["exchange", "symbol", "timestamp", "local_timestamp"]
INCREMENTAL = [*PREFIX, "is_snapshot", "side", "price", "amount"]
TRADES = [*PREFIX, "id", "side", "price", "amount"]
_NAME = re.compile(
    r"^(?P<ex>.+?)_(?P<dt>incremental_book_L2|book_snapshot_\d+|trades)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<sym>.+?)"
    r"\.csv(?P<gz>\.gz)?$"
)


def _snapshot_columns(n: int) -> list[str]:
    level = ("asks[{}].price", "asks[{}].amount", "bids[{}].price", "bids[{}].amount")
    return PREFIX + [name.format(i) for i in range(n) for name in level]


def _dataset(header: list[str]) -> tuple[str, int]:
    """('incremental' | 'snapshot' | 'trades', snapshot depth) of a header; ValueError if none."""
    if header == INCREMENTAL:
        return "incremental", 0
    if header == TRADES:
        return "trades", 0
    n, rest = divmod(len(header) - len(PREFIX), 4)
    if n > 0 and rest == 0 and header == _snapshot_columns(n):
        return "snapshot", n
    raise ValueError(header)


def sniff(path: Path) -> bool:
    """The first line is a Tardis CSV header of a supported dataset."""
    try:
        _header_kind(Path(path))
    except ValueError:
        return False
    return True


def _paired_trades(path: Path) -> Path | None:
    m = _NAME.match(path.name)
    if not m or m["dt"] == "trades":
        return None
    for suffix in (".csv.gz", ".csv") if m["gz"] else (".csv", ".csv.gz"):
        partner = path.with_name(f"{m['ex']}_trades_{m['date']}_{m['sym']}{suffix}")
        if partner.is_file():
            return partner
    return None


def companions(path: Path) -> list[Path]:
    """The paired trades file of a book file (see the module docstring), if it exists."""
    partner = _paired_trades(Path(path))
    return [partner] if partner is not None else []


def stream_key(path: Path) -> tuple[str, int] | None:
    """``("<exchange> <dataset> <symbol>", first local time)`` of a book file: the book files of one
    stream are read together, oldest first, by ``load_market`` (see "Captures in several files");
    None for a trades file or an unreadable head."""
    lines = reader.head_lines(Path(path), 2, limit=1 << 16)
    try:
        kind, depth = _dataset(lines[0].split(","))
        exchange, symbol, _, local = lines[1].split(",")[:4]
        start = int(local)
    except (ValueError, IndexError):
        return None
    return None if kind == "trades" else (f"{exchange} {kind}{depth or ''} {symbol}", start)


def _read_csv(path: Path) -> pd.DataFrame:
    """Parse one Tardis CSV (prices and amounts as float64); data row k is file line k + 2. Checks the
    header and the column count of every line."""
    data, header, fields = reader.csv_text(path)  # blank lines at the end ignored, inside refused
    try:
        _dataset(header)
    except ValueError:
        raise _header_error(path, ",".join(header)) from None
    reader.check_columns(path, fields, np.arange(1, fields.size + 1), header)
    dtypes = {c: _NOT_FLOAT.get(c, np.float64) for c in header}
    text = io.BytesIO(data)
    try:
        df = pd.read_csv(text, dtype=dtypes, skip_blank_lines=False, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError:  # the column check passed: a quote opens a field that spans lines
        raise reader.unclosed_quote(path, data, header) from None
    except (ValueError, OverflowError):
        text.seek(0)
        raw = pd.read_csv(text, dtype=str, skip_blank_lines=False, keep_default_na=False)
        lines = np.arange(2, len(raw) + 2)
        for col, dt in dtypes.items():
            if dt is not str:
                values = numbers(path, raw[col], lines, col, missing=dt == np.float64, integer=dt == np.int64)
                # what numbers() accepts and the C parser does not: a value of blanks only, 64-bit overflow
                if dt == np.float64:
                    blank = ((raw[col].str.strip() == "") & (raw[col] != "")).to_numpy()
                    fail_first(blank, path, lines, col, lambda k, c=raw[col]: f"blank value {excerpt(c.iloc[k])}")
                else:
                    fail_first(np.abs(values) >= 2.0**63, path, lines, col,
                               lambda k, c=raw[col]: f"integer out of the 64-bit range: {excerpt(c.iloc[k])}")  # fmt: skip
        raise
    return df


def _required(src: Any, df: pd.DataFrame, lines: np.ndarray, cols: list[str]) -> None:
    for col in cols:
        fail_first(df[col].isna().to_numpy(), src, lines, col, "missing value")


def _select_symbol(
    src: Any, df: pd.DataFrame, lines: np.ndarray, symbol: str | None, notes: dict, key: str, **rule: Any
) -> tuple:
    """Rows of one symbol (:func:`reader.pick` with ``rule``) and their lines; the other rows are
    counted in ``notes[key]``."""
    keep = (df["symbol"] == pick(src, first_places(df["symbol"], lines), symbol, "symbol", **rule)).to_numpy()
    notes[key] = int((~keep).sum())
    return (df, lines) if keep.all() else (df[keep].reset_index(drop=True), lines[keep])


def _local_ns(src: Any, df: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    local = df["local_timestamp"].to_numpy(dtype=np.int64)
    check_sorted(src, local, lines, "local_timestamp", why="Tardis files are ordered by it")
    return local * 1000


def _one(src: Any, df: pd.DataFrame, lines: np.ndarray, col: str) -> str | None:
    """The one value of column ``col`` (a missing value counts as one); a second one is an error
    naming its first line."""
    codes, values = pd.factorize(df[col], use_na_sentinel=False)
    fail_first(codes != 0, src, lines, col, lambda k: (
        f"{excerpt(values[codes[k]])} after {excerpt(values[0])} (line {lines[0]}): one file holds one {col}"
    ))  # fmt: skip
    return str(values[0]) if len(values) else None


_NOT_FLOAT = {"exchange": str, "symbol": str, "timestamp": np.int64, "local_timestamp": np.int64, "is_snapshot": str,
              "side": str, "id": str}  # fmt: skip


def _header_kind(path: Path) -> tuple[str, int]:
    first = reader.head_bytes(path, 1 << 16).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return _dataset(first.decode("ascii").split(","))
    except ValueError:
        raise _header_error(path, first.decode("utf-8", errors="replace")) from None


def _header_error(path: Path, header: str) -> ValueError:
    return field_error(path, 1, "header", f"not a supported Tardis CSV header: {excerpt(header)}")


def _read_files(paths: list[Path]) -> tuple[Capture, pd.DataFrame, np.ndarray]:
    """The CSV files of one stream (one dataset: :func:`load` checked their headers) as one frame; its
    rows' lines numbered across the files."""
    frames = [_read_csv(p) for p in paths]
    src = Capture.of(paths, [len(df) + 1 for df in frames])
    lines = np.concatenate([np.arange(2, len(df) + 2) + src.offsets[k] for k, df in enumerate(frames)])
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return src, df, lines.astype(np.int64)


def _events(is_snap: np.ndarray, ts: np.ndarray, new_file: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped into messages (a distinct ``local_timestamp`` or snapshot flag; a later file's
    first row starts one): (starts, ends, kind). A run of snapshot rows after update rows, or at the
    start of a file, is a snapshot event (kind 0): it resets the book."""
    starts = np.flatnonzero(np.r_[True, (ts[1:] != ts[:-1]) | (is_snap[1:] != is_snap[:-1]) | new_file[1:]])
    ends = np.r_[starts[1:], ts.shape[0]]
    prev_snap = np.r_[False, is_snap[:-1]]
    kind = np.where(is_snap[starts] & (~prev_snap[starts] | new_file[starts]), 0, 1).astype(np.int8)
    return starts, ends, kind


def _incremental(src: Capture, df: pd.DataFrame, lines: np.ndarray, levels: int, notes: dict) -> tuple:
    """Rebuild the book of incremental_book_L2 rows (a later file continues the previous file's
    book); returns rows, level prices and their lines."""
    _required(src, df, lines, ["price", "amount"])
    snap_text, side_text = df["is_snapshot"].to_numpy(dtype=object), df["side"].to_numpy(dtype=object)
    check_in(src, snap_text, ("true", "false"), lines, "is_snapshot")
    check_in(src, side_text, ("bid", "ask"), lines, "side")
    px = df["price"].to_numpy(dtype=np.float64, copy=True)
    amt = df["amount"].to_numpy(dtype=np.float64, copy=True)  # writable: one compiled signature
    check_min(src, amt, lines, "amount", "amount")
    check_min(src, px, lines, "price", "price", strict=True)
    ts = _local_ns(src, df, lines)
    file_of = np.searchsorted(src.offsets, lines, side="left") - 1
    new_file = np.concatenate([[False], file_of[1:] != file_of[:-1]])
    starts, ends, kind = _events(snap_text == "true", ts, new_file)
    grid, rank = np.unique(px, return_inverse=True)
    ids, zeros = np.zeros(starts.shape[0], dtype=np.int64), np.zeros(starts.shape[0], dtype=np.int64)
    events = (kind, ts[starts], ids, ids, starts.astype(np.int64), ends.astype(np.int64),
              np.where(side_text == "bid", 0, 1).astype(np.int8), rank.astype(np.int64), amt, zeros, zeros)  # fmt: skip
    (row_ts, row_ev, _, *levels_out), _, cnt, _, _, _ = rebuild_book(events, grid, levels, 1, 1, False)
    cnt = cnt[0]  # every event on day 0: one row of counters
    notes["updates_before_first_snapshot"] = int(cnt[C_PRE_FIRST])
    notes["snapshots"] = int((kind == 0).sum())
    notes["file_restarts"] = int(((kind == 0) & new_file[starts]).sum())
    notes["rows_merged_same_timestamp"] = int(cnt[C_MERGED])
    return Book(row_ts, lines[ends[row_ev] - 1], row_ev, *levels_out), px, lines


def _snapshot_side(src: Any, df: pd.DataFrame, lines: np.ndarray, name: str, levels: int) -> tuple:
    """Prices and amounts of one side of book_snapshot_N rows (empty or zero-amount levels: NaN / 0)."""
    px = np.column_stack([df[f"{name}[{i}].price"].to_numpy(dtype=np.float64) for i in range(levels)])
    sz = np.column_stack([df[f"{name}[{i}].amount"].to_numpy(dtype=np.float64) for i in range(levels)])
    half = np.isnan(px) != np.isnan(sz)
    fail_first(half, src, lines, lambda k: f"{name}[{int(np.flatnonzero(half[k])[0])}]."
               + ("amount" if np.isnan(sz[k][half[k]][0]) else "price"), "missing value (a level needs both price and amount)")  # fmt: skip
    fail_first(sz < 0, src, lines, lambda k: f"{name}[{int(np.flatnonzero(sz[k] < 0)[0])}].amount",
               lambda k: f"amount must be finite and >= 0, got {excerpt(sz[k][sz[k] < 0][0])}")  # fmt: skip
    zero = sz == 0
    return np.where(zero | np.isnan(sz), np.nan, px), np.where(np.isnan(sz), 0.0, sz), int(zero.sum())


def _snapshots(src: Any, df: pd.DataFrame, lines: np.ndarray, levels: int, notes: dict) -> tuple:
    ts = _local_ns(src, df, lines)
    bid_px, bid_sz, zero_bids = _snapshot_side(src, df, lines, "bids", levels)
    ask_px, ask_sz, zero_asks = _snapshot_side(src, df, lines, "asks", levels)
    notes["zero_amount_levels"] = zero_bids + zero_asks
    last = np.r_[ts[1:] != ts[:-1], True]
    notes["rows_merged_same_timestamp"] = int((~last).sum())
    book = Book(ts, lines, np.arange(ts.shape[0]), bid_px, bid_sz, ask_px, ask_sz).take(last)
    return book, np.concatenate([bid_px.ravel(), ask_px.ravel()]), np.tile(np.repeat(lines, levels), 2)


def _trade_files(paths: list[Path], trades: Any) -> list[Path]:
    """The trades files of the book files: the option, else each book file's paired file."""
    if trades is not None and trades is not False and len(paths) > 1:
        raise bad_option("trades", trades, "None or False with several book files (each pairs its own trades file)")
    found = [trades_file(p, trades, _paired_trades(p), lambda f: _header_kind(f)[0]) for p in paths]
    return [f for f in found if f is not None]


def _trades(files: list[Path], exchange: str | None, symbol: str, notes: dict) -> dict[str, Any]:
    """The trades of ``symbol`` in ``files`` (one stream, lines numbered across them)."""
    if not files:
        notes["trades_file"] = None
        return {"ts": np.zeros(0, np.int64), "px": np.zeros(0), "sz": np.zeros(0), "side": np.zeros(0, np.int8),
                "line": np.zeros(0, np.int64), "exchange_ts": np.zeros(0, np.int64), "src": None}  # fmt: skip
    src, df, lines = _read_files(files)
    notes["trades_file"] = str(src)
    if len(df) and exchange is not None and (ex := _one(src, df, lines, "exchange")) != exchange:
        raise ValueError(f"{src}: exchange {ex!r} differs from the book file's {exchange!r}")
    df, lines = _select_symbol(
        src, df, lines, symbol, notes, "rows_other_symbols_trades", wanted_from="the book's symbol "
    )
    _required(src, df, lines, ["price", "amount"])
    ts = _local_ns(src, df, lines)
    side_text = df["side"].to_numpy(dtype=object)
    check_in(src, side_text, ("buy", "sell", "unknown"), lines, "side")
    px, amt = df["price"].to_numpy(dtype=np.float64), df["amount"].to_numpy(dtype=np.float64)
    check_min(src, amt, lines, "amount", "trade amount", strict=True)
    check_min(src, px, lines, "price", "trade price", strict=True)
    side = np.select([side_text == "buy", side_text == "sell"], [1, -1], 0).astype(np.int8)
    return {"ts": ts, "px": px, "sz": amt, "side": side, "line": lines, "src": src,
            "exchange_ts": df["timestamp"].to_numpy(dtype=np.int64) * 1000}  # fmt: skip


def _check_options(o: dict[str, Any], paths: list[Path]) -> tuple[str, int]:
    """:func:`load`'s options, checked; the dataset kind and snapshot depth of the files."""
    check_options(o, {**CAPTURE_RULES, "trades": trades_option})
    o["session_ns"] = parse_session(o["session"], (None,))
    kinds = [_header_kind(p) for p in paths]
    kind, depth = kinds[0]
    for p, other in zip(paths[1:], kinds[1:], strict=True):
        if other != kinds[0]:
            raise ValueError(f"{p}: a Tardis {other[0]} file in a stream of {kind} files ({paths[0]})")
    if kind == "trades":
        raise ValueError(
            f"{paths[0]}: a Tardis trades file has no order book; load its book file (incremental_book_L2 or "
            "book_snapshot_N), which pairs it, or pass it as trades= of the book file"
        )
    levels = check_levels(o["levels"] if o["levels"] is not None else depth if kind == "snapshot" else 20)
    if kind == "snapshot" and levels > depth:
        raise bad_option("levels", levels, f"1..{depth} (the depth of {paths[0]})")
    o["levels"] = levels
    return kind, depth


def load(
    path: Path | Sequence[Path],
    *,
    levels: int | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    symbol: str | None = None,
    trades: str | Path | bool | None = None,
    crossed: str = "raise",
    session: tuple[str, str] | None = None,
) -> list[MarketDay]:
    """Parse a Tardis book CSV (and its trades) into one validated day per UTC date (see the module
    docstring); ``path`` may be the book files of one stream, oldest first (each continues the
    previous file's book, see "Captures in several files")."""
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    o = {k: v for k, v in locals().items() if k not in ("path", "paths")}
    kind, depth = _check_options(o, paths)
    dataset = "incremental_book_L2" if kind == "incremental" else f"book_snapshot_{depth}"
    notes: dict[str, Any] = {
        "format": f"tardis {dataset} CSV",
        "clock": "local_timestamp (message arrival, microseconds); the exchange timestamp is not the clock",
        "levels": o["levels"],
        "files": [str(p) for p in paths],
    }
    src, df, lines = _read_files(paths)
    if len(df) == 0:
        raise field_error(paths[0], 2, "exchange", "no data rows after the header line")
    df, lines = _select_symbol(src, df, lines, symbol, notes, "rows_other_symbols")
    notes["exchange"] = _one(src, df, lines, "exchange")
    read = _incremental if kind == "incremental" else _snapshots
    book, book_px, px_lines = read(src, df, lines, o["levels"], notes)
    if book.ts.size == 0:
        raise ValueError(
            f"{src}: no book row (no is_snapshot=true block to start the book from); a capture split in "
            "files (e.g. at midnight): load them together, oldest first"
        )
    book = book.take(
        crossed_rows(src, book.line, book.top(), crossed, notes, "price" if kind == "incremental" else "bids[0].price")
    )
    tr = _trades(_trade_files(paths, trades), notes["exchange"], str(df["symbol"].iloc[0]), notes)
    book_local = df["local_timestamp"].to_numpy(dtype=np.int64) * 1000
    lag = [df["timestamp"].to_numpy(dtype=np.int64) * 1000 - book_local, tr.pop("exchange_ts") - tr["ts"]]
    notes["exchange_minus_local_ms"] = minmax_median(np.concatenate(lag) / 1e6)
    sizes = tr["sz"] if tr["sz"].size else np.concatenate([book.bid_sz.ravel(), book.ask_sz.ravel()])
    prices = [(src, book_px, px_lines), (tr["src"], tr["px"], tr["line"])]
    meta = capture_meta(str(df["symbol"].iloc[0]), o, prices, sizes, notes)
    notes["session"] = session_note(
        o, "UTC date; open = first book row of the date, close = last row of either file on the date"
    )
    record_ts = np.sort(np.concatenate([book_local, tr["ts"]]))
    return make_days(src, book, tr, record_ts, np.zeros((0, 2), np.int64), meta, notes, o["session_ns"])


# ----------------------------------------------------------------------------------------------
# writer


def _us(ts: np.ndarray, what: str) -> np.ndarray:
    if (ts % 1000 != 0).any():
        raise ValueError(f"{what}: Tardis timestamps are whole microseconds; floor the ns timestamps first")
    return ts // 1000


def _write_csv(path: Path, header: list[str], rows: list[str]) -> Path:
    """A Tardis CSV file (gzip by its name) of ``header`` and ``rows``."""
    return reader.write_file(path, ("\n".join([",".join(header), *rows]) + "\n").encode())


def write_tardis(
    day: MarketDay,
    directory: str | Path,
    exchange: str = "synthetic",
    symbol: str | None = None,
    dataset: str = "incremental_book_L2",
    trades: bool = True,
) -> tuple[Path, Path | None]:
    """Write ``day`` as Tardis CSV files (gzip) named as Tardis' downloaders name them.

    ``dataset`` is ``"incremental_book_L2"`` (row 0 as a snapshot block, every later row as the
    level changes against the previous row; a row identical to the previous one cannot be
    expressed and is an error) or ``"book_snapshot_N"`` (N >= the day's levels; missing levels are
    empty cells). With ``trades`` a ``trades`` file is written beside it (paired by name). Timestamps
    must be whole microseconds; ``timestamp`` is written equal to ``local_timestamp`` (Tardis' own
    marker of "no exchange timestamp"). Returns (book path, trades path or None).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sym = symbol or day.meta.symbol
    date = day.meta.date
    src = day.meta.source
    ts = _us(day.ts, src)
    lines: list[str] = []
    m = re.fullmatch(r"book_snapshot_(\d+)", dataset)
    if dataset == "incremental_book_L2":
        header = INCREMENTAL
        for r, diff in enumerate(level_changes(day, lambda x, _: float(x))):
            flag = "true" if r == 0 else "false"
            rows = [
                f"{exchange},{sym},{ts[r]},{ts[r]},{flag},{s},{p!r},{q!r}" for s in ("bid", "ask") for p, q in diff[s]
            ]
            if not rows:
                raise ValueError(f"{src}: book row {r} equals row {r - 1}; incremental_book_L2 cannot express it")
            lines += rows
    elif m and int(m.group(1)) >= day.levels:
        n = int(m.group(1))
        header = _snapshot_columns(n)
        for r in range(day.n_books):
            cells = [exchange, sym, str(ts[r]), str(ts[r])]
            for i in range(n):
                for px, sz in ((day.ask_px, day.ask_sz), (day.bid_px, day.bid_sz)):  # empty cells: a missing level
                    cells.append(f"{float(px[r, i])!r},{float(sz[r, i])!r}" if i < day.levels and sz[r, i] > 0 else ",")
            lines.append(",".join(cells))
    else:
        raise ValueError(
            f"dataset={dataset!r} is invalid; allowed values: 'incremental_book_L2' or 'book_snapshot_N' with "
            f"N >= the day's {day.levels} levels"
        )
    book_path = _write_csv(directory / f"{exchange}_{dataset}_{date}_{sym}.csv.gz", header, lines)
    if not trades:
        return book_path, None
    names = {1: "buy", -1: "sell", 0: "unknown"}
    columns = zip(_us(day.trade_ts, src), day.trade_side, day.trade_px.tolist(), day.trade_sz.tolist(), strict=True)
    out = [f"{exchange},{sym},{t},{t},{k + 1},{names[int(s)]},{p!r},{q!r}" for k, (t, s, p, q) in enumerate(columns)]
    return book_path, _write_csv(directory / f"{exchange}_trades_{date}_{sym}.csv.gz", TRADES, out)

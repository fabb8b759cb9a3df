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
the book, never as a day of its own). Without either the day has no trades (empty trade arrays,
``notes["trades_file"] = None``); ``trades=False`` ignores a paired file. A trades file loaded alone
is an error (it has no book). The exchange and symbol of both files must agree.

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

Malformed input, each a ``ValueError`` naming the file, the 1-based line and the field: wrong column
count, unparsable or missing value, ``is_snapshot`` or ``side`` out of its set, negative amount,
``local_timestamp`` going backwards, crossed or locked book, mismatched trades file.

No Tardis sample is in the shared data (their files are licensed); the tests write files from
synthetic days with :func:`write_tardis`, in exactly the documented layout, and read them back.
"""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.market.crypto import (
    C_MERGED,
    C_SKIPPED_NO_BOOK,
    ON_CROSSED,
    Book,
    check_choice,
    check_increment,
    check_levels,
    check_on_grid,
    drop_crossed,
    infer_increment,
    make_days,
    minmax_median,
    parse_session,
    read_bytes,
    read_head,
    rebuild_book,
)
from exec_env.market.data import MarketDay
from exec_env.market.reader import excerpt

__all__ = ["VERSION", "companions", "load", "sniff", "write_tardis"]

VERSION = 1
PREFIX = ["exchange", "symbol", "timestamp", "local_timestamp"]
INCREMENTAL = [*PREFIX, "is_snapshot", "side", "price", "amount"]
TRADES = [*PREFIX, "id", "side", "price", "amount"]
_NAME = re.compile(
    r"^(?P<ex>.+?)_(?P<dt>incremental_book_L2|book_snapshot_\d+|trades)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<sym>.+?)"
    r"\.csv(?P<gz>\.gz)?$"
)


def _snapshot_columns(n: int) -> list[str]:
    cols = list(PREFIX)
    for i in range(n):
        cols += [f"asks[{i}].price", f"asks[{i}].amount", f"bids[{i}].price", f"bids[{i}].amount"]
    return cols


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
    first = read_head(Path(path), 4096).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        _dataset(first.decode("ascii").split(","))
    except (ValueError, UnicodeDecodeError):
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


def _fail(path: Path, line: int, field: str, problem: str) -> ValueError:
    return ValueError(f"{path}: row {line}, field '{field}': {problem}")


def _read_csv(path: Path, dtypes: dict[str, Any]) -> tuple[str, int, pd.DataFrame]:
    """Parse one Tardis CSV; data row k is file line k + 2. Checks the column count of every line."""
    data = read_bytes(path)
    if data.endswith(b"\n"):
        data = data[:-1]
    header_end = data.find(b"\n")
    header_bytes = data if header_end < 0 else data[:header_end]
    header = header_bytes.rstrip(b"\r").decode("ascii", errors="replace").split(",")
    try:
        kind, depth = _dataset(header)
    except ValueError:
        raise _fail(path, 1, "header", f"not a supported Tardis CSV header: {excerpt(','.join(header))}") from None
    n_cols = len(header)
    if header_end < 0:
        return kind, depth, pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, object)) for c in header})
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(buf == 10) + 1])
    commas = np.add.reduceat((buf == 44).astype(np.uint8), starts, dtype=np.int64)
    # a start at the very end (empty last line) would be out of range for reduceat: not possible here
    bad = np.flatnonzero(commas != n_cols - 1)
    if bad.size:
        k = int(bad[0])
        raise _fail(path, k + 1, "columns", f"expected {n_cols} comma-separated fields, got {int(commas[k]) + 1}")
    text = io.BytesIO(data)
    try:
        df = pd.read_csv(text, dtype=dtypes, skip_blank_lines=False, keep_default_na=False, na_values=[""])
    except (ValueError, OverflowError):
        text.seek(0)
        raw = pd.read_csv(text, dtype=str, skip_blank_lines=False, keep_default_na=False)
        for col, dt in dtypes.items():
            if dt is str:
                continue
            vals = raw[col]
            num = pd.to_numeric(vals, errors="coerce")
            bad_mask = num.isna() & (vals != "") if dt == np.float64 else num.isna() | (num % 1 != 0)
            bad = np.flatnonzero(bad_mask.to_numpy())
            if bad.size:
                k = int(bad[0])
                raise _fail(path, k + 2, col, f"unparsable value {excerpt(vals.iloc[k])}") from None
        raise
    return kind, depth, df


def _required(path: Path, df: pd.DataFrame, cols: list[str]) -> None:
    for col in cols:
        miss = np.flatnonzero(df[col].isna().to_numpy())
        if miss.size:
            raise _fail(path, int(miss[0]) + 2, col, "missing value")


def _select_symbol(path: Path, df: pd.DataFrame, symbol: str | None, notes: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of one symbol and their file lines."""
    lines = np.arange(2, len(df) + 2, dtype=np.int64)
    symbols = pd.unique(df["symbol"])
    if symbol is None:
        if len(symbols) > 1:
            raise ValueError(
                f"{path}: the file holds {len(symbols)} symbols ({', '.join(map(str, symbols[:10]))}); pass "
                "symbol= to pick one"
            )
        notes["rows_other_symbols"] = 0
        return df, lines
    keep = (df["symbol"] == symbol).to_numpy()
    if not keep.any():
        raise ValueError(f"option symbol={symbol!r} matches no row of {path} (symbols: {', '.join(map(str, symbols))})")
    notes["rows_other_symbols"] = int((~keep).sum())
    return df[keep].reset_index(drop=True), lines[keep]


def _local_ns(path: Path, df: pd.DataFrame, lines: np.ndarray) -> np.ndarray:
    local = df["local_timestamp"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero(np.diff(local) < 0)
    if bad.size:
        k = int(bad[0]) + 1
        raise _fail(
            path,
            int(lines[k]),
            "local_timestamp",
            f"timestamp {local[k]} is before the previous row's {local[k - 1]} (Tardis files are ordered by it)",
        )
    return local * 1000


def _one(path: Path, df: pd.DataFrame, col: str) -> str | None:
    vals = pd.unique(df[col])
    if len(vals) > 1:
        raise ValueError(f"{path}: column '{col}' holds several values ({', '.join(map(str, vals[:10]))})")
    return str(vals[0]) if len(vals) else None


_BOOK_DTYPES = {"exchange": str, "symbol": str, "timestamp": np.int64, "local_timestamp": np.int64,
                "is_snapshot": str, "side": str, "price": np.float64, "amount": np.float64}  # fmt: skip
_TRADE_DTYPES = {"exchange": str, "symbol": str, "timestamp": np.int64, "local_timestamp": np.int64, "id": str,
                 "side": str, "price": np.float64, "amount": np.float64}  # fmt: skip


def _snapshot_dtypes(n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"exchange": str, "symbol": str, "timestamp": np.int64, "local_timestamp": np.int64}
    d.update({c: np.float64 for c in _snapshot_columns(n)[4:]})
    return d


def _header_kind(path: Path) -> tuple[str, int]:
    first = read_head(path, 1 << 16).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        return _dataset(first.decode("ascii", errors="replace").split(","))
    except ValueError:
        raise _fail(
            path, 1, "header", f"not a supported Tardis CSV header: {excerpt(first.decode('utf-8', errors='replace'))}"
        ) from None


def _incremental(path, df, lines, levels, notes) -> tuple[Book, np.ndarray, np.ndarray]:
    """Rebuild the book of an incremental_book_L2 frame; returns rows, level prices and their lines."""
    _required(path, df, ["price", "amount"])
    snap_text = df["is_snapshot"].to_numpy(dtype=object)
    is_snap = snap_text == "true"
    bad = np.flatnonzero(~is_snap & (snap_text != "false"))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lines[k]), "is_snapshot", f"expected 'true' or 'false', got {excerpt(snap_text[k])}")
    side_text = df["side"].to_numpy(dtype=object)
    side = np.where(side_text == "bid", 0, 1).astype(np.int8)
    bad = np.flatnonzero((side_text != "bid") & (side_text != "ask"))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lines[k]), "side", f"expected 'bid' or 'ask', got {excerpt(side_text[k])}")
    px = df["price"].to_numpy(dtype=np.float64, copy=True)
    amt = df["amount"].to_numpy(dtype=np.float64, copy=True)  # writable: one compiled signature
    bad = np.flatnonzero(~np.isfinite(amt) | (amt < 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lines[k]), "amount", f"amount must be finite and >= 0, got {excerpt(amt[k])}")
    bad = np.flatnonzero(~np.isfinite(px) | (px <= 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lines[k]), "price", f"price must be finite and > 0, got {excerpt(px[k])}")
    ts = _local_ns(path, df, lines)
    n = ts.shape[0]
    prev_snap = np.concatenate([[False], is_snap[:-1]])
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = (ts[1:] != ts[:-1]) | (is_snap[1:] != is_snap[:-1])
    starts = np.flatnonzero(boundary)
    ends = np.concatenate([starts[1:], [n]])
    kind = np.where(is_snap[starts] & ~prev_snap[starts], 0, 1).astype(np.int8)
    grid, rank = np.unique(px, return_inverse=True)
    ids = np.zeros(starts.shape[0], dtype=np.int64)
    out = rebuild_book(
        kind, ts[starts], ids, ids, starts.astype(np.int64), ends.astype(np.int64), side, rank.astype(np.int64),
        amt, grid, levels, 1, False, np.zeros((2, starts.shape[0]), dtype=np.int64),
    )  # fmt: skip
    row_ts, row_ev, _, bpx, bsz, apx, asz, _, cnt, _, _, _ = out
    cnt = cnt.sum(axis=0)
    notes["updates_before_first_snapshot"] = int(cnt[C_SKIPPED_NO_BOOK])
    notes["snapshots"] = int((kind == 0).sum())
    notes["rows_merged_same_timestamp"] = int(cnt[C_MERGED])
    row_line = lines[ends[row_ev] - 1]
    return Book(row_ts, row_line, row_ev, bpx, bsz, apx, asz), px, lines


def _snapshots(path, df, lines, depth, levels, notes) -> tuple[Book, np.ndarray, np.ndarray]:
    ts = _local_ns(path, df, lines)
    n = ts.shape[0]
    out = {}
    zero_levels = 0
    for side, name in (("ask", "asks"), ("bid", "bids")):
        px = np.column_stack([df[f"{name}[{i}].price"].to_numpy(dtype=np.float64) for i in range(levels)])
        sz = np.column_stack([df[f"{name}[{i}].amount"].to_numpy(dtype=np.float64) for i in range(levels)])
        for i in range(levels):
            p, a = px[:, i], sz[:, i]
            bad = np.flatnonzero(np.isnan(p) != np.isnan(a))
            if bad.size:
                k = int(bad[0])
                col = f"{name}[{i}].{'amount' if np.isnan(a[k]) else 'price'}"
                raise _fail(path, int(lines[k]), col, "missing value (a level needs both price and amount)")
            bad = np.flatnonzero(a < 0)
            if bad.size:
                k = int(bad[0])
                raise _fail(path, int(lines[k]), f"{name}[{i}].amount", f"amount must be >= 0, got {excerpt(a[k])}")
        zero = sz == 0
        zero_levels += int(zero.sum())
        px = np.where(zero | np.isnan(sz), np.nan, px)
        sz = np.where(np.isnan(sz), 0.0, sz)
        out[side] = (px, sz)
    notes["zero_amount_levels"] = zero_levels
    last = np.ones(n, dtype=bool)
    last[:-1] = ts[1:] != ts[:-1]
    notes["rows_merged_same_timestamp"] = int((~last).sum())
    all_px = np.concatenate([out["bid"][0].ravel(), out["ask"][0].ravel()])
    all_lines = np.tile(np.repeat(lines, levels), 2)
    book = Book(ts[last], lines[last], np.flatnonzero(last), out["bid"][0][last], out["bid"][1][last],
                out["ask"][0][last], out["ask"][1][last])  # fmt: skip
    return book, all_px, all_lines


def _trades(path: Path, trades_path: Path, exchange: str | None, symbol: str) -> dict[str, np.ndarray]:
    kind, _ = _header_kind(trades_path)
    if kind != "trades":
        raise ValueError(f"option trades={str(trades_path)!r}: {trades_path} is a Tardis {kind} file, not trades")
    _, _, df = _read_csv(trades_path, _TRADE_DTYPES)
    lines = np.arange(2, len(df) + 2, dtype=np.int64)
    if len(df):
        ex = _one(trades_path, df, "exchange")
        if exchange is not None and ex != exchange:
            raise ValueError(f"{trades_path}: exchange {ex!r} differs from the book file's {exchange!r} ({path})")
    keep = (df["symbol"] == symbol).to_numpy()
    others = set(pd.unique(df["symbol"][~keep]))
    if others and keep.sum() == 0:
        raise ValueError(f"{trades_path}: no trade of symbol {symbol!r} (the book file's); it holds {sorted(others)}")
    df, lines = df[keep].reset_index(drop=True), lines[keep]
    _required(trades_path, df, ["price", "amount"])
    ts = _local_ns(trades_path, df, lines)
    side_text = df["side"].to_numpy(dtype=object)
    side = np.select([side_text == "buy", side_text == "sell"], [1, -1], 0).astype(np.int8)
    bad = np.flatnonzero((side_text != "buy") & (side_text != "sell") & (side_text != "unknown"))
    if bad.size:
        k = int(bad[0])
        raise _fail(
            trades_path, int(lines[k]), "side", f"expected 'buy', 'sell' or 'unknown', got {excerpt(side_text[k])}"
        )
    px = df["price"].to_numpy(dtype=np.float64)
    amt = df["amount"].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~(amt > 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(trades_path, int(lines[k]), "amount", f"trade amount must be > 0, got {excerpt(amt[k])}")
    bad = np.flatnonzero(~(px > 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(trades_path, int(lines[k]), "price", f"trade price must be > 0, got {excerpt(px[k])}")
    exch = df["timestamp"].to_numpy(dtype=np.int64) * 1000
    return {"ts": ts, "px": px, "sz": amt, "side": side, "line": lines, "exchange_ts": exch,
            "other_symbols": np.array([len(keep) - int(keep.sum())])}  # fmt: skip


def load(
    path: Path,
    *,
    levels: int | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    symbol: str | None = None,
    trades: str | Path | bool | None = None,
    crossed: str = "raise",
    session: tuple[str, str] | None = None,
) -> list[MarketDay]:
    """Parse a Tardis book CSV (and its trades) into one validated day per UTC date (see the module docstring)."""
    path = Path(path)
    tick_opt = check_increment("tick_size", tick_size)
    lot_opt = check_increment("lot_size", lot_size)
    check_choice("crossed", crossed, ON_CROSSED)
    session_ns = parse_session(session)
    if symbol is not None and not (isinstance(symbol, str) and symbol):
        raise ValueError(f"option symbol={symbol!r} is invalid; allowed values: None (from the data) or a string")
    if not (trades is None or trades is False or isinstance(trades, (str, Path))):
        raise ValueError(f"option trades={trades!r} is invalid; allowed values: None (paired file), False, or a path")
    kind, depth = _header_kind(path)
    if kind == "trades":
        raise ValueError(
            f"{path}: a Tardis trades file has no order book; load its book file (incremental_book_L2 or "
            "book_snapshot_N), which pairs it, or pass it as trades= of the book file"
        )
    if levels is None:
        levels = depth if kind == "snapshot" else 20
    levels = check_levels(levels)
    if kind == "snapshot" and levels > depth:
        raise ValueError(f"option levels={levels} is invalid for {path}; allowed values: 1..{depth} (the file's depth)")
    notes: dict[str, Any] = {
        "format": f"tardis {'incremental_book_L2' if kind == 'incremental' else f'book_snapshot_{depth}'} CSV",
        "clock": "local_timestamp (message arrival, microseconds); the exchange timestamp is not the clock",
        "levels": levels,
    }
    _, _, df = _read_csv(path, _BOOK_DTYPES if kind == "incremental" else _snapshot_dtypes(depth))
    if len(df) == 0:
        raise _fail(path, 2, "exchange", "no data rows after the header line")
    df, lines = _select_symbol(path, df, symbol, notes)
    sym = str(df["symbol"].iloc[0])
    exchange = _one(path, df, "exchange")
    notes["exchange"] = exchange
    if kind == "incremental":
        book, book_px, px_lines = _incremental(path, df, lines, levels, notes)
    else:
        book, book_px, px_lines = _snapshots(path, df, lines, depth, levels, notes)
    if book.ts.size == 0:
        raise ValueError(f"{path}: no book row (no is_snapshot=true block to start the book from)")
    book_local = df["local_timestamp"].to_numpy(dtype=np.int64) * 1000
    book_exch = df["timestamp"].to_numpy(dtype=np.int64) * 1000
    book = drop_crossed(path, book, crossed, notes, "price" if kind == "incremental" else "bids[0].price")

    trades_path = _paired_trades(path) if trades is None else (None if trades is False else Path(trades))
    if trades_path is not None and not trades_path.is_file():
        raise FileNotFoundError(f"option trades={str(trades_path)!r}: no such file")
    if trades_path is not None:
        tr = _trades(path, trades_path, exchange, sym)
        notes["rows_other_symbols_trades"] = int(tr.pop("other_symbols")[0])
    else:
        tr = {"ts": np.zeros(0, np.int64), "px": np.zeros(0), "sz": np.zeros(0), "side": np.zeros(0, np.int8),
              "line": np.zeros(0, np.int64), "exchange_ts": np.zeros(0, np.int64)}  # fmt: skip
    notes["trades_file"] = str(trades_path) if trades_path is not None else None
    lag = np.concatenate([book_exch - book_local, tr.pop("exchange_ts") - tr["ts"]]) / 1e6
    notes["exchange_minus_local_ms"] = minmax_median(lag)

    prices = np.concatenate([book_px, tr["px"]])
    price_lines = np.concatenate([px_lines, tr["line"]])
    if tick_opt is None:
        tick = infer_increment(prices)
        if tick is None:
            raise ValueError(f"{path}: cannot infer the tick size from the prices; pass tick_size=")
    else:
        check_on_grid(path, "tick_size", tick_opt, prices, price_lines, "price")
        tick = tick_opt
    notes["tick_size_inferred"] = tick_opt is None
    if lot_opt is None:
        sizes = tr["sz"] if tr["sz"].size else np.concatenate([book.bid_sz.ravel(), book.ask_sz.ravel()])
        lot = infer_increment(sizes)
        if lot is None:
            raise ValueError(f"{path}: cannot infer the lot size from the amounts; pass lot_size=")
    else:
        lot = lot_opt
    notes["lot_size_inferred"] = lot_opt is None
    notes["session"] = (
        "UTC date; open = first book row of the date, close = last row of either file on the date"
        if session_ns is None
        else f"UTC {session[0]}-{session[1]} of every date (option session)"
    )
    record_ts = np.sort(np.concatenate([book_local, tr["ts"]]))
    meta = {"symbol": sym, "tick_size": tick, "lot_size": lot}
    return make_days(path, book, tr, record_ts, np.zeros((0, 2), np.int64), meta, notes, session_ns)


# ----------------------------------------------------------------------------------------------
# writer


def _us(ts: np.ndarray, what: str) -> np.ndarray:
    if (ts % 1000 != 0).any():
        raise ValueError(f"{what}: Tardis timestamps are whole microseconds; floor the ns timestamps first")
    return ts // 1000


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
        lines.append(",".join(INCREMENTAL))
        prev: dict[str, dict[float, float]] = {"bid": {}, "ask": {}}
        for r in range(day.n_books):
            cur = {
                s: {float(p): float(q) for p, q in zip(getattr(day, f"{s}_px")[r], getattr(day, f"{s}_sz")[r],
                                                        strict=True) if q > 0}
                for s in ("bid", "ask")
            }  # fmt: skip
            flag = "true" if r == 0 else "false"
            rows = []
            for s in ("bid", "ask"):
                changed = [(p, q) for p, q in cur[s].items() if prev[s].get(p) != q]
                changed += [(p, 0.0) for p in prev[s] if p not in cur[s]]
                rows += [f"{exchange},{sym},{ts[r]},{ts[r]},{flag},{s},{p!r},{q!r}" for p, q in changed]
            if not rows:
                raise ValueError(f"{src}: book row {r} equals row {r - 1}; incremental_book_L2 cannot express it")
            lines += rows
            prev = cur
    elif m and int(m.group(1)) >= day.levels:
        n = int(m.group(1))
        lines.append(",".join(_snapshot_columns(n)))

        def cell(px: float, sz: float) -> str:
            return f"{float(px)!r},{float(sz)!r}" if sz > 0 else ","

        for r in range(day.n_books):
            cells = [exchange, sym, str(ts[r]), str(ts[r])]
            for i in range(n):
                for s in ("ask", "bid"):
                    cells.append(cell(getattr(day, f"{s}_px")[r, i], getattr(day, f"{s}_sz")[r, i]) if i < day.levels
                                 else ",")  # fmt: skip
            lines.append(",".join(cells))
    else:
        raise ValueError(
            f"dataset={dataset!r} is invalid; allowed values: 'incremental_book_L2' or 'book_snapshot_N' with "
            f"N >= the day's {day.levels} levels"
        )
    book_path = directory / f"{exchange}_{dataset}_{date}_{sym}.csv.gz"
    with gzip.open(book_path, "wt", newline="") as fh:
        fh.write("\n".join(lines) + "\n")
    if not trades:
        return book_path, None
    tts = _us(day.trade_ts, src)
    names = {1: "buy", -1: "sell", 0: "unknown"}
    out = [",".join(TRADES)]
    out += [
        f"{exchange},{sym},{t},{t},{k + 1},{names[int(s)]},{p!r},{q!r}"
        for k, (t, s, p, q) in enumerate(zip(tts, day.trade_side, day.trade_px.tolist(), day.trade_sz.tolist(),
                                             strict=True))
    ]  # fmt: skip
    trades_path = directory / f"{exchange}_trades_{date}_{sym}.csv.gz"
    with gzip.open(trades_path, "wt", newline="") as fh:
        fh.write("\n".join(out) + "\n")
    return book_path, trades_path

"""Parquet: export any loaded day (any source) and read days back (registry name ``"parquet"``).

One day is two files side by side, readable by pandas, polars, DuckDB or Spark::

    <stem>.book.parquet    ts, bid_px_0..bid_px_{L-1}, bid_sz_0.., ask_px_0.., ask_sz_0.. [, venue]
    <stem>.trades.parquet  ts, px, sz, side

``ts`` is ``timestamp[ns, tz=UTC]`` (the canonical int64 ns since the epoch, so it converts back
exactly); prices and sizes ``float64`` (an empty level: NaN price, 0 size); ``side`` ``int8`` (+1
buyer-initiated, -1 seller-initiated, 0 unknown); ``venue`` ``int16`` for multi-venue days. Both
files carry the day's :class:`~exec_env.market.data.MarketMeta` (with its notes) and its halts as
JSON under the schema metadata key ``exec_env`` (``{"version", "meta", "halts"}``), so a round trip
gives the same day: same arrays, same metadata.

Bringing your own data: write the same columns (``ts`` may also be int64 ns, or a timestamp of any
unit; naive timestamps are taken as UTC; null prices are read as NaN and null sizes as 0). Without
the ``exec_env`` metadata pass ``tick_size=`` and ``lot_size=`` (and ``symbol=``, else the file
name's stem before ``.book``); the session then runs from the first to one nanosecond after the
last record. The trades file is optional (a day without trades). ``load_market`` reads
``*.book.parquet`` files (the trades file is their companion); :func:`read_parquet` reads a file
or a folder directly. Errors name the file, the 0-based row (Parquet row index) and the column.

Needs ``pyarrow``: ``pip install 'exec_env[parquet]'``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from exec_env.market.catalogue import MarketCatalogue
from exec_env.market.data import BOOK_FIELDS, MAX_LEVELS, MarketDay, MarketMeta, validate
from exec_env.market.reader import field_error

__all__ = ["VERSION", "companions", "export_parquet", "load", "read_parquet", "sniff"]

VERSION = 1
BOOK_SUFFIX = ".book.parquet"
TRADES_SUFFIX = ".trades.parquet"
META_KEY = b"exec_env"
_LEVEL_COLUMN = re.compile(r"^(bid_px|bid_sz|ask_px|ask_sz)_(\d+)$")


def _pa() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "Parquet export and import need the 'pyarrow' package: pip install 'exec_env[parquet]'", name=exc.name
        ) from exc
    return pyarrow


def _stem(day: MarketDay) -> str:
    safe = re.sub(r"[^A-Za-z0-9.=-]+", "-", day.meta.symbol).strip("-") or "day"
    return f"{safe}_{day.meta.date or day.meta.session_open_ns}"


def _metadata(day: MarketDay) -> dict[bytes, bytes]:
    halts = None if day.halts is None else np.asarray(day.halts).tolist()
    blob = {"version": VERSION, "meta": asdict(day.meta), "halts": halts}
    return {META_KEY: json.dumps(blob, default=str).encode()}


def _write_day(day: MarketDay, book_path: Path) -> Path:
    pa = _pa()
    ts_type = pa.timestamp("ns", tz="UTC")
    cols: dict[str, Any] = {"ts": pa.array(np.asarray(day.ts, dtype=np.int64), type=ts_type)}
    for name in BOOK_FIELDS:
        arr = np.asarray(getattr(day, name))
        for k in range(day.levels):
            cols[f"{name}_{k}"] = pa.array(np.ascontiguousarray(arr[:, k]), type=pa.float64())
    if day.venue is not None:
        cols["venue"] = pa.array(np.asarray(day.venue), type=pa.int16())
    meta = _metadata(day)
    book = pa.table(cols).replace_schema_metadata(meta)
    trades = pa.table(
        {
            "ts": pa.array(np.asarray(day.trade_ts, dtype=np.int64), type=ts_type),
            "px": pa.array(np.asarray(day.trade_px), type=pa.float64()),
            "sz": pa.array(np.asarray(day.trade_sz), type=pa.float64()),
            "side": pa.array(np.asarray(day.trade_side), type=pa.int8()),
        }
    ).replace_schema_metadata(meta)
    book_path.parent.mkdir(parents=True, exist_ok=True)
    pa.parquet.write_table(book, book_path, compression="zstd")
    pa.parquet.write_table(trades, _trades_path(book_path), compression="zstd")
    return book_path


def _trades_path(book_path: Path) -> Path:
    return book_path.with_name(book_path.name[: -len(BOOK_SUFFIX)] + TRADES_SUFFIX)


def export_parquet(days: MarketDay | MarketCatalogue, path: str | Path) -> list[Path]:
    """Write a day, or every day of a catalogue, as Parquet book and trades files.

    ``path`` ending in ``.book.parquet`` names the book file of a single day; otherwise it is a
    folder that receives ``<symbol>_<date>.book.parquet`` and ``.trades.parquet`` per day (``-2``,
    ``-3``... appended when two days would share a name). Returns the book files written.
    """
    path = Path(path)
    items = [days] if isinstance(days, MarketDay) else [days.day(i) for i in range(len(days))]
    if path.name.endswith(BOOK_SUFFIX):
        if len(items) != 1:
            raise ValueError(f"{path}: a single .book.parquet file holds one day, got {len(items)}; pass a folder")
        return [_write_day(items[0], path)]
    if path.suffix == ".parquet":
        raise ValueError(f"{path}: a day's book file must end in {BOOK_SUFFIX!r}; or pass a folder")
    written: list[Path] = []
    for day in items:
        stem, k = _stem(day), 1
        target = path / f"{stem}{BOOK_SUFFIX}"
        while target in written:
            k += 1
            target = path / f"{stem}-{k}{BOOK_SUFFIX}"
        written.append(_write_day(day, target))
    return written


def sniff(path: Path) -> bool:
    """A ``*.book.parquet`` file with Parquet's magic number."""
    path = Path(path)
    if not path.name.endswith(BOOK_SUFFIX):
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def companions(path: Path) -> list[Path]:
    """The day's trades file, when it exists."""
    trades = _trades_path(Path(path))
    return [trades] if trades.is_file() else []


def _fail(path: Path, row: int | None, column: str, problem: str) -> ValueError:
    """An error naming the file, the 1-based record of 0-based ``row`` (if any) and the column."""
    return field_error(path, None if row is None else row + 1, column, problem, unit="record")


def _ts_ns(pa: Any, path: Path, table: Any, notes: dict[str, Any]) -> np.ndarray:
    if "ts" not in table.column_names:
        raise _fail(path, None, "ts", f"missing; columns are {', '.join(table.column_names[:12])}")
    col = table.column("ts")
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            notes["naive_timestamps"] = "taken as UTC"
        col = col.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64())
    elif not pa.types.is_integer(t):
        raise _fail(path, None, "ts", f"must be a timestamp or int64 ns since the epoch, got {t}")
    if col.null_count:
        k = int(np.flatnonzero(np.asarray(col.is_null()))[0])
        raise _fail(path, k, "ts", "null timestamp")
    return np.asarray(col.to_numpy(), dtype=np.int64)


def _floats(path: Path, table: Any, name: str, fill: float) -> np.ndarray:
    col = table.column(name)
    try:
        col = col.cast("float64")
    except Exception as exc:  # ArrowInvalid / ArrowNotImplementedError: not a number column
        raise _fail(path, None, name, f"must be numeric, got {col.type} ({str(exc)[:80]})") from None
    return np.asarray(col.fill_null(fill).to_numpy(), dtype=np.float64)


def _book_arrays(path: Path, table: Any) -> tuple[dict[str, np.ndarray], int]:
    found: dict[str, set[int]] = {name: set() for name in BOOK_FIELDS}
    for c in table.column_names:
        m = _LEVEL_COLUMN.match(c)
        if m:
            found[m.group(1)].add(int(m.group(2)))
    levels = len(found["bid_px"])
    for name, ks in found.items():
        if ks != set(range(levels)):
            want = f"{name}_0..{name}_{levels - 1}" if levels else f"{name}_0"
            raise _fail(path, None, name, f"expected columns {want}, found levels {sorted(ks)[:10]}")
    if not 1 <= levels <= MAX_LEVELS:
        raise _fail(path, None, "bid_px_0", f"{levels} levels; allowed 1..{MAX_LEVELS}")
    out = {}
    for name in BOOK_FIELDS:
        fill = np.nan if name.endswith("_px") else 0.0
        cols = [_floats(path, table, f"{name}_{k}", fill) for k in range(levels)]
        out[name] = np.ascontiguousarray(np.column_stack(cols)) if cols[0].size else np.zeros((0, levels))
    return out, levels


def _read_trades(pa: Any, trades_file: Path, notes: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """ts, px, sz, side of the trades file (empty arrays without one)."""
    if not trades_file.is_file():
        notes["trades"] = f"no {trades_file.name}: no trades"
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int8)
    trades = pa.parquet.read_table(trades_file)
    for need in ("px", "sz"):
        if need not in trades.column_names:
            raise _fail(trades_file, None, need, f"missing; columns are {', '.join(trades.column_names[:12])}")
    t_ts = _ts_ns(pa, trades_file, trades, notes)
    t_px = _floats(trades_file, trades, "px", np.nan)
    t_sz = _floats(trades_file, trades, "sz", np.nan)
    if "side" in trades.column_names:
        t_side = np.asarray(trades.column("side").fill_null(0).cast(pa.int8()).to_numpy(), dtype=np.int8)
    else:
        t_side = np.zeros(t_ts.size, dtype=np.int8)
        notes["trade_side"] = "no 'side' column: every side unknown (0)"
    return t_ts, t_px, t_sz, t_side


def _meta(
    path: Path,
    book: Any,
    ts: np.ndarray,
    t_ts: np.ndarray,
    notes: dict[str, Any],
    symbol: str | None,
    tick_size: float | None,
    lot_size: float | None,
) -> tuple[MarketMeta, np.ndarray | None]:
    """The day's metadata and halts: from the ``exec_env`` schema metadata, else from the options."""
    raw = (book.schema.metadata or {}).get(META_KEY)
    if raw is not None:
        blob = json.loads(raw)
        if blob.get("version") != VERSION:
            raise _fail(path, None, "exec_env", f"metadata version {blob.get('version')!r}; this reads {VERSION}")
        fields = dict(blob["meta"])
        given = {"symbol": symbol, "tick_size": tick_size, "lot_size": lot_size}
        fields.update({k: v for k, v in given.items() if v is not None})
        halts = None if blob.get("halts") is None else np.array(blob["halts"], dtype=np.int64).reshape(-1, 2)
        return MarketMeta(**fields), halts
    for name, value in (("tick_size", tick_size), ("lot_size", lot_size)):
        if value is None:
            raise ValueError(f"{path}: no exec_env metadata in the file, so the option {name}= is required")
    if ts.size == 0:
        raise _fail(path, None, "ts", "no book rows")
    open_ns = int(ts[0])
    close_ns = max(int(ts[-1]), int(t_ts[-1]) if t_ts.size else 0) + 1
    notes["session"] = "first record to one nanosecond after the last (no exec_env metadata)"
    meta = MarketMeta(
        symbol=symbol or path.name[: -len(BOOK_SUFFIX)].split("_")[0].upper(),
        tick_size=float(tick_size),  # type: ignore[arg-type]
        lot_size=float(lot_size),  # type: ignore[arg-type]
        session_open_ns=open_ns,
        session_close_ns=close_ns,
        source=str(path),
        date=str(np.datetime64(open_ns, "ns").astype("datetime64[D]")),
        notes={"format": "parquet (user columns)", **notes},
    )
    return meta, None


def load(
    path: Path, symbol: str | None = None, tick_size: float | None = None, lot_size: float | None = None
) -> list[MarketDay]:
    """Read one day from ``<stem>.book.parquet`` and its ``<stem>.trades.parquet`` (if present)."""
    pa = _pa()
    path = Path(path)
    if not path.name.endswith(BOOK_SUFFIX):
        raise ValueError(f"{path}: expected a '<stem>{BOOK_SUFFIX}' file (its trades are in '<stem>{TRADES_SUFFIX}')")
    try:
        book = pa.parquet.read_table(path)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({str(exc)[:120]})") from None
    notes: dict[str, Any] = {}
    ts = _ts_ns(pa, path, book, notes)
    arrays, _ = _book_arrays(path, book)
    venue = None
    if "venue" in book.column_names:
        venue = np.asarray(book.column("venue").cast(pa.int16()).to_numpy(), dtype=np.int16)

    t_ts, t_px, t_sz, t_side = _read_trades(pa, _trades_path(path), notes)
    meta, halts = _meta(path, book, ts, t_ts, notes, symbol, tick_size, lot_size)
    day = MarketDay(
        meta=meta,
        ts=ts,
        **arrays,
        trade_ts=t_ts,
        trade_px=t_px,
        trade_sz=t_sz,
        trade_side=t_side,
        venue=venue,
        halts=halts,
    )
    records = np.arange(1, max(ts.size, t_ts.size) + 1)
    validate(day, path, records[: ts.size], records[: t_ts.size], trade_origin=_trades_path(path), unit="record")
    return [day]


def read_parquet(path: str | Path, **options: Any) -> MarketDay | MarketCatalogue:
    """A ``.book.parquet`` file -> its day; a folder -> a catalogue of every day in it (oldest first)."""
    path = Path(path)
    if path.is_dir():
        books = sorted(p for p in path.iterdir() if p.name.endswith(BOOK_SUFFIX) and not p.name.startswith("."))
        if not books:
            raise FileNotFoundError(f"{path}: no *{BOOK_SUFFIX} file")
        days = [d for p in books for d in load(p, **options)]
        days.sort(key=lambda d: (d.meta.session_open_ns, d.meta.symbol))
        return MarketCatalogue(days, name=str(path))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or folder")
    return load(path, **options)[0]

"""The canonical in-memory market data: one instrument, one session, as aligned numpy arrays.

Every source (the synthetic generator, LOBSTER, Databento, ...) produces a :class:`MarketDay`.
Nothing downstream knows where the data came from.

Layout (structure of arrays, so each field is contiguous, memory-mappable and numba-friendly):

========== ============ ============================================================
array      dtype/shape  meaning
========== ============ ============================================================
ts         int64 (N,)   book snapshot time, ns since the Unix epoch (UTC)
bid_px     f8 (N, L)    bid prices, best first; an empty level is NaN
bid_sz     f8 (N, L)    bid sizes; an empty level is 0
ask_px     f8 (N, L)    ask prices, best first; an empty level is NaN
ask_sz     f8 (N, L)    ask sizes; an empty level is 0
venue      i2 (N,)      optional venue id of each snapshot (multi-venue data), else None
halts      i8 (K, 2)    optional trading halts, [start, end) ns; nothing trades inside, else None
trade_ts   int64 (M,)   trade time, ns since the Unix epoch
trade_px   f8 (M,)      trade price
trade_sz   f8 (M,)      trade size (> 0)
trade_side i1 (M,)      +1 buyer-initiated, -1 seller-initiated, 0 unknown
========== ============ ============================================================

Optional order-level cancellations (all five present or all None; sources with order ids fill
them: LOBSTER, Databento MBO). One row per event that removes resting size from the book
*without* a trade (a full or partial cancel, a deletion, the old level of an order moved to
another price); executions are never here, the trades cover them:

=============== ============ =======================================================
array           dtype/shape  meaning
=============== ============ =======================================================
cancel_ts       int64 (C,)   time of the cancellation, ns since the Unix epoch
cancel_px       f8 (C,)      price of the level it left (on the ``tick_size`` grid)
cancel_sz       f8 (C,)      size removed (> 0)
cancel_side     i1 (C,)      +1 the order rested on the bid side, -1 on the ask side
cancel_entry_ts int64 (C,)   when the order took its queue place (``<= cancel_ts``), or
                             :data:`UNKNOWN_ENTRY` (int64 min) when it was already in the
                             book before the data starts
=============== ============ =======================================================

Invariants (checked by :func:`validate`): timestamps non-decreasing; sizes finite and
non-negative; a level with size > 0 has a finite positive price; empty levels come after all
non-empty ones; bid prices strictly decrease and ask prices strictly increase across levels; the
book is never crossed or locked (best bid < best ask); trades have positive size and price; cancellations have positive size, a positive price on the
tick grid, side +1/-1, non-decreasing times and an entry time that is unknown or not after them.

A book row at time ``t`` is the state *after* every event stamped ``t``; a trade stamped ``t``
happened before the book row stamped ``t`` (LOBSTER's convention).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from exec_env.market.reader import excerpt, field_error, first

__all__ = [
    "BOOK_FIELDS",
    "CANCEL_FIELDS",
    "TRADE_FIELDS",
    "UNKNOWN_ENTRY",
    "MarketDay",
    "MarketMeta",
    "load_day",
    "mirror_day",
    "save_day",
    "validate",
]

BOOK_FIELDS = ("bid_px", "bid_sz", "ask_px", "ask_sz")
TRADE_FIELDS = ("trade_ts", "trade_px", "trade_sz", "trade_side")
CANCEL_FIELDS = ("cancel_ts", "cancel_px", "cancel_sz", "cancel_side", "cancel_entry_ts")
UNKNOWN_ENTRY = int(np.iinfo(np.int64).min)
"""``cancel_entry_ts`` of an order that was already in the book when the data starts."""
_CANCEL_DTYPES = (np.int64, np.float64, np.float64, np.int8, np.int64)
_DTYPES = (np.int64, *(np.float64,) * 4, np.int64, np.float64, np.float64, np.int8)
"""Of ts, the book fields and the trade fields."""
_TICK_TOLERANCE = 1e-6
MAX_LEVELS = 50
_CACHE_VERSION = 1
_MMAP_MIN_BYTES = 1 << 20
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|][a-z]\d+)', 'fortran_order': False, 'shape': \(((?:\d+, ?)*\d*)\), \} *\n"
)
"""The header ``np.save`` writes for a C-order array of a plain dtype (version 1.0)."""


@dataclass(frozen=True)
class MarketMeta:
    """Description of one session of one instrument."""

    symbol: str
    tick_size: float
    lot_size: float
    session_open_ns: int
    session_close_ns: int
    source: str
    """Where the data came from (file path or generator description)."""
    date: str = ""
    """Trading date, ``YYYY-MM-DD`` (the session's calendar date)."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Source-specific facts worth keeping (repairs made, assumptions, venue names)."""

    def __post_init__(self) -> None:
        if not (np.isfinite(self.tick_size) and self.tick_size > 0):
            raise ValueError(f"{self.source}: meta field 'tick_size' must be > 0, got {self.tick_size!r}")
        if not (np.isfinite(self.lot_size) and self.lot_size > 0):
            raise ValueError(f"{self.source}: meta field 'lot_size' must be > 0, got {self.lot_size!r}")
        if int(self.session_close_ns) <= int(self.session_open_ns):
            raise ValueError(
                f"{self.source}: meta field 'session_close_ns' ({self.session_close_ns}) must be after "
                f"'session_open_ns' ({self.session_open_ns})"
            )


@dataclass(frozen=True, eq=False)
class MarketDay:
    """One session of book snapshots and trades in the canonical form (see module docstring)."""

    meta: MarketMeta
    ts: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    trade_ts: np.ndarray
    trade_px: np.ndarray
    trade_sz: np.ndarray
    trade_side: np.ndarray
    venue: np.ndarray | None = None
    halts: np.ndarray | None = None
    cancel_ts: np.ndarray | None = None
    cancel_px: np.ndarray | None = None
    cancel_sz: np.ndarray | None = None
    cancel_side: np.ndarray | None = None
    cancel_entry_ts: np.ndarray | None = None

    @classmethod
    def build(
        cls, meta: MarketMeta, book: tuple[np.ndarray, ...], trades: tuple[np.ndarray, ...] | None = None,
        **optional: np.ndarray | None,
    ) -> MarketDay:  # fmt: skip
        """A day of contiguous arrays in the canonical dtypes: ``book`` = (ts, bid_px, bid_sz, ask_px,
        ask_sz), ``trades`` = (ts, px, sz, side) or None (no trades); ``optional``: ``venue``,
        ``halts``, ``cancel_*``. Not validated (see :func:`validate`)."""
        if trades is None:
            trades = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int8))
        arrays = {
            name: np.ascontiguousarray(a, dtype=dtype)
            for name, a, dtype in zip(
                ("ts", *BOOK_FIELDS, *TRADE_FIELDS), (*book, *trades), _DTYPES[:9], strict=True
            )
        }  # fmt: skip
        return cls(meta=meta, **arrays, **optional)

    @property
    def levels(self) -> int:
        return int(self.bid_px.shape[1])

    @property
    def n_books(self) -> int:
        return int(self.ts.shape[0])

    @property
    def n_trades(self) -> int:
        return int(self.trade_ts.shape[0])

    @property
    def n_cancels(self) -> int | None:
        """Number of cancellation events, or None when the source has no order-level data."""
        return None if self.cancel_ts is None else int(self.cancel_ts.shape[0])

    def mid(self) -> np.ndarray:
        """Mid price of every snapshot (NaN where a side is empty)."""
        return 0.5 * (self.bid_px[:, 0] + self.ask_px[:, 0])

    def __repr__(self) -> str:
        cancels = "" if self.cancel_ts is None else f", {self.n_cancels} cancels"
        return (
            f"MarketDay({self.meta.symbol} {self.meta.date}, {self.n_books} books x {self.levels} levels, "
            f"{self.n_trades} trades{cancels}, source={self.meta.source!r})"
        )


class _Places:
    """Where rows of one kind of array come from: file lines (``line N, field '<array name>'``) or,
    without them, the arrays themselves (``<kind> row N, field '<name>'``, 0-based)."""

    PREFIX = {"book": "", "trade": "trade_", "cancel": "cancel_"}

    def __init__(self, origin: Any, kind: str, lines: np.ndarray | None, unit: str) -> None:
        self.origin, self.kind, self.lines, self.unit = origin, kind, lines, unit

    def check(self, bad: np.ndarray, field: str, problem: Any) -> None:
        """Raise at the first True row of ``bad``; ``problem`` is a text or a function of the row."""
        row = first(bad)
        if row < 0:
            return
        text = problem(row) if callable(problem) else problem
        if self.lines is None:
            raise ValueError(f"{self.origin}: {self.kind} row {row}, field '{field}': {text}")
        raise field_error(self.origin, int(self.lines[row]), self.PREFIX[self.kind] + field, text, self.unit)

    def order(self, ts: np.ndarray, field: str = "ts") -> None:
        self.check(
            np.concatenate([[False], np.diff(ts) < 0]), field,
            lambda r: f"timestamp {ts[r]} is before the previous row's {ts[r - 1]}",
        )  # fmt: skip


def _shape(origin: str, name: str, arr: np.ndarray, dtype: Any, shape: tuple, want: str) -> None:
    if arr.dtype != dtype or arr.shape != shape:
        raise ValueError(
            f"{origin}: field '{name}' must be {np.dtype(dtype)} of shape {want}, got {arr.dtype} {arr.shape}"
        )


def validate(
    day: MarketDay,
    origin: Any = None,
    book_rows: np.ndarray | None = None,
    trade_rows: np.ndarray | None = None,
    cancel_rows: np.ndarray | None = None,
    *,
    trade_origin: Any = None,
    cancel_origin: Any = None,
    unit: str = "line",
) -> MarketDay:
    """Check every invariant of the canonical form; raise ``ValueError`` naming the place and field.

    ``origin`` names the file or source in the message (default: ``day.meta.source``; a
    :class:`~exec_env.market.reader.Capture` for a stream of files). ``book_rows`` /
    ``trade_rows`` / ``cancel_rows`` map array rows to the file lines (``unit="record"``: records)
    they come from, so a loader's error points at the line a user can open; trades and
    cancellations may come from other files (``trade_origin``, ``cancel_origin``). Without them
    the message names the 0-based array row. Returns ``day`` for chaining.
    """
    origin = origin or day.meta.source
    _check_arrays(day, origin)
    _check_halts(day.halts, origin)
    _check_book(day, _Places(origin, "book", book_rows, unit))
    _check_trades(day, _Places(trade_origin or origin, "trade", trade_rows, unit))
    _check_cancels(day, _Places(cancel_origin or origin, "cancel", cancel_rows, unit))
    return day


def _check_arrays(day: MarketDay, origin: str) -> None:
    """Dtypes and shapes of every array."""
    n = day.ts.shape[0]
    if day.ts.dtype != np.int64 or day.ts.ndim != 1:
        raise ValueError(f"{origin}: field 'ts' must be a 1-D int64 array, got {day.ts.dtype} {day.ts.shape}")
    if n == 0:
        raise ValueError(f"{origin}: no book snapshots")
    levels = day.bid_px.shape[1] if day.bid_px.ndim == 2 else 0
    if not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"{origin}: level count {levels} outside the allowed range 1..{MAX_LEVELS}")
    for name in BOOK_FIELDS:
        _shape(origin, name, getattr(day, name), np.float64, (n, levels), f"(N={n}, L={levels})")
    if day.venue is not None:
        _shape(origin, "venue", day.venue, np.int16, (n,), f"({n},)")
    m = day.trade_ts.shape[0]
    for name, dtype in zip(TRADE_FIELDS, (np.int64, np.float64, np.float64, np.int8), strict=True):
        _shape(origin, name, getattr(day, name), dtype, (m,), f"({m},)")
    present = [name for name in CANCEL_FIELDS if getattr(day, name) is not None]
    if present and len(present) != len(CANCEL_FIELDS):
        missing = [name for name in CANCEL_FIELDS if name not in present]
        raise ValueError(f"{origin}: cancel fields come together; {', '.join(missing)} missing beside {present[0]}")
    if present:
        c = day.cancel_ts.shape[0] if day.cancel_ts.ndim == 1 else -1
        for name, dtype in zip(CANCEL_FIELDS, _CANCEL_DTYPES, strict=True):
            _shape(origin, name, getattr(day, name), dtype, (c,), "(C,) like 'cancel_ts'")


def _check_halts(h: np.ndarray | None, origin: str) -> None:
    if h is None:
        return
    if h.ndim != 2 or h.shape[1] != 2 or h.dtype != np.int64:
        raise ValueError(f"{origin}: field 'halts' must be int64 of shape (K, 2), got {h.dtype} {h.shape}")
    bad = first(h[:, 1] <= h[:, 0])
    if bad >= 0:
        raise ValueError(f"{origin}: halt {bad}: end {h[bad, 1]} is not after start {h[bad, 0]}")
    bad = first(h[1:, 0] < h[:-1, 1])
    if bad >= 0:
        raise ValueError(f"{origin}: halt {bad + 1} starts at {h[bad + 1, 0]}, before halt {bad} ends ({h[bad, 1]})")


def _check_book(day: MarketDay, at: _Places) -> None:
    """Time order, both sides' levels, no crossed or locked top of the book."""
    at.order(day.ts)
    for side, px, sz in (("bid", day.bid_px, day.bid_sz), ("ask", day.ask_px, day.ask_sz)):
        # a large side: one compiled pass, and the masks only to place a break it finds (_MASKED_CELLS)
        if px.size <= _MASKED_CELLS or not _side_ok(np.asarray(px), np.asarray(sz), side == "bid"):
            _check_side(at, side, px, sz)
    bid, ask = day.bid_px[:, 0], day.ask_px[:, 0]
    both = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    at.check(both & (bid >= ask), "bid_px",
             lambda r: f"{'crossed' if bid[r] > ask[r] else 'locked'} book: best bid {bid[r]} >= best ask {ask[r]}")  # fmt: skip


_MASKED_CELLS = 1 << 20
"""Book sides of up to this many cells are checked by :func:`_check_side`'s masks alone (cheaper
than starting numba in a process that has not); larger ones by :func:`_side_ok` first."""


@njit(cache=True)
def _side_ok(px: np.ndarray, sz: np.ndarray, bid: bool) -> bool:  # pragma: no cover - numba
    """Does every row of one side keep :func:`_check_side`'s rules? One pass, stopping at the
    first break (which the rules' masks then place)."""
    n, levels = px.shape
    for r in range(n):
        for j in range(levels):
            s, p = sz[r, j], px[r, j]
            if not (np.isfinite(s) and s >= 0):
                return False
            if s == 0:
                if not np.isnan(p):
                    return False
                continue
            if not (np.isfinite(p) and p > 0):
                return False
            if j > 0 and (sz[r, j - 1] == 0 or ((p >= px[r, j - 1]) if bid else (p <= px[r, j - 1]))):
                return False
    return True


def _check_side(at: _Places, side: str, px: np.ndarray, sz: np.ndarray) -> None:
    """Finite non-negative sizes, a price exactly where the size is > 0, empty levels last, prices in order."""

    def shown(a: np.ndarray, problem: str) -> Any:
        return lambda r: f"{problem}: {excerpt(a[r].tolist(), 120)}"

    at.check(~np.isfinite(sz), f"{side}_sz", shown(sz, "size is not finite"))
    at.check(sz < 0, f"{side}_sz", shown(sz, "negative size"))
    filled = sz > 0
    at.check(filled & ~(np.isfinite(px) & (px > 0)), f"{side}_px",
             shown(px, "a level with size > 0 needs a finite positive price"))  # fmt: skip
    at.check(~filled & ~np.isnan(px), f"{side}_px", shown(px, "an empty level (size 0) must have price NaN"))
    if px.shape[1] > 1:
        at.check(
            ~filled[:, :-1] & filled[:, 1:], f"{side}_sz", shown(sz, "an empty level comes before a non-empty one")
        )
        step = np.diff(px, axis=1)
        wrong = filled[:, :-1] & filled[:, 1:] & ((step >= 0) if side == "bid" else (step <= 0))
        order = "strictly decrease" if side == "bid" else "strictly increase"
        at.check(wrong, f"{side}_px", shown(px, f"prices must {order} across levels"))


def _check_trades(day: MarketDay, at: _Places) -> None:
    px, sz, side = day.trade_px, day.trade_sz, day.trade_side
    at.order(day.trade_ts)
    at.check(~(np.isfinite(px) & (px > 0)), "px", lambda r: f"price must be finite and > 0, got {px[r]}")
    at.check(~(np.isfinite(sz) & (sz > 0)), "sz", lambda r: f"size must be finite and > 0, got {sz[r]}")
    at.check((side != 1) & (side != -1) & (side != 0), "side", lambda r: f"side must be +1, -1 or 0, got {side[r]}")


def _check_cancels(day: MarketDay, at: _Places) -> None:
    if day.cancel_ts is None:
        return
    ts, px, sz, side, entry = (getattr(day, name) for name in CANCEL_FIELDS)
    at.order(ts)
    at.check(~(np.isfinite(px) & (px > 0)), "px", lambda r: f"price must be finite and > 0, got {px[r]}")
    units = px / day.meta.tick_size
    at.check(np.abs(units - np.rint(units)) > _TICK_TOLERANCE, "px",
             lambda r: f"price {px[r]} is not on the tick grid ({day.meta.tick_size})")  # fmt: skip
    at.check(~(np.isfinite(sz) & (sz > 0)), "sz", lambda r: f"size must be finite and > 0, got {sz[r]}")
    at.check((side != 1) & (side != -1), "side", lambda r: f"side must be +1 (bid) or -1 (ask), got {side[r]}")
    at.check((entry != UNKNOWN_ENTRY) & (entry > ts), "entry_ts",
             lambda r: f"the order entered at {entry[r]}, after its cancel at {ts[r]}")  # fmt: skip


def save_day(day: MarketDay, directory: str | Path) -> Path:
    """Write ``day`` as one ``.npy`` per array plus ``meta.json`` (loadable with ``mmap_mode='r'``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    optional = ("venue", "halts", *CANCEL_FIELDS)
    names = ["ts", *BOOK_FIELDS, *TRADE_FIELDS] + [n for n in optional if getattr(day, n) is not None]
    for name in names:
        np.save(directory / f"{name}.npy", np.ascontiguousarray(getattr(day, name)))
    meta = asdict(day.meta)
    meta["_cache_version"] = _CACHE_VERSION
    meta["_arrays"] = names
    # meta.json last: its presence marks a complete write.
    tmp = directory / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    tmp.replace(directory / "meta.json")
    return directory


def load_day(directory: str | Path, mmap: bool = True) -> MarketDay:
    """Load a day written by :func:`save_day`; arrays over 1 MiB are memory-mapped read-only by
    default (smaller ones are read: cheaper than a map)."""
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: no meta.json (not a saved MarketDay, or an incomplete write)")
    raw = json.loads(meta_path.read_text())
    version = raw.pop("_cache_version", None)
    if version != _CACHE_VERSION:
        raise ValueError(f"{meta_path}: cache version {version!r}, this exec_env reads version {_CACHE_VERSION}")
    names = raw.pop("_arrays")
    arrays = {}
    for name in names:
        path = directory / f"{name}.npy"
        # a memory map costs more than reading a small array outright
        big = mmap and path.stat().st_size > _MMAP_MIN_BYTES
        arrays[name] = np.load(path, mmap_mode="r") if big else _read_npy(path)
    return MarketDay(meta=MarketMeta(**raw), **arrays)


def _read_npy(path: Path) -> np.ndarray:
    """``np.load(path)`` (a writable array), 2.5x faster for the small arrays of a cached day: one
    read, and the header matched by a pattern instead of numpy's ``ast.literal_eval`` of it (half of
    ``np.load``'s time). A header the pattern does not fit is left to ``np.load``."""
    with path.open("rb") as fh:
        buf = bytearray(fh.seek(0, 2))
        fh.seek(0)
        fh.readinto(buf)
    if buf[:8] == b"\x93NUMPY\x01\x00":
        start = 10 + int.from_bytes(buf[8:10], "little")
        m = _NPY_HEADER.fullmatch(buf, 10, start)
        if m:
            shape = tuple(int(n) for n in m[2].split(b",") if n.strip())
            return np.frombuffer(buf, m[1].decode(), math.prod(shape), start).reshape(shape)
    return np.load(path)


def mirror_day(day: MarketDay, center: float) -> MarketDay:
    """Reflect every price about ``center`` (p -> 2*center - p): bids become asks, buys become sells.

    A sell order on the mirrored day meets exactly the liquidity a buy order meets on ``day``,
    which makes buy/sell symmetry testable; it is also a legitimate data augmentation. Cancellations
    are mirrored too (price reflected, side flipped, times and sizes kept).
    """
    cancels = {}
    if day.cancel_ts is not None:
        cancels = {
            "cancel_ts": day.cancel_ts.copy(),
            "cancel_px": 2.0 * center - day.cancel_px,
            "cancel_sz": day.cancel_sz.copy(),
            "cancel_side": (-day.cancel_side).astype(np.int8),
            "cancel_entry_ts": day.cancel_entry_ts.copy(),
        }
    return replace(
        day,
        meta=replace(day.meta, source=f"mirror({day.meta.source}, center={center})"),
        bid_px=2.0 * center - day.ask_px,
        bid_sz=day.ask_sz.copy(),
        ask_px=2.0 * center - day.bid_px,
        ask_sz=day.bid_sz.copy(),
        trade_px=2.0 * center - day.trade_px,
        trade_side=(-day.trade_side).astype(np.int8),
        **cancels,
    )


def frozen(arr) -> np.ndarray:
    """``arr`` as a C-contiguous read-only view (no copy when it already is contiguous).

    Every array a compiled kernel reads from a day goes through here: a memory map is read-only and
    a freshly computed array is not, and numba compiles one specialisation per flavour, so mixing
    them doubles the first compilation (about 30 s of the train command)."""
    out = np.ascontiguousarray(arr).view()
    out.flags.writeable = False
    return out


def arrays_beside(day_dir, prefix: str, names: tuple[str, ...], compute) -> dict[str, np.ndarray]:
    """Arrays derived from a day, kept beside its saved directory as ``<prefix>_<name>.npy`` and
    memory-mapped from there; ``compute()`` (a dict of them) runs when they are missing, and its
    result is saved when ``day_dir`` is given and writable (a read-only cache computes again)."""
    paths = {k: Path(day_dir) / f"{prefix}_{k}.npy" for k in names} if day_dir is not None else {}
    if paths and all(p.exists() for p in paths.values()):
        return {k: np.load(p, mmap_mode="r") for k, p in paths.items()}
    arrays = {k: frozen(v) for k, v in compute().items()}
    try:
        for k, p in paths.items():
            tmp = p.with_suffix(".tmp.npy")
            np.save(tmp, arrays[k])
            tmp.replace(p)
    except OSError:
        pass
    return arrays

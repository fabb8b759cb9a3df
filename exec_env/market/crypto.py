"""Binance spot raw websocket captures: a local L2 order book rebuilt from a REST snapshot and diffs.

Format (registry name ``"binance"``)
====================================
A text file, plain, gzip (``.gz``) or zstd (``.zst``) compressed, one message per line::

    <local_ts_ns> <json>

``local_ts_ns`` is the capture machine's receive time (integer ns since the epoch, UTC); ``json`` is
either a combined-stream message ``{"stream": "btcusdt@depth@100ms", "data": {...}}``, a raw stream
message (the ``data`` object alone), or a REST depth snapshot ``{"lastUpdateId": ..., "bids":
[[price, qty], ...], "asks": [...]}`` (what hftbacktest's collector writes, and what the shared
sample holds on its line 8). Message kinds, recognised by their content:

* ``depthUpdate`` (``e``): diff depth, fields ``U`` (first update id), ``u`` (final update id),
  ``b``/``a`` lists of ``[price, qty]`` strings, ``qty`` the new absolute size of the level, 0 removes it;
* REST snapshot (``lastUpdateId``, ``bids``, ``asks``);
* ``trade`` (``e``; ``p``, ``q``, ``t`` trade id, ``m`` buyer is the maker) and ``aggTrade``
  (``a`` aggregate id, same ``p``/``q``/``m``);
* ``bookTicker`` (``u``, ``b``, ``B``, ``a``, ``A``; no ``e`` on spot);
* anything else (subscription acknowledgements, other streams) is counted in
  ``notes["other_messages"]`` and not used.

Book reconstruction (Binance's documented procedure for a local order book, spot)
---------------------------------------------------------------------------------
Diffs that arrive before a snapshot are buffered. When a snapshot arrives the book is set to it;
buffered and later diffs with ``u <= lastUpdateId`` are dropped (``notes["stale_updates_dropped"]``);
the first diff applied must have ``U <= lastUpdateId + 1 <= u``; every later diff must have
``U == previous u + 1``. A diff received before the first snapshot line is never applied to an
earlier book (there is none); if it bridges the snapshot (``u > lastUpdateId``) it is applied right
after it, as Binance prescribes (``notes["buffered_updates_applied"]``), and the book row that
results is stamped with the snapshot line's time, when that state was first known locally.
A broken chain is a ``ValueError`` naming the file, the line and the field ``U`` unless
``on_gap="resync"``: then the book is discarded and rebuilt from the next snapshot line of the
capture (the same procedure, with the diffs buffered since the gap). The interval without a valid
book, [gap line, resync snapshot line), becomes a trading halt of the day (``MarketDay.halts``: the
simulator does not trade on a book that is unknown); without a later snapshot it lasts to the end
of the capture. ``notes`` count ``resyncs`` and ``updates_skipped_in_resync``. Snapshot lines that
arrive while the book is in sync are not used (the diff chain is authoritative):
``notes["snapshots_unused"]``. USD-M/COIN-M futures diffs (field ``pu``) follow different rules and
are rejected.

The REST snapshot holds at most ``limit`` (1,000 on Binance) levels a side; levels further away
are known only once a diff touches them, so only the top of the book is exact: keep ``levels`` far
below the snapshot's depth (the default 20 is).

Output rows: after every applied diff (and after a snapshot with its bridging diffs) the best
``levels`` (default: the snapshots' depth, at most 50) price levels of each side of the *full* book make a row; rows with equal
timestamps are merged into the state after the last of them (``notes["rows_merged_same_timestamp"]``).
A crossed or locked full book (best bid >= best ask) after a row is a ``ValueError`` naming the line;
``crossed="drop"`` drops such rows instead (``notes["dropped_crossed_rows"]``) while the book
itself keeps being maintained.

Clock
-----
Every record is stamped with its line's local receive time: that is when the data was known to
the capture machine, so replaying on it never uses information early. Binance's event time ``E``
(ms, exchange clock) and trade time ``T`` are not used as the clock; ``notes["exchange_minus_local_ms"]``
gives min/median/max of ``E - local`` over diffs and trades (a clock offset plus latency).

Trades
------
``trade`` messages by default (``trade_stream="auto"``: ``trade`` if the capture has any, else
``aggTrade``; the other stream is counted, never mixed in, which would double-count volume).
Side: ``m`` (buyer is the maker) true -> the seller was the aggressor, -1; false -> +1. Every trade is
kept, including those received before the first book row. Gaps in trade ids are counted in
``notes["trade_id_gaps"]``.

bookTicker
----------
Not used for the book (a separate best-bid/offer stream). With ``book_ticker="check"`` (default) each
book row's best bid/ask is compared with the last bookTicker whose update id ``u`` is <= the row's
final update id (searching the whole capture): ``notes["book_ticker_check"]`` holds the rows
checked and the rows whose best prices or sizes differ. ``"strict"`` raises at the first mismatch
(naming both lines); ``"ignore"`` skips parsing them (they are still counted).

Instrument
----------
``tick_size=None`` infers the tick as the greatest common divisor of every price in the capture
(snapshot and diff levels, trades) on their decimal grid: each price is scaled by the smallest power
of ten that makes all of them integers, and the gcd is divided back. A given ``tick_size`` must divide
every price (else ``ValueError``). ``lot_size=None`` infers the lot the same way from the trade sizes
(orders fill in whole lots), or from the book sizes when the capture has no trade; a given
``lot_size`` (e.g. Binance's ``stepSize``, 1e-5 for BTCUSDT) is not checked against the data.
``symbol=None`` takes the ``s`` field of the messages (one symbol per file; a given symbol must match it;
without any ``s`` field, the file name's first ``_``-separated part, upper-cased).

Sessions
--------
Crypto trades 24/7; a day is a UTC calendar date of the local clock and a capture that crosses
midnight gives one :class:`MarketDay` per date (the book state carries over; each day's rows start
at its first row). By default ``session_open_ns`` is the first book row of the date (the first moment
a book exists, so an episode can always start at the open) and ``session_close_ns`` the last line of
any kind of that date. ``session=("HH:MM:SS", "HH:MM:SS")`` sets both as UTC times of every date
(``"24:00:00"`` allowed). A date with no book row, or with fewer than two distinct record times, gives
no day; it is listed in ``notes["dates_without_day"]``.

Malformed input (each a ``ValueError`` naming the file, the 1-based line and the field): a line that is
not ``<integer> <json>``, unparsable JSON or number, local timestamps going backwards, a level that is
not a ``[price, qty]`` pair, a negative size, ``U > u``, a sequence gap, a crossed or locked book, a
file without a depth snapshot.

Measured on the shared sample ``crypto/binance-spot/btcusdt_20240808.gz`` (BTCUSDT spot, 2024-08-08
23:54:13.937-23:59:59.999 UTC, 41,249 lines): one REST snapshot (line 8, 1,000 levels a side,
lastUpdateId 50093239218), 3,451 diffs, 9,757 trades, 28,040 bookTickers. Three diffs precede the
snapshot: two are stale, one (line 6, U..u = ...208..224) bridges it and is applied with it;
no sequence gap, no resync, no crossed or locked book, no trade id gap; 3,449 book rows from
23:54:14.2067 to 23:59:59.9; the bookTicker check agrees on the best prices of every row and on the
sizes of every row. Tick 0.01 and lot 1e-05 are inferred (Binance's BTCUSDT tickSize/stepSize); three
far-away ask levels (200000.00, 80000.00, 74000.00 on lines 1886, 34306, 38887) carry 6-decimal sizes
such as 25.426189, finer than the lot, which is why the lot is inferred from trades. The capture clock
runs about 1.27 s *behind* Binance's (``E - local`` between +1,250 and +1,275 ms, median +1,272), so
``E`` cannot serve as a latency measure on this capture. Parsing is one JSON decode per line (about
100,000 lines/s; 0.4-0.6 s for the sample, plus a one-off numba compilation of the book rebuild).
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from exec_env.market import reader
from exec_env.market.data import MAX_LEVELS, MarketDay, MarketMeta, validate
from exec_env.market.reader import excerpt

__all__ = ["VERSION", "companions", "load", "sniff", "write_binance"]

VERSION = 2  # 2: levels default to the snapshots' depth (was 20)
DAY_NS = 86_400 * 1_000_000_000
ON_GAP = ("raise", "resync")
ON_CROSSED = ("raise", "drop")
BOOK_TICKER = ("check", "strict", "ignore")
TRADE_STREAMS = ("auto", "trade", "aggTrade")

# Counters of the book rebuild (indices into the array it returns).
C_PRE_FIRST = 0  # diffs received before the first snapshot line (binance)
C_STALE = 1  # diffs dropped because u <= lastUpdateId of the snapshot being synced
C_BUFFERED_APPLIED = 2  # diffs received before a snapshot line and applied after it
C_SNAP_USED = 3
C_SNAP_UNUSED = 4  # snapshots that arrived while in sync (binance)
C_GAPS = 5  # sequence gaps (each starts a resync)
C_SKIPPED_RESYNC = 6  # diffs received after a gap and never applied
C_SKIPPED_NO_BOOK = 7  # tardis: updates before the first snapshot block (skipped, as documented)
C_MERGED = 8  # rows merged into a later row with the same timestamp
N_COUNTERS = 9

ACT_APPLY = 0
ACT_STALE = 1
ACT_GAP = 2
ERR_BRIDGE = 1  # first diff after a snapshot has U > lastUpdateId + 1
ERR_CHAIN = 2  # U != previous u + 1


# ----------------------------------------------------------------------------------------------
# shared helpers (also used by exec_env.market.tardis)


def read_bytes(path: Path) -> bytes:
    """The file's text as UTF-8 bytes (gzip/zstd decompressed, truncation detected): see
    :func:`exec_env.market.reader.read_bytes`."""
    return reader.read_bytes(path)


def read_head(path: Path, n: int = 8192) -> bytes:
    """At most ``n`` (decompressed) bytes from the start of the file; b"" if unreadable."""
    return reader.head_bytes(path, n)


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"option {name}={value!r} is invalid; allowed values: {', '.join(map(repr, allowed))}")


def check_levels(levels: Any) -> int:
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 1 <= levels <= MAX_LEVELS:
        raise ValueError(f"option levels={levels!r} is invalid; allowed values: an integer in 1..{MAX_LEVELS}")
    return int(levels)


def check_increment(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"option {name}={value!r} is invalid; allowed values: None (inferred) or a finite number > 0")
    return float(value)


def parse_session(session: Any) -> tuple[int, int] | None:
    """``None`` or ``("HH:MM:SS[.fff]", "HH:MM:SS[.fff]")`` UTC -> ns offsets from midnight."""
    if session is None:
        return None
    allowed = "None (from the data) or a pair of UTC times ('HH:MM:SS', 'HH:MM:SS'), open < close <= '24:00:00'"
    if not (isinstance(session, (tuple, list)) and len(session) == 2 and all(isinstance(s, str) for s in session)):
        raise ValueError(f"option session={session!r} is invalid; allowed values: {allowed}")
    out = []
    for text in session:
        parts = text.split(":")
        try:
            if len(parts) != 3:
                raise ValueError(text)
            h, m, s = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"option session={session!r} is invalid; allowed values: {allowed}") from None
        if not (0 <= h <= 24 and 0 <= m < 60 and 0 <= s < 60):
            raise ValueError(f"option session={session!r} is invalid; allowed values: {allowed}")
        out.append(round((h * 3600 + m * 60) * 1e9 + s * 1e9))
    if not 0 <= out[0] < out[1] <= DAY_NS:
        raise ValueError(f"option session={session!r} is invalid; allowed values: {allowed}")
    return out[0], out[1]


def infer_increment(values: np.ndarray, max_decimals: int = 12) -> float | None:
    """Greatest common divisor of ``values`` on their decimal grid (None if there are none).

    Each value is scaled by ``10**d`` for the smallest ``d`` that makes every value an integer (to
    float precision), the gcd of the integers is taken and scaled back.
    """
    v = np.unique(np.abs(values[np.isfinite(values) & (values != 0)]))
    if v.size == 0:
        return None
    for d in range(max_decimals + 1):
        scaled = v * 10.0**d
        if scaled[-1] >= 2.0**62:
            return None
        r = np.round(scaled)
        if np.all(np.abs(scaled - r) <= np.maximum(1e-7, scaled * 3.2e-15)):
            g = int(np.gcd.reduce(r.astype(np.int64)))
            return g / 10**d
    return None


def check_on_grid(path: Path, name: str, increment: float, values: np.ndarray, lines: np.ndarray, field: str) -> None:
    """A given ``tick_size`` must divide every price."""
    q = values / increment
    bad = np.flatnonzero(np.isfinite(q) & (np.abs(q - np.round(q)) > 1e-6))
    if bad.size:
        k = int(bad[0])
        raise ValueError(
            f"{path}: row {int(lines[k])}, field '{field}': value {excerpt(values[k])} is not a multiple of the option "
            f"{name}={increment!r}; pass {name}=None to infer it from the data"
        )


# ----------------------------------------------------------------------------------------------
# the order book rebuild (compiled)


@njit(cache=True)
def _set_level(side, r, q, bid_q, ask_q, st, n_grid):
    """Set one level; ``st`` = [best bid index, best ask index, bid level count, ask level count]."""
    if side == 0:
        old = bid_q[r]
        bid_q[r] = q
        if old > 0.0 and q == 0.0:
            st[2] -= 1
        elif old == 0.0 and q > 0.0:
            st[2] += 1
        if q > 0.0:
            if r > st[0]:
                st[0] = r
        elif r == st[0]:
            if st[2] == 0:
                st[0] = -1
            else:
                j = r - 1
                while bid_q[j] == 0.0:
                    j -= 1
                st[0] = j
    else:
        old = ask_q[r]
        ask_q[r] = q
        if old > 0.0 and q == 0.0:
            st[3] -= 1
        elif old == 0.0 and q > 0.0:
            st[3] += 1
        if q > 0.0:
            if r < st[1]:
                st[1] = r
        elif r == st[1]:
            if st[3] == 0:
                st[1] = n_grid
            else:
                j = r + 1
                while ask_q[j] == 0.0:
                    j += 1
                st[1] = j


@njit(cache=True)
def _apply(lo, hi, lv_side, lv_rank, lv_qty, bid_q, ask_q, st, n_grid):
    for k in range(lo, hi):
        _set_level(lv_side[k], lv_rank[k], lv_qty[k], bid_q, ask_q, st, n_grid)


@njit(cache=True)
def _reset(bid_q, ask_q, st, n_grid):
    bid_q[:] = 0.0
    ask_q[:] = 0.0
    st[0] = -1
    st[1] = n_grid
    st[2] = 0
    st[3] = 0


@njit(cache=True)
def _write_row(r, grid, bid_q, ask_q, st, levels, bpx, bsz, apx, asz):
    k = 0
    j = st[0]
    while k < levels and k < st[2]:
        if bid_q[j] > 0.0:
            bpx[r, k] = grid[j]
            bsz[r, k] = bid_q[j]
            k += 1
        j -= 1
    for m in range(k, levels):
        bpx[r, m] = np.nan
        bsz[r, m] = 0.0
    k = 0
    j = st[1]
    while k < levels and k < st[3]:
        if ask_q[j] > 0.0:
            apx[r, k] = grid[j]
            asz[r, k] = ask_q[j]
            k += 1
        j += 1
    for m in range(k, levels):
        apx[r, m] = np.nan
        asz[r, m] = 0.0


@njit(cache=True)
def _seq_action(state, lid, prev, first_id, final_id):
    """Binance spot rule for one diff: apply, drop as stale, or a gap."""
    if state == 1:
        if final_id <= lid:
            return ACT_STALE
        if first_id > lid + 1:
            return ACT_GAP
        return ACT_APPLY
    if first_id == prev + 1:
        return ACT_APPLY
    return ACT_GAP


@njit(cache=True)
def rebuild_book(kind, ts, first_id, final_id, lo, hi, lv_side, lv_rank, lv_qty, grid, levels, mode, resync):
    """Replay snapshot (kind 0) and update (kind 1) events into top-``levels`` rows.

    ``mode`` 0: Binance (diffs buffered until a snapshot, sequence rules, snapshots while in sync unused);
    ``mode`` 1: Tardis (no sequence numbers; updates before the first snapshot skipped; every snapshot
    event resets the book). Returns rows (ts, last event index, final update id, 4 level arrays),
    unsynced intervals, counters, and an error (event index, code, expected value; index -1 if none).
    """
    n = kind.shape[0]
    n_grid = grid.shape[0]
    bid_q = np.zeros(n_grid)
    ask_q = np.zeros(n_grid)
    st = np.array([-1, n_grid, 0, 0], dtype=np.int64)
    row_ts = np.empty(n, dtype=np.int64)
    row_ev = np.empty(n, dtype=np.int64)
    row_seq = np.empty(n, dtype=np.int64)
    bpx = np.empty((n, levels))
    bsz = np.empty((n, levels))
    apx = np.empty((n, levels))
    asz = np.empty((n, levels))
    halts = np.empty((n + 1, 2), dtype=np.int64)
    nh = 0
    halt_open = False
    cnt = np.zeros(N_COUNTERS, dtype=np.int64)
    buf = np.empty(n, dtype=np.int64)
    work = np.empty(n, dtype=np.int64)
    nbuf = 0
    state = 0  # 0 no book, 1 snapshot applied and waiting for the bridging diff, 2 in sync
    lid = 0
    prev = 0
    nr = 0
    seen_snap = False
    err_ev = -1
    err_code = 0
    err_expect = 0
    for i in range(n):
        publish = False
        if kind[i] == 0:
            if mode == 0 and state == 2:
                cnt[C_SNAP_UNUSED] += 1
                continue
            resyncing = seen_snap and state == 0
            seen_snap = True
            _reset(bid_q, ask_q, st, n_grid)
            _apply(lo[i], hi[i], lv_side, lv_rank, lv_qty, bid_q, ask_q, st, n_grid)
            cnt[C_SNAP_USED] += 1
            if mode == 1:
                state = 2
            else:
                lid = final_id[i]
                prev = lid
                state = 1
                nw = nbuf
                work[:nw] = buf[:nw]
                nbuf = 0
                for k in range(nw):
                    j = work[k]
                    if state == 0:  # a gap during the replay: keep the rest for the next snapshot
                        buf[nbuf] = j
                        nbuf += 1
                        continue
                    act = _seq_action(state, lid, prev, first_id[j], final_id[j])
                    if act == ACT_STALE:
                        cnt[C_STALE] += 1
                        if resyncing:
                            cnt[C_SKIPPED_RESYNC] += 1
                        continue
                    if act == ACT_GAP:
                        if not resync:
                            return (row_ts[:nr], row_ev[:nr], row_seq[:nr], bpx[:nr], bsz[:nr], apx[:nr],
                                    asz[:nr], halts[:nh], cnt, j, ERR_BRIDGE if state == 1 else ERR_CHAIN,
                                    lid + 1 if state == 1 else prev + 1)  # fmt: skip
                        cnt[C_GAPS] += 1
                        state = 0
                        buf[nbuf] = j
                        nbuf += 1
                        continue
                    _apply(lo[j], hi[j], lv_side, lv_rank, lv_qty, bid_q, ask_q, st, n_grid)
                    cnt[C_BUFFERED_APPLIED] += 1
                    prev = final_id[j]
                    state = 2
            publish = state != 0
        else:
            if state == 0:
                if mode == 0:
                    buf[nbuf] = i
                    nbuf += 1
                    if not seen_snap:
                        cnt[C_PRE_FIRST] += 1
                else:
                    cnt[C_SKIPPED_NO_BOOK] += 1
                continue
            if mode == 0:
                act = _seq_action(state, lid, prev, first_id[i], final_id[i])
                if act == ACT_STALE:
                    cnt[C_STALE] += 1
                    continue
                if act == ACT_GAP:
                    if not resync:
                        return (row_ts[:nr], row_ev[:nr], row_seq[:nr], bpx[:nr], bsz[:nr], apx[:nr], asz[:nr],
                                halts[:nh], cnt, i, ERR_BRIDGE if state == 1 else ERR_CHAIN,
                                lid + 1 if state == 1 else prev + 1)  # fmt: skip
                    cnt[C_GAPS] += 1
                    state = 0
                    buf[0] = i
                    nbuf = 1
                    if nr > 0 and not halt_open:
                        halt_open = True
                        halts[nh, 0] = ts[i]
                    continue
                prev = final_id[i]
                state = 2
            _apply(lo[i], hi[i], lv_side, lv_rank, lv_qty, bid_q, ask_q, st, n_grid)
            publish = True
        if publish:
            if halt_open:
                halt_open = False
                if ts[i] > halts[nh, 0]:
                    halts[nh, 1] = ts[i]
                    nh += 1
            if nr > 0 and row_ts[nr - 1] == ts[i]:
                r = nr - 1
                cnt[C_MERGED] += 1
            else:
                r = nr
                nr += 1
            row_ts[r] = ts[i]
            row_ev[r] = i
            row_seq[r] = prev if mode == 0 else i
            _write_row(r, grid, bid_q, ask_q, st, levels, bpx, bsz, apx, asz)
    if mode == 0 and seen_snap and state == 0:
        cnt[C_SKIPPED_RESYNC] += nbuf
    if halt_open:
        halts[nh, 1] = -1
        nh += 1
    return (row_ts[:nr], row_ev[:nr], row_seq[:nr], bpx[:nr], bsz[:nr], apx[:nr], asz[:nr], halts[:nh], cnt,
            err_ev, err_code, err_expect)  # fmt: skip


@dataclass
class Book:
    """Rows of a rebuilt book, with the event (file line) each row comes from."""

    ts: np.ndarray
    line: np.ndarray
    seq: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray


def drop_crossed(path: Path, book: Book, crossed: str, notes: dict, what: str) -> Book:
    """Raise at the first crossed/locked row, or drop such rows with ``crossed="drop"``."""
    both = (book.bid_sz[:, 0] > 0) & (book.ask_sz[:, 0] > 0)
    bad = both & (book.bid_px[:, 0] >= book.ask_px[:, 0])
    notes["dropped_crossed_rows"] = 0
    if not bad.any():
        return book
    if crossed == "raise":
        k = int(np.flatnonzero(bad)[0])
        bid, ask = book.bid_px[k, 0], book.ask_px[k, 0]
        kind = "crossed" if bid > ask else "locked"
        raise ValueError(
            f"{path}: row {int(book.line[k])}, field '{what}': {kind} book after this line: best bid {excerpt(bid)} >= "
            f"best ask {excerpt(ask)}; pass crossed='drop' to drop such rows (counted in notes)"
        )
    keep = ~bad
    notes["dropped_crossed_rows"] = int(bad.sum())
    return Book(*(getattr(book, f)[keep] for f in ("ts", "line", "seq", "bid_px", "bid_sz", "ask_px", "ask_sz")))


def make_days(
    path: Path,
    book: Book,
    trades: dict[str, np.ndarray],
    record_ts: np.ndarray,
    halts: np.ndarray,
    meta: dict[str, Any],
    notes: dict[str, Any],
    session: tuple[int, int] | None,
) -> list[MarketDay]:
    """Split rows and trades by UTC date of the clock, build, validate."""
    end_of_data = int(record_ts.max()) + 1 if record_ts.size else 0
    halts = halts.copy()
    halts[halts[:, 1] == -1, 1] = end_of_data
    book_day = book.ts // DAY_NS
    trade_day = trades["ts"] // DAY_NS
    rec_day = record_ts // DAY_NS
    all_days = np.unique(np.concatenate([book_day, trade_day, rec_day]))
    built = []
    missing = []
    for d in all_days.tolist():
        b0, b1 = np.searchsorted(book_day, [d, d + 1])
        t0, t1 = np.searchsorted(trade_day, [d, d + 1])
        r0, r1 = np.searchsorted(rec_day, [d, d + 1])
        date = str(np.datetime64(d, "D"))
        if b1 == b0:
            missing.append(f"{date}: no book row")
            continue
        day_start = d * DAY_NS
        if session is None:
            open_ns = int(book.ts[b0])
            close_ns = int(record_ts[r1 - 1]) if r1 > r0 else int(book.ts[b1 - 1])
            close_ns = max(close_ns, int(book.ts[b1 - 1]), int(trades["ts"][t1 - 1]) if t1 > t0 else 0)
        else:
            open_ns, close_ns = day_start + session[0], day_start + session[1]
        if close_ns <= open_ns:
            missing.append(f"{date}: a single record time ({open_ns}); pass session=(open, close)")
            continue
        h = halts[(halts[:, 1] > day_start) & (halts[:, 0] < day_start + DAY_NS)].copy()
        if h.size:
            h[:, 0] = np.maximum(h[:, 0], day_start)
            h[:, 1] = np.minimum(h[:, 1], day_start + DAY_NS)
        built.append((date, b0, b1, t0, t1, open_ns, close_ns, h))
    if not built:
        raise ValueError(f"{path}: no day with a book: {'; '.join(missing)}")
    notes["dates_without_day"] = missing
    days = []
    for date, b0, b1, t0, t1, open_ns, close_ns, h in built:
        day = MarketDay(
            meta=MarketMeta(
                symbol=meta["symbol"],
                tick_size=meta["tick_size"],
                lot_size=meta["lot_size"],
                session_open_ns=open_ns,
                session_close_ns=close_ns,
                source=str(path),
                date=date,
                notes=dict(notes),
            ),
            ts=np.ascontiguousarray(book.ts[b0:b1]),
            bid_px=np.ascontiguousarray(book.bid_px[b0:b1]),
            bid_sz=np.ascontiguousarray(book.bid_sz[b0:b1]),
            ask_px=np.ascontiguousarray(book.ask_px[b0:b1]),
            ask_sz=np.ascontiguousarray(book.ask_sz[b0:b1]),
            trade_ts=np.ascontiguousarray(trades["ts"][t0:t1]),
            trade_px=np.ascontiguousarray(trades["px"][t0:t1]),
            trade_sz=np.ascontiguousarray(trades["sz"][t0:t1]),
            trade_side=np.ascontiguousarray(trades["side"][t0:t1]),
            halts=h.astype(np.int64) if h.shape[0] else None,
        )
        days.append(validate(day, origin=str(path), book_rows=book.line[b0:b1], trade_rows=trades["line"][t0:t1]))
    return days


def minmax_median(x: np.ndarray) -> dict[str, float] | None:
    if x.size == 0:
        return None
    return {"min": float(x.min()), "median": float(np.median(x)), "max": float(x.max())}


# ----------------------------------------------------------------------------------------------
# Binance


def sniff(path: Path) -> bool:
    """A line ``<digits> {json}`` whose JSON looks like a Binance depth, trade or ticker message."""
    head = read_head(Path(path))
    first = head.split(b"\n", 1)[0]
    stamp, sep, body = first.partition(b" ")
    if not (sep and stamp.isdigit() and body.startswith(b"{")):
        return False
    markers = (b'"depthUpdate"', b'"lastUpdateId"', b"@depth", b"@bookTicker", b'"e":"trade"', b'"e":"aggTrade"')
    return any(m in head for m in markers)


def companions(path: Path) -> list[Path]:
    """A capture is self-contained."""
    return []


def _fail(path: Path, line: int, field: str, problem: str) -> ValueError:
    return ValueError(f"{path}: row {line}, field '{field}': {problem}")


def _levels_array(path: Path, pairs: list, owner_line: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``[[price, qty], ...]`` strings -> float (n, 2); errors name the line and the field."""
    if not pairs:
        return np.zeros((0, 2))
    try:
        arr = np.array(pairs, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == 2:
            return arr
    except (ValueError, TypeError):
        pass
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise _fail(path, int(owner_line[k]), str(field[k]), f"a level must be a [price, qty] pair, got {pair!r}")
        for x in pair:
            try:
                float(x)
            except (ValueError, TypeError):
                raise _fail(path, int(owner_line[k]), str(field[k]), f"unparsable number {x!r} in {pair!r}") from None
    raise _fail(path, int(owner_line[0]), str(field[0]), "unparsable levels")  # pragma: no cover


def _floats(path: Path, values: list, lines: np.ndarray, field: str) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64).reshape(len(values))
    except (ValueError, TypeError):
        for k, x in enumerate(values):
            try:
                float(x)
            except (ValueError, TypeError):
                raise _fail(path, int(lines[k]), field, f"unparsable number {x!r}") from None
        raise


def _ints(path: Path, values: list, lines: np.ndarray, field: str) -> np.ndarray:
    for k, x in enumerate(values):
        if not (isinstance(x, int) and not isinstance(x, bool)):
            raise _fail(path, int(lines[k]), field, f"expected an integer, got {x!r}")
    return np.array(values, dtype=np.int64)


def load(
    path: Path,
    *,
    levels: int | None = None,
    tick_size: float | None = None,
    lot_size: float | None = None,
    symbol: str | None = None,
    on_gap: str = "raise",
    crossed: str = "raise",
    book_ticker: str = "check",
    trade_stream: str = "auto",
    session: tuple[str, str] | None = None,
) -> list[MarketDay]:
    """Parse a Binance spot capture (see the module docstring) into one validated day per UTC date.

    Options: ``levels`` price levels per side in the output (1..50; default None: the depth of the
    capture's snapshots, at most 50); ``tick_size`` /
    ``lot_size`` (None: inferred, see the docstring); ``symbol`` (None: from the data);
    ``on_gap`` "raise" | "resync"; ``crossed`` "raise" | "drop"; ``book_ticker`` "check" |
    "strict" | "ignore"; ``trade_stream`` "auto" | "trade" | "aggTrade"; ``session`` None or a pair
    of UTC times ("HH:MM:SS", "HH:MM:SS").
    """
    path = Path(path)
    levels = None if levels is None else check_levels(levels)
    tick_opt = check_increment("tick_size", tick_size)
    lot_opt = check_increment("lot_size", lot_size)
    check_choice("on_gap", on_gap, ON_GAP)
    check_choice("crossed", crossed, ON_CROSSED)
    check_choice("book_ticker", book_ticker, BOOK_TICKER)
    check_choice("trade_stream", trade_stream, TRADE_STREAMS)
    if symbol is not None and not (isinstance(symbol, str) and symbol):
        raise ValueError(f"option symbol={symbol!r} is invalid; allowed values: None (from the data) or a string")
    session_ns = parse_session(session)

    lines = read_bytes(path).decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    line_ts = np.empty(len(lines), dtype=np.int64)
    # book events
    ev_line: list[int] = []
    ev_kind: list[int] = []
    ev_first: list[Any] = []
    ev_final: list[Any] = []
    ev_nb: list[int] = []
    ev_na: list[int] = []
    ev_lag: list[Any] = []
    pairs: list = []
    # trades by stream
    tr = {"trade": ([], [], [], [], [], []), "aggTrade": ([], [], [], [], [], [])}  # line, p, q, m, id, E
    bt_line: list[int] = []
    bt_vals: list = []
    symbols: Counter = Counter()
    other: Counter = Counter()
    n_book_ticker = 0
    loads = json.JSONDecoder().decode
    skip_ticker = book_ticker == "ignore"
    for no, text in enumerate(lines, 1):
        stamp, sep, body = text.partition(" ")
        if not sep:
            raise _fail(path, no, "local_ts", f"expected '<local_ts_ns> <json>' (2 fields), got {excerpt(text[:80])}")
        try:
            line_ts[no - 1] = int(stamp)
        except (ValueError, OverflowError):
            raise _fail(path, no, "local_ts", f"not an integer ns timestamp: {excerpt(stamp[:40])}") from None
        if skip_ticker and "bookTicker" in body[:64]:
            n_book_ticker += 1
            continue
        try:
            msg = loads(body)
        except ValueError as exc:
            raise _fail(path, no, "json", f"unparsable JSON ({exc})") from None
        if not isinstance(msg, dict):
            raise _fail(path, no, "json", f"expected a JSON object, got {type(msg).__name__}")
        data = msg.get("data", msg) if "stream" in msg else msg
        if not isinstance(data, dict):
            other[str(msg.get("stream", "?"))] += 1
            continue
        e = data.get("e")
        try:
            if e == "depthUpdate":
                if "pu" in data:
                    raise _fail(path, no, "pu", "futures depth diffs (field 'pu') are not supported, only spot")
                b, a = data["b"], data["a"]
                ev_line.append(no)
                ev_kind.append(1)
                ev_first.append(data["U"])
                ev_final.append(data["u"])
                ev_nb.append(len(b))
                ev_na.append(len(a))
                ev_lag.append(data.get("E"))
                pairs += b
                pairs += a
                symbols[data.get("s")] += 1
            elif "lastUpdateId" in data and "bids" in data and "asks" in data:
                b, a = data["bids"], data["asks"]
                ev_line.append(no)
                ev_kind.append(0)
                ev_first.append(data["lastUpdateId"])
                ev_final.append(data["lastUpdateId"])
                ev_nb.append(len(b))
                ev_na.append(len(a))
                ev_lag.append(None)
                pairs += b
                pairs += a
            elif e == "trade" or e == "aggTrade":
                cols = tr[e]
                cols[0].append(no)
                cols[1].append(data["p"])
                cols[2].append(data["q"])
                cols[3].append(data["m"])
                cols[4].append(data["t"] if e == "trade" else data["a"])
                cols[5].append(data.get("E"))
                symbols[data.get("s")] += 1
            elif e == "bookTicker" or (e is None and {"u", "b", "B", "a", "A"} <= data.keys()):
                n_book_ticker += 1
                if not skip_ticker:
                    bt_line.append(no)
                    bt_vals.append((data["u"], data["b"], data["B"], data["a"], data["A"]))
                symbols[data.get("s")] += 1
            else:
                other[str(msg.get("stream", e if e is not None else "?"))] += 1
        except KeyError as exc:
            raise _fail(
                path, no, str(exc.args[0]), f"missing field {excerpt(exc.args[0])} in a {e or 'snapshot'} message"
            ) from None
        except TypeError as exc:
            raise _fail(path, no, "json", f"malformed message ({exc})") from None

    if line_ts.size > 1:
        bad = np.flatnonzero(np.diff(line_ts) < 0)
        if bad.size:
            k = int(bad[0]) + 1
            raise _fail(
                path,
                k + 1,
                "local_ts",
                f"timestamp {line_ts[k]} is before the previous line's {line_ts[k - 1]} (lines must be in "
                "receive order)",
            )

    symbols.pop(None, None)
    if len(symbols) > 1:
        raise ValueError(f"{path}: the capture mixes symbols {sorted(symbols)}; this loader reads one symbol per file")
    data_symbol = next(iter(symbols), None)
    if symbol is not None and data_symbol is not None and symbol != data_symbol:
        raise ValueError(f"option symbol={symbol!r} does not match the capture's symbol {data_symbol!r} ({path})")
    sym = symbol or data_symbol or path.name.split("_")[0].upper()

    # --- book events -> arrays
    n_ev = len(ev_line)
    if 0 not in ev_kind:
        raise _fail(
            path,
            1,
            "lastUpdateId",
            f"none of the {len(lines):,} lines is a depth snapshot, so diffs make no book; "
            "a capture split in files (e.g. at midnight): load them together, oldest first",
        )
    e_line = np.array(ev_line, dtype=np.int64)
    e_kind = np.array(ev_kind, dtype=np.int8)
    e_first = _ints(path, ev_first, e_line, "U")
    e_final = _ints(path, ev_final, e_line, "u")
    bad = np.flatnonzero(e_first > e_final)
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(e_line[k]), "U", f"first update id U={e_first[k]} is after the final id u={e_final[k]}")
    nb = np.array(ev_nb, dtype=np.int64)
    na = np.array(ev_na, dtype=np.int64)
    counts = np.empty(2 * n_ev, dtype=np.int64)
    counts[0::2] = nb
    counts[1::2] = na
    lv_side = np.repeat(np.tile(np.array([0, 1], dtype=np.int8), n_ev), counts)
    lv_line = np.repeat(np.repeat(e_line, 2), counts)
    is_snap = np.repeat(np.repeat(e_kind == 0, 2), counts)
    lv_field = np.where(is_snap, np.where(lv_side == 0, "bids", "asks"), np.where(lv_side == 0, "b", "a"))
    lv = _levels_array(path, pairs, lv_line, lv_field)
    lv_px, lv_qty = np.ascontiguousarray(lv[:, 0]), np.ascontiguousarray(lv[:, 1])
    bad = np.flatnonzero(~np.isfinite(lv_qty) | (lv_qty < 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lv_line[k]), str(lv_field[k]), f"size must be finite and >= 0, got {excerpt(lv_qty[k])}")
    bad = np.flatnonzero(~np.isfinite(lv_px) | (lv_px <= 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(lv_line[k]), str(lv_field[k]), f"price must be finite and > 0, got {excerpt(lv_px[k])}")
    ends = np.cumsum(nb + na)
    e_lo = ends - (nb + na)
    grid, rank = np.unique(lv_px, return_inverse=True)
    e_ts = line_ts[e_line - 1]
    if levels is None:  # the depth the capture's snapshots hold, up to the canonical form's maximum
        snap = e_kind == 0
        levels = int(min(MAX_LEVELS, max(1, nb[snap].max(), na[snap].max())))

    out = rebuild_book(
        e_kind, e_ts, e_first, e_final, e_lo, ends, lv_side, rank.astype(np.int64), lv_qty, grid, levels, 0,
        on_gap == "resync",
    )  # fmt: skip
    row_ts, row_ev, row_seq, bpx, bsz, apx, asz, halts, cnt, err_ev, err_code, err_expect = out
    if err_ev >= 0:
        j = int(err_ev)
        if err_code == ERR_BRIDGE:
            problem = (
                f"sequence gap: the first diff after the snapshot must have U <= lastUpdateId+1 = {err_expect} <= u, "
                f"got U={e_first[j]}, u={e_final[j]}"
            )
        else:
            problem = f"sequence gap: expected U == previous u + 1 = {err_expect}, got U={e_first[j]} (u={e_final[j]})"
        raise _fail(path, int(e_line[j]), "U", problem + "; pass on_gap='resync' to rebuild from the next snapshot")
    book = Book(row_ts, e_line[row_ev], row_seq, bpx, bsz, apx, asz)
    halts = halts.copy()
    halts[halts[:, 1] == -1, 1] = int(line_ts[-1]) + 1  # never resynced: unknown to the end of the capture

    notes: dict[str, Any] = {
        "format": "binance raw websocket capture: '<local_ts_ns> <json>' lines",
        "clock": "local receive timestamp of each line (ns); Binance event time E is not the clock",
        "lines": len(lines),
        "depth_snapshots": int((e_kind == 0).sum()),
        "depth_updates": int((e_kind == 1).sum()),
        "book_ticker_messages": n_book_ticker,
        "trade_messages": len(tr["trade"][0]),
        "agg_trade_messages": len(tr["aggTrade"][0]),
        "other_messages": dict(other),
        "updates_before_first_snapshot": int(cnt[C_PRE_FIRST]),
        "stale_updates_dropped": int(cnt[C_STALE]),
        "buffered_updates_applied": int(cnt[C_BUFFERED_APPLIED]),
        "snapshots_used": int(cnt[C_SNAP_USED]),
        "snapshots_unused": int(cnt[C_SNAP_UNUSED]),
        "on_gap": on_gap,
        "resyncs": int(cnt[C_GAPS]),
        "updates_skipped_in_resync": int(cnt[C_SKIPPED_RESYNC]),
        "unsynced_intervals": halts.tolist(),
        "rows_merged_same_timestamp": int(cnt[C_MERGED]),
        "levels": levels,
    }
    book = drop_crossed(path, book, crossed, notes, "b")

    # --- trades
    if trade_stream == "auto":
        stream = "trade" if tr["trade"][0] or not tr["aggTrade"][0] else "aggTrade"
    else:
        stream = trade_stream
    t_line_l, t_p, t_q, t_m, t_id, t_e = tr[stream]
    t_line = np.array(t_line_l, dtype=np.int64)
    t_px = _floats(path, t_p, t_line, "p")
    t_sz = _floats(path, t_q, t_line, "q")
    for k, m in enumerate(t_m):
        if not isinstance(m, bool):
            raise _fail(path, int(t_line[k]), "m", f"expected true or false, got {m!r}")
    t_side = np.where(np.array(t_m, dtype=bool), -1, 1).astype(np.int8)
    bad = np.flatnonzero(~(t_sz > 0))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, int(t_line[k]), "q", f"trade size must be > 0, got {excerpt(t_sz[k])}")
    ids = _ints(path, t_id, t_line, "t" if stream == "trade" else "a")
    trades = {"ts": line_ts[t_line - 1], "px": t_px, "sz": t_sz, "side": t_side, "line": t_line}
    notes["trade_stream"] = stream
    notes["trade_id_gaps"] = int((np.diff(ids) != 1).sum()) if ids.size > 1 else 0
    notes["trades_before_first_book_row"] = int((trades["ts"] < book.ts[0]).sum()) if book.ts.size else 0
    lag = [(line_ts[ln - 1], x) for ln, x in zip(e_line.tolist(), ev_lag, strict=True) if isinstance(x, int)]
    lag += [(line_ts[ln - 1], x) for ln, x in zip(t_line_l, t_e, strict=True) if isinstance(x, int)]
    lag_ms = np.array([x - t / 1e6 for t, x in lag], dtype=np.float64)
    notes["exchange_minus_local_ms"] = minmax_median(lag_ms)

    # --- bookTicker check
    if book_ticker != "ignore":
        notes["book_ticker_check"] = _check_book_ticker(path, book, bt_line, bt_vals, book_ticker == "strict")

    # --- instrument
    prices = np.concatenate([lv_px, t_px])
    price_lines = np.concatenate([lv_line, t_line])
    if tick_opt is None:
        tick = infer_increment(prices)
        if tick is None:
            raise ValueError(f"{path}: cannot infer the tick size from the prices; pass tick_size=")
        notes["tick_size_inferred"] = True
    else:
        check_on_grid(path, "tick_size", tick_opt, prices, price_lines, "price")
        tick = tick_opt
        notes["tick_size_inferred"] = False
    if lot_opt is None:
        lot = infer_increment(t_sz if t_sz.size else lv_qty)
        if lot is None:
            raise ValueError(f"{path}: cannot infer the lot size from the sizes; pass lot_size=")
        notes["lot_size_inferred"] = True
    else:
        lot = lot_opt
        notes["lot_size_inferred"] = False
    notes["session"] = (
        "UTC date; open = first book row of the date, close = last line of the date"
        if session_ns is None
        else f"UTC {session[0]}-{session[1]} of every date (option session)"
    )
    meta = {"symbol": sym, "tick_size": tick, "lot_size": lot}
    return make_days(path, book, trades, line_ts, halts, meta, notes, session_ns)


def _check_book_ticker(path: Path, book: Book, bt_line: list[int], bt_vals: list, strict: bool) -> dict[str, int]:
    """Compare each row's best bid/ask with the last bookTicker at or before its final update id."""
    if not bt_vals or book.ts.size == 0:
        return {"rows_checked": 0, "price_mismatches": 0, "size_mismatches": 0}
    line = np.array(bt_line, dtype=np.int64)
    u = _ints(path, [v[0] for v in bt_vals], line, "u")
    px = np.array([v[1:] for v in bt_vals], dtype=np.float64)  # b, B, a, A
    order = np.argsort(u, kind="stable")
    u, px, line = u[order], px[order], line[order]
    k = np.searchsorted(u, book.seq, side="right") - 1
    has = (k >= 0) & (book.bid_sz[:, 0] > 0) & (book.ask_sz[:, 0] > 0)
    kk = np.where(has, k, 0)
    price_bad = has & ((px[kk, 0] != book.bid_px[:, 0]) | (px[kk, 2] != book.ask_px[:, 0]))
    size_bad = has & ((px[kk, 1] != book.bid_sz[:, 0]) | (px[kk, 3] != book.ask_sz[:, 0]))
    if strict and (price_bad | size_bad).any():
        r = int(np.flatnonzero(price_bad | size_bad)[0])
        raise _fail(
            path,
            int(book.line[r]),
            "b",
            f"best bid/ask after this line ({book.bid_px[r, 0]} x {book.bid_sz[r, 0]}, {book.ask_px[r, 0]} x "
            f"{book.ask_sz[r, 0]}) differs from the bookTicker on line {int(line[kk[r]])} ({px[kk[r]].tolist()})",
        )
    return {
        "rows_checked": int(has.sum()),
        "price_mismatches": int(price_bad.sum()),
        "size_mismatches": int(size_bad.sum()),
    }


# ----------------------------------------------------------------------------------------------
# writer


def _fmt(x: float, what: str) -> str:
    s = f"{x:.8f}"
    if float(s) != x:
        raise ValueError(f"{what} {x!r} cannot be written exactly with Binance's 8 decimals")
    return s


def write_binance(
    day: MarketDay, path: str | Path, symbol: str | None = None, book_ticker: bool = True, first_update_id: int = 1000
) -> Path:
    """Write ``day`` as a Binance spot capture that :func:`load` reads back exactly (gzip if ``.gz``).

    Row 0 becomes a REST snapshot line; every later row a ``depthUpdate`` diff against the previous
    row (prices that left the recorded levels are removed with qty 0; an unchanged row gives an empty
    diff), with ``U == u`` = the previous id + 1; with ``book_ticker`` a bookTicker line follows each
    row whose sides are both non-empty. Trades become ``trade`` messages (``m`` true for side -1;
    side 0 cannot be written). At equal timestamps trade lines come before the book line, matching
    the canonical order. Prices and sizes must be exact with 8 decimals.
    """
    path = Path(path)
    sym = (symbol or day.meta.symbol).upper()
    stream = sym.lower()
    if (day.trade_side == 0).any():
        raise ValueError(f"{day.meta.source}: trades with unknown side (0) cannot be written as Binance trades")
    recs: list[tuple[int, int, int, str]] = []  # (ts, order, seq, text)

    def levels_of(r: int, side: str) -> dict[str, str]:
        px, sz = getattr(day, f"{side}_px")[r], getattr(day, f"{side}_sz")[r]
        return {_fmt(p, "price"): _fmt(q, "size") for p, q in zip(px, sz, strict=True) if q > 0}

    update_id = first_update_id
    prev = {"bid": levels_of(0, "bid"), "ask": levels_of(0, "ask")}
    snap = {"lastUpdateId": update_id, "bids": [list(x) for x in prev["bid"].items()],
            "asks": [list(x) for x in prev["ask"].items()]}  # fmt: skip
    recs.append((int(day.ts[0]), 1, 0, json.dumps(snap, separators=(",", ":"))))
    zero = "0.00000000"
    for r in range(day.n_books):
        t = int(day.ts[r])
        if r > 0:
            cur = {"bid": levels_of(r, "bid"), "ask": levels_of(r, "ask")}
            diff = {}
            for side in ("bid", "ask"):
                changes = [[p, q] for p, q in cur[side].items() if prev[side].get(p) != q]
                changes += [[p, zero] for p in prev[side] if p not in cur[side]]
                diff[side] = changes
            update_id += 1
            msg = {"e": "depthUpdate", "E": t // 1_000_000, "s": sym, "U": update_id, "u": update_id,
                   "b": diff["bid"], "a": diff["ask"]}  # fmt: skip
            recs.append(
                (t, 1, 2 * r, json.dumps({"stream": f"{stream}@depth@100ms", "data": msg}, separators=(",", ":")))
            )
            prev = cur
        if book_ticker and day.bid_sz[r, 0] > 0 and day.ask_sz[r, 0] > 0:
            bt = {"u": update_id, "s": sym, "b": _fmt(day.bid_px[r, 0], "price"), "B": _fmt(day.bid_sz[r, 0], "size"),
                  "a": _fmt(day.ask_px[r, 0], "price"), "A": _fmt(day.ask_sz[r, 0], "size")}  # fmt: skip
            recs.append(
                (t, 1, 2 * r + 1, json.dumps({"stream": f"{stream}@bookTicker", "data": bt}, separators=(",", ":")))
            )
    for k in range(day.n_trades):
        t = int(day.trade_ts[k])
        msg = {"e": "trade", "E": t // 1_000_000, "s": sym, "t": k + 1, "p": _fmt(day.trade_px[k], "price"),
               "q": _fmt(day.trade_sz[k], "size"), "T": t // 1_000_000, "m": bool(day.trade_side[k] < 0), "M": True}  # fmt: skip
        recs.append((t, 0, k, json.dumps({"stream": f"{stream}@trade", "data": msg}, separators=(",", ":"))))
    recs.sort(key=lambda x: (x[0], x[1], x[2]))
    text = "".join(f"{t} {body}\n" for t, _, _, body in recs).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as fh:
            fh.write(text)
    else:
        path.write_bytes(text)
    return path

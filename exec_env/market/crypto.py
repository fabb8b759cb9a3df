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
``crossed="drop"`` drops such rows instead (``notes["dropped_crossed_rows"]`` and
``notes["dropped_locked_rows"]``) while the book itself keeps being maintained.

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

Captures in several files
-------------------------
A capture split in files (a recorder rotating at UTC midnight or on size) is read as one stream when
the files are loaded together (``load([...])``, or a folder, glob or list given to ``load_market``,
which groups the files of one symbol and orders them by their first line's time): lines are taken in
file order and each later file continues the previous file's book. Its first diffs follow the rule
of a snapshot's bridge, with the previous file's last ``u`` as ``lastUpdateId``: diffs with
``u <= last u`` are stale, the first one applied must have ``U <= last u + 1 <= u``. A break there is
a sequence gap, a ``ValueError`` naming the later file and its line (``on_gap="resync"``: rebuilt
from the next snapshot, as within a file), except when that file holds a depth snapshot of its own:
it is then a capture that starts afresh, rebuilt from that snapshot (``notes["file_restarts"]``,
the interval without a book a halt). A file without a snapshot loaded alone is an error that says to
load it with the earlier files. Error messages name the file and the line within it. Each UTC date
still yields its own day (``meta.source`` lists the files read).

Notes: per day and per capture
------------------------------
The counts in ``notes`` are about the day they are attached to, counted by the local time of the
line: ``lines``, ``depth_snapshots``, ``depth_updates``, ``book_ticker_messages``,
``trade_messages``, ``agg_trade_messages``, ``other_messages``, the rebuild's counts
(``updates_before_first_snapshot``, ``stale_updates_dropped``, ``buffered_updates_applied``,
``snapshots_used``, ``snapshots_unused``, ``resyncs``, ``file_restarts``,
``updates_skipped_in_resync``, ``rows_merged_same_timestamp``), ``dropped_crossed_rows``,
``trade_id_gaps``, ``trades_before_first_book_row``, ``book_ticker_check`` (rows of that day),
``exchange_minus_local_ms`` and ``unsynced_intervals`` (those overlapping the day). The same keys
over the whole capture are in ``notes["file"]``, with ``notes["file"]["files"]`` the files read.
The other keys describe the capture and its options: ``format``, ``clock``, ``on_gap``, ``levels``,
``trade_stream``, ``tick_size_inferred``, ``lot_size_inferred``, ``session``, ``dates_without_day``.

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

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from exec_env.market import reader
from exec_env.market.data import MAX_LEVELS, MarketDay, MarketMeta, validate
from exec_env.market.lift import parse_session, split_days
from exec_env.market.reader import (
    POSITIVE_OR_NONE,
    Capture,
    check_grid,
    check_min,
    check_number,
    check_options,
    check_sorted,
    check_text,
    crossed_locked,
    crossed_rows,
    excerpt,
    fail_first,
    field_error,
    increment,
    number_problem,
    numbers,
    pick,
)

__all__ = ["VERSION", "load", "sniff", "stream_key", "write_binance"]

VERSION = 4  # 2: levels default to the snapshots' depth (was 20); 3: notes counted per day; 4: locked rows apart
DAY_NS = 86_400 * 1_000_000_000
ON_GAP = ("raise", "resync")
ON_CROSSED = ("raise", "drop")
BOOK_TICKER = ("check", "strict", "ignore")
TRADE_STREAMS = ("auto", "trade", "aggTrade")

# Counters of the book rebuild (indices into the array it returns).
C_PRE_FIRST = 0  # updates received before the first snapshot (Binance: buffered; Tardis: skipped, as documented)
C_STALE = 1  # diffs dropped because u <= lastUpdateId of the snapshot being synced
C_BUFFERED_APPLIED = 2  # diffs received before a snapshot line and applied after it
C_SNAP_USED = 3
C_SNAP_UNUSED = 4  # snapshots that arrived while in sync (binance)
C_GAPS = 5  # sequence gaps (each starts a resync)
C_SKIPPED_RESYNC = 6  # diffs received after a gap and never applied
C_MERGED = 7  # rows merged into a later row with the same timestamp
C_FILE_RESTARTS = 8  # a later file of the stream whose diffs do not continue the book, rebuilt from its snapshot
N_COUNTERS = 9

ACT_APPLY = 0
ACT_STALE = 1
ACT_GAP = 2
ERR_BRIDGE = 1  # first diff after a snapshot has U > lastUpdateId + 1
ERR_CHAIN = 2  # U != previous u + 1
ERR_FILE = 3  # the first diff of a later file without a snapshot does not continue the previous file's book


# ----------------------------------------------------------------------------------------------
# shared helpers (also used by exec_env.market.tardis)


def check_levels(levels: Any) -> int:
    return check_number("levels", levels, low=1, high=MAX_LEVELS, integer=True)


CAPTURE_RULES: dict[str, Any] = {
    "tick_size": POSITIVE_OR_NONE, "lot_size": POSITIVE_OR_NONE,
    "symbol": check_text, "crossed": ON_CROSSED,
}  # fmt: skip
"""The checks of the options Binance and Tardis captures share (:func:`reader.check_options`)."""


def capture_meta(symbol: str, o: dict[str, Any], prices: list[tuple], sizes: np.ndarray, notes: dict) -> dict:
    """The symbol, tick size and lot size of a capture (``MarketMeta`` fields). A given ``tick_size``
    must divide every price of ``prices`` (``(src, values, lines)`` each, ``lines[k]`` the place of
    ``values[k]`` in ``src``), else it is inferred from them (:func:`reader.infer_increment`, at least
    two distinct prices); ``lot_size`` is given, or inferred from ``sizes``; ``notes["<name>_inferred"]``
    says which."""
    if o["tick_size"] is not None:
        for src, values, lines in prices:
            check_grid(src, values, o["tick_size"], lines, "price")
    notes["tick_size_inferred"], notes["lot_size_inferred"] = o["tick_size"] is None, o["lot_size"] is None
    all_prices = np.concatenate([p[1] for p in prices])
    return {"symbol": symbol, "tick_size": increment(prices[0][0], o["tick_size"], all_prices, at_least=2),
            "lot_size": increment(prices[0][0], o["lot_size"], sizes, "lot_size")}  # fmt: skip


# ----------------------------------------------------------------------------------------------
# the order book rebuild (compiled)
#
# The book is ``(bid_q, ask_q, st)``: the size at every price of the grid on each side, and ``st`` =
# [best bid index, best ask index, bid level count, ask level count] (set_level, write_side and
# reset_book keep it; Databento's MBO rebuild uses them too). The rebuild's scalar state is one int64
# array indexed by the names below; its output rows are a tuple of arrays.

_STATE, _AT_FILE, _LID, _PREV, _NR, _NH, _HALT_OPEN, _NBUF, _SEEN, _ERR_EV, _ERR_CODE, _ERR_EXPECT = range(12)
# _STATE: 0 no book, 1 snapshot applied and waiting for the bridging diff, 2 in sync; _AT_FILE: the
# boundary flag of the file whose first diff must bridge the previous file's book; _LID, _PREV: the
# synced snapshot's lastUpdateId and the last applied u; _NR, _NH: rows and halts written;
# _HALT_OPEN: an unsynced interval is open; _NBUF: diffs buffered; _SEEN: a snapshot was seen.


@njit(cache=True, inline="always")
def set_level(side, r, q, bid_q, ask_q, st, n_grid):
    """Set one level of ``side`` (0 bid, 1 ask) and keep its best index and level count."""
    qs = bid_q if side == 0 else ask_q
    away = -1 if side == 0 else 1  # towards worse prices
    old = qs[r]
    qs[r] = q
    if old > 0.0 and q == 0.0:
        st[2 + side] -= 1
    elif old == 0.0 and q > 0.0:
        st[2 + side] += 1
    if q > 0.0:
        if (r - st[side]) * away < 0:
            st[side] = r
    elif r == st[side]:
        if st[2 + side] == 0:
            st[side] = -1 if side == 0 else n_grid
        else:
            j = r + away
            while qs[j] == 0.0:
                j += away
            st[side] = j


@njit(cache=True, inline="always")
def _apply(k0, k1, lv_side, lv_rank, lv_qty, bid_q, ask_q, st):
    """Apply the levels ``k0:k1`` (one event's)."""
    for k in range(k0, k1):
        set_level(lv_side[k], lv_rank[k], lv_qty[k], bid_q, ask_q, st, bid_q.shape[0])


@njit(cache=True)
def reset_book(bid_q, ask_q, st):
    """Empty the book ``bid_q``, ``ask_q`` (sizes on the grid) and ``st`` (best indices, level counts)."""
    bid_q[:] = 0.0
    ask_q[:] = 0.0
    st[0] = -1
    st[1] = bid_q.shape[0]
    st[2] = 0
    st[3] = 0


@njit(cache=True)
def write_side(r, grid, qs, best, count, away, px, sz):
    """The best ``px.shape[1]`` levels of one side into row ``r`` (empty levels NaN / 0)."""
    k = 0
    j = best
    while k < px.shape[1] and k < count:
        if qs[j] > 0.0:
            px[r, k] = grid[j]
            sz[r, k] = qs[j]
            k += 1
        j += away
    for m in range(k, px.shape[1]):
        px[r, m] = np.nan
        sz[r, m] = 0.0


# The per-event path below takes arrays, never tuples of them: each array taken out of a tuple
# inside the compiled loop costs reference count updates (with tuples the loop ran at half speed).


@njit(cache=True, inline="always")
def _sequenced(i, first_id, final_id, ev_day, ts, s, cnt, buf, halts, resync):
    """Binance spot rule for diff ``i`` of a book: in sequence (``ACT_APPLY``: the state takes its
    ids and the caller applies its levels), dropped as stale while a snapshot waits for its bridge
    (``ACT_STALE``), or a gap (``ACT_GAP``, :func:`_on_gap`)."""
    if s[_STATE] == 1 and final_id[i] <= s[_LID]:
        cnt[ev_day[i], C_STALE] += 1
        return ACT_STALE
    if (first_id[i] > s[_LID] + 1) if s[_STATE] == 1 else (first_id[i] != s[_PREV] + 1):
        _on_gap(i, ts, ev_day, s, cnt, buf, halts, resync)
        return ACT_GAP
    s[_PREV] = final_id[i]
    s[_STATE] = 2
    s[_AT_FILE] = 0
    return ACT_APPLY


@njit(cache=True)
def _buffer(s, buf, j):
    buf[s[_NBUF]] = j
    s[_NBUF] += 1


@njit(cache=True)
def _replay_buffer(ev, book, s, cnt, buf, work, halts, resync, resyncing):
    """Binance: after a snapshot, the diffs buffered before it: stale ones dropped, the first bridges
    it, a gap raises (or, resyncing, keeps the rest for the next snapshot). The buffer holds diffs only
    when the book was empty: :func:`_on_gap` then finds its unsynced interval open, or no row yet."""
    _, ts, first_id, final_id, lo, hi, lv_side, lv_rank, lv_qty, ev_day, _ = ev
    bid_q, ask_q, st = book
    nw = s[_NBUF]
    for k in range(nw):  # a loop: a slice assignment compiles numba's shape-error text (seconds, once)
        work[k] = buf[k]
    s[_NBUF] = 0
    for k in range(nw):
        j = work[k]
        if s[_STATE] == 0:  # a gap during the replay: keep the rest for the next snapshot
            _buffer(s, buf, j)
            continue
        act = _sequenced(j, first_id, final_id, ev_day, ts, s, cnt, buf, halts, resync)
        if act == ACT_STALE and resyncing:
            cnt[ev_day[j], C_SKIPPED_RESYNC] += 1
        elif act == ACT_APPLY:
            _apply(lo[j], hi[j], lv_side, lv_rank, lv_qty, bid_q, ask_q, st)
            cnt[ev_day[j], C_BUFFERED_APPLIED] += 1
        elif s[_ERR_EV] >= 0:
            return


@njit(cache=True)
def _on_snapshot(i, ev, book, s, cnt, buf, work, halts, mode, resync):
    """A snapshot event: the book is set to it (Binance: unless in sync, then it is unused; then the
    buffered diffs are replayed). Returns whether the book after it is a row."""
    final_id, ev_day = ev[3], ev[9]
    if mode == 0 and s[_STATE] == 2:
        cnt[ev_day[i], C_SNAP_UNUSED] += 1
        return False
    resyncing = s[_SEEN] == 1 and s[_STATE] == 0
    s[_SEEN] = 1
    s[_AT_FILE] = 0
    bid_q, ask_q, st = book
    reset_book(bid_q, ask_q, st)
    _apply(ev[4][i], ev[5][i], ev[6], ev[7], ev[8], bid_q, ask_q, st)
    cnt[ev_day[i], C_SNAP_USED] += 1
    if mode == 1:
        s[_STATE] = 2
        return True
    s[_LID] = final_id[i]
    s[_PREV] = final_id[i]
    s[_STATE] = 1
    _replay_buffer(ev, book, s, cnt, buf, work, halts, resync, resyncing)
    return s[_STATE] != 0


@njit(cache=True)
def _on_gap(i, ts, ev_day, s, cnt, buf, halts, resync):
    """A Binance diff that does not continue the book: an error, or (resync, or a later file with its
    own snapshot) the book is dropped until the next snapshot and an unsynced interval opens."""
    at_file = s[_AT_FILE]
    if not resync and at_file != 2:
        bridge = s[_STATE] == 1
        s[_ERR_EV] = i
        s[_ERR_CODE] = ERR_FILE if at_file == 1 else ERR_BRIDGE if bridge else ERR_CHAIN
        s[_ERR_EXPECT] = (s[_LID] if bridge or at_file == 1 else s[_PREV]) + 1
        return
    cnt[ev_day[i], C_FILE_RESTARTS if at_file == 2 and not resync else C_GAPS] += 1
    s[_AT_FILE] = 0
    s[_STATE] = 0
    s[_NBUF] = 0
    _buffer(s, buf, i)
    if s[_NR] > 0 and s[_HALT_OPEN] == 0:
        s[_HALT_OPEN] = 1
        halts[s[_NH], 0] = ts[i]


@njit(cache=True)
def _unsynced(i, ev_day, s, cnt, buf, mode):
    """An update event without a book: buffered (Binance) or skipped (Tardis)."""
    if s[_SEEN] == 0:  # (Tardis: always, it has no gaps)
        cnt[ev_day[i], C_PRE_FIRST] += 1
    if mode == 0:
        _buffer(s, buf, i)


@njit(cache=True, inline="always")
def _row(i, ts, ev_day, s, cnt, halts, row_ts):
    """The row the book after event ``i`` goes to (the previous row when it has the same time); an
    open unsynced interval ends here."""
    if s[_HALT_OPEN] == 1:
        s[_HALT_OPEN] = 0
        if ts[i] > halts[s[_NH], 0]:
            halts[s[_NH], 1] = ts[i]
            s[_NH] += 1
    r = s[_NR]
    if r > 0 and row_ts[r - 1] == ts[i]:
        cnt[ev_day[i], C_MERGED] += 1
        return r - 1
    s[_NR] += 1
    return r


@njit(cache=True)
def rebuild_book(ev, grid, levels, n_days, mode, resync):
    """Replay snapshot (kind 0) and update (kind 1) events into top-``levels`` rows.

    ``ev`` is the tuple of per-event arrays ``(kind, ts, first_id, final_id, lo, hi, lv_side,
    lv_rank, lv_qty, day, boundary)``: events ``lo[i]:hi[i]`` of the level arrays (side 0 bid / 1
    ask, rank on ``grid``, new size), ``day`` the index (< ``n_days``) of the day the event falls in
    (counters are kept per day, a day without events keeps zeros) and ``boundary`` the file boundary flag: 1 on the first book event of a later
    file without a snapshot, 2 on that of a later file with one (its diffs continue the book with
    the bridge rule; a gap there restarts from the file's own snapshot), else 0.

    ``mode`` 0: Binance (diffs buffered until a snapshot, sequence rules, snapshots while in sync
    unused); ``mode`` 1: Tardis (no sequence numbers; updates before the first snapshot skipped;
    every snapshot event resets the book). Returns rows (ts, last event index, final update id, 4
    level arrays), unsynced intervals (an open one ends at -1), counters (days x counters), and an
    error (event index, code, expected value; index -1 if none).
    """
    kind, ts, first_id, final_id, lo, hi, lv_side, lv_rank, lv_qty, ev_day, boundary = ev
    n = kind.shape[0]
    bid_q, ask_q = np.zeros(grid.shape[0]), np.zeros(grid.shape[0])
    st = np.array([-1, grid.shape[0], 0, 0], dtype=np.int64)  # best bid and ask indices, level counts
    book = (bid_q, ask_q, st)  # for the helpers off the per-event path
    row_ts, row_ev, row_seq = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    bpx, bsz, apx, asz = np.empty((n, levels)), np.empty((n, levels)), np.empty((n, levels)), np.empty((n, levels))
    halts = np.empty((n + 1, 2), dtype=np.int64)
    cnt = np.zeros((n_days, N_COUNTERS), dtype=np.int64)
    buf, work = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)  # diffs buffered before a snapshot
    s = np.zeros(12, dtype=np.int64)
    s[_ERR_EV] = -1
    for i in range(n):
        if mode == 0 and boundary[i] > 0:
            s[_AT_FILE] = boundary[i]
            if s[_STATE] == 2:
                s[_STATE] = 1
                s[_LID] = s[_PREV]
        if kind[i] == 0:
            publish = _on_snapshot(i, ev, book, s, cnt, buf, work, halts, mode, resync)
        elif s[_STATE] == 0:
            _unsynced(i, ev_day, s, cnt, buf, mode)
            publish = False
        else:
            publish = (
                mode == 1 or _sequenced(i, first_id, final_id, ev_day, ts, s, cnt, buf, halts, resync) == ACT_APPLY
            )
            if publish:
                _apply(lo[i], hi[i], lv_side, lv_rank, lv_qty, bid_q, ask_q, st)
        if s[_ERR_EV] >= 0:
            break
        if publish:
            r = _row(i, ts, ev_day, s, cnt, halts, row_ts)
            row_ts[r], row_ev[r], row_seq[r] = ts[i], i, s[_PREV] if mode == 0 else i
            write_side(r, grid, bid_q, st[0], st[2], -1, bpx, bsz)
            write_side(r, grid, ask_q, st[1], st[3], 1, apx, asz)
    if mode == 0 and s[_SEEN] == 1 and s[_STATE] == 0 and s[_ERR_EV] < 0:
        for k in range(s[_NBUF]):
            cnt[ev_day[buf[k]], C_SKIPPED_RESYNC] += 1
    if s[_HALT_OPEN] == 1:
        halts[s[_NH], 1] = -1
        s[_NH] += 1
    nr = s[_NR]
    out = (row_ts[:nr], row_ev[:nr], row_seq[:nr], bpx[:nr], bsz[:nr], apx[:nr], asz[:nr])
    return out, halts[: s[_NH]], cnt, s[_ERR_EV], s[_ERR_CODE], s[_ERR_EXPECT]


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

    def take(self, keep: np.ndarray) -> Book:
        return Book(*(getattr(self, f)[keep] for f in ("ts", "line", "seq", "bid_px", "bid_sz", "ask_px", "ask_sz")))

    def top(self) -> tuple[np.ndarray, ...]:
        return self.bid_px[:, 0], self.bid_sz[:, 0], self.ask_px[:, 0], self.ask_sz[:, 0]


def _day_halts(halts: np.ndarray, d: int) -> np.ndarray:
    """The intervals of ``halts`` overlapping UTC date ``d`` (days since the epoch)."""
    return halts[(halts[:, 1] > d * DAY_NS) & (halts[:, 0] < (d + 1) * DAY_NS)]


def make_days(
    src: Any,
    book: Book,
    trades: dict[str, np.ndarray],
    record_ts: np.ndarray,
    halts: np.ndarray,
    meta: dict[str, Any],
    notes: dict[str, Any],
    session: tuple[int, int] | None,
    day_notes: Callable[[int], dict[str, Any]] | None = None,
) -> list[MarketDay]:
    """Split rows and trades by UTC date of the clock, build, validate; ``day_notes(date)`` (days since
    the epoch) gives the notes that are about one date, laid over ``notes``. ``src`` is the file or
    the :class:`~exec_env.market.reader.Capture` the lines are numbered in; ``record_ts`` (sorted) holds
    the time of every book row and trade; ``halts`` the unsynced intervals, their ends known."""
    dates, missing = [], []
    for d, r, (b, t) in split_days(record_ts // DAY_NS, book.ts // DAY_NS, trades["ts"] // DAY_NS):
        date = str(np.datetime64(d, "D"))
        if b.stop == b.start:
            missing.append(f"{date}: no book row")
            continue
        if session is not None:  # the option's UTC times
            open_ns, close_ns = d * DAY_NS + session[0], d * DAY_NS + session[1]
        else:  # the first book row of the date and its last record of any kind (book rows and trades are records)
            open_ns, close_ns = int(book.ts[b.start]), int(record_ts[r.stop - 1])
        if close_ns <= open_ns:
            missing.append(f"{date}: a single record time ({open_ns}); pass session=(open, close)")
            continue
        dates.append((d, date, b, t, open_ns, close_ns))
    if not dates:
        raise ValueError(f"{src}: no day with a book: {'; '.join(missing)}")
    notes["dates_without_day"] = missing
    days = []
    for d, date, b, t, open_ns, close_ns in dates:
        h = np.clip(_day_halts(halts, d), d * DAY_NS, (d + 1) * DAY_NS).astype(np.int64)
        m = MarketMeta(**meta, session_open_ns=open_ns, session_close_ns=close_ns, source=str(src), date=date,
                       notes={**notes, **(day_notes(d) if day_notes else {})})  # fmt: skip
        day = MarketDay.build(m, (book.ts[b], book.bid_px[b], book.bid_sz[b], book.ask_px[b], book.ask_sz[b]),
                              tuple(trades[k][t] for k in ("ts", "px", "sz", "side")), halts=h if h.size else None)  # fmt: skip
        days.append(validate(day, src, book.line[b], trades["line"][t], trade_origin=trades.get("src")))
    return days


def minmax_median(x: np.ndarray) -> dict[str, float] | None:
    if x.size == 0:
        return None
    return {"min": float(x.min()), "median": float(np.median(x)), "max": float(x.max())}


# ----------------------------------------------------------------------------------------------
# Binance


def sniff(path: Path) -> bool:
    """A line ``<digits> {json}`` whose JSON looks like a Binance depth, trade or ticker message."""
    head = reader.head_bytes(Path(path))
    first = head.split(b"\n", 1)[0]
    stamp, sep, body = first.partition(b" ")
    if not (sep and stamp.isdigit() and body.startswith(b"{")):
        return False
    markers = (b'"depthUpdate"', b'"lastUpdateId"', b"@depth", b"@bookTicker", b'"e":"trade"', b'"e":"aggTrade"')
    return any(m in head for m in markers)


_STREAM_NAME = re.compile(rb'"stream":"([A-Za-z0-9]+)@')
_SYMBOL_FIELD = re.compile(rb'"s":"([A-Za-z0-9]+)"')


def stream_key(path: Path) -> tuple[str, int] | None:
    """``(symbol, first local time)``: files with the same symbol are one capture stream, read together
    oldest first by ``load_market`` (see "Captures in several files"); None if the head is unreadable."""
    head = reader.head_bytes(Path(path))
    stamp = head.split(b" ", 1)[0]
    if not stamp.isdigit():
        return None
    found = _STREAM_NAME.search(head) or _SYMBOL_FIELD.search(head)
    symbol = found.group(1).decode().upper() if found else Path(path).name.split("_")[0].upper()
    return symbol, int(stamp)


def _levels_array(src: Path | Capture, pairs: list, owner_line: np.ndarray, field: np.ndarray) -> np.ndarray:
    """``[[price, qty], ...]`` strings -> finite float (n, 2); errors name the line and the field."""
    if not pairs:
        return np.zeros((0, 2))
    try:
        arr = np.array(pairs, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == 2 and np.isfinite(arr).all():
            return arr
    except (ValueError, TypeError):
        pass
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise field_error(
                src, int(owner_line[k]), str(field[k]), f"a level must be a [price, qty] pair, got {excerpt(pair)}"
            )
        for x in pair:
            if number_problem(x) is not None:
                raise field_error(src, int(owner_line[k]), str(field[k]), number_problem(x))
    raise field_error(src, int(owner_line[0]), str(field[0]), "unparsable levels")  # pragma: no cover


def _floats(src: Path | Capture, values: list, lines: np.ndarray, field: str) -> np.ndarray:
    try:
        out = np.array(values, dtype=np.float64).reshape(len(values))
        if np.isfinite(out).all():
            return out
    except (ValueError, TypeError):
        pass
    return numbers(src, values, lines, field)


def _ints(src: Path | Capture, values: list, lines: np.ndarray, field: str) -> np.ndarray:
    for k, x in enumerate(values):
        if not (isinstance(x, int) and not isinstance(x, bool)):
            raise field_error(
                src, int(lines[k]), field, number_problem(x, integer=True) or f"not an integer: {excerpt(x)}"
            )
        if not -(2**63) <= x < 2**63:
            raise field_error(src, int(lines[k]), field, f"integer out of the 64-bit range: {excerpt(x)}")
    return np.array(values, dtype=np.int64)


# ----------------------------------------------------------------------------------------------
# Binance: one pass over the lines


class _Scan:
    """What one pass over a capture's lines collects, message kind by message kind."""

    def __init__(self, n_lines: int, skip_ticker: bool) -> None:
        self.line_ts = np.empty(n_lines, dtype=np.int64)
        self.skip_ticker = skip_ticker
        # book events: line, kind (0 snapshot, 1 diff), U, u, level counts, E; their [price, qty] pairs
        self.ev: tuple[list, ...] = ([], [], [], [], [], [], [])
        self.pairs: list = []
        # trades by stream: line, p, q, m, id, E
        self.tr: dict[str, tuple[list, ...]] = {"trade": ([], [], [], [], [], []), "aggTrade": ([], [], [], [], [], [])}
        self.bt_line: list[int] = []  # every bookTicker line
        self.bt_vals: list = []  # (u, b, B, a, A) of those parsed
        self.other: list[tuple[int, str]] = []  # (line, stream) of messages not used
        self.symbols: dict[Any, int] = {}  # each symbol (field s) and its first line

    def book_event(self, no: int, kind: int, ids: tuple[Any, Any], b: Any, a: Any, lag: Any) -> None:
        for col, x in zip(self.ev, (no, kind, ids[0], ids[1], len(b), len(a), lag), strict=True):
            col.append(x)
        self.pairs += b
        self.pairs += a

    def message(self, src: Path | Capture, no: int, msg: dict) -> None:
        """File one decoded line (the Binance message kinds of the module docstring)."""
        data = msg.get("data", msg) if "stream" in msg else msg
        if not isinstance(data, dict):
            self.other.append((no, str(msg.get("stream", "?"))))
            return
        e = data.get("e")
        try:
            if e == "depthUpdate":
                if "pu" in data:
                    raise field_error(src, no, "pu", "futures depth diffs (field 'pu') are not supported, only spot")
                self.book_event(no, 1, (data["U"], data["u"]), data["b"], data["a"], data.get("E"))
                self.symbols.setdefault(data.get("s"), no)
            elif "lastUpdateId" in data and "bids" in data and "asks" in data:
                lid = data["lastUpdateId"]
                self.book_event(no, 0, (lid, lid), data["bids"], data["asks"], None)
            elif e == "trade" or e == "aggTrade":
                values = (no, data["p"], data["q"], data["m"], data["t"] if e == "trade" else data["a"], data.get("E"))
                for col, x in zip(self.tr[e], values, strict=True):
                    col.append(x)
                self.symbols.setdefault(data.get("s"), no)
            elif e == "bookTicker" or (e is None and {"u", "b", "B", "a", "A"} <= data.keys()):
                self.bt_line.append(no)
                if not self.skip_ticker:
                    self.bt_vals.append((data["u"], data["b"], data["B"], data["a"], data["A"]))
                self.symbols.setdefault(data.get("s"), no)
            else:
                self.other.append((no, str(msg.get("stream", e if e is not None else "?"))))
        except KeyError as exc:
            raise field_error(
                src, no, str(exc.args[0]), f"missing field {excerpt(exc.args[0])} in a {e or 'snapshot'} message"
            ) from None
        except TypeError as exc:
            raise field_error(src, no, "json", f"malformed message ({exc})") from None


def _read_capture(paths: Sequence[Path]) -> tuple[list[str], Capture]:
    parts = [reader.read_bytes(path).decode("utf-8").split("\n") for path in paths]
    parts = [part[:-1] if part[-1] == "" else part for part in parts]  # no line after the last line break
    return [line for part in parts for line in part], Capture.of(paths, [len(part) for part in parts])


def _scan(src: Capture, lines: list[str], skip_ticker: bool) -> _Scan:
    """Parse every ``<local_ts_ns> <json>`` line; local times must not go backwards."""
    scan = _Scan(len(lines), skip_ticker)
    loads = json.JSONDecoder().decode
    for no, text in enumerate(lines, 1):
        stamp, sep, body = text.partition(" ")
        if not sep:
            raise field_error(
                src, no, "local_ts", f"expected '<local_ts_ns> <json>' (2 fields), got {excerpt(text[:80])}"
            )
        try:
            scan.line_ts[no - 1] = int(stamp)
        except (ValueError, OverflowError):
            raise field_error(src, no, "local_ts", f"not an integer ns timestamp: {excerpt(stamp[:40])}") from None
        if skip_ticker and "bookTicker" in body[:64]:
            scan.bt_line.append(no)
            continue
        try:
            msg = loads(body)
        except ValueError as exc:
            raise field_error(src, no, "json", f"unparsable JSON ({exc})") from None
        if not isinstance(msg, dict):
            raise field_error(src, no, "json", f"expected a JSON object, got {type(msg).__name__}")
        scan.message(src, no, msg)
    check_sorted(src, scan.line_ts, np.arange(1, len(lines) + 1), "local_ts", why="lines must be in receive order")
    return scan


def _symbol(src: Capture, scan: _Scan, symbol: str | None) -> str:
    """One symbol per capture: the option, else the messages' ``s``, else the file name's first part."""
    found = {k: v for k, v in scan.symbols.items() if k is not None}
    return pick(src, found, symbol, "s", select=False) or src.paths[0].name.split("_")[0].upper()


@dataclass
class _Events:
    """Book events (snapshots and diffs) as arrays, with their levels flattened."""

    line: np.ndarray
    kind: np.ndarray
    first: np.ndarray
    final: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    lv_side: np.ndarray
    lv_line: np.ndarray
    lv_px: np.ndarray
    lv_qty: np.ndarray
    depth: int  # the largest side of any snapshot


def _events(src: Capture, scan: _Scan, n_lines: int) -> _Events:
    line_l, kind_l, first_l, final_l, nb_l, na_l, _ = scan.ev
    if 0 not in kind_l:
        raise field_error(
            src,
            1,
            "lastUpdateId",
            f"none of the {n_lines:,} lines is a depth snapshot, so diffs make no book; "
            "a capture split in files (e.g. at midnight): load them together, oldest first",
        )
    line = np.array(line_l, dtype=np.int64)
    kind = np.array(kind_l, dtype=np.int8)
    first = _ints(src, first_l, line, "U")
    final = _ints(src, final_l, line, "u")
    fail_first(
        first > final, src, line, "U", lambda k: f"first update id U={first[k]} is after the final id u={final[k]}"
    )
    nb = np.array(nb_l, dtype=np.int64)
    na = np.array(na_l, dtype=np.int64)
    counts = np.column_stack([nb, na]).ravel()  # bids then asks of each event
    lv_side = np.repeat(np.tile(np.array([0, 1], dtype=np.int8), line.size), counts)
    lv_line = np.repeat(np.repeat(line, 2), counts)
    is_snap = np.repeat(np.repeat(kind == 0, 2), counts)
    lv_field = np.where(is_snap, np.where(lv_side == 0, "bids", "asks"), np.where(lv_side == 0, "b", "a"))
    lv = _levels_array(src, scan.pairs, lv_line, lv_field)
    px, qty = np.ascontiguousarray(lv[:, 0]), np.ascontiguousarray(lv[:, 1])
    field = lambda k: str(lv_field[k])  # noqa: E731
    check_min(src, qty, lv_line, field, "size")
    check_min(src, px, lv_line, field, "price", strict=True)
    hi = np.cumsum(nb + na)
    depth = int(max(1, nb[kind == 0].max(), na[kind == 0].max()))
    return _Events(line, kind, first, final, hi - (nb + na), hi, lv_side, lv_line, px, qty, depth)


def _file_boundaries(src: Capture, ev: _Events) -> np.ndarray:
    """Per event: 1 or 2 on the first book event of a later file (2 if that file holds a snapshot), else 0."""
    flag = np.zeros(ev.line.size, dtype=np.int64)
    for start, end in zip(src.file_starts().tolist(), src.offsets[2:].tolist(), strict=True):
        lo, hi = np.searchsorted(ev.line, [start, end + 1])
        if hi > lo:
            flag[lo] = 2 if (ev.kind[lo:hi] == 0).any() else 1
    return flag


def _gap_error(src: Capture, ev: _Events, j: int, code: int, expect: int) -> ValueError:
    U, u = ev.first[j], ev.final[j]
    if code == ERR_BRIDGE:
        problem = f"the first diff after the snapshot must have U <= lastUpdateId+1 = {expect} <= u, got U={U}, u={u}"
    elif code == ERR_FILE:
        problem = (
            f"this file has no depth snapshot, so its first diff must continue the previous file's book: "
            f"U <= last u + 1 = {expect} <= u, got U={U}, u={u}"
        )
    else:
        problem = f"expected U == previous u + 1 = {expect}, got U={U} (u={u})"
    return field_error(
        src, int(ev.line[j]), "U", f"sequence gap: {problem}; pass on_gap='resync' to rebuild from the next snapshot"
    )


def _rebuild(src: Capture, ev: _Events, e_ts: np.ndarray, e_day: np.ndarray, n_days: int, levels: int,
             resync: bool) -> tuple:  # fmt: skip
    """The Binance book rebuild over every file of the capture: rows, unsynced intervals, counters per day."""
    grid, rank = np.unique(ev.lv_px, return_inverse=True)
    events = (ev.kind, e_ts, ev.first, ev.final, ev.lo, ev.hi, ev.lv_side, rank.astype(np.int64), ev.lv_qty,
              e_day.astype(np.int64), _file_boundaries(src, ev))  # fmt: skip
    rows, halts, cnt, err_ev, err_code, err_expect = rebuild_book(events, grid, levels, n_days, 0, resync)
    if err_ev >= 0:
        raise _gap_error(src, ev, int(err_ev), int(err_code), int(err_expect))
    row_ts, row_ev, *rest = rows
    return Book(row_ts, ev.line[row_ev], *rest), halts.copy(), cnt


def _trades(src: Capture, scan: _Scan, trade_stream: str) -> tuple[dict[str, np.ndarray], str]:
    """The trades of one stream (``auto``: ``trade`` if the capture has any, else ``aggTrade``)."""
    if trade_stream == "auto":
        stream = "trade" if scan.tr["trade"][0] or not scan.tr["aggTrade"][0] else "aggTrade"
    else:
        stream = trade_stream
    line_l, p, q, m, ids, lag = scan.tr[stream]
    line = np.array(line_l, dtype=np.int64)
    px = _floats(src, p, line, "p")
    sz = _floats(src, q, line, "q")
    for k, x in enumerate(m):
        if not isinstance(x, bool):
            raise field_error(src, int(line[k]), "m", f"expected true or false, got {excerpt(x)}")
    side = np.where(np.array(m, dtype=bool), -1, 1).astype(np.int8)
    check_min(src, sz, line, "q", "trade size", strict=True)
    trade_id = _ints(src, ids, line, "t" if stream == "trade" else "a")
    ts = scan.line_ts[line - 1]
    return {"ts": ts, "px": px, "sz": sz, "side": side, "line": line, "id": trade_id, "lag": lag}, stream


class _PerDay:
    """The per-event counts of a capture's notes, by UTC date of the events' local receive time."""

    COUNTERS = {
        "updates_before_first_snapshot": C_PRE_FIRST,
        "stale_updates_dropped": C_STALE,
        "buffered_updates_applied": C_BUFFERED_APPLIED,
        "snapshots_used": C_SNAP_USED,
        "snapshots_unused": C_SNAP_UNUSED,
        "resyncs": C_GAPS,
        "file_restarts": C_FILE_RESTARTS,
        "updates_skipped_in_resync": C_SKIPPED_RESYNC,
        "rows_merged_same_timestamp": C_MERGED,
    }

    def __init__(self, days: np.ndarray, cnt: np.ndarray, halts: np.ndarray) -> None:
        self.days = days  # every date with a line, sorted (the row index of ``cnt``)
        self.cnt = cnt
        self.halts = halts
        self.events: dict[str, np.ndarray] = {}  # key -> the date of every event it counts
        self.other: list[tuple[int, str]] = []
        self.lag = (np.zeros(0, dtype=np.int64), np.zeros(0))
        self.ticker: tuple[np.ndarray, ...] | None = None  # row date, checked, price mismatch, size mismatch

    def count(self, key: str, ts: Any) -> None:
        self.events[key] = np.asarray(ts, dtype=np.int64) // DAY_NS

    def of(self, d: int | None) -> dict[str, Any]:
        """The counts of date ``d`` (days since the epoch), or of the whole capture with ``None``."""
        sel = (lambda x: x == d) if d is not None else (lambda x: np.ones(np.shape(x), dtype=bool))
        out: dict[str, Any] = {key: int(sel(days).sum()) for key, days in self.events.items()}
        rows = self.cnt[sel(self.days)].sum(axis=0)
        out.update({key: int(rows[c]) for key, c in self.COUNTERS.items()})
        out["other_messages"] = dict(Counter(s for dd, s in self.other if sel(dd)))
        out["unsynced_intervals"] = (self.halts if d is None else _day_halts(self.halts, d)).tolist()
        lag_ts, lag_ms = self.lag
        out["exchange_minus_local_ms"] = minmax_median(lag_ms[sel(lag_ts // DAY_NS)])
        if self.ticker is not None:
            row_day, has, price_bad, size_bad = self.ticker
            s = sel(row_day)
            out["book_ticker_check"] = {
                "rows_checked": int((has & s).sum()),
                "price_mismatches": int((price_bad & s).sum()),
                "size_mismatches": int((size_bad & s).sum()),
            }
        return out

    def count_messages(self, scan: _Scan, ev: _Events, e_ts: np.ndarray) -> None:
        """The capture's lines and messages of each kind."""
        line_ts = scan.line_ts
        self.other = [(int(line_ts[no - 1] // DAY_NS), s) for no, s in scan.other]
        self.count("lines", line_ts)
        self.count("depth_snapshots", e_ts[ev.kind == 0])
        self.count("depth_updates", e_ts[ev.kind == 1])
        self.count("book_ticker_messages", line_ts[np.array(scan.bt_line, dtype=np.int64) - 1])
        for key, stream in (("trade_messages", "trade"), ("agg_trade_messages", "aggTrade")):
            self.count(key, line_ts[np.array(scan.tr[stream][0], dtype=np.int64) - 1])

    def count_trades(self, trades: dict[str, np.ndarray], book: Book, scan: _Scan, e_ts: np.ndarray) -> None:
        """Trade id gaps, trades before the first book row, and the exchange-minus-local clock lag."""
        self.count("trade_id_gaps", trades["ts"][1:][np.diff(trades["id"]) != 1])
        self.count("trades_before_first_book_row", trades["ts"][trades["ts"] < book.ts[0]] if book.ts.size else [])
        lag = [(t, x) for t, x in zip(e_ts.tolist(), scan.ev[6], strict=True) if isinstance(x, int)]
        lag += [(t, x) for t, x in zip(trades["ts"].tolist(), trades["lag"], strict=True) if isinstance(x, int)]
        self.lag = (np.array([t for t, _ in lag], dtype=np.int64), np.array([x - t / 1e6 for t, x in lag]))


_RULES: dict[str, Any] = {"levels": lambda n, v: v if v is None else check_levels(v), **CAPTURE_RULES,
                          "on_gap": ON_GAP, "book_ticker": BOOK_TICKER, "trade_stream": TRADE_STREAMS}  # fmt: skip


def session_note(o: dict[str, Any], default: str) -> str:
    if o["session_ns"] is None:
        return default
    return f"UTC {o['session'][0]}-{o['session'][1]} of every date (option session)"


def load(
    path: Path | Sequence[Path],
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

    ``path`` is one file or the files of one capture stream, oldest first (a capture split in files:
    each later file continues the previous file's book, see "Captures in several files").
    Options: ``levels`` price levels per side in the output (1..50; default None: the depth of the
    capture's snapshots, at most 50); ``tick_size`` /
    ``lot_size`` (None: inferred, see the docstring); ``symbol`` (None: from the data);
    ``on_gap`` "raise" | "resync"; ``crossed`` "raise" | "drop"; ``book_ticker`` "check" |
    "strict" | "ignore"; ``trade_stream`` "auto" | "trade" | "aggTrade"; ``session`` None or a pair
    of UTC times ("HH:MM:SS", "HH:MM:SS").
    """
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    o = check_options({k: v for k, v in locals().items() if k not in ("path", "paths")}, _RULES)
    o["session_ns"] = parse_session(o["session"], (None,))  # the parsed session
    lines, src = _read_capture(paths)
    scan = _scan(src, lines, book_ticker == "ignore")
    sym = _symbol(src, scan, symbol)
    ev = _events(src, scan, len(lines))
    levels = o["levels"] or min(MAX_LEVELS, ev.depth)  # by default the depth of the capture's snapshots
    line_ts = scan.line_ts
    days, line_day = np.unique(line_ts // DAY_NS, return_inverse=True)
    e_ts = line_ts[ev.line - 1]
    book, halts, cnt = _rebuild(src, ev, e_ts, line_day[ev.line - 1], days.size, levels, on_gap == "resync")
    halts[halts[:, 1] == -1, 1] = int(line_ts[-1]) + 1  # never resynced: unknown to the end of the capture
    notes: dict[str, Any] = {
        "format": "binance raw websocket capture: '<local_ts_ns> <json>' lines",
        "clock": "local receive timestamp of each line (ns); Binance event time E is not the clock",
        "on_gap": on_gap,
        "levels": levels,
    }
    per_day = _PerDay(days, cnt, halts)
    per_day.count_messages(scan, ev, e_ts)
    for key, mask in zip(("dropped_crossed_rows", "dropped_locked_rows"), crossed_locked(book.top()), strict=True):
        per_day.count(key, book.ts[mask])
    book = book.take(crossed_rows(src, book.line, book.top(), crossed, notes, "b"))
    trades, notes["trade_stream"] = _trades(src, scan, trade_stream)
    per_day.count_trades(trades, book, scan, e_ts)
    if book_ticker != "ignore":
        has, price_bad, size_bad = _book_ticker_masks(src, book, scan.bt_line, scan.bt_vals, book_ticker == "strict")
        per_day.ticker = (book.ts // DAY_NS, has, price_bad, size_bad)
    prices = [(src, ev.lv_px, ev.lv_line), (src, trades["px"], trades["line"])]
    meta = capture_meta(sym, o, prices, trades["sz"] if trades["sz"].size else ev.lv_qty, notes)
    notes["session"] = session_note(o, "UTC date; open = first book row of the date, close = last line of the date")
    notes.update(per_day.of(None))
    notes["file"] = {"files": [str(p) for p in paths], **per_day.of(None)}
    return make_days(src, book, trades, line_ts, halts, meta, notes, o["session_ns"], day_notes=per_day.of)


def _book_ticker_masks(src: Capture, book: Book, bt_line: list[int], bt_vals: list, strict: bool) -> tuple:
    """Rows checked, and those whose best prices / sizes differ from the last bookTicker at or before
    the row's final update id."""
    none = np.zeros(book.ts.size, dtype=bool)
    if not bt_vals or book.ts.size == 0:
        return none, none, none
    line = np.array(bt_line, dtype=np.int64)
    u = _ints(src, [v[0] for v in bt_vals], line, "u")
    px = np.column_stack([_floats(src, [v[j] for v in bt_vals], line, f) for j, f in enumerate("bBaA", 1)])
    order = np.argsort(u, kind="stable")
    u, px, line = u[order], px[order], line[order]
    k = np.searchsorted(u, book.seq, side="right") - 1
    has = (k >= 0) & (book.bid_sz[:, 0] > 0) & (book.ask_sz[:, 0] > 0)
    kk = np.where(has, k, 0)
    price_bad = has & ((px[kk, 0] != book.bid_px[:, 0]) | (px[kk, 2] != book.ask_px[:, 0]))
    size_bad = has & ((px[kk, 1] != book.bid_sz[:, 0]) | (px[kk, 3] != book.ask_sz[:, 0]))
    if strict:
        fail_first(price_bad | size_bad, src, book.line, "b", lambda r: (
            f"best bid/ask after this line ({book.bid_px[r, 0]} x {book.bid_sz[r, 0]}, {book.ask_px[r, 0]} x "
            f"{book.ask_sz[r, 0]}) differs from the bookTicker on line {src.locate(int(line[kk[r]]))[1]} "
            f"({px[kk[r]].tolist()})"
        ))  # fmt: skip
    return has, price_bad, size_bad


# ----------------------------------------------------------------------------------------------
# writer


def level_changes(day: MarketDay, fmt: Callable[[float, str], Any]) -> Iterator[dict[str, list[list]]]:
    """Per book row, each side's ``[price, size]`` levels that differ from the previous row's (a level
    that left with size 0); the first row's are all its levels. Values pass through ``fmt(x, "price"
    | "size")``."""
    prev: dict[str, dict] = {"bid": {}, "ask": {}}
    for r in range(day.n_books):
        cur = {
            s: {fmt(p, "price"): fmt(q, "size") for p, q in zip(getattr(day, f"{s}_px")[r], getattr(day, f"{s}_sz")[r],
                                                                 strict=True) if q > 0}
            for s in ("bid", "ask")
        }  # fmt: skip
        gone = fmt(0.0, "size")
        yield {s: [[p, q] for p, q in cur[s].items() if prev[s].get(p) != q] + [[p, gone] for p in prev[s] if p not in cur[s]]
               for s in ("bid", "ask")}  # fmt: skip
        prev = cur


def _fmt(x: float, what: str) -> str:
    s = f"{x:.8f}"
    if float(s) != x:
        raise ValueError(f"{what} {x!r} cannot be written exactly with Binance's 8 decimals")
    return s


def write_binance(day: MarketDay, path: str | Path, symbol: str | None = None, book_ticker: bool = True) -> Path:
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

    def record(t: int, order: int, seq: int, msg: dict, kind: str | None) -> None:
        body = msg if kind is None else {"stream": f"{stream}@{kind}", "data": msg}
        recs.append((t, order, seq, json.dumps(body, separators=(",", ":"))))

    update_id = 1000
    for r, diff in enumerate(level_changes(day, _fmt)):
        t = int(day.ts[r])
        if r == 0:
            record(t, 1, 0, {"lastUpdateId": update_id, "bids": diff["bid"], "asks": diff["ask"]}, None)
        else:
            update_id += 1
            msg = {"e": "depthUpdate", "E": t // 1_000_000, "s": sym, "U": update_id, "u": update_id,
                   "b": diff["bid"], "a": diff["ask"]}  # fmt: skip
            record(t, 1, 2 * r, msg, "depth@100ms")
        if book_ticker and day.bid_sz[r, 0] > 0 and day.ask_sz[r, 0] > 0:
            bt = {"u": update_id, "s": sym, "b": _fmt(day.bid_px[r, 0], "price"), "B": _fmt(day.bid_sz[r, 0], "size"),
                  "a": _fmt(day.ask_px[r, 0], "price"), "A": _fmt(day.ask_sz[r, 0], "size")}  # fmt: skip
            record(t, 1, 2 * r + 1, bt, "bookTicker")
    for k in range(day.n_trades):
        t = int(day.trade_ts[k])
        msg = {"e": "trade", "E": t // 1_000_000, "s": sym, "t": k + 1, "p": _fmt(day.trade_px[k], "price"),
               "q": _fmt(day.trade_sz[k], "size"), "T": t // 1_000_000, "m": bool(day.trade_side[k] < 0), "M": True}  # fmt: skip
        record(t, 0, k, msg, "trade")
    recs.sort(key=lambda x: (x[0], x[1], x[2]))
    return reader.write_file(path, "".join(f"{t} {body}\n" for t, _, _, body in recs).encode())

"""The recorder's local order book, kept in sync by the same rules the loader applies.

The book follows the capture line by line exactly as ``exec_env.market.crypto`` will when it
loads the file: diffs are buffered while there is no book; a snapshot sets the book and replays
the buffer (stale diffs dropped, the first applied one must bridge the snapshot); every later diff
must continue the previous one, else the book is lost (a gap) and diffs are buffered again until
the next snapshot; a snapshot that arrives while the book is in sync is not used. Because it
mirrors the loader, two things follow: the recorder knows when to fetch a fresh snapshot, and the
book it writes at the top of a rotated file equals the book the loader has at that line.
"""

from __future__ import annotations

from enum import Enum

from exec_env.recorder.exchange import Diff, Exchange, Snapshot

__all__ = ["LocalBook", "State"]


class State(Enum):
    NO_BOOK = 0
    """No snapshot yet, or lost after a gap: diffs are buffered."""
    WAITING = 1
    """A snapshot is set; the next non-stale diff must bridge it."""
    SYNCED = 2


class LocalBook:
    """Full-depth book (price text -> qty text, per side) with the exchange's sequence rules."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.state = State.NO_BOOK
        self.last_id = 0
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.buffer: list[Diff] = []
        self.gaps = 0

    @property
    def needs_snapshot(self) -> bool:
        return self.state is State.NO_BOOK

    def _set(self, side: dict[float, tuple[str, str]], levels: list) -> None:
        for price, qty in levels:
            key = float(price)
            if float(qty) == 0.0:
                side.pop(key, None)
            else:
                side[key] = (price, qty)

    def _step(self, diff: Diff) -> str:
        if self.state is State.NO_BOOK:
            self.buffer.append(diff)
            return "buffered"
        ex = self.exchange
        if self.state is State.WAITING:
            if ex.is_stale(self.last_id, diff):
                return "stale"
            ok = ex.bridges(self.last_id, diff)
        else:
            ok = ex.continues(self.last_id, diff)
        if not ok:
            self.state = State.NO_BOOK
            self.buffer = [diff]
            return "gap"
        self._set(self.bids, diff.bids)
        self._set(self.asks, diff.asks)
        self.last_id = diff.last
        self.state = State.SYNCED
        return "applied"

    def on_diff(self, diff: Diff) -> str:
        """Apply or buffer one diff: ``"applied"``, ``"stale"``, ``"buffered"`` or ``"gap"``."""
        out = self._step(diff)
        if out == "gap":
            self.gaps += 1
        return out

    def too_old(self, snapshot: Snapshot) -> bool:
        """The snapshot cannot be continued by the buffered diffs (fetched too early): discard it."""
        if self.state is not State.NO_BOOK:
            return False
        for diff in self.buffer:
            if not self.exchange.is_stale(snapshot.last, diff):
                return not self.exchange.bridges(snapshot.last, diff)
        return False

    def on_snapshot(self, snapshot: Snapshot) -> str:
        """``"unused"`` while in sync (as the loader does), else ``"used"`` (the buffer is replayed)."""
        if self.state is State.SYNCED:
            return "unused"
        self.bids.clear()
        self.asks.clear()
        self._set(self.bids, snapshot.bids)
        self._set(self.asks, snapshot.asks)
        self.last_id = snapshot.last
        self.state = State.WAITING
        pending, self.buffer = self.buffer, []
        for k, diff in enumerate(pending):
            if self._step(diff) == "gap":  # keep the rest for the next snapshot
                self.gaps += 1
                self.buffer = pending[k:]
                break
        return "used"

    def snapshot(self) -> Snapshot | None:
        """The whole book as a snapshot valid at the last applied update id (None without a book)."""
        if self.state is State.NO_BOOK:
            return None
        bids = [[p, q] for _, (p, q) in sorted(self.bids.items(), reverse=True)]
        asks = [[p, q] for _, (p, q) in sorted(self.asks.items())]
        return Snapshot(self.last_id, bids, asks)

    def best(self) -> tuple[float | None, float | None]:
        """Best bid and ask prices (None for an empty side or no book)."""
        if self.state is State.NO_BOOK:
            return None, None
        return (max(self.bids) if self.bids else None), (min(self.asks) if self.asks else None)

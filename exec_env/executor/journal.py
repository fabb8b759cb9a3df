"""The executor's journal: every decision, request and fill in SQLite (WAL), written before acting.

A request is journaled as an ``intent`` (with its client id) and committed before it is sent; its
outcome (``acked``, ``rejected``, ``failed``, ``not_sent``) is written after. A restarted executor
finds the intents whose outcome it never learned and asks the broker (``order_status`` by client
id) whether they arrived, so no order is ever sent twice and none is lost.

Tables: ``parent`` (key/value: configuration, start, arrival mid, status), ``decisions`` (one row
per decision step, the observation and the child order), ``requests`` (one row per submit, amend
or cancel), ``fills`` (one row per broker fill, keyed by the broker's sequence number) and
``events`` (the log).
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exec_env.broker.interface import Fill, OrderState

__all__ = ["Decision", "Journal", "Request"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parent (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    step INTEGER PRIMARY KEY, ts INTEGER NOT NULL, note TEXT NOT NULL, obs TEXT,
    pace REAL, aggressiveness REAL, qty REAL NOT NULL, limit_px REAL
);
CREATE TABLE IF NOT EXISTS requests (
    client_id TEXT PRIMARY KEY, step INTEGER NOT NULL, k INTEGER NOT NULL, kind TEXT NOT NULL,
    order_id TEXT, qty REAL, limit_px REAL, tif TEXT, state TEXT NOT NULL, reason TEXT,
    order_qty REAL, order_status TEXT, UNIQUE (step, k)
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY, fill_id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL, step INTEGER NOT NULL,
    ts INTEGER NOT NULL, px REAL NOT NULL, qty REAL NOT NULL, fee REAL NOT NULL, commission REAL NOT NULL,
    liquidity TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER, level TEXT, message TEXT);
"""


@dataclass(frozen=True)
class Decision:
    step: int
    ts: int
    note: str
    """``policy``, ``market_closed``, ``no_book`` or ``horizon``."""
    obs: list[float] | None
    pace: float | None
    aggressiveness: float | None
    qty: float
    limit_px: float | None


@dataclass(frozen=True)
class Request:
    client_id: str
    step: int
    k: int
    kind: str
    """``submit``, ``amend``, ``cancel``."""
    order_id: str | None
    qty: float | None
    limit_px: float | None
    tif: str | None
    state: str
    """``intent``, ``acked``, ``rejected``, ``failed``, ``not_sent``."""
    reason: str | None
    order_qty: float | None
    order_status: str | None


def _real(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


class Journal:
    """One parent order's journal (one SQLite file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # parent
    def get(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM parent WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO parent VALUES (?, ?)", (key, json.dumps(value)))

    # decisions
    def add_decision(self, d: Decision) -> None:
        self.db.execute(
            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (d.step, d.ts, d.note, None if d.obs is None else json.dumps(d.obs), _real(d.pace),
             _real(d.aggressiveness), float(d.qty), _real(d.limit_px)),
        )  # fmt: skip

    def decision(self, step: int) -> Decision | None:
        row = self.db.execute("SELECT * FROM decisions WHERE step = ?", (step,)).fetchone()
        if row is None:
            return None
        return Decision(row[0], row[1], row[2], None if row[3] is None else json.loads(row[3]), *row[4:])

    def decisions(self) -> list[Decision]:
        steps = [r[0] for r in self.db.execute("SELECT step FROM decisions ORDER BY step")]
        return [d for s in steps if (d := self.decision(s)) is not None]

    def last_decision_step(self) -> int | None:
        return self.db.execute("SELECT MAX(step) FROM decisions").fetchone()[0]

    # requests
    def add_intent(self, client_id: str, step: int, k: int, kind: str, order_id: str | None, qty: float | None,
                   limit_px: float | None, tif: str | None) -> Request:  # fmt: skip
        self.db.execute(
            "INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'intent', NULL, NULL, NULL)",
            (client_id, step, k, kind, order_id, _real(qty), _real(limit_px), tif),
        )
        return self.request(client_id)  # type: ignore[return-value]

    def set_outcome(
        self, client_id: str, state: str, reason: str | None = None, order: OrderState | None = None
    ) -> None:
        if order is None:
            self.db.execute("UPDATE requests SET state = ?, reason = ? WHERE client_id = ?", (state, reason, client_id))
        else:
            self.db.execute(
                "UPDATE requests SET state = ?, reason = ?, order_id = ?, order_qty = ?, order_status = ? "
                "WHERE client_id = ?",
                (state, reason, order.order_id, order.qty, order.status, client_id),
            )

    def request(self, client_id: str) -> Request | None:
        row = self.db.execute("SELECT * FROM requests WHERE client_id = ?", (client_id,)).fetchone()
        return None if row is None else Request(*row)

    def requests(self, step: int | None = None) -> list[Request]:
        if step is None:
            rows = self.db.execute("SELECT * FROM requests ORDER BY step, k").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM requests WHERE step = ? ORDER BY k", (step,)).fetchall()
        return [Request(*r) for r in rows]

    # fills
    def add_fill(self, f: Fill, step: int) -> bool:
        """Record a fill once (by the broker's sequence number); True if it was new."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f.seq, f.fill_id, f.order_id, step, f.ts, f.px, f.qty, f.fee, f.commission, f.liquidity),
        )
        return cur.rowcount == 1

    def last_fill_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM fills").fetchone()[0]

    def fills(self) -> list[tuple]:
        """(seq, fill_id, order_id, step, ts, px, qty, fee, commission, liquidity) in order."""
        return self.db.execute("SELECT * FROM fills ORDER BY seq").fetchall()

    # events
    def event(self, ts: int | None, level: str, message: str) -> None:
        self.db.execute("INSERT INTO events (ts, level, message) VALUES (?, ?, ?)", (ts, level, message))

    def events(self) -> list[tuple[int | None, str, str]]:
        return self.db.execute("SELECT ts, level, message FROM events ORDER BY id").fetchall()

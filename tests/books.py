"""Declarative market fixtures for hand-computed tests.

``make_day(books=[book(t, bids=[(100.00, 300)], asks=[(100.01, 200), ...]), ...], trades=[...])``
builds a validated :class:`MarketDay` (times in seconds after a fixed epoch).
``cancels=[cancel(t, px, sz, side, entry_t), ...]`` adds order-level cancellations (``entry_t``
None: the order was in the book before the data starts, ``UNKNOWN_ENTRY``).
"""

from __future__ import annotations

import numpy as np

from exec_env.market.data import UNKNOWN_ENTRY, MarketDay, MarketMeta, validate

T0 = 1_700_000_000 * 10**9  # a fixed epoch for fixtures (ns)
S = 10**9


def book(t: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> tuple:
    return (t, bids, asks)


def trade(t: float, px: float, sz: float, side: int) -> tuple:
    return (t, px, sz, side)


def cancel(t: float, px: float, sz: float, side: int, entry_t: float | None = None) -> tuple:
    return (t, px, sz, side, entry_t)


def _ns(t: float) -> int:
    return T0 + round(t * S)


def _cancel_arrays(cancels: list[tuple] | None) -> dict[str, np.ndarray]:
    if cancels is None:
        return {}
    c = list(cancels)
    return {
        "cancel_ts": np.array([_ns(x[0]) for x in c], dtype=np.int64),
        "cancel_px": np.array([x[1] for x in c], dtype=np.float64),
        "cancel_sz": np.array([x[2] for x in c], dtype=np.float64),
        "cancel_side": np.array([x[3] for x in c], dtype=np.int8),
        "cancel_entry_ts": np.array([UNKNOWN_ENTRY if x[4] is None else _ns(x[4]) for x in c], dtype=np.int64),
    }


def make_day(
    books: list[tuple],
    trades: list[tuple] = (),
    levels: int = 3,
    tick: float = 0.01,
    lot: float = 1.0,
    close_s: float = 3600.0,
    cancels: list[tuple] | None = None,
) -> MarketDay:
    """A validated day; ``cancels=None`` leaves the cancel arrays None, ``[]`` makes them empty."""
    n = len(books)
    ts = np.array([T0 + round(b[0] * S) for b in books], dtype=np.int64)
    arrays = {f: np.full((n, levels), np.nan) for f in ("bid_px", "ask_px")}
    arrays.update({f: np.zeros((n, levels)) for f in ("bid_sz", "ask_sz")})
    for i, (_, bids, asks) in enumerate(books):
        for side, levels_ in (("bid", bids), ("ask", asks)):
            for j, (px, sz) in enumerate(levels_):
                arrays[f"{side}_px"][i, j] = px
                arrays[f"{side}_sz"][i, j] = sz
    tr = list(trades)
    day = MarketDay(
        meta=MarketMeta(
            symbol="TEST",
            tick_size=tick,
            lot_size=lot,
            session_open_ns=T0,
            session_close_ns=T0 + round(close_s * S),
            source="fixture",
            date="2023-11-14",
        ),
        ts=ts,
        trade_ts=np.array([T0 + round(t[0] * S) for t in tr], dtype=np.int64),
        trade_px=np.array([t[1] for t in tr], dtype=np.float64),
        trade_sz=np.array([t[2] for t in tr], dtype=np.float64),
        trade_side=np.array([t[3] for t in tr], dtype=np.int8),
        **arrays,
        **_cancel_arrays(cancels),
    )
    return validate(day)

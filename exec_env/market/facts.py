"""Facts checked on every loaded day, with warnings where a file looks off; fee defaults by market.

These never change the data: they say what looks wrong so that a user does not train on it
unknowingly (a frozen pre-open book, sizes in the wrong unit).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from exec_env.market.data import MarketDay

__all__ = ["FROZEN_SECONDS", "MARKET_FEES", "check_day"]

FROZEN_SECONDS = 3600
"""A top of book unchanged this long inside the declared session is reported."""

MARKET_FEES: dict[str, tuple[dict[str, float], str]] = {
    "binance": (
        {"maker_fee_bps": 10.0, "taker_fee_bps": 10.0},
        "Binance spot regular user (VIP 0): 0.1000% maker and taker, https://www.binance.com/en/fee/schedule",
    ),
    "tardis": (
        {"maker_fee_bps": 10.0, "taker_fee_bps": 10.0},
        "crypto default: Binance spot VIP 0 (0.1% maker and taker); pass sim=SimConfig(...) for another venue",
    ),
}
"""SimConfig fee defaults of formats whose market differs from the equity default (0.5 bps taker)."""


def _clock(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")).replace("T", " ")


def _frozen(day: MarketDay) -> str | None:
    m = day.meta
    top = np.column_stack([day.bid_px[:, 0], day.bid_sz[:, 0], day.ask_px[:, 0], day.ask_sz[:, 0]])
    top = np.nan_to_num(top, nan=-1.0)
    changed = np.ones(day.n_books, dtype=bool)
    changed[1:] = (top[1:] != top[:-1]).any(axis=1)
    inside = (day.ts >= m.session_open_ns) & (day.ts <= m.session_close_ns)
    marks = np.concatenate([[m.session_open_ns], day.ts[changed & inside], [m.session_close_ns]])
    gaps = np.diff(marks)
    i = int(np.argmax(gaps))
    if gaps[i] < FROZEN_SECONDS * 1_000_000_000:
        return None
    if day.ts[-1] <= marks[i]:
        return (
            f"the data ends at {_clock(day.ts[-1])} UTC, {gaps[i] / 3.6e12:.1f} h before the declared session "
            f"closes ({_clock(marks[i + 1])}): a truncated file? episodes there replay a frozen book"
        )
    return (
        f"the top of the book does not change for {gaps[i] / 3.6e12:.1f} h ({_clock(marks[i])} to "
        f"{_clock(marks[i + 1])} UTC) inside the declared session: a closed market (e.g. CME's daily halt, "
        "reopening 22:00/23:00 UTC)? episodes there fill against a frozen book; narrow the session"
    )


def _small_sizes(day: MarketDay) -> str | None:
    sizes = np.concatenate([day.bid_sz[:, 0], day.ask_sz[:, 0]])
    sizes = sizes[sizes > 0]
    if not sizes.size:
        return None
    typical = float(np.median(sizes))
    if typical >= day.meta.lot_size:
        return None
    return (
        f"the median displayed size {typical:g} is below one lot ({day.meta.lot_size:g}): are volumes in another "
        "unit (Dukascopy: millions)? orders will mostly go to the forced liquidation"
    )


def check_day(day: MarketDay) -> list[str]:
    """Warnings (texts) about ``day``; empty when nothing looks off."""
    out = []
    for check in (_small_sizes, _frozen):
        text = check(day)
        if text is not None:
            out.append(f"{day.meta.source} ({day.meta.date}): {text}")
    return out


def fees_for(formats: set[str]) -> tuple[dict[str, Any], str | None]:
    """The fee defaults of a catalogue made of ``formats`` (only when every file is of one market)."""
    if len(formats) == 1 and next(iter(formats)) in MARKET_FEES:
        fees, source = MARKET_FEES[next(iter(formats))]
        return dict(fees), source
    return {}, None

"""Facts checked on every loaded day, with warnings where a file looks off; fee defaults by market.

These never change the data: they say what looks wrong so that a user does not train on it
unknowingly (a frozen pre-open book, a session reaching into a venue's closed hours, sizes in the
wrong unit). A day whose loader names its venue's calendar (``meta.notes["calendar"]``, see
:mod:`exec_env.market.hours`) is checked against it: the declared session must lie in the venue's
regular hours (or the closed stretches be trading halts), and a frozen book is explained by it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from exec_env.market import hours
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


def _duration(ns: int) -> str:
    return f"{ns / 3.6e12:.1f} h" if ns >= 3.6e12 else f"{ns / 6e10:.0f} min"


def _calendar(day: MarketDay) -> hours.Calendar | None:
    return hours.CALENDARS.get(day.meta.notes.get("calendar", ""))


def _overlap(intervals: np.ndarray | None, a: int, b: int) -> int:
    """How much of ``[a, b]`` the ``(K, 2)`` intervals cover (ns)."""
    if intervals is None or not len(intervals):
        return 0
    iv = np.asarray(intervals)
    return int(np.clip(np.minimum(iv[:, 1], b) - np.maximum(iv[:, 0], a), 0, None).sum())


def _mostly(intervals: np.ndarray | None, a: int, b: int) -> bool:
    """Whether the ``(K, 2)`` intervals cover at least half of ``[a, b]``."""
    return 2 * _overlap(intervals, a, b) >= b - a


def _outside_hours(day: MarketDay) -> str | None:
    """The declared session reaches into its venue's closed hours (not marked as trading halts)."""
    cal, m = _calendar(day), day.meta
    if cal is None:
        return None
    closed = hours.closed_parts(cal, m.session_open_ns, m.session_close_ns, day.halts)
    total = int((closed[:, 1] - closed[:, 0]).sum()) if closed.size else 0
    if total < 60 * 1_000_000_000 and cal.is_open(m.session_open_ns):
        return None
    span = f"({_clock(m.session_open_ns)} to {_clock(m.session_close_ns)} UTC)"
    where = f"the regular hours of the venue ({cal.name}: {cal.text})"
    if total >= m.session_close_ns - m.session_open_ns:
        return (
            f"the declared session {span} lies entirely outside {where}: {cal.outside}; a weekend or holiday "
            "file? every episode replays a frozen book"
        )
    a, b = closed[int(np.argmax(closed[:, 1] - closed[:, 0]))]
    return (
        f"the declared session {span} includes {_duration(total)} outside {where}, e.g. {_clock(a)} to "
        f"{_clock(b)} UTC: {cal.outside}; episodes could start in a frozen book there: narrow the session"
    )


def _halted(day: MarketDay) -> str | None:
    """Trading halts covering an hour or more of the session: an episode can start in one."""
    m, h = day.meta, day.halts
    inside = _overlap(h, m.session_open_ns, m.session_close_ns)
    if inside < FROZEN_SECONDS * 1_000_000_000:
        return None
    a, b = (int(x) for x in h[int(np.argmax(np.minimum(h[:, 1], m.session_close_ns) - h[:, 0]))])
    cal = _calendar(day)
    closed = cal is not None and _mostly(cal.closed_intervals(a, b), a, b)
    known = f", when the venue is closed by its calendar ({cal.name}: {cal.text})" if closed else ""
    return (
        f"trading halts cover {_duration(inside)} of the declared session (e.g. {_clock(a)} to {_clock(b)} UTC{known}): "
        "nothing fills there, but an episode can start in one and wait for the reopen"
    )


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
    a, b = int(marks[i]), int(marks[i + 1])
    if day.ts[-1] <= a:
        return (
            f"the data ends at {_clock(day.ts[-1])} UTC, {gaps[i] / 3.6e12:.1f} h before the declared session "
            f"closes ({_clock(b)}): a truncated file? episodes there replay a frozen book"
        )
    cal = _calendar(day)
    closed = cal is not None and _mostly(cal.closed_intervals(a, b), a, b)
    if closed and _outside_hours(day) is not None:
        return None  # said by the calendar check
    if _mostly(day.halts, a, b) and _halted(day) is not None:
        return None  # a trading halt: said by the halt check
    if a == m.session_open_ns and day.ts[0] >= b:
        return (
            f"the data starts at {_clock(day.ts[0])} UTC, {gaps[i] / 3.6e12:.1f} h after the declared session "
            f"opens ({_clock(a)}): episodes there replay a book that is not known yet"
        )
    if cal is not None:
        state = "closed then" if closed else "open"
        why = f"while the venue is {state} by its calendar ({cal.name}: {cal.text})" + (
            "" if closed else ": a holiday, a halt or a data gap?"
        )
    else:
        why = "a closed market (a night, a weekend, a daily halt) or a data gap?"
    return (
        f"the top of the book does not change for {gaps[i] / 3.6e12:.1f} h ({_clock(a)} to {_clock(b)} UTC) "
        f"inside the declared session ({why}): episodes there fill against a frozen book; narrow the session"
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
    for check in (_small_sizes, _outside_hours, _halted, _frozen):
        text = check(day)
        if text is not None:
            out.append(f"{day.meta.source} ({day.meta.date}): {text}")
    return out


def fees_for(formats: set[str]) -> tuple[dict[str, Any], str | None]:
    """The fee defaults of a catalogue made of ``formats`` (only when every file is of one market)."""
    fees, source = MARKET_FEES.get(next(iter(formats)), ({}, None)) if len(formats) == 1 else ({}, None)
    return dict(fees), source

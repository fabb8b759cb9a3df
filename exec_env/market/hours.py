"""Regular trading hours of the venues a format implies, as UTC intervals.

A :class:`Calendar` is a weekly schedule of open intervals in the venue's local time (time zones by
:mod:`zoneinfo`, so daylight saving is followed):

* ``cme_equity_index``: CME Globex equity index futures (E-mini S&P ``ES``, ``NQ``, ``YM``, ``RTY``
  and their micro contracts): Sunday to Friday 17:00-16:00 America/Chicago, with a daily maintenance
  halt 16:00-17:00 (21:00-22:00 UTC in summer, 22:00-23:00 UTC in winter) and the weekend closed;
* ``us_equities``: US equities' regular session, Monday to Friday 09:30-16:00 America/New_York.

Holidays and early closes are not in the calendars: a closed day shows as a frozen book, which
:mod:`exec_env.market.facts` reports. Loaders whose format implies a venue say so in
``meta.notes["calendar"]`` (the key of :data:`CALENDARS`): Databento GLBX.MDP3 equity index futures
(and there the session can be trimmed to the calendar), LOBSTER (NASDAQ), TAQ (NYSE TAQ).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

__all__ = ["CALENDARS", "Calendar", "closed_parts", "cme_calendar"]

_NS = 1_000_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MAX_DAYS = 400
"""Longest span a calendar is asked about (a day file spans one or two days)."""


@dataclass(frozen=True)
class Calendar:
    """Weekly open intervals ``(weekday, "HH:MM", weekday, "HH:MM")`` in ``timezone`` (Monday = 0)."""

    name: str
    timezone: str
    hours: tuple[tuple[int, str, int, str], ...]
    text: str
    """The schedule in words, for messages."""
    outside: str
    """What happens outside the hours, for messages."""

    def open_intervals(self, start_ns: int, end_ns: int) -> np.ndarray:
        """``(K, 2)`` int64 UTC ns of the open intervals overlapping ``[start_ns, end_ns]``, clipped to it."""
        zone = ZoneInfo(self.timezone)
        longest = max((close_wd - open_wd) % 7 for open_wd, _, close_wd, _ in self.hours)  # days an interval spans
        first = _local_date(start_ns, zone) - dt.timedelta(days=longest + 1)
        days = (_local_date(end_ns, zone) - first).days + 1
        if days > _MAX_DAYS + 7:
            raise ValueError(f"{self.name} calendar: a span of {days} days; at most {_MAX_DAYS} are looked up")
        out = []
        for k in range(days):
            day = first + dt.timedelta(days=k)
            for open_wd, open_at, close_wd, close_at in self.hours:
                if day.weekday() != open_wd:
                    continue
                a = _utc_ns(day, open_at, zone)
                b = _utc_ns(day + dt.timedelta(days=(close_wd - open_wd) % 7), close_at, zone)
                a, b = max(a, start_ns), min(b, end_ns)
                if b > a:
                    out.append((a, b))
        return np.array(sorted(out), dtype=np.int64).reshape(-1, 2)

    def closed_intervals(self, start_ns: int, end_ns: int) -> np.ndarray:
        """``(K, 2)`` int64 UTC ns of ``[start_ns, end_ns]`` outside the open intervals."""
        edges = np.concatenate([[start_ns], self.open_intervals(start_ns, end_ns).ravel(), [end_ns]])
        gaps = edges.reshape(-1, 2)
        return gaps[gaps[:, 1] > gaps[:, 0]].astype(np.int64)

    def is_open(self, ns: int) -> bool:
        return bool(self.open_intervals(ns, ns + 1).size)


def _local_date(ns: int, zone: ZoneInfo) -> dt.date:
    return (_EPOCH + dt.timedelta(microseconds=int(ns) // 1000)).astimezone(zone).date()


def _utc_ns(day: dt.date, hhmm: str, zone: ZoneInfo) -> int:
    h, m = map(int, hhmm.split(":"))
    local = dt.datetime(day.year, day.month, day.day, h, m, tzinfo=zone)
    return (local - _EPOCH) // dt.timedelta(seconds=1) * _NS


CALENDARS: dict[str, Calendar] = {
    "cme_equity_index": Calendar(
        name="CME Globex equity index futures",
        timezone="America/Chicago",
        hours=tuple((d, "17:00", (d + 1) % 7, "16:00") for d in (6, 0, 1, 2, 3)),
        text="Sun-Fri 17:00-16:00 America/Chicago, daily halt 16:00-17:00",
        outside="the market is halted or closed (pre-open orders may change the book, nothing trades)",
    ),
    "us_equities": Calendar(
        name="US equities",
        timezone="America/New_York",
        hours=tuple((d, "09:30", d, "16:00") for d in range(5)),
        text="Mon-Fri 09:30-16:00 America/New_York",
        outside="the exchanges are closed or in extended hours (thin, often frozen books)",
    ),
}

_CME_EQUITY_INDEX = re.compile(r"^(ES|MES|NQ|MNQ|YM|MYM|RTY|M2K|EMD)([FGHJKMNQUVXZ]\d{1,2}\b|\.|$)")
GLBX_PUBLISHER = 1
"""Databento's publisher id of CME Globex MDP 3.0 (dataset GLBX.MDP3)."""


def cme_calendar(dataset: str | None, publisher_ids: list[int], symbol: str) -> str | None:
    """``"cme_equity_index"`` for CME Globex (dataset GLBX.MDP3 or publisher 1) equity index futures
    (``ESU4``, ``NQ.FUT``, ``MES.c.0``), else None (no calendar known: other products keep other hours)."""
    glbx = (dataset or "").upper().startswith("GLBX") or (dataset is None and publisher_ids == [GLBX_PUBLISHER])
    return "cme_equity_index" if glbx and _CME_EQUITY_INDEX.match(symbol.upper()) else None


def closed_parts(cal: Calendar, start_ns: int, end_ns: int, halts: np.ndarray | None) -> np.ndarray:
    """The calendar's closed intervals inside ``[start_ns, end_ns]`` that ``halts`` do not cover."""
    closed = cal.closed_intervals(start_ns, end_ns)
    if halts is None or not len(halts) or not closed.size:
        return closed
    out = []
    for a, b in closed.tolist():
        for ha, hb in np.asarray(halts).tolist():
            if hb <= a or ha >= b:
                continue
            if ha > a:
                out.append((a, ha))
            a = max(a, hb)
        if b > a:
            out.append((a, b))
    return np.array(out, dtype=np.int64).reshape(-1, 2)

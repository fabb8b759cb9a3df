"""OHLCV bars (1 minute or coarser) lifted into the canonical form with explicit assumptions.

Registry format ``"bars"``. A bar says where the price was at its end and how much traded
during it; it has no book. The lift below is the one a bar-based execution simulator uses (a
child order pays a half-spread around the close plus impact from walking an assumed depth),
written out as book snapshots and trades so that the same replay engine runs on it. Every
assumption is an option of :func:`load` / :func:`from_dataframe`, and is repeated in
``meta.notes`` of every day.

Inputs
------
* :func:`load`: a CSV with a header ``datetime,open,high,low,close,volume`` (names matched
  case-insensitively ignoring ``_``/spaces; the time column may be called datetime, date, time or
  timestamp; an ``adj close`` column is accepted and ignored), rows oldest first *or* newest
  first (the samples are newest first; any other order raises). Times are wall-clock times in
  ``timezone`` (``2019-02-15 16:00:00``) or carry an explicit UTC offset (honoured).
* :func:`from_dataframe`: a yfinance-shaped DataFrame: a DatetimeIndex (tz-aware, converted to
  ``timezone``, or naive, read in ``timezone``) and columns Open, High, Low, Close, [Adj Close,]
  Volume (``Ticker.history``'s Dividends/Stock Splits/Capital Gains columns are ignored);
  yfinance's (Price, Ticker) column MultiIndex with one ticker is accepted (the ticker becomes
  the symbol; several tickers raise and say how to select one). Errors name row ``i`` = the 0-based position in the frame.

Lifting (options and defaults)
------------------------------
* **Bar length** ``bar_seconds=None``: inferred as the most common step between consecutive bars
  of a day (60 in the samples). Bars finer than 60 s are refused.
* **Labels** ``label="auto"``: ``"end"`` if a timestamp stamps a bar *end* (the bar covers
  ``(t - bar, t]``), ``"start"`` if it stamps the start. ``"auto"`` decides from the session:
  a bar stamped at the close (16:00) and none at the open (09:30) means ends, the reverse means
  starts (yfinance labels starts), anything else raises and asks for the option. **Finding on
  the samples:** both SPY and AAPL have 390 bars a day stamped 09:31 .. 16:00 and no 09:30
  row: timestamps label bar ends.
* **No look-ahead**: a bar's close and volume are known only at the bar's end, so its book row
  and its trades are stamped at the end time.
* **Book** (one row per bar, at its end): the spread is ``spread_ticks`` (default 1) or
  ``spread_bps`` of the close rounded to whole ticks (at least 1); the best bid/ask are the
  S-tick interval of the tick grid (``tick_size=0.01``) centred as closely as possible on the
  close, so mid = close whenever the grid allows. When two intervals are equally close (a close
  on the grid with an odd spread, e.g. the default 1 tick) ``tie_break="tick_rule"`` puts the
  close at the ask after an uptick (close above the previous row's price) and at the bid after a
  downtick, repeats the last decision after a zero tick, and starts at the bid;
  ``tie_break="bid"``/``"ask"`` always put the close at the bid/ask. Sub-penny closes (296 of
  SPY's and 380 of AAPL's) lie inside the spread. ``depth_levels=5`` levels per side, one tick
  apart (``level_step_ticks=1``), each of ``level_size`` units if given, else
  ``level_fraction=0.01`` of the bar's volume rounded down to whole lots and at least
  ``min_level_size`` (default one lot). A marketable child order therefore pays the half-spread
  plus one tick per level of size it walks (a linear impact); the simulator's own impact model
  comes on top.
* **Trades** ``trades="split"``: two prints stamped at the bar end, half of the volume
  buyer-initiated at the best ask and half seller-initiated at the best bid (both of the book
  row of that bar); ``"close"``: one print of the whole volume at the close price, side unknown;
  ``"none"``: no prints. Zero-volume bars give no prints. A resting order at the touch fills
  from the opposite half-volume print after the displayed queue: with these defaults that is
  most bars, an optimistic assumption that bar data cannot test.
* **Open snapshot** ``open_snapshot=False`` (default: no look-ahead). ``True``: a book row at the session open priced around the
  first bar's *open* (its sizes are that bar's), so an episode can start at the open. The open
  is the opening auction's price, announced by the pre-open indicative price; stamping it at
  the open is the only use of a value printed after its stamp (by the seconds the first trade
  takes). ``False``: the first row is the first bar's end (episodes start after it: the env
  draws starts from the first book row). No open row if the first bar of a day does not start at the open.
* **Sessions** ``timezone="America/New_York"``, ``session=("09:30", "16:00")``: one MarketDay
  per local date of the bars' starts; ``meta.session_open_ns``/``close_ns`` are those wall times
  on that date. Bars outside: ``outside="raise"`` (default; the samples are regular hours),
  ``"drop"`` (counted in ``notes["dropped_outside_session_bars"]``) or ``"extend"`` (kept: the
  session widens to the first bar's start/last bar's end; ``notes["extended_hours_bars"]``).
  Bars must lie on the bar grid counted from the open.
* **Gaps**: regular-session bars that are missing are listed in ``notes["gaps"]`` (local
  ``HH:MM:SS-HH:MM:SS`` ranges) and counted in ``notes["missing_bars"]``; never filled.
* **Facts**: zero-volume bars are listed in ``notes["zero_volume_bars"]``. High and low are only
  checked (the path inside a bar is unknown). Volume outliers are flagged only on request:
  ``volume_outliers=k`` lists in ``notes["volume_outliers"]`` the bars whose volume exceeds k
  times the median of the day's ``outlier_window=31`` bars centred on it; nothing is changed.
* ``symbol=None``: the file name up to the first ``_`` (``SPY_1min.csv`` -> ``SPY``);
  ``lot_size=1.0``.

Malformed input raises naming file, line and field: wrong column count, unparsable value, NaN,
price <= 0, negative volume, high < low, open or close outside [low, high], duplicate
timestamps, rows neither oldest- nor newest-first.

:func:`volume_curve` gives the average intraday volume profile of given days (for a VWAP
schedule built from training days only); :func:`bars_from_day` and :func:`write_bars` make bars
from any MarketDay's trades and write them in the CSV layout above.

Measured on the samples (``../shared/data/bars``, 2019-02-11 .. 15, label ``end`` inferred):
SPY 1,950 bars, 390 a day, no gaps; one bar with volume 0 that nonetheless has a price range
(2019-02-11 13:09-13:10, high 270.88 low 270.8455). AAPL 1,948 bars: 2019-02-14 misses the bars
ending 14:32 and 14:37 (gaps 14:31-14:32, 14:36-14:37). 768 SPY and 899 AAPL bars have sub-penny
prices. The first bar of 2019-02-11, said to have an implausible volume, does not stand out: it
is 7x the median of the next 30 bars (SPY 1,488,804; AAPL 619,925) like every day's opening bar
(SPY 7-14x, AAPL 7x); the largest opening bar is 2019-02-15 (SPY 5,176,123, AAPL 2,869,663 =
25x), a monthly options expiry. Daily volume sums: SPY 57.2M-80.4M, AAPL 18.5M-21.9M.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.market.data import MarketDay, MarketMeta, validate
from exec_env.market.lift import (
    DAY_NS,
    NS,
    clock_str,
    date_str,
    has_offset,
    header_roles,
    ladder,
    local_ns,
    parse_session,
    parse_times,
    read_headed,
    reprs,
    session_utc,
    tick_signs,
    to_price,
    utc_ns_of_wall_times,
)
from exec_env.market.reader import (
    POSITIVE,
    POSITIVE_OR_NONE,
    InMemory,
    bad_option,
    check_choice,
    check_known,
    check_min,
    check_number,
    check_options,
    check_text,
    fail_first,
    first,
    head_lines,
    numbers,
    zone_info,
)

__all__ = ["VERSION", "bars_from_day", "from_dataframe", "load", "sniff", "volume_curve", "write_bars"]

VERSION = 1
FIELDS = ("open", "high", "low", "close", "volume")
_YF_EXTRAS = frozenset({"dividends", "stocksplits", "capitalgains"})  # yfinance Ticker.history extras, ignored


_ROLES = {"time": {"datetime", "date", "time", "timestamp", "ts"}, **{f: {f} for f in (*FIELDS, "adjclose")}}


def _roles(names: Sequence[Any], need_time: bool = True, extras: frozenset[str] = frozenset()) -> dict[str, int] | None:
    """Column index of each role (time, open, high, low, close, adjclose, volume), or None;
    columns named in ``extras`` are allowed and ignored."""
    return header_roles(names, _ROLES, set(FIELDS) | ({"time"} if need_time else set()), extras)


def sniff(path: Path) -> bool:
    """A CSV header with a time column, open, high, low, close, volume (and optionally adj close)."""
    lines = head_lines(Path(path), 1)
    return bool(lines) and _roles(lines[0].split(",")) is not None


# ----------------------------------------------------------------------------------------------
# Parsing into raw bars: UTC ns labels + OHLCV + row numbers
# ----------------------------------------------------------------------------------------------


class _Raw:
    __slots__ = ("adj_close", "close", "high", "low", "open", "origin", "rows", "t", "volume")

    def __init__(self, t, o, h, lo, c, v, rows, origin, adj_close: bool) -> None:
        self.t, self.open, self.high, self.low, self.close, self.volume = t, o, h, lo, c, v
        self.rows, self.origin, self.adj_close = rows, origin, adj_close


def _read_csv(path: Path, timezone: str) -> _Raw:
    origin = str(path)
    header = "an OHLCV header (datetime, open, high, low, close[, adj close], volume)"
    cols, rows, roles = read_headed(path, lambda line: _roles(line.split(",")), header, FIELDS)
    time = pd.Series(cols["time"])
    t = parse_times(origin, time, rows, ["ISO8601"], has_offset(time.iloc[0]), timezone, "datetime")
    return _Raw(t, *(cols[f] for f in FIELDS), rows, origin, "adjclose" in roles)


def _read_frame(df: pd.DataFrame, timezone: str, origin: InMemory) -> tuple[_Raw, str | None]:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"from_dataframe: expected a pandas DataFrame, got {type(df).__name__}")
    ticker = None
    cols = df.columns
    if isinstance(cols, pd.MultiIndex):
        level = next(
            (k for k in range(cols.nlevels) if _roles(cols.get_level_values(k).unique(), False, _YF_EXTRAS)), None
        )
        if level is None or cols.nlevels != 2:
            raise ValueError(f"{origin}: columns {list(cols)} are not yfinance-shaped (Open, High, Low, Close, Volume)")
        other = cols.get_level_values(1 - level).unique()
        if len(other) != 1:
            raise ValueError(
                f"{origin}: the columns hold {len(other)} tickers {list(other)}; pass one, e.g. df.xs('SPY', axis=1, "
                "level='Ticker')"
            )
        ticker = str(other[0])
        df = df.droplevel(1 - level, axis=1)
    roles = _roles(df.columns, False, _YF_EXTRAS)
    if roles is None or "time" in roles:
        raise ValueError(
            f"{origin}: columns {list(df.columns)} are not Open, High, Low, Close, [Adj Close,] Volume with a "
            "DatetimeIndex"
        )
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"{origin}: the index must be a DatetimeIndex (bar times), got {type(index).__name__}")
    rows = np.arange(len(df), dtype=np.int64)
    if len(df) == 0:
        raise ValueError(f"{origin}: no bars")
    fail_first(np.asarray(index.isna()), origin, rows, "datetime", "timestamp is NaT")
    if index.tz is not None:
        t = index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[ns]").view(np.int64)
    else:
        wall = index.to_numpy().astype("datetime64[ns]").view(np.int64)
        t = utc_ns_of_wall_times(origin, wall, rows, index.astype(str).to_numpy(), timezone, "datetime")
    vals = [numbers(origin, df.iloc[:, roles[f]], rows, f) for f in FIELDS]
    return _Raw(t, *vals, rows, origin, "adjclose" in roles), ticker


# ----------------------------------------------------------------------------------------------
# Lifting
# ----------------------------------------------------------------------------------------------


def _interval(lo_local: int, hi_local: int) -> str:
    return f"{clock_str(lo_local)}-{clock_str(hi_local)}"


def _runs(starts: np.ndarray, bar: int) -> list[tuple[int, int]]:
    """Merge sorted bar starts into [start, end) runs of consecutive bars."""
    runs = np.split(starts, np.flatnonzero(np.diff(starts) != bar) + 1)
    return [(int(run[0]), int(run[-1]) + bar) for run in runs if run.size]  # no starts: one empty run


def _best_ticks(price: np.ndarray, spread: np.ndarray, sign: np.ndarray, tick: float) -> tuple[np.ndarray, np.ndarray]:
    """Best bid/ask in integer ticks: the ``spread``-tick interval centred closest on ``price``;
    ties go up (close at the ask) where ``sign`` > 0, else down (close at the bid)."""
    x = np.round(price / tick, 6)
    y = x - spread / 2.0
    lower = np.floor(y)
    tie = np.abs(y - lower - 0.5) < 1e-6
    b = np.where(tie, np.where(sign > 0, lower, lower + 1.0), np.floor(y + 0.5))
    return b, b + spread


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise bad_option(name, value, "True or False")
    return value


_RULES: dict[str, Any] = {
    "symbol": check_text, "timezone": lambda n, v: zone_info(n, v).key,
    "label": ("auto", "start", "end"), "bar_seconds": {"low": 60, "integer": True, "none": True},
    "outside": ("raise", "drop", "extend"), "tick_size": POSITIVE, "lot_size": POSITIVE,
    "spread_ticks": {"low": 1, "high": 10_000, "integer": True, "none": True},
    "spread_bps": {**POSITIVE_OR_NONE, "high": 10_000}, "tie_break": ("tick_rule", "bid", "ask"),
    "depth_levels": {"low": 1, "high": 50, "integer": True}, "level_step_ticks": {"low": 1, "high": 10_000, "integer": True},
    "level_size": POSITIVE_OR_NONE, "level_fraction": {**POSITIVE_OR_NONE, "high": 1}, "min_level_size": POSITIVE_OR_NONE,
    "trades": ("split", "close", "none"), "open_snapshot": _flag, "volume_outliers": {"low": 1, "low_open": True, "none": True},
    "outlier_window": {"low": 3, "high": 10_001, "integer": True},
}  # fmt: skip
"""The checks of the options (:func:`reader.check_options`), in order."""


def _options(o: dict[str, Any]) -> dict[str, Any]:
    known = {
        "symbol": None, "timezone": "America/New_York", "session": ("09:30", "16:00"), "label": "auto",
        "bar_seconds": None, "outside": "raise", "tick_size": 0.01, "lot_size": 1.0, "spread_ticks": None,
        "spread_bps": None, "tie_break": "tick_rule", "depth_levels": 5, "level_step_ticks": 1, "level_size": None,
        "level_fraction": None, "min_level_size": None, "trades": "split", "open_snapshot": False,
        "volume_outliers": None, "outlier_window": 31,
    }  # fmt: skip
    check_known("bars", o, list(known))
    opt = {**known, **o}
    for a, b, rule in (("spread_ticks", "spread_bps", "spread"), ("level_size", "level_fraction", "depth")):
        if opt[a] is not None and opt[b] is not None:
            raise bad_option(b, opt[b], f"None when {a} is given (one {rule} rule)")
    check_options(opt, _RULES)
    opt["open_ns"], opt["close_ns"] = parse_session(opt["session"])
    if opt["spread_ticks"] is None and opt["spread_bps"] is None:
        opt["spread_ticks"] = 1
    if opt["level_size"] is None and opt["level_fraction"] is None:
        opt["level_fraction"] = 0.01
    if opt["min_level_size"] is None:
        opt["min_level_size"] = opt["lot_size"]
    return opt


def _oldest_first(raw: _Raw, notes: dict[str, Any]) -> _Raw:
    """Rows strictly oldest first or newest first (then reversed); a duplicate or out-of-order stamp is an error."""
    t, rows, origin = raw.t, raw.rows, raw.origin
    notes["row_order"] = "oldest first"
    if t.size <= 1:
        return raw
    d = np.diff(t)
    unit = "row" if isinstance(origin, InMemory) else "line"
    fail_first(
        d == 0, origin, rows[1:], "datetime", lambda k: f"duplicate timestamp {t[k + 1]} (also on {unit} {rows[k]})"
    )
    direction = np.sign(d[0])
    fail_first(np.sign(d) != direction, origin, rows[1:], "datetime", lambda k: f"timestamp {t[k + 1]} breaks the "
               f"{'increasing' if direction > 0 else 'decreasing'} order of the rows above (bars must be sorted, "
               "oldest or newest first)")  # fmt: skip
    if direction > 0:
        return raw
    notes["row_order"] = "newest first (reversed on load)"
    arrays = (a[::-1].copy() for a in (raw.t, raw.open, raw.high, raw.low, raw.close, raw.volume, raw.rows))
    return _Raw(*arrays, raw.origin, raw.adj_close)


def _check_bars(bars: _Raw) -> None:
    """Positive prices, non-negative volume, low <= open, close <= high."""
    o, h, lo, c, v, rows = bars.open, bars.high, bars.low, bars.close, bars.volume, bars.rows
    for name, arr in (("open", o), ("high", h), ("low", lo), ("close", c)):
        check_min(bars.origin, arr, rows, name, "price", strict=True)
    check_min(bars.origin, v, rows, "volume", "volume")
    fail_first(h < lo, bars.origin, rows, "high", lambda i: f"high {float(h[i])!r} < low {float(lo[i])!r}")
    for name, x in (("open", o), ("close", c)):
        outside = lambda i: f"{name} {float(x[i])!r} outside [low {float(lo[i])!r}, high {float(h[i])!r}]"  # noqa: B023, E731
        fail_first((x < lo) | (x > h), bars.origin, rows, name, outside)


def _bar_length(origin: str, loc: np.ndarray, opt: dict[str, Any], notes: dict[str, Any]) -> int:
    """The bar length in ns: the option, or the most common step between bars of one day."""
    if opt["bar_seconds"] is not None:
        notes["bar_seconds"] = f"{opt['bar_seconds']} (option)"
        return opt["bar_seconds"] * NS
    same_day = (loc[1:] // DAY_NS) == (loc[:-1] // DAY_NS)
    steps = np.diff(loc)[same_day]
    if steps.size == 0:
        raise ValueError(f"{origin}: cannot infer the bar length from one bar a day; pass bar_seconds=...")
    values, counts = np.unique(steps, return_counts=True)
    bar = int(values[np.argmax(counts)])
    if bar < 60 * NS or bar % NS:
        raise ValueError(
            f"{origin}: inferred bar length {bar / NS:g} s; bars must be whole seconds and at least 60 s "
            "(1-minute or coarser); pass bar_seconds=... if the inference is wrong"
        )
    notes["bar_seconds"] = f"{bar // NS} (inferred: most common step between bars)"
    return bar


def _label(origin: str, loc: np.ndarray, opt: dict[str, Any], notes: dict[str, Any]) -> str:
    """Whether stamps label bar starts or ends: the option, or a bar stamped at the open xor the close."""
    if opt["label"] != "auto":
        notes["label"] = f"{opt['label']} (option)"
        return opt["label"]
    tod = loc % DAY_NS
    has_open = bool((tod == opt["open_ns"]).any())
    has_close = bool((tod == opt["close_ns"]).any())
    if has_close and not has_open:
        label, why = "end", f"a bar stamped at the close {opt['session'][1]} and none at the open {opt['session'][0]}"
    elif has_open and not has_close:
        label, why = "start", f"a bar stamped at the open {opt['session'][0]} and none at the close {opt['session'][1]}"
    else:
        raise ValueError(
            f"{origin}: cannot infer whether timestamps label bar starts or ends (bars stamped at the open: "
            f"{has_open}, at the close: {has_close}); pass label='start' or label='end'"
        )
    notes["label"] = f"{label} (inferred: {why})"
    return label


class _Sessions:
    """Bars placed in their days: start/end (UTC ns), the day of each bar and each day's regular session."""

    def __init__(self, bars: _Raw, loc: np.ndarray, bar: int, label: str, opt: dict[str, Any]) -> None:
        tz, origin, rows = opt["timezone"], bars.origin, bars.rows
        self.bar = bar
        self.start = bars.t - bar if label == "end" else bars.t
        self.end = self.start + bar
        loc_start = loc - bar if label == "end" else loc
        day_of = loc_start // DAY_NS
        self.day_ids, self.inverse = np.unique(day_of, return_inverse=True)
        wall = self.day_ids * DAY_NS + np.array([[opt["open_ns"]], [opt["close_ns"]]])
        self.reg_open, self.reg_close = session_utc(opt["session"], wall, tz)
        so, sc = self.reg_open[self.inverse], self.reg_close[self.inverse]
        self.outside = (self.start < so) | (self.end > sc)
        self.keep = ~self.outside if opt["outside"] == "drop" else np.ones(bars.t.shape, dtype=bool)
        if opt["outside"] == "raise":
            fail_first(self.outside, origin, rows, "datetime", lambda i: f"bar {date_str(day_of[i] * DAY_NS)} "
                       f"{_interval(loc_start[i], loc_start[i] + bar)} is outside the session {opt['session'][0]}-"
                       f"{opt['session'][1]} {tz}; pass outside='drop' or outside='extend' (or session=...)")  # fmt: skip
        fail_first(((self.start - so) % bar != 0) & self.keep, origin, rows, "datetime", lambda i: f"bar "
                   f"{_interval(loc_start[i], loc_start[i] + bar)} is not on the {bar // NS} s grid counted from the "
                   f"session open {opt['session'][0]}")  # fmt: skip


def _describe(opt: dict[str, Any], notes: dict[str, Any]) -> None:
    """How the book and trades are made from the bars (notes of every day)."""
    tick = opt["tick_size"]
    notes["timezone"] = opt["timezone"]
    notes["book"] = (
        "one row per bar at its end: best bid/ask = the "
        + (f"{opt['spread_ticks']}-tick" if opt["spread_ticks"] else f"{opt['spread_bps']:g} bps (whole ticks, >= 1)")
        + f" interval of the {tick:g} grid centred closest on the close; ties: {opt['tie_break']}"
    )  # fmt: skip
    notes["depth"] = (
        f"{opt['depth_levels']} level(s) per side, {opt['level_step_ticks']} tick(s) apart, "
        + (f"{opt['level_size']:g} units each" if opt["level_size"] is not None
           else f"{opt['level_fraction']:g} x bar volume each (whole lots, >= {opt['min_level_size']:g})")
    )  # fmt: skip
    notes["trades"] = {
        "split": "two prints at each bar end: volume/2 buyer-initiated at the ask, volume/2 seller-initiated at the bid",
        "close": "one print of the bar volume at the close price at each bar end, side unknown",
        "none": "none (option trades='none')",
    }[opt["trades"]]
    notes["high_low"] = "checked only (the price path inside a bar is unknown)"


def _quality(bars: _Raw, s: _Sessions, k: int, idx: np.ndarray, opt: dict[str, Any], dn: dict[str, Any]) -> None:
    """Notes of day ``k``: bars missing inside the regular session, zero-volume bars, volume outliers."""
    tz, bar, v = opt["timezone"], s.bar, bars.volume

    def span(a: int, b: int) -> str:
        return _interval(*local_ns(np.array([a, b], dtype=np.int64), tz))

    n_reg = int((s.reg_close[k] - s.reg_open[k]) // bar)
    expected = s.reg_open[k] + bar * np.arange(n_reg, dtype=np.int64)
    missing = np.setdiff1d(expected, s.start[idx])
    dn["missing_bars"] = int(missing.size)
    dn["gaps"] = [span(a, b) for a, b in _runs(missing, bar)]
    dn["zero_volume_bars"] = [span(s.start[i], s.end[i]) for i in idx[v[idx] == 0]]
    if opt["volume_outliers"] is not None:
        w = opt["outlier_window"]
        med = pd.Series(v[idx]).rolling(w, center=True, min_periods=1).median().to_numpy()
        flag = (med > 0) & (v[idx] > opt["volume_outliers"] * med)
        dn["volume_outlier_rule"] = f"volume > {opt['volume_outliers']:g} x median of the {w} bars centred on it"
        dn["volume_outliers"] = [
            f"{span(s.start[i], s.end[i])}: volume {v[i]:,.0f} = {v[i] / m:.1f}x the median"
            for i, m in zip(idx[flag], med[flag], strict=True)
        ]


def _book(origin: str, px: np.ndarray, vol: np.ndarray, ref: float, rows: np.ndarray, opt: dict[str, Any]) -> tuple:
    """Book rows around each price: best bid/ask from the spread rule, then the depth ladder."""
    tick, lot = opt["tick_size"], opt["lot_size"]
    if opt["spread_ticks"] is not None:
        spread = np.full(px.shape, float(opt["spread_ticks"]))
    else:
        spread = np.maximum(1.0, np.round(px * opt["spread_bps"] / 1e4 / tick))
    if opt["tie_break"] == "tick_rule":
        sign = tick_signs(np.round(np.r_[ref, px] / tick, 6), start=-1.0)[1:]  # after ref: +1 up, -1 down
    else:
        sign = np.full(px.shape, 1.0 if opt["tie_break"] == "ask" else -1.0)
    b, a = _best_ticks(px, spread, sign, tick)
    fail_first(b <= 0, origin, rows, "close", lambda i: f"price {float(px[i])!r} leaves no positive bid for the spread")
    if opt["level_size"] is not None:
        size = np.full(px.shape, opt["level_size"])
    else:
        size = np.maximum(np.floor(opt["level_fraction"] * vol / lot + 1e-9) * lot, opt["min_level_size"])
    L, step = opt["depth_levels"], opt["level_step_ticks"]
    bid_px, bid_sz = ladder(to_price(b, tick), size, L, step, tick, -1)
    ask_px, ask_sz = ladder(to_price(a, tick), size, L, step, tick, +1)
    fail_first(bid_px <= 0, origin, rows, "close",
               lambda i: f"depth_levels={L} reach prices <= 0 below the bid {float(bid_px[i, 0])!r}")  # fmt: skip
    return bid_px, bid_sz, ask_px, ask_sz


def _bar_trades(mode: str, ts, px, vol, rows, bid_px, ask_px, skip: int) -> tuple:
    """Trades at bar ends (rows from ``skip`` on: the open snapshot carries none): ts, px, sz, side, rows."""
    traded = np.flatnonzero(vol[skip:] > 0) + skip if mode != "none" else np.zeros(0, np.int64)
    if mode == "split":  # the ask print, then the bid print, of each bar
        trade_px = np.column_stack([ask_px[traded, 0], bid_px[traded, 0]]).ravel()
        side = np.tile(np.array([1, -1], dtype=np.int8), traded.size)
        return np.repeat(ts[traded], 2), trade_px, np.repeat(vol[traded] / 2.0, 2), side, np.repeat(rows[traded], 2)
    return ts[traded], px[traded], vol[traded], np.zeros(traded.size, dtype=np.int8), rows[traded]


def _session_notes(s: _Sessions, k: int, idx: np.ndarray, opt: dict[str, Any], dn: dict[str, Any]) -> tuple[int, int]:
    """Day ``k``'s session (regular, or extended to its bars with ``outside="extend"``) and its notes."""
    tz = opt["timezone"]
    n_out = int(((s.inverse == k) & s.outside).sum())
    open_ns, close_ns = int(s.reg_open[k]), int(s.reg_close[k])
    dn["session"] = f"{opt['session'][0]}-{opt['session'][1]} {tz}"
    if opt["outside"] == "drop":
        dn["dropped_outside_session_bars"] = n_out
    elif opt["outside"] == "extend":
        dn["extended_hours_bars"] = n_out
        open_ns, close_ns = min(open_ns, int(s.start[idx[0]])), max(close_ns, int(s.end[idx[-1]]))
        if n_out:
            dn["session"] += f", extended to the bars: {_interval(*local_ns(np.array([open_ns, close_ns]), tz))}"
    return open_ns, close_ns


def _lift_day(bars: _Raw, s: _Sessions, k: int, idx: np.ndarray, opt: dict, notes: dict, symbol: str) -> MarketDay:
    """One day: its session, quality notes, book rows at bar ends (and at the open) and trades."""
    o, c, v, rows = bars.open, bars.close, bars.volume, bars.rows
    dn = dict(notes)
    open_ns, close_ns = _session_notes(s, k, idx, opt, dn)
    _quality(bars, s, k, idx, opt, dn)
    snap = opt["open_snapshot"] and int(s.start[idx[0]]) == open_ns
    px, ts, vol, book_rows = c[idx], s.end[idx], v[idx], rows[idx]
    if snap:
        px, ts = np.r_[o[idx[0]], px], np.r_[open_ns, ts]
        vol, book_rows = np.r_[v[idx[0]], vol], np.r_[rows[idx[0]], book_rows]
    dn["open_snapshot"] = (
        "a row at the open priced around the first bar's open"
        if snap
        else ("none (option)" if not opt["open_snapshot"] else "none: the first bar does not start at the open")
    )
    bid_px, bid_sz, ask_px, ask_sz = _book(bars.origin, px, vol, o[idx[0]], book_rows, opt)
    *trades, trade_rows = _bar_trades(opt["trades"], ts, px, vol, book_rows, bid_px, ask_px, 1 if snap else 0)
    meta = MarketMeta(
        symbol=symbol, tick_size=opt["tick_size"], lot_size=opt["lot_size"], session_open_ns=open_ns,
        session_close_ns=close_ns, source=str(bars.origin), date=date_str(int(s.day_ids[k]) * DAY_NS), notes=dn,
    )  # fmt: skip
    day = MarketDay.build(meta, (ts, bid_px, bid_sz, ask_px, ask_sz), tuple(trades))
    return validate(day, origin=bars.origin, book_rows=book_rows, trade_rows=trade_rows)


def _lift(raw: _Raw, opt: dict[str, Any], symbol: str) -> list[MarketDay]:
    """Bars -> one MarketDay per session date: row order, checks, bar length, labels, sessions, days."""
    notes: dict[str, Any] = {"format": "bars"}
    if raw.adj_close:
        notes["adj_close"] = "column present and ignored (unadjusted prices are used)"
    bars = _oldest_first(raw, notes)
    _check_bars(bars)
    loc = local_ns(bars.t, opt["timezone"])
    bar = _bar_length(bars.origin, loc, opt, notes)
    label = _label(bars.origin, loc, opt, notes)
    sessions = _Sessions(bars, loc, bar, label, opt)
    _describe(opt, notes)
    days = []
    for k in range(sessions.day_ids.size):
        idx = np.flatnonzero((sessions.inverse == k) & sessions.keep)
        if idx.size:
            days.append(_lift_day(bars, sessions, k, idx, opt, notes, symbol))
    if not days:
        raise ValueError(f"{bars.origin}: no bars inside the session {opt['session']}")
    return days


def load(path: Path, **options: Any) -> list[MarketDay]:
    """Parse an OHLCV CSV into one validated MarketDay per session date (see the module docstring)."""
    path = Path(path)
    opt = _options(options)
    raw = _read_csv(path, opt["timezone"])
    symbol = opt["symbol"] or path.stem.split("_")[0] or path.stem
    return _lift(raw, opt, symbol)


def from_dataframe(df: pd.DataFrame, source: str = "DataFrame", **options: Any) -> list[MarketDay]:
    """Lift a yfinance-shaped DataFrame (DatetimeIndex; Open, High, Low, Close, [Adj Close,]
    Volume) exactly as :func:`load` lifts a file; ``source`` names it in errors and metadata."""
    opt = _options(options)
    raw, ticker = _read_frame(df, opt["timezone"], InMemory(source))
    return _lift(raw, opt, opt["symbol"] or ticker or "UNKNOWN")


# ----------------------------------------------------------------------------------------------
# Volume curve, bars from days, writer
# ----------------------------------------------------------------------------------------------


def volume_curve(days: Sequence[MarketDay], bins: int | Sequence[float] = 13) -> np.ndarray:
    """Average fraction of a session's traded volume per time bin, from ``days`` only.

    ``bins``: a number of equal bins of each day's session (13: half hours of 09:30-16:00), or
    increasing edges as fractions of the session from 0 to 1. A trade at ``t`` falls in the bin
    ``(e_i, e_i+1]`` holding ``(t - open) / (close - open)`` (the first bin also holds the open):
    a bar stamped at its end counts in the bin it ends in. Each day's fractions sum to 1 and the
    result is their average (every day weighs the same); trades outside a day's session, or a
    day without volume, raise. Nothing but the given days is used, so a VWAP schedule made from
    training days never sees a test day.
    """
    edges = np.zeros(0)  # invalid unless set below
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if 1 <= int(bins) <= 100_000:
            edges = np.linspace(0.0, 1.0, int(bins) + 1)
    else:
        try:
            edges = np.asarray(bins, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    if edges.ndim != 1 or edges.size < 2 or edges[0] != 0.0 or edges[-1] != 1.0 or (np.diff(edges) <= 0).any():
        raise bad_option("bins", bins, "an integer 1 .. 100000 or increasing edges from 0 to 1")
    days = list(days)
    if not days:
        raise ValueError("volume_curve: no days given")
    n = edges.size - 1
    out = np.zeros(n)
    for day in days:
        m = day.meta
        ts = np.asarray(day.trade_ts)
        bad = first((ts < m.session_open_ns) | (ts > m.session_close_ns))
        if bad >= 0:
            raise ValueError(
                f"volume_curve: {m.source} {m.date}: trade {bad} at {ts[bad]} is outside the session "
                f"[{m.session_open_ns}, {m.session_close_ns}]"
            )
        pos = (ts - m.session_open_ns) / (m.session_close_ns - m.session_open_ns)
        k = np.clip(np.searchsorted(edges, pos, side="left") - 1, 0, n - 1)
        vol = np.bincount(k, weights=np.asarray(day.trade_sz, dtype=np.float64), minlength=n)
        total = vol.sum()
        if not total > 0:
            raise ValueError(f"volume_curve: {m.source} {m.date} has no traded volume")
        out += vol / total
    return out / len(days)


def bars_from_day(day: MarketDay, bar_seconds: int = 60, timezone: str = "America/New_York",
                  label: str = "end") -> pd.DataFrame:  # fmt: skip
    """OHLCV bars of ``day``'s trades on the ``bar_seconds`` grid from its session open.

    A trade at ``t`` belongs to the bar ``[s, s + bar)`` holding it (one at the close to the last
    bar). Bars without trades are left out, as data vendors do. Returns a DataFrame with a naive
    local ``datetime`` column (bar end, or start with ``label="start"``) and open, high, low,
    close, volume.
    """
    bar_seconds = check_number("bar_seconds", bar_seconds, low=1, integer=True)
    zone_info("timezone", timezone)
    check_choice("label", label, ("start", "end"))
    m = day.meta
    bar = bar_seconds * NS
    n_bars = max(1, -(-(m.session_close_ns - m.session_open_ns) // bar))
    ts = np.asarray(day.trade_ts)
    k = np.clip((ts - m.session_open_ns) // bar, 0, n_bars - 1)
    frame = pd.DataFrame({"k": k, "px": np.asarray(day.trade_px), "sz": np.asarray(day.trade_sz)})
    g = frame.groupby("k", sort=True)
    agg = g.px.agg(["first", "max", "min", "last"]).set_axis(["open", "high", "low", "close"], axis=1)
    agg["volume"] = g.sz.sum()
    kk = agg.index.to_numpy(dtype=np.int64)
    stamp = m.session_open_ns + (kk + (1 if label == "end" else 0)) * bar
    wall = local_ns(stamp, timezone).view("datetime64[ns]")
    agg.insert(0, "datetime", pd.DatetimeIndex(wall))
    return agg.reset_index(drop=True)


def write_bars(bars: pd.DataFrame, path: str | Path, newest_first: bool = False) -> Path:
    """Write ``bars`` (columns datetime, open, high, low, close, volume; naive local times) as a
    CSV in the layout :func:`load` reads; prices in Python's exact shortest repr, whole volumes as
    integers."""
    path = Path(path)
    missing = [c for c in ("datetime", *FIELDS) if c not in bars.columns]
    if missing:
        raise ValueError(f"write_bars: missing columns {missing}")
    df = bars.iloc[::-1] if newest_first else bars
    when = pd.DatetimeIndex(df["datetime"]).strftime("%Y-%m-%d %H:%M:%S")
    cols = [reprs(df[f]) for f in FIELDS[:-1]]
    vol = np.asarray(df["volume"], dtype=np.float64)
    cols.append(pd.Series(vol.astype(np.int64)).astype(str) if np.all(vol == np.round(vol)) else reprs(vol))
    body = pd.Series(np.asarray(when, dtype=object)).str.cat(cols, sep=",")
    path.write_text("datetime,open,high,low,close,volume\n" + "\n".join(body) + "\n")
    return path

"""FX tick quotes (``time, bid, ask[, bid_volume, ask_volume]``) lifted into the canonical form.

Registry format ``"fx_ticks"``. Spot FX has no central book and no public trade tape: a tick file
holds one stream of best quotes (L1). This module turns them into a one-level book, explicitly,
with every assumption below an option.

Styles (``style="auto"`` detects them from the first line)
-----------------------------------------------------------
``dukascopy``
    A header row naming the columns, in any order, e.g. ``timestamp_utc,bid,ask,bid_volume,
    ask_volume`` (the sample) or dukascopy-node's ``timestamp,askPrice,bidPrice,askVolume,
    bidVolume``. Names are matched case-insensitively ignoring ``_``/spaces: time = timestamp,
    timestamp_utc, time, datetime, date, gmt time; bid = bid, bidprice; ask = ask, askprice,
    offer; volumes = bidvolume/bidsize, askvolume/asksize (optional, both or neither). Times are
    ISO (``2026-07-13 12:00:00.093``, up to ns digits, an explicit ``Z``/``+hh:mm`` offset is
    honoured), JForex's ``13.07.2026 12:00:00.093``, or epoch integers (unit from the magnitude:
    s, ms, us or ns). Default time zone UTC.
``truefx``
    No header: ``EUR/USD,20260713 12:00:00.093,1.14273,1.14277`` (symbol, time, bid, ask). No
    volumes. Times GMT (UTC). One symbol per file.
``histdata``
    No header: ``20260713 120000093,1.14273,1.14277,0`` (time ``YYYYMMDD HHMMSSmmm``, bid, ask,
    volume). HistData documents its times as Eastern Standard Time *without* daylight saving,
    i.e. fixed UTC-5: default ``timezone="Etc/GMT+5"``. HistData publishes 0 in the volume
    column: it is ignored (``notes["sizes"]`` says so), sizes come from ``default_size``.

Lifting (each an option of :func:`load`)
----------------------------------------
* **Book.** Each quote row is one book row stamped at its time (UTC ns) with ``levels=1``:
  ``bid_px[:, 0] = bid``, ``ask_px[:, 0] = ask``. Sizes are the volumes times ``volume_scale``
  (1.0; use 1e6 for JForex exports that count millions). Without volume columns ``default_size``
  (units at each best price) is required; the error says so. A zero or negative volume raises.
* **Depth** (``extra_levels=0``): ``extra_levels=k`` adds ``k`` levels per side,
  ``level_step_ticks`` (1) ticks apart, each of ``level_size`` units (default: that row's best
  size). This depth is an assumption, not data; it gives marketable child orders a price impact
  of one step per ``level_size`` units instead of the simulator's beyond-book rule.
* **Trades** (``trades="none"``, the only value): quote data has no trade prints, and nothing
  else is derived. Consequences in the simulator: a resting (passive) child order fills only when
  the opposite quote reaches its price (a book row whose ask is at or below a resting buy);
  queue position never advances from prints; volume and flow features are 0; the episode's
  ``market_vwap``/``participation`` are None.
* **Tick size** (``tick_size=None``): inferred as the coarsest power-of-ten grid on which every
  bid and ask of the file lies (EURUSD sample: 0.00001, the "pipette"; 11% of its bids and 9%
  of its asks have only four decimals). A file in which no price uses the last decimal would infer a
  10x coarser tick: pass ``tick_size`` then. Prices on no grid of at most 12 decimals raise (as in
  every format). Given a tick, prices off the grid raise.
* **Lot size** (``lot_size=1000.0``): the micro lot, the smallest usual FX trading unit.
* **Crossed/locked quotes** (``crossed="raise"``): a row with bid >= ask raises naming it;
  ``crossed="drop"`` drops them and counts ``notes["dropped_crossed_rows"]`` (bid > ask) and
  ``notes["dropped_locked_rows"]`` (bid == ask).
* **Equal timestamps** (``duplicate_ts="raise"``): two quotes with the same time raise;
  ``duplicate_ts="last"`` keeps the last quote of each time (the state after all events at that
  time) and counts ``notes["collapsed_duplicate_ts_rows"]``. Applied after ``crossed``.
  Timestamps going backwards always raise.
* **Days** (``roll="00:00"``, ``roll_timezone="UTC"``): FX trades 24 hours; a day runs from the
  roll time to the next roll. It is labelled with the local date of ``t + (24h - roll) mod 24h``:
  the UTC date itself for the default, and for the New York 17:00 convention
  (``roll="17:00", roll_timezone="America/New_York"``) the date of the next roll (Sunday 17:00 to
  Monday 17:00 is Monday). One MarketDay per label, oldest first.
* **Session** (``session="ticks"``): ``meta.session_open_ns``/``close_ns`` are the first and last
  tick of the day (a day whose ticks share one time raises). ``session="roll"``: the whole day,
  roll to roll. ``session=("HH:MM", "HH:MM")``: open and close in ``roll_timezone`` on the day's
  date; ticks outside raise, or with ``outside="drop"`` are dropped and counted in
  ``notes["dropped_outside_session_rows"]``. With ``"roll"`` or explicit hours the book is empty
  before the first tick: episodes must start after it (``warmup_s``).
* ``timezone=None``: the style's convention above; naive times are read in ``timezone``.
* ``symbol=None``: TrueFX's symbol column without ``/``, else the file name up to the first
  ``_`` (``EURUSD_2026-07-13_12h_ticks.csv`` -> ``EURUSD``).

Episodes: ``ExecutionConfig``'s default ``sim`` carries impact coefficients per unit traded set
for the synthetic $100 stock; on EURUSD (price 1.14, orders of 100,000 units) they move the
price by 0.1 (~900 bps). Pass ``sim=SimConfig(...)`` with coefficients for the pair.

Errors name the file, the 1-based line and the field (``time``, ``bid``, ``ask``,
``bid_volume``, ``ask_volume``).

Measured on the real sample (``../shared/data/fx/EURUSD_2026-07-13_12h_ticks.csv``, Dukascopy
style): 3,551 quotes 12:00:00.093 .. 12:59:57.150 UTC on 2026-07-13, strictly increasing times
(no duplicates), never crossed or locked, spread 1..9 pipettes (mode 2, median 3), sizes 0.12M .. 14.49M
units (multiples of 10,000), largest gap between quotes 14.4 s; one day, 3,551 book rows, 0
trades; tick inferred 0.00001.

:func:`write_fx_ticks` writes a day's best quotes in any of the three styles (exporting synthetic
or other data, and the round-trip tests).
"""

from __future__ import annotations

import re
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
    first_line,
    has_offset,
    header_roles,
    ladder,
    local_ns,
    parse_clock,
    parse_session,
    parse_times,
    read_columns,
    read_headed,
    reprs,
    session_utc,
    split_days,
)
from exec_env.market.reader import (
    POSITIVE,
    POSITIVE_OR_NONE,
    check_choice,
    check_grid,
    check_min,
    check_options,
    check_sorted,
    check_text,
    crossed_rows,
    excerpt,
    fail_first,
    field_error,
    first,
    head_lines,
    increment,
    zone_info,
)

__all__ = ["STYLES", "VERSION", "load", "sniff", "write_fx_ticks"]

VERSION = 2  # 2: crossed and locked counts always in notes
STYLES = ("dukascopy", "truefx", "histdata")
DEFAULT_TIMEZONE = {"dukascopy": "UTC", "truefx": "UTC", "histdata": "Etc/GMT+5"}

_ROLES = {
    "time": {"timestamp", "timestamputc", "time", "timeutc", "datetime", "date", "gmttime", "utctime"},
    "bid": {"bid", "bidprice", "bidquote"},
    "ask": {"ask", "askprice", "askquote", "offer", "offerprice"},
    "bid_volume": {"bidvolume", "bidsize", "bidvol", "bidqty"},
    "ask_volume": {"askvolume", "asksize", "askvol", "askqty", "offervolume", "offersize"},
}
_TRUEFX = re.compile(r"^[A-Za-z0-9]{3,}/?[A-Za-z0-9]{3,},\d{8} \d{2}:\d{2}:\d{2}(\.\d+)?,[^,]+,[^,]+$")
_HISTDATA = re.compile(r"^\d{8} \d{9},[^,]+,[^,]+,[^,]*$")


def _header_roles(line: str) -> dict[str, int] | None:
    """Column index of each role if ``line`` is a Dukascopy-style header, else None."""
    roles = header_roles(line.strip().split(","), _ROLES, {"time", "bid", "ask"})
    if roles is None or ("bid_volume" in roles) != ("ask_volume" in roles):
        return None
    return roles


def _style_of(line: str) -> str | None:
    line = line.strip()
    if _header_roles(line) is not None:
        return "dukascopy"
    if _TRUEFX.match(line):
        return "truefx"
    if _HISTDATA.match(line):
        return "histdata"
    return None


def sniff(path: Path) -> bool:
    """A Dukascopy-style header with time/bid/ask columns, or a TrueFX or HistData tick row."""
    return _style_of((head_lines(Path(path), 1) or [""])[0]) is not None  # an empty line has no style


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------


def _parse_times(origin: str, s: pd.Series, lines: np.ndarray, style: str, timezone: str) -> tuple[np.ndarray, str]:
    """UTC ns of each time string, and how the time zone was decided (for the notes)."""
    first_value = str(s.iloc[0]).strip()
    if style == "dukascopy" and first_value.isdigit():
        values = pd.to_numeric(s, errors="coerce")
        if values.dtype != np.int64:  # the first value that is not digits, else the first one
            bad = max(first(~pd.Series(s).astype(str).str.strip().str.fullmatch(r"\d+").to_numpy(dtype=bool)), 0)
            raise field_error(origin, int(lines[bad]), "time", f"unparsable epoch timestamp {excerpt(s.iloc[bad])}")
        n = len(first_value)
        unit, scale = (("ns", 1) if n >= 18 else ("us", 1_000) if n >= 15 else ("ms", 1_000_000) if n >= 12
                       else ("s", NS))  # fmt: skip
        return values.to_numpy(dtype=np.int64) * scale, f"epoch {unit} (UTC)"
    aware = style == "dukascopy" and has_offset(first_value)
    if style == "truefx":
        formats = ["%Y%m%d %H:%M:%S.%f", "%Y%m%d %H:%M:%S"]
    elif style == "histdata":
        formats = ["%Y%m%d %H%M%S%f"]
    elif re.match(r"^\d{2}\.\d{2}\.\d{4}", first_value):
        formats = ["%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S"]
    else:
        formats = ["ISO8601"]
    ns = parse_times(origin, s, lines, formats, aware, timezone, "time")
    return ns, "explicit UTC offsets in the file" if aware else timezone


def _read(path: Path, style: str) -> tuple[dict[str, Any], np.ndarray, str | None]:
    """Columns by role (prices and volumes as float64, times as strings), their line numbers,
    and TrueFX's symbol."""
    if style == "dukascopy":
        header = "a tick header (time, bid, ask[, bid_volume, ask_volume])"
        cols, numbers, _ = read_headed(path, _header_roles, header, set(_ROLES) - {"time"})
        return cols, numbers, None
    first_line(path)
    names = ["symbol", "time", "bid", "ask"] if style == "truefx" else ["time", "bid", "ask", "volume"]
    cols, numbers = read_columns(path, names, ["bid", "ask"], 0)
    if style != "truefx":
        return cols, numbers, None
    sym = pd.Series(cols["symbol"]).astype(str)
    fail_first((sym != sym.iloc[0]).to_numpy(), path, numbers, "symbol", lambda k: f"symbol {excerpt(sym.iloc[k])} "
               f"differs from the first row's {excerpt(sym.iloc[0])} (one instrument per file)")  # fmt: skip
    return cols, numbers, str(sym.iloc[0]).strip().replace("/", "")


def _detect_style(path: Path, style: str) -> str:
    if style != "auto":
        return style
    line = (head_lines(path, 1) or [""])[0]
    detected = _style_of(line)
    if detected is None:
        raise ValueError(
            f"{path}: line 1: not an FX tick file in a known style ({', '.join(STYLES)}): {excerpt(line, 80)}; pass style=..."
        )
    return detected


def _sizes(origin: str, cols: dict, lines: np.ndarray, style: str, opt: dict[str, Any]) -> tuple:
    """Best bid/ask sizes: the file's volumes x ``volume_scale``, else ``default_size``; and their note."""
    if "bid_volume" in cols:
        scale = opt["volume_scale"]
        bid_sz, ask_sz = cols["bid_volume"] * scale, cols["ask_volume"] * scale
        for name, sz in (("bid_volume", bid_sz), ("ask_volume", ask_sz)):
            check_min(origin, sz, lines, name, "size", strict=True)
        return bid_sz, ask_sz, f"bid_volume/ask_volume x volume_scale={scale:g}"
    default_size = opt["default_size"]
    if default_size is None:
        what = "HistData's volume column is always 0" if style == "histdata" else "the file has no volume columns"
        raise ValueError(
            f"{origin}: {what}: pass default_size=<units quoted at each best price> "
            f"(option default_size is required for {style} ticks)"
        )
    note = f"default_size={default_size:g} at each best price (the file has no volumes)"
    if style == "histdata":
        note += "; HistData's volume column (always 0) is ignored"
    bid_sz = np.full(cols["bid"].shape, default_size)
    return bid_sz, bid_sz.copy(), note


def _kept_rows(origin: str, t, quotes: tuple, lines, opt: dict[str, Any], notes: dict[str, Any]) -> np.ndarray:
    """Rows kept: time order checked, crossed/locked quotes and duplicate times raised or dropped."""
    check_sorted(origin, t, lines, "time")  # before any repair, so the line is the file's own order
    kept = np.flatnonzero(crossed_rows(origin, lines, quotes, opt["crossed"], notes, "bid", "quote"))
    same = t[kept[:-1]] == t[kept[1:]]  # a kept row followed by a kept row of the same time
    if opt["duplicate_ts"] == "raise":
        fail_first(same, origin, lines[kept[1:]], "time", lambda k: f"duplicate timestamp {t[kept[k + 1]]} (also on line "
                   f"{lines[kept[k]]}); pass duplicate_ts='last' to keep the last quote of each time")  # fmt: skip
    else:
        notes["collapsed_duplicate_ts_rows"] = int(same.sum())
        kept = np.delete(kept, np.flatnonzero(same))
    if kept.size == 0:
        raise ValueError(f"{origin}: no quotes left after dropping crossed/locked rows")
    return kept


def _tick(origin: str, bid, ask, lines, tick_size: float | None, notes: dict[str, Any]) -> float:
    if tick_size is None:
        tick = increment(origin, None, np.concatenate([bid, ask]), power_of_ten=True, at_least=2)
        notes["tick_size"] = f"inferred {tick:g}: the coarsest power-of-ten grid of every bid and ask"
        return tick
    check_grid(origin, bid, tick_size, lines, "bid")
    check_grid(origin, ask, tick_size, lines, "ask")
    notes["tick_size"] = f"option tick_size={tick_size:g}"
    return tick_size


def _depth_note(opt: dict[str, Any]) -> str:
    extra, step, size = opt["extra_levels"], opt["level_step_ticks"], opt["level_size"]
    if extra == 0:
        return "1 level: L1 quotes"
    return f"best quote + {extra} assumed levels per side, {step} tick(s) apart, " + (
        f"{size:g} units each" if size is not None else "each the size of that side's best quote"
    )


def _day_rows(origin: str, t, lines, lo: int, hi: int, d: int, opt: dict[str, Any], dn: dict[str, Any]) -> tuple:
    """Rows lo..hi of day ``d`` (days since the epoch, roll-shifted) inside its session: rows, open, close."""
    sess, roll_tz, date = opt["sess"], opt["roll_timezone"], date_str(d * DAY_NS)
    sel = np.arange(lo, hi)
    if sess == "ticks":
        open_ns, close_ns = int(t[lo]), int(t[hi - 1])
        if close_ns <= open_ns:
            raise ValueError(
                f"{origin}: day {date} has quotes at a single time {open_ns} (line {lines[lo]}): no session can "
                "be formed from first/last tick; pass session='roll' or session=('HH:MM', 'HH:MM')"
            )
        dn["session"] = "first .. last tick of the day"
        return sel, open_ns, close_ns
    if sess == "roll":
        o_c = d * DAY_NS - opt["shift"] + np.array([0, DAY_NS])
        dn["session"] = f"roll to roll ({opt['roll']} {roll_tz})"
    else:
        o_c = d * DAY_NS + np.array(sess, dtype=np.int64)
        dn["session"] = f"{clock_str(o_c[0])} .. {clock_str(o_c[1])} {roll_tz} (option)"
    open_ns, close_ns = session_utc(opt["session"], o_c, roll_tz).tolist()
    out = (t[sel] < open_ns) | (t[sel] > close_ns)
    if opt["outside"] == "raise":
        fail_first(out, origin, lines[sel], "time", lambda k: f"quote at {t[sel[k]]} is outside the session "
                   f"[{open_ns}, {close_ns}] of {date}; pass outside='drop' to drop such quotes (counted in meta.notes)")  # fmt: skip
    sel = sel[~out]
    dn["dropped_outside_session_rows"] = int(out.sum())
    return sel, open_ns, close_ns


_RULES: dict[str, Any] = {
    "style": ("auto", *STYLES), "symbol": check_text,
    "tick_size": POSITIVE_OR_NONE, "lot_size": POSITIVE, "default_size": POSITIVE_OR_NONE, "volume_scale": POSITIVE,
    "extra_levels": {"low": 0, "high": 49, "integer": True},
    "level_step_ticks": {"low": 1, "high": 10_000, "integer": True}, "level_size": POSITIVE_OR_NONE,
    "crossed": ("raise", "drop"), "duplicate_ts": ("raise", "last"), "roll_timezone": lambda n, v: zone_info(n, v).key,
    "outside": ("raise", "drop"), "trades": ("none",),
}  # fmt: skip
"""The checks of :func:`load`'s options (:func:`reader.check_options`), in order."""


def load(
    path: Path,
    *,
    style: str = "auto",
    symbol: str | None = None,
    timezone: str | None = None,
    tick_size: float | None = None,
    lot_size: float = 1000.0,
    default_size: float | None = None,
    volume_scale: float = 1.0,
    extra_levels: int = 0,
    level_step_ticks: int = 1,
    level_size: float | None = None,
    crossed: str = "raise",
    duplicate_ts: str = "raise",
    roll: str = "00:00",
    roll_timezone: str = "UTC",
    session: str | Sequence[str] = "ticks",
    outside: str = "raise",
    trades: str = "none",
) -> list[MarketDay]:
    """Parse an FX tick file into one validated MarketDay per day (see the module docstring)."""
    path = Path(path)
    opt = check_options({k: v for k, v in locals().items() if k != "path"}, _RULES)
    opt["sess"] = parse_session(opt["session"], ("ticks", "roll"))  # the parsed session
    opt["shift"] = (DAY_NS - parse_clock("roll", opt["roll"], allow_24=False)) % DAY_NS
    opt["style"] = _detect_style(path, style)
    t, book, lines, notes, file_symbol = _quotes(path, opt)
    notes["trades"] = (
        "none: quote data has no trade prints and nothing is derived; resting orders fill only when the "
        "opposite quote reaches their price"
    )
    notes["day_roll"] = f"{roll} {opt['roll_timezone']}"
    days = _days(str(path), t, book, lines, opt, notes, symbol or file_symbol or path.stem.split("_")[0] or path.stem)
    if not days:
        raise ValueError(f"{path}: no quotes inside the session {session!r}")
    return days


def _quotes(path: Path, opt: dict[str, Any]) -> tuple:
    """The file's quotes lifted to a book: UTC times, book arrays (bid_px, bid_sz, ask_px, ask_sz with the
    assumed depth), their lines, the notes and TrueFX's symbol."""
    origin, style = str(path), opt["style"]
    tz = zone_info("timezone", opt["timezone"] if opt["timezone"] is not None else DEFAULT_TIMEZONE[style]).key
    cols, lines, file_symbol = _read(path, style)
    t, tz_note = _parse_times(origin, cols["time"], lines, style, tz)
    bid, ask = cols["bid"], cols["ask"]
    for name, px in (("bid", bid), ("ask", ask)):
        check_min(origin, px, lines, name, "price", strict=True)
    bid_sz, ask_sz, sizes_note = _sizes(origin, cols, lines, style, opt)
    notes: dict[str, Any] = {"format": "fx_ticks", "style": style, "timezone": tz_note, "sizes": sizes_note}
    idx = _kept_rows(origin, t, (bid, bid_sz, ask, ask_sz), lines, opt, notes)
    t, bid, ask, bid_sz, ask_sz, lines = t[idx], bid[idx], ask[idx], bid_sz[idx], ask_sz[idx], lines[idx]
    tick = _tick(origin, bid, ask, lines, opt["tick_size"], notes)
    opt["tick"] = tick
    levels, step, size = 1 + opt["extra_levels"], opt["level_step_ticks"], opt["level_size"]
    book = (*ladder(bid, bid_sz, levels, step, tick, -1, size), *ladder(ask, ask_sz, levels, step, tick, +1, size))
    notes["depth"] = _depth_note(opt)
    return t, book, lines, notes, file_symbol


def _days(origin: str, t, book: tuple, lines, opt: dict[str, Any], notes: dict[str, Any], sym: str) -> list[MarketDay]:
    """One validated day per roll-to-roll day: local date (roll_timezone) of t + (24h - roll) mod 24h."""
    day_index = (local_ns(t, opt["roll_timezone"]) + opt["shift"]) // DAY_NS
    days: list[MarketDay] = []
    for d, rows, _ in split_days(day_index):
        day_notes = dict(notes)
        sel, open_ns, close_ns = _day_rows(origin, t, lines, rows.start, rows.stop, d, opt, day_notes)
        if sel.size == 0:
            continue
        day_notes["n_quotes"] = int(sel.size)
        day_notes["max_quote_gap_s"] = float(np.diff(t[sel]).max() / NS) if sel.size > 1 else 0.0
        meta = MarketMeta(
            symbol=sym, tick_size=opt["tick"], lot_size=opt["lot_size"], session_open_ns=open_ns,
            session_close_ns=close_ns, source=origin, date=date_str(d * DAY_NS), notes=day_notes,
        )  # fmt: skip
        day = MarketDay.build(meta, (t[sel], *(a[sel] for a in book)))
        days.append(validate(day, origin=origin, book_rows=lines[sel], trade_rows=np.zeros(0, dtype=np.int64)))
    return days


# ----------------------------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------------------------


def _format_times(ns: np.ndarray, style: str) -> np.ndarray:
    """Wall-clock strings of UTC ns in the style's time zone and layout."""
    wall = local_ns(ns, DEFAULT_TIMEZONE[style]) if style == "histdata" else ns
    whole_ms = bool(np.all(wall % 1_000_000 == 0))
    if style != "dukascopy" and not whole_ms:
        raise ValueError(f"write_fx_ticks: style {style!r} has millisecond times; the data has finer times")
    unit = "ms" if whole_ms else "ns"
    iso = np.datetime_as_string(wall.view("datetime64[ns]").astype(f"datetime64[{unit}]"), unit=unit)
    s = pd.Series(iso).str.replace("T", " ", regex=False)
    if style == "dukascopy":
        return s.to_numpy()
    compact = s.str.replace("-", "", regex=False)  # 20260713 12:00:00.093
    if style == "truefx":
        return compact.to_numpy()
    return compact.str.replace(":", "", regex=False).str.replace(".", "", regex=False).to_numpy()


def write_fx_ticks(day: MarketDay, path: str | Path, style: str = "dukascopy", symbol: str | None = None) -> Path:
    """Write ``day``'s best quotes as an FX tick file in ``style`` (see the module docstring).

    Dukascopy style writes a header and the best sizes (``timestamp_utc,bid,ask,bid_volume,
    ask_volume``, times with ms or, if needed, ns digits); TrueFX (``symbol``, default the day's)
    and HistData (volume 0, times in fixed UTC-5) carry no sizes and need whole-millisecond times.
    Every row needs both a bid and an ask. Prices are written with Python's shortest exact repr,
    so reading them back gives the same floats.
    """
    check_choice("style", style, STYLES)
    path = Path(path)
    two_sided = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    bad = first(~two_sided)
    if bad >= 0:
        raise ValueError(f"write_fx_ticks: book row {bad} has an empty side; L1 tick files need a bid and an ask")
    times = _format_times(np.asarray(day.ts, dtype=np.int64), style)
    bid, ask = reprs(day.bid_px[:, 0]), reprs(day.ask_px[:, 0])
    if style == "dukascopy":
        header = "timestamp_utc,bid,ask,bid_volume,ask_volume\n"
        body = times + "," + bid + "," + ask + "," + reprs(day.bid_sz[:, 0]) + "," + reprs(day.ask_sz[:, 0])
    elif style == "truefx":
        sym = symbol or day.meta.symbol
        if len(sym) == 6 and sym.isalpha():
            sym = sym[:3] + "/" + sym[3:]
        header, body = "", sym + "," + times + "," + bid + "," + ask
    else:
        header, body = "", times + "," + bid + "," + ask + ",0"
    path.write_text(header + "\n".join(body) + "\n")
    return path

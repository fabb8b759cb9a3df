"""Databento loader: round trips (CSV, DBN), the MBO rebuild, malformed files, the real samples."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exec_env.config import ExecutionConfig
from exec_env.env import ExecutionEnv
from exec_env.market import MarketCatalogue
from exec_env.market import databento as db
from exec_env.market.facts import check_day
from exec_env.market.sources import detect_format, load_days
from exec_env.market.synthetic import SyntheticParams, generate_day

ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")
T0 = 1_715_126_400_000_000_000  # 2024-05-08T00:00:00Z


@pytest.fixture(scope="module")
def synth():
    return generate_day(SyntheticParams(session_seconds=120.0), seed=3, day_index=0)


def _session(day):
    return {"session_open": day.meta.session_open_ns, "session_close": day.meta.session_close_ns}


def assert_same_arrays(a, b, levels=None):
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if levels is not None and y.ndim == 2:
            y = y[:, :levels]
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=True), name


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("day.csv", {}),
        ("day_fixed.csv", {"pretty_px": False, "pretty_ts": False}),
        ("day.dbn", {}),
        ("day.dbn.zst", {}),
        ("day_mbp1.dbn.zst", {"schema": "mbp-1"}),
    ],
)
def test_round_trip_of_a_synthetic_day(tmp_path, synth, name, kwargs):
    path = db.write_databento(synth, tmp_path / name, **kwargs)
    assert db.sniff(path) and detect_format(path) == "databento"
    (day,) = db.load(path, **_session(synth))
    levels = 1 if kwargs.get("schema") == "mbp-1" else None
    assert_same_arrays(day, synth, levels)
    m, s = day.meta, synth.meta
    assert (m.symbol, m.tick_size, m.lot_size, m.session_open_ns, m.session_close_ns, m.date) == (
        s.symbol,
        s.tick_size,
        s.lot_size,
        s.session_open_ns,
        s.session_close_ns,
        s.date,
    )
    assert m.notes["price_format" if name.endswith(".csv") else "dataset"] == (
        "fixed" if "fixed" in name else "decimal" if name.endswith(".csv") else "EXEC_ENV.SYNTH"
    )
    assert day.venue is None and m.notes["publisher_ids"] == [1]


def test_written_dbn_decodes_with_databento_dbn_itself(tmp_path, synth):
    import databento_dbn

    path = db.write_databento(synth, tmp_path / "day.dbn")
    decoder = databento_dbn.DBNDecoder()
    decoder.write(path.read_bytes())
    records = decoder.decode()
    meta, recs = records[0], records[1:]
    assert meta.dataset == "EXEC_ENV.SYNTH" and len(recs) == synth.n_books + synth.n_trades
    trades = [r for r in recs if r.action == "T"]
    assert [r.ts_recv for r in trades] == synth.trade_ts.tolist()
    assert [r.price / 1e9 for r in trades] == synth.trade_px.tolist()
    first_book = next(r for r in recs if r.action == "N")
    assert first_book.bid_px_00 / 1e9 == synth.bid_px[0, 0] and first_book.ask_sz_00 == synth.ask_sz[0, 0]


def test_dbn_with_other_record_types_between_and_zstd_csv(tmp_path, synth):
    import zstandard

    plain = db.write_databento(synth, tmp_path / "p.dbn").read_bytes()
    start = 8 + int.from_bytes(plain[4:8], "little")
    size = plain[start] * 4
    other = bytes([4, 23]) + bytes(14)  # a 16-byte record of rtype 23 (system message)
    mixed = plain[:start] + plain[start : start + 2 * size] + other + plain[start + 2 * size :]
    (tmp_path / "m.dbn").write_bytes(mixed)
    (day,) = db.load(tmp_path / "m.dbn", **_session(synth))
    assert_same_arrays(day, synth)
    assert day.meta.notes["excluded_records"] == {"rtype 23": 1}
    csv = db.write_databento(synth, tmp_path / "c.csv")
    (tmp_path / "c.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(csv.read_bytes()))
    assert db.sniff(tmp_path / "c.csv.zst")
    assert_same_arrays(db.load(tmp_path / "c.csv.zst", clock="ts_event", **_session(synth))[0], synth)


def test_dbn_of_one_record_length_with_another_rtype_between(tmp_path, synth):
    """Every record has one length, one of them another rtype: it is excluded, the others read as they are."""
    plain = db.write_databento(synth, tmp_path / "p.dbn").read_bytes()
    start = 8 + int.from_bytes(plain[4:8], "little")
    size = plain[start] * 4
    other = bytes([plain[start], 23]) + bytes(size - 2)  # a record of rtype 23 (system message), as long
    mixed = plain[: start + 2 * size] + other + plain[start + 2 * size :]
    (tmp_path / "m.dbn").write_bytes(mixed)
    (day,) = db.load(tmp_path / "m.dbn", **_session(synth))
    assert_same_arrays(day, synth)
    assert day.meta.notes["excluded_records"] == {"rtype 23": 1}


def test_clock_ts_event_on_a_file_without_it_names_the_column(tmp_path, synth):
    frame = pd.read_csv(db.write_databento(synth, tmp_path / "x.csv"), dtype=str, keep_default_na=False)
    frame.drop(columns="ts_event").to_csv(tmp_path / "y.csv", index=False)
    header = ", ".join(c for c in frame.columns if c != "ts_event")
    with pytest.raises(ValueError) as err:
        db.load(tmp_path / "y.csv", clock="ts_event")
    assert str(err.value) == (
        f"{tmp_path / 'y.csv'}: line 1, field 'ts_event': missing column (clock='ts_event'); the header has "
        f"{header[:120]!r}"[:-1]
        + f"...' ({len(header):,} characters)"
    )
    (day,) = db.load(tmp_path / "y.csv", **_session(synth))  # the default clock, ts_recv, is there
    assert_same_arrays(day, synth)


def test_missing_databento_dbn_names_the_extra(tmp_path, synth, monkeypatch):
    path = db.write_databento(synth, tmp_path / "x.dbn")
    monkeypatch.setitem(sys.modules, "databento_dbn", None)
    with pytest.raises(ImportError, match=r"pip install 'exec_env\[databento\]'"):
        db.load(path)


def test_csv_and_dbn_of_the_same_data_load_identically(tmp_path, synth):
    a = db.load(db.write_databento(synth, tmp_path / "x.csv"))[0]
    b = db.load(db.write_databento(synth, tmp_path / "x.dbn.zst"))[0]
    assert_same_arrays(a, b)
    # Default session: first and last record time.
    assert a.meta.session_open_ns == min(synth.ts[0], synth.trade_ts[0])
    assert a.meta.session_close_ns == max(synth.ts[-1], synth.trade_ts[-1])


def test_multi_publisher_rows_keep_their_venue(tmp_path, synth):
    venue = np.where(np.arange(synth.n_books) % 3 == 0, 2, 1).astype(np.int16)
    day = dataclasses.replace(synth, venue=venue)
    for name in ("v.csv", "v.dbn"):
        (out,) = db.load(db.write_databento(day, tmp_path / name), **_session(synth))
        assert out.venue is not None and out.venue.dtype == np.int16
        assert np.array_equal(out.venue, venue)
        assert out.meta.notes["publisher_ids"] == [1, 2]
        (one,) = db.load(tmp_path / name, publisher_id=2, **_session(synth))
        assert one.n_books == int((venue == 2).sum()) and one.n_trades == 0 and one.venue is None


def _two_instruments(tmp_path, synth) -> Path:
    other = dataclasses.replace(synth, meta=dataclasses.replace(synth.meta, symbol="OTHER"))
    a = pd.read_csv(db.write_databento(synth, tmp_path / "a.csv", instrument_id=7), dtype=str, keep_default_na=False)
    b = pd.read_csv(db.write_databento(other, tmp_path / "b.csv", instrument_id=9), dtype=str, keep_default_na=False)
    both = pd.concat([a, b]).sort_values("ts_recv", kind="stable")
    path = tmp_path / "both.csv"
    both.to_csv(path, index=False)
    return path


def test_several_instruments_need_a_selection(tmp_path, synth):
    path = _two_instruments(tmp_path, synth)
    with pytest.raises(
        ValueError,
        match=r"both.csv: line \d+, field 'instrument_id': 2 instruments in the file \(7 \(SYNTH\), 9 \(OTHER\)\); pass instrument_id= or symbol= to pick one",
    ):
        db.load(path)
    (by_id,) = db.load(path, instrument_id=9, **_session(synth))
    (by_symbol,) = db.load(path, symbol="OTHER", **_session(synth))
    assert_same_arrays(by_id, synth)
    assert_same_arrays(by_symbol, synth)
    assert by_symbol.meta.symbol == "OTHER" and by_symbol.meta.notes["other_instrument_records"] > 0
    with pytest.raises(
        ValueError,
        match=r"both.csv: line 2, field 'symbol': option symbol='NOPE' matches none of the file's instruments \(7 \(SYNTH\), 9 \(OTHER\)\)",
    ):
        db.load(path, symbol="NOPE")


def test_bad_option_values_name_the_option_and_the_allowed_values(tmp_path, synth):
    path = db.write_databento(synth, tmp_path / "d.csv")
    for kwargs, text in (
        ({"crossed": "fix"}, "crossed='fix' is invalid; allowed: one of 'raise', 'drop'"),
        ({"clock": "now"}, "clock='now' is invalid; allowed: one of 'ts_recv', 'ts_event'"),
        ({"levels": 0}, "levels=0 is invalid; allowed: an integer >= 1 and <= 50 or None"),
        ({"levels": 11}, "levels=11 is invalid; allowed: None or 1..10 (the file's mbp-10 depth)"),
        ({"tick_size": -1.0}, "tick_size=-1.0 is invalid; allowed: a finite number > 0 or None"),
        ({"session_open": "yesterday-ish"}, "session_open='yesterday-ish' is invalid; allowed: an ISO-8601 time "
         "string (naive = UTC) or int ns since the epoch, or None"),
        ({"price_format": "hex"}, "price_format='hex' is invalid; allowed: one of 'auto', 'decimal', 'fixed'"),
        ({"trades": "both"}, "trades='both' is invalid; allowed: one of 'auto', 'records'"),
        ({"session": "day"}, "session='day' is invalid; allowed: one of 'calendar', 'records'"),
    ):  # fmt: skip
        with pytest.raises(ValueError) as err:
            db.load(path, **kwargs)
        assert str(err.value) == f"option {text}"


def test_session_options_accept_iso_strings(tmp_path, synth):
    (day,) = db.load(
        db.write_databento(synth, tmp_path / "d.csv"),
        session_open="2024-01-02T14:30:00Z",
        session_close="2024-01-02 15:00",  # naive: UTC
        tick_size=0.01,
        levels=3,
    )
    assert day.meta.session_open_ns == pd.Timestamp("2024-01-02T14:30Z").value
    assert day.meta.session_close_ns == pd.Timestamp("2024-01-02T15:00Z").value
    assert day.levels == 3 and day.meta.notes["session"] == "options" and "tick_size" not in day.meta.notes


def moved(day, start: str, symbol: str = "ESU4"):
    """``day`` moved to open at UTC time ``start``, as instrument ``symbol``."""
    shift = int(pd.Timestamp(start, tz="UTC").value) - day.meta.session_open_ns
    m = dataclasses.replace(day.meta, symbol=symbol, session_open_ns=day.meta.session_open_ns + shift,
                            session_close_ns=day.meta.session_close_ns + shift)  # fmt: skip
    return dataclasses.replace(day, meta=m, ts=day.ts + shift, trade_ts=day.trade_ts + shift)


def test_a_cme_session_starts_at_the_reopen_by_the_calendar(tmp_path, synth):
    """CME Globex equity index futures reopen Sunday 17:00 Chicago (22:00 UTC in July): a Sunday file whose
    data starts before that opens at the reopen; its earlier rows stay the initial book."""
    path = db.write_databento(moved(synth, "2024-07-07 21:59"), tmp_path / "ESU4_glbx-mdp3_mbp-10.csv")
    (day,) = db.load(path, tick_size=0.01)
    reopen = int(pd.Timestamp("2024-07-07 22:00", tz="UTC").value)
    assert (day.meta.session_open_ns, day.meta.session_close_ns) == (reopen, int(day.ts[-1]))
    assert day.ts[0] < reopen and day.halts is None
    assert day.meta.notes["calendar"] == "cme_equity_index"
    assert day.meta.notes["session"] == (
        "first/last record time inside the hours of CME Globex equity index futures (Sun-Fri 17:00-16:00 "
        "America/Chicago, daily halt 16:00-17:00; calendar)"
    )
    assert check_day(day) == []
    (raw,) = db.load(path, tick_size=0.01, session="records")
    assert raw.meta.session_open_ns == raw.ts[0] and raw.meta.notes["session"] == "first/last record time"
    assert check_day(raw) == [
        f"{path} (2024-07-07): the declared session (2024-07-07 21:59:00 to {str(pd.Timestamp(int(raw.ts[-1])))[:19]} UTC) "
        "includes 1 min outside the regular hours of the venue (CME Globex equity index futures: Sun-Fri 17:00-16:00 "
        "America/Chicago, daily halt 16:00-17:00), e.g. 2024-07-07 21:59:00 to 2024-07-07 22:00:00 UTC: the market "
        "is halted or closed (pre-open orders may change the book, nothing trades); episodes could start in a "
        "frozen book there: narrow the session"
    ]  # fmt: skip


def test_the_daily_cme_halt_inside_a_file_becomes_a_trading_halt(tmp_path):
    day = moved(generate_day(SyntheticParams(session_seconds=3720.0), seed=4), "2024-07-08 20:59")  # a Monday
    path = db.write_databento(day, tmp_path / "x.dbn", schema="mbp-1", dataset="GLBX.MDP3")
    (loaded,) = db.load(path, tick_size=0.01)
    halt = [int(pd.Timestamp(t, tz="UTC").value) for t in ("2024-07-08 21:00", "2024-07-08 22:00")]
    assert loaded.halts.tolist() == [halt]
    assert (loaded.meta.session_open_ns, loaded.meta.session_close_ns) == (day.ts[0], day.ts[-1])
    assert check_day(loaded) == [
        f"{path} (2024-07-08): trading halts cover 1.0 h of the declared session (e.g. 2024-07-08 21:00:00 to "
        "2024-07-08 22:00:00 UTC, when the venue is closed by its calendar (CME Globex equity index futures: Sun-Fri "
        "17:00-16:00 America/Chicago, daily halt 16:00-17:00)): nothing fills there, but an episode can start in one "
        "and wait for the reopen"
    ]
    # another CME product keeps other hours: no calendar is assumed
    zn = db.write_databento(moved(day, "2024-07-08 20:59", "ZNU4"), tmp_path / "zn.dbn", dataset="GLBX.MDP3")
    (other,) = db.load(zn, tick_size=0.01)
    assert "calendar" not in other.meta.notes and other.halts is None and other.meta.session_open_ns == day.ts[0]


def test_cache_gives_identical_arrays(tmp_path, synth):
    path = db.write_databento(synth, tmp_path / "c.dbn.zst")
    first = load_days(path, cache_dir=tmp_path / "cache")
    second = load_days(path, cache_dir=tmp_path / "cache")
    assert len(first) == len(second) == 1
    assert_same_arrays(first[0], second[0])
    assert first[0].meta == second[0].meta


# -- MBO rebuild ---------------------------------------------------------------------------------
MBO_HEADER = "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,price,size,channel_id,order_id,flags,ts_in_delta,sequence,symbol"


def write_mbo(path: Path, records: list[tuple]) -> Path:
    """``records``: (t_us, action, side, price or None, size, order_id, flags)."""
    lines = [MBO_HEADER]
    for k, (t, action, side, price, size, oid, flags) in enumerate(records):
        ts = T0 + t * 1000
        px = "" if price is None else f"{price:.9f}"
        lines.append(f"{ts},{ts},160,1,5602,{action},{side},{px},{size},0,{oid},{flags},0,{k},ESM4")
    path.write_text("\n".join(lines) + "\n")
    return path


SNAP, LAST, LIVE = 40, 168, 130
MBO_EVENTS = [
    (0, "R", "N", None, 0, 0, SNAP),
    (0, "A", "B", 100.00, 5, 1, SNAP),
    (0, "A", "B", 99.75, 3, 2, SNAP),
    (0, "A", "A", 100.25, 4, 3, LAST),  # row 1 (end of the snapshot)
    (1, "A", "A", 100.25, 2, 4, LIVE),  # row 2
    (2, "T", "B", 100.25, 3, 9, 0),  # buyer-initiated trade ...
    (2, "F", "A", 100.25, 3, 3, 0),  # ... the resting side: not a second trade
    (2, "C", "A", 100.25, 3, 3, LIVE),  # row 3: the fill removes size
    (3, "M", "B", 100.00, 1, 2, LIVE),  # row 4: order 2 moves to 100.00 with size 1
    (4, "C", "B", 100.00, 5, 1, 0),  # an event of two records: never half applied
    (4, "A", "B", 99.50, 7, 5, LIVE),  # row 5
    (5, "T", "A", 100.00, 1, 8, 0),  # seller-initiated
    (5, "F", "B", 100.00, 1, 2, 0),
    (5, "C", "B", 100.00, 1, 2, LIVE),  # row 6
    (6, "T", "N", 99.50, 1, 0, db.F_LAST),  # row 7: side unknown, an event of one trade
    (7, "A", "A", 101.00, 1, 6, 0),  # after the last F_LAST: never a row
]


def test_mbo_rebuild_hand_computed(tmp_path):
    (day,) = db.load(write_mbo(tmp_path / "x.mbo.csv", MBO_EVENTS), levels=2)
    us = 1000
    assert day.ts.tolist() == [T0, T0 + us, T0 + 2 * us, T0 + 3 * us, T0 + 4 * us, T0 + 5 * us, T0 + 6 * us]
    nan = np.nan
    bids = [
        [(100.00, 5), (99.75, 3)],
        [(100.00, 5), (99.75, 3)],
        [(100.00, 5), (99.75, 3)],
        [(100.00, 6), (nan, 0)],
        [(100.00, 1), (99.50, 7)],
        [(99.50, 7), (nan, 0)],
        [(99.50, 7), (nan, 0)],
    ]
    asks = [
        [(100.25, 4), (nan, 0)],
        [(100.25, 6), (nan, 0)],
        [(100.25, 3), (nan, 0)],
        [(100.25, 3), (nan, 0)],
        [(100.25, 3), (nan, 0)],
        [(100.25, 3), (nan, 0)],
        [(100.25, 3), (nan, 0)],
    ]
    assert np.array_equal(day.bid_px, np.array([[p for p, _ in r] for r in bids]), equal_nan=True)
    assert day.bid_sz.tolist() == [[float(s) for _, s in r] for r in bids]
    assert np.array_equal(day.ask_px, np.array([[p for p, _ in r] for r in asks]), equal_nan=True)
    assert day.ask_sz.tolist() == [[float(s) for _, s in r] for r in asks]
    assert day.trade_ts.tolist() == [T0 + 2 * us, T0 + 5 * us, T0 + 6 * us]
    assert day.trade_px.tolist() == [100.25, 100.00, 99.50]
    assert day.trade_sz.tolist() == [3.0, 1.0, 1.0]
    assert day.trade_side.tolist() == [1, -1, 0]
    n = day.meta.notes
    assert (n["fill_records"], n["fill_volume"], n["trade_volume"]) == (2, 4, 5)
    assert n["records_after_last_F_LAST"] == 1 and n["snapshot_records"] == 4
    assert n["orders_resting_at_end"] == {"1": 4}
    assert day.meta.tick_size == 0.25 and day.meta.symbol == "ESM4" and day.meta.date == "2024-05-08"


def test_mbo_clear_empties_the_book(tmp_path):
    events = [*MBO_EVENTS[:4], (1, "R", "N", None, 0, 0, LAST), (2, "A", "B", 99.0, 2, 7, LAST)]
    (day,) = db.load(write_mbo(tmp_path / "r.csv", events), levels=2)
    assert day.bid_sz.tolist() == [[5.0, 3.0], [0.0, 0.0], [2.0, 0.0]]
    assert day.ask_sz.tolist() == [[4.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_mbo_clear_forgets_the_orders_and_their_fills(tmp_path):
    """After a Clear an order id may be added again, an id from before it is unknown, and a Fill
    from before it no longer reduces a cancel (it was the book side of a trade of the old book)."""
    before = [*MBO_EVENTS[:4], (1, "F", "B", 100.00, 2, 1, 0), (1, "R", "N", None, 0, 0, 0)]
    again = [(1, "A", "B", 100.00, 5, 1, LIVE), (2, "C", "B", 100.00, 5, 1, LIVE)]
    (day,) = db.load(write_mbo(tmp_path / "again.csv", before + again), levels=1)
    assert day.bid_sz.tolist() == [[5.0], [5.0], [0.0]]
    assert (day.cancel_ts.tolist(), day.cancel_sz.tolist()) == ([T0 + 2000], [5.0])
    assert day.cancel_entry_ts.tolist() == [T0 + 1000]
    assert day.meta.notes["orders_resting_at_end"] == {"1": 0}
    unknown = [*before, (2, "C", "B", 99.75, 3, 2, LIVE)]
    with pytest.raises(ValueError, match=r"line 8.*cancel \(C\) of unknown order id 2"):
        db.load(write_mbo(tmp_path / "unknown.csv", unknown), levels=1)


@pytest.mark.parametrize(
    "bad, field, text",
    [
        ((1, "C", "B", 100.00, 1, 77, LIVE), "order_id",
         "cancel (C) of unknown order id 77 (no Add since the last Clear/snapshot)"),
        ((1, "M", "B", 100.00, 1, 77, LIVE), "order_id",
         "modify (M) of unknown order id 77 (no Add since the last Clear/snapshot)"),
        ((1, "A", "B", 99.00, 1, 1, LIVE), "order_id", "add (A) of order id 1, which is already resting"),
        ((1, "C", "B", 100.00, 9, 1, LIVE), "size", "cancel of 9 from order 1, which rests with size 5"),
        ((1, "C", "A", 100.00, 1, 1, LIVE), "side", "C record on side A for order 1 resting on side B"),
        ((1, "C", "B", 99.00, 1, 1, LIVE), "price", "cancel at price 99.0 for order 1 resting at 100.0"),
        ((1, "A", "N", 99.00, 1, 8, LIVE), "side", "A record with side N: an order rests on side B or A"),
        ((1, "A", "B", None, 1, 8, LIVE), "price", "A record without a price (UNDEF_PRICE)"),
        ((1, "A", "B", 99.00, 1, 8, LIVE | db.F_TOB), "flags",
         "top-of-book MBO (F_TOB) is not supported: load the venue's MBP-1 data instead"),
    ],
)  # fmt: skip
def test_mbo_inconsistencies_raise_naming_file_row_and_field(tmp_path, bad, field, text):
    path = write_mbo(tmp_path / "bad.csv", [*MBO_EVENTS[:4], bad])
    with pytest.raises(ValueError) as err:
        db.load(path)
    assert str(err.value) == f"{path}: line 6, field '{field}': {text}"


# -- malformed CSV -------------------------------------------------------------------------------
@pytest.fixture()
def csv_lines(tmp_path, synth):
    path = db.write_databento(synth, tmp_path / "m.csv")
    return path, path.read_text().splitlines()


def _book_line(lines: list[str], start: int = 5) -> int:
    """Index of the first book (action N) line at or after ``start``."""
    return next(i for i in range(start, len(lines)) if lines[i].split(",")[5] == "N")


def _edit(path: Path, lines: list[str], i: int, column: str, value: str) -> Path:
    header = lines[0].split(",")
    fields = lines[i].split(",")
    fields[header.index(column)] = value
    out = [*lines]
    out[i] = ",".join(fields)
    path.write_text("\n".join(out) + "\n")
    return path


def _raises(path: Path, line: int, field: str, text: str, **kwargs) -> None:
    with pytest.raises(ValueError) as err:
        db.load(path, **kwargs)
    assert str(err.value) == f"{path}: line {line}, field '{field}': {text}"


def test_wrong_column_count(csv_lines):
    path, lines = csv_lines
    n = len(lines[0].split(","))
    path.write_text("\n".join([*lines[:6], lines[6] + ",1", *lines[7:]]) + "\n")
    _raises(
        path, 7, "symbol", f"wrong column count: {n + 1} fields, expected {n}; 'symbol' is followed by extra fields"
    )
    path.write_text("\n".join([*lines[:4], lines[4].rsplit(",", 1)[0], *lines[5:]]) + "\n")
    _raises(path, 5, "symbol", f"wrong column count: {n - 1} fields, expected {n}; 'symbol' is missing")


def test_an_unclosed_quote_names_its_line_and_field(csv_lines):
    path, lines = csv_lines
    lines = [*lines]
    lines[2] = lines[2].replace(",SYNTH", ',"SYNTH"')  # a quoted field that closes is fine
    _edit(path, lines, 5, "side", '"' + lines[5].split(",")[6])
    _raises(path, 6, "side", "a quote character opens a quoted field that does not close on its line")


def test_header_names_quoted_across_commas_or_repeated(csv_lines):
    """Found by the fuzz test at FUZZ_SCALE=10: two quoted names in the header joined the names
    between them (the CSV parser read fewer names than the line has), a raw KeyError before."""
    path, lines = csv_lines
    header = lines[0].split(",")
    n = len(header)
    quoted = [f'"{h}' if h in ("bid_px_01", "bid_sz_02") else h for h in header]
    path.write_text("\n".join([",".join(quoted), *lines[1:]]) + "\n")
    _raises(path, 1, '"bid_px_01', f"a quoted column name; the header reads as {n - 8} names, not {n}")
    repeated = ["flags" if h == "sequence" else h for h in header]  # the parser would read the first 'flags'
    path.write_text("\n".join([",".join(repeated), *lines[1:]]) + "\n")
    _raises(path, 1, "flags", "column appears more than once in the header")
    # an extra unnamed column (a trailing comma on every line) is no quote: it loads as before
    plain = path.with_name("plain.csv")
    plain.write_text("\n".join(lines) + "\n")
    path.write_text("\n".join(line + "," for line in lines) + "\n")
    a, b = db.load(path)[0], db.load(plain)[0]
    assert a.n_books == b.n_books > 0 and np.array_equal(a.bid_px, b.bid_px, equal_nan=True)


def test_unparsable_values(csv_lines):
    path, lines = csv_lines
    i = _book_line(lines)
    _raises(_edit(path, lines, i, "bid_px_00", "100.2x"), i + 1, "bid_px_00", "unparsable number '100.2x'")
    _raises(_edit(path, lines, i, "ask_sz_03", "7.5"), i + 1, "ask_sz_03", "not an integer: '7.5'")
    _raises(_edit(path, lines, i, "ts_recv", "2024-13-45T00:00:00Z"), i + 1, "ts_recv",
            "unparsable timestamp '2024-13-45T00:00:00Z'")  # fmt: skip
    _raises(_edit(path, lines, i, "action", "X"), i + 1, "action", "'X' is not one of A, C, M, R, T, F, N")


def test_unsorted_ts_recv(csv_lines):
    path, lines = csv_lines
    i = _book_line(lines, 20)
    earlier, previous = (int(pd.Timestamp(lines[k].split(",")[0]).value) for k in (2, i - 1))
    _raises(_edit(path, lines, i, "ts_recv", lines[2].split(",")[0]), i + 1, "ts_recv",
            f"time {earlier} is before the previous line's {previous} (Databento files are sorted by ts_recv)")  # fmt: skip


def test_crossed_row_raises_or_is_dropped_with_a_count(csv_lines):
    path, lines = csv_lines
    i = _book_line(lines)
    ask = lines[i].split(",")[lines[0].split(",").index("ask_px_00")]
    _edit(path, lines, i, "bid_px_00", ask)
    _raises(path, i + 1, "bid_px_00", f"locked book: best bid {float(ask)} == best ask {float(ask)}; pass "
            "crossed='drop' to drop crossed and locked rows (counted in notes)", crossed="raise")  # fmt: skip
    (day,) = db.load(path, crossed="drop")
    assert day.meta.notes["dropped_crossed_rows"] == 0 and day.meta.notes["dropped_locked_rows"] == 1
    assert day.n_books == len([x for x in lines[1:] if x.split(",")[5] == "N"]) - 1


def test_negative_size(csv_lines):
    path, lines = csv_lines
    i = _book_line(lines)
    _raises(_edit(path, lines, i, "bid_sz_00", "-5"), i + 1, "bid_sz_00", "size must be finite and >= 0, got -5")


def test_level_size_without_a_price(csv_lines):
    path, lines = csv_lines
    i = _book_line(lines)
    size = lines[i].split(",")[lines[0].split(",").index("ask_sz_02")]
    _raises(_edit(path, lines, i, "ask_px_02", ""), i + 1, "ask_px_02", f"a level of size {size} has no price")


def test_dbn_errors_name_the_record(tmp_path, synth):
    """A binary file has no lines: errors name its 1-based record."""
    path = db.write_databento(synth, tmp_path / "x.dbn")
    data = bytearray(path.read_bytes())
    meta_end = 8 + int.from_bytes(data[4:8], "little")
    size = data[meta_end] * 4  # every record has one length
    import databento_dbn

    action = meta_end + 2 * size + np.dtype(databento_dbn.MBP10Msg._dtypes).fields["action"][1]  # record 3's
    assert data[action] in b"NT"
    data[action] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        db.load(path)
    assert str(err.value) == f"{path}: record 3, field 'action': b'X' is not one of A, C, M, R, T, F, N"


def test_trades_file_alone_is_not_a_day_and_a_differing_companion_raises(tmp_path, synth):
    book = db.write_databento(synth, tmp_path / "X_mbp-10_2024.csv")
    trades_path = tmp_path / "X_trades_2024.csv"
    frame = pd.read_csv(book, dtype=str, keep_default_na=False)
    cols = ["ts_recv", "ts_event", "rtype", "publisher_id", "instrument_id", "action", "side", "depth", "price",
            "size", "flags", "ts_in_delta", "sequence", "symbol"]  # fmt: skip
    trades = frame.loc[frame["action"] == "T", cols].assign(rtype="0")
    trades.to_csv(trades_path, index=False)
    assert db.companions(book) == [trades_path]
    with pytest.raises(ValueError, match="a Databento 'trades' file holds no order book"):
        db.load(trades_path)
    (day,) = db.load(book, **_session(synth))
    assert day.meta.notes["trades_checked_against"] == trades_path.name
    got = db.read_trades(trades_path)
    assert np.array_equal(got["trade_ts"], synth.trade_ts) and np.array_equal(got["trade_side"], synth.trade_side)
    trades.iloc[:-1].to_csv(trades_path, index=False)
    with pytest.raises(ValueError, match=r"differ from the .* trades file beside it"):
        db.load(book)
    assert db.load(book, trades="records", **_session(synth))[0].n_trades == synth.n_trades


def test_sniff_rejects_other_files(tmp_path):
    (tmp_path / "lob.csv").write_text("34200.1,1,1,100,5000000,1\n")
    (tmp_path / "junk.bin").write_bytes(b"\x00\x01garbage")
    assert not db.sniff(tmp_path / "lob.csv") and not db.sniff(tmp_path / "junk.bin")


# -- the real samples ----------------------------------------------------------------------------
ESU4_CSV = "ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv"
ESU4_DBN = "futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
ESU4_TRADES = ("ESU4_glbx-mdp3_trades_2024-07-01T23-58_2024-07-02T00-02.csv",
               "futures_trades_2024-07-01T23-58_2024-07-02T00-02.dbn.zst")  # fmt: skip
ESM4_MBO = "ESM4_glbx-mdp3_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.csv"
ESH4_MBO = "esh4-glbx-mdp3-20231224.mbo.dbn.zst"


def run_episodes(day, horizon_s: float, interval_s: float, quantity: float) -> None:
    """One TWAP and one random episode; the return is minus the shortfall."""
    from exec_env.baselines import TWAP

    for policy in ("twap", "random"):
        env = ExecutionEnv(
            ExecutionConfig(
                market=MarketCatalogue([day]),
                horizon_s=horizon_s,
                decision_interval_s=interval_s,
                warmup_s=0,
                quantity=quantity,
                side="buy",
            )
        )
        obs, info = env.reset(seed=0)
        env.action_space.seed(0)
        total, done, steps = 0.0, False, 0
        while not done:
            action = TWAP().predict(obs)[0] if policy == "twap" else env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            total += reward
            steps += 1
            done = terminated or truncated
        assert steps == round(horizon_s / interval_s)
        assert total == pytest.approx(-info["execution"]["shortfall_bps"], abs=1e-9)
        assert info["execution"]["fill_rate"] == pytest.approx(1.0)


def test_esu4_mbp1_csv_and_dbn_are_identical(shared_data):
    folder = shared_data / "databento"
    (csv,) = db.load(folder / ESU4_CSV)
    (dbn,) = db.load(folder / ESU4_DBN)
    assert_same_arrays(csv, dbn)
    for day in (csv, dbn):
        assert (day.n_books, day.n_trades, day.levels) == (2168, 120, 1)
        assert day.ts[0] == 1719878281218493289 and day.ts[-1] == 1719878519824434324  # raw lines 3 and 2289
        assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (5528.5, 29, 5528.75, 4)
        assert day.trade_ts[0] == 1719878281218485389 and day.trade_ts[-1] == 1719878512813670786
        assert (day.trade_px[0], day.trade_sz[0], day.trade_side[0]) == (5528.75, 2.0, 1)
        assert (day.trade_px[-1], day.trade_sz[-1], day.trade_side[-1]) == (5529.25, 1.0, -1)
        m = day.meta
        assert (m.symbol, m.tick_size, m.date, m.session_open_ns, m.session_close_ns) == (
            "ESU4",
            0.25,
            "2024-07-02",
            1719878281218485389,
            1719878519824434324,
        )
        assert m.notes["snapshot_records"] == 1 and m.notes["records"] == 2288
        assert m.notes["trades_checked_against"] in ESU4_TRADES
    assert dbn.meta.notes["dataset"] == "GLBX.MDP3" and csv.meta.notes["price_format"] == "decimal"
    run_episodes(csv, horizon_s=120.0, interval_s=10.0, quantity=10.0)


def test_esu4_trades_csv_and_dbn(shared_data):
    folder = shared_data / "databento"
    csv, dbn = (db.read_trades(folder / name) for name in ESU4_TRADES)
    for key in ("trade_ts", "trade_px", "trade_sz", "trade_side"):
        assert np.array_equal(csv[key], dbn[key]), key
    assert csv["trade_ts"].size == 120 and csv["rows"][0] == 2 and dbn["rows"][-1] == 120
    assert csv["trade_ts"][0] == 1719878281218485389 and csv["trade_ts"][-1] == 1719878512813670786
    assert csv["trade_sz"].sum() == 253 and (csv["trade_side"] == 1).sum() == 66
    for name in ESU4_TRADES:
        with pytest.raises(ValueError, match="holds no order book"):
            db.load(folder / name)


def _reference_rebuild(path: Path, levels: int) -> tuple[list, list]:
    """A plain-Python L2 rebuild of a single-publisher MBO CSV, emitting at F_LAST."""
    frame = pd.read_csv(path, dtype={"price": str})
    orders: dict[int, tuple[str, float, int]] = {}
    ts, rows = [], []
    for rec in frame.itertuples(index=False):
        if rec.action == "A":
            orders[rec.order_id] = (rec.side, float(rec.price), rec.size)
        elif rec.action == "C":
            side, px, sz = orders[rec.order_id]
            orders[rec.order_id] = (side, px, sz - rec.size)
        elif rec.action == "M":
            orders[rec.order_id] = (rec.side, float(rec.price), rec.size)
        elif rec.action == "R":
            orders.clear()
        if rec.flags & 0x80:
            agg: dict[tuple[str, float], int] = {}
            for side, px, sz in orders.values():
                agg[(side, px)] = agg.get((side, px), 0) + sz
            bids = sorted(((p, s) for (sd, p), s in agg.items() if sd == "B" and s > 0), reverse=True)[:levels]
            asks = sorted((p, s) for (sd, p), s in agg.items() if sd == "A" and s > 0)[:levels]
            ts.append(pd.Timestamp(rec.ts_recv).value)
            rows.append((bids, asks))
    return ts, rows


def test_esm4_mbo_csv(shared_data):
    path = shared_data / "databento" / ESM4_MBO
    (day,) = db.load(path)
    assert (day.n_books, day.n_trades, day.levels) == (185, 5, 10)
    assert day.ts[0] == 1715126400000000000 and day.ts[-1] == 1715126401995697728  # raw lines 13602, 13797
    assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (5214.0, 26, 5214.25, 24)
    assert day.trade_ts[0] == 1715126401489262273 and day.trade_ts[-1] == 1715126401489962539
    assert day.trade_px.tolist() == [5214.25] * 5 and day.trade_sz.tolist() == [1, 1, 1, 1, 2]
    assert day.trade_side.tolist() == [1] * 5
    n = day.meta.notes
    assert (n["fill_records"], n["fill_volume"], n["trade_volume"]) == (5, 6, 6)
    assert n["records_by_action"] == {"A": 13678, "C": 80, "F": 5, "M": 27, "R": 1, "T": 5}
    assert day.meta.tick_size == 0.25 and day.meta.symbol == "ESM4"
    ref_ts, ref_rows = _reference_rebuild(path, 10)
    assert day.ts.tolist() == ref_ts
    for k, (bids, asks) in enumerate(ref_rows):
        nb, na = len(bids), len(asks)
        assert day.bid_px[k, :nb].tolist() == [p for p, _ in bids]
        assert day.bid_sz[k, :nb].tolist() == [s for _, s in bids]
        assert day.ask_px[k, :na].tolist() == [p for p, _ in asks]
        assert day.ask_sz[k, :na].tolist() == [s for _, s in asks]
    # Two seconds of data: a 1 s horizon with 0.1 s decisions.
    run_episodes(day, horizon_s=1.0, interval_s=0.1, quantity=5.0)


def test_esh4_mbo_dbn_is_one_snapshot(shared_data):
    (day,) = db.load(shared_data / "databento" / ESH4_MBO)
    assert (day.n_books, day.n_trades, day.levels) == (1, 0, 10)
    assert day.ts[0] == 1703422805718200244
    assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (4799.0, 16, 4799.5, 23)
    m = day.meta
    assert (m.symbol, m.date, m.tick_size) == ("ESH4", "2023-12-24", 0.25)
    assert m.session_close_ns - m.session_open_ns == 1 and "1 ns session" in m.notes["session"]
    assert m.notes["records_by_action"] == {"A": 8725} and m.notes["snapshot_records"] == 8725
    # No span to replay: the env refuses any horizon.
    with pytest.raises(ValueError, match=r"horizon_s \(0.001\)"):
        ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day]), horizon_s=0.001, decision_interval_s=0.001,
                                     warmup_s=0, quantity=1.0))  # fmt: skip


def test_real_samples_through_the_cache(shared_data, tmp_path):
    for name in (ESU4_DBN, ESM4_MBO):
        a = load_days(shared_data / "databento" / name, cache_dir=tmp_path)
        b = load_days(shared_data / "databento" / name, cache_dir=tmp_path)
        assert_same_arrays(a[0], b[0])
        assert a[0].meta == b[0].meta


def test_a_missing_book_level_column_is_named(csv_lines):
    path, lines = csv_lines
    k = lines[0].split(",").index("ask_sz_08")
    out = [",".join(f for j, f in enumerate(line.split(",")) if j != k) for line in lines]
    path.write_text("\n".join(out) + "\n")
    _raises(path, 1, "ask_sz_08", "missing column (the header has bid_px_00..bid_px_09)")


def test_undecodable_dbn_metadata_is_an_error_naming_the_file(tmp_path, synth):
    raw = bytearray(db.write_databento(synth, tmp_path / "x.dbn").read_bytes())
    raw[3] = 255  # a DBN version no decoder knows
    path = tmp_path / "v255.dbn"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as err:
        db.load(path)
    assert str(err.value).startswith(f"{path}: field 'metadata': cannot be decoded (")
    assert "version" in str(err.value) and len(str(err.value)) < 300

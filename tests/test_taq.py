"""TAQ multi-venue quotes and trades: round trip, hand-computed books and sides, malformed files, real samples."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines import TWAP
from exec_env.market import MarketCatalogue, taq
from exec_env.market.sources import detect_format, load_days
from exec_env.market.synthetic import SyntheticParams, generate_day

NY = ZoneInfo("America/New_York")
QUOTE_HEADER = "DT_ET,DT_epoch_s,EX,BID,BIDSIZ,OFR,OFRSIZ,SYMBOL"
TRADE_HEADER = "DT_ET,DT_epoch_s,EX,SYMBOL,COND,SIZE,PRICE,CORR"
NAN = float("nan")


def _stamp(clock: str, day: str = "2018-01-02") -> tuple[str, str, int]:
    """(DT_ET, DT_epoch_s, ns) of a New York wall time ``HH:MM:SS.fff``."""
    local = datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=NY)
    ns = int(round(local.timestamp() * 1000)) * 1_000_000
    return f"{day} {clock}", f"{ns // 10**9}.{(ns // 10**6) % 1000:03d}", ns


# A hand-made day (2018-01-02, New York = UTC-5): venue P quotes before the open, N and Z update at
# the same millisecond, N withdraws its bid, and a quote after the close.
QUOTES = [
    ("09:29:59.000", "P", "100.00", "1", "101.00", "2"),  # line 2, carried into the open
    ("09:30:00.500", "N", "100.25", "2", "100.75", "1"),  # line 3
    ("09:30:00.500", "Z", "100.25", "3", "101.00", "1"),  # line 4, same ts: one row
    ("09:30:01.000", "N", "0", "0", "100.50", "1"),  # line 5, bid withdrawn
    ("09:30:02.000", "Z", "100.00", "1", "101.00", "1"),  # line 6
    ("16:00:01.000", "N", "100.25", "1", "100.50", "1"),  # line 7, after the close
]
TRADES = [
    ("09:29:59.500", "P", "T", "10", "100.50", "0"),  # line 2, before the open
    ("09:30:00.500", "N", "", "100", "100.75", "0"),  # line 3: NBBO before = opening 100/101
    ("09:30:00.700", "D", "", "50", "100.495", "0"),  # line 4: off tick, below mid 100.50
    ("09:30:01.500", "N", "I", "30", "100.25", "0"),  # line 5: NBBO 100.25/100.50
    ("09:30:01.600", "N", "4", "10", "100.25", "0"),  # line 6: derivatively priced, excluded
    ("09:30:01.700", "Z", "F I", "100", "100.50", "0"),  # line 7
    ("09:30:02.000", "Z", "", "100", "100.375", "8"),  # line 8: later cancelled
    ("09:30:02.500", "N", "@", "100", "100.25", "0"),  # line 9: at mid of 100.00/100.50
    ("09:30:02.600", "N", "", "5", "100.25", "0"),  # line 10: zero tick
    ("16:00:00.500", "N", "6", "1", "100.25", "0"),  # line 11: after the close
]


def _quote_lines(rows=QUOTES, symbol="XXX") -> list[str]:
    out = []
    for clock, ex, bid, bsz, ofr, osz in rows:
        et, epoch, _ = _stamp(clock)
        out.append(",".join([et, epoch, ex, bid, bsz, ofr, osz, symbol]))
    return out


def _trade_lines(rows=TRADES, symbol="XXX") -> list[str]:
    out = []
    for clock, ex, cond, size, price, corr in rows:
        et, epoch, _ = _stamp(clock)
        out.append(",".join([et, epoch, ex, symbol, cond, size, price, corr]))
    return out


def _write(folder: Path, quotes: list[str] | None = None, trades: list[str] | None = None) -> Path:
    qpath = folder / "smallQDataRaw.csv"
    qpath.write_text("\n".join([QUOTE_HEADER, *(quotes if quotes is not None else _quote_lines())]) + "\n")
    (folder / "smallTDataRaw.csv").write_text(
        "\n".join([TRADE_HEADER, *(trades if trades is not None else _trade_lines())]) + "\n"
    )
    return qpath


def _ns(clock: str) -> int:
    return _stamp(clock)[2]


# ----------------------------------------------------------------------------------------------
# Round trip through write_taq
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_day():
    return generate_day(SyntheticParams(session_seconds=600.0, snapshot_interval_ms=0.0), seed=7, day_index=0)


def test_round_trip_of_a_synthetic_day(tmp_path, synthetic_day):
    day = synthetic_day
    qpath, tpath = taq.write_taq(day, tmp_path / "synthQDataRaw.csv", tmp_path / "synthTDataRaw.csv")
    assert taq.companions(qpath) == [tpath]
    (back,) = taq.load(qpath, session=("09:30", "09:40"), side_rule="quote", levels=day.levels)
    for name in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz"):
        np.testing.assert_array_equal(getattr(back, name), getattr(day, name), err_msg=name)
    # Every synthetic trade hits the opposite best of the book before it: the quote rule recovers it.
    np.testing.assert_array_equal(back.trade_side, day.trade_side)
    for name in ("symbol", "tick_size", "lot_size", "session_open_ns", "session_close_ns", "date"):
        assert getattr(back.meta, name) == getattr(day.meta, name), name
    # Level k is venue WRITE_VENUES[k]; a row's venue is the last (deepest) level that changed.
    changed = np.zeros(day.bid_px.shape, bool)
    changed[0] = True
    for a in (day.bid_px, day.bid_sz, day.ask_px, day.ask_sz):
        changed[1:] |= ~((a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1])))
    deepest = day.levels - 1 - np.argmax(changed[:, ::-1], axis=1)
    expected = np.array([taq.VENUE_CODES[taq.WRITE_VENUES[k]] for k in deepest], dtype=np.int16)
    np.testing.assert_array_equal(back.venue, expected)
    assert back.meta.notes["dropped_crossed_rows"] == 0 and back.meta.notes["opening_row"] is False

    books = taq.load_venue_books(qpath, session=("09:30", "09:40"), side_rule="quote")
    assert sorted(books) == sorted(taq.WRITE_VENUES[: day.levels])
    (top,) = books[taq.WRITE_VENUES[0]]  # "N" quotes level 1: a row wherever level 1 changed
    rows = np.flatnonzero(changed[:, 0])
    np.testing.assert_array_equal(top.ts, day.ts[rows])
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        np.testing.assert_array_equal(getattr(top, name)[:, 0], getattr(day, name)[rows, 0], err_msg=name)
    np.testing.assert_array_equal(top.trade_ts, day.trade_ts)  # write_taq prints every trade on "N"
    (second,) = books[taq.WRITE_VENUES[1]]
    assert second.n_trades == 0 and second.n_books == changed[:, 1].sum()


def test_write_refuses_sizes_that_are_not_whole_lots(tmp_path, synthetic_day):
    with pytest.raises(ValueError, match="not multiples of 1000"):
        taq.write_taq(synthetic_day, tmp_path / "q.csv", quote_size_unit=1000.0)


# ----------------------------------------------------------------------------------------------
# Hand-computed books and trade sides
# ----------------------------------------------------------------------------------------------


def test_consolidated_book_by_hand(tmp_path):
    qpath = _write(tmp_path)
    (day,) = taq.load(qpath, levels=3, corrected="exclude")
    np.testing.assert_array_equal(day.ts, [_ns("09:30:00.000"), _ns("09:30:00.500"), _ns("09:30:01.000"),
                                           _ns("09:30:02.000")])  # fmt: skip
    nan = NAN
    np.testing.assert_array_equal(day.bid_px, [[100.0, nan, nan], [100.25, 100.0, nan], [100.25, 100.0, nan],
                                               [100.0, nan, nan]])  # fmt: skip
    np.testing.assert_array_equal(day.bid_sz, [[100, 0, 0], [500, 100, 0], [300, 100, 0], [200, 0, 0]])
    np.testing.assert_array_equal(day.ask_px, [[101.0, nan, nan], [100.75, 101.0, nan], [100.5, 101.0, nan],
                                               [100.5, 101.0, nan]])  # fmt: skip
    np.testing.assert_array_equal(day.ask_sz, [[200, 0, 0], [100, 300, 0], [100, 300, 0], [100, 300, 0]])
    np.testing.assert_array_equal(day.venue, [0, 26, 14, 26])  # opening row, Z, N, Z
    assert day.venue.dtype == np.int16
    n = day.meta.notes
    assert n["venue_codes"] == {"N": 14, "P": 16, "Z": 26}
    assert (n["quote_records"], n["quote_records_in_session"], n["quote_records_before_session"]) == (6, 4, 1)
    assert (n["quote_records_after_session"], n["quote_updates_merged_same_ts"], n["opening_row"]) == (1, 1, True)
    assert (n["quote_records_bid_empty"], n["quote_records_ask_empty"], n["book_rows"]) == (1, 0, 4)
    # trades: lines 3, 4, 5, 7, 9, 10 kept
    np.testing.assert_array_equal(day.trade_px, [100.75, 100.495, 100.25, 100.5, 100.25, 100.25])
    np.testing.assert_array_equal(day.trade_sz, [100, 50, 30, 100, 100, 5])
    assert n["trades_outside_session"] == 2 and n["trades_excluded_corrected"] == {"8": 1}
    assert n["trades_excluded_by_condition"] == {"4": 1} and n["trades_kept"] == 6 and n["trades_off_tick"] == 1
    assert day.meta.session_open_ns == _ns("09:30:00.000") and day.meta.session_close_ns == _ns("16:00:00.000")
    assert day.meta.date == "2018-01-02" and day.meta.symbol == "XXX" and day.meta.lot_size == 1.0


@pytest.mark.parametrize(
    ("rule", "sides"),
    [
        ("quote", [1, -1, -1, 1, 0, 0]),
        ("tick", [0, -1, -1, 1, -1, -1]),
        ("lee_ready", [1, -1, -1, 1, -1, -1]),
        ("none", [0, 0, 0, 0, 0, 0]),
    ],
)
def test_side_rules_by_hand(tmp_path, rule, sides):
    (day,) = taq.load(_write(tmp_path), corrected="exclude", side_rule=rule)
    np.testing.assert_array_equal(day.trade_side, sides)
    assert day.trade_side.dtype == np.int8


def test_options_select_explicitly(tmp_path):
    qpath = _write(tmp_path)
    (empty,) = taq.load(qpath, corrected="exclude", opening_state="empty", levels=2)
    assert empty.ts[0] == _ns("09:30:00.500") and empty.meta.notes["quote_records_before_session_carried"] == 0
    np.testing.assert_array_equal(empty.bid_px[0], [100.25, NAN])  # P's pre-open quote is not there
    (ext,) = taq.load(qpath, corrected="exclude", session="extended", levels=2)
    assert ext.ts[0] == _ns("09:29:59.000") and ext.venue[0] == taq.VENUE_CODES["P"]
    assert ext.n_trades == 7 and ext.meta.notes["trades_outside_session"] == 0  # Form T kept, "6" excluded
    (n_only,) = taq.load(qpath, corrected="exclude", venues="N", levels=2)
    assert n_only.meta.notes["quote_records_excluded_venue"] == 3 and set(n_only.venue) == {14}
    (odd_lots_out,) = taq.load(qpath, corrected="exclude", trade_conditions="@F")
    assert odd_lots_out.n_trades == 4  # lines 5 (I) and 7 (F I) go
    (shares,) = taq.load(qpath, corrected="exclude", quote_size_unit=1, tick_size=0.005, lot_size=10)
    assert shares.bid_sz[0, 0] == 1 and shares.meta.tick_size == 0.005 and shares.meta.lot_size == 10
    (no_trades,) = taq.load(qpath, trades=False)
    assert no_trades.n_trades == 0 and no_trades.meta.notes["trades_file"] == "none (trades=False)"


def test_extended_session_keeps_form_t_and_counts_exclusions(tmp_path):
    (day,) = taq.load(_write(tmp_path), corrected="exclude", session="extended")
    n = day.meta.notes
    assert n["trades_kept"] == 7 and n["trades_excluded_by_condition"] == {"4": 1, "6": 1}
    assert day.trade_px[0] == 100.5 and day.trade_ts[0] == _ns("09:29:59.500")


def test_venue_books_by_hand(tmp_path):
    books = taq.load_venue_books(_write(tmp_path), corrected="exclude")
    assert sorted(books) == ["N", "P", "Z"]
    (n,) = books["N"]
    np.testing.assert_array_equal(n.ts, [_ns("09:30:00.500"), _ns("09:30:01.000")])
    np.testing.assert_array_equal(n.bid_px[:, 0], [100.25, NAN])
    np.testing.assert_array_equal(n.bid_sz[:, 0], [200, 0])
    np.testing.assert_array_equal(n.ask_px[:, 0], [100.75, 100.5])
    np.testing.assert_array_equal(n.trade_px, [100.75, 100.25, 100.25, 100.25])  # EX == N only
    np.testing.assert_array_equal(n.trade_side, [1, -1, -1, -1])  # Lee-Ready against the consolidated NBBO
    (p,) = books["P"]
    assert p.n_books == 1 and p.ts[0] == _ns("09:30:00.000") and p.venue[0] == 16 and p.meta.notes["opening_row"]
    (z,) = books["Z"]
    np.testing.assert_array_equal(z.ask_sz[:, 0], [100, 100])
    assert z.n_trades == 1 and z.levels == 1
    with pytest.raises(ValueError, match=r"taq: unknown option 'levels'; the options of this format: symbol, session,"):
        taq.load_venue_books(_write(tmp_path), levels=3)


def test_locked_book_raises_by_default_and_drops_on_request(tmp_path):
    rows = [
        *QUOTES[:5],
        ("09:30:02.500", "N", "100.25", "1", "100.50", "1"),  # line 7: N bids 100.25 again
        ("09:30:03.000", "Z", "100.00", "1", "100.25", "1"),  # line 8: Z offers at N's bid: locked
        QUOTES[5],
    ]
    qpath = _write(tmp_path, quotes=_quote_lines(rows))
    with pytest.raises(ValueError) as err:
        taq.load(qpath, corrected="exclude")
    message = str(err.value)
    assert str(qpath) in message and "line 8, field 'OFR'" in message and "locked consolidated book" in message
    (day,) = taq.load(qpath, corrected="exclude", crossed="drop")
    assert day.meta.notes["dropped_locked_rows"] == 1 and day.meta.notes["dropped_crossed_rows"] == 0
    assert day.n_books == 5 and day.ts[-1] == _ns("09:30:02.500")
    rows[6] = ("09:30:03.000", "Z", "99.75", "1", "100.00", "1")  # Z offers below N's bid: crossed
    with pytest.raises(ValueError, match="line 8, field 'OFR': crossed consolidated book"):
        taq.load(_write(tmp_path, quotes=_quote_lines(rows)), corrected="exclude")


# ----------------------------------------------------------------------------------------------
# Malformed files
# ----------------------------------------------------------------------------------------------


def _edit(lines: list[str], index: int, field: int, value: str) -> list[str]:
    out = list(lines)
    parts = out[index].split(",")
    parts[field] = value
    out[index] = ",".join(parts)
    return out


def _quote_case(name: str) -> tuple[list[str], int, str]:
    q = _quote_lines()
    if name == "too_many_fields":
        q[2] += ",extra"
        return q, 4, "SYMBOL"
    if name == "too_few_fields":
        q[1] = q[1].rsplit(",", 1)[0]
        return q, 3, "SYMBOL"
    if name == "unparsable_price":
        return _edit(q, 1, 3, "10O.25"), 3, "BID"
    if name == "unparsable_time":
        return _edit(q, 2, 1, "1.5149e9"), 4, "DT_epoch_s"
    if name == "unsorted_time":
        q[3], q[4] = q[4], q[3]
        return q, 6, "DT_epoch_s"
    if name == "negative_size":
        return _edit(q, 3, 6, "-1"), 5, "OFRSIZ"
    if name == "unknown_exchange":
        return _edit(q, 4, 2, "G"), 6, "EX"
    if name == "dt_et_disagrees":
        return _edit(q, 1, 0, "2018-01-02 09:30:01.500"), 3, "DT_ET"
    if name == "off_tick_price":
        return _edit(q, 2, 5, "101.005"), 4, "OFR"
    if name == "fractional_lots":
        return _edit(q, 2, 4, "1.5"), 4, "BIDSIZ"
    raise AssertionError(name)


@pytest.mark.parametrize(
    "case",
    ["too_many_fields", "too_few_fields", "unparsable_price", "unparsable_time", "unsorted_time", "negative_size",
     "unknown_exchange", "dt_et_disagrees", "off_tick_price", "fractional_lots"],
)  # fmt: skip
def test_malformed_quotes_name_file_row_and_field(tmp_path, case):
    lines, row, field = _quote_case(case)
    qpath = _write(tmp_path, quotes=lines)
    with pytest.raises(ValueError) as err:
        taq.load(qpath, corrected="exclude")
    assert f"{qpath}: line {row}, field '{field}'" in str(err.value)


@pytest.mark.parametrize(
    ("case", "row", "field"),
    [("negative_size", 5, "SIZE"), ("zero_price", 4, "PRICE"), ("unknown_exchange", 7, "EX"),
     ("unsorted_time", 4, "DT_epoch_s"), ("corrected", 8, "CORR"), ("too_many_fields", 3, "CORR"),
     ("unparsable_corr", 9, "CORR")],
)  # fmt: skip
def test_malformed_trades_name_file_row_and_field(tmp_path, case, row, field):
    t = _trade_lines()
    options = {"corrected": "exclude"}
    if case == "negative_size":
        t = _edit(t, 3, 5, "-30")
    elif case == "zero_price":
        t = _edit(t, 2, 6, "0")
    elif case == "unknown_exchange":
        t = _edit(t, 5, 2, "G")
    elif case == "unsorted_time":
        t[1], t[2] = t[2], t[1]
    elif case == "corrected":
        options = {}
    elif case == "too_many_fields":
        t[1] += ",1"
    elif case == "unparsable_corr":
        t = _edit(t, 7, 7, "x")
    qpath = _write(tmp_path, trades=t)
    with pytest.raises(ValueError) as err:
        taq.load(qpath, **options)
    assert f"{tmp_path / 'smallTDataRaw.csv'}: line {row}, field '{field}'" in str(err.value)


def test_several_symbols_need_the_symbol_option(tmp_path):
    q = _quote_lines() + _quote_lines([("16:30:00.000", "N", "50.00", "1", "50.01", "1")], symbol="YYY")
    qpath = _write(tmp_path, quotes=q)
    with pytest.raises(
        ValueError, match=r"line 8, field 'SYMBOL': 2 symbols in the file \(XXX, YYY\); pass symbol= to pick one"
    ):
        taq.load(qpath, corrected="exclude")
    (day,) = taq.load(qpath, corrected="exclude", symbol="XXX")
    assert day.meta.notes["other_symbol_quote_rows"] == 1 and day.meta.notes["quote_records"] == 6


@pytest.mark.parametrize(
    ("option", "value"),
    [("session", "overnight"), ("session", ("16:00", "09:30")), ("levels", 0), ("levels", 51), ("tick_size", -0.01),
     ("crossed", "keep"), ("side_rule", "emo"), ("trade_conditions", ["FI"]), ("corrected", "keep"),
     ("venues", "G"), ("opening_state", "stale"), ("timezone", "Mars/Olympus"), ("quote_size_unit", 0)],
)  # fmt: skip
def test_bad_options_name_option_and_value(tmp_path, option, value):
    with pytest.raises(ValueError, match=f"option {option}="):
        taq.load(_write(tmp_path), **{option: value})


def test_files_and_companions(tmp_path):
    qpath = _write(tmp_path)
    tpath = tmp_path / "smallTDataRaw.csv"
    assert taq.sniff(qpath) and taq.sniff(tpath) and taq.companions(qpath) == [tpath]
    assert detect_format(qpath) == "taq"
    with pytest.raises(ValueError, match="this is a TAQ trades file"):
        taq.load(tpath)
    tpath.rename(tmp_path / "elsewhere.csv")
    with pytest.raises(
        ValueError, match=f"^{qpath}: no paired trades file beside it; pass trades=<path>, or trades=False"
    ):
        taq.load(qpath)
    (day,) = taq.load(qpath, trades=tmp_path / "elsewhere.csv", corrected="exclude")
    assert day.n_trades == 6
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert not taq.sniff(other)


# ----------------------------------------------------------------------------------------------
# The real samples
# ----------------------------------------------------------------------------------------------

SAMPLE = "taq-multivenue/sampleQDataRaw.csv"


@pytest.fixture(scope="module")
def sample_days(shared_data):
    return taq.load(shared_data / SAMPLE, crossed="drop")


# Values verified from the raw files by a separate replay (pandas + a per-venue dict), not by the loader.
EXPECTED = [
    {  # 2018-01-02
        "date": "2018-01-02", "books": 10037, "trades": 38858, "first_ts": 1514903400000000000,
        "last_ts": 1514926798140000000, "first_trade_ts": 1514903400043000000, "last_trade_ts": 1514926799710000000,
        # at the open, from the last pre-open quote of each venue: K 158.01 x 4 / 158.30 x 1, P 157.80 x 3 /
        # 158.30 x 40, T 157.83 x 3 / 162.08 x 6, Z 157.82 x 1 / 158.61 x 1 (lines 670-674)
        "bid": [158.01, 157.83, 157.82], "bid_sz": [400, 300, 100], "ask": [158.30, 158.61, 162.08],
        "ask_sz": [4100, 100, 600],
        "in_session": 65998, "before": 673, "after": 24, "merged": 35651, "crossed": 16811, "locked": 3500,
        "outside": 275, "by_condition": 337, "last_venue": "P",
    },
    {  # 2018-01-03
        "date": "2018-01-03", "books": 11780, "trades": 37457, "first_ts": 1514989800000000000,
        "last_ts": 1515013199950000000, "first_trade_ts": 1514989800130000000, "last_trade_ts": 1515013199940000000,
        # K 157.11 x 9 / 157.39 x 4, P 156.75 x 1 / 157.39 x 1, T 156.51 x 3 / 157.32 x 3, Z .. / 157.32 x 4
        "bid": [157.11, 156.75, 156.51], "bid_sz": [900, 100, 300], "ask": [157.32, 157.39, 157.40],
        "ask_sz": [700, 500, 300],
        "in_session": 64620, "before": 74, "after": 12, "merged": 35271, "crossed": 12917, "locked": 4653,
        "outside": 176, "by_condition": 160, "last_venue": "N",
    },
]  # fmt: skip


@pytest.mark.parametrize("i", [0, 1])
def test_sample_days_exact(sample_days, i):
    day, e = sample_days[i], EXPECTED[i]
    n = day.meta.notes
    assert day.meta.date == e["date"] and day.meta.symbol == "XXX" and day.levels == 10
    assert (day.n_books, day.n_trades) == (e["books"], e["trades"])
    assert (int(day.ts[0]), int(day.ts[-1])) == (e["first_ts"], e["last_ts"])
    assert (int(day.trade_ts[0]), int(day.trade_ts[-1])) == (e["first_trade_ts"], e["last_trade_ts"])
    assert day.meta.session_open_ns == e["first_ts"] and day.meta.session_close_ns == e["first_ts"] + 23400 * 10**9
    np.testing.assert_array_equal(day.bid_px[0, :3], e["bid"])
    np.testing.assert_array_equal(day.bid_sz[0, :3], e["bid_sz"])
    np.testing.assert_array_equal(day.ask_px[0, :3], e["ask"])
    np.testing.assert_array_equal(day.ask_sz[0, :3], e["ask_sz"])
    assert day.venue[0] == taq.OPENING_VENUE and day.venue[-1] == taq.VENUE_CODES[e["last_venue"]]
    counts = (
        n["quote_records_in_session"],
        n["quote_records_before_session_carried"],
        n["quote_records_after_session"],
    )
    assert counts == (e["in_session"], e["before"], e["after"])
    assert (n["quote_updates_merged_same_ts"], n["dropped_crossed_rows"], n["dropped_locked_rows"]) == (
        e["merged"], e["crossed"], e["locked"])  # fmt: skip
    assert n["book_rows"] == e["in_session"] - e["merged"] + 1 - e["crossed"] - e["locked"]
    assert (n["trades_outside_session"], n["trades_excluded_condition"]) == (e["outside"], e["by_condition"])
    assert n["trades_excluded_corrected"] == {}  # the 8/10 pair is outside the regular session
    assert n["venue_codes"] == {"A": 1, "B": 2, "J": 10, "K": 11, "M": 13, "N": 14, "P": 16, "T": 20, "V": 22,
                                "X": 24, "Y": 25, "Z": 26}  # fmt: skip
    assert n["dt_et_minus_ms_quotes"] == {"0": 68294, "1": 63107}
    assert n["quote_size_unit"] == 100.0


def test_sample_defaults_raise_on_the_first_locked_row(shared_data):
    with pytest.raises(ValueError, match=r"sampleQDataRaw.csv: line 678, field 'BID': locked consolidated book after "
                                         r"this quote \(venue N\): best bid 158.39 == best ask 158.39; pass crossed='drop'"):  # fmt: skip
        taq.load(shared_data / SAMPLE)
    with pytest.raises(ValueError, match=r"sampleTDataRaw.csv: line 39520, field 'CORR': corrected/cancelled trade"):
        taq.load(shared_data / SAMPLE, crossed="drop", session="extended")


def test_sample_venue_books_are_never_crossed(shared_data):
    books = taq.load_venue_books(shared_data / SAMPLE)  # crossed="raise": passes
    assert sorted(books) == list("ABJKMNPTVXYZ")
    assert [d.n_books for d in books["N"]] == [24477, 22087]
    assert [d.n_trades for d in books["N"]] == [5761, 5424]  # trades printed on N only
    assert all(d.meta.notes["dropped_crossed_rows"] == 0 for days in books.values() for d in days)


@pytest.mark.parametrize("policy", ["twap", "random"])
def test_sample_episode(sample_days, policy):
    config = ExecutionConfig(market=MarketCatalogue([sample_days[0]]), horizon_s=600.0, decision_interval_s=10.0,
                             warmup_s=0.0, quantity=600.0, side="buy")  # fmt: skip
    env = ExecutionEnv(config)
    obs, _ = env.reset(seed=3)
    env.action_space.seed(5)
    total, terminated = 0.0, False
    while not terminated:
        action = TWAP().predict(obs)[0] if policy == "twap" else env.action_space.sample()
        obs, reward, terminated, truncated, info = env.step(action)
        assert not truncated
        total += reward
    assert info["execution"]["fill_rate"] + info["execution"]["forced_qty"] / 600.0 == pytest.approx(1.0)
    assert total == pytest.approx(-info["execution"]["shortfall_bps"], abs=1e-9)


def test_sample_cache_gives_identical_arrays(shared_data, tmp_path):
    first = load_days(shared_data / SAMPLE, cache_dir=tmp_path, crossed="drop")
    second = load_days(shared_data / SAMPLE, cache_dir=tmp_path, crossed="drop")
    assert len(first) == len(second) == 2
    for a, b in zip(first, second, strict=True):
        for name in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "venue", "trade_ts", "trade_px", "trade_sz",
                     "trade_side"):  # fmt: skip
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert a.meta == b.meta


def test_fast_frame_and_numbers_equal_the_careful_path(shared_data, monkeypatch):
    """pyarrow's reader and casts (the fast path) give what pandas' C parser and the careful
    parsers give, on a hand-written file with CRLF, blanks and quotes, and on the real sample."""
    import io

    import pandas as pd

    pytest.importorskip("pyarrow")
    names = ["DT_epoch_s", "EX", "BID", "SYMBOL"]
    raw = b'DT_epoch_s,EX,BID,SYMBOL\r\n 1514883853.125,N, 10.5 ,"XXX"\r\n1514883854,P,1e1,XXX\r\n'
    sample = (shared_data / "taq-multivenue" / "sampleQDataRaw.csv").read_bytes()
    for data, cols in ((raw, names), (sample, sample.split(b"\n", 1)[0].decode().strip().split(","))):
        fast = taq._frame(data, cols)
        careful = pd.read_csv(io.BytesIO(data), header=0, names=cols, dtype=str, keep_default_na=False,
                              na_filter=False, skip_blank_lines=False, engine="c")  # fmt: skip
        assert fast.equals(careful)
        lines = np.arange(2, fast.shape[0] + 2)
        fast_ts, fast_bid = taq._epoch_ns(Path("x"), fast, lines), taq._numbers(Path("x"), fast, lines, "BID")
        with monkeypatch.context() as m:
            m.setattr(taq, "pa", None)  # the careful path, as without pyarrow
            assert np.array_equal(fast_ts, taq._epoch_ns(Path("x"), careful, lines))
        expected = pd.to_numeric(careful["BID"].to_numpy(dtype=object)).astype(np.float64)
        assert np.array_equal(fast_bid, expected)
        assert np.array_equal(taq._text(fast, "EX"), np.char.strip(careful["EX"].to_numpy(dtype=str)))
    lines = np.arange(2, 4)
    with pytest.raises(ValueError, match="line 3, field 'DT_epoch_s': unparsable time '15148838x4'"):
        taq._epoch_ns(Path("x"), taq._frame(raw.replace(b"1514883854", b"15148838x4"), names), lines)
    with pytest.raises(ValueError, match="line 3, field 'BID': unparsable number 'ten'"):
        taq._numbers(Path("x"), taq._frame(raw.replace(b"1e1", b"ten"), names), lines, "BID")


def test_blank_lines_at_the_end_are_accepted_inside_refused(tmp_path):
    """The one CSV rule of every format (reader.csv_text): trailing blank lines carry nothing."""
    qpath = _write(tmp_path)
    (plain,) = taq.load(qpath, corrected="exclude")
    qpath.write_text(qpath.read_text() + "\n\r\n")
    (trailing,) = taq.load(qpath, corrected="exclude")
    np.testing.assert_array_equal(plain.bid_px, trailing.bid_px)
    lines = qpath.read_text().splitlines()
    qpath.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n")
    with pytest.raises(ValueError) as err:
        taq.load(qpath, corrected="exclude")
    assert (
        str(err.value)
        == f"{qpath}: line 4, field 'DT_epoch_s': wrong column count: 1 fields, expected 8; 'DT_epoch_s' is missing"
    )


def test_an_unclosed_quote_and_an_overlong_value_are_errors_naming_the_line(tmp_path, synthetic_day):
    qpath, tpath = taq.write_taq(synthetic_day, tmp_path / "synthQDataRaw.csv", tmp_path / "synthTDataRaw.csv")
    lines = tpath.read_text().splitlines()
    tpath.write_text("\n".join([*lines[:5], '"' + lines[5], *lines[6:]]) + "\n")
    with pytest.raises(ValueError) as err:
        taq.load(qpath, session=("09:30", "09:40"))
    assert str(err.value) == (
        f"{tpath}: line 6, field 'DT_ET': a quote character opens a quoted field that does not close on its line "
        "(TAQ fields are not quoted)"
    )
    lines = qpath.read_text().splitlines()
    parts = lines[7].split(",")
    parts[1] = "1" * 100_000  # DT_epoch_s: as a numpy string column, 400 kB for every row
    qpath.write_text("\n".join([*lines[:7], ",".join(parts), *lines[8:]]) + "\n")
    with pytest.raises(ValueError) as err:
        taq.load(qpath, trades=False, session=("09:30", "09:40"))
    assert str(err.value) == (
        f"{qpath}: line 8, field 'DT_epoch_s': value longer than 64 characters: "
        "'1111111111111111111111111111111111111111...' (100,000 characters)"
    )


def test_a_trades_file_without_rows_and_without_dt_et_gives_no_trades(tmp_path, synthetic_day):
    qpath, tpath = taq.write_taq(synthetic_day, tmp_path / "synthQDataRaw.csv", tmp_path / "synthTDataRaw.csv")
    tpath.write_text("DT_epoch_s,EX,SYMBOL,COND,SIZE,PRICE,CORR\n")
    (day,) = taq.load(qpath, session=("09:30", "09:40"))
    assert day.n_trades == 0 and day.meta.notes["trade_records"] == 0


def test_a_dt_et_year_outside_the_nanosecond_range_is_an_unparsable_time(tmp_path, synthetic_day):
    qpath, _ = taq.write_taq(synthetic_day, tmp_path / "synthQDataRaw.csv")
    lines = qpath.read_text().splitlines()
    lines[3] = "-" + lines[3]
    qpath.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as err:
        taq.load(qpath, trades=False, session=("09:30", "09:40"))
    value = lines[3].split(",")[0]
    assert (
        str(err.value) == f"{qpath}: line 4, field 'DT_ET': unparsable time '{value}' (expected %Y-%m-%d %H:%M:%S.%f)"
    )

"""Tardis CSV loader: round trips from a synthetic day, book rules, pairing, malformed files."""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exec_env.market import tardis, validate
from exec_env.market.sources import load_days, load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")
US = 1_700_000_000_000_000  # microseconds: 2023-11-14 22:13:20 UTC
HEAD = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADE_HEAD = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"


def write(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def book_file(tmp_path: Path, rows: list[str], name: str = "x_incremental_book_L2_2023-11-14_TEST.csv.gz") -> Path:
    return write(tmp_path / name, [HEAD, *rows])


def row(t: int, snap: bool, side: str, px: float, amt: float, sym: str = "TEST") -> str:
    return f"x,{sym},{US + t},{US + t},{'true' if snap else 'false'},{side},{px},{amt}"


BASE = [row(0, True, "bid", 100, 1), row(0, True, "ask", 101, 1)]


def error(path: Path, line: int, field: str) -> str:
    return re.escape(f"{path}: line {line}, field '{field}'")


@pytest.fixture(scope="module")
def us_day():
    """A synthetic day with timestamps floored to whole microseconds (what Tardis can carry)."""
    day = generate_day(SyntheticParams(session_seconds=600.0), seed=5, day_index=0)
    day = replace(day, ts=day.ts // 1000 * 1000, trade_ts=day.trade_ts // 1000 * 1000)
    assert (np.diff(day.ts) > 0).all()
    return validate(day)


def assert_same(a, b):
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name


@pytest.mark.parametrize("dataset", ["incremental_book_L2", "book_snapshot_25"])
def test_round_trip_with_paired_trades_is_exact(us_day, tmp_path, dataset):
    book_path, trades_path = tardis.write_tardis(us_day, tmp_path, exchange="synthetic", dataset=dataset)
    assert book_path.name == f"synthetic_{dataset}_2024-01-02_SYNTH.csv.gz"
    assert tardis.sniff(book_path) and tardis.sniff(trades_path)
    assert tardis.companions(book_path) == [trades_path]
    (day,) = tardis.load(book_path, levels=us_day.levels, lot_size=1.0, session=("14:30:00", "14:40:00"))
    assert_same(us_day, day)
    m, m0 = day.meta, us_day.meta
    assert (m.symbol, m.date, m.tick_size, m.lot_size, m.session_open_ns, m.session_close_ns) == (
        m0.symbol, m0.date, m0.tick_size, m0.lot_size, m0.session_open_ns, m0.session_close_ns,
    )  # fmt: skip
    assert m.notes["exchange"] == "synthetic" and m.notes["trades_file"] == str(trades_path)
    # a folder: the trades file is the book file's companion, not a day of its own
    catalogue = load_market(tmp_path, cache_dir=tmp_path / "cache", levels=us_day.levels)
    assert len(catalogue) == 1 and catalogue.notes["skipped"] == []
    assert_same(us_day, catalogue.day(0))


def test_book_snapshot_default_levels_explicit_trades_and_book_only(us_day, tmp_path):
    book_path, trades_path = tardis.write_tardis(us_day, tmp_path / "a", dataset="book_snapshot_25")
    moved = trades_path.rename(tmp_path / "elsewhere.csv.gz")
    with pytest.raises(ValueError) as err:
        tardis.load(book_path)  # no paired file: an error, as for TAQ
    assert str(err.value) == (
        f"{book_path}: no paired trades file beside it; pass trades=<path>, or trades=False for no trades"
    )
    (alone,) = tardis.load(book_path, trades=False)  # a day without trades
    assert alone.levels == 25 and alone.n_trades == 0 and alone.meta.notes["trades_file"] is None
    np.testing.assert_array_equal(alone.bid_px[:, : us_day.levels], us_day.bid_px)
    assert np.isnan(alone.bid_px[:, us_day.levels :]).all() and (alone.ask_sz[:, us_day.levels :] == 0).all()
    (day,) = tardis.load(book_path, levels=us_day.levels, trades=moved)
    np.testing.assert_array_equal(day.trade_px, us_day.trade_px)
    (none,) = tardis.load(book_path, trades=False)
    assert none.n_trades == 0


def test_cache_gives_identical_arrays(us_day, tmp_path):
    book_path, _ = tardis.write_tardis(us_day, tmp_path)
    first = load_days(book_path, cache_dir=tmp_path / "cache")
    second = load_days(book_path, cache_dir=tmp_path / "cache")
    for name in ARRAYS:
        assert np.array_equal(getattr(first[0], name), getattr(second[0], name), equal_nan=True)
    assert first[0].meta == second[0].meta and first[0].n_trades == us_day.n_trades


def test_blank_lines_at_the_end_are_accepted_inside_refused(tmp_path):
    plain = tardis.load(book_file(tmp_path, [*BASE, row(10, False, "bid", 100, 2)]), trades=False)
    trailing = tardis.load(book_file(tmp_path, [*BASE, row(10, False, "bid", 100, 2), "", "\r"], name="y.csv.gz"),
                           trades=False)  # fmt: skip
    assert_same(plain[0], trailing[0])
    inside = book_file(tmp_path, [*BASE, "", row(10, False, "bid", 100, 2)], name="z.csv.gz")
    with pytest.raises(
        ValueError, match=error(inside, 4, "symbol") + ": wrong column count: 1 fields, expected 8; 'symbol' is missing"
    ):
        tardis.load(inside)


def test_incremental_rules_exact_rows(tmp_path):
    path = book_file(tmp_path, [
        row(-5, False, "bid", 99, 7),  # before the first snapshot: skipped
        *BASE,
        row(0, True, "bid", 99.5, 2),  # same snapshot block
        row(10, False, "bid", 100, 0),  # removes the best bid
        row(10, False, "ask", 100.5, 3),
        row(20, False, "ask", 102, 1),
        row(30, True, "bid", 98, 4),  # a new snapshot block resets the book
        row(30, True, "ask", 99, 5),
        row(40, False, "bid", 98.5, 1),
    ])  # fmt: skip
    (day,) = tardis.load(path, levels=2, trades=False)
    nan = np.nan
    assert day.ts.tolist() == [(US + t) * 1000 for t in (0, 10, 20, 30, 40)]
    np.testing.assert_array_equal(day.bid_px, [[100, 99.5], [99.5, nan], [99.5, nan], [98, nan], [98.5, 98]])
    np.testing.assert_array_equal(day.bid_sz, [[1, 2], [2, 0], [2, 0], [4, 0], [1, 4]])
    np.testing.assert_array_equal(day.ask_px, [[101, nan], [100.5, 101], [100.5, 101], [99, nan], [99, nan]])
    np.testing.assert_array_equal(day.ask_sz, [[1, 0], [3, 1], [3, 1], [5, 0], [5, 0]])
    n = day.meta.notes
    assert (n["updates_before_first_snapshot"], n["snapshots"]) == (1, 2)
    assert (day.meta.tick_size, day.meta.lot_size, day.meta.symbol) == (0.5, 1.0, "TEST")
    assert (day.meta.session_open_ns, day.meta.session_close_ns) == ((US + 0) * 1000, (US + 40) * 1000)
    assert day.n_trades == 0  # no paired trades file


def test_trades_sides_and_pairing_by_name(tmp_path):
    path = book_file(tmp_path, BASE)
    write(tmp_path / "x_trades_2023-11-14_TEST.csv.gz", [
        TRADE_HEAD, f"x,TEST,{US + 1},{US + 2},7,buy,101,0.5", f"x,TEST,{US + 3},{US + 4},,sell,100,1",
        f"x,TEST,{US + 5},{US + 6},9,unknown,100.5,2",
    ])  # fmt: skip
    (day,) = tardis.load(path)
    assert day.trade_ts.tolist() == [(US + t) * 1000 for t in (2, 4, 6)]  # local_timestamp is the clock
    assert day.trade_side.tolist() == [1, -1, 0] and day.trade_sz.tolist() == [0.5, 1.0, 2.0]
    assert day.meta.lot_size == 0.5 and day.meta.notes["exchange_minus_local_ms"]["median"] == -0.001
    assert day.meta.session_close_ns == (US + 6) * 1000


# -- malformed files ------------------------------------------------------------------------------


CROSSED = "pass crossed='drop' to drop crossed and locked rows (counted in notes)"


@pytest.mark.parametrize(
    "bad, field, message",
    [
        ("x,TEST,1,2,false,bid,100", "amount", "wrong column count: 7 fields, expected 8; 'amount' is missing"),  # wrong column count
        (f"x,TEST,{US + 1},{US + 1},false,bid,abc,1", "price", "unparsable number 'abc'"),
        (f"x,TEST,{US + 1},{US + 1},false,bid,,1", "price", "missing value"),
        (f"x,TEST,{US + 1},1.5e9x,false,bid,100,1", "local_timestamp", "unparsable number '1.5e9x'"),
        (f"x,TEST,{US + 1},{US + 1},maybe,bid,100,1", "is_snapshot", "'maybe' is not one of true, false"),
        (f"x,TEST,{US + 1},{US + 1},false,buy,100,1", "side", "'buy' is not one of bid, ask"),
        (f"x,TEST,{US + 1},{US + 1},false,ask,102,-1", "amount", "amount must be finite and >= 0, got -1.0"),
        (f"x,TEST,{US - 1},{US - 1},false,ask,102,1", "local_timestamp",
         f"time {US - 1} is before the previous line's {US} (Tardis files are ordered by it)"),  # unsorted
        (f"x,TEST,{US + 1},{US + 1},false,bid,101.5,1", "price", f"crossed book: best bid 101.5 > best ask 101.0; {CROSSED}"),
        (f"x,TEST,{US + 1},{US + 1},false,bid,101,1", "price", f"locked book: best bid 101.0 == best ask 101.0; {CROSSED}"),
    ],
)  # fmt: skip
def test_malformed_book_row_names_file_line_and_field(tmp_path, bad, field, message):
    path = book_file(tmp_path, [*BASE, bad])
    with pytest.raises(ValueError) as err:
        tardis.load(path, trades=False)
    assert str(err.value) == f"{path}: line 4, field '{field}': {message}"


def test_dropped_crossed_rows_on_request(tmp_path):
    path = book_file(tmp_path, [*BASE, row(1, False, "bid", 101.5, 1), row(2, False, "ask", 102, 1),
                                row(2, False, "ask", 101, 0)])  # fmt: skip
    (day,) = tardis.load(path, crossed="drop", trades=False)
    assert day.ts.tolist() == [US * 1000, (US + 2) * 1000] and day.meta.notes["dropped_crossed_rows"] == 1
    assert (day.bid_px[1, 0], day.ask_px[1, 0]) == (101.5, 102)


@pytest.mark.parametrize(
    "bad, field, message",
    [
        (f"x,TEST,{US},{US},1,buy,100", "amount", "wrong column count: 7 fields, expected 8; 'amount' is missing"),
        (f"x,TEST,{US},{US},1,buy,100,-2", "amount", "trade amount must be finite and > 0, got -2.0"),
        (f"x,TEST,{US},{US},1,taker,100,2", "side", "'taker' is not one of buy, sell, unknown"),
        (f"x,TEST,{US},{US},1,buy,1o0,2", "price", "unparsable number '1o0'"),
    ],
)
def test_malformed_trades_row(tmp_path, bad, field, message):
    path = book_file(tmp_path, BASE)
    trades = write(tmp_path / "t.csv.gz", [TRADE_HEAD, f"x,TEST,{US},{US},0,sell,100,1", bad])
    with pytest.raises(ValueError) as err:
        tardis.load(path, trades=trades)
    assert str(err.value) == f"{trades}: line 3, field '{field}': {message}"


def test_snapshot_file_errors(tmp_path):
    cols = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount"
    path = write(tmp_path / "s.csv.gz", [cols, f"x,T,{US},{US},101,1,100,2", f"x,T,{US + 1},{US + 1},101,,100,2"])
    with pytest.raises(ValueError, match=error(path, 3, "asks[0].amount") + ": missing value"):
        tardis.load(path)
    path = write(tmp_path / "s.csv.gz", [cols, f"x,T,{US},{US},101,1,100,2", f"x,T,{US + 1},{US + 1},101,1,102,2"])
    with pytest.raises(ValueError, match=error(path, 3, "bids[0].price") + ": crossed book"):
        tardis.load(path)
    with pytest.raises(ValueError) as err:
        tardis.load(path, levels=2)
    assert str(err.value) == f"option levels=2 is invalid; allowed: 1..1 (the depth of {path})"


def test_file_level_errors(tmp_path):
    trades = write(tmp_path / "x_trades_2023-11-14_TEST.csv.gz", [TRADE_HEAD, f"x,TEST,{US},{US},1,buy,100,1"])
    with pytest.raises(ValueError, match="a Tardis trades file has no order book"):
        tardis.load(trades)
    other = write(tmp_path / "o.csv.gz", [TRADE_HEAD, f"y,TEST,{US},{US},1,buy,100,1"])
    path = book_file(tmp_path, BASE)
    with pytest.raises(ValueError, match="exchange 'y' differs from the book file's 'x'"):
        tardis.load(path, trades=other)
    two = book_file(tmp_path, [*BASE, row(0, True, "bid", 50, 1, sym="OTHER"), row(5, False, "bid", 100, 2)],
                    "two.csv.gz")  # fmt: skip
    with pytest.raises(ValueError) as err:
        tardis.load(two, trades=False)
    assert (
        str(err.value)
        == f"{two}: line 4, field 'symbol': 2 symbols in the file (TEST, OTHER); pass symbol= to pick one"
    )
    with pytest.raises(ValueError) as err:
        tardis.load(two, symbol="NONE", trades=False)
    assert str(err.value) == (
        f"{two}: line 2, field 'symbol': option symbol='NONE' matches none of the file's symbols (TEST, OTHER)"
    )
    (day,) = tardis.load(two, symbol="TEST", trades=False)
    assert day.meta.notes["rows_other_symbols"] == 1 and day.bid_px[0, 0] == 100
    mixed = book_file(tmp_path, [*BASE, row(5, False, "bid", 100, 2).replace("x,", "binance,", 1)], "mixed.csv.gz")
    with pytest.raises(ValueError) as err:
        tardis.load(mixed, trades=False)
    assert (
        str(err.value)
        == f"{mixed}: line 4, field 'exchange': 'binance' after 'x' (line 2): one file holds one exchange"
    )
    bad_header = write(tmp_path / "h.csv.gz", ["exchange,symbol,timestamp,price", "x,T,1,2"])
    assert not tardis.sniff(bad_header)
    with pytest.raises(ValueError, match=error(bad_header, 1, "header")):
        tardis.load(bad_header)
    with pytest.raises(ValueError, match="option tick_size=0 is invalid"):
        tardis.load(path, tick_size=0)
    with pytest.raises(ValueError, match="option trades=3 is invalid"):
        tardis.load(path, trades=3)


# -- captures in several files ---------------------------------------------------------------------


def split_at(path: Path, t_us: int, names: tuple[Path, Path]) -> tuple[Path, Path]:
    """Write the rows of a Tardis file before / from local time ``t_us`` as two files, each with the header."""
    with gzip.open(path, "rt") as fh:
        header, *rows = fh.read().splitlines()
    cut = next(k for k, r in enumerate(rows) if int(r.split(",")[3]) >= t_us)
    return write(names[0], [header, *rows[:cut]]), write(names[1], [header, *rows[cut:]])


def test_a_capture_split_at_midnight_continues_the_previous_files_book(us_day, tmp_path):
    shift = (14 * 3600 + 35 * 60) * 10**9  # 14:30-14:40 UTC -> 23:55-00:05: the capture crosses midnight
    m = us_day.meta
    day = replace(us_day, ts=us_day.ts - shift, trade_ts=us_day.trade_ts - shift,
                  meta=replace(m, session_open_ns=m.session_open_ns - shift, session_close_ns=m.session_close_ns - shift,
                               date="2024-01-01"))  # fmt: skip
    book, trades = tardis.write_tardis(day, tmp_path / "whole", exchange="x")
    midnight_us = 1_704_153_600 * 10**6  # 2024-01-02 00:00 UTC
    split = tmp_path / "split"
    split.mkdir()
    first, second = split_at(book, midnight_us, tuple(split / f"x_incremental_book_L2_{d}_SYNTH.csv.gz" for d in ("2024-01-01", "2024-01-02")))  # fmt: skip
    split_at(trades, midnight_us, tuple(split / f"x_trades_{d}_SYNTH.csv.gz" for d in ("2024-01-01", "2024-01-02")))
    with gzip.open(second, "rt") as fh:
        assert "true" not in {r.split(",")[4] for r in fh.read().splitlines()[1:]}  # no snapshot of its own
    options = {"levels": day.levels, "lot_size": 1.0}
    whole = tardis.load(book, **options)
    assert [d.meta.date for d in whole] == ["2024-01-01", "2024-01-02"]
    for days in (tardis.load([first, second], **options), load_market(split, cache=False, **options).days):
        assert len(days) == 2
        for chained, one in zip(days, whole, strict=True):
            assert_same(chained, one)
            assert chained.meta.source == f"{first}, {second}"
            assert (chained.meta.session_open_ns, chained.meta.session_close_ns) == (
                one.meta.session_open_ns, one.meta.session_close_ns)  # fmt: skip
            assert (
                chained.meta.notes["trades_file"]
                == f"{split / 'x_trades_2024-01-01_SYNTH.csv.gz'}, {split / 'x_trades_2024-01-02_SYNTH.csv.gz'}"
            )
            assert (chained.meta.notes["file_restarts"], chained.meta.notes["updates_before_first_snapshot"]) == (0, 0)
    with pytest.raises(ValueError) as err:
        tardis.load(second, **options)  # alone: updates without a book
    assert str(err.value) == (
        f"{second}: no book row (no is_snapshot=true block to start the book from); a capture split in files "
        "(e.g. at midnight): load them together, oldest first"
    )
    assert tardis.stream_key(first) == ("x incremental SYNTH", int(day.ts[0] // 1000))
    assert tardis.stream_key(split / "x_trades_2024-01-01_SYNTH.csv.gz") is None


def test_a_later_file_with_its_own_snapshot_restarts_and_overlap_names_the_later_file(tmp_path):
    one = book_file(tmp_path, [*BASE, row(10, False, "bid", 100, 3)], "one.csv.gz")
    two = book_file(tmp_path, [row(20, True, "bid", 98, 4), row(20, True, "ask", 99, 5), row(30, False, "ask", 99, 1)],
                    "two.csv.gz")  # fmt: skip
    (day,) = tardis.load([one, two], levels=1, trades=False)
    assert day.ts.tolist() == [(US + t) * 1000 for t in (0, 10, 20, 30)]
    assert day.bid_px[:, 0].tolist() == [100, 100, 98, 98] and day.ask_sz[:, 0].tolist() == [1, 1, 5, 1]
    assert (day.meta.notes["snapshots"], day.meta.notes["file_restarts"]) == (2, 1)
    # a later file of updates continues the book, the first file's snapshot included
    three = book_file(tmp_path, [row(20, False, "ask", 100.5, 2)], "three.csv.gz")
    (day,) = tardis.load([one, three], levels=2, trades=False)
    assert day.ask_px[-1].tolist() == [100.5, 101] and day.bid_sz[-1].tolist() == [3, 0]
    back = book_file(tmp_path, [row(5, False, "ask", 100.5, 2)], "back.csv.gz")
    with pytest.raises(ValueError) as err:
        tardis.load([one, back], trades=False)
    assert str(err.value) == (
        f"{back}: line 2, field 'local_timestamp': time {US + 5} is before the previous line's {US + 10} "
        "(Tardis files are ordered by it)"
    )
    snap25 = write(tmp_path / "s.csv.gz", [",".join(tardis._snapshot_columns(1)), f"x,TEST,{US},{US},101,1,100,2"])
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(snap25))}: a Tardis snapshot file in a stream of incremental"
    ):
        tardis.load([one, snap25])


@pytest.mark.parametrize(
    "bad, field, problem",
    [
        (
            'x,TEST,"1,2,false,bid,100,1',
            "timestamp",
            "a quote character opens a quoted field that does not close on its line",
        ),
        (row(1, False, "bid", 100, 2).replace(",100,", ", ,"), "price", "blank value ' '"),
        (f"x,TEST,1e19,{US + 1},false,bid,100,2", "timestamp", "integer out of the 64-bit range: '1e19'"),
    ],
)
def test_values_the_csv_parser_refuses_are_errors_naming_the_line(tmp_path, bad, field, problem):
    path = book_file(tmp_path, [*BASE, bad, row(2, False, "ask", 101, 3)])
    with pytest.raises(ValueError) as err:
        tardis.load(path, trades=False)
    assert str(err.value) == f"{path}: line 4, field '{field}': {problem}"

"""LOBSTER loader and writer: exact semantics on hand-written pairs, round trips, every detected
error, and the real samples of ``../shared/data/lobster``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines import TWAP
from exec_env.market import MarketCatalogue, MarketDay, lobster
from exec_env.market.sources import detect_format, load_days, load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

S = 10**9
BOOK_ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz")
TRADE_ARRAYS = ("trade_ts", "trade_px", "trade_sz", "trade_side")
# 2020-01-02 in New York is UTC-5: local midnight is 05:00 UTC.
MIDNIGHT_2020 = int(dt.datetime(2020, 1, 2, 5, tzinfo=dt.timezone.utc).timestamp()) * S
# 2012-06-21 in New York is UTC-4 (daylight saving time): 09:30 local is 13:30 UTC.
OPEN_2012 = int(dt.datetime(2012, 6, 21, 13, 30, tzinfo=dt.timezone.utc).timestamp()) * S
AMZN = "AMZN_2012-06-21_34200000_57600000_message_1.csv"
AAPL = "AAPL_2012-06-21_34200000_57600000_message_10.csv"


def write_pair(folder: Path, messages: list[str], book: list[str], levels: int = 1,
               stem: str = "TEST_2020-01-02_34200000_57600000", newline: str = "\n") -> Path:  # fmt: skip
    msg = folder / f"{stem}_message_{levels}.csv"
    msg.write_bytes(newline.join(messages).encode() + newline.encode())
    (folder / f"{stem}_orderbook_{levels}.csv").write_bytes(newline.join(book).encode() + newline.encode())
    return msg


def same_arrays(a: MarketDay, b: MarketDay, names=BOOK_ARRAYS + TRADE_ARRAYS) -> None:
    for name in names:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=True), name


# -- exact semantics on a hand-written level-2 pair ----------------------------------------------
EMPTY = "9999999999,0,-9999999999,0"
MESSAGES = [
    "34200.000000001,1,1,100,1000000,1",  # bid 100.00 x 100
    "34200.5,1,2,200,1001000,-1",  # ask 100.10 x 200
    "34200.5,1,3,50,999900,1",  # same time: bid 99.99 x 50 at level 2
    "34201.25,4,2,20,1001000,-1",  # resting sell executed: buyer-initiated 20 @ 100.10
    "34201.25,5,0,7,1000050,1",  # hidden resting buy executed: seller-initiated 7 @ 100.005
    "34202,6,0,1000,1000500,-1",  # cross trade
    "34203,7,0,0,-1,-1",  # trading halt
    "34204,7,0,0,0,-1",  # quoting resumes
    "34205,7,0,0,1,-1",  # trading resumes
    "34206.123456789,3,3,50,999900,1",  # bid level 2 deleted
]
BOOK = [
    f"9999999999,0,1000000,100,{EMPTY}",
    f"1001000,200,1000000,100,{EMPTY}",
    "1001000,200,1000000,100,9999999999,0,999900,50",
    "1001000,180,1000000,100,9999999999,0,999900,50",
    *["1001000,180,1000000,100,9999999999,0,999900,50"] * 5,
    f"1001000,180,1000000,100,{EMPTY}",
]


def t(seconds: float) -> int:
    return MIDNIGHT_2020 + round(seconds * S)


@pytest.fixture
def hand_pair(tmp_path: Path) -> Path:
    return write_pair(tmp_path, MESSAGES, BOOK, levels=2)


def test_hand_written_pair_last_row_per_time(hand_pair: Path) -> None:
    (day,) = lobster.load(hand_pair)
    rows = [0, 2, 4, 5, 6, 7, 8, 9]  # last orderbook row of each timestamp
    secs = [34200.000000001, 34200.5, 34201.25, 34202, 34203, 34204, 34205]
    assert day.ts.tolist() == [t(s) for s in secs] + [MIDNIGHT_2020 + 34206 * S + 123456789]
    assert day.n_books == len(rows)
    np.testing.assert_array_equal(day.bid_px[0], [100.0, np.nan])
    np.testing.assert_array_equal(day.bid_sz[0], [100.0, 0.0])
    np.testing.assert_array_equal(day.ask_px[0], [np.nan, np.nan])
    np.testing.assert_array_equal(day.ask_sz[0], [0.0, 0.0])
    np.testing.assert_array_equal(day.bid_px[1], [100.0, 99.99])
    np.testing.assert_array_equal(day.ask_px[1], [100.1, np.nan])
    np.testing.assert_array_equal(day.ask_sz[2], [180.0, 0.0])
    np.testing.assert_array_equal(day.bid_px[-1], [100.0, np.nan])
    assert day.trade_ts.tolist() == [t(34201.25), t(34201.25)]
    assert day.trade_px.tolist() == [100.1, 100.005]
    assert day.trade_sz.tolist() == [20.0, 7.0]
    assert day.trade_side.tolist() == [1, -1]
    assert day.halts.tolist() == [[t(34203), t(34205)]]
    meta = day.meta
    assert (meta.symbol, meta.date, meta.tick_size, meta.lot_size) == ("TEST", "2020-01-02", 0.01, 1.0)
    assert meta.session_open_ns == MIDNIGHT_2020 + 34200 * S
    assert meta.session_close_ns == MIDNIGHT_2020 + 57600 * S
    assert meta.source == str(hand_pair)
    notes = meta.notes
    assert notes["events"] == 10 and notes["book_rows_collapsed_same_time"] == 2
    assert notes["event_counts"] == {
        "new_limit_order": 3, "partial_cancel": 0, "delete": 1, "visible_execution": 1, "hidden_execution": 1,
        "cross_trade": 1, "trading_halt": 3,
    }  # fmt: skip
    assert notes["cross_trades"] == "exclude" and notes["cross_trade_volume"] == 1000
    assert notes["off_tick_trade_prices"] == 1  # the hidden execution at 100.005
    assert notes["off_tick_best_quotes"] == 0
    assert notes["halts"] == [
        {"halt": "09:30:03.000000000", "halt_row": 7, "quoting_resumed": "09:30:04.000000000",
         "trading_resumed": "09:30:05.000000000", "trading_resumed_row": 9},
    ]  # fmt: skip
    assert notes["trades_during_halts"] == 0
    assert notes["utc_offset_s"] == -5 * 3600


def test_hand_written_pair_options(hand_pair: Path) -> None:
    (every,) = lobster.load(hand_pair, same_time="all", cross_trades="include", symbol="X", tick_size=0.03,
                            lot_size=100, timezone="Europe/London")  # fmt: skip
    london = MIDNIGHT_2020 - 5 * 3600 * S  # London is UTC+0 in January
    assert every.n_books == 10
    assert every.ts[1] == every.ts[2] == london + 34200 * S + S // 2
    np.testing.assert_array_equal(every.bid_sz[1], [100.0, 0.0])  # the intermediate row is kept
    assert every.trade_px.tolist() == [100.1, 100.005, 100.05]
    assert every.trade_side.tolist() == [1, -1, 0]
    meta = every.meta
    assert (meta.symbol, meta.tick_size, meta.lot_size) == ("X", 0.03, 100.0)
    # on a 0.03 grid (300 units): 100.10 and 100.005 are off, 100.05 on; every best quote is off
    assert meta.notes["off_tick_trade_prices"] == 2 and meta.notes["off_tick_best_quotes"] == 1 + 9 * 2


def test_either_file_of_the_pair_loads_the_same_day(hand_pair: Path) -> None:
    book_file = lobster.companions(hand_pair)[0]
    assert book_file.name == "TEST_2020-01-02_34200000_57600000_orderbook_2.csv"
    assert lobster.companions(book_file) == [hand_pair]
    assert lobster.sniff(hand_pair) and lobster.sniff(book_file)
    assert not lobster.sniff(hand_pair.with_name("notes_2020-01-02.csv"))
    assert detect_format(book_file) == "lobster"
    a, b = lobster.load(hand_pair)[0], lobster.load(book_file)[0]
    same_arrays(a, b)
    assert a.meta == b.meta


def test_line_endings_and_trailing_blank_lines(tmp_path: Path, hand_pair: Path) -> None:
    crlf = tmp_path / "crlf"
    crlf.mkdir()
    other = write_pair(crlf, MESSAGES, BOOK, levels=2, newline="\r\n")
    msg_path = lobster.companions(other)[0]
    msg_path.write_bytes(msg_path.read_bytes() + b"\r\n\n")
    same_arrays(lobster.load(other)[0], lobster.load(hand_pair)[0])
    bare = tmp_path / "bare"
    bare.mkdir()
    last = write_pair(bare, MESSAGES, BOOK, levels=2)
    last.write_bytes(last.read_bytes().rstrip(b"\n"))  # no final newline
    same_arrays(lobster.load(last)[0], lobster.load(hand_pair)[0])


def test_halt_irregularities(tmp_path: Path) -> None:
    book = ["1001000,100,1000000,100"] * 3
    resumed_only = write_pair(tmp_path, ["34210,1,1,100,1000000,1", "34220,7,0,0,1,-1", "34230,3,1,1,1000000,1"],
                              book)  # fmt: skip
    (day,) = lobster.load(resumed_only)
    assert day.halts.tolist() == [[MIDNIGHT_2020 + 34200 * S, t(34220)]]  # halted from the open
    assert "without a halt message" in day.meta.notes["halts"][0]["note"]
    never = tmp_path / "never"
    never.mkdir()
    (day,) = lobster.load(write_pair(never, ["34210,1,1,100,1000000,1", "34220,7,0,0,-1,-1",
                                             "34230,4,1,5,1001000,-1"], book))  # fmt: skip
    assert day.halts.tolist() == [[t(34220), MIDNIGHT_2020 + 57600 * S]]
    assert day.meta.notes["trades_during_halts"] == 1
    assert "never resumed" in day.meta.notes["halts"][0]["note"]


# -- round trips through write_lobster ------------------------------------------------------------
@pytest.fixture(scope="module")
def every_event_day() -> MarketDay:
    """Synthetic day with a book row at every event time (so every trade time has one) and halts."""
    day = generate_day(SyntheticParams(session_seconds=600, snapshot_interval_ms=0, levels=5), seed=5, day_index=2)
    halts = np.array([[day.ts[1000], day.ts[1500]], [day.ts[4000], day.ts[4001]]], dtype=np.int64)
    return replace(day, halts=halts)


def test_round_trip_is_exact(every_event_day: MarketDay, tmp_path: Path) -> None:
    day = every_event_day
    assert np.isin(day.trade_ts, day.ts).all() and (np.diff(day.ts) > 0).all()  # the documented condition
    msg, book = lobster.write_lobster(day, tmp_path)
    assert msg.name == "SYNTH_2024-01-04_34200000_34800000_message_5.csv"
    assert book.name == "SYNTH_2024-01-04_34200000_34800000_orderbook_5.csv"
    for path in (msg, book):
        (back,) = lobster.load(path, tick_size=day.meta.tick_size, lot_size=day.meta.lot_size)
        same_arrays(back, day)
        assert np.array_equal(back.halts, day.halts)
        for name in ("symbol", "date", "tick_size", "lot_size", "session_open_ns", "session_close_ns"):
            assert getattr(back.meta, name) == getattr(day.meta, name), name
        assert back.levels == day.levels
        assert back.meta.notes["events"] == day.n_books + day.n_trades + 2 * len(day.halts)


def test_round_trip_of_subsampled_day_adds_rows_at_trade_times(tmp_path: Path) -> None:
    day = generate_day(SyntheticParams(session_seconds=300, levels=3), seed=1, day_index=0)  # 250 ms snapshots
    lonely = np.setdiff1d(day.trade_ts, day.ts)
    assert lonely.size > 0
    (back,) = lobster.load(lobster.write_lobster(day, tmp_path, ticker="SUB", date="2024-01-02")[0])
    same_arrays(back, day, TRADE_ARRAYS)
    assert back.n_books == day.n_books + lonely.size
    at_original = np.isin(back.ts, day.ts)
    assert np.array_equal(back.ts[at_original], day.ts)
    for name in BOOK_ARRAYS[1:]:
        ours, theirs = getattr(back, name), getattr(day, name)
        assert np.array_equal(ours[at_original], theirs, equal_nan=True)
        # an added row repeats the book in force (the last original row before it)
        prev = np.searchsorted(day.ts, back.ts[~at_original], side="right") - 1
        assert np.array_equal(ours[~at_original], theirs[prev], equal_nan=True)


def test_writer_refuses_what_lobster_cannot_hold(every_event_day: MarketDay, tmp_path: Path) -> None:
    day = every_event_day
    off_grid = day.bid_px.copy()
    off_grid[7, 1] += 0.00003
    with pytest.raises(ValueError, match=r"field 'bid_px' \(7, 1\).*1e-4 grid"):
        lobster.write_lobster(replace(day, bid_px=off_grid), tmp_path)
    with pytest.raises(ValueError, match=r"field 'trade_sz' \(0,\).*whole shares"):
        lobster.write_lobster(replace(day, trade_sz=day.trade_sz - 0.5), tmp_path)
    unknown = day.trade_side.copy()
    unknown[3] = 0
    with pytest.raises(ValueError, match="trade 3 has side 0"):
        lobster.write_lobster(replace(day, trade_side=unknown), tmp_path)
    with pytest.raises(ValueError, match="precedes the first book row"):
        lobster.write_lobster(replace(day, trade_ts=day.trade_ts - (day.trade_ts[0] - day.ts[0] + 1)), tmp_path)
    assert not list(tmp_path.iterdir())


# -- malformed files ----------------------------------------------------------------------------
BASE_MSG = ["34200.1,1,1,100,1000000,1", "34200.2,1,2,100,1001000,-1", "34200.3,4,2,10,1001000,-1"]
BASE_BOOK = ["9999999999,0,1000000,100", "1001000,100,1000000,100", "1001000,90,1000000,100"]

MALFORMED = [
    # (file, row, replacement, field, message fragment)
    (
        "message",
        2,
        "34200.2,1,2,100,1001000",
        "direction",
        "wrong column count: 5 fields, expected 6; 'direction' is missing",
    ),
    (
        "message",
        2,
        "34200.2,1,2,100,1001000,-1,7",
        "direction",
        "wrong column count: 7 fields, expected 6; 'direction' is followed by extra fields",
    ),
    (
        "orderbook",
        3,
        "1001000,90,1000000",
        "bid_size_1",
        "wrong column count: 3 fields, expected 4; 'bid_size_1' is missing",
    ),
    ("message", 2, "34200.2,1,2,100,10010x0,-1", "price", "unparsable number '10010x0'"),
    ("message", 2, "34200.2.5,1,2,100,1001000,-1", "time", "unparsable number '34200.2.5'"),
    ("message", 2, "34200.1234567891,1,2,100,1001000,-1", "time", "at most 9 decimals"),
    (
        "message",
        2,
        "-34200.2,1,2,100,1001000,-1",
        "time",
        "not seconds after midnight with at most 9 decimals: '-34200.2'",
    ),
    ("orderbook", 2, "1001000,abc,1000000,100", "ask_size_1", "unparsable number 'abc'"),
    ("orderbook", 2, "1001000,100,1000000,1e2", "bid_size_1", "not an integer: '1e2'"),
    (
        "message",
        3,
        "34200.15,4,2,10,1001000,-1",
        "time",
        "time 34200150000000 is before the previous line's 34200200000000 (rows must be in time order)",
    ),
    ("message", 1, "34200.1,1,1,-100,1000000,1", "size", "size must be finite and >= 0, got -100"),
    ("orderbook", 2, "1001000,-5,1000000,100", "ask_size_1", "size must be finite and >= 0, got -5"),
    ("orderbook", 1, "9999999999,5,1000000,100", "ask_size_1", "size 5 at an empty level"),
    ("orderbook", 2, "1001000,0,1000000,100", "ask_size_1", "size 0 at price 1001000"),
    ("orderbook", 2, "1001000,100,-1000000,100", "bid_price_1", "price -1000000 is not positive"),
    ("orderbook", 2, "1001000,100,1002000,100", "bid_price_1", "crossed book: best bid 100.2 > best ask 100.1"),
    ("orderbook", 2, "1001000,100,1001000,100", "bid_price_1", "locked book: best bid 100.1 == best ask 100.1"),
    ("message", 2, "34200.2,9,2,100,1001000,-1", "type", "9 is not one of 1, 2, 3, 4, 5, 6, 7"),
    ("message", 2, "34200.2,1,2,100,1001000,0", "direction", "0 is not one of 1, -1"),
    ("message", 3, "34200.3,4,2,0,1001000,-1", "size", "an execution (type 4) needs a size > 0"),
    ("message", 3, "34200.3,5,0,10,0,-1", "price", "an execution (type 5) needs a price > 0"),
    ("message", 2, "34200.2,7,0,0,5,-1", "price", "a trading halt message (type 7) has price -1, 0 or 1, got 5"),
    ("message", 2, "86400.2,1,2,100,1001000,-1", "time", "is not within the day"),
    ("message", 2, "34200.2,1,-2,100,1001000,-1", "order_id", "negative order id -2"),
    ("message", 2, "34200.2,2,2,100,0,-1", "price", "a cancellation (type 2) needs a price > 0, got 0"),
    ("message", 2, "", "time", "empty line"),
    ("orderbook", 2, "", "ask_price_1", "empty line"),
    ("message", 2, "34200.2,1,2,100,1001000,-1\r\r", "direction", "not an integer of at most 18 digits: '-1\\r'"),
    ("orderbook", 2, "1001000,100,1000000,100\r\r", "bid_size_1", "not an integer of at most 18 digits: '100\\r'"),
]


@pytest.mark.parametrize(("kind", "row", "line", "field", "fragment"), MALFORMED)
def test_malformed_files_name_file_row_and_field(tmp_path: Path, kind, row, line, field, fragment) -> None:
    msg, book = list(BASE_MSG), list(BASE_BOOK)
    (msg if kind == "message" else book)[row - 1] = line
    path = write_pair(tmp_path, msg, book)
    bad_file = path if kind == "message" else lobster.companions(path)[0]
    for given in (path, lobster.companions(path)[0]):
        with pytest.raises(ValueError) as info:
            lobster.load(given)
        text = str(info.value)
        assert text.startswith(f"{bad_file}: line {row}, field '{field}': "), text
        assert fragment in text, text


def test_of_several_faults_the_first_check_in_order_is_reported(tmp_path: Path) -> None:
    """The checks run in a fixed order (type, direction, size, ...), each naming its first bad line:
    a bad type on line 3 is reported before a negative size on line 1."""
    msg = ["34200.1,1,1,-100,1000000,1", BASE_MSG[1], "34200.3,8,2,10,1001000,-1"]
    with pytest.raises(ValueError, match=r"line 3, field 'type': 8 is not one of"):
        lobster.load(write_pair(tmp_path, msg, BASE_BOOK))


def test_base_pair_is_valid(tmp_path: Path) -> None:
    (day,) = lobster.load(write_pair(tmp_path, BASE_MSG, BASE_BOOK))
    assert day.n_books == 3 and day.trade_side.tolist() == [1]


def test_crossed_and_locked_rows_can_be_dropped(tmp_path: Path) -> None:
    msg = [*BASE_MSG, "34200.4,1,3,100,1001000,1", "34200.5,1,4,100,1002000,1", "34200.6,3,4,100,1002000,1"]
    book = [*BASE_BOOK, "1001000,90,1001000,100", "1001000,90,1002000,100", "1001000,90,1000000,100"]
    path = write_pair(tmp_path, msg, book)
    with pytest.raises(
        ValueError, match=r"line 4, field 'bid_price_1': locked book: best bid 100.1 == best ask 100.1; pass"
    ):
        lobster.load(path)
    (day,) = lobster.load(path, crossed="drop")
    assert day.n_books == 4
    assert day.ts.tolist() == [t(34200.1), t(34200.2), t(34200.3), t(34200.6)]
    assert day.meta.notes["dropped_crossed_rows"] == 1 and day.meta.notes["dropped_locked_rows"] == 1


def test_a_message_file_of_a_byte_order_mark_only_is_empty(tmp_path: Path) -> None:
    path = write_pair(tmp_path, BASE_MSG, BASE_BOOK)
    path.write_bytes(b"\xef\xbb\xbf")  # was a raw IndexError
    with pytest.raises(ValueError) as err:
        lobster.load(path)
    assert (
        str(err.value)
        == f"{path}: line 1: the file is empty (3 bytes of UTF-8 (BOM) text, all white space); expected market data"
    )


@pytest.mark.parametrize("extra", [1, -1])
def test_length_mismatch_names_both_files_and_counts(tmp_path: Path, extra: int) -> None:
    book = [*BASE_BOOK, BASE_BOOK[-1]] if extra > 0 else BASE_BOOK[:-1]
    path = write_pair(tmp_path, BASE_MSG, book)
    book_file = lobster.companions(path)[0]
    message = (
        f"{path} has 3 rows but {book_file.name} has {3 + extra} rows; orderbook row k must be the book after message k"
    )
    for given in (path, book_file):
        with pytest.raises(ValueError) as err:
            lobster.load(given)
        assert str(err.value) == message  # the orderbook file by name: the folder once, not twice


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("AMZN_2012-06-21_message_1.csv", "does not follow the LOBSTER pattern"),
        ("AMZN_2012-06-21_34200000_57600000_messages_1.csv", "does not follow the LOBSTER pattern"),
        ("AMZN_2012-06-21_34200000_57600000_message_1.txt", "does not follow the LOBSTER pattern"),
        ("AMZN_2012-13-45_34200000_57600000_message_1.csv", "field 'date': '2012-13-45' is not a calendar date"),
        ("AMZN_2012-06-21_34200000_57600000_message_0.csv", "field 'levels': 0 is outside 1..50"),
        ("AMZN_2012-06-21_34200000_57600000_message_51.csv", "field 'levels': 51 is outside 1..50"),
        ("AMZN_2012-06-21_57600000_34200000_message_1.csv", "fields 'start'/'end'"),
    ],
)
def test_bad_file_name(tmp_path: Path, name: str, fragment: str) -> None:
    path = tmp_path / name
    path.write_text("\n".join(BASE_MSG))
    with pytest.raises(ValueError) as info:
        lobster.load(path)
    assert str(info.value).startswith(f"{path}: file name") and fragment in str(info.value)


def test_missing_partner(tmp_path: Path) -> None:
    path = write_pair(tmp_path, BASE_MSG, BASE_BOOK)
    book_file = lobster.companions(path)[0]
    book_file.unlink()
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{path}: its LOBSTER partner file {book_file.name} is missing beside it")
    ):
        lobster.load(path)
    with pytest.raises(FileNotFoundError, match="partner file"):
        lobster.companions(path)
    (tmp_path / "other").mkdir()
    lonely = write_pair(tmp_path / "other", BASE_MSG, BASE_BOOK)
    book_only = lobster.companions(lonely)[0]
    lonely.unlink()
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{book_only}: its LOBSTER partner file {lonely.name} is missing beside it")
    ):
        lobster.load(book_only)


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("tick_size", 0.0, "a finite number > 0"),
        ("lot_size", float("nan"), "a finite number > 0"),
        ("symbol", "", "None or a non-empty string"),
        ("timezone", "Mars/Olympus_Mons", "an IANA time zone name"),
        ("same_time", "first", "one of 'last', 'all'"),
        ("cross_trades", "maybe", "one of 'exclude', 'include'"),
        ("crossed", "fix", "one of 'raise', 'drop'"),
    ],
)
def test_bad_options(tmp_path: Path, option: str, value, allowed: str) -> None:
    path = write_pair(tmp_path, BASE_MSG, BASE_BOOK)
    with pytest.raises(ValueError) as err:
        lobster.load(path, **{option: value})
    assert str(err.value).startswith(f"option {option}={value!r} is invalid; allowed: {allowed}")


# -- the real samples -----------------------------------------------------------------------------
def run_episode(env: ExecutionEnv, policy, options: dict | None = None, seed: int = 0) -> tuple[float, dict]:
    obs, _ = env.reset(seed=seed, options=options)
    total, terminated, info = 0.0, False, {}
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        assert not truncated
        total += reward
    return total, info


def check_episodes(day: MarketDay, horizon_s: float, interval_s: float, quantity: float, start_ns: int | None,
                   within: tuple[int, int]) -> None:  # fmt: skip
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day]), horizon_s=horizon_s,
                                       decision_interval_s=interval_s, warmup_s=0, quantity=quantity, side="buy"))  # fmt: skip
    env.action_space.seed(3)
    twap = TWAP()
    options = {"start_ns": start_ns} if start_ns is not None else None
    for policy in (lambda o: twap.predict(o)[0], lambda o: env.action_space.sample()):
        total, info = run_episode(env, policy, options)
        execution = info["execution"]
        assert abs(total + execution["shortfall_bps"]) <= 1e-9
        assert abs(execution["fill_rate"] + execution["forced_qty"] / quantity - 1.0) <= 1e-9
        assert within[0] <= execution["start_ns"] and execution["end_ns"] <= within[1]
        assert execution["n_fills"] > 0


def test_amzn_level_1_sample(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "lobster" / AMZN
    (day,) = lobster.load(path)
    # Verified on the raw file: 57,515 rows, 53,283 distinct times, 8,974 + 2,445 executions.
    assert (day.n_books, day.n_trades, day.levels) == (53_283, 11_419, 1)
    assert day.meta.notes["events"] == 57_515
    assert day.ts[0] == OPEN_2012 + 17_459_617  # 34200.017459617
    assert day.ts[-1] == OPEN_2012 + (57_599 - 34_200) * S + 959_359_650  # 57599.95935965
    assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (223.18, 100, 223.95, 100)
    assert (day.bid_px[-1, 0], day.bid_sz[-1, 0], day.ask_px[-1, 0], day.ask_sz[-1, 0]) == (220.51, 249, 220.64, 100)
    # first execution: hidden, resting sell (-1) -> buyer-initiated 1 @ 223.82
    assert (day.trade_ts[0], day.trade_px[0], day.trade_sz[0], day.trade_side[0]) == (day.ts[0], 223.82, 1, 1)
    # last: 57599.545827862,4,...,51,2205100,1 -> seller-initiated
    assert day.trade_ts[-1] == OPEN_2012 + (57_599 - 34_200) * S + 545_827_862
    assert (day.trade_px[-1], day.trade_sz[-1], day.trade_side[-1]) == (220.51, 51, -1)
    assert day.trade_sz.sum() == 810_755
    assert day.halts is None and day.meta.notes["event_counts"]["cross_trade"] == 0
    assert (day.meta.session_open_ns, day.meta.session_close_ns) == (OPEN_2012, OPEN_2012 + 23_400 * S)
    meta = day.meta
    check_episodes(day, horizon_s=300, interval_s=30, quantity=100, start_ns=None,
                   within=(meta.session_open_ns, meta.session_close_ns))  # fmt: skip

    # A LOBSTER-loaded day round-trips exactly through the writer.
    (back,) = lobster.load(lobster.write_lobster(day, tmp_path)[0])
    same_arrays(back, day)


def test_aapl_level_10_sample(shared_data: Path) -> None:
    path = shared_data / "lobster" / AAPL
    (day,) = lobster.load(path)
    # The README's "998 events" is the line count of a file without a final newline: 999 rows.
    assert (day.n_books, day.n_trades, day.levels) == (890, 159, 10)
    assert day.meta.notes["events"] == 999
    assert day.ts[0] == OPEN_2012 + 4_241_176  # 34200.004241176
    assert day.ts[-1] == OPEN_2012 + 49 * S + 86_375_027  # 34249.086375027
    assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (585.33, 18, 585.94, 200)
    assert (day.bid_px[0, 9], day.ask_px[0, 9]) == (584.27, 587.9)
    assert (day.trade_ts[0], day.trade_px[0], day.trade_sz[0], day.trade_side[0]) == (
        OPEN_2012 + 275_016_159, 585.74, 40, 1
    )  # fmt: skip
    assert day.trade_ts[-1] == OPEN_2012 + 47 * S + 902_146_775 and day.trade_side[-1] == -1
    assert day.trade_sz.sum() == 10_592
    assert day.meta.notes["last_event"] == "09:30:49.086375027"
    assert day.meta.notes["session_coverage"] == round(49.086375027 / 23_400, 6)
    # The file covers only 49 s after the open: pin the episode inside it (5 s .. 45 s).
    check_episodes(day, horizon_s=40, interval_s=4, quantity=100, start_ns=OPEN_2012 + 5 * S,
                   within=(day.ts[0], day.ts[-1]))  # fmt: skip


def test_parse_cache_and_folder(shared_data: Path, tmp_path: Path) -> None:
    for path in (shared_data / "lobster" / AMZN, shared_data / "lobster" / AAPL.replace("message", "orderbook")):
        (first,) = load_days(path, cache_dir=tmp_path)
        (second,) = load_days(path, cache_dir=tmp_path)
        same_arrays(first, second)
        same_arrays(second, lobster.load(path)[0])
        assert second.meta == first.meta
    catalogue = load_market(shared_data / "lobster", cache_dir=tmp_path)
    assert [catalogue.day(i).meta.symbol for i in range(len(catalogue))] == ["AAPL", "AMZN"]
    assert [Path(p).name for p in catalogue.notes["skipped"]] == ["LOBSTER_SampleFiles_ReadMe.txt"]

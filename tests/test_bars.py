"""OHLCV bars (exec_env.market.bars): the documented lift, round trips, malformed input, real samples."""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines.twap import TWAP
from exec_env.market import MarketCatalogue, MarketDay, bars
from exec_env.market.sources import detect_format, load_days
from exec_env.market.synthetic import SyntheticParams, generate_day
from tests.books import T0, book, make_day, trade

# The hand-computed expectations include the open snapshot, an explicit option: the default is
# False because the open price is printed after the 09:30:00 stamp it would carry.
load_open = functools.partial(bars.load, open_snapshot=True)
from_dataframe_open = functools.partial(bars.from_dataframe, open_snapshot=True)

HEADER = "datetime,open,high,low,close,volume"
# 2019-02-11, session 09:30-09:35 New York (EST = UTC-5); the 09:33 bar is missing
SMALL = [
    "2019-02-11 09:31:00,100.00,100.05,99.98,100.02,1000",
    "2019-02-11 09:32:00,100.02,100.03,100.00,100.015,0",
    "2019-02-11 09:34:00,100.01,100.02,99.99,100.01,2500",
    "2019-02-11 09:35:00,100.01,100.04,100.01,100.03,333",
]
SESSION = ("09:30", "09:35")
FIELDS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")


def ns(text: str) -> int:
    """UTC ns of an ISO time, computed independently of the loader."""
    return int(np.datetime64(text, "ns").astype(np.int64))


def write(tmp_path: Path, lines: list[str], name: str = "TEST_1min.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def assert_same_days(a: list[MarketDay], b: list[MarketDay]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)
        assert (x.meta.session_open_ns, x.meta.session_close_ns, x.meta.date) == (
            y.meta.session_open_ns, y.meta.session_close_ns, y.meta.date)  # fmt: skip


def reference_lift(frame: pd.DataFrame, open_ns: int, bar_ns: int, fraction: float = 0.01) -> dict[str, np.ndarray]:
    """The documented default lift for on-grid prices (1-tick spread, tick rule, 5 levels, split
    trades, open snapshot), written as a plain loop."""
    ts, bid, ask, size, trades = [], [], [], [], []
    prices = [frame.open.iloc[0], *frame.close]
    ends = [open_ns, *(open_ns + bar_ns * (frame.k + 1))]
    vols = [frame.volume.iloc[0], *frame.volume]
    prev, sign = frame.open.iloc[0], -1
    for i, (p, t, v) in enumerate(zip(prices, ends, vols, strict=True)):
        sign = 1 if p > prev else -1 if p < prev else sign
        prev = p
        x = round(p * 100)
        b = x - 1 if sign > 0 else x
        ts.append(t)
        bid.append([(b - j) / 100 for j in range(5)])
        ask.append([(b + 1 + j) / 100 for j in range(5)])
        size.append(max(math.floor(fraction * v + 1e-9), 1.0))
        if i > 0 and v > 0:
            trades += [(t, (b + 1) / 100, v / 2, 1), (t, b / 100, v / 2, -1)]
    return {
        "ts": np.array(ts, dtype=np.int64),
        "bid_px": np.array(bid),
        "ask_px": np.array(ask),
        "bid_sz": np.repeat(np.array(size)[:, None], 5, axis=1),
        "ask_sz": np.repeat(np.array(size)[:, None], 5, axis=1),
        "trade_ts": np.array([t[0] for t in trades], dtype=np.int64),
        "trade_px": np.array([t[1] for t in trades]),
        "trade_sz": np.array([t[2] for t in trades]),
        "trade_side": np.array([t[3] for t in trades], dtype=np.int8),
    }


# ----------------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> tuple[MarketDay, pd.DataFrame]:
    day = generate_day(SyntheticParams(session_seconds=600.0), seed=9, day_index=0)  # 09:30-09:40 EST
    return day, bars.bars_from_day(day)


def test_bars_from_a_synthetic_day_round_trip_through_csv_and_dataframe(tmp_path, synthetic):
    day, frame = synthetic
    assert len(frame) == 10 and (frame.volume > 0).all()
    assert frame.datetime.iloc[0] == pd.Timestamp("2024-01-02 09:31:00")  # labelled at bar ends
    assert frame.volume.sum() == day.trade_sz.sum()
    path = bars.write_bars(frame, tmp_path / "SYNTH_1min.csv", newest_first=True)
    assert bars.sniff(path)
    (got,) = load_open(path, session=("09:30", "09:40"))
    frame = frame.assign(k=np.arange(10))
    expected = reference_lift(frame, day.meta.session_open_ns, 60 * 10**9)
    for name, value in expected.items():
        np.testing.assert_array_equal(getattr(got, name), value, err_msg=name)
    m = got.meta
    assert (m.symbol, m.date, m.tick_size, m.lot_size) == ("SYNTH", "2024-01-02", 0.01, 1.0)
    assert (m.session_open_ns, m.session_close_ns) == (day.meta.session_open_ns, day.meta.session_close_ns)
    assert m.notes["label"].startswith("end (inferred") and m.notes["row_order"].startswith("newest first")
    assert m.notes["gaps"] == [] and m.notes["missing_bars"] == 0

    # the same bars as a yfinance-shaped frame: tz-aware index of bar *starts*, Adj Close, a ticker level
    starts = pd.DatetimeIndex(frame.datetime - pd.Timedelta(minutes=1)).tz_localize("America/New_York")
    yf = pd.DataFrame({"Open": frame.open.to_numpy(), "High": frame.high.to_numpy(), "Low": frame.low.to_numpy(),
                       "Close": frame.close.to_numpy(), "Adj Close": frame.close.to_numpy() * 0.99,
                       "Volume": frame.volume.to_numpy()}, index=starts)  # fmt: skip
    from_yf = from_dataframe_open(yf, session=("09:30", "09:40"))
    assert_same_days(from_yf, [got])
    assert (
        from_yf[0].meta.notes["label"].startswith("start (inferred") and "ignored" in from_yf[0].meta.notes["adj_close"]
    )
    multi = yf.copy()
    multi.columns = pd.MultiIndex.from_product([list(yf.columns), ["SYNTH"]], names=["Price", "Ticker"])
    (from_multi,) = from_dataframe_open(multi, session=("09:30", "09:40"))
    assert from_multi.meta.symbol == "SYNTH"
    naive_starts = yf.set_axis(starts.tz_localize(None))  # naive: read in the timezone option
    assert_same_days(from_dataframe_open(naive_starts, session=("09:30", "09:40"), label="start"), [got])


def test_default_lift_hand_computed(tmp_path):
    path = write(tmp_path, SMALL)
    (day,) = load_open(path, session=SESSION)
    t = [ns("2019-02-11T14:30"), ns("2019-02-11T14:31"), ns("2019-02-11T14:32"), ns("2019-02-11T14:34"),
         ns("2019-02-11T14:35")]  # fmt: skip
    np.testing.assert_array_equal(day.ts, t)
    # open 100.00 (no tick yet: close at the bid), 100.02 uptick (at the ask), 100.015 sub-penny
    # (inside the spread), 100.01 downtick (at the bid), 100.03 uptick (at the ask)
    np.testing.assert_array_equal(day.bid_px[:, 0], [100.00, 100.01, 100.01, 100.01, 100.02])
    np.testing.assert_array_equal(day.ask_px[:, 0], [100.01, 100.02, 100.02, 100.02, 100.03])
    np.testing.assert_array_equal(day.bid_px[0], [100.00, 99.99, 99.98, 99.97, 99.96])
    np.testing.assert_array_equal(day.ask_px[4], [100.03, 100.04, 100.05, 100.06, 100.07])
    np.testing.assert_array_equal(day.bid_sz[:, 0], [10, 10, 1, 25, 3])  # 1% of volume, >= 1 lot
    np.testing.assert_array_equal(day.trade_ts, [t[1], t[1], t[3], t[3], t[4], t[4]])
    np.testing.assert_array_equal(day.trade_px, [100.02, 100.01, 100.02, 100.01, 100.03, 100.02])
    np.testing.assert_array_equal(day.trade_sz, [500, 500, 1250, 1250, 166.5, 166.5])
    np.testing.assert_array_equal(day.trade_side, [1, -1, 1, -1, 1, -1])
    n = day.meta.notes
    assert n["gaps"] == ["09:32:00-09:33:00"] and n["missing_bars"] == 1
    assert n["zero_volume_bars"] == ["09:31:00-09:32:00"]
    assert (day.meta.session_open_ns, day.meta.session_close_ns) == (t[0], t[4])
    assert day.meta.symbol == "TEST" and day.meta.date == "2019-02-11"


def test_spread_depth_tie_and_trade_options(tmp_path):
    path = write(tmp_path, SMALL)
    (d,) = load_open(path, session=SESSION, spread_ticks=2)  # even spread: mid = close on the grid
    np.testing.assert_allclose(d.mid()[[0, 1, 3, 4]], [100.00, 100.02, 100.01, 100.03], rtol=0, atol=1e-9)
    # 100.015: [100.00, 100.02] and [100.01, 100.03] are equally close; a downtick puts the close near the bid
    assert (d.bid_px[2, 0], d.ask_px[2, 0]) == (100.01, 100.03)
    (d,) = load_open(path, session=SESSION, spread_bps=3.0, tie_break="ask")  # 3 bps of 100 = 3 ticks
    np.testing.assert_array_equal(np.round((d.ask_px[:, 0] - d.bid_px[:, 0]) / 0.01), np.full(5, 3.0))
    np.testing.assert_array_equal(d.ask_px[:, 0], [100.01, 100.03, 100.03, 100.02, 100.04])
    (d,) = load_open(path, session=SESSION, depth_levels=2, level_step_ticks=3, level_size=500.0, tie_break="bid")
    np.testing.assert_array_equal(d.bid_px[1], [100.02, 99.99])
    np.testing.assert_array_equal(d.ask_sz, np.full((5, 2), 500.0))
    (d,) = load_open(path, session=SESSION, trades="close", open_snapshot=False)
    assert d.ts[0] == ns("2019-02-11T14:31") and d.n_books == 4
    np.testing.assert_array_equal(d.trade_px, [100.02, 100.01, 100.03])
    np.testing.assert_array_equal(d.trade_sz, [1000, 2500, 333])
    np.testing.assert_array_equal(d.trade_side, [0, 0, 0])
    (d,) = load_open(path, session=SESSION, trades="none", level_fraction=0.5, lot_size=100.0)
    assert d.n_trades == 0
    np.testing.assert_array_equal(d.bid_sz[:, 0], [500, 500, 100, 1200, 100])  # whole lots, >= 1 lot


def test_labels_sessions_and_outside_bars(tmp_path):
    starts = [line.replace("09:3", "09:2", 1) for line in SMALL]  # 09:21 .. 09:25: neither open nor close
    with pytest.raises(ValueError, match="cannot infer whether timestamps label bar starts or ends"):
        load_open(write(tmp_path, starts), session=SESSION)
    path = write(tmp_path, [*SMALL, "2019-02-11 09:36:00,100.03,100.03,100.03,100.03,7"])
    with pytest.raises(ValueError, match=r"line 6, field 'datetime': bar 2019-02-11 09:35:00-09:36:00 is outside the "
                                         r"session 09:30-09:35 America/New_York; pass outside='drop'"):  # fmt: skip
        load_open(path, session=SESSION)
    (d,) = load_open(path, session=SESSION, outside="drop")
    assert d.n_books == 5 and d.meta.notes["dropped_outside_session_bars"] == 1
    (d,) = load_open(path, session=SESSION, outside="extend")
    assert d.n_books == 6 and d.meta.session_close_ns == ns("2019-02-11T14:36")
    assert d.meta.notes["extended_hours_bars"] == 1
    (d,) = load_open(write(tmp_path, SMALL), session=("09:30", "09:36"), label="start")  # the bars read as starts
    assert d.ts[0] == ns("2019-02-11T14:32") and d.meta.notes["label"] == "start (option)"
    assert d.meta.notes["gaps"] == ["09:30:00-09:31:00", "09:33:00-09:34:00"]
    assert d.meta.notes["open_snapshot"].startswith("none: the first bar does not start")
    with pytest.raises(ValueError, match=r"line 2, field 'datetime': bar 09:30:30-09:31:30 is not on the 60 s grid"):
        load_open(write(tmp_path, ["2019-02-11 09:31:30,1,1,1,1,1", "2019-02-11 09:32:30,1,1,1,1,1"]),
                  session=SESSION, label="end")  # fmt: skip
    with pytest.raises(ValueError, match="bars must be whole seconds and at least 60 s"):
        load_open(write(tmp_path, ["2019-02-11 09:31:00,1,1,1,1,1", "2019-02-11 09:31:30,1,1,1,1,1"]))


def test_volume_outliers_only_on_request(tmp_path):
    lines = [f"2019-02-11 09:{31 + i}:00,100,100,100,100,{5000 if i == 2 else 100}" for i in range(5)]
    path = write(tmp_path, lines)
    (d,) = load_open(path, session=SESSION)
    assert "volume_outliers" not in d.meta.notes
    (d,) = load_open(path, session=SESSION, volume_outliers=10.0, outlier_window=5)
    assert d.meta.notes["volume_outliers"] == ["09:32:00-09:33:00: volume 5,000 = 50.0x the median"]
    assert d.bid_sz[3, 0] == 50.0 and d.trade_sz[4] == 2500.0  # flagged, never changed


def test_bad_options_name_the_option_value_and_allowed_values(tmp_path):
    path = write(tmp_path, SMALL)
    for kwargs, text in [
        ({"label": "middle"}, "option label='middle' is invalid; allowed: one of 'auto', 'start', 'end'"),
        ({"outside": "keep"}, "option outside='keep' is invalid"),
        ({"spread_ticks": 1, "spread_bps": 2.0}, "option spread_bps=2.0 is invalid; allowed: None when spread_ticks"),
        ({"spread_ticks": 0}, "option spread_ticks=0 is invalid"),
        ({"level_fraction": 2.0}, "option level_fraction=2.0 is invalid"),
        ({"trades": "all"}, "option trades='all' is invalid"),
        ({"timezone": "New York"}, "option timezone='New York' is invalid"),
        (
            {"session": ("16:00", "09:30")},
            r"option session=\('16:00', '09:30'\) is invalid; allowed: a pair of wall-clock times .*, open before close",
        ),
        ({"bar_seconds": 30}, "option bar_seconds=30 is invalid"),
        ({"depth": 3}, r"bars: unknown option 'depth'; the options of this format: symbol, timezone, session"),
    ]:
        with pytest.raises(ValueError, match=text):
            load_open(path, **kwargs)


# ----------------------------------------------------------------------------------------------
# Malformed input: file, line, field
# ----------------------------------------------------------------------------------------------


COLUMNS = "expected 6"
SORTED = "of the rows above (bars must be sorted, oldest or newest first)"


@pytest.mark.parametrize(
    "line, field, message",
    [
        ("2019-02-11 09:33:00,100,100,100,100", "volume",
         f"wrong column count: 5 fields, {COLUMNS}; 'volume' is missing"),
        ("2019-02-11 09:33:00,100,100,100,100,1,2", "volume",
         f"wrong column count: 7 fields, {COLUMNS}; 'volume' is followed by extra fields"),
        ("2019-02-11 09:33:00,100,1o0,100,100,1", "high", "unparsable number '1o0'"),
        ("2019-02-11 09:33:00,100,100,nan,100,1", "low", "not a finite number: 'nan'"),
        ("2019-02-11 9h33,100,100,100,100,1", "datetime", "unparsable timestamp '2019-02-11 9h33'"),
        ("2019-02-11 09:31:30,100,100,100,100,1", "datetime",
         f"timestamp {ns('2019-02-11T14:31:30')} breaks the increasing order {SORTED}"),
        ("2019-02-11 09:32:00,100,100,100,100,1", "datetime",
         f"duplicate timestamp {ns('2019-02-11T14:32')} (also on line 3)"),
        ("2019-02-11 09:33:00,100,99,100,100,1", "high", "high 99.0 < low 100.0"),
        ("2019-02-11 09:33:00,100,101,100,101.5,1", "close", "close 101.5 outside [low 100.0, high 101.0]"),
        ("2019-02-11 09:33:00,99,101,100,100,1", "open", "open 99.0 outside [low 100.0, high 101.0]"),
        ("2019-02-11 09:33:00,100,100,100,100,-1", "volume", "volume must be finite and >= 0, got -1.0"),
        ("2019-02-11 09:33:00,0,0,0,0,1", "open", "price must be finite and > 0, got 0.0"),
    ],
)  # fmt: skip
def test_malformed_rows_name_file_line_and_field(tmp_path, line, field, message):
    path = write(tmp_path, [*SMALL[:2], line, *SMALL[2:]])
    with pytest.raises(ValueError) as err:
        load_open(path, session=SESSION)
    assert str(err.value) == f"{path}: line 4, field '{field}': {message}"


def test_malformed_header_and_dataframes(tmp_path):
    path = write(tmp_path, SMALL, header="datetime,open,high,low,close")
    assert not bars.sniff(path)
    with pytest.raises(ValueError, match=r"line 1, field 'header': not an OHLCV header"):
        load_open(path)
    index = pd.date_range("2019-02-11 09:30", periods=3, freq="min", tz="America/New_York")
    df = pd.DataFrame({"Open": [1.0, 1, 1], "High": [1.0, 1, 1], "Low": [1.0, 1, 1], "Close": [1.0, np.nan, 1],
                       "Volume": [1, 1, 1]}, index=index)  # fmt: skip
    # a data frame has no lines: its places are 0-based rows (df.iloc[1])
    with pytest.raises(ValueError) as err:
        from_dataframe_open(df, source="yf", session=SESSION)
    assert str(err.value) == "yf: row 1, field 'close': not a finite number: nan"
    with pytest.raises(ValueError, match="the index must be a DatetimeIndex"):
        from_dataframe_open(df.reset_index(drop=True))
    with pytest.raises(ValueError) as err:
        from_dataframe_open(df.iloc[[1, 0, 2]].fillna(1.0), session=SESSION)
    assert (
        str(err.value)
        == f"DataFrame: row 2, field 'datetime': timestamp {ns('2019-02-11T14:32')} breaks the decreasing order {SORTED}"
    )


# ----------------------------------------------------------------------------------------------
# Volume curve
# ----------------------------------------------------------------------------------------------


def test_volume_curve_hand_computed_and_from_the_given_days_only():
    b = [book(0, [(99.99, 100)], [(100.01, 100)])]
    a = make_day(b, [trade(0, 100, 10, 1), trade(900, 100, 30, -1), trade(901, 100, 20, 1), trade(3600, 100, 40, 0)])
    c = make_day(b, [trade(2000, 100, 5, 1)])
    np.testing.assert_allclose(bars.volume_curve([a], bins=4), [0.4, 0.2, 0.0, 0.4], rtol=0, atol=1e-15)
    np.testing.assert_allclose(bars.volume_curve([a, c], bins=4), [0.2, 0.1, 0.5, 0.2], rtol=0, atol=1e-15)
    np.testing.assert_allclose(bars.volume_curve([a], bins=[0, 0.5, 1]), [0.6, 0.4], rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="has no traded volume"):
        bars.volume_curve([a, make_day(b, [])])
    with pytest.raises(ValueError, match=r"option bins=.* is invalid"):
        bars.volume_curve([a], bins=[0.0, 0.7, 0.5, 1.0])
    late = make_day(b, [trade(3601, 100, 1, 1)])
    with pytest.raises(ValueError, match="outside the session"):
        bars.volume_curve([late])
    assert T0 == a.meta.session_open_ns


# ----------------------------------------------------------------------------------------------
# Real samples
# ----------------------------------------------------------------------------------------------

SAMPLES = {
    # symbol: (bars per day, trades per day, first bid/ask at the open, first bar-end bid/ask, last bid/ask)
    "SPY": ([390, 390, 390, 390, 390], [778, 780, 780, 780, 780], (271.19, 271.20), (271.33, 271.34), (277.38, 277.39)),
    "AAPL": (
        [390, 390, 390, 388, 390],
        [780, 780, 780, 776, 780],
        (171.14, 171.15),
        (170.97, 170.98),
        (170.37, 170.38),
    ),
}


@pytest.mark.parametrize("symbol", sorted(SAMPLES))
def test_real_bar_samples(shared_data, symbol):
    path = shared_data / "bars" / f"{symbol}_1min.csv"
    with open(path, newline="") as fh:  # the raw file, read independently: newest first
        raw = list(csv.reader(fh))
    assert raw[0] == HEADER.split(",") and raw[1][0] == "2019-02-15 16:00:00" and raw[-1][0] == "2019-02-11 09:31:00"
    n_bars, n_trades, at_open, first_end, last = SAMPLES[symbol]
    assert len(raw) - 1 == sum(n_bars)

    assert detect_format(path) == "bars"
    days = load_open(path)
    assert [d.meta.date for d in days] == ["2019-02-11", "2019-02-12", "2019-02-13", "2019-02-14", "2019-02-15"]
    assert [d.n_books for d in days] == [n + 1 for n in n_bars]  # + the open snapshot
    assert [d.n_trades for d in days] == n_trades
    assert days[0].ts[0] == ns("2019-02-11T14:30") and days[0].ts[1] == ns("2019-02-11T14:31")
    assert days[-1].ts[-1] == ns("2019-02-15T21:00") and days[-1].trade_ts[-1] == ns("2019-02-15T21:00")
    assert (days[0].bid_px[0, 0], days[0].ask_px[0, 0]) == at_open
    assert (days[0].bid_px[1, 0], days[0].ask_px[1, 0]) == first_end
    assert (days[-1].bid_px[-1, 0], days[-1].ask_px[-1, 0]) == last
    default = bars.load(path)  # without the open snapshot: the first row is the first bar's end
    assert [d.n_books for d in default] == n_bars and default[0].ts[0] == ns("2019-02-11T14:31")
    assert (default[0].bid_px[0, 0], default[0].ask_px[0, 0]) == first_end
    for a, b in zip(default, days, strict=True):
        np.testing.assert_array_equal(a.bid_px, b.bid_px[1:])
        np.testing.assert_array_equal(a.trade_sz, b.trade_sz)
    first_volume = float(raw[-1][5])
    assert days[0].trade_sz[0] == first_volume / 2 and days[0].bid_sz[0, 0] == math.floor(first_volume / 100)
    for d in days:
        assert (d.meta.session_open_ns, d.meta.session_close_ns) == (int(d.ts[0]), int(d.ts[-1]))
        assert d.trade_sz.sum() == sum(float(r[5]) for r in raw[1:] if r[0].startswith(d.meta.date))
    notes = [d.meta.notes for d in days]
    assert all(n["label"].startswith("end (inferred") for n in notes)
    if symbol == "SPY":
        assert notes[0]["zero_volume_bars"] == ["13:09:00-13:10:00"] and all(n["gaps"] == [] for n in notes)
    else:
        assert notes[3]["gaps"] == ["14:31:00-14:32:00", "14:36:00-14:37:00"] and notes[3]["missing_bars"] == 2

    curve = bars.volume_curve(days[:3], bins=13)
    assert curve.sum() == pytest.approx(1.0, abs=1e-12) and curve[0] > 1 / 13 and curve[-1] > 1 / 13
    assert not np.array_equal(curve, bars.volume_curve(days[3:], bins=13))

    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue(default[:1]), horizon_s=3600, decision_interval_s=60,
                                       warmup_s=0, quantity=10_000, side="buy"))  # fmt: skip
    for policy in ("twap", "random"):
        env.action_space.seed(3)
        obs, _ = env.reset(seed=3)
        total, done = 0.0, False
        while not done:
            action = TWAP().predict(obs)[0] if policy == "twap" else env.action_space.sample()
            obs, reward, done, _truncated, info = env.step(action)
            total += reward
        e = info["execution"]
        assert total == pytest.approx(-e["shortfall_bps"], abs=1e-9)
        assert e["market_vwap"] is not None
        if policy == "twap":
            assert e["fill_rate"] == 1.0 and e["n_child_orders"] == 60


def test_parse_cache_gives_identical_arrays(shared_data, tmp_path):
    path = shared_data / "bars" / "AAPL_1min.csv"
    first = load_days(path, cache_dir=tmp_path)
    second = load_days(path, cache_dir=tmp_path)
    assert_same_days(first, second)
    assert [d.meta for d in first] == [d.meta for d in second]
    assert len(list((tmp_path / "parsed").iterdir())) == 1


def test_yfinance_frames_with_history_extras_and_several_tickers():
    index = pd.date_range("2019-02-11 09:30", periods=5, freq="min", tz="America/New_York")
    one = pd.DataFrame({"Open": 100.0, "High": 100.0, "Low": 100.0, "Close": 100.0, "Volume": 300,
                        "Dividends": 0.0, "Stock Splits": 0.0}, index=index)  # fmt: skip
    (day,) = from_dataframe_open(one, session=SESSION)
    assert day.n_books == 6 and day.meta.symbol == "UNKNOWN" and day.meta.notes["label"].startswith("start")
    two = pd.concat({"SPY": one[["Open", "High", "Low", "Close", "Volume"]], "AAPL": one.iloc[:, :5]}, axis=1)
    two = two.swaplevel(axis=1)
    with pytest.raises(ValueError, match=r"the columns hold 2 tickers \['SPY', 'AAPL'\]; pass one, e.g. df.xs"):
        from_dataframe_open(two, session=SESSION)
    (day,) = from_dataframe_open(two.xs("AAPL", axis=1, level=1), session=SESSION, symbol="AAPL")
    assert day.meta.symbol == "AAPL"

"""FX tick quotes (exec_env.market.fx): round trips, lifting options, malformed files, real sample."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.baselines.twap import TWAP
from exec_env.market import MarketCatalogue, MarketDay, fx
from exec_env.market.sources import detect_format, load_days
from exec_env.market.synthetic import SyntheticParams, generate_day

HEADER = "timestamp_utc,bid,ask,bid_volume,ask_volume"
GOOD = [
    "2026-07-13 12:00:00.093,1.14273,1.14277,2700000.0,1800000.0",
    "2026-07-13 12:00:00.197,1.14271,1.14275,14490000.0,900000.0",
    "2026-07-13 12:00:00.351,1.14272,1.14273,900000.0,900000.0",
    "2026-07-13 12:00:01.000,1.14270,1.14274,1000000.0,2000000.0",
]


def ns(text: str) -> int:
    """UTC ns of an ISO time, computed independently of the loader."""
    return int(np.datetime64(text, "ns").astype(np.int64))


def write(tmp_path: Path, lines: list[str], name: str = "EURUSD_test.csv", header: str | None = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(([header] if header else []) + lines) + "\n")
    return path


@pytest.fixture(scope="module")
def synthetic_l1() -> MarketDay:
    """A synthetic day's best quotes (one level), stamped on whole milliseconds."""
    day = generate_day(SyntheticParams(session_seconds=600.0), seed=5, day_index=0)
    ok = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    ts = (day.ts[ok] // 1_000_000) * 1_000_000
    keep = np.r_[ts[1:] != ts[:-1], True]  # one row per millisecond (the last)
    rows = np.flatnonzero(ok)[keep]
    return replace(
        day,
        ts=ts[keep],
        bid_px=day.bid_px[rows, :1].copy(),
        bid_sz=day.bid_sz[rows, :1].copy(),
        ask_px=day.ask_px[rows, :1].copy(),
        ask_sz=day.ask_sz[rows, :1].copy(),
    )


# ----------------------------------------------------------------------------------------------
# Round trips
# ----------------------------------------------------------------------------------------------


def test_dukascopy_round_trip_with_nanosecond_times_is_exact(tmp_path):
    day = generate_day(SyntheticParams(session_seconds=600.0), seed=3, day_index=0)
    ok = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    l1 = replace(day, ts=day.ts[ok], bid_px=day.bid_px[ok, :1], bid_sz=day.bid_sz[ok, :1], ask_px=day.ask_px[ok, :1],
                 ask_sz=day.ask_sz[ok, :1])  # fmt: skip
    path = fx.write_fx_ticks(l1, tmp_path / "SYNTH_ticks.csv")
    assert fx.sniff(path)
    (got,) = fx.load(path)
    assert got.levels == 1 and got.n_trades == 0
    for name in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz"):
        np.testing.assert_array_equal(getattr(got, name), getattr(l1, name), err_msg=name)
    m = got.meta
    assert (m.symbol, m.tick_size, m.lot_size, m.date) == ("SYNTH", 0.01, 1000.0, "2024-01-02")
    assert (m.session_open_ns, m.session_close_ns) == (int(l1.ts[0]), int(l1.ts[-1]))
    assert m.notes["style"] == "dukascopy" and m.notes["n_quotes"] == l1.n_books


@pytest.mark.parametrize("style", ["truefx", "histdata"])
def test_truefx_and_histdata_round_trip_with_default_size(tmp_path, synthetic_l1, style):
    path = fx.write_fx_ticks(synthetic_l1, tmp_path / "SYNTH_ticks.csv", style=style, symbol="EURUSD")
    assert fx.sniff(path)
    first = path.read_text().splitlines()[0]
    if style == "truefx":
        assert first.startswith("EUR/USD,20240102 14:30:")
    else:  # HistData times are EST without daylight saving: 14:30 UTC is 09:30
        assert first.startswith("20240102 0930")
    with pytest.raises(ValueError, match="default_size"):
        fx.load(path)
    (got,) = fx.load(path, default_size=250_000.0)
    np.testing.assert_array_equal(got.ts, synthetic_l1.ts)
    np.testing.assert_array_equal(got.bid_px, synthetic_l1.bid_px)
    np.testing.assert_array_equal(got.ask_px, synthetic_l1.ask_px)
    assert (got.bid_sz == 250_000.0).all() and (got.ask_sz == 250_000.0).all()
    assert got.meta.notes["style"] == style
    assert got.meta.symbol == ("EURUSD" if style == "truefx" else "SYNTH")
    assert got.meta.notes["timezone"] == ("UTC" if style == "truefx" else "Etc/GMT+5")


def test_header_names_in_any_order_and_epoch_millisecond_times(tmp_path):
    path = write(
        tmp_path,
        ["1783944000093,1.14277,1.14273,1800000,2700000", "1783944000197,1.14275,1.14271,900000,14490000"],
        header="timestamp,askPrice,bidPrice,askVolume,bidVolume",
    )
    (day,) = fx.load(path)
    np.testing.assert_array_equal(day.ts, [ns("2026-07-13T12:00:00.093"), ns("2026-07-13T12:00:00.197")])
    np.testing.assert_array_equal(day.bid_px[:, 0], [1.14273, 1.14271])
    np.testing.assert_array_equal(day.ask_sz[:, 0], [1800000.0, 900000.0])
    assert day.meta.notes["timezone"] == "epoch ms (UTC)"


# ----------------------------------------------------------------------------------------------
# Lifting options
# ----------------------------------------------------------------------------------------------


def test_extra_levels_hand_computed(tmp_path):
    path = write(tmp_path, GOOD[:1])
    with pytest.raises(ValueError, match="single time"):
        fx.load(path)  # one tick: no first/last-tick session
    path = write(tmp_path, GOOD[:2])
    (day,) = fx.load(path, extra_levels=2, level_step_ticks=2, level_size=500_000.0)
    np.testing.assert_array_equal(day.bid_px[0], [1.14273, 1.14271, 1.14269])
    np.testing.assert_array_equal(day.ask_px[0], [1.14277, 1.14279, 1.14281])
    np.testing.assert_array_equal(day.bid_sz[0], [2700000.0, 500000.0, 500000.0])
    np.testing.assert_array_equal(day.ask_sz[1], [900000.0, 500000.0, 500000.0])
    (day,) = fx.load(path, extra_levels=1)  # deeper levels repeat the best size
    np.testing.assert_array_equal(day.bid_sz[1], [14490000.0, 14490000.0])
    assert "assumed" in day.meta.notes["depth"]


def test_tick_size_is_inferred_or_checked(tmp_path):
    (day,) = fx.load(write(tmp_path, GOOD))
    assert day.meta.tick_size == 1e-05
    (day,) = fx.load(
        write(tmp_path, ["2026-07-13 12:00:00.093,1.1427,1.1428,1,1", "2026-07-13 12:00:01,1.1426,1.1428,1,1"])
    )
    assert day.meta.tick_size == 1e-04  # no price uses the fifth decimal
    with pytest.raises(
        ValueError,
        match=r"line 2, field 'bid': price 1.14273 is not a multiple of tick_size=0.0001 \(pass the data's tick_size\)$",
    ):
        fx.load(write(tmp_path, GOOD), tick_size=0.0001)


def test_crossed_and_locked_quotes_raise_or_are_dropped_with_counts(tmp_path):
    lines = [*GOOD[:2], "2026-07-13 12:00:00.300,1.14275,1.14275,1,1", "2026-07-13 12:00:00.310,1.14276,1.14275,1,1"]
    lines += GOOD[2:]
    path = write(tmp_path, lines)
    with pytest.raises(
        ValueError,
        match=r"EURUSD_test.csv: line 4, field 'bid': locked quote: best bid 1.14275 == best ask 1.14275; pass crossed='drop'",
    ):
        fx.load(path)
    (day,) = fx.load(path, crossed="drop")
    assert day.n_books == 4
    assert (day.meta.notes["dropped_crossed_rows"], day.meta.notes["dropped_locked_rows"]) == (1, 1)
    np.testing.assert_array_equal(day.ts[2], ns("2026-07-13T12:00:00.351"))


def test_duplicate_times_raise_or_keep_the_last_quote(tmp_path):
    lines = [*GOOD[:2], "2026-07-13 12:00:00.197,1.14270,1.14275,5,6", *GOOD[2:]]
    path = write(tmp_path, lines)
    with pytest.raises(
        ValueError, match=r"line 4, field 'time': duplicate timestamp .*also on line 3.*duplicate_ts='last'"
    ):
        fx.load(path)
    (day,) = fx.load(path, duplicate_ts="last")
    assert day.n_books == 4 and day.meta.notes["collapsed_duplicate_ts_rows"] == 1
    assert (day.bid_px[1, 0], day.bid_sz[1, 0], day.ask_sz[1, 0]) == (1.14270, 5.0, 6.0)


def test_days_roll_and_sessions(tmp_path):
    lines = [
        "2026-07-13 20:59:00.000,1.1,1.2,1,1",  # 16:59 New York (EDT): Monday's FX day
        "2026-07-13 21:00:00.000,1.1,1.2,1,1",  # 17:00 New York: Tuesday's
        "2026-07-13 23:59:00.000,1.1,1.2,1,1",
        "2026-07-14 00:01:00.000,1.1,1.2,1,1",
    ]
    path = write(tmp_path, lines)
    days = fx.load(path, session="roll")  # default roll: UTC midnight
    assert [d.meta.date for d in days] == ["2026-07-13", "2026-07-14"] and [d.n_books for d in days] == [3, 1]
    assert days[0].meta.session_open_ns == ns("2026-07-13T00:00") and days[0].meta.session_close_ns == ns("2026-07-14")
    with pytest.raises(ValueError, match="single time"):
        fx.load(path)  # first/last tick of 2026-07-14 is one time
    ny = fx.load(path, roll="17:00", roll_timezone="America/New_York", session="roll")
    assert [d.meta.date for d in ny] == ["2026-07-13", "2026-07-14"] and [d.n_books for d in ny] == [1, 3]
    assert ny[1].meta.session_open_ns == ns("2026-07-13T21:00") and ny[1].meta.session_close_ns == ns(
        "2026-07-14T21:00"
    )
    with pytest.raises(ValueError, match=r"line 2, field 'time': quote at .* outside the session.*outside='drop'"):
        fx.load(path, session=("21:00", "23:00"))
    days = fx.load(path, session=("21:00", "23:00"), outside="drop")
    assert len(days) == 1 and days[0].n_books == 1 and days[0].meta.notes["dropped_outside_session_rows"] == 2


def test_bad_options_name_the_option_value_and_allowed_values(tmp_path):
    path = write(tmp_path, GOOD)
    for kwargs, text in [
        ({"crossed": "fix"}, "option crossed='fix' is invalid; allowed: one of 'raise', 'drop'"),
        ({"trades": "quotes"}, "option trades='quotes' is invalid; allowed: one of 'none'"),
        ({"tick_size": -1.0}, "option tick_size=-1.0 is invalid"),
        ({"extra_levels": 1.5}, "option extra_levels=1.5 is invalid; allowed: an integer"),
        ({"roll": "25:00"}, "option roll='25:00' is invalid"),
        ({"roll_timezone": "Mars/Base"}, "option roll_timezone='Mars/Base' is invalid"),
        ({"session": "day"}, "option session='day' is invalid"),
        ({"style": "oanda"}, "option style='oanda' is invalid"),
    ]:
        with pytest.raises(ValueError, match=text.replace("(", r"\(").replace(")", r"\)")):
            fx.load(path, **kwargs)


# ----------------------------------------------------------------------------------------------
# Malformed files: each error names the file, the line and the field
# ----------------------------------------------------------------------------------------------


COLUMNS = "expected 5"
CROSSED = "pass crossed='drop' to drop crossed and locked rows (counted in notes)"


@pytest.mark.parametrize(
    "line, field, message",
    [
        ("2026-07-13 12:00:00.300,1.14272,1.14276,1", "ask_volume",
         f"wrong column count: 4 fields, {COLUMNS}; 'ask_volume' is missing"),
        ("2026-07-13 12:00:00.300,1.14272,1.14276,1,1,9", "ask_volume",
         f"wrong column count: 6 fields, {COLUMNS}; 'ask_volume' is followed by extra fields"),
        ("2026-07-13 12:00:00.300,1.14x72,1.14276,1,1", "bid", "unparsable number '1.14x72'"),
        ("2026-07-13 12:00:00.300,1.14272,NaN,1,1", "ask", "not a finite number: 'NaN'"),
        ("2026-07-13 12:00:00.300,1.14272,1.14276,,1", "bid_volume", "missing value"),
        ("2026-07-13 12:0x:00.300,1.14272,1.14276,1,1", "time", "unparsable timestamp '2026-07-13 12:0x:00.300'"),
        ("2026-07-13 12:00:00.100,1.14272,1.14276,1,1", "time",
         f"time {ns('2026-07-13T12:00:00.100')} is before the previous line's {ns('2026-07-13T12:00:00.197')} (rows must be in time order)"),
        ("2026-07-13 12:00:00.300,1.14272,1.14276,-5,1", "bid_volume", "size must be finite and > 0, got -5.0"),
        ("2026-07-13 12:00:00.300,1.14272,1.14276,1,0", "ask_volume", "size must be finite and > 0, got 0.0"),
        ("2026-07-13 12:00:00.300,0,1.14276,1,1", "bid", "price must be finite and > 0, got 0.0"),
        ("2026-07-13 12:00:00.300,1.14276,1.14272,1,1", "bid", f"crossed quote: best bid 1.14276 > best ask 1.14272; {CROSSED}"),
    ],
)  # fmt: skip
def test_malformed_rows_name_file_line_and_field(tmp_path, line, field, message):
    path = write(tmp_path, [*GOOD[:2], line, *GOOD[2:]])
    with pytest.raises(ValueError) as err:
        fx.load(path)
    assert str(err.value) == f"{path}: line 4, field '{field}': {message}"


def test_malformed_headerless_styles(tmp_path):
    path = write(tmp_path, ["EUR/USD,20260713 12:00:00.093,1.14273,1.14277", "GBP/USD,20260713 12:00:00.100,1.3,1.4"],
                 header=None)  # fmt: skip
    with pytest.raises(ValueError, match=r"line 2, field 'symbol': symbol 'GBP/USD' differs"):
        fx.load(path, default_size=1.0)
    path = write(tmp_path, ["20260713 120000093,1.14273,1.14277,0", "20260713 120000100,1.14273,1.14277"], header=None)
    with pytest.raises(ValueError, match=r"line 2, field 'volume': wrong column count: 3 fields"):
        fx.load(path, default_size=1.0)
    path = write(tmp_path, ["not,a,tick,file"], header=None)
    assert not fx.sniff(path)
    with pytest.raises(ValueError, match=r"line 1: not an FX tick file"):
        fx.load(path)


# ----------------------------------------------------------------------------------------------
# Real sample
# ----------------------------------------------------------------------------------------------


def run(env: ExecutionEnv, policy: str, seed: int) -> tuple[float, dict]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        action = TWAP().predict(obs)[0] if policy == "twap" else env.action_space.sample()
        obs, reward, done, truncated, info = env.step(action)
        assert not truncated
        total += reward
    return total, info


def test_real_eurusd_sample(shared_data):
    path = shared_data / "fx" / "EURUSD_2026-07-13_12h_ticks.csv"
    with open(path, newline="") as fh:  # the raw file, read independently
        raw = list(csv.reader(fh))
    assert raw[0] == ["timestamp_utc", "bid", "ask", "bid_volume", "ask_volume"] and len(raw) == 3552
    assert raw[1] == ["2026-07-13 12:00:00.093", "1.14273", "1.14277", "2700000.0", "1800000.0"]
    assert raw[-1][:3] == ["2026-07-13 12:59:57.150", "1.14309", "1.14310"]

    assert detect_format(path) == "fx_ticks"
    (day,) = fx.load(path)
    assert (day.n_books, day.n_trades, day.levels) == (3551, 0, 1)
    assert day.ts[0] == ns("2026-07-13T12:00:00.093") and day.ts[-1] == ns("2026-07-13T12:59:57.150")
    assert (day.bid_px[0, 0], day.ask_px[0, 0], day.bid_sz[0, 0], day.ask_sz[0, 0]) == (1.14273, 1.14277, 2.7e6, 1.8e6)
    assert (day.bid_px[-1, 0], day.ask_px[-1, 0]) == (1.14309, 1.14310)
    m = day.meta
    assert (m.symbol, m.date, m.tick_size, m.lot_size) == ("EURUSD", "2026-07-13", 1e-05, 1000.0)
    assert (m.session_open_ns, m.session_close_ns) == (int(day.ts[0]), int(day.ts[-1]))
    assert m.notes["max_quote_gap_s"] == 14.37

    # one full episode each of TWAP and random actions (no impact model: the synthetic default's
    # coefficients are per unit of a $100 stock, far too large for 100,000 EUR)
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([day]), horizon_s=600, decision_interval_s=10, warmup_s=0,
                                       quantity=100_000, side="buy", sim=SimConfig()))  # fmt: skip
    for policy in ("twap", "random"):
        total, info = run(env, policy, seed=7)
        e = info["execution"]
        assert total == pytest.approx(-e["shortfall_bps"], abs=1e-9)
        assert e["market_vwap"] is None  # quote data: no trades
        if policy == "twap":
            assert e["fill_rate"] == 1.0 and e["maker_fraction"] == 0.0 and e["n_child_orders"] == 60


def test_parse_cache_gives_identical_arrays(shared_data, tmp_path):
    path = shared_data / "fx" / "EURUSD_2026-07-13_12h_ticks.csv"
    first = load_days(path, cache_dir=tmp_path)
    second = load_days(path, cache_dir=tmp_path)
    assert len(first) == len(second) == 1
    for name in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side"):
        np.testing.assert_array_equal(getattr(first[0], name), getattr(second[0], name), err_msg=name)
    assert first[0].meta == second[0].meta
    assert len(list((tmp_path / "parsed").iterdir())) == 1


def test_an_unknown_style_quotes_a_short_excerpt_of_the_first_line(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("EUR/USD," + "1" * 1000 + ",1.1,1.2\n")
    with pytest.raises(ValueError) as err:
        fx.load(path)
    assert str(err.value) == (
        f"{path}: line 1: not an FX tick file in a known style (dukascopy, truefx, histdata): "
        f"'EUR/USD,{'1' * 72}...' (1,016 characters); pass style=..."
    )

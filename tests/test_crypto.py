"""Binance raw capture loader: round trip, Binance's local-book rules, malformed files, the real sample."""

from __future__ import annotations

import gzip
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.baselines import TWAP
from exec_env.market import MarketCatalogue, crypto
from exec_env.market.sources import detect_format, load_days, load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

T = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MS = 1_000_000
ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")


def f8(x: float | str) -> str:
    return x if isinstance(x, str) else f"{x:.8f}"


def lv(levels) -> list:
    return [[f8(x) for x in level] for level in levels]


def snap(lid: int, bids, asks) -> dict:
    return {"lastUpdateId": lid, "bids": lv(bids), "asks": lv(asks)}


def diff(first: int, final: int, b=(), a=(), **extra) -> dict:
    data = {"e": "depthUpdate", "E": 1, "s": "TESTUSDT", "U": first, "u": final,
            "b": lv(b), "a": lv(a), **extra}  # fmt: skip
    return {"stream": "testusdt@depth@100ms", "data": data}


def trade(tid: int, p: float, q: float, maker: bool, e: str = "trade") -> dict:
    data = {"e": e, "E": 1, "s": "TESTUSDT", "p": f8(p), "q": f8(q), "T": 1, "m": maker}
    data["t" if e == "trade" else "a"] = tid
    return {"stream": f"testusdt@{e}", "data": data}


def ticker(u: int, b: float, bq: float, a: float, aq: float) -> dict:
    data = {"u": u, "s": "TESTUSDT", "b": f8(b), "B": f8(bq), "a": f8(a), "A": f8(aq)}
    return {"stream": "testusdt@bookTicker", "data": data}


def capture(tmp_path: Path, records: list, name: str = "cap.gz") -> Path:
    """Write ``(ts, message)`` records as a gzip capture (a raw string message after the stamp; ts None: raw line)."""
    lines = [
        m if ts is None else f"{ts} {m if isinstance(m, str) else json.dumps(m, separators=(',', ':'))}"
        for ts, m in records
    ]
    path = tmp_path / name
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


BASE = [(T, snap(10, [(100, 1)], [(101, 1)]))]


def error(path: Path, line: int, field: str) -> str:
    return re.escape(f"{path}: line {line}, field '{field}'")


# -- round trip ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def syn_day():
    return generate_day(SyntheticParams(session_seconds=600.0), seed=3, day_index=0)


def test_round_trip_synthetic_day_is_exact(syn_day, tmp_path):
    path = crypto.write_binance(syn_day, tmp_path / "synth_20240102.gz")
    assert crypto.sniff(path)
    (day,) = crypto.load(path, levels=syn_day.levels, lot_size=1.0, session=("14:30:00", "14:40:00"))
    for name in ARRAYS:
        a, b = getattr(syn_day, name), getattr(day, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), name
    m, m0 = day.meta, syn_day.meta
    assert (m.symbol, m.date, m.session_open_ns, m.session_close_ns, m.lot_size) == (
        m0.symbol, m0.date, m0.session_open_ns, m0.session_close_ns, m0.lot_size,
    )  # fmt: skip
    assert m.tick_size == m0.tick_size and m.notes["tick_size_inferred"]
    assert m.notes["book_ticker_check"] == {"rows_checked": syn_day.n_books, "price_mismatches": 0,
                                           "size_mismatches": 0}  # fmt: skip
    assert day.halts is None and m.notes["resyncs"] == 0
    # default session: first book row .. last line of the date
    (day2,) = crypto.load(path, levels=syn_day.levels)
    assert day2.meta.session_open_ns == syn_day.ts[0]
    assert day2.meta.session_close_ns == max(syn_day.ts[-1], syn_day.trade_ts[-1])
    assert day2.meta.lot_size == 100.0  # inferred from the trade sizes (100-share orders)


def test_cache_gives_identical_arrays(syn_day, tmp_path):
    path = crypto.write_binance(syn_day, tmp_path / "synth_20240102.gz")
    first = load_days(path, cache_dir=tmp_path / "cache")
    second = load_days(path, cache_dir=tmp_path / "cache")
    assert len(first) == len(second) == 1
    for name in ARRAYS:
        assert np.array_equal(getattr(first[0], name), getattr(second[0], name), equal_nan=True)
    assert first[0].meta == second[0].meta


# -- Binance's local order book rules, hand-computed -----------------------------------------------


def hand_capture(tmp_path: Path, bad_ticker: bool = False) -> Path:
    return capture(tmp_path, [
        (T, diff(95, 100, b=[(99.0, 1)])),  # stale: u <= lastUpdateId
        (T + 1 * MS, diff(101, 103, b=[(100.0, 5)], a=[(101.0, 0)])),  # bridges the snapshot
        (T + 2 * MS, trade(1, 101.0, 0.5, maker=False)),
        (T + 3 * MS, snap(100, [(100.0, 2), (99.5, 3)], [(101.0, 4), (101.5, 6)])),
        (T + 4 * MS, ticker(103, 100.0, 5, 101.5, 6)),
        (T + 5 * MS, diff(104, 106, b=[(100.0, 0), (99.8, 1)], a=[(101.2, 7)])),
        (T + 6 * MS, trade(2, 99.8, 1.0, maker=True)),
        (T + 7 * MS, ticker(106, 99.8, 1, 101.2, 7.5 if bad_ticker else 7)),
        (T + 7 * MS, diff(107, 107, a=[(101.2, 3)])),
        (T + 7 * MS, diff(108, 108, b=[(99.9, 2)])),  # same time: one row after both
        (T + 8 * MS, ticker(108, 99.9, 2, 101.2, 3)),
        (T + 8 * MS, '{"result":null,"id":1}'),
    ])  # fmt: skip


def test_local_book_rules_exact_rows(tmp_path):
    path = hand_capture(tmp_path)
    (day,) = crypto.load(path, levels=3)
    nan = np.nan
    assert day.ts.tolist() == [T + 3 * MS, T + 5 * MS, T + 7 * MS]
    np.testing.assert_array_equal(day.bid_px, [[100.0, 99.5, nan], [99.8, 99.5, nan], [99.9, 99.8, 99.5]])
    np.testing.assert_array_equal(day.bid_sz, [[5, 3, 0], [1, 3, 0], [2, 1, 3]])
    np.testing.assert_array_equal(day.ask_px, [[101.5, nan, nan], [101.2, 101.5, nan], [101.2, 101.5, nan]])
    np.testing.assert_array_equal(day.ask_sz, [[6, 0, 0], [7, 6, 0], [3, 6, 0]])
    assert day.trade_ts.tolist() == [T + 2 * MS, T + 6 * MS]
    assert day.trade_px.tolist() == [101.0, 99.8] and day.trade_sz.tolist() == [0.5, 1.0]
    assert day.trade_side.tolist() == [1, -1]  # m=false: buyer took; m=true: seller took
    m = day.meta
    assert (m.symbol, m.tick_size, m.lot_size, m.date) == ("TESTUSDT", 0.1, 0.5, "2023-11-14")
    assert (m.session_open_ns, m.session_close_ns) == (T + 3 * MS, T + 8 * MS)
    n = m.notes
    assert (n["updates_before_first_snapshot"], n["stale_updates_dropped"], n["buffered_updates_applied"]) == (2, 1, 1)
    assert n["rows_merged_same_timestamp"] == 1 and n["trades_before_first_book_row"] == 1
    assert n["book_ticker_check"] == {"rows_checked": 3, "price_mismatches": 0, "size_mismatches": 0}
    assert n["other_messages"] == {"?": 1} and n["book_ticker_messages"] == 3
    (ignored,) = crypto.load(path, levels=3, book_ticker="ignore")
    assert "book_ticker_check" not in ignored.meta.notes and ignored.meta.notes["book_ticker_messages"] == 3


def test_book_ticker_mismatch_counted_or_strict(tmp_path):
    path = hand_capture(tmp_path, bad_ticker=True)
    (day,) = crypto.load(path, levels=3)
    assert day.meta.notes["book_ticker_check"] == {"rows_checked": 3, "price_mismatches": 0, "size_mismatches": 1}
    with pytest.raises(ValueError, match=error(path, 6, "b") + r".*bookTicker on line 8"):
        crypto.load(path, levels=3, book_ticker="strict")


def test_sequence_gap_raises_naming_line_and_field(tmp_path):
    path = capture(tmp_path, [*BASE, (T + 1, diff(11, 12, b=[(100, 2)])), (T + 2, diff(14, 15, b=[(100, 3)]))])
    with pytest.raises(ValueError, match=error(path, 3, "U") + r": sequence gap: expected U == previous u \+ 1 = 13"):
        crypto.load(path)


def test_first_diff_must_bridge_the_snapshot(tmp_path):
    path = capture(tmp_path, [*BASE, (T + 1, diff(12, 13, b=[(100, 2)]))])
    with pytest.raises(ValueError, match=error(path, 2, "U") + r".*lastUpdateId\+1 = 11"):
        crypto.load(path)


def test_resync_rebuilds_from_next_snapshot_and_halts_the_gap(tmp_path):
    records = [
        *BASE,
        (T + 1, diff(11, 12, b=[(100, 2)])),
        (T + 2, diff(14, 15, b=[(100, 3)])),  # gap: 13 is missing
        (T + 3, diff(16, 16, a=[(101, 5)])),  # buffered, bridges the next snapshot
        (T + 4, snap(15, [(100, 3)], [(101, 1)])),
        (T + 5, diff(17, 17, b=[(100.5, 1)])),
        (T + 6, snap(17, [(100, 9)], [(101, 9)])),  # arrives in sync: not used
    ]
    (day,) = crypto.load(capture(tmp_path, records), levels=2, on_gap="resync")
    assert day.ts.tolist() == [T, T + 1, T + 4, T + 5]
    np.testing.assert_array_equal(day.bid_px[:, 0], [100, 100, 100, 100.5])
    np.testing.assert_array_equal(day.bid_sz[:, 0], [1, 2, 3, 1])
    np.testing.assert_array_equal(day.ask_sz[:, 0], [1, 1, 5, 5])
    assert day.halts.tolist() == [[T + 2, T + 4]]
    n = day.meta.notes
    assert (n["resyncs"], n["updates_skipped_in_resync"], n["snapshots_used"], n["snapshots_unused"]) == (1, 1, 2, 1)
    # without a later snapshot the book stays unknown to the end of the capture
    (day,) = crypto.load(capture(tmp_path, records[:4], "b.gz"), on_gap="resync")
    assert day.ts.tolist() == [T, T + 1] and day.halts.tolist() == [[T + 2, T + 3 + 1]]
    assert day.meta.notes["updates_skipped_in_resync"] == 2


@pytest.mark.parametrize("price, what", [(101.5, "crossed"), (101.0, "locked")])
def test_crossed_or_locked_book_raises_or_is_dropped(tmp_path, price, what):
    path = capture(tmp_path, [*BASE, (T + 1, diff(11, 11, b=[(price, 1)])),
                              (T + 2, diff(12, 12, a=[(101, 0), (102, 1)]))])  # fmt: skip
    with pytest.raises(ValueError) as err:
        crypto.load(path)
    sign = ">" if what == "crossed" else "=="
    assert str(err.value) == (
        f"{path}: line 2, field 'b': {what} book: best bid {price} {sign} best ask 101.0; pass crossed='drop' to "
        "drop crossed and locked rows (counted in notes)"
    )
    (day,) = crypto.load(path, crossed="drop")
    assert day.ts.tolist() == [T, T + 2]
    assert (day.meta.notes["dropped_crossed_rows"], day.meta.notes["dropped_locked_rows"]) == (
        (1, 0) if what == "crossed" else (0, 1)
    )
    assert day.bid_px[1, 0] == price and day.ask_px[1, 0] == 102


def test_midnight_splits_days_and_carries_the_book(tmp_path):
    t0 = 1_704_240_000 * 10**9  # 2024-01-03 00:00:00 UTC
    s = 10**9
    path = capture(tmp_path, [
        (t0 - 2 * s, snap(10, [(100, 1)], [(101, 1)])),
        (t0 - s, diff(11, 11, b=[(99, 4)])),
        (t0 - s // 2, trade(1, 101, 1, maker=False)),
        (t0 + s, diff(12, 12, a=[(102, 2)])),
        (t0 + 2 * s, trade(2, 100, 1, maker=True)),
    ])  # fmt: skip
    d1, d2 = crypto.load(path, levels=2)
    assert (d1.meta.date, d2.meta.date) == ("2024-01-02", "2024-01-03")
    assert (d1.meta.session_open_ns, d1.meta.session_close_ns) == (t0 - 2 * s, t0 - s // 2)
    assert (d2.meta.session_open_ns, d2.meta.session_close_ns) == (t0 + s, t0 + 2 * s)
    assert d1.ts.tolist() == [t0 - 2 * s, t0 - s] and d2.ts.tolist() == [t0 + s]
    assert d2.bid_px[0].tolist() == [100, 99] and d2.ask_px[0].tolist() == [101, 102]  # state carried over
    assert d1.trade_side.tolist() == [1] and d2.trade_side.tolist() == [-1]
    e1, e2 = crypto.load(path, session=("00:00:00", "24:00:00"))
    assert (e2.meta.session_open_ns, e2.meta.session_close_ns) == (t0, t0 + 86_400 * s)
    assert e1.meta.session_close_ns == t0


def test_trade_stream_choice(tmp_path):
    both = capture(tmp_path, [*BASE, (T + 1, trade(7, 100, 1, False)), (T + 2, trade(3, 100, 2, True, e="aggTrade"))])
    (day,) = crypto.load(both)
    assert day.trade_sz.tolist() == [1.0] and day.meta.notes["agg_trade_messages"] == 1
    (day,) = crypto.load(both, trade_stream="aggTrade")
    assert day.trade_sz.tolist() == [2.0] and day.trade_side.tolist() == [-1]
    agg = capture(tmp_path, [*BASE, (T + 2, trade(3, 100, 2, True, e="aggTrade"))], "agg.gz")
    (day,) = crypto.load(agg)
    assert day.meta.notes["trade_stream"] == "aggTrade" and day.trade_sz.tolist() == [2.0]


# -- malformed files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record, line, field, message",
    [
        ("no-space-here", 2, "local_ts", "2 fields"),  # wrong column count
        ("{not json", 2, "json", "unparsable JSON"),
        (diff(11, 11, b=[("abc", 1)]), 2, "b", "unparsable number 'abc'"),
        (diff(11, 11, b=[(99, 1, 0)]), 2, "b", r"\[price, qty\] pair"),
        (diff(11, 11, a=[(102, -1)]), 2, "a", "size must be finite and >= 0"),  # negative amount
        (diff(12, 11), 2, "U", "is after the final id"),
        (diff(11, 11, pu=10), 2, "pu", "futures"),
        (trade(1, 100, -1, False), 2, "q", "trade size must be finite and > 0"),
        (trade(1, "x", 1, False), 2, "p", "unparsable number"),
        (ticker(11, 100, 1, "abc", 1), 2, "a", "unparsable number 'abc'"),
        (ticker(11, 100, "nan", 101, 1), 2, "B", "not a finite number"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path, record, line, field, message):
    path = capture(tmp_path, [*BASE, (None, record) if record == "no-space-here" else (T + 1, record)])
    with pytest.raises(ValueError, match=error(path, line, field) + ".*" + message):
        crypto.load(path)


def test_unsorted_timestamps(tmp_path):
    path = capture(tmp_path, [*BASE, (T - 1, diff(11, 11))])
    with pytest.raises(
        ValueError,
        match=error(path, 2, "local_ts")
        + r": time .* is before the previous line's .* \(lines must be in receive order\)",
    ):
        crypto.load(path)


def test_no_snapshot_and_non_integer_stamp(tmp_path):
    path = capture(tmp_path, [(T, diff(11, 11, b=[(100, 1)]))])
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 1, field 'lastUpdateId': none of the 1 lines")):
        crypto.load(path)
    path = tmp_path / "bad_stamp.txt"
    path.write_text(f"12x {json.dumps(snap(1, [(1, 1)], [(2, 1)]))}\n")
    with pytest.raises(ValueError, match=error(path, 1, "local_ts") + ": not an integer"):
        crypto.load(path)


@pytest.mark.parametrize(
    "option, value",
    [("levels", 0), ("levels", 51), ("on_gap", "skip"), ("crossed", "fix"), ("book_ticker", "yes"),
     ("trade_stream", "kline"), ("tick_size", -0.01), ("lot_size", float("nan")), ("session", ("9:30", "25:00")),
     ("session", ("16:00:00", "09:30:00")), ("symbol", 3)],
)  # fmt: skip
def test_bad_options_name_option_and_value(tmp_path, option, value):
    path = capture(tmp_path, BASE)
    with pytest.raises(ValueError, match=rf"option {option}(\[1\])?="):
        crypto.load(path, **{option: value})


def test_given_tick_and_symbol_are_checked(tmp_path):
    path = capture(tmp_path, [*BASE, (T + 1, diff(11, 11, b=[(100.05, 1)]))])
    with pytest.raises(
        ValueError, match=error(path, 2, "price") + r": price 100.05 is not a multiple of tick_size=0.1"
    ):
        crypto.load(path, tick_size=0.1)
    assert crypto.load(path, tick_size=0.05)[0].meta.tick_size == 0.05
    with pytest.raises(
        ValueError,
        match=error(path, 2, "s") + r": option symbol='ETHUSDT' matches none of the file's symbols \(TESTUSDT\)",
    ):
        crypto.load(path, symbol="ETHUSDT")


# -- the real sample -------------------------------------------------------------------------------


def test_shared_binance_sample(shared_data, tmp_path):
    path = shared_data / "crypto" / "binance-spot" / "btcusdt_20240808.gz"
    assert detect_format(path) == "binance"
    t = time.perf_counter()
    days = load_days(path, cache_dir=tmp_path)
    assert time.perf_counter() - t < 30
    (day,) = days
    # Counted from the raw file: 3,451 diffs, 3 before the snapshot (line 8) of which 2 stale and one
    # bridging (applied with the snapshot), 3,448 after it: 1 + 3,448 rows; 9,757 trade messages.
    assert (day.n_books, day.n_trades, day.levels) == (
        3449,
        9757,
        50,
    )  # default: the snapshot depth (1,000), capped at 50
    assert day.ts[0] == 1723161254206652067 and day.ts[-1] == 1723161599900164784  # snapshot line, last diff line
    assert day.trade_ts[0] == 1723161254087896568 and day.trade_ts[-1] == 1723161599997948484
    # snapshot: bid 61837.63 x 3.78826, ask 61837.64 x 1.54698; the bridging diff (line 6) sets the ask to 1.60520
    assert (day.bid_px[0, 0], day.bid_sz[0, 0], day.ask_px[0, 0], day.ask_sz[0, 0]) == (
        61837.63, 3.78826, 61837.64, 1.6052,
    )  # fmt: skip
    assert day.trade_px[0] == 61837.63 and day.trade_sz[0] == 0.02 and day.trade_side[0] == -1  # m=true
    m = day.meta
    assert (m.symbol, m.date, m.tick_size, m.lot_size) == ("BTCUSDT", "2024-08-08", 0.01, 1e-05)
    assert (m.session_open_ns, m.session_close_ns) == (1723161254206652067, 1723161599999231384)
    n = m.notes
    assert (n["resyncs"], n["stale_updates_dropped"], n["buffered_updates_applied"], n["trade_id_gaps"]) == (0, 2, 1, 0)
    assert n["book_ticker_check"] == {"rows_checked": 3449, "price_mismatches": 0, "size_mismatches": 0}
    assert day.halts is None and n["dropped_crossed_rows"] == 0

    q = 0.5  # 50,000 lots of 1e-5 BTC; the best ask alone shows ~1.6 BTC
    cfg = ExecutionConfig(market=MarketCatalogue(days), horizon_s=120, decision_interval_s=5, warmup_s=0,
                          quantity=q, side="buy")  # fmt: skip
    for policy in ("twap", "random"):
        env = ExecutionEnv(cfg)
        obs, _ = env.reset(seed=7)
        env.action_space.seed(7)
        twap = TWAP(env.action_space)
        total, done = 0.0, False
        while not done:
            action = twap.predict(obs)[0] if policy == "twap" else env.action_space.sample()
            obs, reward, done, truncated, info = env.step(action)
            total += reward
            assert not truncated
        assert abs(total + info["execution"]["shortfall_bps"]) <= 1e-9
        assert info["execution"]["quantity"] == q and info["execution"]["fill_rate"] <= 1.0


def split_sample(sample: Path, folder: Path) -> tuple[Path, Path, list[bytes]]:
    """The sample cut in two gzip files just before a diff near its middle (the second has no snapshot)."""
    lines = gzip.decompress(sample.read_bytes()).splitlines(keepends=True)
    cut = len(lines) // 2
    while b'"depthUpdate"' not in lines[cut]:
        cut += 1
    folder.mkdir()
    first, second = folder / "btcusdt_20240808_a.gz", folder / "btcusdt_20240808_b.gz"
    first.write_bytes(gzip.compress(b"".join(lines[:cut])))
    second.write_bytes(gzip.compress(b"".join(lines[cut:])))
    return first, second, lines[cut:]


def test_capture_split_in_files_continues_the_book(shared_data, tmp_path):
    sample = shared_data / "crypto" / "binance-spot" / "btcusdt_20240808.gz"
    first, second, tail = split_sample(sample, tmp_path / "split")
    (whole,) = crypto.load(sample)
    for source in (tmp_path / "split", [second, first], str(tmp_path / "split" / "*.gz")):
        (day,) = load_market(source, cache=False).days
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(day, name), getattr(whole, name), err_msg=name)
        assert day.meta.source == f"{first}, {second}" and day.meta.notes["file"]["files"] == [str(first), str(second)]
        assert day.meta.notes["depth_updates"] == whole.meta.notes["depth_updates"] and day.meta.notes["resyncs"] == 0
    with pytest.raises(
        ValueError, match=rf"{re.escape(str(second))}: line 1, .*is a depth snapshot.*load them together"
    ):
        crypto.load(second)

    cut = tmp_path / "cut"
    cut.mkdir()
    gap = cut / second.name
    gap.write_bytes(gzip.compress(b"".join(tail[1:])))  # the boundary's diff is lost
    (cut / first.name).write_bytes(first.read_bytes())
    row = next(k for k, text in enumerate(tail[1:], 1) if b'"depthUpdate"' in text)  # the diff after the lost one
    with pytest.raises(ValueError, match=rf"{re.escape(str(gap))}: line {row}, field 'U': sequence gap: this file has"):
        load_market(cut, cache=False)
    (day,) = load_market(cut, cache=False, on_gap="resync").days
    assert day.meta.notes["resyncs"] == 1 and day.halts.shape == (1, 2)


def test_later_files_bridge_overlap_or_restart_from_their_snapshot(tmp_path):
    one = capture(tmp_path, [*BASE, (T + 1, diff(11, 12, b=[(100, 2)]))], "one.gz")
    # overlap: the stale diff (u <= 12) is dropped, the next bridges 12 + 1
    two = capture(tmp_path, [(T + 2, diff(11, 12, b=[(100, 7)])), (T + 3, diff(12, 14, a=[(101, 3)]))], "two.gz")
    (day,) = crypto.load([one, two], levels=1)
    assert day.ts.tolist() == [T, T + 1, T + 3] and day.ask_sz[:, 0].tolist() == [1, 1, 3]
    assert day.bid_sz[:, 0].tolist() == [1, 2, 2] and day.meta.notes["stale_updates_dropped"] == 1
    # a later file that does not continue the book but holds a snapshot starts afresh from it
    three = capture(tmp_path, [(T + 5, diff(30, 31, b=[(99, 1)])), (T + 6, snap(31, [(99, 4)], [(102, 1)]))], "3.gz")
    (day,) = crypto.load([one, three], levels=1)
    assert day.ts.tolist() == [T, T + 1, T + 6] and day.bid_px[:, 0].tolist() == [100, 100, 99]
    assert day.halts.tolist() == [[T + 5, T + 6]] and day.meta.notes["file_restarts"] == 1


def test_notes_count_each_day(tmp_path):
    midnight = (T // crypto.DAY_NS + 1) * crypto.DAY_NS
    records = [*BASE, (T + 1, diff(11, 11, b=[(100, 2)])), (midnight + 1, diff(12, 12, b=[(100, 3)])),
               (midnight + 2, diff(13, 13, a=[(101, 2)])), (midnight + 3, trade(1, 100, 1, True))]  # fmt: skip
    first, second = crypto.load(capture(tmp_path, records))
    assert (first.meta.notes["depth_updates"], second.meta.notes["depth_updates"]) == (1, 2)
    assert (first.meta.notes["lines"], second.meta.notes["lines"]) == (2, 3)
    assert (first.meta.notes["trade_messages"], second.meta.notes["trade_messages"]) == (0, 1)
    assert first.meta.notes["file"] == second.meta.notes["file"] and first.meta.notes["file"]["depth_updates"] == 3


def test_a_last_date_with_trades_only_is_listed_not_a_day(tmp_path):
    midnight = (T // crypto.DAY_NS + 1) * crypto.DAY_NS
    records = [*BASE, (T + 1, diff(11, 11, b=[(100, 2)])), (T + 2, trade(1, 100, 1, True)),
               (midnight + 3, trade(2, 100, 1, True))]  # fmt: skip
    (day,) = crypto.load(capture(tmp_path, records))
    date = str(np.datetime64(midnight // crypto.DAY_NS, "D"))
    assert day.meta.notes["dates_without_day"] == [f"{date}: no book row"]
    assert day.trade_ts.tolist() == [T + 2] and day.meta.notes["trade_messages"] == 1
    assert day.meta.notes["file"]["trade_messages"] == 2 and day.meta.notes["file"]["depth_updates"] == 1


def test_an_integer_beyond_64_bits_is_an_error_naming_its_line(tmp_path):
    path = capture(tmp_path, [*BASE, (T + 1, trade(2**70, 100, 1, True))])
    with pytest.raises(
        ValueError, match=error(path, 2, "t") + ": integer out of the 64-bit range: 1180591620717411303424$"
    ):
        crypto.load(path)
    path = capture(tmp_path, [*BASE, (T + 1, diff(11, -(2**64), b=[(100, 2)]))], "u.gz")
    with pytest.raises(
        ValueError, match=error(path, 2, "u") + ": integer out of the 64-bit range: -18446744073709551616$"
    ):
        crypto.load(path)

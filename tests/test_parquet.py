"""Parquet export and import: every shared sample round-trips to identical arrays and metadata;
files written by others (pandas) load with the documented columns; bad files give errors that
name the file, the record and the column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from exec_env.market import MarketCatalogue, sources
from exec_env.market.data import TRADE_FIELDS, MarketDay, MarketMeta, validate
from exec_env.market.parquet import export_parquet, read_parquet, sniff
from exec_env.market.sources import load_days, load_market

ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", *TRADE_FIELDS)
T0 = 1_700_000_000_000_000_000

SAMPLES = [
    ("lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv", {}),
    ("lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv", {}),
    ("databento/ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv", {}),
    ("databento/futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst", {}),
    ("databento/ESM4_glbx-mdp3_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.csv", {}),
    ("databento/esh4-glbx-mdp3-20231224.mbo.dbn.zst", {}),
    ("crypto/binance-spot/btcusdt_20240808.gz", {}),
    ("fx/EURUSD_2026-07-13_12h_ticks.csv", {}),
    ("bars/SPY_1min.csv", {}),
    ("bars/AAPL_1min.csv", {}),
    ("taq-multivenue/sampleQDataRaw.csv", {"crossed": "drop"}),
]


def assert_same_day(a: MarketDay, b: MarketDay) -> None:
    for name in (*ARRAYS, "venue", "halts"):
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is None and y is None, name
            continue
        assert (x.dtype, x.shape) == (y.dtype, y.shape), name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert json.loads(json.dumps(a.meta.notes, default=str)) == b.meta.notes
    for field in ("symbol", "tick_size", "lot_size", "session_open_ns", "session_close_ns", "source", "date"):
        assert getattr(a.meta, field) == getattr(b.meta, field), field


@pytest.mark.parametrize(("name", "options"), SAMPLES, ids=[Path(n).name[:40] for n, _ in SAMPLES])
def test_every_shared_sample_round_trips(shared_data, tmp_path, name, options):
    path = shared_data / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    days = load_days(path, **options)  # through the parse cache shared with the loader tests
    books = export_parquet(MarketCatalogue(days), tmp_path)
    assert len(books) == len(days) and all(b.name.endswith(".book.parquet") for b in books)
    back = read_parquet(tmp_path)
    assert len(back) == len(days)
    for i, day in enumerate(days):
        assert_same_day(day, back.day(i))


def test_pandas_reads_the_export_and_a_single_file_path(tmp_path):
    day = tiny_day()
    (book,) = export_parquet(day, tmp_path / "mine.book.parquet")
    assert book == tmp_path / "mine.book.parquet" and (tmp_path / "mine.trades.parquet").is_file()
    frame = pd.read_parquet(book)
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    assert list(frame.columns[:3]) == ["ts", "bid_px_0", "bid_px_1"]
    assert frame.shape == (day.n_books, 2 + 4 * day.levels)
    np.testing.assert_array_equal(
        frame["ts"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").view("int64"), day.ts
    )
    np.testing.assert_array_equal(frame["venue"].to_numpy(), day.venue)
    np.testing.assert_array_equal(frame[f"ask_sz_{day.levels - 1}"].to_numpy(), day.ask_sz[:, -1])
    trades = pd.read_parquet(tmp_path / "mine.trades.parquet")
    assert list(trades.columns) == ["ts", "px", "sz", "side"] and str(trades["side"].dtype) == "int8"
    assert_same_day(day, read_parquet(book))
    with pytest.raises(ValueError, match=r"a single \.book\.parquet file holds one day, got 2"):
        export_parquet(MarketCatalogue([day, day]), tmp_path / "two.book.parquet")


def tiny_day(day_index: int = 0, venue: bool = True) -> MarketDay:
    """Four books of two levels (one side empty at a level), three trades, a halt, venues."""
    t0 = T0 + day_index * 86_400 * 10**9
    nan = np.nan
    day = MarketDay(
        meta=MarketMeta(
            "TEST",
            0.5,
            1.0,
            t0,
            t0 + 10_000,
            "hand-made",
            str(np.datetime64(t0, "ns"))[:10],
            notes={"pairs": (1, 2), "nested": {"a": [1.5, None]}},
        ),
        ts=np.array([t0, t0 + 10, t0 + 10, t0 + 900], dtype=np.int64),
        bid_px=np.array([[99.0, 98.5], [99.0, nan], [99.5, 99.0], [99.0, 98.0]]),
        bid_sz=np.array([[1.0, 2.0], [3.0, 0.0], [1.0, 1.0], [2.0, 2.0]]),
        ask_px=np.array([[100.0, 101.0], [100.0, 100.5], [100.5, 101.0], [100.0, 100.5]]),
        ask_sz=np.array([[4.0, 1.0], [4.0, 2.0], [1.0, 3.0], [5.0, 1.0]]),
        trade_ts=np.array([t0 + 5, t0 + 10, t0 + 800], dtype=np.int64),
        trade_px=np.array([100.0, 99.0, 100.5]),
        trade_sz=np.array([1.0, 2.0, 3.0]),
        trade_side=np.array([1, -1, 0], dtype=np.int8),
        venue=np.array([0, 2, 1, 2], dtype=np.int16) if venue else None,
        halts=np.array([[t0 + 100, t0 + 200]], dtype=np.int64),
    )
    return validate(day)


def own_book(tmp_path: Path, **columns) -> Path:
    base = {
        "ts": pd.to_datetime([T0, T0 + 1_000, T0 + 2_000], utc=True),
        "bid_px_0": [99.0, 99.5, 99.0],
        "bid_sz_0": [5.0, 1.0, 2.0],
        "bid_px_1": [98.0, None, 98.5],
        "bid_sz_1": [3.0, None, 1.0],
        "ask_px_0": [101.0, 100.5, 100.0],
        "ask_sz_0": [4.0, 2.0, 1.0],
        "ask_px_1": [102.0, 101.0, 101.0],
        "ask_sz_1": [1.0, 1.0, 6.0],
    }
    base.update(columns)
    path = tmp_path / "xyz_own.book.parquet"
    pd.DataFrame({k: v for k, v in base.items() if v is not None}).to_parquet(path)
    return path


def test_own_files_without_metadata(tmp_path):
    path = own_book(tmp_path)
    pd.DataFrame(
        {"ts": np.array([T0 + 500, T0 + 1_500], dtype=np.int64), "px": [100.0, 100.5], "sz": [1.0, 2.0]}
    ).to_parquet(tmp_path / "xyz_own.trades.parquet")
    with pytest.raises(
        ValueError, match=r"xyz_own.book.parquet: no exec_env metadata .* option tick_size= is required"
    ):
        read_parquet(path)
    day = read_parquet(path, tick_size=0.5, lot_size=1.0)
    assert (day.meta.symbol, day.meta.date) == ("XYZ", "2023-11-14")
    assert (day.meta.session_open_ns, day.meta.session_close_ns) == (T0, T0 + 2_001)
    np.testing.assert_array_equal(day.ts, [T0, T0 + 1_000, T0 + 2_000])
    np.testing.assert_array_equal(day.bid_px, [[99.0, 98.0], [99.5, np.nan], [99.0, 98.5]])
    np.testing.assert_array_equal(day.bid_sz, [[5.0, 3.0], [1.0, 0.0], [2.0, 1.0]])
    np.testing.assert_array_equal(day.trade_side, [0, 0])
    assert day.meta.notes["trade_side"] == "no 'side' column: every side unknown (0)"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"ask_px_0": [101.0, 99.5, 100.0]}, r"record 2, field 'bid_px': locked book: best bid 99.5 >= best ask 99.5"),
        ({"bid_sz_0": [5.0, -1.0, 2.0]}, r"record 2, field 'bid_sz': negative size: \[-1.0, 0.0\]"),
        ({"ask_sz_1": None}, r"field 'ask_sz': expected columns ask_sz_0..ask_sz_1, found levels \[0\]"),
        ({"ts": ["a", "b", "c"]}, r"field 'ts': must be a timestamp or int64 ns since the epoch, got (large_)?string"),
        ({"bid_px_0": ["x", "y", "z"]}, r"field 'bid_px_0': must be numeric, got (large_)?string \(.*\)"),
        ({"ts": pd.to_datetime([T0 + 5, T0, T0 + 9], utc=True)},
         rf"record 2, field 'ts': timestamp {T0} is before the previous row's {T0 + 5}"),
    ],
)  # fmt: skip
def test_bad_own_files_name_file_record_and_column(tmp_path, columns, message):
    """Parquet has no lines: its places are 1-based records."""
    path = own_book(tmp_path, **columns)
    with pytest.raises(ValueError) as err:
        read_parquet(path, tick_size=0.5, lot_size=1.0)
    assert re.fullmatch(re.escape(f"{path}: ") + message, str(err.value)), str(err.value)


def test_registered_as_a_source(tmp_path, monkeypatch):
    """The registry entry of INTEGRATION.md: folders, companions and the cache work through load_market."""
    monkeypatch.setitem(sources.FORMATS, "parquet", "exec_env.market.parquet")
    days = [tiny_day(0), tiny_day(1, venue=False)]
    export_parquet(MarketCatalogue(days), tmp_path / "pq")
    (tmp_path / "pq" / "README.txt").write_text("not data")
    assert sniff(next((tmp_path / "pq").glob("*.book.parquet")))
    assert not sniff(next((tmp_path / "pq").glob("*.trades.parquet")))
    catalogue = load_market(tmp_path / "pq", cache_dir=tmp_path / "cache")
    assert catalogue.notes["skipped"] == [str(tmp_path / "pq" / "README.txt")]
    assert len(catalogue) == 2
    for i in range(2):
        assert_same_day(days[i], catalogue.day(i))

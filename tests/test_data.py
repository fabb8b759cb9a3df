"""The canonical market data: validation errors name row and field; save/load; mirror."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exec_env.market.data import (
    _MASKED_CELLS,
    BOOK_FIELDS,
    MarketMeta,
    _check_side,
    _Places,
    _read_npy,
    _side_ok,
    load_day,
    mirror_day,
    save_day,
    validate,
)
from exec_env.market.synthetic import SyntheticParams, generate_day
from tests.books import book, make_day, trade

BIDS = [(100.00, 300), (99.99, 400)]
ASKS = [(100.01, 200), (100.02, 250)]


@pytest.fixture()
def day():
    return make_day([book(0, BIDS, ASKS), book(1, BIDS, ASKS), book(2, BIDS, ASKS)],
                    trades=[trade(0.5, 100.00, 10, -1), trade(1.5, 100.01, 20, 1)], levels=2)  # fmt: skip


def edit(day, **arrays):
    return replace(day, **{k: v for k, v in arrays.items()})


def col(day, name, row, level, value):
    arr = getattr(day, name).copy()
    arr[row, level] = value
    return edit(day, **{name: arr})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: edit(d, ts=d.ts[[0, 2, 1]]),
            r"fixture: book row 2, field 'ts': timestamp .* before the previous row",
        ),
        (
            lambda d: col(d, "bid_px", 1, 0, 100.01),
            r"book row 1, field 'bid_px': locked book: best bid 100.01 >= best ask 100.01",
        ),
        (lambda d: col(d, "bid_px", 2, 0, 100.05), r"book row 2, field 'bid_px': crossed book"),
        (lambda d: col(d, "ask_sz", 1, 1, -5.0), r"book row 1, field 'ask_sz': negative size"),
        (
            lambda d: col(d, "bid_px", 0, 1, np.nan),
            r"book row 0, field 'bid_px': a level with size > 0 needs a finite positive price",
        ),
        (lambda d: col(d, "bid_sz", 2, 0, np.nan), r"book row 2, field 'bid_sz': size is not finite"),
        (
            lambda d: col(col(d, "ask_sz", 1, 0, 0.0), "ask_px", 1, 0, np.nan),
            r"book row 1, field 'ask_sz': an empty level comes before a non-empty one",
        ),
        (lambda d: col(d, "ask_px", 0, 1, 100.00), r"book row 0, field 'ask_px': prices must strictly increase"),
        (lambda d: col(d, "bid_px", 1, 1, 100.00), r"book row 1, field 'bid_px': prices must strictly decrease"),
        (
            lambda d: col(d, "bid_sz", 0, 1, 0.0),
            r"book row 0, field 'bid_px': an empty level \(size 0\) must have price NaN",
        ),
        (lambda d: edit(d, trade_ts=d.trade_ts[::-1].copy()), r"trade row 1, field 'ts': timestamp .* before"),
        (
            lambda d: edit(d, trade_px=np.array([100.0, np.nan])),
            r"trade row 1, field 'px': price must be finite and > 0",
        ),
        (lambda d: edit(d, trade_sz=np.array([0.0, 5.0])), r"trade row 0, field 'sz': size must be finite and > 0"),
        (
            lambda d: edit(d, trade_side=np.array([1, 2], dtype=np.int8)),
            r"trade row 1, field 'side': side must be \+1, -1 or 0",
        ),
        (lambda d: edit(d, halts=np.array([[5, 3]], dtype=np.int64)), r"halt 0: end 3 is not after start 5"),
        (lambda d: edit(d, bid_px=d.bid_px.astype(np.float32)), r"field 'bid_px' must be float64"),
    ],
)
def test_validate_names_the_row_and_the_field(day, change, message):
    with pytest.raises(ValueError, match=message):
        validate(change(day))


@pytest.mark.parametrize(
    ("name", "level", "value", "message"),
    [
        ("ask_sz", 1, -5.0, "negative size"),
        ("bid_sz", 0, np.nan, "size is not finite"),
        ("bid_px", 1, 100.00, "prices must strictly decrease"),
        ("ask_px", 0, np.nan, "a level with size > 0 needs a finite positive price"),
    ],
)
def test_a_large_book_gets_the_same_errors(day, name, level, value, message):
    """A side of more than _MASKED_CELLS cells goes through the compiled pass first; the masks then
    place the break it finds, as on a small book."""
    n = _MASKED_CELLS // day.levels + 1
    big = edit(day, ts=day.ts[0] + np.arange(n), **{f: np.repeat(getattr(day, f)[:1], n, axis=0) for f in BOOK_FIELDS})
    assert big.bid_px.size > _MASKED_CELLS
    validate(big)
    with pytest.raises(ValueError, match=rf"book row {n - 2}, field '{name}': {message}"):
        validate(col(big, name, n - 2, level, value))


def test_validate_reports_file_line_numbers_when_given(day):
    bad = col(day, "ask_sz", 2, 0, -1.0)
    with pytest.raises(ValueError) as err:
        validate(bad, origin="data.csv", book_rows=np.array([3, 9, 17]))
    assert str(err.value) == "data.csv: line 17, field 'ask_sz': negative size: [-1.0, 250.0]"
    # trades from another file, as binary records: the trade arrays' names, that file, its record
    bad = edit(day, trade_sz=np.array([10.0, 0.0]))
    with pytest.raises(ValueError) as err:
        validate(bad, "book.dbn", np.arange(3), np.array([4, 8]), trade_origin="trades.dbn", unit="record")
    assert str(err.value) == "trades.dbn: record 8, field 'trade_sz': size must be finite and > 0, got 0.0"


def test_meta_is_validated():
    with pytest.raises(ValueError, match=r"x.csv: meta field 'tick_size' must be > 0, got -0.01"):
        MarketMeta("X", -0.01, 1.0, 0, 1, "x.csv")
    with pytest.raises(ValueError, match=r"'session_close_ns' \(5\) must be after 'session_open_ns' \(5\)"):
        MarketMeta("X", 0.01, 1.0, 5, 5, "x.csv")


def test_save_and_load_round_trip_memory_maps_large_arrays(tmp_path, day):
    full = generate_day(SyntheticParams(session_seconds=3600.0), seed=1, day_index=0)
    halted = replace(full, halts=np.array([[full.ts[10], full.ts[20]]], dtype=np.int64))
    for original in (day, halted):
        loaded = load_day(save_day(original, tmp_path / original.meta.date / str(original.n_books)))
        assert loaded.meta == original.meta
        for name in ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(original, name))
            assert getattr(loaded, name).dtype == getattr(original, name).dtype
        np.testing.assert_array_equal(
            loaded.halts if loaded.halts is not None else [], original.halts if original.halts is not None else []
        )
    big = load_day(tmp_path / halted.meta.date / str(halted.n_books))
    assert isinstance(big.bid_px, np.memmap) and big.bid_px.nbytes > 1 << 20  # read lazily, shared by workers
    assert not isinstance(big.halts, np.memmap)  # tiny: read outright
    with pytest.raises(FileNotFoundError, match=r"no meta\.json"):
        load_day(tmp_path)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(7, dtype=np.int64) * -3,
        np.linspace(-1.5, 2.25, 12).reshape(4, 3),
        np.array([1, -1, 0], dtype=np.int8),
        np.array([[7, 8]], dtype=np.int16),
        np.array([True, False]),
        np.zeros(0),
        np.zeros((0, 2), dtype=np.int64),
        np.array(3.5),  # shape ()
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),  # header not matched: np.load reads it
        np.array(["2024-01-02"], dtype="datetime64[ns]"),  # (the same)
        np.arange(4, dtype=">i4"),
    ],
)
def test_cached_arrays_read_like_np_load(tmp_path, array):
    """A saved day's small arrays are read by the fast path exactly as ``np.load`` reads them: same
    values, dtype, shape and layout, writable (numba compiles once for writable arrays)."""
    path = tmp_path / "a.npy"
    np.save(path, array)
    got, want = _read_npy(path), np.load(path)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert got.flags.writeable and got.flags.c_contiguous == want.flags.c_contiguous and got.flags.aligned


def test_mirror_reflects_prices_and_swaps_sides(day):
    m = mirror_day(day, 100.005)
    validate(m)
    np.testing.assert_allclose(m.bid_px[0], [100.0 - 0.0, 99.99])
    np.testing.assert_allclose(m.ask_px[0], [100.01, 100.02])
    np.testing.assert_array_equal(m.bid_sz, day.ask_sz)
    np.testing.assert_array_equal(m.trade_side, [1, -1])
    np.testing.assert_allclose(m.trade_px, [100.01, 100.00])


@settings(max_examples=1000, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    filled=st.lists(st.integers(0, 4), min_size=4, max_size=4),
    holes=st.just(0) | st.integers(0, 2**16 - 1),
    bid=st.booleans(),
    edits=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 3),
            st.booleans(),
            st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1.0, 99.0, 100.0, 101.0, "previous level's"]),
        ),
        max_size=2,
    ),
)
def test_the_one_pass_side_check_agrees_with_the_rules(shape, filled, holes, bid, edits):
    """``validate`` runs the side rules' masks only when the one compiled pass finds a break: the
    pass must find one exactly when a mask does (a valid ladder, maybe with empty levels inside it
    (bit ``4 r + j`` of ``holes``), and up to two values changed)."""
    n, levels = shape
    sign = -1.0 if bid else 1.0
    px = np.full((n, levels), np.nan)
    sz = np.zeros((n, levels))
    for r in range(n):
        k = min(filled[r], levels)
        px[r, :k] = 100.0 + sign * np.arange(k)
        sz[r, :k] = 1.0 + np.arange(k)
        for j in range(k):
            if holes >> (4 * r + j) & 1:
                px[r, j], sz[r, j] = np.nan, 0.0
    for r, j, on_price, value in edits:
        a, r, j = (px if on_price else sz), r % n, j % levels
        a[r, j] = a[r, j - 1] if value == "previous level's" else value  # level -1: the last one
    try:
        _check_side(_Places("t", "book", None, "line"), "bid" if bid else "ask", px, sz)
        broken = False
    except ValueError:
        broken = True
    assert _side_ok(px, sz, bid) == (not broken)

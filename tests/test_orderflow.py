"""Order-flow features on a hand-built book with hand-computed values, and a look-ahead test."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from exec_env.orderflow import FEATURE_NAMES, OrderflowArrays, features_at
from tests.books import T0, S, book, make_day, trade

IX = {name: i for i, name in enumerate(FEATURE_NAMES)}

# Best-level depth (q_b + q_a) / 2 per row: 20, 22, 17, 13, 17, 10.
# OFI e_n per row: 0, +4 (bid queue grows), +30 (ask moves up: +previous ask size),
# +6 (bid moves up: +new bid size), -6 (bid moves down: -previous bid size), -14 (bid side empties).
BOOKS = [
    book(0, bids=[(100.00, 10), (99.99, 20), (99.98, 30)], asks=[(100.01, 30), (100.02, 20), (100.03, 10)]),
    book(5, bids=[(100.00, 14), (99.99, 20), (99.98, 30)], asks=[(100.01, 30), (100.02, 20), (100.03, 10)]),
    book(12, bids=[(100.00, 14), (99.99, 20), (99.98, 30)], asks=[(100.02, 20), (100.03, 10), (100.04, 5)]),
    book(20, bids=[(100.01, 6), (100.00, 14), (99.99, 20)], asks=[(100.02, 20), (100.03, 10), (100.04, 5)]),
    book(70, bids=[(100.00, 14), (99.99, 20), (99.98, 30)], asks=[(100.02, 20), (100.03, 10), (100.04, 5)]),
    book(75, bids=[], asks=[(100.02, 20), (100.03, 10), (100.04, 5)]),
]
TRADES = [trade(3, 100.01, 5, 1), trade(11, 100.00, 2, -1), trade(15, 100.02, 4, 1), trade(65, 100.00, 8, -1)]
MIDS = [100.005, 100.005, 100.01, 100.015, 100.01, 100.01]


def _log_bps(a: float, b: float) -> float:
    return 1e4 * math.log(a / b)


@pytest.fixture(scope="module")
def flow() -> OrderflowArrays:
    return OrderflowArrays.compute(make_day(BOOKS, TRADES))


def _check(row: np.ndarray, expected: dict[str, float]) -> None:
    assert set(expected) == set(FEATURE_NAMES)
    got = np.array([row[IX[k]] for k in FEATURE_NAMES])
    want = np.array([expected[k] for k in FEATURE_NAMES], dtype=np.float32)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6, err_msg=str(dict(zip(FEATURE_NAMES, got, strict=True))))


def test_forward_filled_mid(flow: OrderflowArrays) -> None:
    np.testing.assert_allclose(flow.mid, MIDS, rtol=0, atol=1e-12)


def test_row_at_20s(flow: OrderflowArrays) -> None:
    r2 = math.log(100.01 / 100.005)
    r3 = math.log(100.015 / 100.01)
    _check(
        flow.features[3],
        {
            "ofi_10": (30 + 6) / ((17 + 13) / 2),  # rows at 12 s and 20 s
            "ofi_60": (4 + 30 + 6) / ((20 + 22 + 17 + 13) / 4),
            "ofi_300": (4 + 30 + 6) / ((20 + 22 + 17 + 13) / 4),
            "qimb_1": (6 - 20) / 26,
            "qimb_3": (40 - 35) / 75,
            "qimb_all": (40 - 35) / 75,
            "microprice_ticks": -7 / 26,  # (0.005 * 6 - 0.005 * 20) / 26 / 0.01
            "tfi_10": (4 - 2) / 6,
            "tfi_60": (9 - 2) / 11,
            "tfi_300": (9 - 2) / 11,
            "rv_60": 1e4 * math.sqrt(r2**2 + r3**2),
            "rv_300": 1e4 * math.sqrt(r2**2 + r3**2),
            "ret_10": _log_bps(100.015, 100.005),  # last row at or before 10 s is the one at 5 s
            "ret_60": 0.0,  # no row at or before -40 s
            "spread_ticks": 1.0,
            "spread_dev_60": 1 - (1 + 1 + 2 + 1) / 4,
            "depth_dev_300": math.log(13 / 18),
            "trade_rate_60": 3 / 60,
            "trade_accel": math.log(4 / (3 * 60 / 300 + 1)),
        },
    )


def test_row_at_70s(flow: OrderflowArrays) -> None:
    rets = [math.log(100.01 / 100.005), math.log(100.015 / 100.01), math.log(100.01 / 100.015)]  # 12, 20, 70 s
    _check(
        flow.features[4],
        {
            "ofi_10": -6 / 17,
            "ofi_60": (30 + 6 - 6) / ((17 + 13 + 17) / 3),  # rows at 12, 20, 70 s
            "ofi_300": (4 + 30 + 6 - 6) / ((20 + 22 + 17 + 13 + 17) / 5),
            "qimb_1": (14 - 20) / 34,
            "qimb_3": (64 - 35) / 99,
            "qimb_all": (64 - 35) / 99,
            "microprice_ticks": (14 - 20) / 34,  # half-spread of one tick times the imbalance
            "tfi_10": -1.0,
            "tfi_60": (4 - 10) / 14,
            "tfi_300": (9 - 10) / 19,
            "rv_60": 1e4 * math.sqrt(sum(r * r for r in rets)),
            "rv_300": 1e4 * math.sqrt(sum(r * r for r in rets)),  # the row at 5 s has r = 0
            "ret_10": _log_bps(100.01, 100.015),
            "ret_60": _log_bps(100.01, 100.005),
            "spread_ticks": 2.0,
            "spread_dev_60": 2 - (2 + 1 + 2) / 3,
            "depth_dev_300": math.log(17 / (89 / 5)),
            "trade_rate_60": 3 / 60,
            "trade_accel": math.log(4 / (4 * 60 / 300 + 1)),
        },
    )


def test_one_sided_row(flow: OrderflowArrays) -> None:
    row = flow.features[5]
    assert row[IX["ofi_10"]] == np.float32(-20 / 13.5)  # rows at 70 s (-6) and 75 s (-14: bid side emptied)
    assert row[IX["qimb_1"]] == -1.0
    assert row[IX["microprice_ticks"]] == 0.0
    assert row[IX["spread_ticks"]] == 2.0  # the last two-sided spread
    # the mid is carried forward from 70 s; 10 s back (65 s) the last row is the one at 20 s
    np.testing.assert_allclose(row[IX["ret_10"]], _log_bps(100.01, 100.015), rtol=2e-6)
    assert flow.mid[5] == flow.mid[4]


def test_features_at_uses_the_last_row_at_or_before(flow: OrderflowArrays) -> None:
    day = make_day(BOOKS, TRADES)
    t = T0 + np.array([-1, 0, 19 * S, 20 * S, 69 * S, 80 * S])
    got = features_at(day, flow, t)
    np.testing.assert_array_equal(got[0], 0.0)
    for k, r in enumerate([0, 2, 3, 3, 5], start=1):
        np.testing.assert_array_equal(got[k], flow.features[r].astype(np.float64))


def test_buy_sell_mirror() -> None:
    """Mirroring the book (bids <-> asks, prices reflected) and the trade signs flips every signed feature."""

    def mirror(books, trades):
        ref = 200.02
        out = [book(t, bids=[(round(ref - p, 2), q) for p, q in a], asks=[(round(ref - p, 2), q) for p, q in b])
               for t, b, a in books]  # fmt: skip
        return out, [trade(t, round(ref - p, 2), q, -s) for t, p, q, s in trades]

    a = OrderflowArrays.compute(make_day(BOOKS, TRADES)).features
    b = OrderflowArrays.compute(make_day(*mirror(BOOKS, TRADES))).features
    signed = [IX[k] for k in ("ofi_10", "ofi_60", "ofi_300", "qimb_1", "qimb_3", "qimb_all", "microprice_ticks",
                              "tfi_10", "tfi_60", "tfi_300", "ret_10", "ret_60")]  # fmt: skip
    unsigned = [i for i in range(len(FEATURE_NAMES)) if i not in signed]
    np.testing.assert_allclose(b[:, signed], -a[:, signed], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b[:, unsigned], a[:, unsigned], rtol=1e-4, atol=1e-5)


def test_no_feature_reads_data_after_its_timestamp(small_catalogue) -> None:
    day = small_catalogue.day(0)
    base = OrderflowArrays.compute(day)
    rng = np.random.default_rng(3)
    for i in (0, 1, day.n_books // 3, day.n_books - 2):
        t = int(day.ts[i])
        last = int(np.searchsorted(day.ts, t, side="right")) - 1  # rows sharing the stamp are "at t"
        k = int(np.searchsorted(day.trade_ts, t, side="right"))
        later = slice(last + 1, None)
        fields = {f: np.array(getattr(day, f), copy=True) for f in ("bid_px", "ask_px", "bid_sz", "ask_sz")}
        shift = rng.integers(-20, 21, size=fields["bid_px"][later].shape[0])[:, None] * day.meta.tick_size
        fields["bid_px"][later] += shift
        fields["ask_px"][later] += shift
        fields["bid_sz"][later] *= rng.uniform(0.2, 3.0, size=fields["bid_sz"][later].shape)
        fields["ask_sz"][later] *= rng.uniform(0.2, 3.0, size=fields["ask_sz"][later].shape)
        trade_sz = np.array(day.trade_sz, copy=True)
        trade_side = np.array(day.trade_side, copy=True)
        trade_sz[k:] *= rng.uniform(0.2, 3.0, size=trade_sz[k:].shape)
        trade_side[k:] = -trade_side[k:]
        changed = OrderflowArrays.compute(
            dataclasses.replace(day, trade_sz=trade_sz, trade_side=trade_side, **fields)
        ).features
        np.testing.assert_array_equal(changed[: last + 1], base.features[: last + 1])
        if last + 1 < day.n_books:
            assert not np.array_equal(changed[last + 1 :], base.features[last + 1 :])  # the change was seen later


def test_cache_beside_a_saved_day(tmp_path) -> None:
    day = make_day(BOOKS, TRADES)
    first = OrderflowArrays.for_day(day, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orderflow_v1_features.npy", "orderflow_v1_mid.npy"]
    again = OrderflowArrays.for_day(day, tmp_path)
    assert isinstance(again.features, np.memmap)
    np.testing.assert_array_equal(again.features, first.features)
    np.testing.assert_array_equal(again.mid, first.mid)

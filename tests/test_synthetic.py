"""Tests of the synthetic CST order book generator (exec_env.market.synthetic)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exec_env.market import synthetic
from exec_env.market.data import BOOK_FIELDS, TRADE_FIELDS, MarketDay, MarketMeta, validate
from exec_env.market.synthetic import (
    SyntheticParams,
    _clock_time,
    _lean,
    _run,
    autocorrelation,
    flow_predictability,
    generate_day,
    order_signs,
    session_bounds,
    stylized_facts,
    synthetic_catalogue,
    trade_impact,
)

SHORT = SyntheticParams(session_seconds=900.0)
ARRAYS = ("ts", *BOOK_FIELDS, *TRADE_FIELDS)


@pytest.fixture(scope="module")
def short_day() -> MarketDay:
    return generate_day(SHORT, seed=1, day_index=0)


@pytest.fixture(scope="module")
def full_day() -> MarketDay:
    return generate_day(SyntheticParams(), seed=0, day_index=0)


def same_arrays(a: MarketDay, b: MarketDay) -> bool:
    return all(
        getattr(a, n).shape == getattr(b, n).shape and np.array_equal(getattr(a, n), getattr(b, n), equal_nan=True)
        for n in ARRAYS
    )


# ---------------------------------------------------------------------------- form and metadata


def test_output_is_canonical(short_day: MarketDay) -> None:
    day = validate(short_day)
    assert day.levels == 10
    assert day.n_books > 100 and day.n_trades > 100
    assert day.ts[0] == day.meta.session_open_ns
    assert day.ts[-1] <= day.meta.session_close_ns and day.trade_ts[-1] <= day.meta.session_close_ns
    assert day.trade_ts[0] >= day.meta.session_open_ns
    assert set(np.unique(day.trade_side)) == {-1, 1}
    meta = day.meta
    assert (meta.symbol, meta.tick_size, meta.lot_size) == ("SYNTH", 0.01, 1.0)
    assert "CST" in meta.source and "seed=1" in meta.source
    assert meta.notes["params"]["imbalance_feedback"] == SHORT.imbalance_feedback
    assert meta.notes["params"]["theta"] == list(SHORT.theta)


def test_more_levels_and_other_sizes() -> None:
    params = replace(SHORT, levels=20, max_distance=20, order_size=7.0, session_seconds=300.0)
    day = validate(generate_day(params, seed=3))
    assert day.levels == 20
    assert np.all(np.isin(day.trade_sz, [7.0]))
    for sz in (day.bid_sz, day.ask_sz):
        assert np.all(np.mod(sz, 7.0) == 0)
    # with D = 20 the book is deep enough to fill at least 15 of the 20 levels most of the time
    assert np.median((day.bid_sz > 0).sum(axis=1)) >= 15


def test_prices_on_tick_grid(short_day: MarketDay) -> None:
    tick = short_day.meta.tick_size
    for px in (short_day.bid_px, short_day.ask_px, short_day.trade_px):
        finite = px[np.isfinite(px)]
        assert finite.size > 0
        ticks = finite / tick
        assert np.max(np.abs(ticks - np.round(ticks))) < 1e-9
        # and exactly the decimal representation (what a CSV would hold)
        assert np.array_equal(finite, np.round(finite, 2))


def test_consecutive_rows_differ(short_day: MarketDay) -> None:
    changed = np.zeros(short_day.n_books - 1, bool)
    for name in BOOK_FIELDS:
        a = getattr(short_day, name)
        changed |= ~np.all((a[1:] == a[:-1]) | (np.isnan(a[1:]) & np.isnan(a[:-1])), axis=1)
    assert changed.all()


# ---------------------------------------------------------------------------- determinism


def test_deterministic_per_seed_and_day() -> None:
    params = replace(SHORT, session_seconds=300.0)
    a = generate_day(params, seed=5, day_index=2)
    b = generate_day(params, seed=5, day_index=2)
    assert same_arrays(a, b)
    assert a.meta == b.meta
    assert not same_arrays(a, generate_day(params, seed=5, day_index=3))
    assert not same_arrays(a, generate_day(params, seed=6, day_index=2))


def test_bad_seed_and_day_index() -> None:
    with pytest.raises(ValueError, match="seed=-1"):
        generate_day(SHORT, seed=-1)
    with pytest.raises(ValueError, match="day_index=-2"):
        generate_day(SHORT, seed=0, day_index=-2)


# ---------------------------------------------------------------------------- calendar


def ns(stamp: str) -> int:
    return int(np.datetime64(stamp, "ns").astype(np.int64))


def test_first_three_sessions() -> None:
    expected = ["2024-01-02", "2024-01-03", "2024-01-04"]
    for i, date in enumerate(expected):
        assert session_bounds(i) == (date, ns(f"{date}T14:30:00"), ns(f"{date}T21:00:00"))
        meta = generate_day(replace(SHORT, session_seconds=60.0), seed=0, day_index=i).meta
        assert meta.date == date
        assert meta.session_open_ns == ns(f"{date}T14:30:00")
        assert meta.session_close_ns == ns(f"{date}T14:31:00")


def test_friday_is_followed_by_monday() -> None:
    friday, _, _ = session_bounds(3)
    monday, open_ns, close_ns = session_bounds(4)
    assert friday == "2024-01-05" and np.datetime64(friday).astype("datetime64[D]").item().weekday() == 4
    assert monday == "2024-01-08"
    assert (open_ns, close_ns) == (ns("2024-01-08T14:30:00"), ns("2024-01-08T21:00:00"))
    assert session_bounds(9)[0] == "2024-01-15"  # two weeks on: weekends skipped again


# ---------------------------------------------------------------------------- recording


def check_no_look_ahead(params: SyntheticParams, seed: int) -> None:
    _, open_ns, close_ns, ts, _, _, _, _, tr_ts, _, _, events = _run(params, seed, 0, record_events=True)
    interval = round(params.snapshot_interval_ms * 1e6)
    assert ts[0] == open_ns
    assert np.all(np.diff(events) >= 0) and events[-1] <= close_ns
    # every row after the open is stamped with an event time: the last event of its bucket
    rel = events - open_ns
    ev_bucket = rel // interval if interval > 0 else rel
    last_in_bucket = {int(b): int(t) for b, t in zip(ev_bucket, events, strict=True)}  # later events overwrite
    row_bucket = (ts[1:] - open_ns) // interval if interval > 0 else ts[1:] - open_ns
    assert np.all(np.diff(row_bucket) > 0)  # at most one row per bucket
    assert [last_in_bucket[int(b)] for b in row_bucket] == ts[1:].tolist()
    # every trade is an event, and precedes (or shares the stamp of) the next book row
    assert np.all(np.isin(tr_ts, events))
    # (a trade after the last row is possible: a bucket whose net change leaves the recorded levels as
    # they were writes no row; the bucket check below still covers it)
    nxt = np.searchsorted(ts, tr_ts, side="left")
    has_next = nxt < ts.size
    assert tr_ts.size == 0 or has_next.any()
    assert np.all(tr_ts[has_next] <= ts[nxt[has_next]])
    # a row's bucket holds no trade after the row
    if interval > 0:
        tr_bucket = (tr_ts - open_ns) // interval
        row_of_bucket = dict(zip(row_bucket.tolist(), ts[1:].tolist(), strict=True))
        for b, t in zip(tr_bucket.tolist(), tr_ts.tolist(), strict=True):
            if b in row_of_bucket:
                assert t <= row_of_bucket[b]


def test_rows_stamped_with_their_last_event() -> None:
    check_no_look_ahead(SHORT, seed=2)


def test_every_event_time_mode() -> None:
    params = replace(SHORT, snapshot_interval_ms=0.0, session_seconds=300.0)
    check_no_look_ahead(params, seed=2)
    day = generate_day(params, seed=2)
    assert day.n_books > 5 * day.n_trades  # most events are limit orders and cancellations


def test_window_recentring_changes_nothing() -> None:
    """The book's tick window is re-centred as the price drifts; a tiny window re-centres often."""
    params = replace(SHORT, mu=3.0, initial_price=5.0, session_seconds=1800.0)  # a fast-moving price
    wide = _run(params, 3, 0, window=4096)
    narrow = _run(params, 3, 0, window=0)  # clamped to the minimum, 8 * cut + 8 = 248 ticks
    two_sided = (wide[5][:, 0] > 0) & (wide[7][:, 0] > 0)
    mid_ticks = 0.5 * (wide[4][two_sided, 0] + wide[6][two_sided, 0])
    # re-centring happens after a move of about 30 ticks in the minimum window
    assert mid_ticks.max() - mid_ticks.min() > 80
    for a, b in zip(wide[3:], narrow[3:], strict=True):
        assert np.array_equal(a, b)


def test_trades_hit_the_best_quote() -> None:
    """With a row per event time, a buy trades at the previous row's best ask and takes one order."""
    params = replace(SHORT, snapshot_interval_ms=0.0, session_seconds=600.0)
    day = generate_day(params, seed=4)
    *_, events = _run(params, 4, 0, record_events=True)
    times, counts = np.unique(events, return_counts=True)
    alone = np.isin(day.trade_ts, times[counts == 1])
    assert alone.mean() > 0.99
    checked = 0
    for k in np.flatnonzero(alone):
        t, px, side = day.trade_ts[k], day.trade_px[k], day.trade_side[k]
        after = np.searchsorted(day.ts, t, side="left")
        assert day.ts[after] == t  # a trade always changes the recorded book
        before = after - 1
        pre_px, pre_sz, post_px, post_sz = (
            (day.ask_px, day.ask_sz, day.ask_px, day.ask_sz)
            if side == 1
            else (day.bid_px, day.bid_sz, day.bid_px, day.bid_sz)
        )
        assert px == pre_px[before, 0]
        if pre_sz[before, 0] > params.order_size:
            assert (post_px[after, 0], post_sz[after, 0]) == (px, pre_sz[before, 0] - params.order_size)
        else:  # the queue is gone: the next level becomes the best
            assert post_px[after, 0] != px
        checked += 1
    assert checked > 500


# ---------------------------------------------------------------------------- intraday activity


def test_clock_time_inverts_the_activity_integral() -> None:
    T, a = 23400.0, 1.5
    for tau in (0.0, 1.0, 1000.0, 11700.0, 20000.0, 23399.0, 23400.0):
        t = _clock_time(tau, 0.0, T, a)
        x = 2 * t / T - 1
        assert t + a * T / 6 * (x**3 - x) == pytest.approx(tau, abs=1e-9)
    # u = 2 at the open: the first operational second passes in half a clock second
    assert _clock_time(1.0, 0.0, T, a) == pytest.approx(0.5, rel=1e-3)
    assert _clock_time(11700.0, 0.0, T, a) == pytest.approx(11700.0, abs=1e-6)  # symmetric


def trades_in(day: MarketDay, start_min: float, end_min: float) -> int:
    lo = day.meta.session_open_ns + int(start_min * 60e9)
    hi = day.meta.session_open_ns + int(end_min * 60e9)
    return int(np.count_nonzero((day.trade_ts >= lo) & (day.trade_ts < hi)))


def test_u_shaped_activity(full_day: MarketDay) -> None:
    first, middle, last = trades_in(full_day, 0, 30), trades_in(full_day, 180, 210), trades_in(full_day, 360, 390)
    # expected ratio of the 30-minute averages of u: about 3.6
    assert first > 2.5 * middle and last > 2.5 * middle
    flat = generate_day(replace(SyntheticParams(), u_shape=0.0, session_seconds=23400.0), seed=0)
    f_first, f_middle = trades_in(flat, 0, 30), trades_in(flat, 180, 210)
    assert 0.85 < f_first / f_middle < 1.18


def test_full_day_facts(full_day: MarketDay) -> None:
    facts = stylized_facts(full_day)
    assert 0.6 < facts["spread_1"] < 0.9
    assert 0.5 < facts["realized_vol_pct"] < 3.0
    assert 35_000 < facts["trades"] < 55_000
    assert facts["imb_accuracy"] > 0.6 and facts["imb_corr"] > 0.2


def test_imbalance_feedback_strengthens_prediction() -> None:
    params = replace(SyntheticParams(), session_seconds=7200.0)
    off = stylized_facts(generate_day(replace(params, imbalance_feedback=0.0), seed=0))
    on = stylized_facts(generate_day(replace(params, imbalance_feedback=1.0), seed=0))
    assert on["imb_corr"] > off["imb_corr"] + 0.04
    assert on["imb_accuracy"] > off["imb_accuracy"] + 0.02


def test_sign_persistence_sets_order_sign_memory() -> None:
    # measured on 3 full days: lag-1 sign autocorrelation 0.022 (phi = 0), 0.609 (phi = 0.6);
    # AMZN's LOBSTER day in ../shared/data: 0.607
    params = replace(SyntheticParams(), session_seconds=7200.0)
    memoryless = stylized_facts(generate_day(params, seed=0))
    persistent = stylized_facts(generate_day(replace(params, sign_persistence=0.6), seed=0))
    assert -0.05 < memoryless["sign_acf_1"] < 0.07
    assert 0.55 < persistent["sign_acf_1"] < 0.67
    # a Markov chain: about phi**lag
    assert 0.03 < persistent["sign_acf_5"] < 0.16 and abs(persistent["sign_acf_50"]) < 0.04


def test_sign_regime_adds_slow_memory() -> None:
    # measured on 3 full days (phi 0.5, psi 0.15, 60 s regimes): sign autocorrelation 0.028 at lag 50
    # (memoryless 0.00, AMZN 0.03), and 10 s returns trend: +0.10 (AMZN +0.05)
    params = replace(SyntheticParams(), session_seconds=7200.0, sign_persistence=0.5)
    markov = stylized_facts(generate_day(params, seed=0))
    regime = stylized_facts(generate_day(replace(params, sign_regime=0.15, sign_regime_seconds=60.0), seed=0))
    assert abs(markov["sign_acf_50"]) < 0.015 < regime["sign_acf_50"]
    assert regime["sign_acf_10"] > markov["sign_acf_10"] + 0.02


def test_liquidity_response_keeps_order_flow_memory_out_of_returns() -> None:
    # measured on 6 two-hour days (phi 0.6, psi 0.2): 10 s return autocorrelation +0.09..+0.25
    # without a liquidity response, -0.07..+0.04 with kappa 0.5; sign memory at lag 50 0.04..0.07 both
    params = replace(SyntheticParams(), session_seconds=7200.0, sign_persistence=0.6, sign_regime=0.2)
    trending = stylized_facts(generate_day(params, seed=0))
    leaning = stylized_facts(generate_day(replace(params, liquidity_response=0.5), seed=0))
    assert trending["ret_acf_10s"] > 0.08 and abs(leaning["ret_acf_10s"]) < 0.08
    assert trending["sign_acf_50"] > 0.03 and leaning["sign_acf_50"] > 0.03
    assert leaning["sign_acf_1"] > 0.5


def test_lean_maps_the_limit_draw_hand_computed() -> None:
    # r uniform on [0, 2 lam_tot) = [0, 4); a buy is r' < lam_tot = 2
    assert _lean(0.4, 2.0, 0.25) == pytest.approx(0.8)  # u = 0.1 < 0.25: a buy, 0.1 / 0.25 of the way
    assert _lean(2.0, 2.0, 0.25) == pytest.approx(2.0 + 2.0 / 3.0)  # u = 0.5: a sell, (0.5 - 0.25) / 0.75
    assert _lean(1.0, 2.0, 0.5) == pytest.approx(1.0)  # q = 0.5 is the identity
    assert _lean(3.9, 2.0, 1.0) < 2.0 and _lean(0.0, 2.0, 0.0) == 2.0  # certain buy / certain sell


def test_memoryless_market_keeps_its_cache_key(tmp_path: Path) -> None:
    # sign_persistence came after GENERATOR_VERSION 1's caches were made: the default market keeps
    # its folder (users' 720 MB caches stay valid); a persistent market gets its own
    synthetic_catalogue(n_days=1, n_test=0, cache_dir=tmp_path)
    assert [f.name for f in tmp_path.iterdir()] == ["synthetic-e7c237b4f684443f"]


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    beta=st.floats(-1, 1),
    u_shape=st.floats(0, 2.9),
    interval=st.sampled_from([0.0, 1.0, 100.0, 1000.0]),
    levels=st.integers(1, 12),
    phi=st.floats(0, 0.95),
    psi=st.floats(0, 0.95),
    kappa=st.floats(0, 1),
)
def test_invariants_hold_for_any_parameters(
    seed: int, beta: float, u_shape: float, interval: float, levels: int, phi: float, psi: float, kappa: float
) -> None:
    params = SyntheticParams(
        session_seconds=120.0,
        imbalance_feedback=beta,
        sign_persistence=phi,
        sign_regime=psi,
        sign_regime_seconds=10.0,
        liquidity_response=kappa,
        liquidity_memory=3.0,
        u_shape=u_shape,
        snapshot_interval_ms=interval,
        levels=levels,
        max_distance=max(levels, 4),
        initial_price=1.0,  # a low price: the grid must still never reach zero
    )
    validate(generate_day(params, seed=seed))
    check_no_look_ahead(params, seed)


# ---------------------------------------------------------------------------- stylized facts on a known day


def test_stylized_facts_hand_computed() -> None:
    meta = MarketMeta("T", 0.01, 1.0, 0, 4 * 10**9, "hand")
    day = MarketDay(
        meta=meta,
        ts=np.array([0, 1, 2, 3], np.int64) * 10**9,
        bid_px=np.array([[10.00], [10.00], [10.01], [10.00]]),
        bid_sz=np.array([[300.0], [300.0], [300.0], [100.0]]),
        ask_px=np.array([[10.01], [10.01], [10.03], [10.01]]),
        ask_sz=np.array([[100.0], [300.0], [100.0], [300.0]]),
        trade_ts=np.array([1, 2], np.int64) * 10**9,
        trade_px=np.array([10.01, 10.00]),
        trade_sz=np.array([100.0, 50.0]),
        trade_side=np.array([1, -1], np.int8),
    )
    validate(day)
    f = stylized_facts(day)
    assert (f["spread_1"], f["spread_2"], f["spread_3plus"]) == (0.75, 0.25, 0.0)
    assert f["depth_best"] == 225.0
    assert f["return_pct"] == 0.0 and f["realized_vol_pct"] == 0.0
    assert (f["mid_changes"], f["trades"], f["volume"]) == (2.0, 2.0, 150.0)
    # next mid move: rows 0, 1 up, row 2 down; I = 0.5, 0, 0.5
    assert f["imb_accuracy_all"] == 0.5  # row 0 right, row 2 wrong, row 1 has I = 0
    assert f["imb_corr_all"] == pytest.approx(-0.5)
    assert f["imb_accuracy"] == 1.0  # one-tick rows: only row 0 has I != 0
    assert np.isnan(f["imb_corr"])  # both one-tick rows move up: no variance
    assert np.isnan(f["sign_acf_1"])  # two orders: too few for a lag-1 autocorrelation


def _seven_second_day(trade_s: list[int], trade_px: list[float], trade_side: list[int]) -> MarketDay:
    """Mids 10.00 10.00 10.02 10.02 10.00 10.00 10.04 at t = 0..6 s, spread 0.02, and the given trades."""
    mids = np.array([10.00, 10.00, 10.02, 10.02, 10.00, 10.00, 10.04])
    day = MarketDay(
        meta=MarketMeta("T", 0.01, 1.0, 0, 7 * 10**9, "hand"),
        ts=np.arange(7, dtype=np.int64) * 10**9,
        bid_px=(mids - 0.01)[:, None],
        bid_sz=np.full((7, 1), 100.0),
        ask_px=(mids + 0.01)[:, None],
        ask_sz=np.full((7, 1), 100.0),
        trade_ts=np.array(trade_s, np.int64) * 10**9,
        trade_px=np.array(trade_px),
        trade_sz=np.full(len(trade_s), 100.0),
        trade_side=np.array(trade_side, np.int8),
    )
    return validate(day)


def test_flow_predictability_hand_computed() -> None:
    # the seven-second day; 1 s window, horizon and step
    day = _seven_second_day([1, 2, 3, 3, 5], [10.01, 10.01, 10.03, 10.01, 10.01], [1, -1, 1, -1, 1])
    corr, spreads = flow_predictability(day, window_s=1.0, horizon_s=1.0, step_s=1.0)
    # grid t = 1..5; t = 4 has no trade in (3, 4]: flows +1, -1, 0, +1 at t = 1, 2, 3, 5
    a, c = np.log(10.02 / 10.00), np.log(10.04 / 10.00)
    flow, ret = np.array([1.0, -1.0, 0.0, 1.0]), np.array([a, 0.0, -a, c])
    assert corr == pytest.approx(np.corrcoef(flow, ret)[0, 1])
    # terciles of [-1, 0, 1, 1]: 0 and 1; top (flow >= 1) mean (a + c) / 2, bottom (flow <= 0) -a / 2
    rel_spread = np.mean([0.02 / 10.00, 0.02 / 10.02, 0.02 / 10.02, 0.02 / 10.00])
    assert spreads == pytest.approx((a + c / 2) / rel_spread)
    short = flow_predictability(day, window_s=1.0, horizon_s=5.0, step_s=1.0)  # one grid point
    assert np.isnan(short[0]) and np.isnan(short[1])


def test_trade_impact_hand_computed() -> None:
    # the seven-second day (half-spread 0.01); orders: buy at 0 (no row before it: left out), buy 1,
    # sell 2, buy 3 and sell 3 (two orders), a trade without a side at 4 (left out), buy 5
    day = _seven_second_day(
        [0, 1, 2, 3, 3, 4, 5], [10.01, 10.01, 10.01, 10.03, 10.01, 10.00, 10.01], [1, 1, -1, 1, -1, 0, 1]
    )
    # 1 s: buy 1 (10.00 -> 10.02) +2, sell 2 (10.00 -> 10.02) -2, buy 3 (10.02 -> 10.00) -2,
    # sell 3 +2, buy 5 (10.00 -> 10.04) +4
    assert trade_impact(day, 1.0) == pytest.approx((2 - 2 - 2 + 2 + 4) / 5)
    # 2 s: buy 5 runs past the last row; buy 1 +2, sell 2 (10.00 -> 10.00) 0, buy 3 -2, sell 3 +2
    assert trade_impact(day, 2.0) == pytest.approx((2 + 0 - 2 + 2) / 4)
    assert np.isnan(trade_impact(day, 10.0))
    facts = stylized_facts(day)
    assert np.isnan(facts["impact_10s"]) and np.isnan(facts["impact_60s"])


def test_order_signs_and_autocorrelation_hand_computed() -> None:
    # a buy sweeping two resting orders at t=1 prints two trades: one order
    ts = np.array([1, 1, 2, 3, 3, 4], np.int64)
    side = np.array([1, 1, -1, -1, 1, 0], np.int8)
    np.testing.assert_array_equal(order_signs(ts, side), [1.0, -1.0, -1.0, 1.0])
    # x = [1, -1, -1, 1]: mean 0, var 1, lag-1 products -1, 1, -1 -> mean over the 3 pairs -1/3
    assert autocorrelation(np.array([1.0, -1.0, -1.0, 1.0]), 1) == pytest.approx(-1 / 3)
    assert np.isnan(autocorrelation(np.ones(5), 1)) and np.isnan(autocorrelation(np.ones(2), 1))


# ---------------------------------------------------------------------------- catalogue


def tree_mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}


def test_catalogue_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = replace(SHORT, session_seconds=120.0)
    cat = synthetic_catalogue(n_days=4, n_test=1, seed=7, params=params, cache_dir=tmp_path)
    assert len(cat) == 4 and cat.name == "synthetic"
    assert (cat.indices("train"), cat.indices("test")) == ([0, 1, 2], [3])
    (folder,) = [p for p in tmp_path.iterdir()]
    assert sorted(p.name for p in folder.iterdir()) == ["day_000", "day_001", "day_002", "day_003", "params.json"]
    assert same_arrays(cat.day(2), generate_day(params, seed=7, day_index=2))
    assert cat.day(3).meta.date == "2024-01-05"

    before = tree_mtimes(tmp_path)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached day was regenerated")

    monkeypatch.setattr(synthetic, "generate_day", fail)
    again = synthetic_catalogue(n_days=4, n_test=2, seed=7, params=params, cache_dir=tmp_path)
    assert tree_mtimes(tmp_path) == before
    assert (again.indices("train"), again.indices("test")) == ([0, 1], [2, 3])
    monkeypatch.undo()

    # a longer catalogue reuses the first days and adds only the new one
    longer = synthetic_catalogue(n_days=5, n_test=1, seed=7, params=params, cache_dir=tmp_path)
    assert len(longer) == 5
    after = tree_mtimes(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    assert any("day_004" in k for k in after)
    # another seed or other parameters live in another folder
    synthetic_catalogue(n_days=1, n_test=0, seed=8, params=params, cache_dir=tmp_path)
    synthetic_catalogue(n_days=1, n_test=0, seed=7, params=replace(params, u_shape=0.5), cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 3
    assert not list(tmp_path.rglob(".day_*"))  # no temporary directories left behind


def test_catalogue_default_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    cat = synthetic_catalogue(n_days=2, n_test=1, params=replace(SHORT, session_seconds=60.0))
    assert all(Path(p).is_relative_to(tmp_path / "cache") for p in cat.days)


@pytest.mark.parametrize(("n_days", "n_test", "field"), [(0, 0, "n_days=0"), (3, 3, "n_test=3"), (3, -1, "n_test=-1")])
def test_catalogue_rejects_bad_sizes(tmp_path: Path, n_days: int, n_test: int, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        synthetic_catalogue(n_days=n_days, n_test=n_test, cache_dir=tmp_path)


# ---------------------------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("k", 0.0),
        ("k", float("nan")),
        ("alpha", -0.1),
        ("mu", -1.0),
        ("theta", ()),
        ("theta", (0.7, -0.1)),
        ("theta", [0.7, 0.8]),
        ("max_distance", 5),
        ("max_distance", 10.0),
        ("levels", 0),
        ("levels", 51),
        ("order_size", 0.0),
        ("tick_size", 0.0),
        ("initial_price", 0.2),
        ("session_seconds", 0.0),
        ("session_seconds", 40000.0),
        ("u_shape", 3.0),
        ("u_shape", -0.5),
        ("imbalance_feedback", 1.5),
        ("sign_persistence", 1.0),
        ("sign_persistence", -0.1),
        ("sign_regime", 1.0),
        ("sign_regime_seconds", 0.0),
        ("liquidity_response", 1.5),
        ("liquidity_response", -0.1),
        ("liquidity_memory", 0.5),
        ("snapshot_interval_ms", -1.0),
        ("symbol", ""),
    ],
)
def test_params_validation_names_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"SyntheticParams\.{field}=") as err:
        SyntheticParams(**{field: value})
    assert repr(value) in str(err.value)
    assert "allowed range" in str(err.value)


def test_default_params_are_valid() -> None:
    p = SyntheticParams()
    assert p.max_distance >= p.levels
    lam, th = p.limit_rates(), p.cancel_rates()
    assert lam[1] == pytest.approx(1.92) and lam[10] == pytest.approx(1.92 / 10**0.52)
    assert th[1:6].tolist() == [0.71, 0.81, 0.68, 0.56, 0.47]
    assert th[10] == pytest.approx(0.47 * 0.5**0.594)
    assert th.size == 31  # cutoff at 3 * D

"""Hand-computed fills, costs and state of the execution simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exec_env.market.data import mirror_day
from exec_env.sim import DayArrays, ExecutionSimulator, SimConfig
from exec_env.sim import kernels as K
from tests.books import T0, S, book, make_day, trade

NO_FRICTION = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)


def sim_on(day, side=1, start_s=0.0, config=NO_FRICTION):
    sim = ExecutionSimulator(config, levels=day.levels)
    sim.reset(DayArrays(day), side, T0 + round(start_s * S))
    return sim


def fills(sim):
    """(price, qty, liquidity) of every fill, prices rounded to 1e-9."""
    return [(round(r[K.FILL_PX], 9), r[K.FILL_QTY], int(r[K.FILL_LIQ])) for r in sim.fill_records()]


THREE_ASKS = book(
    0, bids=[(100.00, 500), (99.99, 500), (99.98, 500)], asks=[(100.01, 100), (100.02, 200), (100.03, 300)]
)


def test_market_order_walks_three_levels():
    day = make_day([THREE_ASKS, book(60, *THREE_ASKS[1:])])
    sim = sim_on(day, config=SimConfig(maker_fee_bps=0.0, taker_fee_bps=1.0, latency_ms=0.0, resilience_s=0.0))
    sim.submit(450, 100.05)
    assert fills(sim) == [(100.01, 100.0, 1), (100.02, 200.0, 1), (100.03, 150.0, 1)]
    notional = 100.01 * 100 + 100.02 * 200 + 100.03 * 150
    assert sim.fees == pytest.approx(notional * 1e-4, rel=1e-12)
    assert sim.cash == pytest.approx(-notional - notional * 1e-4, rel=1e-12)
    assert sim.inventory == 450.0
    assert sim.resting_qty == 0.0


def test_limit_price_stops_the_walk_and_the_rest_rests_with_queue_ahead():
    day = make_day([THREE_ASKS])
    sim = sim_on(day)
    sim.submit(450, 100.02)  # walks 100.01 and 100.02 only
    assert fills(sim) == [(100.01, 100.0, 1), (100.02, 200.0, 1)]
    assert sim.resting_qty == 150.0
    assert sim.fs[K.F_ORD_QA] == 0.0  # 100.02 is better than the best bid: nobody ahead


def test_sell_walks_the_bids():
    day = make_day([THREE_ASKS])
    sim = sim_on(day, side=-1)
    sim.submit(600, 99.98)
    assert fills(sim) == [(100.0, 500.0, 1), (99.99, 100.0, 1)]
    assert sim.inventory == -600.0
    assert sim.cash == pytest.approx(100.0 * 500 + 99.99 * 100, rel=1e-12)


def test_limit_order_waits_for_its_queue_then_fills_and_trade_through_fills_at_once():
    bids = [(100.00, 300), (99.99, 400)]
    asks = [(100.01, 200), (100.02, 200)]
    day = make_day(
        [
            book(0, bids, asks),
            book(1, [(100.00, 50), (99.99, 400)], asks),
            book(2, [(99.99, 400)], asks),
            book(4, [(99.98, 100)], asks),
        ],
        trades=[
            trade(1, 100.00, 250, -1),  # eats 250 of the 300 ahead of us
            trade(1.5, 100.00, 30, +1),  # a buyer: never fills a resting buy
            trade(2, 100.00, 100, -1),  # 50 ahead left, then 50 for us
            trade(3, 99.99, 40, -1),  # trades through our price: fills us at once (up to its size)
            trade(4, 99.98, 500, -1),  # through again: the rest
        ],
        levels=2,
    )
    sim = sim_on(day)
    sim.submit(200, 100.00)
    assert fills(sim) == [] and sim.fs[K.F_ORD_QA] == 300.0
    sim.advance(T0 + 1 * S)
    assert fills(sim) == [] and sim.fs[K.F_ORD_QA] == 50.0
    sim.advance(T0 + 2 * S)
    assert fills(sim) == [(100.0, 50.0, 0)]
    sim.advance(T0 + 3 * S)
    assert fills(sim) == [(100.0, 50.0, 0), (100.0, 40.0, 0)]
    sim.advance(T0 + 4 * S)
    assert fills(sim) == [(100.0, 50.0, 0), (100.0, 40.0, 0), (100.0, 110.0, 0)]
    assert sim.resting_qty == 0.0 and sim.inventory == 200.0
    assert [r[K.FILL_TS] for r in sim.fill_records()] == [T0 + 2 * S, T0 + 3 * S, T0 + 4 * S]


def test_queue_ahead_is_capped_by_the_displayed_size():
    asks = [(100.01, 200)]
    day = make_day(
        [book(0, [(100.00, 300)], asks), book(1, [(100.00, 20)], asks), book(2, [(100.00, 500)], asks)],
        trades=[trade(3, 100.00, 50, -1)], levels=1,
    )  # fmt: skip
    sim = sim_on(day)
    sim.submit(100, 100.00)
    sim.advance(T0 + 1 * S)
    assert sim.fs[K.F_ORD_QA] == 20.0  # cancellations ahead of us
    sim.advance(T0 + 2 * S)
    assert sim.fs[K.F_ORD_QA] == 20.0  # new size joins behind us
    sim.advance(T0 + 3 * S)
    assert fills(sim) == [(100.0, 30.0, 0)]


def test_opposite_side_reaching_our_price_fills_at_our_price():
    day = make_day([book(0, [(100.00, 300)], [(100.02, 200)]), book(1, [(99.99, 300)], [(100.00, 70), (100.01, 50)])],
                   levels=2)  # fmt: skip
    sim = sim_on(day)
    sim.submit(100, 100.00)
    sim.advance(T0 + 1 * S)
    # only the 70 offered at <= 100.00 reach us (100.01 is above our limit); they trade at our price
    assert fills(sim) == [(100.0, 70.0, 0)]
    assert sim.resting_qty == 30.0 and sim.fs[K.F_ORD_QA] == 0.0


def test_depletion_then_recovery():
    tau = 10.0
    day = make_day([THREE_ASKS, book(10, *THREE_ASKS[1:]), book(20, *THREE_ASKS[1:])])
    sim = sim_on(day, config=SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=tau))
    sim.submit(100, 100.01)
    assert fills(sim) == [(100.01, 100.0, 1)]
    sim.submit(100, 100.01)  # the displayed 100 at 100.01 is already ours: nothing to take
    assert len(fills(sim)) == 1 and sim.resting_qty == 100.0
    sim.advance(T0 + 10 * S)  # 1 - e^-1 of it has come back (in whole lots) and trades with our resting order
    assert fills(sim)[1] == (100.01, math.floor(100.0 * (1.0 - math.exp(-1.0))), 0)
    assert fills(sim)[1][1] == 63.0


def test_without_resilience_the_same_size_is_taken_twice():
    day = make_day([THREE_ASKS])
    sim = sim_on(day)
    sim.submit(100, 100.01)
    sim.submit(100, 100.01)
    assert fills(sim) == [(100.01, 100.0, 1), (100.01, 100.0, 1)]


def test_liquidation_walks_the_whole_book_then_beyond():
    day = make_day([THREE_ASKS])
    sim = sim_on(day, config=SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=5.0, beyond_book_ticks=5))
    sim.liquidate(700)
    assert fills(sim) == [(100.01, 100.0, 2), (100.02, 200.0, 2), (100.03, 300.0, 2), (100.08, 100.0, 3)]
    assert sim.fs[K.F_BEYOND_QTY] == 100.0


def test_permanent_and_transient_impact_shift_later_prices():
    half_life = 30.0
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0, permanent_impact=1e-4,
                    transient_impact=2e-4, transient_half_life_s=half_life)  # fmt: skip
    day = make_day([THREE_ASKS, book(30, *THREE_ASKS[1:])])
    sim = sim_on(day, config=cfg)
    sim.submit(100, 100.01)  # offset before: 0
    assert fills(sim) == [(100.01, 100.0, 1)]
    assert sim.impact_offset() == pytest.approx(100 * 1e-4 + 100 * 2e-4, rel=1e-12)
    sim.advance(T0 + 30 * S)  # one half-life later
    expected = 100 * 1e-4 + 0.5 * 100 * 2e-4
    assert sim.impact_offset() == pytest.approx(expected, rel=1e-12)
    assert sim.mid() == pytest.approx(100.005 + expected, rel=1e-12)
    sim.submit(50, 100.01)
    assert fills(sim)[1] == (round(100.01 + expected, 9), 50.0, 1)


def test_sell_on_the_mirrored_day_matches_buy():
    bids = [(100.00, 300), (99.99, 400)]
    asks = [(100.01, 200), (100.02, 250)]
    day = make_day([book(0, bids, asks), book(1, [(100.00, 50), (99.99, 400)], asks)],
                   trades=[trade(1, 100.00, 280, -1), trade(2, 99.99, 70, -1)], levels=2)  # fmt: skip
    center = 100.005
    cfg = SimConfig(taker_fee_bps=1.0, maker_fee_bps=-0.2, latency_ms=0.0, resilience_s=3.0)
    buy, sell = sim_on(day, 1, config=cfg), sim_on(mirror_day(day, center), -1, config=cfg)
    for sim, sign in ((buy, 1), (sell, -1)):
        sim.submit(300, center + sign * (100.015 - center))  # walks one level, rests at the 2nd
        sim.submit(150, center + sign * (100.00 - center))
        sim.advance(T0 + 2 * S)
    fb, fsell = buy.fill_records(), sell.fill_records()
    np.testing.assert_allclose(fb[:, K.FILL_QTY], fsell[:, K.FILL_QTY])
    np.testing.assert_allclose(fb[:, K.FILL_PX] - center, center - fsell[:, K.FILL_PX], atol=1e-9)
    assert buy.inventory == -sell.inventory > 0


def test_nothing_fills_inside_a_trading_halt_and_orders_only_join_the_book():
    from dataclasses import replace

    from exec_env.market import validate

    bids, asks = [(100.00, 300)], [(100.01, 200)]
    day = make_day([book(0, bids, asks), book(2, bids, asks), book(5, bids, asks)],
                   trades=[trade(2, 100.00, 400, -1), trade(6, 100.00, 350, -1)], levels=1)  # fmt: skip
    day = validate(replace(day, halts=np.array([[T0 + 1 * S, T0 + 5 * S]], dtype=np.int64)))
    sim = sim_on(day)
    sim.submit(150, 100.00)  # t=0: before the halt, joins behind 300
    sim.advance(T0 + 3 * S)
    assert fills(sim) == [] and sim.fs[K.F_ORD_QA] == 300.0  # the trade at t=2 is inside the halt
    assert sim.halted()
    sim.submit(100, 100.01)  # marketable, but the market is halted: it rests at 100.01
    assert fills(sim) == [] and sim.resting_qty == 100.0
    sim.advance(T0 + 5 * S)  # the halt ends at 5: the book row at 5 offers 200 at 100.01
    assert not sim.halted()
    assert fills(sim) == [(100.01, 100.0, 0)]

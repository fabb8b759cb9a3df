"""Hand-computed fills, costs and state of the execution simulator."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

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
    return [(round(float(r["px"]), 9), float(r["qty"]), int(r["liq"])) for r in sim.fill_records()]


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
    assert sim.fill_records()["ts"].tolist() == [T0 + 2 * S, T0 + 3 * S, T0 + 4 * S]  # exact int64 ns


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


def test_liquidation_walks_the_whole_book_then_the_profile_tail():
    # Changed with the market model (issue 6): what the recorded levels cannot absorb used to fill
    # at one flat price 5 ticks past the deepest level, so a block cost the same at any size. Now
    # the levels continue on the tick grid, each with the row's mean recorded size (200 here).
    day = make_day([THREE_ASKS])
    sim = sim_on(day, config=SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=5.0))
    sim.liquidate(1050)
    # tail: 200 at 100.04, 200 at 100.05, 50 at 100.06 -> one record at their average price
    tail_px = (200 * 100.04 + 200 * 100.05 + 50 * 100.06) / 450
    assert fills(sim) == [(100.01, 100.0, 2), (100.02, 200.0, 2), (100.03, 300.0, 2), (round(tail_px, 9), 450.0, 3)]
    recs = sim.fill_records()
    assert recs["limit_px"].tolist() == pytest.approx([100.01, 100.02, 100.03, 100.06], abs=1e-12)
    assert sim.fs[K.F_BEYOND_QTY] == 450.0 and sim.fs[K.F_BEYOND_SWEEPS] == 1.0


def test_a_block_gets_strictly_dearer_with_size():
    day = make_day([THREE_ASKS])
    costs = []
    for qty in (100, 600, 1000, 5000, 20000):
        sim = sim_on(day)
        sim.liquidate(qty)
        costs.append(-sim.cash / qty)
    assert all(b > a for a, b in itertools.pairwise(costs))


def test_empty_opposite_side_prices_the_tail_on_the_grid_from_the_last_mid():
    day = make_day([book(0, [(100.00, 300)], [(100.01, 200)]), book(1, [(100.00, 300)], [])], levels=1)
    sim = sim_on(day)
    sim.advance(T0 + 1 * S)
    sim.liquidate(50)  # last mid 100.005: the tail starts at 100.01, depth = last known mean (200)
    assert fills(sim) == [(100.01, 50.0, 3)]


def test_depletion_is_per_side_so_a_creeping_book_gives_no_fresh_liquidity():
    # The ask creeps up a tick a second with 100 displayed and no trade at all. The old model keyed
    # depletion by price, so a resting marketable buy took 100 fresh units every second. Now the
    # agent's take is depleted per side (units deep into the cumulative opposite depth) and only
    # what recovered (exp(-1/tau) a second) comes back.
    tau = 5.0
    books = [book(t, [(99.00, 500)], [(round(100.00 + 0.01 * t, 2), 100)]) for t in range(0, 7)]
    sim = sim_on(make_day(books, levels=1), config=SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=tau))
    sim.submit(10_000, 100.06)
    # t=0: 100 displayed at 100.00, then the profile tail (100 a tick) up to the limit: 700 units
    assert sum(q for _, q, _ in fills(sim)) == 700.0
    d, expected = 700.0, []
    for t in range(1, 7):
        d *= math.exp(-1.0 / tau)
        within = 100.0 * (7 - t)  # depth at or below 100.06 when the ask is at 100.00 + t ticks
        take = math.floor(max(within - d, 0.0))
        expected.append(take)
        d += take
        sim.advance(T0 + t * S)
    got = [q for _, q, liq in fills(sim)[2:] if liq == 0]
    assert got == [q for q in expected if q > 0]
    assert sum(got) == sum(expected) < 60  # against 600 under the per-price model
    assert all(px == 100.06 for px, _, liq in fills(sim) if liq == 0)  # at our limit


def test_impact_integral_within_a_sweep_and_the_limit_honoured():
    half_life = 30.0
    gamma, eta = 1e-4, 2e-4
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0, permanent_impact=gamma,
                    transient_impact=eta, transient_half_life_s=half_life)  # fmt: skip
    day = make_day([THREE_ASKS, book(30, *THREE_ASKS[1:])])
    sim = sim_on(day, config=cfg)
    g = gamma + eta
    # limit 100.02: at 100.01 the u-th unit costs 100.01 + g*u <= 100.02 -> u <= 0.01/g = 33.3 -> 33 units;
    # the 100.02 level's first unit already costs 100.02 + g*33 > limit: the rest rests
    assert sim.submit(100, 100.02) == 33.0
    (rec,) = sim.fill_records()
    assert rec["px"] == pytest.approx(100.01 + g * 33 / 2, abs=1e-12)  # the integral: every unit pays those before it
    assert rec["px"] <= 100.02
    assert sim.resting_qty == 67.0 and sim.resting_px == 100.02
    assert sim.impact_offset() == pytest.approx(g * 33, rel=1e-12)
    sim.advance(T0 + 29 * S)
    assert sim.impact_offset() == pytest.approx(gamma * 33 + eta * 33 * 0.5 ** (29 / 30), rel=1e-9)
    sim.advance(T0 + 30 * S)  # one half-life later the transient part has halved
    offset = gamma * 33 + 0.5 * eta * 33
    # the shifted ask 100.01 + offset is below our 100.02: it trades with us at our limit, as many
    # units as keep the marginal impacted price within it; then their impact adds up
    n = math.floor((100.02 - 100.01 - offset) / g + 1e-9)
    assert n == 11 and fills(sim)[1] == (100.02, 11.0, 0)
    assert sim.impact_offset() == pytest.approx(offset + g * n, rel=1e-9)
    assert sim.mid() == pytest.approx(100.005 + offset + g * n, rel=1e-12)


def test_resting_order_fills_at_its_limit_in_the_shifted_frame():
    # after buying, the impact offset puts our resting bid lower in the replayed queue: a trade at
    # the replay price 100.00 prints at 100.00 + offset, above our 100.00 limit, and does not fill us
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0, permanent_impact=0.008 / 100)
    day = make_day([book(0, [(100.00, 300)], [(100.01, 100), (100.02, 100)])],
                   trades=[trade(1, 100.00, 500, -1), trade(2, 99.99, 500, -1)], levels=2)  # fmt: skip
    sim = sim_on(day, config=cfg)
    sim.submit(100, 100.02)  # takes 100 at 100.01 (the limit allows 125 at g=8e-5), offset 0.008
    assert sim.impact_offset() == pytest.approx(0.008)
    sim.submit(50, 100.00)
    assert sim.queue_ahead == 0.0  # 100.00 - 0.008 sits above the replayed best bid: nobody ahead
    sim.advance(T0 + 1 * S)  # prints at 100.008: through-price? no, above our bid
    assert len(fills(sim)) == 1
    sim.advance(T0 + 2 * S)  # 99.99 + 0.008 = 99.998 <= 100.00 - half tick? no: at our price, queue empty
    assert fills(sim)[1] == (100.0, 50.0, 0)


def test_keep_resting_same_price_keeps_the_queue_place():
    day = make_day([book(0, [(100.00, 300)], [(100.01, 200)]), book(1, [(100.00, 300)], [(100.01, 200)])],
                   trades=[trade(0.5, 100.00, 100, -1)], levels=1)  # fmt: skip
    sim = sim_on(day)
    sim.submit(80, 100.00)
    assert sim.queue_ahead == 300.0
    sim.advance(T0 + int(0.6 * S))
    assert sim.queue_ahead == 200.0
    sim.submit(60, 100.00)  # smaller, same price: amended in place
    assert sim.queue_ahead == 200.0 and sim.resting_qty == 60.0
    sim.submit(90, 100.00)  # larger: re-queued behind the displayed size
    assert sim.queue_ahead == 300.0 and sim.resting_qty == 90.0
    sim.submit(90, 99.99)  # another price: a new order
    assert sim.resting_px == 99.99


@pytest.mark.parametrize("model,expected", [
    ("conservative", 200.0),
    ("power", 200.0 - 100.0 * 200.0**2 / (200.0**2 + 100.0**2)),
    ("log", 200.0 - 100.0 * math.log1p(200.0) / (math.log1p(200.0) + math.log1p(100.0))),
])  # fmt: skip
def test_queue_models_advance_on_cancellations_ahead(model, expected):
    # 300 displayed, 200 ahead of us after a trade, then 100 cancelled at our level (300 -> 200 -> 100 shown)
    day = make_day([book(0, [(100.00, 300)], [(100.01, 200)]), book(2, [(100.00, 100)], [(100.01, 200)])],
                   trades=[trade(1, 100.00, 100, -1)], levels=1)  # fmt: skip
    sim = sim_on(day, config=replace(NO_FRICTION, queue=model))
    sim.submit(50, 100.00)
    sim.advance(T0 + 1 * S)
    assert sim.queue_ahead == 200.0 and sim.fs[K.F_ORD_LVL] == 200.0  # 100 traded at our level
    sim.advance(T0 + 2 * S)
    # 100 cancelled: ahead with probability f(200) / (f(200) + f(0 behind us... 200 - 200 = 0))
    # -> behind = 0: every cancellation is ahead for the power and log models
    assert sim.queue_ahead == pytest.approx(min(expected if model == "conservative" else 100.0, 100.0))


def test_queue_models_split_cancellations_by_place():
    # 500 displayed, we join behind them; the front 200 trade away; 100 more join behind us (600 shown
    # ... the row shows 400); then 150 are cancelled (250 shown): ahead 300, behind 100
    day = make_day([book(0, [(100.00, 500)], [(100.01, 200)]), book(2, [(100.00, 400)], [(100.01, 200)]),
                    book(3, [(100.00, 250)], [(100.01, 200)])],
                   trades=[trade(1, 100.00, 200, -1)], levels=1)  # fmt: skip
    for model, f in (("power", lambda x: x**2), ("log", math.log1p)):
        sim = sim_on(day, config=replace(NO_FRICTION, queue=model))
        sim.submit(50, 100.00)
        sim.advance(T0 + 1 * S)
        assert sim.queue_ahead == 300.0
        sim.advance(T0 + 2 * S)  # 300 -> 400 shown: 100 joined behind
        assert sim.queue_ahead == 300.0
        sim.advance(T0 + 3 * S)  # 150 cancelled
        p = f(300.0) / (f(300.0) + f(100.0))
        assert sim.queue_ahead == pytest.approx(300.0 - 150.0 * p)
    sim = sim_on(day)
    sim.submit(50, 100.00)
    sim.advance(T0 + 3 * S)
    assert sim.queue_ahead == 250.0  # conservative: only the displayed-size cap


def test_order_level_queue_advances_only_on_cancels_of_orders_ahead():
    from tests.books import cancel

    # 300 displayed at 100.00 when we join at t=0 (orders entered at -5 s and unknown entry);
    # at t=1 an order that entered before us cancels 100 (ahead: we advance), at t=2 one that
    # entered after us cancels 50 (behind: we stay), at t=3 an unknown-entry order cancels 80 at
    # 99.99 (another price: nothing); then a sell of 150 at 100.00 fills us 30 after the 120 ahead
    books = [book(0, [(100.00, 300), (99.99, 200)], [(100.01, 200)]),
             book(1.5, [(100.00, 200), (99.99, 200)], [(100.01, 200)]),
             book(2.5, [(100.00, 250), (99.99, 200)], [(100.01, 200)])]  # fmt: skip
    cancels = [cancel(1.0, 100.00, 100, 1, -5.0), cancel(2.0, 100.00, 50, 1, 0.5), cancel(3.0, 99.99, 80, 1, None),
               cancel(3.5, 100.00, 80, 1, None)]  # fmt: skip
    day = make_day(books, trades=[trade(4.0, 100.00, 150, -1)], cancels=cancels, levels=2)
    sim = sim_on(day, config=replace(NO_FRICTION, queue="order_level"))
    sim.submit(100, 100.00)
    assert sim.queue_ahead == 300.0
    sim.advance(T0 + 1 * S)
    assert sim.queue_ahead == 200.0
    sim.advance(T0 + 3 * S)
    assert sim.queue_ahead == 200.0  # the behind cancel and the other price changed nothing
    sim.advance(T0 + int(3.5 * S))
    assert sim.queue_ahead == 120.0  # unknown entry: it was there before the data, so ahead
    sim.advance(T0 + 4 * S)
    assert fills(sim) == [(100.0, 30.0, 0)]
    # the conservative model ignores the cancellations: only the displayed-size cap (200 at 1.5 s)
    sim = sim_on(day)
    sim.submit(100, 100.00)
    sim.advance(T0 + int(3.5 * S))
    assert sim.queue_ahead == 200.0


def test_participation_cap_limits_the_fills_of_a_step():
    day = make_day([THREE_ASKS])
    sim = sim_on(day)
    sim.set_step(3, cap=120.0)
    assert sim.submit(450, 100.05) == 120.0
    assert sim.resting_qty == 330.0
    assert sim.fill_records()["step"].tolist() == [3, 3]
    sim.liquidate(330)  # the forced liquidation is not capped
    assert sim.filled == 450.0


def test_sqrt_liquidity_matches_its_closed_form():
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=10.0, liquidity="sqrt", sqrt_coef=0.5,
                    daily_vol=0.02, daily_volume=1e6)  # fmt: skip
    day = make_day([book(0, [(100.00, 1)], [(100.01, 1)]), book(100, [(100.00, 1)], [(100.01, 1)])], levels=1)
    sim = sim_on(day, config=cfg)
    k = 0.5 * 0.02 * 100.005 / math.sqrt(1e6)
    sim.liquidate(10_000)
    assert sim.fill_records()["px"][0] == pytest.approx(100.01 + k * (2 / 3) * math.sqrt(10_000), rel=1e-12)
    # depletion: 10 s later 10_000/e units are still missing, so the next unit starts that deep
    sim.advance(T0 + 10 * S)
    assert sim.depletion() == pytest.approx(10_000 / math.e, rel=1e-12)
    d = 10_000 / math.e
    sim.liquidate(5_000)
    assert sim.fill_records()["px"][1] == pytest.approx(
        100.01 + k * (2 / 3) * ((d + 5_000) ** 1.5 - d**1.5) / 5_000, rel=1e-12
    )
    # a limit stops the square-root curve where the marginal price reaches it
    sim2 = sim_on(day, config=cfg)
    taken = sim2.submit(1_000_000, 100.01 + 0.02)
    assert taken == math.floor((0.02 / k) ** 2)


def test_sqrt_cost_has_slope_one_half_in_size():
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=10.0, liquidity="sqrt", sqrt_coef=0.8,
                    daily_vol=0.015, daily_volume=4e6)  # fmt: skip
    day = make_day([book(0, [(100.00, 1)], [(100.01, 1)])], levels=1)
    sizes = np.array([1e3, 1e4, 1e5, 1e6])
    costs = []
    for q in sizes:
        sim = sim_on(day, config=cfg)
        sim.liquidate(q)
        costs.append(-sim.cash / q - 100.01)  # concession beyond the touch
    slope = np.polyfit(np.log(sizes), np.log(costs), 1)[0]
    assert abs(slope - 0.5) <= 0.02


def test_exponential_transient_decays_to_one_over_e_after_tau():
    half_life = 20.0
    tau = half_life / math.log(2.0)
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0, transient_impact=1e-5,
                    transient_half_life_s=half_life)  # fmt: skip
    day = make_day([THREE_ASKS, book(100, *THREE_ASKS[1:])])
    sim = sim_on(day, config=cfg)
    sim.submit(100, 100.05)
    i0 = sim.impact_offset()
    sim.advance(T0 + round(tau * S))
    assert sim.impact_offset() == pytest.approx(i0 / math.e, rel=1e-9)


@pytest.mark.parametrize("beta", [0.3, 0.5])
def test_power_law_propagator_follows_its_kernel(beta):
    from exec_env.sim.simulator import transient_kernel

    w, tau_ns = transient_kernel("power_law", 60.0, 2.0, beta)
    t = np.array([0.0, 0.5, 2.0, 10.0, 100.0, 1000.0, 10000.0])
    approx = (np.array(w)[None, :] * np.exp(-t[:, None] * 1e9 / np.array(tau_ns)[None, :])).sum(axis=1)
    exact = (1.0 + t / 2.0) ** -beta
    np.testing.assert_allclose(approx, exact, rtol=0.02)


def test_permanent_impact_shifts_every_later_price_by_gamma_times_quantity():
    gamma = 2e-6
    cfg = SimConfig(taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0, permanent_impact=gamma)
    day = make_day([THREE_ASKS, book(10, *THREE_ASKS[1:]), book(500, *THREE_ASKS[1:])])
    sim = sim_on(day, config=cfg)
    sim.liquidate(400)
    for t in (10, 500):
        sim.advance(T0 + t * S)
        assert sim.impact_offset() == pytest.approx(gamma * 400, rel=1e-12)
        bid, ask = sim.touch()
        assert (bid, ask) == (pytest.approx(100.00 + gamma * 400), pytest.approx(100.01 + gamma * 400))


def test_fill_records_carry_exact_nanoseconds_step_and_limit():
    t_ns = T0 + 123_456_789_123  # not representable in float64
    day = make_day([THREE_ASKS])
    sim = sim_on(day)
    sim.advance(t_ns)
    sim.set_step(7)
    sim.submit(150, 100.02)
    recs = sim.fill_records()
    assert recs.dtype["ts"] == np.int64 and recs["ts"].tolist() == [t_ns, t_ns]
    assert recs["step"].tolist() == [7, 7] and recs["limit_px"].tolist() == [100.02, 100.02]
    assert float(np.float64(t_ns)) != t_ns


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
    np.testing.assert_allclose(fb["qty"], fsell["qty"])
    np.testing.assert_allclose(fb["px"] - center, center - fsell["px"], atol=1e-9)
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

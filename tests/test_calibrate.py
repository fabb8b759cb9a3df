"""Calibration estimators against markets built so that the answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exec_env.market import MarketCatalogue
from exec_env.sim.calibrate import MarketCalibration, calibrate
from tests.books import book, make_day, trade


def _lambda_day(lam: float, seed: int):
    """Every 10 s a signed volume q prints, and the mid moves by exactly lam * q (in ticks of 0.01)."""
    rng = np.random.default_rng(seed)
    books, trades = [], []
    mid = 100.0
    for i in range(360):  # one hour
        t = 10.0 * i
        q = float(rng.choice([-3, -2, -1, 1, 2, 3]) * 100)
        trades.append(trade(t + 5.0, mid, abs(q), 1 if q > 0 else -1))
        mid = round(mid + lam * q, 2)
        books.append(book(t + 9.0, [(round(mid - 0.005, 3), 500)], [(round(mid + 0.005, 3), 500)]))
    books.insert(0, book(0.0, [(99.995, 500)], [(100.005, 500)]))
    return make_day(books, trades, levels=1, tick=0.005, close_s=3600.0)


def test_kyle_lambda_recovers_a_linear_price_response():
    lam = 1e-4  # 100 units move the mid by one cent
    cat = MarketCatalogue([_lambda_day(lam, 0), _lambda_day(lam, 1)], n_test=1, name="kyle")
    cal = calibrate(cat)
    assert cal.days == 1  # training days only
    assert cal.kyle_lambda == pytest.approx(lam, rel=1e-6)
    assert cal.sim_kwargs()["permanent_impact"] == pytest.approx(lam, rel=1e-6)
    day = cat.day(0)
    seconds = (day.ts[-1] - day.ts[0]) / 1e9
    assert cal.adv == pytest.approx(float(day.trade_sz.sum()) / seconds * 3600.0, rel=1e-12)


def test_resilience_is_the_median_time_to_recover_one_over_e_of_the_deficit():
    # a large buy takes 400 of 500 displayed asks; 400 are back 1, 2 or 3 s after the trade:
    # 1/e of the 400 deficit is 147 -> depth >= 500 - 147 = 353 first at that row
    books, trades = [book(0.0, [(99.99, 500)], [(100.00, 500)])], []
    small = [trade(0.5 + 0.01 * i, 99.99, 1, -1) for i in range(50)]
    for k in range(6):
        t = 10.0 + 20.0 * k
        trades.append(trade(t, 100.00, 400, 1))
        recover = 1.0 + k % 3  # 1, 2, 3, 1, 2, 3 s to reach 400
        books += [book(t + 0.001, [(99.99, 500)], [(100.00, 100)]),
                  book(t + recover, [(99.99, 500)], [(100.00, 400)]),
                  book(t + 10.0, [(99.99, 500)], [(100.00, 500)])]  # fmt: skip
    day = make_day(books, small + trades, levels=1)
    cal = calibrate(MarketCatalogue([day], name="resilience"), split="all")
    assert cal.resilience_events == 6
    assert cal.resilience_s == pytest.approx(np.median([1.0, 2.0, 3.0, 1.0, 2.0, 3.0]), abs=1e-9)  # from the trade


def test_volatility_scales_from_sixty_second_returns():
    # the mid alternates +1 / -1 tick every minute around 100: r = +-log ratio of known size
    books = []
    for i in range(121):
        mid = 100.0 + (0.01 if i % 2 else 0.0)
        books.append(book(60.0 * i, [(round(mid - 0.005, 3), 100)], [(round(mid + 0.005, 3), 100)]))
    day = make_day(books, [trade(1.0, 100.0, 10, 1)], levels=1, tick=0.005, close_s=7260.0)
    cal = calibrate(MarketCatalogue([day], name="vol"), split="all")
    r = math.log(100.01 / 100.0)
    assert cal.vol_per_sqrt_s == pytest.approx(math.sqrt(r * r / 60.0), rel=1e-9)
    assert cal.daily_vol == pytest.approx(cal.vol_per_sqrt_s * math.sqrt(7260.0), rel=1e-12)
    assert cal.spread_ticks == pytest.approx(2.0) and cal.depth_per_level == [100.0]


def test_calibration_round_trips_through_json(tmp_path, small_catalogue):
    cal = calibrate(small_catalogue)
    cal.save(tmp_path / "cal.json")
    assert MarketCalibration.load(tmp_path / "cal.json") == cal


def test_calibrating_an_empty_split_is_refused(small_catalogue):
    with pytest.raises(ValueError, match="'test' split has no days"):
        calibrate(MarketCatalogue(small_catalogue.days[:1], n_test=0, name="one"), split="test")


def test_one_impact_model_for_several_instruments_is_refused(small_catalogue):
    from dataclasses import replace

    from exec_env import ExecutionConfig, ExecutionEnv, SimConfig

    days = []
    for i, symbol in enumerate(("AAA", "BBB", "AAA")):
        day = small_catalogue.day(i)
        days.append(replace(day, meta=replace(day.meta, symbol=symbol)))
    two = MarketCatalogue(days, n_test=1, name="two")
    with pytest.raises(ValueError, match=r"^two: the train days hold 2 instruments \(AAA, BBB\): one impact model"):
        calibrate(two)
    with pytest.raises(ValueError, match="Load one instrument per run"):
        ExecutionEnv(ExecutionConfig(market=two))
    assert ExecutionEnv(ExecutionConfig(market=two, calibrate_impact=False)).calibration is None
    assert ExecutionEnv(ExecutionConfig(market=two, sim=SimConfig(permanent_impact=1e-6))).calibration is None
    assert calibrate(MarketCatalogue(days[:1] + days[2:], n_test=1)).days == 1  # one instrument: calibrated


def test_lifted_sources_get_square_root_liquidity(shared_data):
    from exec_env.market import resolve_market

    cat = resolve_market(shared_data / "bars" / "SPY_1min.csv")
    cal = calibrate(cat)
    kw = cal.sim_kwargs()
    assert cal.lifted and kw["liquidity"] == "sqrt"
    assert kw["daily_vol"] == cal.daily_vol > 0 and kw["daily_volume"] == cal.adv > 0

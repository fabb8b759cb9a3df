"""The adaptive baseline on a hand-built market where the prediction is known, then trained on synthetic days."""

from __future__ import annotations

import numpy as np
import pytest

from exec_env import ExecutionConfig, SimConfig, orderflow
from exec_env.baselines.adaptive import Adaptive
from exec_env.evaluation import EpisodeSpec, evaluate
from exec_env.market import MarketCatalogue
from exec_env.predictor import Predictor
from exec_env.regimes import REGIMES
from tests.books import T0, book, make_day

NO_FRICTION = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)
D = 1_000_000


def _predictor(weight_on_qimb1: float = 10.0) -> Predictor:
    """P(up) = sigmoid(10 * qimb_1): the queue imbalance decides."""
    k = orderflow.N_FEATURES
    sign = np.zeros(k + 1)
    sign[1 + orderflow.FEATURE_NAMES.index("qimb_1")] = weight_on_qimb1
    return Predictor(orderflow.FEATURE_NAMES, np.zeros(k), np.ones(k), sign, np.zeros(k + 1), 60.0, 60.0)


def _run(policy, side: int, quantity: float = 1000.0):
    # queue imbalance +0.5 (bid queue 3x the ask queue) until 110 s, then -0.5
    books = [book(0, [(100.00, 3 * D)], [(100.01, D)]), book(110, [(100.00, D)], [(100.01, 3 * D)]),
             book(1000, [(100.00, D)], [(100.01, 3 * D)])]  # fmt: skip
    catalogue = MarketCatalogue([make_day(books, levels=1)])
    config = ExecutionConfig(market=catalogue, sim=NO_FRICTION, quantity=quantity, horizon_s=240,
                             decision_interval_s=60, warmup_s=0)  # fmt: skip
    orders: list[dict] = []
    evaluate({"a": policy}, config, [EpisodeSpec(0, 0, T0, side, quantity)], split="all", child_orders=orders)
    return orders


def test_ahead_and_crossing_when_adverse_then_behind_and_passive_when_favourable_buy() -> None:
    orders = _run(Adaptive(_predictor(), max_ahead=0.1, max_behind=0.1), side=1)
    # linear targets 250, 500, 750, 1000; adverse (up predicted) twice: +100; favourable: -100, unfilled
    assert [o["child_qty"] for o in orders] == [350, 250, 50, 400]
    assert [o["filled"] for o in orders] == [350, 250, 0, 400]
    assert orders[0]["limit_px"] == pytest.approx(100.01 + 5 * 0.01)  # the far touch + cross_ticks
    assert orders[2]["limit_px"] == pytest.approx(100.00)  # passive: joins the bid
    assert orders[3]["executed"] == 1000


def test_the_sell_side_reads_the_same_prediction_the_other_way() -> None:
    policy = Adaptive(_predictor(), max_ahead=0.1, max_behind=0.2)
    orders = _run(policy, side=-1)
    # up predicted first (favourable to a seller): 250 - 200 = 50 passive at the ask, unfilled;
    # then 500 - 200 = 300 wanted, still passive; down predicted at 120 s: 750 + 100 = 850, crossing
    assert [o["child_qty"] for o in orders] == [50, 300, 850, 150]
    assert [o["filled"] for o in orders] == [0, 0, 850, 150]
    assert orders[0]["limit_px"] == pytest.approx(100.01)
    assert orders[2]["limit_px"] == pytest.approx(100.00 - 5 * 0.01)
    assert policy.last_signal == pytest.approx(2.0 / (1.0 + np.exp(-5.0)) - 1.0)  # the last signal, at 120 s


def test_a_flat_prediction_is_twap() -> None:
    orders = _run(Adaptive(_predictor(0.0)), side=1)
    assert [o["child_qty"] for o in orders] == [250, 250, 250, 250]
    assert all(o["limit_px"] == pytest.approx(100.06) for o in orders)


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match=r"max_ahead=1\.5 is outside the allowed range"):
        Adaptive(_predictor(), max_ahead=1.5)
    with pytest.raises(ValueError, match=r"saturation=0\.0 is outside the allowed range"):
        Adaptive(_predictor(), saturation=0.0)


def test_from_catalogue_trains_on_training_days_only(small_catalogue) -> None:
    config = ExecutionConfig(market=small_catalogue, horizon_s=300, decision_interval_s=10)
    policy = Adaptive.from_catalogue(small_catalogue, config)
    assert policy.predictor.trained_days == tuple(small_catalogue.indices("train"))
    assert policy.predictor.horizon_s == 10.0


def test_walk_forward_backtest_pools_folds_with_unique_episodes_and_regimes(small_catalogue) -> None:
    from exec_env.walkforward import predictor_tables, walk_forward_backtest

    config = ExecutionConfig(market=small_catalogue, quantity=500, horizon_s=120, decision_interval_s=10)
    results, smp = walk_forward_backtest(small_catalogue, config, ["TWAP"], min_train=1, episodes_per_day=2, seed=4)
    assert sorted(results["fold"].unique()) == [1, 2]
    assert results.groupby("fold")["day"].unique().map(list).to_dict() == {1: [1], 2: [2]}  # tests the day after
    assert results.groupby("policy")["episode"].apply(sorted).map(list).to_dict() == {
        "Adaptive": [0, 1, 2, 3], "TWAP": [0, 1, 2, 3]
    }  # fmt: skip
    assert results["regime"].isin(REGIMES).all() and smp["regime"].isin(REGIMES).all()
    assert sorted(smp["day"].unique()) == [1, 2]
    table = predictor_tables(smp)
    assert table.loc[0, "regime"] == "all" and table.loc[0, "n"] == len(smp)


def test_walk_forward_folds_never_split_a_date(small_catalogue) -> None:
    """Two symbols on three dates: each fold tests both sessions of one date and trains on earlier dates only."""
    from dataclasses import replace

    from exec_env.walkforward import date_folds

    days = []
    for i, date in enumerate(("2024-01-02", "2024-01-03", "2024-01-04")):
        for symbol in ("AAA", "BBB"):
            day = small_catalogue.day(i)
            days.append(replace(day, meta=replace(day.meta, date=date, symbol=symbol)))
    catalogue = MarketCatalogue(days, n_test=0, name="two-symbols")
    folds = date_folds(catalogue, min_train=1)  # day 1 is BBB on the first date: its fold starts at day 2
    assert [k for _, k in folds] == [2, 4]
    for sub, k in folds:
        test_dates = {str(sub.day(i).meta.date) for i in sub.indices("test")}
        train_dates = {str(sub.day(i).meta.date) for i in sub.indices("train")}
        assert sub.indices("test") == [k, k + 1] and len(test_dates) == 1 and not test_dates & train_dates
    single = date_folds(small_catalogue, min_train=1)  # one session a date: a fold per day, as before
    assert [(k, s.indices("test")) for s, k in single] == [(1, [1]), (2, [2])]


def test_the_predicted_move_as_an_optional_observation_feature(small_catalogue, tmp_path):
    from gymnasium.utils.env_checker import check_env

    from exec_env import ExecutionConfig, ExecutionEnv
    from exec_env.orderflow import OrderflowArrays
    from exec_env.predictor import Predictor, fit_predictor, samples

    frame = samples(small_catalogue, small_catalogue.indices("train"), horizon_s=10.0, interval_s=10.0)
    path = fit_predictor(frame, 10.0, 10.0).save(tmp_path / "predictor.json")
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, predictor=str(path)))
    assert env.observation_space.shape == (19,) and env.feature_names[-1] == "predicted_move"
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    model = Predictor.load(path)
    for _ in range(3):
        ep = env.unwrapped._episode
        row = ep.sim.book_row
        flow = OrderflowArrays.for_day(small_catalogue.day(info["day"]))
        p = float(model.prob_up(np.asarray(flow.features[row : row + 1], dtype=np.float64))[0])
        assert obs[18] == np.float32(ep.side * (2 * p - 1))
        obs, *_ = env.step(np.array([0.0, 1.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"ExecutionConfig\.predictor = 'nope\.json' is invalid"):
        ExecutionConfig(predictor="nope.json")

"""The predictor: labels on a hand-built book, metrics on hand data, the fit, walk-forward without look-ahead."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from exec_env import orderflow
from exec_env.market import MarketCatalogue
from exec_env.market.synthetic import generate_day
from exec_env.orderflow import OrderflowArrays
from exec_env.predictor import (
    Predictor,
    auc,
    classification_metrics,
    day_samples,
    fit_predictor,
    samples,
    walk_forward,
)
from exec_env.regimes import RegimeThresholds, fit_regimes, window_stats
from tests.books import T0, S, make_day
from tests.conftest import SMALL
from tests.test_orderflow import BOOKS, TRADES


def test_day_samples_grid_and_labels() -> None:
    day = make_day(BOOKS, TRADES)
    flow = OrderflowArrays.compute(day)
    t, x, move = day_samples(day, flow, interval_s=10.0, horizon_s=10.0, warmup_s=0.0)
    # the data end at 75 s: the last start is 60 s (its label needs the mid at 70 s)
    np.testing.assert_array_equal(t, T0 + S * np.arange(0, 70, 10))
    up = 1e4 * math.log(100.015 / 100.005)
    down = 1e4 * math.log(100.01 / 100.015)
    np.testing.assert_allclose(move, [0.0, up, 0.0, 0.0, 0.0, 0.0, down], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(x[2], flow.features[3])  # at 20 s: the row stamped 20 s
    np.testing.assert_array_equal(x[1], flow.features[1])  # at 10 s: the row stamped 5 s


def test_auc_by_hand() -> None:
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([0.5, 0.5, 0.7]), np.array([0, 1, 1])) == 0.75  # the tie counts one half
    assert math.isnan(auc(np.array([0.2, 0.3]), np.array([1, 1])))


def test_metrics_by_hand() -> None:
    p = np.array([0.8, 0.3, 0.6, 0.4, 0.9])
    move = np.array([2.0, -1.0, -3.0, 0.0, 1.0])  # the zero move carries no sign
    m = classification_metrics(p, move)
    assert (m["n"], m["n_moved"], m["zero_share"]) == (5, 4, 0.2)
    assert m["accuracy"] == 0.75
    assert m["auc"] == 1.0
    assert m["base_rate"] == 0.5
    assert m["brier"] == pytest.approx((0.2**2 + 0.3**2 + 0.6**2 + 0.1**2) / 4, abs=1e-15)
    assert m["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.7) + math.log(0.4) + math.log(0.9)) / 4)


def _synthetic_frame(n: int, coef: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, orderflow.N_FEATURES))
    p = 1.0 / (1.0 + np.exp(-(0.2 + x @ coef)))
    move = np.where(rng.uniform(size=n) < p, 1.0, -1.0) * rng.uniform(0.5, 2.0, size=n)
    frame = pd.DataFrame(x, columns=list(orderflow.FEATURE_NAMES))
    frame.insert(0, "move_bps", move)
    frame.insert(0, "day", 0)
    return frame


def test_logistic_fit_recovers_known_weights() -> None:
    coef = np.zeros(orderflow.N_FEATURES)
    coef[[0, 3, 6]] = [0.8, -0.5, 0.3]
    model = fit_predictor(_synthetic_frame(40_000, coef, seed=1), horizon_s=10.0, interval_s=10.0, l2=0.0)
    # standardised inputs: the raw weights are the fitted ones divided by the scale (~1 here)
    raw = model.sign_weights[1:] / model.scale
    np.testing.assert_allclose(raw, coef, atol=0.05)  # standard errors are ~0.012 at n = 40 000
    assert model.sign_weights[0] - raw @ model.mean == pytest.approx(0.2, abs=0.05)


def test_save_and_load_keep_predictions_and_check_the_feature_list(tmp_path) -> None:
    coef = np.zeros(orderflow.N_FEATURES)
    coef[1] = 1.0
    frame = _synthetic_frame(2_000, coef, seed=2)
    model = fit_predictor(frame, horizon_s=10.0, interval_s=10.0)
    path = model.save(tmp_path / "model.json")
    again = Predictor.load(path)
    x = frame[list(orderflow.FEATURE_NAMES)].to_numpy()
    np.testing.assert_array_equal(again.prob_up(x), model.prob_up(x))
    np.testing.assert_array_equal(again.expected_move_bps(x), model.expected_move_bps(x))
    payload = json.loads(path.read_text())
    payload["feature_names"][0] = "something_else"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="train it again"):
        Predictor.load(path)


def test_walk_forward_trains_on_earlier_days_only(small_catalogue) -> None:
    wf = walk_forward(small_catalogue, [0, 1, 2], min_train=1, interval_s=10.0, horizon_s=10.0)
    assert sorted(wf.groupby("fold")["day"].unique().map(list).tolist()) == [[1], [2]]
    # fold 0 (trained on day 0, tested on day 1) is the same whatever happens on day 2
    other = MarketCatalogue(
        [small_catalogue.day(0), small_catalogue.day(1), generate_day(SMALL, seed=99, day_index=7)], n_test=1
    )
    wf2 = walk_forward(other, [0, 1, 2], min_train=1, interval_s=10.0, horizon_s=10.0)
    np.testing.assert_array_equal(wf2[wf2.fold == 0]["p_up"], wf[wf.fold == 0]["p_up"])
    assert not np.array_equal(wf2[wf2.fold == 1]["p_up"], wf[wf.fold == 1]["p_up"])
    # and fold 1 equals a model fitted on days 0 and 1 by hand
    frame = samples(small_catalogue, [0, 1, 2], 10.0, 10.0)
    model = fit_predictor(frame[frame.day < 2], 10.0, 10.0)
    assert model.trained_days == (0, 1)
    x = frame[frame.day == 2][list(orderflow.FEATURE_NAMES)].to_numpy()
    np.testing.assert_array_equal(wf[wf.fold == 1]["p_up"], model.prob_up(x))


def test_walk_forward_never_trains_on_the_test_date(small_catalogue) -> None:
    """Two symbols on two dates: the second symbol's session of a date is not trained on its twin."""
    from dataclasses import replace

    days = []
    for i, date in enumerate(("2024-01-02", "2024-01-03")):
        for j, symbol in enumerate(("AAA", "BBB")):
            day = small_catalogue.day(i) if j == 0 else generate_day(SMALL, seed=50 + i, day_index=i)
            days.append(replace(day, meta=replace(day.meta, date=date, symbol=symbol)))
    catalogue = MarketCatalogue(days, n_test=0)
    wf = walk_forward(catalogue, [0, 1, 2, 3], min_train=1, interval_s=10.0, horizon_s=10.0)
    # k = 1 (BBB on the first date) has no earlier date: skipped; k = 2 and 3 train on the first date only
    assert wf.groupby("fold")["day"].unique().map(list).to_dict() == {1: [2], 2: [3]}
    frame = samples(catalogue, [0, 1, 2, 3], 10.0, 10.0)
    model = fit_predictor(frame[frame.day < 2], 10.0, 10.0)
    x = frame[frame.day == 3][list(orderflow.FEATURE_NAMES)].to_numpy()
    np.testing.assert_array_equal(wf[wf.day == 3]["p_up"], model.prob_up(x))


def test_regime_window_stats_and_labels_by_hand() -> None:
    day = make_day(BOOKS, TRADES)
    flow = OrderflowArrays.compute(day)
    stats = window_stats(day, flow, T0 + S * np.array([20, 75]))
    # spreads by row (ticks): 1, 1, 2, 1, 2, and 2 carried over the one-sided row
    np.testing.assert_allclose(stats[:, 1], [(1 + 1 + 2 + 1) / 4, (1 + 1 + 2 + 1 + 2 + 2) / 6], rtol=1e-6)
    np.testing.assert_array_equal(stats[:, 0], flow.features[[3, 5], orderflow.FEATURE_NAMES.index("rv_300")])
    thresholds = RegimeThresholds(vol_bps=float(stats[0, 0]), spread_ticks=1.3)
    assert stats[1, 0] > stats[0, 0]
    assert thresholds.label(stats) == ["calm/tight", "volatile/wide"]  # equal to the median is not above it


def test_regime_thresholds_are_medians_of_the_given_days(small_catalogue) -> None:
    t = fit_regimes(small_catalogue, [0, 1])
    grid = []
    for d in (0, 1):
        day = small_catalogue.day(d)
        times = np.arange(day.meta.session_open_ns + 300 * S, min(day.meta.session_close_ns, day.ts[-1]) + 1, 60 * S)
        grid.append(window_stats(day, OrderflowArrays.compute(day), times))
    vol, spread = np.median(np.vstack(grid), axis=0)
    assert (t.vol_bps, t.spread_ticks, t.trained_days) == (vol, spread, (0, 1))

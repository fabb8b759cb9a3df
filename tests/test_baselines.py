"""Fixed policies on hand-built markets where their schedules are known exactly, then on real data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.baselines import (
    BASELINES,
    DEFAULT_BASELINES,
    POV,
    VWAP,
    AlmgrenChriss,
    DirectionalChange,
    NoHistoryError,
    SubmitAndLeave,
    make_baseline,
    parse_spec,
)
from exec_env.baselines.almgren_chriss import estimate_eta, estimate_sigma
from exec_env.baselines.base import pace_for_target
from exec_env.baselines.directional_change import DELTA_GRID, choose_delta
from exec_env.baselines.vwap import estimate_volume_curve
from exec_env.env import child_order
from exec_env.evaluation import EpisodeSpec, evaluate, sample_episodes
from exec_env.market import MarketCatalogue
from exec_env.policy_context import MarketView
from tests.books import T0, S, book, make_day, trade

NO_FRICTION = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)
DEEP = 1_000_000


def flat(t: float, bid: float = 100.00, ask: float = 100.01) -> tuple:
    return book(t, [(bid, DEEP)], [(ask, DEEP)])


def run(policy, day_or_catalogue, start_s, side=1, quantity=1000.0, horizon_s=600.0, interval_s=60.0, **cfg):
    catalogue = (
        day_or_catalogue if isinstance(day_or_catalogue, MarketCatalogue) else MarketCatalogue([day_or_catalogue])
    )
    config = ExecutionConfig(market=catalogue, sim=NO_FRICTION, quantity=quantity, horizon_s=horizon_s,
                             decision_interval_s=interval_s, warmup_s=0, **cfg)  # fmt: skip
    day = len(catalogue) - 1
    spec = EpisodeSpec(0, day, T0 + round(start_s * S), side, quantity)
    orders: list[dict] = []
    results = evaluate({"p": policy}, config, [spec], split="all", child_orders=orders)
    return orders, results.iloc[0]


# --------------------------------------------------------------------------- the action inverse


@pytest.mark.parametrize("n_steps", [1, 4, 10])
def test_pace_for_target_hits_every_lot_target_through_the_env_mapping(n_steps):
    quantity = 1000.0
    for step in range(n_steps):
        for executed in (0.0, 130.0, 999.0):
            for lots in range(0, int(quantity - executed) + 1, 7):
                target = (executed + lots + 0.2) / quantity  # 0.2 lot off the grid: rounds to ``lots``
                pace = float(np.float32(pace_for_target(target, step, n_steps)))
                qty, _ = child_order(pace, 1.0, step, n_steps, quantity, executed, 1.0, 1, 100.0, 100.01, 0.01, 2, 5)
                assert qty == lots, (step, executed, target)


# --------------------------------------------------------------------------- VWAP

# training days: volume by 300 s bucket (400, 400, 200, 1000 in total): shares 0.2, 0.2, 0.1, 0.5
TRAIN_VOLUMES = ([100, 300, 100, 500], [300, 100, 100, 500])


def vwap_catalogue() -> MarketCatalogue:
    days = []
    for volumes in TRAIN_VOLUMES:
        trades = [trade(300 * b + 150, 100.01, v, 1) for b, v in enumerate(volumes)]
        days.append(make_day([flat(0), flat(1200)], trades, levels=1, close_s=1200))
    # the test day trades everything in its last bucket: the schedule must not know it
    days.append(make_day([flat(0), flat(1200)], [trade(1000, 100.01, 90_000, 1)], levels=1, close_s=1200))
    return MarketCatalogue(days, n_test=1)


def test_vwap_curve_is_the_training_volume_share_by_bucket():
    curve = estimate_volume_curve(vwap_catalogue(), bucket_s=300)
    np.testing.assert_allclose(curve.shares, [0.2, 0.2, 0.1, 0.5], rtol=1e-12)
    assert curve.cumulative(450.0) == pytest.approx(0.3)


@pytest.mark.parametrize("side", [1, -1])
def test_vwap_schedule_follows_the_training_curve_on_a_hand_built_market(side):
    # start 150 s, 4 decisions of 150 s: C = 0.1, 0.2, 0.3, 0.4, 0.45 -> fractions 1/3.5, 2/3.5, 3/3.5, 1
    policy = VWAP.from_catalogue(vwap_catalogue(), bucket_s=300)
    orders, row = run(policy, vwap_catalogue(), 150, side=side, quantity=700, horizon_s=600, interval_s=150)
    assert [o["child_qty"] for o in orders] == [200, 200, 200, 100]
    assert [o["filled"] for o in orders] == [200, 200, 200, 100]
    assert row["forced_qty"] == 0 and orders[-1]["executed"] == 700


def test_vwap_without_curve_volume_in_the_window_is_twap():
    policy = VWAP(curve=estimate_volume_curve(vwap_catalogue(), bucket_s=300))
    policy.curve.shares[:] = [1.0, 0.0, 0.0, 0.0]
    orders, _ = run(policy, vwap_catalogue(), 300, quantity=800, horizon_s=600, interval_s=150)
    assert [o["child_qty"] for o in orders] == [200, 200, 200, 200]


# --------------------------------------------------------------------------- POV


def test_pov_trades_a_share_of_the_last_interval_volume_capped_and_catches_up():
    trades = [trade(50, 100.01, 600, 1), trade(90, 100.00, 400, -1),  # before the start: 1000
              trade(130, 100.01, 2000, 1),  # (100, 160]
              trade(250, 100.01, 50_000, 1)]  # (220, 280]: 5000 wanted, capped at 0.5 * 1000  # fmt: skip
    day = make_day([flat(0), flat(1000)], trades, levels=1)
    orders, row = run(POV(rate=0.1, max_slice=0.5), day, 100, quantity=1000, horizon_s=300, interval_s=60)
    assert [o["child_qty"] for o in orders] == [100, 200, 0, 500, 200]
    assert [o["time_ns"] for o in orders] == [T0 + (100 + 60 * j) * S for j in range(5)]
    assert row["forced_qty"] == 0 and orders[-1]["executed"] == 1000


# --------------------------------------------------------------------------- directional change

# mids: 100.005 -> 100.205 (up 0.2%) -> 100.095 (down) -> 99.955 -> 100.105 (up) -> 99.985 (down) -> ...
DC_PATH = [(0, 100.00), (110, 100.20), (130, 100.09), (170, 99.95), (200, 100.10), (230, 99.98), (290, 99.90),
           (400, 100.00), (1000, 100.00)]  # fmt: skip


@pytest.mark.parametrize(("side", "expected"), [(1, [0, 100, 0, 100, 200]), (-1, [0, 100, 100, 0, 200])])
def test_dc_trades_a_slice_at_each_confirmed_event_of_its_direction(side, expected):
    day = make_day([flat(t, b, round(b + 0.01, 2)) for t, b in DC_PATH], levels=1)
    policy = DirectionalChange(delta=0.001, n_slices=4)
    orders, row = run(policy, day, 100, side=side, quantity=400, horizon_s=300, interval_s=60)
    assert [o["child_qty"] for o in orders] == expected
    assert orders[-1]["executed"] == 400 and row["forced_qty"] == 0


def test_dc_delta_is_the_largest_whose_expected_events_cover_the_slices():
    # the mid alternates every 10 s between 100.005 and 100.105: moves of 0.0999% / 0.09995%
    books = [flat(10 * i, 100.00 if i % 2 == 0 else 100.10, 100.01 if i % 2 == 0 else 100.11) for i in range(121)]
    catalogue = MarketCatalogue([make_day(books, levels=1, close_s=1200)])
    assert choose_delta(catalogue, horizon_s=100, n_slices=4) == pytest.approx(10**-3.1)
    assert choose_delta(catalogue, horizon_s=100, n_slices=50) == DELTA_GRID[0]  # nothing covers 50


# --------------------------------------------------------------------------- Almgren-Chriss


def test_ac_holdings_follow_the_sinh_schedule_exactly():
    sigma, eta, kappa = 0.02, 1e-4, 1.0 / 300.0
    risk_aversion = kappa**2 * eta / sigma**2
    policy = AlmgrenChriss(sigma, eta, risk_aversion)
    assert policy.kappa == pytest.approx(kappa, rel=1e-12)
    orders, _ = run(policy, make_day([flat(0), flat(1000)], levels=1), 100, quantity=10_000)
    held = [10_000 * math.sinh(kappa * (600 - 60 * (j + 1))) / math.sinh(kappa * 600) for j in range(10)]
    cumulative = [round(10_000 - x) for x in held]
    assert [o["child_qty"] for o in orders] == list(np.diff([0, *cumulative]))
    assert orders[0]["child_qty"] > orders[-1]["child_qty"]  # front-loaded


def test_ac_without_risk_aversion_is_twap():
    orders, _ = run(AlmgrenChriss(0.02, 1e-4, 0.0), make_day([flat(0), flat(1000)], levels=1), 100, quantity=1000)
    assert [o["child_qty"] for o in orders] == [100] * 10
    assert AlmgrenChriss(0.02, 1e-4, 1e3).fraction(10.0, 600.0) == pytest.approx(1.0)  # no overflow


def test_ac_estimates_sigma_from_mid_changes_and_eta_from_impact_or_depth():
    books = [book(t, [(b, 1000)], [(round(b + 0.01, 2), 3000)]) for t, b in
             ((0, 100.00), (10, 100.01), (20, 100.00), (30, 100.02), (40, 100.02))]  # fmt: skip
    catalogue = MarketCatalogue([make_day(books, levels=1, close_s=40)])
    # mids every 10 s: 100.005, 100.015, 100.005, 100.025 -> changes .01, -.01, .02
    assert estimate_sigma(catalogue, sample_s=10) == pytest.approx(math.sqrt(2e-4 / 10), rel=1e-9)
    assert estimate_eta(catalogue, 10, SimConfig(transient_impact=2e-6)) == pytest.approx(2e-5)
    # half-spread 0.005 over the mean best size 2000, per unit of slice, times the interval
    assert estimate_eta(catalogue, 10) == pytest.approx(0.005 / 2000 * 10, rel=1e-9)


# --------------------------------------------------------------------------- submit and leave


@pytest.mark.parametrize(("side", "price", "cross"), [(1, 100.00, 100.06), (-1, 100.01, 99.95)])
def test_submit_and_leave_rests_one_price_and_crosses_the_rest_at_the_end(side, price, cross):
    day = make_day([flat(0), flat(1000)], levels=1)
    orders, row = run(SubmitAndLeave(offset_ticks=0), day, 100, side=side, quantity=500)
    assert [o["limit_px"] for o in orders] == pytest.approx([price] * 9 + [cross])
    assert [o["child_qty"] for o in orders] == [500] * 10  # the whole remainder every time
    assert [o["filled"] for o in orders] == [0] * 9 + [500]  # no trades: nothing fills passively
    assert row["forced_qty"] == 0


def test_submit_and_leave_follows_at_the_grid_edge_when_the_market_runs_away():
    day = make_day([flat(0), flat(150, 100.05, 100.06), flat(1000, 100.05, 100.06)], levels=1)
    orders, _ = run(SubmitAndLeave(offset_ticks=-1), day, 100, quantity=500, horizon_s=180, interval_s=60)
    # 99.99 at arrival; after the bid moves to 100.05 the lowest price on the grid is 2 ticks behind
    assert [o["limit_px"] for o in orders] == pytest.approx([99.99, 100.03, 100.11])


# --------------------------------------------------------------------------- specs, errors, protocol


def test_specs_parse_and_bad_ones_name_the_value_and_the_allowed_range():
    assert parse_spec("DC:delta=0.0005,n_slices=8") == ("DC", {"delta": 0.0005, "n_slices": 8})
    assert parse_spec("TWAP") == ("TWAP", {})
    with pytest.raises(ValueError, match=r"baseline 'VWAPP' is unknown; allowed: \["):
        parse_spec("VWAPP")
    with pytest.raises(ValueError, match=r"'speed=2' is not key=value with key in \['rate'"):
        parse_spec("POV:speed=2")
    with pytest.raises(ValueError, match=r"POV: rate=1.5 is outside the allowed range \(0, 1\]"):
        POV(rate=1.5)
    with pytest.raises(ValueError, match=r"DC: delta=0.0 is outside the allowed range \(0, 1\)"):
        DirectionalChange(0.0)
    with pytest.raises(ValueError, match=r"AlmgrenChriss: eta=-1.0 is outside the allowed range > 0"):
        AlmgrenChriss(0.1, -1.0, 0.0)


def test_a_market_policy_used_without_bind_says_how_to_bind_it():
    with pytest.raises(RuntimeError, match=r"call policy.bind\(MarketView\(env\)\)"):
        POV().predict(np.zeros(16, dtype=np.float32))


def test_market_policies_refuse_the_discrete_action_mode(small_catalogue):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, action_mode="discrete"))
    with pytest.raises(ValueError, match="action_mode='continuous', got 'discrete'"):
        POV().bind(MarketView(env))


def test_the_view_never_returns_data_stamped_after_now(small_catalogue):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, horizon_s=300))
    view = MarketView(env)
    env.reset(seed=3)
    for _ in range(5):
        env.step(np.array([0.0, 1.0], dtype=np.float32))
        ts, *_ = view.trades(view.start_ns - 10 * S)
        mts, _ = view.mids(view.start_ns - 10 * S)
        assert ts.size and ts.max() <= view.now and mts.max() <= view.now
        data = env._episode.data
        assert (data.trade_ts > view.now).any()  # there is a future, and it was not returned


# --------------------------------------------------------------------------- every baseline completes the order


def _all_baselines(config, catalogue, test_share=0.0):
    return {s: make_baseline(s, config, catalogue, test_share=test_share) for s in DEFAULT_BASELINES}


def test_every_baseline_completes_the_order_on_the_synthetic_market(small_catalogue):
    config = ExecutionConfig(market=small_catalogue, horizon_s=300)
    assert set(DEFAULT_BASELINES) == set(BASELINES) - {"Adaptive"}  # Adaptive trains a model: by name only
    episodes = sample_episodes(config, 4, seed=2)
    results = evaluate(_all_baselines(config, small_catalogue), config, episodes)
    assert len(results) == 4 * len(DEFAULT_BASELINES)
    np.testing.assert_allclose(results["fill_rate"] * results["quantity"] + results["forced_qty"], 5000.0)
    assert results.groupby("episode")["market_hash"].nunique().eq(1).all()


SAMPLES = [
    ("lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv", {}),
    ("lobster/AAPL_2012-06-21_34200000_57600000_message_10.csv", {}),
    ("databento/*mbp-1*.csv", {}),
    ("crypto/binance-spot/btcusdt_20240808.gz", {}),
    ("fx/EURUSD_2026-07-13_12h_ticks.csv", {}),
    ("bars/SPY_1min.csv", {}),
    ("taq-multivenue/sampleQDataRaw.csv", {"crossed": "drop"}),
]


@pytest.mark.parametrize(
    ("pattern", "options"), SAMPLES, ids=[p.split("/")[0] + ":" + p.split("/")[-1][:12] for p, _ in SAMPLES]
)
def test_every_baseline_completes_the_order_on_every_real_sample(shared_data, tmp_path, pattern, options):
    from exec_env.market.sources import load_market

    matches = sorted(shared_data.glob(pattern))
    if not matches:
        pytest.skip(f"{pattern} not in {shared_data}")
    catalogue = load_market(matches[0], cache_dir=tmp_path, **options)
    day = catalogue.day(len(catalogue) - 1)
    span_s = (min(int(day.ts[-1]), day.meta.session_close_ns) - max(int(day.ts[0]), day.meta.session_open_ns)) / S
    interval = max(math.floor(span_s * 0.2 / 5 * 1000) / 1000, 0.001)
    lot = day.meta.lot_size
    config = ExecutionConfig(market=catalogue, horizon_s=5 * interval, decision_interval_s=interval, warmup_s=0,
                             quantity=lot * 20)  # fmt: skip
    if len(catalogue) > 1:
        catalogue = load_market(matches[0], cache_dir=tmp_path, n_test=1, **options)
        config = dataclasses.replace(config, market=catalogue)
        policies, episodes = _all_baselines(config, catalogue), sample_episodes(config, 2, seed=0, overlap=True)
        split = "test"
    else:  # one day: train on the start of the session, test on its last 30%
        policies = _all_baselines(config, catalogue, test_share=0.3)
        episodes = sample_episodes(config, 2, seed=0, split="test", overlap=True, test_share=0.3)
        split = "all"
    results = evaluate(policies, config, episodes, split=split)
    assert len(results) == 2 * len(policies)
    np.testing.assert_allclose(results["fill_rate"] * results["quantity"] + results["forced_qty"], lot * 20)


def test_best_constant_picks_the_grid_action_cheapest_on_training_episodes_only(small_catalogue):
    from exec_env.baselines import BestConstant
    from exec_env.baselines.base import ConstantActionPolicy
    from exec_env.config import ExecutionConfig
    from exec_env.evaluation import evaluate, sample_episodes

    config = ExecutionConfig(market=small_catalogue, quantity=2_000, horizon_s=120, decision_interval_s=10,
                             warmup_s=60, split="train")  # fmt: skip
    best = BestConstant.from_catalogue(config, episodes=6, seed=3)
    assert len(best.table) == 25 and min(best.table, key=best.table.get) == tuple(best._action.tolist())
    # the table is what the grid actions cost on those training episodes, checked independently
    train = sample_episodes(config, n=6, seed=3, split="train", overlap=True)
    assert {spec.day for spec in train} <= set(small_catalogue.indices("train"))
    check = evaluate({"twap": ConstantActionPolicy(0.0, 1.0), "passive": ConstantActionPolicy(0.0, -0.5)}, config,
                     train, split="train")  # fmt: skip
    means = check.groupby("policy")["shortfall_bps"].mean()
    assert best.table[(0.0, 1.0)] == pytest.approx(means["twap"], abs=1e-12)
    assert best.table[(0.0, -0.5)] == pytest.approx(means["passive"], abs=1e-12)
    with pytest.raises(ValueError, match=r"BestConstant: episodes=0; allowed: an integer >= 1"):
        BestConstant.from_catalogue(config, episodes=0)


def test_make_baseline_without_a_catalogue_builds_only_what_fits_nothing() -> None:
    cfg = ExecutionConfig()
    for spec in (
        "TWAP",
        "PassiveTWAP",
        "Immediate",
        "POV",
        "SubmitAndLeave",
        "DC:delta=0.001",
        "AC:sigma=0.01,eta=1e-6",
    ):
        assert make_baseline(spec, cfg, None) is not None
    for spec in ("VWAP", "DC", "AC", "AC:sigma=0.01", "BestConstant", "Adaptive"):
        name = spec.partition(":")[0]
        with pytest.raises(
            NoHistoryError, match=f"baseline {name} is fitted on market data, and no catalogue was given"
        ):
            make_baseline(spec, cfg, None)

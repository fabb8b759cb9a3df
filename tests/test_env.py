"""ExecutionEnv: API conformance, exact reward accounting, symmetry, determinism, no look-ahead."""

from __future__ import annotations

import math
import pickle
import warnings
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exec_env
from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.env import child_order
from exec_env.market import MarketCatalogue, mirror_day
from exec_env.sim import kernels as K
from tests.books import T0, S, book, make_day, trade

NO_FRICTION = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)


def run_episode(env, actions, options=None, seed=None):
    obs, info = env.reset(seed=seed, options=options)
    observations, rewards = [obs], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(np.asarray(action, dtype=np.float32))
        observations.append(obs)
        rewards.append(reward)
        assert not truncated
        if terminated:
            break
    assert terminated
    assert "fills" not in info  # variable-length records stay out of info (vector envs stack it)
    info = dict(info, fills=env.unwrapped.fill_records())
    return np.array(observations), np.array(rewards), info


@pytest.mark.parametrize("env_id", exec_env.ENV_IDS)
def test_gymnasium_and_sb3_checkers_pass_on_every_registered_id(env_id, small_catalogue):
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check(gym.make(env_id, market=small_catalogue).unwrapped, skip_render_check=True)
        sb3_check(gym.make(env_id, market=small_catalogue).unwrapped, warn=True)


def test_make_by_module_path_and_spaces(small_catalogue):
    env = gym.make("exec_env:exec_env/Execution-v0", market=small_catalogue)
    assert env.action_space == gym.spaces.Box(-1, 1, (2,), np.float32)
    assert env.observation_space.shape == (18,) and env.observation_space.dtype == np.float32
    discrete = gym.make("exec_env/ExecutionDiscrete-v0", market=small_catalogue)
    assert discrete.action_space == gym.spaces.MultiDiscrete([5, 5])


@pytest.mark.parametrize("reward_mode", ["mark_to_market", "arrival"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_episode_return_is_exactly_minus_the_shortfall(small_catalogue, reward_mode, side, seed):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, side=side, reward_mode=reward_mode))
    rng = np.random.default_rng(seed)
    _, rewards, info = run_episode(env, rng.uniform(-1, 1, (60, 2)), seed=seed)
    m = info["execution"]
    # recompute the shortfall from the fill records alone
    fills = info["fills"]
    s = 1 if side == "buy" else -1
    notional = (fills["px"] * fills["qty"]).sum()
    qty = fills["qty"].sum()
    fees = fills["fee"].sum()
    shortfall = (s * (notional - qty * m["arrival_mid"]) + fees) / (m["quantity"] * m["arrival_mid"]) * 1e4
    assert qty == pytest.approx(5000.0, abs=1e-9)
    assert shortfall == pytest.approx(m["shortfall_bps"], abs=1e-9)
    assert rewards.sum() == pytest.approx(-m["shortfall_bps"], abs=1e-9)


@pytest.mark.parametrize("baseline", ["twap", "passive_twap"])
def test_relative_reward_sums_to_baseline_shortfall_minus_shortfall(small_catalogue, baseline):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, reward_baseline=baseline))
    _, rewards, info = run_episode(env, np.random.default_rng(5).uniform(-1, 1, (60, 2)), seed=5)
    m = info["execution"]
    assert rewards.sum() == pytest.approx(m[f"{baseline}_shortfall_bps"] - m["shortfall_bps"], abs=1e-9)
    assert m[f"vs_{baseline}_bps"] == pytest.approx(m["shortfall_bps"] - m[f"{baseline}_shortfall_bps"], abs=1e-12)
    # the shadow is the baseline itself: the same episode run by it alone gives its shortfall
    plain = ExecutionEnv(ExecutionConfig(market=small_catalogue))
    action = {"twap": (0.0, 1.0), "passive_twap": (0.0, -0.5)}[baseline]
    _, _, alone = run_episode(plain, [action] * 60, options={"day": m["day"], "start_ns": m["start_ns"],
                                                             "side": m["side"]})  # fmt: skip
    assert alone["execution"]["shortfall_bps"] == m[f"{baseline}_shortfall_bps"]


def test_twap_compared_with_itself_is_zero(small_catalogue):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, compare_twap=True))
    _, _, info = run_episode(env, [(0.0, 1.0)] * 60, seed=3)
    assert info["execution"]["vs_twap_bps"] == 0.0


# A constant book: bid 100.00 x 4000, ask 100.01 x 3000 / 100.02 x 3000; no trades.
CONST = [book(t, [(100.00, 4000), (99.99, 4000)], [(100.01, 3000), (100.02, 3000)]) for t in (0, 100, 700, 1000)]


def fixture_env(day, **kw):
    cfg = ExecutionConfig(market=MarketCatalogue([day]), sim=NO_FRICTION, quantity=5000, horizon_s=600,
                          decision_interval_s=60, warmup_s=0, **kw)  # fmt: skip
    return ExecutionEnv(cfg)


def test_forced_liquidation_at_the_horizon_hand_computed():
    env = fixture_env(make_day(CONST, levels=2))
    _, rewards, info = run_episode(env, [(-1.0, 0.0)] * 10, options={"start_ns": T0 + 100 * S, "side": "buy"})
    fills = info["fills"]
    assert fills["liq"].tolist() == [K.LIQ_FORCED, K.LIQ_FORCED]
    assert fills["qty"].tolist() == [3000.0, 2000.0]
    assert fills["px"].tolist() == [100.01, 100.02]
    assert (fills["ts"] == T0 + 700 * S).all()  # at the horizon
    m = info["execution"]
    expected = (3000 * 0.005 + 2000 * 0.015) / (5000 * 100.005) * 1e4
    assert m["shortfall_bps"] == pytest.approx(expected, rel=1e-12)
    assert m["fill_rate"] == 0.0 and m["forced_qty"] == 5000.0 and m["n_child_orders"] == 0
    assert rewards[:-1].tolist() == [0.0] * 9 and rewards[-1] == pytest.approx(-expected, rel=1e-12)


def test_terminal_penalty_is_charged_on_the_fraction_left():
    env = fixture_env(make_day(CONST, levels=2), terminal_penalty_bps=10.0)
    _, rewards, info = run_episode(env, [(-1.0, 0.0)] * 10, options={"start_ns": T0 + 100 * S, "side": "buy"})
    assert rewards.sum() == pytest.approx(-info["execution"]["shortfall_bps"] - 10.0, rel=1e-12)


def test_the_observation_shows_the_resting_order_and_its_queue_place():
    env = fixture_env(make_day(CONST, levels=2))
    obs, _ = env.reset(options={"start_ns": T0 + 100 * S, "side": "buy"})
    assert obs[16] == 0.0 and obs[17] == 0.0  # nothing rests yet
    obs, *_ = env.step(np.array([0.0, -0.5], dtype=np.float32))  # joins the bid: 500 behind 4000
    slice_qty = 5000 / 10
    assert obs[16] == np.float32(500 / 5000)
    assert obs[17] == np.float32(math.log1p(4000 / slice_qty))
    obs, *_ = env.step(np.array([0.0, -0.5], dtype=np.float32))  # the same price, more quantity: re-queued
    assert obs[16] == np.float32(1000 / 5000) and obs[17] == np.float32(math.log1p(4000 / slice_qty))
    obs, *_ = env.step(np.array([0.0, 1.0], dtype=np.float32))  # crosses: nothing rests
    assert obs[16] == 0.0 and obs[17] == 0.0


def test_twap_on_a_constant_book_trades_equal_marketable_slices():
    env = fixture_env(make_day(CONST, levels=2))
    _, _, info = run_episode(env, [(0.0, 1.0)] * 10, options={"start_ns": T0 + 100 * S, "side": "buy"})
    fills = info["fills"]
    assert fills["qty"].tolist() == [500.0] * 10
    assert fills["px"].tolist() == [100.01] * 10
    assert fills["ts"].tolist() == [T0 + (100 + 60 * i) * S for i in range(10)]
    assert info["execution"]["shortfall_bps"] == pytest.approx(0.005 / 100.005 * 1e4, rel=1e-12)


def test_child_order_mapping_hand_computed():
    # pace 0 on step 2 of 10: target 30% of 5000 with 1000 done -> 500; aggressiveness +1 -> ask + 5 ticks
    assert child_order(0.0, 1.0, 2, 10, 5000, 1000, 1.0, 1, 100.00, 100.02, 0.01, 2, 5) == (
        500.0,
        pytest.approx(100.07),
    )
    # aggressiveness -1: two ticks behind the near touch; sells mirror
    assert child_order(0.0, -1.0, 2, 10, 5000, 1000, 1.0, -1, 100.00, 100.02, 0.01, 2, 5) == (
        500.0,
        pytest.approx(100.04),
    )
    # pace +1 targets everything left; pace -1 nothing; pace -0.5: 0.5**3 = 12.5% below the schedule
    assert child_order(1.0, 0.0, 0, 10, 5000, 0, 100.0, 1, 100.0, 100.01, 0.01, 2, 5)[0] == 5000.0
    assert child_order(-1.0, 0.0, 5, 10, 5000, 0, 1.0, 1, 100.0, 100.01, 0.01, 2, 5)[0] == 0.0
    assert (
        child_order(-0.5, 0.0, 3, 10, 5000, 0, 1.0, 1, 100.0, 100.01, 0.01, 2, 5)[0] == 1750.0
    )  # 40% * (1 - 0.125) of 5000
    # pace +0.5 at step 0 of 10: 10% + 12.5% of the remaining 90% = 21.25% -> 1062.5 -> 1063 (lot 1, half up)
    assert child_order(0.5, 0.0, 0, 10, 5000, 0, 1.0, 1, 100.0, 100.01, 0.01, 2, 5)[0] == 1063.0
    # aggressiveness 0 on a 2-tick spread: span 2+2+5 = 9 ticks, -2 + round(4.5) = 3 ticks above the bid
    assert child_order(0.0, 0.0, 0, 10, 5000, 0, 1.0, 1, 100.0, 100.02, 0.01, 2, 5)[1] == pytest.approx(100.03)
    # lot rounding: 5000/7 per step on lots of 100 -> 700
    assert child_order(0.0, 1.0, 0, 7, 5000, 0, 100.0, 1, 100.0, 100.01, 0.01, 2, 5)[0] == 700.0


def test_buy_and_the_mirrored_sell_see_and_pay_the_same():
    bids = [(100.00, 300), (99.99, 400), (99.98, 500)]
    asks = [(100.01, 200), (100.02, 250), (100.03, 400)]
    rng = np.random.default_rng(0)
    books, trades = [book(0, bids, asks)], []
    for t in range(1, 700):
        shift = rng.integers(-1, 2) * 0.01
        books.append(book(t, [(p + shift, s + rng.integers(0, 50)) for p, s in bids],
                          [(p + shift, s + rng.integers(0, 50)) for p, s in asks]))  # fmt: skip
        trades.append(trade(t - 0.5, 100.00 + shift, float(rng.integers(10, 200)), -1))
        trades.append(trade(t - 0.25, 100.01 + shift, float(rng.integers(10, 200)), 1))
    day = make_day(books, trades)
    center = 100.005  # the arrival mid: both episodes then share the bps denominator
    # Fees are charged in bps of notional, and mirrored prices differ (100.01 vs 99.999), so
    # mirror symmetry is exact only without fees; everything else (impact, latency, depletion) stays.
    sim = SimConfig(taker_fee_bps=0.0, maker_fee_bps=0.0, latency_ms=5.0, resilience_s=3.0,
                    permanent_impact=1e-6, transient_impact=2e-6)  # fmt: skip
    actions = np.random.default_rng(1).uniform(-1, 1, (10, 2))
    out = []
    for d, side in ((day, "buy"), (mirror_day(day, center), "sell")):
        env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([d]), sim=sim, quantity=3000, horizon_s=600,
                                           decision_interval_s=60, warmup_s=0))  # fmt: skip
        out.append(run_episode(env, actions, options={"start_ns": T0 + 60 * S, "side": side}))
    (obs_b, rew_b, info_b), (obs_s, rew_s, info_s) = out
    assert info_b["execution"]["arrival_mid"] == pytest.approx(center) == info_s["execution"]["arrival_mid"]
    np.testing.assert_allclose(rew_b, rew_s, atol=1e-9)
    np.testing.assert_array_equal(obs_b[:, 4], 1.0)
    np.testing.assert_array_equal(obs_s[:, 4], -1.0)
    keep = [i for i in range(obs_b.shape[1]) if i not in (4, 9, 10, 11)]
    np.testing.assert_allclose(obs_b[:, keep], obs_s[:, keep], atol=1e-5)
    # log returns of mirrored prices agree to first order only (log(a/b) vs log((2c-a)/(2c-b))),
    # which shows once the impact moves the mids the agent sees
    np.testing.assert_allclose(obs_b[:, 9:12], obs_s[:, 9:12], rtol=1e-3, atol=1e-5)
    fb, fs_ = info_b["fills"], info_s["fills"]
    np.testing.assert_allclose(fb["qty"], fs_["qty"])
    np.testing.assert_allclose(fb["px"] - center, center - fs_["px"], atol=1e-9)


def test_same_seed_same_episode_and_different_seed_differs(small_catalogue):
    actions = np.random.default_rng(0).uniform(-1, 1, (60, 2))
    a = run_episode(ExecutionEnv(ExecutionConfig(market=small_catalogue)), actions, seed=42)
    b = run_episode(ExecutionEnv(ExecutionConfig(market=small_catalogue)), actions, seed=42)
    c = run_episode(ExecutionEnv(ExecutionConfig(market=small_catalogue)), actions, seed=43)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2]["fills"], b[2]["fills"])
    assert a[2]["execution"]["start_ns"] != c[2]["execution"]["start_ns"] or not np.array_equal(a[1], c[1])


def test_env_pickles_mid_episode_and_continues_identically(small_catalogue):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, compare_twap=True))
    env.reset(seed=9)
    for _ in range(7):
        env.step(np.array([0.3, -0.2], dtype=np.float32))
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(53):
        a = env.step(np.array([-0.1, 0.4], dtype=np.float32))
        b = clone.step(np.array([-0.1, 0.4], dtype=np.float32))
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1] and a[2] == b[2]
    assert a[4]["execution"] == b[4]["execution"]


def _cut(day, t_ns):
    """The day with everything after ``t_ns`` removed."""
    nb = int(np.searchsorted(day.ts, t_ns, side="right"))
    nt = int(np.searchsorted(day.trade_ts, t_ns, side="right"))
    return replace(day, ts=day.ts[:nb], bid_px=day.bid_px[:nb], bid_sz=day.bid_sz[:nb], ask_px=day.ask_px[:nb],
                   ask_sz=day.ask_sz[:nb], trade_ts=day.trade_ts[:nt], trade_px=day.trade_px[:nt],
                   trade_sz=day.trade_sz[:nt], trade_side=day.trade_side[:nt])  # fmt: skip


@pytest.mark.parametrize("decisions", [0, 1, 17])
def test_observations_use_no_data_after_the_decision_time(small_catalogue, decisions):
    day = small_catalogue.day(0)
    start = day.meta.session_open_ns + 400 * S
    actions = np.random.default_rng(decisions).uniform(-1, 1, (decisions, 2))
    obs = []
    for d in (day, _cut(day, start + decisions * 10 * S)):
        # a horizon that fits in the cut day's data (the env refuses days too short to sample);
        # one fixed impact model: a calibration on each catalogue's own (cut or whole) training day
        # would differ by construction and is not what this test is about
        sim = SimConfig(permanent_impact=1e-6, transient_impact=2e-6)
        env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([d]), side="buy", horizon_s=200, warmup_s=0, sim=sim))
        o, _ = env.reset(options={"start_ns": start})
        for a in actions:
            o, *_ = env.step(a.astype(np.float32))
        obs.append(o)
    np.testing.assert_array_equal(obs[0], obs[1])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    actions=st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=60, max_size=60),
    seed=st.integers(0, 2**16),
    reward_mode=st.sampled_from(["mark_to_market", "arrival"]),
)
def test_invariants_fills_never_exceed_the_order_and_cash_reconciles(small_catalogue, actions, seed, reward_mode):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, reward_mode=reward_mode, quantity=3000))
    _, info = env.reset(seed=seed)
    side = info["side"]
    sim = env._episode.sim
    total = 0.0
    for a in actions:
        obs, reward, terminated, _, info = env.step(np.array(a, dtype=np.float32))
        assert np.isfinite(obs).all() and np.isfinite(reward)
        assert -1e-9 <= info["executed"] <= 3000 + 1e-9
        total += reward
        if terminated:
            break
    fills = env.fill_records()
    assert "fills" not in info
    assert (fills["qty"] > 0).all()
    assert fills["qty"].sum() == pytest.approx(3000, abs=1e-9)
    # limits are honoured in the impacted frame: maker fills exactly at the limit, taker fills
    # (orders and the forced liquidation) never past it
    maker = fills["liq"] == K.LIQ_MAKER
    np.testing.assert_array_equal(fills["px"][maker], fills["limit_px"][maker])
    assert (side * (fills["px"] - fills["limit_px"]) <= 1e-9).all()
    assert (np.diff(fills["step"]) >= 0).all() and fills["step"].max() <= 59
    notional = fills["px"] * fills["qty"]
    assert sim.cash == pytest.approx(-(side * notional).sum() - fills["fee"].sum(), rel=1e-12)
    assert sim.inventory == pytest.approx(side * 3000, abs=1e-9)
    assert total == pytest.approx(-info["execution"]["shortfall_bps"], abs=1e-9)
    assert (np.diff(fills["ts"]) >= 0).all()


def test_bad_config_and_actions_fail_with_the_field_value_and_range(small_catalogue):
    with pytest.raises(ValueError, match=r"horizon_s = 605.*whole multiple of decision_interval_s \(10.0\)"):
        ExecutionConfig(horizon_s=605)
    with pytest.raises(ValueError, match=r"ExecutionConfig.side = 'long'"):
        ExecutionConfig(side="long")
    with pytest.raises(ValueError, match=r"SimConfig.latency_ms = -1.*\[0.0, 60000.0\]"):
        SimConfig(latency_ms=-1)
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside Box"):
        env.step(np.array([1.5, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="not in the 'train' split"):
        env.reset(options={"day": 2})
    with pytest.raises(ValueError, match="unknown"):
        env.reset(options={"horizon": 5})
    with pytest.raises(ValueError, match="multiple of the lot size"):
        ExecutionEnv(ExecutionConfig(market=small_catalogue), quantity=10.5).reset(seed=0)


def test_days_too_short_for_the_horizon_are_refused_at_construction(small_catalogue):
    day = small_catalogue.day(0)
    cut = _cut(day, day.meta.session_open_ns + 700 * S)
    with pytest.raises(ValueError, match=r"horizon_s \(600.0\) \+ warmup_s \(300.0\) do not fit in 1 day"):
        ExecutionEnv(ExecutionConfig(market=MarketCatalogue([cut, small_catalogue.day(1)], n_test=1)))


def test_starts_are_drawn_inside_the_data(small_catalogue):
    day = small_catalogue.day(0)
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue([_cut(day, day.meta.session_open_ns + 1000 * S)]),
                                       horizon_s=300, warmup_s=0))  # fmt: skip
    starts = [env.reset(seed=i)[1]["start_ns"] for i in range(200)]
    assert min(starts) >= day.meta.session_open_ns and max(starts) <= day.meta.session_open_ns + 700 * S
    assert all(s % 1_000_000 == 0 for s in starts)


def test_test_split_holds_only_the_last_days(small_catalogue):
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, split="test"))
    days = {env.reset(seed=s)[1]["day"] for s in range(20)}
    assert days == {2}
    env = ExecutionEnv(ExecutionConfig(market=small_catalogue, split="train"))
    assert {env.reset(seed=s)[1]["day"] for s in range(40)} == {0, 1}


def test_simulator_defaults_come_from_the_market_unless_given(small_catalogue, tmp_path):
    from exec_env.market.synthetic import SIM_DEFAULTS, SyntheticParams, synthetic_catalogue

    # data without an impact model of its own gets one calibrated on its training days (changed
    # with the market model: it used to get no parametric impact), unless asked not to
    from exec_env.sim.calibrate import calibrate

    env = ExecutionEnv(ExecutionConfig(market=small_catalogue))
    cal = calibrate(small_catalogue, split="train")
    assert env.calibration == cal and cal.days == 2
    assert env.sim_config == SimConfig(permanent_impact=cal.kyle_lambda, resilience_s=cal.resilience_s)
    assert cal.kyle_lambda > 0 and 0 < cal.resilience_s < 300
    assert ExecutionEnv(ExecutionConfig(market=small_catalogue, calibrate_impact=False)).sim_config == SimConfig()
    synthetic = synthetic_catalogue(
        n_days=2, n_test=1, params=SyntheticParams(session_seconds=1200), cache_dir=tmp_path
    )
    env = ExecutionEnv(ExecutionConfig(market=synthetic, horizon_s=300))
    assert env.sim_config == SimConfig(**SIM_DEFAULTS) and env.sim_config.permanent_impact == 1e-6
    mine = SimConfig(taker_fee_bps=2.0)
    assert ExecutionEnv(ExecutionConfig(market=synthetic, horizon_s=300, sim=mine)).sim_config is mine

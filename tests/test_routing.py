"""Routing-v0: the Cont–Kukanov allocation against hand-solved cases, the env's contract
(check_env, reward = -shortfall, no overfill, identical paths, pickling), the routers and the
grid search."""

from __future__ import annotations

import math
import pickle
import warnings

import gymnasium
import numpy as np
import pytest

from exec_env.baselines.routing import (
    ContKukanov,
    NaiveBestPrice,
    ProRata,
    TWAPRouted,
    VWAPRouted,
    ck_allocate,
    volume_curve,
)
from exec_env.market.synthetic import SIM_DEFAULTS
from exec_env.market.synthetic_venues import DEFAULT_VENUES, generate_venue_day
from exec_env.market.venues import VenueCatalogue, VenueSpec
from exec_env.routing_env import RoutingConfig, RoutingEnv, register_routing
from exec_env.routing_search import edge_margin, grid_search, run_policy, sample_episodes, savings_table


@pytest.fixture(scope="module")
def venue_catalogue() -> VenueCatalogue:
    days = [generate_venue_day(seed=5, day_index=i, session_seconds=1800.0) for i in range(3)]
    specs = tuple(v.spec for v in DEFAULT_VENUES)
    return VenueCatalogue(days, n_test=1, name="small-venues", venue_specs=specs, sim_defaults=dict(SIM_DEFAULTS))


@pytest.fixture()
def env(venue_catalogue: VenueCatalogue) -> RoutingEnv:
    return RoutingEnv(RoutingConfig(market=venue_catalogue, quantity=2000.0, horizon_s=300.0))


# ------------------------------------------------------------------------------------------------
# Cont–Kukanov allocation
# ------------------------------------------------------------------------------------------------


def test_ck_two_venues_solved_by_hand() -> None:
    """S = 4, grid 1 unit. Venue 1: market cost 3 (1 unit shown), passive -2.7, queue 2; venue 2:
    market 3.5 (10 shown), passive -2.5, queue 0. Outflows: (2, 0) or (6, 2), each with probability
    1/2, so a limit order fills nothing in scenario a and up to (4, 2) in scenario b.
    lambda_under 9, lambda_over 4, theta 0.5.

    Marginal values (expected cost of one more unit), with T the total executed in scenario b:
    a venue-1 limit unit (T < 4): 0.5*0.5 [queue risk in a] + 0.5*(-2.7 - 9) = -5.6; at T = 4 a
    market unit replacing a limit unit changes only scenario a: venue 1: 3 - 0.5*9 = -1.5, venue 2:
    3.5 - 4.5 = -1.0, against -1.1 for the venue-1 limit unit (0.25 - 0.5*2.7). So one market unit
    on venue 1 (all it shows), three limit units on venue 1, nothing on venue 2; going past T = 4
    costs 0.5*4 - 4.5 + 3 = +0.5 per market unit. Expected cost:
    a: 3 + 9*3 + 0.5*3 = 31.5; b: 3 - 2.7*3 = -5.1; mean 13.2.
    """
    M, L, cost = ck_allocate(
        4.0, [3.0, 3.5], [1.0, 10.0], [-2.7, -2.5], [2.0, 0.0], np.array([[2.0, 0.0], [6.0, 2.0]]),
        lambda_under=9.0, lambda_over=4.0, theta_queue=0.5, grid=4,
    )  # fmt: skip
    assert M.tolist() == [1.0, 0.0]
    assert L.tolist() == [3.0, 0.0]
    assert cost == pytest.approx(13.2, abs=1e-12)
    # with lambda_under 5 the market unit is no longer worth it (3 - 2.5 = 0.5 > -1.1): all limit on venue 1
    M, L, cost = ck_allocate(
        4.0, [3.0, 3.5], [1.0, 10.0], [-2.7, -2.5], [2.0, 0.0], np.array([[2.0, 0.0], [6.0, 2.0]]),
        lambda_under=5.0, lambda_over=4.0, theta_queue=0.5, grid=4,
    )  # fmt: skip
    assert (M.tolist(), L.tolist()) == ([0.0, 0.0], [4.0, 0.0])
    assert cost == pytest.approx(0.5 * (5 * 4 + 0.5 * 4) + 0.5 * (-2.7 * 4), abs=1e-12)  # 5.6


def test_ck_without_outflow_goes_marketable_cheapest_first() -> None:
    """No outflow: limit orders never fill and cost theta; a large lambda_under buys everything,
    the cheaper venue first up to its size (1 at 3), the rest on venue 2 (3 at 3.5): 13.5."""
    M, L, cost = ck_allocate(4.0, [3.0, 3.5], [1.0, 10.0], [-2.7, -2.5], [0.0, 0.0], np.zeros((3, 2)), 100.0, 4.0, 0.5)
    assert (M.tolist(), L.tolist(), cost) == ([1.0, 3.0], [0.0, 0.0], pytest.approx(13.5, abs=1e-12))


def test_ck_kept_queue_place() -> None:
    """Our order rests first in venue 1's queue (kept_queue 0) for 2 units; outflow 2: keeping 2
    units fills both (-2.7 each), while 3 or more re-queue behind the 5 displayed and fill nothing."""
    M, L, _ = ck_allocate(
        2.0, [3.0], [0.0], [-2.7], [5.0], np.array([[2.0]]), 5.0, 4.0, 0.5, grid=2, kept_queue=[0.0], kept_qty=[2.0]
    )
    assert (M.tolist(), L.tolist()) == ([0.0], [2.0])


def test_ck_config_errors_name_field() -> None:
    with pytest.raises(
        ValueError, match=r"ContKukanov.lambda_over = -1.0 is outside the allowed range \[0.0, 10000.0\]"
    ):
        ContKukanov([VenueSpec("A")], lambda_over=-1.0)


# ------------------------------------------------------------------------------------------------
# The env
# ------------------------------------------------------------------------------------------------


def test_check_env_on_registered_id(venue_catalogue: VenueCatalogue) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    register_routing()
    env = gymnasium.make("exec_env/Routing-v0", market=venue_catalogue, quantity=2000.0, horizon_s=300.0)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    assert env.action_space.shape == (7,) and env.observation_space.shape == (6 + 13 * 3,)


@pytest.mark.parametrize("side", [1, -1])
def test_return_is_minus_shortfall_and_never_overfills(env: RoutingEnv, side: int) -> None:
    rng = np.random.default_rng(side + 3)
    for ep in range(2):
        obs, _ = env.reset(seed=ep, options={"side": side})
        total, done = 0.0, False
        while not done:
            obs, r, done, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            total += r
            outstanding = sum(s.resting_qty for s in env.sims)
            assert env.filled + outstanding <= 2000.0 + 1e-9
            assert env.observation_space.contains(obs)
        m = info["execution"]
        assert total == pytest.approx(-m["shortfall_bps"], abs=1e-9)
        assert env.filled == pytest.approx(2000.0, abs=1e-9)
        assert sum(m[f"venue_{k}_qty"] for k in range(3)) == pytest.approx(2000.0, abs=1e-9)


def test_zero_action_only_rests_nothing_until_liquidation(env: RoutingEnv) -> None:
    """All -1: no order at all; the whole order is liquidated at the horizon on one venue."""
    env.reset(seed=1, options={"side": "buy"})
    a = -np.ones(env.action_space.shape, dtype=np.float32)
    for _ in range(env.n_steps - 1):
        _, _, done, _, info = env.step(a)
        assert info["executed"] == 0.0 and not done
    _, _, done, _, info = env.step(a)
    assert done and info["execution"]["forced_qty"] == pytest.approx(2000.0)
    assert info["execution"]["fill_rate"] == pytest.approx(0.0)


def test_identical_paths_and_pickling(env: RoutingEnv) -> None:
    episodes = sample_episodes(env, 3, seed=4)
    a = run_policy(env, TWAPRouted(), episodes)
    b = run_policy(env, TWAPRouted(), episodes)
    c = run_policy(env, NaiveBestPrice(), episodes)
    assert a["shortfall_bps"].tolist() == b["shortfall_bps"].tolist()
    assert a["arrival_mid"].tolist() == c["arrival_mid"].tolist()
    assert a["start_ns"].tolist() == c["start_ns"].tolist()
    obs, _ = env.reset(options=episodes[0])
    pol = ProRata()
    for _ in range(5):
        obs, *_ = env.step(pol.predict(obs)[0])
    clone = pickle.loads(pickle.dumps(env))
    for _ in range(4):
        act = pol.predict(obs)[0]
        o1, r1, *_ = env.step(act)
        o2, r2, *_ = clone.step(act)
        assert r1 == r2 and np.array_equal(o1, o2)
        obs = o1


def test_config_errors_name_field_value_and_range(venue_catalogue: VenueCatalogue) -> None:
    with pytest.raises(ValueError, match=r"RoutingConfig.cross_ticks = -1 is invalid; allowed: an integer 0 .. 100"):
        RoutingConfig(cross_ticks=-1)
    with pytest.raises(ValueError, match=r"RoutingConfig.venues .*one per venue of the market \(3\)"):
        RoutingEnv(RoutingConfig(market=venue_catalogue, venues=(VenueSpec("A"),)))
    with pytest.raises(ValueError, match=r"VenueSpec.latency_ms = -1.0 is outside the allowed range"):
        VenueSpec("A", latency_ms=-1.0)


def test_routers_route_where_they_say(env: RoutingEnv) -> None:
    """Naive sends everything marketable to the best-priced venue at the first decision; CK's
    action is the allocation of ck_allocate on the decoded observation."""
    from exec_env.baselines.routing.base import VenueView

    obs, _ = env.reset(seed=2, options={"side": "buy"})
    view = VenueView.decode(obs)
    best = int(np.argmin(np.where(view.available, view.far_bps, np.inf)))
    a = NaiveBestPrice().predict(obs)[0]
    assert a[0] == 1.0 and a[1 + 2 * best] == 1.0 and (np.delete(a[1:], 2 * best) == -1.0).all()
    ck = ContKukanov(env.venue_specs, 1.0, 5.0, 0.5)
    M, L, _ = ck_allocate(
        view.child, view.far_bps + [v.taker_fee_bps for v in env.venue_specs], view.far_size,
        view.near_bps + [v.passive_fee_bps for v in env.venue_specs], view.near_size, view.flows.T, 5.0, 1.0, 0.5,
    )  # fmt: skip
    got = ck.predict(obs)[0]
    np.testing.assert_allclose((got[1::2] + 1) / 2 * view.child, M, atol=1e-4 * view.child)
    np.testing.assert_allclose((got[2::2] + 1) / 2 * view.child, L, atol=1e-4 * view.child)


def test_vwap_follows_the_training_curve(venue_catalogue: VenueCatalogue, env: RoutingEnv) -> None:
    curve = volume_curve(venue_catalogue, "train", buckets=30)
    assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0) and np.all(np.diff(curve) >= 0)
    flat = VWAPRouted(np.linspace(0, 1, 31), 300.0, env.n_steps, 1800.0)
    obs, _ = env.reset(seed=0)
    # a flat curve is the linear schedule: the deviation pace**3 is zero up to float32 rounding
    assert float(flat.predict(obs)[0][0]) ** 3 == pytest.approx(0.0, abs=1e-12)
    # the window's volume all comes in its last 2%: nothing is due at the first decision (pace -1)
    s0, h = float(obs[5]), 300.0 / 1800.0
    x = np.linspace(0.0, 1.0, 100_001)
    late = VWAPRouted(np.clip((x - (s0 + 0.98 * h)) / (0.02 * h), 0.0, 1.0), 300.0, env.n_steps, 1800.0)
    assert late.predict(obs)[0][0] == pytest.approx(-1.0)


def test_grid_search_uses_training_days_and_picks_the_minimum(venue_catalogue: VenueCatalogue) -> None:
    cfg = RoutingConfig(market=venue_catalogue, quantity=2000.0, horizon_s=120.0, split="test")
    grid = {"lambda_over": (1.0,), "lambda_under": (0.0, 8.0), "theta_queue": (0.5,)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen, table = grid_search(cfg, n_episodes=3, seed=1, grid=grid)
    assert table.attrs["at_edge"] == ["lambda_under"]  # a two-value axis: any choice is an edge
    diff, se = table.attrs["edge_margin"]["lambda_under"]
    assert diff <= 0  # the chosen value is the cheaper one
    # the warning only when the edge choice is clearly (2 standard errors) better than the other value
    edge_warnings = [w for w in caught if "at the edge of the grid" in str(w.message)]
    assert len(edge_warnings) == (1 if diff < -2 * se else 0)
    assert table.attrs["edge_clear"] == (["lambda_under"] if diff < -2 * se else [])
    assert len(table) == 2
    best = table.loc[table["mean_bps"].idxmin()]
    assert chosen == {"lambda_over": 1.0, "lambda_under": float(best["lambda_under"]), "theta_queue": 0.5}
    train_env = RoutingEnv(cfg, split="train")
    assert {e["day"] for e in sample_episodes(train_env, 3, seed=1)} <= set(venue_catalogue.indices("train"))


def test_edge_margin_is_the_paired_difference_to_the_best_other_value() -> None:
    import pandas as pd

    table = pd.DataFrame({"theta_queue": [0.0, 0.5, 2.0, 2.0], "mean_bps": [3.0, 2.5, 1.0, 4.0]})
    shortfalls = np.array([[3.0, 3.0, 3.0], [2.0, 3.0, 2.5], [1.0, 1.5, 0.5], [4.0, 4.0, 4.0]])
    # chosen row 2 (theta 2.0); the best row with another theta is row 1: differences -1, -1.5, -2
    diff, se = edge_margin(table, shortfalls, 2, "theta_queue")
    assert diff == pytest.approx(-1.5)
    assert se == pytest.approx(0.5 / np.sqrt(3))  # sample std of (-1, -1.5, -2) is 0.5
    flat = np.array([[3.0, 3.0, 3.0], [1.2, 0.8, 1.0], [1.0, 1.0, 0.9], [4.0, 4.0, 4.0]])
    diff, se = edge_margin(table, flat, 2, "theta_queue")  # -0.2, +0.2, -0.1: within noise
    assert diff == pytest.approx(-0.1 / 3) and diff > -2 * se


def test_savings_table_is_paired(env: RoutingEnv) -> None:
    import pandas as pd

    episodes = sample_episodes(env, 3, seed=2)
    frame = pd.concat([run_policy(env, p, episodes) for p in (TWAPRouted(), ContKukanov(env.venue_specs))])
    table = savings_table(frame, n_boot=200).set_index("policy")
    diff = (
        frame[frame.policy == "twap"]["shortfall_bps"].to_numpy()
        - frame[frame.policy == "cont_kukanov"]["shortfall_bps"].to_numpy()
    )
    assert table.loc["twap", "saving_bps"] == pytest.approx(diff.mean())
    assert math.isnan(table.loc["cont_kukanov"].get("saving_bps", math.nan))

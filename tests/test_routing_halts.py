"""Routing-v0 and trading halts: episode starts avoid market-wide halts (every venue halted), a halt
of some venues is a routing case (the venue shows as unavailable, the forced liquidation goes
elsewhere), and a liquidation inside a halt is flagged."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exec_env.baselines.routing import NaiveBestPrice
from exec_env.market.data import validate
from exec_env.market.synthetic import SIM_DEFAULTS
from exec_env.market.synthetic_venues import DEFAULT_VENUES, generate_venue_day
from exec_env.market.venues import MultiVenueDay, VenueCatalogue
from exec_env.routing_env import VENUE_FEATURES, RoutingConfig, RoutingEnv, market_halts

S = 1_000_000_000
MS = 1_000_000
HALT = (1000 * S, 1300 * S)  # after the session open; the test days last 1800 s
H = 300 * S  # horizon


def _day(seed: int = 5, index: int = 0) -> MultiVenueDay:
    return generate_venue_day(seed=seed, day_index=index, session_seconds=1800.0)


def _with(day: MultiVenueDay, halts: dict[int, list[tuple[int, int]]], shift_ticks: dict[int, int] | None = None):
    """``day`` with venue k halted over ``halts[k]`` (ns after the open) and its prices moved by
    ``shift_ticks[k]`` ticks (book and trades: the venue stays uncrossed)."""
    o, tick = day.meta.session_open_ns, day.meta.tick_size
    venues = []
    for k, v in enumerate(day.venues):
        h = halts.get(k)
        arr = None if h is None else np.array([[o + a, o + b] for a, b in h], dtype=np.int64)
        d = (shift_ticks or {}).get(k, 0) * tick
        venues.append(
            validate(replace(v, halts=arr, bid_px=v.bid_px + d, ask_px=v.ask_px + d, trade_px=v.trade_px + d))
        )
    return MultiVenueDay(day.meta, tuple(venues), day.venue_ids, day.venue_names)


def _catalogue(days: list[MultiVenueDay]) -> VenueCatalogue:
    specs = tuple(v.spec for v in DEFAULT_VENUES)
    return VenueCatalogue(days, n_test=0, name="halted-venues", venue_specs=specs, sim_defaults=dict(SIM_DEFAULTS))


def test_market_halts_is_the_intersection_of_the_venues_halts() -> None:
    day = _day()
    o = day.meta.session_open_ns
    two = _with(day, {0: [(100, 200), (300, 400)], 1: [(150, 350)]})
    assert market_halts(two).shape == (0, 2)  # venue 2 never halts
    three = _with(day, {0: [(100, 200), (300, 400)], 1: [(150, 350)], 2: [(0, 1000)]})
    np.testing.assert_array_equal(market_halts(three), [[o + 150, o + 200], [o + 300, o + 350]])
    assert market_halts(day).shape == (0, 2)


def _starts(env: RoutingEnv, n: int) -> np.ndarray:
    return np.array([env.reset(seed=s)[1]["start_ns"] for s in range(n)], dtype=np.int64)


def test_starts_avoid_a_market_wide_halt_and_keep_a_venue_halt() -> None:
    all_halted = _with(_day(), {k: [HALT] for k in range(3)})
    o = all_halted.meta.session_open_ns
    cfg = RoutingConfig(market=_catalogue([all_halted]), split="all", quantity=2000.0, horizon_s=300.0)
    starts = _starts(RoutingEnv(cfg), 300)
    meets = (starts + H >= o + HALT[0]) & (starts < o + HALT[1])
    assert not meets.any()
    # the two windows left: [open + 300 s, open + 700 s - 1 ms] and [open + 1300 s, open + 1500 s]
    assert ((starts >= o + 300 * S) & (starts <= o + 700 * S - MS)).any()
    assert ((starts >= o + HALT[1]) & (starts <= o + 1500 * S)).any()
    assert starts.min() >= o + 300 * S and starts.max() <= o + 1500 * S
    # without avoid_halts, or with one venue halted only, episodes do meet the halt
    for env in (
        RoutingEnv(replace(cfg, avoid_halts=False)),
        RoutingEnv(replace(cfg, market=_catalogue([_with(_day(), {0: [HALT]})]))),
    ):
        s = _starts(env, 300)
        assert ((s + H >= o + HALT[0]) & (s < o + HALT[1])).sum() > 50


def test_a_day_whose_starts_all_meet_a_market_wide_halt_is_refused() -> None:
    day = _with(_day(), {k: [(0, 1800 * S)] for k in range(3)})
    with pytest.raises(ValueError, match=r"RoutingConfig.horizon_s = 300.0 is invalid; allowed: a horizon \+ "
                       r"warm-up that fits day 0 of halted-venues outside its market-wide halts"):  # fmt: skip
        RoutingEnv(RoutingConfig(market=_catalogue([day]), split="all", horizon_s=300.0))
    RoutingEnv(RoutingConfig(market=_catalogue([day]), split="all", horizon_s=300.0, avoid_halts=False))


def _idle_episode(env: RoutingEnv, start: int) -> tuple[list[np.ndarray], dict]:
    """A buy episode with no order at all: the whole quantity is liquidated at the horizon."""
    obs, _ = env.reset(options={"start_ns": start, "side": "buy"})
    seen, done = [obs], False
    while not done:
        obs, _, done, _, info = env.step(-np.ones(env.action_space.shape, dtype=np.float32))
        seen.append(obs)
    return seen, info["execution"]


def test_the_liquidation_avoids_a_halted_venue_whose_frozen_book_looks_best() -> None:
    """Venue 0's prices are 20 ticks below the others: a buyer's forced liquidation goes there,
    unless venue 0 is halted at the horizon (its book is frozen), when it goes to another venue."""
    shift = {0: -20}
    start = _day().meta.session_open_ns + 800 * S  # the episode [800 s, 1100 s] ends inside the halt
    free = RoutingEnv(RoutingConfig(market=_catalogue([_with(_day(), {}, shift)]), split="all", quantity=2000.0,
                                    horizon_s=300.0))  # fmt: skip
    _, m = _idle_episode(free, start)
    assert m["venue_0_qty"] == pytest.approx(2000.0) and not m["liquidated_in_halt"]
    halted = RoutingEnv(replace(free.config, market=_catalogue([_with(_day(), {0: [HALT]}, shift)])))
    seen, m = _idle_episode(halted, start)
    assert m["venue_0_qty"] == 0.0 and m["venue_1_qty"] + m["venue_2_qty"] == pytest.approx(2000.0)
    assert not m["liquidated_in_halt"]
    # the agent sees venue 0 as unavailable once the halt starts (decisions every 10 s from 800 s)
    available_0 = [float(o[6]) for o in seen]
    assert VENUE_FEATURES[0] == "available"
    assert available_0[:20] == [1.0] * 20 and available_0[20:] == [0.0] * (len(seen) - 20)


def test_a_liquidation_inside_a_market_wide_halt_is_flagged() -> None:
    day = _with(_day(), {k: [HALT] for k in range(3)})
    env = RoutingEnv(RoutingConfig(market=_catalogue([day]), split="all", quantity=2000.0, horizon_s=300.0,
                                   avoid_halts=False))  # fmt: skip
    _, m = _idle_episode(env, day.meta.session_open_ns + 800 * S)
    assert m["liquidated_in_halt"] and m["forced_qty"] == pytest.approx(2000.0)
    _, m = _idle_episode(env, day.meta.session_open_ns + 300 * S)
    assert not m["liquidated_in_halt"]


def test_a_halted_venue_shows_no_size_to_take_and_the_naive_router_goes_elsewhere() -> None:
    """Venue 0 is 20 ticks cheaper but halted: its frozen far touch shows size 0, so the naive
    best-price router sends its immediate-or-cancel order to a venue that can fill it."""
    day = _with(_day(), {0: [HALT]}, {0: -20})
    env = RoutingEnv(RoutingConfig(market=_catalogue([day]), split="all", quantity=2000.0, horizon_s=300.0))
    far_size_0 = 6 + VENUE_FEATURES.index("far_size")
    for start_s, halted in ((1010, True), (700, False)):
        obs, _ = env.reset(options={"start_ns": day.meta.session_open_ns + start_s * S, "side": "buy"})
        assert bool(obs[far_size_0] == 0.0) == halted
        action, _ = NaiveBestPrice().predict(obs)
        chosen = int(np.flatnonzero(action[1::2] > 0)[0])
        assert (chosen != 0) == halted
        env.step(action)
        assert env.filled > 0

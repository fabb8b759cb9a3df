"""Random episode starts keep episodes out of trading halts (ExecutionConfig.avoid_halts): the
single env, the batched env and the evaluation's episode sampler."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exec_env import ExecutionConfig, ExecutionEnv
from exec_env.env import draw_start, halt_free_starts
from exec_env.evaluation import sample_episodes
from exec_env.market import MarketCatalogue
from exec_env.market.data import validate
from exec_env.vector import BatchedExecution

S = 1_000_000_000
MS = 1_000_000
H = 120 * S  # the horizon of the env tests
HALT = (1000 * S, 1300 * S)  # after the session open of every day of the halted catalogue


def test_halt_free_starts_hand_computed() -> None:
    h = 100 * S
    # an episode [s, s + 100 s] must end before a halt [400 s, 500 s) starts, or start at its reopen
    got = halt_free_starts(0, 1000 * S, np.array([[400 * S, 500 * S]]), h)
    np.testing.assert_array_equal(got, [[0, 300 * S - MS], [500 * S, 1000 * S]])
    np.testing.assert_array_equal(halt_free_starts(0, 1000 * S, None, h), [[0, 1000 * S]])
    np.testing.assert_array_equal(halt_free_starts(0, 1000 * S, np.array([[2000 * S, 2100 * S]]), h), [[0, 1000 * S]])
    assert halt_free_starts(0, 1000 * S, np.array([[-50 * S, 1200 * S]]), h).shape == (0, 2)
    two = np.array([[200 * S, 210 * S], [600 * S, 700 * S]])
    np.testing.assert_array_equal(
        halt_free_starts(0, 1000 * S, two, h), [[0, 100 * S - MS], [210 * S, 500 * S - MS], [700 * S, 1000 * S]]
    )


def test_draw_start_is_uniform_over_the_windows_and_unchanged_for_one() -> None:
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    one = np.array([[3 * MS, 900 * MS]])
    assert [draw_start(a, one) for _ in range(50)] == [int(b.integers(3, 901)) * MS for _ in range(50)]
    windows = np.array([[0, 2 * MS], [10 * MS, 10 * MS]])  # 0, 1, 2 and 10 ms
    rng = np.random.default_rng(0)
    draws = np.array([draw_start(rng, windows) for _ in range(8000)])
    values, counts = np.unique(draws, return_counts=True)
    np.testing.assert_array_equal(values, [0, MS, 2 * MS, 10 * MS])
    assert np.all(np.abs(counts / 8000 - 0.25) < 0.02)


@pytest.fixture(scope="module")
def halted(small_catalogue) -> MarketCatalogue:
    days = []
    for i in range(len(small_catalogue)):
        day = small_catalogue.day(i)
        o = day.meta.session_open_ns
        days.append(validate(replace(day, halts=np.array([[o + HALT[0], o + HALT[1]]], dtype=np.int64))))
    return MarketCatalogue(days, n_test=1, name="halted")


def _meets_halt(catalogue: MarketCatalogue, day: int, start: int) -> bool:
    a, b = catalogue.day(day).halts[0]
    return start < b and start + H >= a


def test_single_env_starts_avoid_the_halt_in_both_windows(halted) -> None:
    env = ExecutionEnv(ExecutionConfig(market=halted, horizon_s=120))
    env.reset(seed=3)
    infos = [env.reset()[1] for _ in range(300)]
    assert not any(_meets_halt(halted, i["day"], i["start_ns"]) for i in infos)
    after = np.mean([i["start_ns"] - halted.day(i["day"]).meta.session_open_ns >= HALT[1] for i in infos])
    assert 0.5 < after < 0.77  # 980 of the 1,560 s of allowed starts are after the halt: 0.63
    free = ExecutionEnv(ExecutionConfig(market=halted, horizon_s=120, avoid_halts=False))
    free.reset(seed=3)
    assert sum(_meets_halt(halted, i["day"], i["start_ns"]) for i in (free.reset()[1] for _ in range(300))) > 20


def test_batched_starts_avoid_the_halt(halted) -> None:
    eng = BatchedExecution(400, ExecutionConfig(market=halted, horizon_s=120))
    eng.sampler.reset(seed=0)
    specs = []
    for _ in range(3):
        eng.reset_episodes()
        specs += [eng.spec(e) for e in range(eng.num_envs)]
    assert not any(_meets_halt(halted, s["day"], s["start_ns"]) for s in specs)
    offsets = np.array([s["start_ns"] - halted.day(s["day"]).meta.session_open_ns for s in specs])
    assert offsets.min() >= 300 * S and offsets.max() <= 2280 * S  # warm-up .. close - horizon
    assert 0.58 < np.mean(offsets >= HALT[1]) < 0.68  # as the single env: 0.63
    assert np.all(offsets % MS == 0)


@pytest.mark.parametrize("overlap", [False, True])
def test_evaluation_episodes_avoid_the_halt(halted, overlap) -> None:
    cfg = ExecutionConfig(market=halted, horizon_s=120)
    # per training day: 5 windows of 120 s fit before the halt, 9 after it
    episodes = sample_episodes(cfg, n=28, seed=1, split="train", overlap=overlap)
    assert not any(_meets_halt(halted, e.day, e.start_ns) for e in episodes)
    if not overlap:
        for d in {e.day for e in episodes}:
            starts = np.sort([e.start_ns for e in episodes if e.day == d])
            assert np.all(np.diff(starts) >= H)
        with pytest.raises(ValueError, match="29 non-overlapping"):
            sample_episodes(cfg, n=29, seed=1, split="train")


def test_no_room_outside_the_halts_is_an_error_that_says_so(small_catalogue) -> None:
    day = small_catalogue.day(0)
    o = day.meta.session_open_ns
    whole = validate(replace(day, halts=np.array([[o + 100 * S, o + 2350 * S]], dtype=np.int64)))
    with pytest.raises(ValueError, match="outside its trading halts"):
        ExecutionEnv(ExecutionConfig(market=MarketCatalogue([whole]), horizon_s=120, split="all"))
    with pytest.raises(ValueError, match=r"ExecutionConfig.avoid_halts = 'yes' is invalid; allowed: True or False"):
        ExecutionConfig(avoid_halts="yes")

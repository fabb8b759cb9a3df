"""Vector-safety and the native batched env: every library's vector wrappers, identical episodes."""

from __future__ import annotations

import pickle
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

import exec_env  # noqa: F401  (registers the ids)
from exec_env import ExecutionConfig, ExecutionEnv, SimConfig
from exec_env.evaluation import sample_episodes
from exec_env.vector import BatchedExecution, ExecutionVecEnv, ExecutionVectorEnv


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_with_four_envs_runs_through_several_episode_ends(small_catalogue, mode):
    envs = gym.make_vec(
        "exec_env/Execution-v0", num_envs=4, vectorization_mode=mode, market=small_catalogue, horizon_s=60
    )
    envs.reset(seed=0)
    ends = 0
    for _ in range(20):  # 6 decisions per episode: three episode ends per env
        obs, reward, terminated, _truncated, _info = envs.step(envs.action_space.sample())
        assert obs.shape == (4, 18) and np.isfinite(obs).all() and np.isfinite(reward).all()
        ends += int(terminated.sum())
    envs.close()
    assert ends >= 8


def test_the_batched_vector_entry_point_and_next_step_autoreset(small_catalogue):
    envs = gym.make_vec("exec_env/Execution-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        market=small_catalogue, horizon_s=30)  # fmt: skip
    assert isinstance(envs.unwrapped, ExecutionVectorEnv)
    obs, _ = envs.reset(seed=1)
    act = np.tile(np.array([0.0, 1.0], dtype=np.float32), (3, 1))
    for _ in range(2):
        obs, reward, terminated, _, info = envs.step(act)
        assert not terminated.any()
    obs, reward, terminated, _, info = envs.step(act)  # the third decision ends every episode
    assert terminated.all() and info["_final_shortfall_bps"].all()
    obs, reward, terminated, _, info = envs.step(act)  # next-step autoreset: a new episode, reward 0
    assert (reward == 0.0).all() and not terminated.any()
    np.testing.assert_allclose(obs[:, 0], 1.0)  # time left: a fresh episode


def _actions(rng, shape):
    """Uniform actions with a share of the grid's corners (nothing, everything, most passive,
    crossing), so that resting orders, sweeps and forced liquidations all happen."""
    acts = rng.uniform(-1, 1, shape)
    corner = rng.random(shape) < 0.2
    acts[corner] = rng.choice([-1.0, -0.5, 0.0, 1.0], size=int(corner.sum()))
    return acts


def _single_run(cfg, spec, actions):
    """The single env on episode ``spec``: first observation, then (obs, reward, info) per action."""
    env = ExecutionEnv(cfg)
    obs0, _ = env.reset(options={k: spec[k] for k in ("day", "start_ns", "side", "quantity")})
    steps = [env.step(a.astype(np.float32)) for a in actions]
    return env, obs0, steps


def _assert_same_episode(cfg, spec, obs0, actions, obs, rewards, fills, metrics):
    env, single_obs0, steps = _single_run(cfg, spec, actions)
    np.testing.assert_array_equal(single_obs0, obs0)
    for t, (o, r, terminated, _, _info) in enumerate(steps):
        np.testing.assert_array_equal(o, obs[t])
        assert r == rewards[t]
        assert terminated == (t == len(actions) - 1)
    np.testing.assert_array_equal(env.fill_records(), fills)
    assert steps[-1][4]["execution"] == metrics  # every metric, the shadow's and day/date included


SIM_VARIANTS = {
    "default": {},
    "twap_baseline": {"reward_baseline": "twap"},
    "passive_twap_arrival_penalty": {"reward_baseline": "passive_twap", "reward_mode": "arrival",
                                     "terminal_penalty_bps": 7.0},
    "compare_twap_sell_no_latency_cap": {"compare_twap": True, "side": "sell",
                                         "sim": SimConfig(latency_ms=0.0, participation_cap=0.05, resilience_s=0.0)},
    "sqrt_power_law_queue_power": {"sim": SimConfig(liquidity="sqrt", daily_vol=0.02, daily_volume=2e6,
                                                    transient_impact=3e-6, transient_kernel="power_law",
                                                    permanent_impact=1e-6, queue="power", latency_ms=20.0)},
    "log_queue_fees_short_steps": {"decision_interval_s": 7.0, "horizon_s": 210.0,
                                   "sim": SimConfig(queue="log", maker_fee_bps=-0.2, taker_fee_bps=1.0,
                                                    transient_impact=2e-6, resilience_s=30.0)},
}  # fmt: skip


@pytest.mark.parametrize("variant", sorted(SIM_VARIANTS))
def test_batched_episodes_equal_single_env_episodes(small_catalogue, variant):
    """Pinned episodes, random actions: every observation, reward, fill and metric is the single env's."""
    cfg = ExecutionConfig(market=small_catalogue, quantity=3000, **SIM_VARIANTS[variant])
    specs = sample_episodes(cfg, 6, seed=3, split="train")
    eng = BatchedExecution(6, cfg)
    for e, spec in enumerate(specs):
        eng.reset_episode(e, options=spec.options())
    obs0 = eng.obs.copy()
    actions = _actions(np.random.default_rng(0), (cfg.n_steps, 6, 2))
    rewards = np.zeros((cfg.n_steps, 6))
    obs = np.zeros((cfg.n_steps, 6, 18), dtype=np.float32)
    for t in range(cfg.n_steps):
        rewards[t] = eng.step(actions[t])
        obs[t] = eng.obs
    assert eng.done().all()
    for e in range(6):
        _assert_same_episode(cfg, eng.spec(e), obs0[e], actions[:, e], obs[:, e], rewards[:, e],
                             eng.fill_records(e), eng.metrics(e))  # fmt: skip


def test_bulk_resets_mid_batch_run_the_single_env_episodes(small_catalogue):
    """Episodes drawn in bulk and restarted while others run (slots at different steps): each
    finished episode, replayed in the single env from its spec, is the same episode."""
    cfg = ExecutionConfig(market=small_catalogue, quantity=2000, horizon_s=120, reward_baseline="twap")
    n = 5
    eng = BatchedExecution(n, cfg)
    eng.sampler.reset(seed=7)
    eng.reset_episodes()
    rng = np.random.default_rng(1)
    runs = [{"spec": eng.spec(e), "obs0": eng.obs[e].copy(), "a": [], "o": [], "r": []} for e in range(n)]
    finished = []
    for t in range(40):
        acts = _actions(rng, (n, 2))
        rewards = eng.step(acts)
        for e in range(n):
            runs[e]["a"].append(acts[e])
            runs[e]["o"].append(eng.obs[e].copy())
            runs[e]["r"].append(rewards[e])
        restart = eng.done()
        if t == 2:
            restart[[1, 3]] = True  # abandon two episodes mid-way
        for e in np.flatnonzero(eng.done()):
            finished.append({**runs[e], "fills": eng.fill_records(e), "metrics": eng.metrics(e)})
        eng.reset_episodes(np.flatnonzero(restart))
        for e in np.flatnonzero(restart):
            runs[e] = {"spec": eng.spec(e), "obs0": eng.obs[e].copy(), "a": [], "o": [], "r": []}
    assert len(finished) >= 15
    for run in finished:
        _assert_same_episode(cfg, run["spec"], run["obs0"], np.array(run["a"]), np.array(run["o"]),
                             np.array(run["r"]), run["fills"], run["metrics"])  # fmt: skip


@pytest.mark.parametrize("side", ["random", "sell"])
def test_bulk_resets_draw_the_single_env_distribution(small_catalogue, side):
    cfg = ExecutionConfig(market=small_catalogue, horizon_s=120, side=side)
    eng = BatchedExecution(400, cfg)
    eng.sampler.reset(seed=0)
    ranges = eng.sampler._start_ranges
    specs = []
    for _ in range(5):
        eng.reset_episodes()
        specs += [eng.spec(e) for e in range(eng.num_envs)]
    days = np.array([s["day"] for s in specs])
    starts = np.array([s["start_ns"] for s in specs])
    assert set(days) == set(ranges)  # every day of the split, no other
    for d, (lo, hi) in ranges.items():
        mine = starts[days == d]
        assert abs(mine.size - days.size / len(ranges)) < 5 * np.sqrt(days.size)  # uniform over days
        assert mine.min() >= lo and mine.max() <= hi and (mine % 1_000_000 == 0).all()
        # uniform over the range: each third of it holds about a third of the starts
        thirds = np.histogram(mine, bins=3, range=(lo, hi + 1))[0]
        assert (abs(thirds - mine.size / 3) < 5 * np.sqrt(mine.size)).all()
    sides = np.array([s["side"] for s in specs])
    if side == "random":
        assert set(sides) == {1, -1} and abs((sides == 1).mean() - 0.5) < 0.05
    else:
        assert (sides == -1).all()
    assert all(s["quantity"] == cfg.quantity for s in specs)
    # the observation written at the start is the single env's
    env = ExecutionEnv(cfg)
    for e in (0, 17, 399):
        obs, _ = env.reset(options={k: eng.spec(e)[k] for k in ("day", "start_ns", "side", "quantity")})
        np.testing.assert_array_equal(obs, eng.obs[e])


def test_a_start_before_the_data_or_a_bad_quantity_fails_like_the_single_env(small_catalogue):
    cfg = ExecutionConfig(market=small_catalogue, horizon_s=60)
    eng = BatchedExecution(2, cfg)
    day = eng.sampler.catalogue.day(0)
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="no book snapshot at or before start"):  # the compiled start refuses it too
        eng._start(one, one, np.array([day.ts[0] - 1]), np.array([1.0]), np.array([100.0]))
    with pytest.raises(ValueError, match="must be a positive multiple of the lot size"):
        BatchedExecution(2, replace(cfg, quantity=10.5)).reset_episodes()


def test_step_refuses_actions_outside_the_box_and_ended_episodes_before_it_steps(small_catalogue):
    eng = BatchedExecution(2, ExecutionConfig(market=small_catalogue, horizon_s=20))  # 2 decisions
    eng.reset_episodes()
    twap = np.tile([0.0, 1.0], (2, 1))
    for bad in (1.5, -1.01, np.nan):
        acts = twap.copy()
        acts[1, 0] = bad
        with pytest.raises(ValueError, match="outside Box"):
            eng.step(acts)
    assert (eng.ei[:, 0] == 0).all()  # nothing was stepped
    eng.step(twap)
    eng.step(twap, active=np.array([True, False]))
    assert eng.done().tolist() == [True, False]
    with pytest.raises(RuntimeError, match="ended"):
        eng.step(twap)
    assert eng.ei[1, 0] == 1  # the other episode was not stepped either
    rewards = eng.step(twap, active=np.array([False, True]))
    assert rewards[0] == 0.0 and eng.done().all()


def test_sb3_vecenv_and_ppo_from_the_batched_env(small_catalogue):
    from stable_baselines3 import PPO

    venv = ExecutionVecEnv(8, ExecutionConfig(market=small_catalogue, horizon_s=60), seed=0)
    obs = venv.reset()
    assert obs.shape == (8, 18)
    seen_end = False
    for _ in range(7):
        obs, _rewards, dones, infos = venv.step(np.tile([0.0, 1.0], (8, 1)))
        for d, info in zip(dones, infos, strict=True):
            if d:
                seen_end = True
                assert info["terminal_observation"].shape == (18,) and "shortfall_bps" in info["execution"]
    assert seen_end
    PPO("MlpPolicy", venv, n_steps=16, batch_size=64, seed=0, device="cpu").learn(256)


def test_sb3_make_vec_env_by_id_and_rgb_array_render(small_catalogue):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env("exec_env/Execution-v0", n_envs=2, env_kwargs={"market": small_catalogue})
    PPO("MlpPolicy", venv, n_steps=32, batch_size=64, seed=0, device="cpu").learn(64)
    env = gym.make("exec_env/Execution-v0", market=small_catalogue, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(np.array([0.0, -0.5], dtype=np.float32))
    img = env.render()
    assert img.shape == (240, 480, 3) and img.dtype == np.uint8
    assert (img[:, :240] == (40, 160, 60)).all(axis=-1).any() and (img[:, :240] == (200, 50, 50)).all(axis=-1).any()


@pytest.mark.slow
def test_ppo_from_the_plain_id_string():
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "exec_env/Execution-v0", n_steps=32, batch_size=32, device="cpu").learn(32)


def test_a_live_env_on_a_saved_catalogue_pickles_under_a_megabyte(small_catalogue, tmp_path):
    from exec_env.market import MarketCatalogue, save_day

    paths = []
    for i, day in enumerate(small_catalogue.days):
        save_day(day, tmp_path / f"day_{i}")
        paths.append(tmp_path / f"day_{i}")
    env = ExecutionEnv(ExecutionConfig(market=MarketCatalogue(paths, n_test=1), compare_twap=True))
    env.reset(seed=0)
    a = np.array([0.0, 1.0], dtype=np.float32)
    env.step(a)
    blob = pickle.dumps(env)
    assert len(blob) < 1_000_000
    clone = pickle.loads(blob)
    assert clone.step(a)[1] == env.step(a)[1]

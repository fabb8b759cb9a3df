"""Vector-safety and the native batched env: every library's vector wrappers, identical episodes."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest

import exec_env  # noqa: F401  (registers the ids)
from exec_env import ExecutionConfig, ExecutionEnv
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


@pytest.mark.parametrize("reward_baseline", ["none", "twap"])
def test_batched_episodes_equal_single_env_episodes(small_catalogue, reward_baseline):
    cfg = ExecutionConfig(market=small_catalogue, reward_baseline=reward_baseline, quantity=3000)
    specs = sample_episodes(cfg, 5, seed=3, split="train")
    eng = BatchedExecution(5, cfg)
    for e, spec in enumerate(specs):
        eng.reset_episode(e, options=spec.options())
    actions = np.random.default_rng(0).uniform(-1, 1, (cfg.n_steps, 5, 2))
    rewards = np.zeros((cfg.n_steps, 5))
    obs = np.zeros((cfg.n_steps, 5, 18), dtype=np.float32)
    for t in range(cfg.n_steps):
        rewards[t] = eng.step(actions[t])
        obs[t] = eng.obs
    assert eng.done().all()
    single = ExecutionEnv(cfg)
    for e, spec in enumerate(specs):
        single.reset(options=spec.options())
        for t in range(cfg.n_steps):
            o, r, *_ = single.step(actions[t, e].astype(np.float32))
            assert r == rewards[t, e]
            np.testing.assert_array_equal(o, obs[t, e])
        np.testing.assert_array_equal(single.fill_records(), eng.fill_records(e))
        assert single._episode.metrics() == eng.episodes[e].metrics()


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

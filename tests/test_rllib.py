"""exec_env.rllib: the creator RLlib's env runners call, and the ids in Ray Tune's registry."""

import gymnasium as gym
import pytest

import exec_env
from exec_env.rllib import make


def test_make_builds_the_env_from_an_rllib_style_config(small_catalogue):
    class EnvContext(dict):  # RLlib's EnvContext: a dict of fields plus worker attributes
        worker_index = 1

    env = make("exec_env/ExecutionDiscrete-v0", EnvContext(market=small_catalogue, horizon_s=120))
    assert env.unwrapped.config.horizon_s == 120 and env.unwrapped.config.action_mode == "discrete"
    assert env.spec.id == "exec_env/ExecutionDiscrete-v0"
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)


def test_make_refuses_an_unknown_field():
    with pytest.raises(TypeError, match="horizon"):
        make("exec_env/Execution-v0", {"horizonn_s": 120})


def test_register_puts_every_id_in_ray_tunes_registry():
    registry = pytest.importorskip("ray.tune.registry")
    ids = exec_env.rllib.register()
    assert set(ids) == {*exec_env.ENV_IDS, *exec_env.ROUTING_IDS}
    for env_id in ids:
        assert registry._global_registry.contains(registry.ENV_CREATOR, env_id)
    assert isinstance(gym.spec(ids[0]), gym.envs.registration.EnvSpec)

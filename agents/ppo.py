"""PPO (stable-baselines3) for the execution environment: vectorised envs and the model."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from exec_env.config import ExecutionConfig

__all__ = ["PPOSettings", "TrainedPolicy", "load_trained", "make_ppo", "make_vec_env", "save_trained"]


@dataclass(frozen=True)
class PPOSettings:
    """PPO hyperparameters (SB3 names). Defaults suit 60-step episodes with rewards in bps."""

    learning_rate: float = 3e-4
    n_steps: int = 512
    """Rollout length per environment; n_steps * n_envs transitions per update."""
    batch_size: int = 256
    n_epochs: int = 10
    gamma: float = 1.0
    """Undiscounted: the objective is the whole episode's shortfall."""
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    log_std_init: float = -0.5
    net_arch: tuple[int, ...] = field(default=(64, 64))
    normalize: bool = False
    """Normalise observations with SB3 ``VecNormalize`` (running mean and variance, saved with the
    model as ``vecnormalize.pkl``; evaluation applies the frozen statistics)."""

    def __post_init__(self) -> None:
        checks = {
            "learning_rate": (self.learning_rate, 0.0, 1.0),
            "n_steps": (self.n_steps, 2, 1_000_000),
            "batch_size": (self.batch_size, 2, 10_000_000),
            "n_epochs": (self.n_epochs, 1, 1000),
            "gamma": (self.gamma, 0.0, 1.0),
            "gae_lambda": (self.gae_lambda, 0.0, 1.0),
            "clip_range": (self.clip_range, 0.0, 1.0),
            "ent_coef": (self.ent_coef, 0.0, 1.0),
        }
        if not self.net_arch or any(not isinstance(n, int) or n < 1 for n in self.net_arch):
            raise ValueError(f"PPOSettings.net_arch = {self.net_arch!r}; allowed: one or more layer sizes >= 1")
        for name, (value, low, high) in checks.items():
            if not low <= value <= high or (name == "learning_rate" and value == 0):
                raise ValueError(f"PPOSettings.{name} = {value!r} is outside the allowed range [{low}, {high}]")


_CLIP_OBS = 10.0
_NORM_FILE = "vecnormalize.pkl"


def _make_env(config: ExecutionConfig, rank: int, seed: int):
    def thunk() -> gym.Env:
        from stable_baselines3.common.monitor import Monitor

        from exec_env.env import ExecutionEnv

        env = ExecutionEnv(config)
        env.reset(seed=seed + rank)
        env.action_space.seed(seed + rank)
        return Monitor(env)

    return thunk


def make_vec_env(
    config: ExecutionConfig,
    n_envs: int,
    seed: int,
    vec: Literal["batched", "dummy", "subproc"] = "batched",
    normalize: bool = False,
):
    """``n_envs`` training environments with SB3's episode statistics (``rollout/``).

    ``batched`` (default): :class:`exec_env.vector.ExecutionVecEnv`, all episodes stepped in one
    compiled call; ``dummy`` steps single envs in this process; ``subproc`` uses worker processes,
    which receive the catalogue's paths, never its arrays. ``normalize`` wraps the result in
    ``VecNormalize`` (observations only; rewards stay in bps).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor, VecNormalize

    if n_envs < 1:
        raise ValueError(f"n_envs = {n_envs!r}; allowed: >= 1")
    if vec == "batched":
        from exec_env.vector import ExecutionVecEnv

        env: Any = VecMonitor(ExecutionVecEnv(n_envs, config, seed=seed))
    elif vec in ("dummy", "subproc"):
        thunks = [_make_env(config, i, seed) for i in range(n_envs)]
        env = DummyVecEnv(thunks) if vec == "dummy" else SubprocVecEnv(thunks, start_method="forkserver")
    else:
        raise ValueError(f"vec = {vec!r}; allowed: 'batched', 'dummy', 'subproc'")
    return VecNormalize(env, norm_obs=True, norm_reward=False, clip_obs=_CLIP_OBS) if normalize else env


def make_ppo(vec_env: Any, settings: PPOSettings, seed: int, tensorboard_log: str | None = None, verbose: int = 0):
    """A fresh SB3 ``PPO`` with an MLP policy for the execution env. Without ``tensorboard_log`` it
    logs to stdout only (``verbose`` > 0) or nowhere: SB3's default would make an empty
    ``/tmp/SB3-<time>`` folder on every ``learn`` (``model.set_logger`` replaces it)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    kwargs = asdict(settings)
    kwargs.pop("normalize")  # an env wrapper (make_vec_env), not a PPO argument
    net_arch = list(kwargs.pop("net_arch"))
    log_std_init = kwargs.pop("log_std_init")
    model = PPO(
        "MlpPolicy",
        vec_env,
        seed=seed,
        tensorboard_log=tensorboard_log,
        verbose=verbose,
        policy_kwargs={"net_arch": net_arch, "log_std_init": log_std_init},
        device="cpu",
        **kwargs,
    )
    if tensorboard_log is None:
        model.set_logger(Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose else []))
    return model


class TrainedPolicy:
    """A trained SB3 model with the observation normalisation it was trained with (``obs_rms``,
    frozen; ``None`` without ``VecNormalize``). ``predict`` answers SB3's protocol, so the
    evaluation harness runs it like any policy."""

    name = "PPO"

    def __init__(self, model: Any, obs_rms: Any = None, clip_obs: float = _CLIP_OBS, epsilon: float = 1e-8) -> None:
        self.model = model
        self.obs_rms = obs_rms
        self.clip_obs = clip_obs
        self.epsilon = epsilon

    def normalize(self, obs: Any) -> Any:
        if self.obs_rms is None:
            return obs
        scaled = (np.asarray(obs) - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(scaled, -self.clip_obs, self.clip_obs).astype(np.float32)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        action, state = self.model.predict(self.normalize(observation), state, episode_start, deterministic)
        if self.grid is not None:
            action = self.grid[np.asarray(action, dtype=np.int64)].astype(np.float32)
        return action, state

    grid: Any = None
    """Set by :meth:`continuous`: the grid values that discrete actions stand for."""

    def continuous(self) -> TrainedPolicy:
        """This policy acting in the continuous action mode: a model trained on
        ``ExecutionDiscrete-v0`` sends the grid values its indices stand for, which the continuous
        env maps to the very same child orders (so it can be evaluated beside the baselines)."""
        import copy

        from gymnasium import spaces

        from exec_env.env import DISCRETE_GRID

        out = copy.copy(self)
        if isinstance(self.model.action_space, spaces.MultiDiscrete):
            out.grid = np.asarray(DISCRETE_GRID, dtype=np.float64)
        return out

    @classmethod
    def from_training(cls, model: Any, vec_env: Any) -> TrainedPolicy:
        """The policy of ``model`` as trained on ``vec_env`` (a copy of its normalisation, if any)."""
        import copy

        from stable_baselines3.common.vec_env import VecNormalize

        if isinstance(vec_env, VecNormalize):
            return cls(model, copy.deepcopy(vec_env.obs_rms), vec_env.clip_obs, vec_env.epsilon)
        return cls(model)


def save_trained(folder: Any, model: Any, vec_env: Any) -> None:
    """``folder/model.zip`` and, when ``vec_env`` normalises observations, ``folder/vecnormalize.pkl``."""
    from pathlib import Path

    from stable_baselines3.common.vec_env import VecNormalize

    folder = Path(folder)
    model.save(folder / "model.zip")
    if isinstance(vec_env, VecNormalize):
        vec_env.save(str(folder / _NORM_FILE))


def load_trained(path: Any) -> TrainedPolicy:
    """A policy saved by :func:`save_trained`: a run folder (``model.zip`` and, if present,
    ``vecnormalize.pkl`` inside) or a ``.zip`` file (normalisation read from beside it)."""
    import pickle
    from pathlib import Path

    from stable_baselines3 import PPO

    p = Path(path)
    if p.is_dir():
        p = p / "model.zip"
    if not p.is_file():
        raise ValueError(f"{path}: no model file (a run folder with model.zip, or a .zip file)")
    model = PPO.load(str(p), device="cpu")
    norm = p.parent / _NORM_FILE
    if not norm.is_file():
        return TrainedPolicy(model)
    with open(norm, "rb") as fh:
        saved = pickle.load(fh)  # a VecNormalize without its venv, as SB3 saves it
    return TrainedPolicy(model, saved.obs_rms, saved.clip_obs, saved.epsilon)

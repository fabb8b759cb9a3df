"""PPO (stable-baselines3) for the execution environment: vectorised envs and the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import gymnasium as gym

from exec_env.config import ExecutionConfig

__all__ = ["PPOSettings", "make_ppo", "make_vec_env"]


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
        for name, (value, low, high) in checks.items():
            if not low <= value <= high or (name == "learning_rate" and value == 0):
                raise ValueError(f"PPOSettings.{name} = {value!r} is outside the allowed range [{low}, {high}]")


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
    config: ExecutionConfig, n_envs: int, seed: int, vec: Literal["batched", "dummy", "subproc"] = "batched"
):
    """``n_envs`` training environments with SB3's episode statistics (``rollout/``).

    ``batched`` (default): :class:`exec_env.vector.ExecutionVecEnv`, all episodes stepped in one
    compiled call; ``dummy`` steps single envs in this process; ``subproc`` uses worker processes,
    which receive the catalogue's paths, never its arrays.
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    if n_envs < 1:
        raise ValueError(f"n_envs = {n_envs!r}; allowed: >= 1")
    if vec == "batched":
        from exec_env.vector import ExecutionVecEnv

        return VecMonitor(ExecutionVecEnv(n_envs, config, seed=seed))
    thunks = [_make_env(config, i, seed) for i in range(n_envs)]
    if vec == "dummy":
        return DummyVecEnv(thunks)
    if vec == "subproc":
        return SubprocVecEnv(thunks, start_method="forkserver")
    raise ValueError(f"vec = {vec!r}; allowed: 'batched', 'dummy', 'subproc'")


def make_ppo(vec_env: Any, settings: PPOSettings, seed: int, tensorboard_log: str | None = None, verbose: int = 0):
    """A fresh SB3 ``PPO`` with an MLP policy for the execution env."""
    from stable_baselines3 import PPO

    kwargs = asdict(settings)
    net_arch = list(kwargs.pop("net_arch"))
    log_std_init = kwargs.pop("log_std_init")
    return PPO(
        "MlpPolicy",
        vec_env,
        seed=seed,
        tensorboard_log=tensorboard_log,
        verbose=verbose,
        policy_kwargs={"net_arch": net_arch, "log_std_init": log_std_init},
        device="cpu",
        **kwargs,
    )

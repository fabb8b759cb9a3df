"""Learning agents: PPO construction, TensorBoard execution metrics, model I/O."""

from exec_env.agents.callbacks import ExecMetricsCallback
from exec_env.agents.ppo import PPOSettings, make_ppo

__all__ = ["ExecMetricsCallback", "PPOSettings", "make_ppo"]

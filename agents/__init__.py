"""Learning agents: PPO construction, TensorBoard execution metrics, model I/O."""

from agents.callbacks import ExecMetricsCallback
from agents.ppo import PPOSettings, make_ppo

__all__ = ["ExecMetricsCallback", "PPOSettings", "make_ppo"]

"""Learning agents: PPO construction, TensorBoard execution metrics, model I/O."""

from exec_env.agents.callbacks import ExecMetricsCallback
from exec_env.agents.ppo import PPOSettings, TrainedPolicy, load_trained, make_ppo, save_trained

__all__ = ["ExecMetricsCallback", "PPOSettings", "TrainedPolicy", "load_trained", "make_ppo", "save_trained"]

"""Execution simulation: book replay, matching, depletion and impact, accounting (no Gymnasium)."""

from exec_env.sim.config import SimConfig
from exec_env.sim.simulator import FILL_DTYPE, DayArrays, ExecutionSimulator

__all__ = ["FILL_DTYPE", "DayArrays", "ExecutionSimulator", "SimConfig"]

"""Execution simulation: book replay, matching, depletion and impact, accounting (no Gymnasium)."""

from exec_env.sim.config import SimConfig
from exec_env.sim.simulator import DayArrays, ExecutionSimulator

__all__ = ["DayArrays", "ExecutionSimulator", "SimConfig"]

"""Executors: any policy (trained PPO model or fixed baseline) works a parent order through a broker.

``Executor(broker, policy, ExecutorConfig(...), journal_path).run()`` (asyncio); see
``exec_env.executor.core`` for the loop, the journal and restarts, and ``python -m exec_env.execute``
for the command line.
"""

from exec_env.executor.config import ExecutorConfig, RiskLimits
from exec_env.executor.core import CRASH_ENV, ExecutionReport, Executor
from exec_env.executor.journal import Journal
from exec_env.executor.policy import load_policy

__all__ = ["CRASH_ENV", "ExecutionReport", "Executor", "ExecutorConfig", "Journal", "RiskLimits", "load_policy"]

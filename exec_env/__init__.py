"""exec_env: a Gymnasium environment for optimal trade execution on replayed order books.

Importing the package registers its environment ids with Gymnasium:

* ``exec_env/Execution-v0``: continuous ``Box(-1, 1, (2,))`` actions (pace, aggressiveness);
* ``exec_env/ExecutionDiscrete-v0``: the same env with ``MultiDiscrete([5, 5])`` actions;
* ``exec_env/Routing-v0``: smart order routing of a parent order across venues.

``gymnasium.make("exec_env:exec_env/Execution-v0")`` imports the package first.
"""

import gymnasium

from exec_env.config import ExecutionConfig
from exec_env.env import ExecutionEnv
from exec_env.sim.config import SimConfig

__all__ = ["ENV_IDS", "ROUTING_IDS", "ExecutionConfig", "ExecutionEnv", "SimConfig"]
__version__ = "0.1.0"

ENV_IDS = ("exec_env/Execution-v0", "exec_env/ExecutionDiscrete-v0")

gymnasium.register(
    id="exec_env/Execution-v0",
    entry_point="exec_env.env:ExecutionEnv",
    vector_entry_point="exec_env.vector:ExecutionVectorEnv",
)
gymnasium.register(
    id="exec_env/ExecutionDiscrete-v0",
    entry_point="exec_env.env:ExecutionEnv",
    vector_entry_point="exec_env.vector:ExecutionVectorEnv",
    kwargs={"action_mode": "discrete"},
)

from exec_env.routing_env import register_routing  # noqa: E402

register_routing()
ROUTING_IDS = ("exec_env/Routing-v0",)
"""Smart order routing over several venues (``exec_env.routing_env.RoutingEnv``; multi-venue markets)."""

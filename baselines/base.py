"""Fixed policies answer SB3's ``predict(obs, state, episode_start, deterministic)``.

They act through the environment's own action mapping (see ``ExecutionEnv``): ``pace`` 0 follows
the linear schedule, +1 targets everything now; ``aggressiveness`` +1 crosses the spread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from exec_env.env import DISCRETE_GRID

__all__ = ["ConstantActionPolicy"]


class ConstantActionPolicy:
    """A policy that sends the same (pace, aggressiveness) at every decision.

    ``action_space`` is the env's: for ``MultiDiscrete`` the values are mapped to grid indices
    (they must lie on ``DISCRETE_GRID``).
    """

    name = "constant"

    def __init__(self, pace: float, aggressiveness: float, action_space: spaces.Space | None = None) -> None:
        for label, value in (("pace", pace), ("aggressiveness", aggressiveness)):
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{type(self).__name__}: {label}={value!r} is outside the allowed range [-1, 1]")
        if isinstance(action_space, spaces.MultiDiscrete):
            try:
                self._action = np.array(
                    [DISCRETE_GRID.index(pace), DISCRETE_GRID.index(aggressiveness)], dtype=np.int64
                )
            except ValueError:
                raise ValueError(
                    f"{type(self).__name__}: ({pace}, {aggressiveness}) is not on the discrete grid {DISCRETE_GRID}"
                ) from None
        elif action_space is None or isinstance(action_space, spaces.Box):
            self._action = np.array([pace, aggressiveness], dtype=np.float32)
        else:
            raise ValueError(f"{type(self).__name__}: unsupported action space {action_space}")

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        obs = np.asarray(observation)
        if obs.ndim == 1:
            return self._action.copy(), state
        return np.tile(self._action, (obs.shape[0], 1)), state

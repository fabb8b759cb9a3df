"""TWAP: equal slices on the linear schedule, each sent as a marketable order."""

from __future__ import annotations

from gymnasium import spaces

from exec_env.baselines.base import ConstantActionPolicy


class TWAP(ConstantActionPolicy):
    """Trade ``quantity / n_steps`` at every decision, crossing the spread (action (0, +1)).

    With ``pace`` 0 the env targets the linear schedule, so a slice that did not fill in full is
    caught up at the next decision; aggressiveness +1 walks up to ``cross_ticks`` through the far
    touch.
    """

    name = "TWAP"

    def __init__(self, action_space: spaces.Space | None = None) -> None:
        super().__init__(0.0, 1.0, action_space)

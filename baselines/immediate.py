"""Immediate: the whole parent order at arrival, as one marketable order."""

from __future__ import annotations

from gymnasium import spaces

from exec_env.baselines.base import ConstantActionPolicy


class Immediate(ConstantActionPolicy):
    """Target 100% at the first decision, crossing the spread (action (+1, +1)).

    What the book cannot absorb within ``cross_ticks`` rests at that limit and fills as liquidity
    returns; anything left at the horizon is liquidated.
    """

    name = "Immediate"

    def __init__(self, action_space: spaces.Space | None = None) -> None:
        super().__init__(1.0, 1.0, action_space)

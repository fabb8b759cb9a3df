"""Passive TWAP: the linear schedule worked with limit orders at the near touch."""

from __future__ import annotations

from gymnasium import spaces

from exec_env.baselines.base import ConstantActionPolicy


class PassiveTWAP(ConstantActionPolicy):
    """Follow the linear schedule (pace 0) with orders joining the near touch (aggressiveness
    -0.5: the best bid for a buy when the spread is one or two ticks, one tick inside it when
    three), catching up by the schedule at every decision and by the forced liquidation at the
    horizon.

    The simplest way to earn the spread instead of paying it: a learned policy should beat this,
    not only TWAP.
    """

    name = "PassiveTWAP"

    def __init__(self, action_space: spaces.Space | None = None) -> None:
        super().__init__(0.0, -0.5, action_space)

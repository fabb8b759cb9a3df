"""POV: a fixed share of the market volume seen in the last interval, capped, caught up at the end."""

from __future__ import annotations

from typing import Any

from exec_env.baselines.base import MarketPolicy

__all__ = ["POV"]


class POV(MarketPolicy):
    """Percentage of volume.

    At decision ``j`` the child order is ``q_j = min(rate * V_j, max_slice * Q)`` with ``V_j`` the
    market volume traded in ``(t_j - dt, t_j]`` (the interval just seen; before the start for
    ``j = 0``): the executed fraction targeted is ``(executed + q_j) / Q``. The last decision
    targets everything (the catch-up at the horizon). Parameters: ``rate`` in (0, 1];
    ``max_slice``: largest child order as a fraction of the order, in (0, 1]; ``aggressiveness``.
    The simulator's participation cap, when present, bounds fills separately.
    """

    name = "POV"

    def __init__(self, rate: float = 0.1, max_slice: float = 0.2, aggressiveness: float = 1.0) -> None:
        super().__init__(aggressiveness)
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"POV: rate={rate!r} is outside the allowed range (0, 1]")
        if not 0.0 < max_slice <= 1.0:
            raise ValueError(f"POV: max_slice={max_slice!r} is outside the allowed range (0, 1]")
        self.rate = float(rate)
        self.max_slice = float(max_slice)

    def target(self, view: Any) -> float:
        if view.step_index == view.n_steps - 1:
            return 1.0
        seen = view.volume(view.decision_ns - view.interval_ns)
        child = min(self.rate * seen, self.max_slice * view.quantity)
        return (view.executed + child) / view.quantity

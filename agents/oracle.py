"""A diagnostic upper bound that reads the future: never a baseline, never in a verdict.

:class:`NextMoveOracle` sees the replayed mid one decision interval ahead, which no real policy can.
It works the order like PassiveTWAP (the linear schedule, joining the near touch) but waits
(sends nothing new: pace -1) when the mid is about to move in its favour, and optionally crosses
ahead of the schedule when the mid is about to move against it by at least ``cross_ticks``. Its
gain over PassiveTWAP on the same episodes measures how much edge a one-interval forecast is worth
in this market, so a learned policy's gain can be read as a share of it
(``python benchmarks/bench_oracle.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["NextMoveOracle"]


class NextMoveOracle:
    """Looks one decision interval ahead in the replayed book (diagnostic only).

    ``cross_ticks``: cross with ``cross_pace`` when the coming move against the order is at least
    this many ticks (``None``: never cross). Needs ``bind(MarketView(env))``, as the evaluation
    harness does; continuous actions only.
    """

    name = "Oracle(next move)"

    def __init__(self, cross_ticks: float | None = None, cross_pace: float = 0.3) -> None:
        if cross_ticks is not None and not cross_ticks > 0:
            raise ValueError(f"NextMoveOracle: cross_ticks={cross_ticks!r}; allowed: > 0 or None")
        if not -1.0 <= cross_pace <= 1.0:
            raise ValueError(f"NextMoveOracle: cross_pace={cross_pace!r} is outside the allowed range [-1, 1]")
        self.cross_ticks = cross_ticks
        self.cross_pace = cross_pace
        self._view: Any = None

    def bind(self, view: Any) -> None:
        if not view.continuous:
            raise ValueError("NextMoveOracle needs ExecutionConfig.action_mode='continuous'")
        self._view = view

    def coming_move_ticks(self) -> float:
        """Side-oriented change of the replayed mid from now to one interval ahead, in ticks
        (positive: against the order). Reads data after now: this is what makes it an oracle."""
        view = self._view
        data = view._env._episode.data  # the day's arrays, future included
        now = view.now

        def mid(t: int) -> float:
            r = int(np.searchsorted(data.ts, t, side="right")) - 1
            return 0.5 * (float(data.bid_px[r, 0]) + float(data.ask_px[r, 0]))

        move = view.side * (mid(now + view.interval_ns) - mid(now)) / view.tick
        return 0.0 if np.isnan(move) else float(move)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = True):
        if self._view is None:
            raise RuntimeError("NextMoveOracle.predict before bind(MarketView(env))")
        move = self.coming_move_ticks()
        if self.cross_ticks is not None and move >= self.cross_ticks:
            action = (self.cross_pace, 1.0)
        elif move < 0.0:
            action = (-1.0, -0.5)  # the price comes to us: wait
        else:
            action = (0.0, -0.5)  # PassiveTWAP
        return np.asarray(action, dtype=np.float32), state

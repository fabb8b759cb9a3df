"""Submit and leave: one limit order at a fixed price for the whole horizon, the rest crossed at the end."""

from __future__ import annotations

import math
from typing import Any

from exec_env.baselines.base import MarketPolicy, aggressiveness_for_ticks, spread_in_ticks

__all__ = ["SubmitAndLeave"]


class SubmitAndLeave(MarketPolicy):
    """Rest the whole order at ``P = near touch at arrival + side * offset_ticks * tick`` (0 joins
    the best bid for a buy, -1 one tick behind, +1 one tick inside the spread) and re-send it
    unchanged at every decision (same price: it keeps its queue place); the last decision crosses
    the spread with what is left.

    ``P`` must be on the env's price grid ``[-passive_ticks, spread + cross_ticks]`` ticks from the
    near touch at each decision; if the market moves further away the order follows at the edge
    of that grid (and loses its place). Parameters: ``offset_ticks`` (integer).
    """

    name = "SubmitAndLeave"

    def __init__(self, offset_ticks: int = 0) -> None:
        super().__init__(1.0)
        if int(offset_ticks) != offset_ticks:
            raise ValueError(f"SubmitAndLeave: offset_ticks={offset_ticks!r} must be an integer")
        self.offset_ticks = int(offset_ticks)
        self.price = math.nan

    def start(self, view: Any) -> None:
        bid, ask = view.touch()
        near = bid if view.side > 0 else ask
        if math.isnan(near):
            near = ask - view.tick if view.side > 0 else bid + view.tick
        self.price = near + view.side * self.offset_ticks * view.tick

    def target(self, view: Any) -> float:
        return 1.0

    def aggressiveness_now(self, view: Any) -> float:
        if view.step_index == view.n_steps - 1:
            return 1.0
        bid, ask = view.touch()
        tick = view.tick
        spread = spread_in_ticks(bid, ask, tick)
        near = bid if view.side > 0 else ask
        if math.isnan(near):
            near = ask - tick if view.side > 0 else bid + tick
        ticks = round(view.side * (self.price - near) / tick)
        cfg = view.config
        return aggressiveness_for_ticks(ticks, spread, cfg.passive_ticks, cfg.cross_ticks)

"""The best constant action, chosen on training episodes: the strongest simple competitor.

Every fixed (pace, aggressiveness) on the env's discrete grid (25 actions: TWAP, PassiveTWAP and
Immediate among them, and also e.g. a marketable limit one tick through the far touch at the
schedule's pace) is run on the same training episodes; the one with the lowest mean shortfall is
kept and then acts unchanged on the test episodes. A learned policy that does not beat this has
learned nothing a one-line grid search would not find.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np

from exec_env.baselines.base import ConstantActionPolicy
from exec_env.env import DISCRETE_GRID

__all__ = ["BestConstant"]


class BestConstant(ConstantActionPolicy):
    """A :class:`ConstantActionPolicy` whose action was the best of the grid on training data.

    ``table`` holds the mean training shortfall of every candidate ``(pace, aggressiveness)``.
    """

    name = "BestConstant"

    def __init__(self, pace: float, aggressiveness: float, table: dict | None = None, space: Any = None) -> None:
        super().__init__(pace, aggressiveness, space)
        self.table = dict(table or {})

    @classmethod
    def from_catalogue(
        cls,
        config: Any,
        episodes: int = 200,
        seed: int = 0,
        test_share: float = 0.0,
        purge_s: float = 0.0,
        space: Any = None,
    ) -> BestConstant:
        """Search the grid on ``episodes`` training episodes of ``config`` (its market's training
        days, or the part of each session before the cut of an intraday split)."""
        from exec_env.evaluation import evaluate, sample_episodes

        if not (isinstance(episodes, int) and episodes >= 1):
            raise ValueError(f"BestConstant: episodes={episodes!r}; allowed: an integer >= 1")
        cont = replace(config, action_mode="continuous")
        train = sample_episodes(cont, n=episodes, seed=seed, split="train", overlap=True,
                                test_share=test_share, purge_s=purge_s)  # fmt: skip
        grid = list(itertools.product(DISCRETE_GRID, DISCRETE_GRID))
        candidates = {f"{p:+.1f},{a:+.1f}": ConstantActionPolicy(p, a) for p, a in grid}
        frame = evaluate(candidates, cont, train, split="train")
        means = frame.groupby("policy")["shortfall_bps"].mean()
        if not np.isfinite(means.to_numpy()).all():
            raise ValueError(f"BestConstant: a candidate's training shortfall is not finite: {means.to_dict()}")
        best = str(means.idxmin())
        pace, aggr = (float(x) for x in best.split(","))
        table = {tuple(float(x) for x in k.split(",")): float(v) for k, v in means.items()}
        return cls(pace, aggr, table, space)

    def __repr__(self) -> str:
        pace, aggr = (float(x) for x in np.asarray(self._action, dtype=float)) if self._action.dtype.kind == "f" else (
            DISCRETE_GRID[int(self._action[0])], DISCRETE_GRID[int(self._action[1])])  # fmt: skip
        return f"BestConstant(pace={pace:+.1f}, aggressiveness={aggr:+.1f})"

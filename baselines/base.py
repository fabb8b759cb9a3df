"""Fixed policies answer SB3's ``predict(obs, state, episode_start, deterministic)``.

They act through the environment's own action mapping (see ``ExecutionEnv``): ``pace`` 0 follows
the linear schedule, +1 targets everything now; ``aggressiveness`` +1 crosses the spread.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from exec_env.env import DISCRETE_GRID

__all__ = [
    "ConstantActionPolicy",
    "MarketPolicy",
    "aggressiveness_for_ticks",
    "pace_for_target",
    "spread_in_ticks",
]


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


def pace_for_target(target: float, step: int, n_steps: int) -> float:
    """The ``pace`` whose child order brings the executed fraction to ``target`` by the next
    decision (the inverse of the env's mapping, see :func:`exec_env.env.child_order`).

    With ``s = (step + 1) / n_steps`` the env targets ``s + pace**3 (1 - s)`` for ``pace >= 0`` and
    ``s (1 + pace**3)`` below, so ``pace = cbrt((target - s) / (1 - s))`` or ``cbrt(target / s - 1)``.
    ``target`` is clipped to [0, 1]; at the last decision every pace >= 0 targets 1.
    """
    s = (step + 1) / n_steps
    target = min(max(float(target), 0.0), 1.0)
    if target >= s:
        dev = (target - s) / (1.0 - s) if s < 1.0 else 0.0
    else:
        dev = target / s - 1.0
    return float(np.cbrt(dev))


def aggressiveness_for_ticks(ticks: int, spread_ticks: int, passive_ticks: int, cross_ticks: int) -> float:
    """The ``aggressiveness`` whose limit price is ``ticks`` ticks from the near touch toward the
    far side (0 joins the near touch, ``spread_ticks`` is the far touch), clipped to the env's
    grid ``[-passive_ticks, spread_ticks + cross_ticks]``."""
    span = passive_ticks + spread_ticks + cross_ticks
    k = min(max(int(ticks), -passive_ticks), spread_ticks + cross_ticks)
    return min(max(2.0 * (k + passive_ticks) / span - 1.0, -1.0), 1.0)


def spread_in_ticks(bid: float, ask: float, tick: float) -> int:
    """The spread as the env's action mapping counts it (at least one tick; a missing side is
    one tick away from the other)."""
    if math.isnan(bid):
        bid = ask - tick
    if math.isnan(ask):
        ask = bid + tick
    return max(round((ask - bid) / tick), 1)


class MarketPolicy:
    """Base of fixed policies that read market data through a :class:`MarketView`.

    Subclasses implement ``start(view)`` (called at the first decision of every episode) and
    ``target(view) -> float``: the executed fraction of the order wanted by the next decision.
    ``aggressiveness`` is the env's second action component (+1 crosses the spread, as TWAP);
    subclasses may override ``aggressiveness_now(view)``. Call ``bind(MarketView(env))`` once
    per environment; :func:`exec_env.evaluation.evaluate` does. Works on one env at a time
    (1-D observations) and in the continuous action mode only.
    """

    name = "market-policy"

    def __init__(self, aggressiveness: float = 1.0) -> None:
        if not -1.0 <= aggressiveness <= 1.0:
            raise ValueError(
                f"{type(self).__name__}: aggressiveness={aggressiveness!r} is outside the allowed range [-1, 1]"
            )
        self.aggressiveness = float(aggressiveness)
        self._view: Any = None

    def bind(self, view: Any) -> None:
        """Read market data from ``view`` (an :class:`exec_env.policy_context.MarketView`)."""
        if not view.continuous:
            raise ValueError(
                f"{type(self).__name__} needs ExecutionConfig.action_mode='continuous', got {view.config.action_mode!r}"
            )
        self._view = view

    def start(self, view: Any) -> None:
        """Prepare a new episode (called at its first decision)."""

    def target(self, view: Any) -> float:
        raise NotImplementedError

    def aggressiveness_now(self, view: Any) -> float:
        return self.aggressiveness

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        view = self._view
        if view is None:
            raise RuntimeError(
                f"{type(self).__name__} reads market data: call policy.bind(MarketView(env)) before predict "
                "(exec_env.evaluation.evaluate does it)"
            )
        if np.asarray(observation).ndim != 1:
            raise ValueError(f"{type(self).__name__} runs one env at a time: observation must be 1-D")
        if view.step_index == 0:
            self.start(view)
        pace = pace_for_target(self.target(view), view.step_index, view.n_steps)
        return np.array([pace, self.aggressiveness_now(view)], dtype=np.float32), state

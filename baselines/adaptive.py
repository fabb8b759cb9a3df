"""Adaptive: the TWAP schedule bent by a short-horizon prediction of the mid move."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from exec_env.baselines.base import MarketPolicy, aggressiveness_for_ticks, spread_in_ticks
from exec_env.orderflow import OrderflowArrays
from exec_env.policy_context import split_windows
from exec_env.predictor import Predictor, fit_predictor, samples

__all__ = ["Adaptive", "train_predictor"]


def train_predictor(
    catalogue: Any, config: Any, test_share: float = 0.0, purge_s: float = 0.0, l2: float = 1.0
) -> Predictor:
    """A predictor of the mid move over one decision interval, fitted on the training data of
    ``catalogue`` only (training days, or the part of each session before the cut of an
    intraday split), on the grid of decision times ``open + warmup_s + j * interval``."""
    windows = {i: (lo, hi) for i, lo, hi in split_windows(catalogue, "train", test_share, purge_s)}
    interval = float(config.decision_interval_s)
    frame = samples(catalogue, sorted(windows), interval, interval, float(config.warmup_s), windows)
    return fit_predictor(frame, interval, interval, float(config.warmup_s), l2)


class Adaptive(MarketPolicy):
    """TWAP bent by the predicted move.

    At decision ``j`` of ``n`` the linear schedule targets ``s = (j + 1) / n``. The predictor gives
    ``p = P(mid up over the next interval)`` from the order-flow features of the replayed book
    row in force now; the *adverse signal* is ``a = side * (2 p - 1)`` (+ = the price is expected
    to move against the order). With ``tilt = clip(a / saturation, -1, 1)`` (0 when
    ``|a| < threshold``) the targeted executed fraction is

    - ``s + max_ahead * tilt`` when ``tilt > 0``, sent crossing the spread (aggressiveness +1);
    - ``s + max_behind * tilt`` when ``tilt < 0``, sent passive: a limit at the near touch;
    - ``s`` when ``tilt == 0``, crossing (exactly TWAP).

    Bounds: the target stays in ``[s - max_behind, s + max_ahead]`` clipped to ``[0, 1]``; the last
    decision targets everything, crossing. Passive orders that do not fill are caught up by the
    next target (the env's pace targets the executed fraction). Parameters: ``predictor``
    (a :class:`~exec_env.predictor.Predictor` or the path of a saved one), ``max_ahead``,
    ``max_behind`` in [0, 1], ``threshold`` in [0, 1), ``saturation`` in (0, 1].
    """

    name = "Adaptive"

    def __init__(
        self,
        predictor: Predictor | str | Path,
        max_ahead: float = 0.1,
        max_behind: float = 0.1,
        threshold: float = 0.02,
        saturation: float = 0.1,
    ) -> None:
        super().__init__(1.0)
        for label, value, ok, allowed in (
            ("max_ahead", max_ahead, 0.0 <= max_ahead <= 1.0, "[0, 1]"),
            ("max_behind", max_behind, 0.0 <= max_behind <= 1.0, "[0, 1]"),
            ("threshold", threshold, 0.0 <= threshold < 1.0, "[0, 1)"),
            ("saturation", saturation, 0.0 < saturation <= 1.0, "(0, 1]"),
        ):
            if not (math.isfinite(value) and ok):
                raise ValueError(f"Adaptive: {label}={value!r} is outside the allowed range {allowed}")
        self.predictor = predictor if isinstance(predictor, Predictor) else Predictor.load(predictor)
        self.max_ahead = float(max_ahead)
        self.max_behind = float(max_behind)
        self.threshold = float(threshold)
        self.saturation = float(saturation)
        self.last_signal = 0.0
        self._tilt = 0.0
        self._flows: dict[tuple[int, int], tuple[np.ndarray, OrderflowArrays]] = {}

    @classmethod
    def from_catalogue(
        cls, catalogue: Any, config: Any, test_share: float = 0.0, purge_s: float = 0.0, **kw: Any
    ) -> Adaptive:
        """Train the predictor on the training data of ``catalogue`` (see :func:`train_predictor`)."""
        return cls(train_predictor(catalogue, config, test_share, purge_s), **kw)

    def _features_now(self, view: Any) -> np.ndarray:
        index = getattr(view, "day_index", None)
        if index is None:  # MarketView before it exposes the day (see INTEGRATION.md)
            index = view._env._day_index
        key = (id(view.catalogue), int(index))
        hit = self._flows.get(key)
        if hit is None:
            flow = OrderflowArrays.for_catalogue_day(view.catalogue, int(index))
            hit = (np.asarray(view.catalogue.day(int(index)).ts), flow)
            self._flows[key] = hit
        ts, flow = hit
        row = int(np.searchsorted(ts, view.now, side="right")) - 1  # the row in force now: no look-ahead
        if row < 0:
            return np.zeros((1, flow.features.shape[1]))
        return np.asarray(flow.features[row : row + 1], dtype=np.float64)

    def signal(self, view: Any) -> float:
        """The adverse signal ``side * (2 p - 1)`` now."""
        p = float(self.predictor.prob_up(self._features_now(view))[0])
        return view.side * (2.0 * p - 1.0)

    def target(self, view: Any) -> float:
        n, j = view.n_steps, view.step_index
        if j == n - 1:
            self._tilt = 1.0
            return 1.0
        a = self.signal(view)
        self.last_signal = a
        tilt = 0.0 if abs(a) < self.threshold else min(max(a / self.saturation, -1.0), 1.0)
        self._tilt = tilt
        s = (j + 1) / n
        bent = s + (self.max_ahead if tilt > 0 else self.max_behind) * tilt
        return min(max(bent, 0.0), 1.0)

    def aggressiveness_now(self, view: Any) -> float:
        if self._tilt >= 0.0:
            return 1.0
        cfg = view.config
        bid, ask = view.touch()
        spread = spread_in_ticks(bid, ask, view.tick)
        return aggressiveness_for_ticks(0, spread, cfg.passive_ticks, cfg.cross_ticks)

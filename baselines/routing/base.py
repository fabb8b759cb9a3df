"""What routing policies share: reading ``Routing-v0``'s observation back into venue quantities.

A routing policy maps one observation to one action; ``predict`` also takes a batch (rows of
observations). Quantities are in slices (``quantity / n_steps``), prices in bps of the reference
mid, as in the observation (see ``RoutingEnv``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from exec_env.routing_env import FLOW_QUANTILES, GLOBAL_FEATURES, VENUE_FEATURES

__all__ = ["RoutingPolicy", "VenueView", "action_from", "naive_best"]

_G = len(GLOBAL_FEATURES)
_NV = len(VENUE_FEATURES)


@dataclass(frozen=True)
class VenueView:
    """One observation decoded: global state and per-venue arrays (length V)."""

    time_left: float
    inventory_left: float
    side: int
    child: float
    """Child order at pace 0 (linear schedule), in slices."""
    session_elapsed: float
    available: np.ndarray
    far_bps: np.ndarray
    near_bps: np.ndarray
    far_size: np.ndarray
    near_size: np.ndarray
    own_resting: np.ndarray
    queue_ahead: np.ndarray
    resting_at_near: np.ndarray
    flows: np.ndarray
    """(V, len(FLOW_QUANTILES)) outflow quantiles per decision interval, slices."""

    @classmethod
    def decode(cls, obs: np.ndarray) -> VenueView:
        obs = np.asarray(obs, dtype=np.float64)
        v = obs[_G:].reshape(-1, _NV)
        nq = len(FLOW_QUANTILES)
        return cls(
            time_left=float(obs[0]), inventory_left=float(obs[1]), side=int(round(obs[3])),
            child=float(np.expm1(obs[4])), session_elapsed=float(obs[5]), available=v[:, 0] > 0.5,
            far_bps=v[:, 1], near_bps=v[:, 2], far_size=np.expm1(v[:, 3]), near_size=np.expm1(v[:, 4]),
            own_resting=np.expm1(v[:, 5]), queue_ahead=np.expm1(v[:, 6]), resting_at_near=v[:, 7] > 0.5,
            flows=np.expm1(v[:, 8 : 8 + nq]),
        )  # fmt: skip

    @property
    def n_venues(self) -> int:
        return int(self.far_bps.shape[0])


def action_from(pace: float, ioc: np.ndarray, rest: np.ndarray, child: float) -> np.ndarray:
    """The action sending ``ioc[k]`` / ``rest[k]`` (slices) on venue k out of a child of ``child`` slices."""
    V = len(ioc)
    a = -np.ones(1 + 2 * V, dtype=np.float32)
    a[0] = pace
    if child > 0:
        a[1::2] = np.clip(2.0 * np.asarray(ioc) / child - 1.0, -1.0, 1.0)
        a[2::2] = np.clip(2.0 * np.asarray(rest) / child - 1.0, -1.0, 1.0)
    return a


def naive_best(view: VenueView) -> int:
    """The venue with the best far touch (ties: the larger size, then the lower index)."""
    far = np.where(view.available | (view.far_size > 0), view.far_bps, np.inf)
    order = np.lexsort((np.arange(view.n_venues), -view.far_size, far))
    return int(order[0])


class RoutingPolicy:
    """Base: subclasses implement ``act(view) -> action``; ``predict`` follows SB3's protocol."""

    name = "routing"

    def act(self, view: VenueView) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(
        self, observation: np.ndarray, state: Any = None, episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:  # fmt: skip
        obs = np.asarray(observation)
        if obs.ndim == 1:
            return self.act(VenueView.decode(obs)), state
        return np.stack([self.act(VenueView.decode(o)) for o in obs]), state

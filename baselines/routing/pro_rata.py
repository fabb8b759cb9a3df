"""Pro-rata router: the scheduled child split over venues in proportion to their displayed size."""

from __future__ import annotations

import numpy as np

from exec_env.baselines.routing.base import RoutingPolicy, VenueView, action_from


class ProRata(RoutingPolicy):
    """Linear schedule (pace 0); the child order is sent as IOCs, venue k getting
    ``child * size_k / sum(size)`` with ``size_k`` its far touch size (net of our depletion).
    With no displayed size anywhere, nothing is sent (the schedule catches up later)."""

    name = "pro_rata"

    def act(self, view: VenueView) -> np.ndarray:
        size = np.where(view.available, view.far_size, 0.0)
        total = size.sum()
        ioc = view.child * size / total if total > 0 else np.zeros(view.n_venues)
        return action_from(0.0, ioc, np.zeros(view.n_venues), view.child)

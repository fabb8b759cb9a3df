"""Naive best-price router: the whole remainder, marketable, on the venue with the best far touch."""

from __future__ import annotations

import numpy as np

from exec_env.baselines.routing.base import RoutingPolicy, VenueView, naive_best


class NaiveBestPrice(RoutingPolicy):
    """Every decision: ``pace`` +1 (everything now) as one IOC on the best-priced venue (the
    classic naive router: the order goes where the displayed price is best, whatever the size
    there; what the IOC does not fill is sent again at the next decision)."""

    name = "naive"

    def act(self, view: VenueView) -> np.ndarray:
        a = -np.ones(1 + 2 * view.n_venues, dtype=np.float32)
        a[0] = 1.0
        a[1 + 2 * naive_best(view)] = 1.0
        return a

"""Shared fixtures: a small synthetic catalogue (short sessions, in memory, no disk cache)."""

from __future__ import annotations

import pytest

from exec_env.market import MarketCatalogue
from exec_env.market.synthetic import SyntheticParams, generate_day

SMALL = SyntheticParams(session_seconds=2400.0)


@pytest.fixture(scope="session")
def small_catalogue() -> MarketCatalogue:
    days = [generate_day(SMALL, seed=11, day_index=i) for i in range(3)]
    return MarketCatalogue(days, n_test=1, name="small-synthetic")

"""Shared fixtures: a small synthetic catalogue (short sessions, in memory, no disk cache)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from exec_env.market import MarketCatalogue
from exec_env.market.synthetic import SyntheticParams, generate_day

SMALL = SyntheticParams(session_seconds=2400.0)


@pytest.fixture(scope="session", autouse=True)
def _temp_folders_inside_pytest(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Libraries' temporary folders (SB3 makes ``SB3-<time>`` for a model without a logger) go to
    pytest's own temporary tree, which pytest prunes, not to /tmp."""
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))


@pytest.fixture(scope="session")
def small_catalogue() -> MarketCatalogue:
    days = [generate_day(SMALL, seed=11, day_index=i) for i in range(3)]
    return MarketCatalogue(days, n_test=1, name="small-synthetic")


def _shared_data() -> Path:
    env = os.environ.get("EXEC_ENV_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project (real market samples); the test skips without it."""
    folder = _shared_data()
    if not folder.is_dir():
        pytest.skip(f"real market samples not found at {folder} (set EXEC_ENV_SHARED_DATA)")
    return folder

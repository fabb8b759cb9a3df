"""The package's import-time housekeeping: the per-source-version numba cache folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import exec_env

DAY = 86400.0


def make(root: Path, name: str, age_days: float, now: float) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "kernel.nbc").write_bytes(b"x")
    os.utime(path, (now - age_days * DAY, now - age_days * DAY))
    return path


def test_old_kernel_caches_of_other_versions_are_pruned(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    root = tmp_path / "numba"
    # other source versions, last used 1, 2, 10, 20 and 30 days ago
    ages = {"a": 1, "b": 2, "c": 10, "d": 20, "e": 30}
    for name, age in ages.items():
        make(root, name, age, now)
    current = root / "current"
    deleted = exec_env._prune_numba_caches(current, keep=4, max_age_days=7, now=now)
    # kept: current and the 3 most recent others (a, b, c; c is old but among the newest);
    # d and e are neither recent nor within 7 days
    assert sorted(p.name for p in deleted) == ["d", "e"]
    assert sorted(p.name for p in root.iterdir()) == ["a", "b", "c", "current"]
    assert current.stat().st_mtime == now


def test_recent_caches_are_kept_however_many(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    root = tmp_path / "numba"
    for i in range(6):
        make(root, f"v{i}", 0.5 + i, now)  # all used within the last week
    assert exec_env._prune_numba_caches(root / "current", keep=2, max_age_days=7, now=now) == []
    assert len(list(root.iterdir())) == 7


def test_import_sets_the_cache_folder_under_exec_env_cache_and_prunes(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["EXEC_ENV_CACHE"] = str(tmp_path)
    import time

    now = time.time()
    stale = [make(tmp_path / "numba", f"s{i}", 30 + i, now) for i in range(4)]
    code = "import os, exec_env; print(os.environ['NUMBA_CACHE_DIR'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    folder = Path(out.stdout.strip())
    assert folder.parent == tmp_path / "numba" and len(folder.name) == 16 and folder.is_dir()
    # the default keeps the 3 most recently used other versions: only the oldest goes
    assert [p.exists() for p in stale] == [True, True, True, False]


def test_import_leaves_out_heavy_optional_modules(tmp_path: Path) -> None:
    """``import exec_env`` (which registers the environments) loads neither the learning stack nor
    pandas: a user's RL code that only makes the environment does not pay for them."""
    env = {**os.environ, "EXEC_ENV_CACHE": str(tmp_path)}
    heavy = ("pandas", "pyarrow", "torch", "stable_baselines3", "ray", "optuna", "matplotlib")
    code = f"import sys, exec_env; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

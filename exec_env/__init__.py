"""exec_env: a Gymnasium environment for optimal trade execution on replayed order books.

Importing the package registers its environment ids with Gymnasium:

* ``exec_env/Execution-v0``: continuous ``Box(-1, 1, (2,))`` actions (pace, aggressiveness);
* ``exec_env/ExecutionDiscrete-v0``: the same env with ``MultiDiscrete([5, 5])`` actions;
* ``exec_env/Routing-v0``: smart order routing of a parent order across venues.

``gymnasium.make("exec_env:exec_env/Execution-v0")`` imports the package first.
"""

import os as _os
import sys as _sys


def _numba_cache_dir() -> None:
    """Compiled kernels are cached per version of the package's sources: numba's own cache checks
    only each function's file, so a kernel changed in one module would otherwise leave stale
    machine code inlined in its callers in other modules."""
    if "NUMBA_CACHE_DIR" in _os.environ:
        return
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    base = Path(_os.environ.get("EXEC_ENV_CACHE") or Path.home() / ".cache" / "exec_env")
    current = base / "numba" / digest.hexdigest()[:16]
    _os.environ["NUMBA_CACHE_DIR"] = str(current)
    try:
        _prune_numba_caches(current)
    except OSError:  # a read-only or shared cache: pruning is a courtesy, never a failure
        pass


def _prune_numba_caches(current, keep: int = 4, max_age_days: float = 7.0, now: float | None = None) -> list:
    """Mark ``current`` (this source version's kernel cache) as used now and delete the caches of
    other source versions beside it that are neither among the ``keep`` most recently used nor
    used within ``max_age_days`` (every edit of the package makes a new one, ~5 MB). Returns the
    deleted folders."""
    import shutil
    import time

    now = time.time() if now is None else now
    current.mkdir(parents=True, exist_ok=True)
    _os.utime(current, (now, now))
    others = [p for p in current.parent.iterdir() if p.is_dir() and p != current]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    old = [p for p in others[max(keep - 1, 0) :] if now - p.stat().st_mtime > max_age_days * 86400]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    return old


_numba_cache_dir()

import gymnasium  # noqa: E402

from exec_env.config import ExecutionConfig  # noqa: E402
from exec_env.env import ExecutionEnv  # noqa: E402
from exec_env.sim.config import SimConfig  # noqa: E402

__all__ = ["ENV_IDS", "ROUTING_IDS", "ExecutionConfig", "ExecutionEnv", "SimConfig"]
__version__ = "0.1.0"

ENV_IDS = ("exec_env/Execution-v0", "exec_env/ExecutionDiscrete-v0")

gymnasium.register(
    id="exec_env/Execution-v0",
    entry_point="exec_env.env:ExecutionEnv",
    vector_entry_point="exec_env.vector:ExecutionVectorEnv",
)
gymnasium.register(
    id="exec_env/ExecutionDiscrete-v0",
    entry_point="exec_env.env:ExecutionEnv",
    vector_entry_point="exec_env.vector:ExecutionVectorEnv",
    kwargs={"action_mode": "discrete"},
)

from exec_env.routing_env import register_routing  # noqa: E402

register_routing()
ROUTING_IDS = ("exec_env/Routing-v0",)
"""Smart order routing over several venues (``exec_env.routing_env.RoutingEnv``; multi-venue markets)."""

if "ray" in _sys.modules:  # RLlib in this process: the plain ids also in Ray Tune's registry (exec_env.rllib)
    from exec_env.rllib import register as _register_rllib

    _register_rllib()

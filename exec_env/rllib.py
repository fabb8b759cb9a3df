"""RLlib: the plain ids (``"exec_env/Execution-v0"``, ...) in RLlib's env runners.

RLlib's env runners are separate processes that never import this package, so ``gymnasium.make``
of the plain id fails there with ``NamespaceNotFound`` (Gymnasium 1.x has no plugin hook that
registers a package's ids without importing it). RLlib first looks a string env up in Ray Tune's
registry, which Ray ships to every worker; :func:`register` puts every id of this package there,
with a creator that imports the package in the worker and calls ``gymnasium.make(id, **env_config)``.

Importing ``exec_env`` after ``ray`` calls :func:`register` itself; otherwise call it once in the
driver, before building the algorithm::

    import exec_env.rllib
    exec_env.rllib.register()
    config = PPOConfig().environment("exec_env/Execution-v0", env_config={"horizon_s": 120})
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any


def make(env_id: str, env_config: Mapping[str, Any] | None = None):
    """The env RLlib asks for: ``gymnasium.make(env_id, **env_config)`` after importing exec_env
    (RLlib's ``EnvContext`` is a dict of ``ExecutionConfig`` fields plus worker attributes)."""
    import gymnasium

    import exec_env  # noqa: F401  (registers the ids in this process)

    return gymnasium.make(env_id, **dict(env_config or {}))


def register(ids: Iterable[str] | None = None) -> tuple[str, ...]:
    """Register ``ids`` (default: every id of this package) in Ray Tune's env registry; returns them."""
    from ray.tune.registry import register_env

    from exec_env import ENV_IDS, ROUTING_IDS

    chosen = tuple(ids) if ids is not None else (*ENV_IDS, *ROUTING_IDS)
    for env_id in chosen:
        register_env(env_id, functools.partial(make, env_id))
    return chosen

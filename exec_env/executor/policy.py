"""Policies for the executor: a fixed baseline by name or a saved PPO model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load_policy"]


def load_policy(spec: str) -> Any:
    """``TWAP``, ``PassiveTWAP``, ``Immediate`` (any case) or the path of an SB3 ``model.zip``.

    A model must take the env's observation (``exec_env.features.OBS_DIM`` features); its action space (Box or
    MultiDiscrete) selects the action mapping.
    """
    from exec_env.baselines import BASELINES

    # the fixed policies that need nothing beyond the observation (the others read the env's
    # MarketView, which the executor does not have yet)
    names = ("TWAP", "Immediate", "PassiveTWAP")
    by_name = {k.lower(): BASELINES[k] for k in names}
    if spec.lower() in by_name:
        return by_name[spec.lower()]()
    path = Path(spec)
    if path.suffix != ".zip":
        raise ValueError(f"--policy {spec!r}; allowed: {', '.join(names)} or the path of a model .zip file")
    if not path.is_file():
        raise ValueError(f"--policy {spec!r}: no such file")
    from exec_env.agents import load_trained
    from exec_env.features import OBS_DIM

    policy = load_trained(path)  # with the observation normalisation saved beside it, if any
    shape = tuple(policy.model.observation_space.shape or ())
    if shape != (OBS_DIM,):
        raise ValueError(f"--policy {spec!r}: observation shape {shape}; allowed: ({OBS_DIM},) (the env's)")
    return policy

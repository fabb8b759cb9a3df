"""Policies for the executor: a fixed baseline by name or a saved PPO model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load_policy"]


def load_policy(spec: str, history: Any = None, config: Any = None) -> Any:
    """A fixed baseline spec (``TWAP``, ``VWAP:bucket_s=600``, ... as ``make_baseline`` reads them;
    the name in any case) or the path of an SB3 ``model.zip``.

    VWAP, DC, AC and BestConstant are fitted on ``history``, a catalogue of *past* days only (the
    executed day must not be in it), with ``config`` (an ``ExecutionConfig`` with the order's side,
    quantity, horizon, decision interval and action mapping). ``Adaptive`` reads the env's days and
    cannot run live. A model must take the env's observation (``exec_env.features.OBS_DIM``
    features); its action space (Box or MultiDiscrete) selects the action mapping.
    """
    from exec_env.baselines import BASELINES, NoHistoryError, make_baseline

    name, _, params = spec.partition(":")
    known = {k.lower(): k for k in BASELINES}
    if name.strip().lower() in known:
        name = known[name.strip().lower()]
        if name == "Adaptive":
            raise ValueError("--policy Adaptive reads the env's market days and cannot drive a live order")
        if config is None:
            from exec_env.config import ExecutionConfig

            config = ExecutionConfig()
        from dataclasses import replace

        full = f"{name}:{params}" if params else name
        try:
            return make_baseline(full, replace(config, action_mode="continuous"), history, sim_config=config.sim)
        except NoHistoryError:
            msg = f"--policy {name} is fitted on past days: none given (choose a --day after the first)"
            raise ValueError(msg) from None
    path = Path(spec)
    if path.suffix != ".zip":
        raise ValueError(f"--policy {spec!r}; allowed: {', '.join(sorted(BASELINES))} or the path of a model .zip file")
    if not path.is_file():
        raise ValueError(f"--policy {spec!r}: no such file")
    from exec_env.agents import load_trained
    from exec_env.features import OBS_DIM

    policy = load_trained(path)  # with the observation normalisation saved beside it, if any
    shape = tuple(policy.model.observation_space.shape or ())
    if shape != (OBS_DIM,):
        raise ValueError(f"--policy {spec!r}: observation shape {shape}; allowed: ({OBS_DIM},) (the env's)")
    return policy

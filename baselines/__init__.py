"""Fixed execution policies, run through the same environment as the learning agents.

Every policy answers SB3's ``predict(obs, state, episode_start, deterministic)``. Those that need
more than the observation (VWAP, POV, DC, AC, SubmitAndLeave) derive from
:class:`~baselines.base.MarketPolicy` and read a :class:`~exec_env.policy_context.MarketView`
after ``bind``; what they estimate (volume curve, threshold, volatility, impact) comes from
training data only. :func:`make_baseline` builds any of them from a spec such as
``"AC:risk_aversion=1e-6"``.
"""

from __future__ import annotations

from typing import Any

from exec_env.baselines.adaptive import Adaptive
from exec_env.baselines.almgren_chriss import AlmgrenChriss
from exec_env.baselines.base import ConstantActionPolicy, MarketPolicy
from exec_env.baselines.best_constant import BestConstant
from exec_env.baselines.directional_change import DirectionalChange
from exec_env.baselines.immediate import Immediate
from exec_env.baselines.passive_twap import PassiveTWAP
from exec_env.baselines.pov import POV
from exec_env.baselines.submit_and_leave import SubmitAndLeave
from exec_env.baselines.twap import TWAP
from exec_env.baselines.vwap import VWAP

__all__ = [
    "BASELINES",
    "DEFAULT_BASELINES",
    "POV",
    "TWAP",
    "VWAP",
    "Adaptive",
    "AlmgrenChriss",
    "BestConstant",
    "ConstantActionPolicy",
    "DirectionalChange",
    "Immediate",
    "MarketPolicy",
    "NoHistoryError",
    "PassiveTWAP",
    "SubmitAndLeave",
    "make_baseline",
    "parse_spec",
]

BASELINES = {
    "TWAP": TWAP,
    "PassiveTWAP": PassiveTWAP,
    "Immediate": Immediate,
    "VWAP": VWAP,
    "POV": POV,
    "DC": DirectionalChange,
    "AC": AlmgrenChriss,
    "SubmitAndLeave": SubmitAndLeave,
    "BestConstant": BestConstant,
    "Adaptive": Adaptive,
}
"""Baseline names accepted by :func:`make_baseline` (``Adaptive`` trains its predictor on the
training data, so it is left out of the default table: ask for it by name)."""

DEFAULT_BASELINES = ("TWAP", "PassiveTWAP", "Immediate", "VWAP", "POV", "DC", "AC", "SubmitAndLeave", "BestConstant")
"""Every baseline with its default parameters (the final table of train.py)."""

_PARAMS = {
    "TWAP": (),
    "PassiveTWAP": (),
    "Immediate": (),
    "VWAP": ("bucket_s", "aggressiveness"),
    "POV": ("rate", "max_slice", "aggressiveness"),
    "DC": ("delta", "n_slices", "aggressiveness"),
    "AC": ("risk_aversion", "sigma", "eta", "aggressiveness"),
    "SubmitAndLeave": ("offset_ticks",),
    "BestConstant": ("episodes", "seed"),
    "Adaptive": ("max_ahead", "max_behind", "threshold", "saturation"),
}

AC_DEFAULT_RISK_AVERSION = 1e-6
"""Risk aversion of ``AC`` without parameters (per unit of currency)."""


def parse_spec(spec: str) -> tuple[str, dict[str, float]]:
    """``"DC:delta=0.0005,n_slices=8"`` -> ``("DC", {"delta": 0.0005, "n_slices": 8})``."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    if name not in BASELINES:
        raise ValueError(f"baseline {name!r} is unknown; allowed: {sorted(BASELINES)}")
    params: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in _PARAMS[name]:
            raise ValueError(f"baseline {name}: parameter {item!r} is not key=value with key in {list(_PARAMS[name])}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"baseline {name}: {key}={raw!r} is not a number") from None
        params[key] = (
            int(value) if key in ("n_slices", "offset_ticks", "episodes", "seed") and value == int(value) else value
        )
    return name, params


class NoHistoryError(ValueError):
    """:func:`make_baseline` was asked for a baseline it must fit on market data, without any."""


def make_baseline(
    spec: str,
    config: Any,
    catalogue: Any,
    sim_config: Any = None,
    test_share: float = 0.0,
    purge_s: float = 0.0,
) -> Any:
    """Build the baseline named by ``spec`` for episodes of ``config`` on ``catalogue``.

    Whatever it estimates (VWAP's volume curve, DC's threshold, AC's sigma and eta) comes from the
    training data of ``catalogue`` (training days, or the session before the cut of an intraday
    split with ``test_share`` > 0); ``sim_config`` gives AC's impact when set. ``catalogue`` may be
    None for the baselines that fit nothing (TWAP, PassiveTWAP, Immediate, POV, SubmitAndLeave, DC
    with ``delta``, AC with ``sigma`` and ``eta``); for the others that raises :class:`NoHistoryError`.
    """
    from dataclasses import replace

    import gymnasium as gym

    name, p = parse_spec(spec)
    split = {"test_share": test_share, "purge_s": purge_s}
    space = gym.spaces.MultiDiscrete([5, 5]) if config.action_mode == "discrete" else None
    if name in ("TWAP", "PassiveTWAP", "Immediate"):
        return BASELINES[name](space)
    fitted = name in ("VWAP", "Adaptive", "BestConstant") or (name == "DC" and "delta" not in p)
    if catalogue is None and (fitted or (name == "AC" and not ("sigma" in p and "eta" in p))):
        raise NoHistoryError(f"baseline {name} is fitted on market data, and no catalogue was given")
    if name == "VWAP":
        return VWAP.from_catalogue(catalogue, **split, **p)
    if name == "POV":
        return POV(**p)
    if name == "DC":
        return DirectionalChange.from_catalogue(catalogue, config.horizon_s, **split, **p)
    if name == "AC":
        risk_aversion = p.pop("risk_aversion", AC_DEFAULT_RISK_AVERSION)
        if "sigma" in p and "eta" in p:
            return AlmgrenChriss(p.pop("sigma"), p.pop("eta"), risk_aversion, **p)
        return AlmgrenChriss.from_catalogue(
            catalogue, config.decision_interval_s, risk_aversion, sim_config=sim_config, **split, **p
        )
    if name == "Adaptive":
        return Adaptive.from_catalogue(catalogue, config, **split, **p)
    if name == "BestConstant":
        return BestConstant.from_catalogue(replace(config, market=catalogue), **split, space=space, **p)
    return SubmitAndLeave(**p)

"""The environment's configuration: a frozen, validated dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from exec_env.sim.config import SimConfig

__all__ = ["ACTION_MODES", "REWARD_BASELINES", "REWARD_MODES", "SIDES", "ExecutionConfig"]

SIDES = ("buy", "sell", "random")
ACTION_MODES = ("continuous", "discrete")
REWARD_MODES = ("mark_to_market", "arrival")
REWARD_BASELINES = ("none", "twap", "passive_twap")
SHADOW_ACTIONS = {"twap": (0.0, 1.0), "passive_twap": (0.0, -0.5)}
"""The constant (pace, aggressiveness) of each baseline a relative reward can be measured against."""
SPLITS = ("train", "test", "all")


def _bad(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"ExecutionConfig.{name} = {value!r} is invalid; allowed: {allowed}")


@dataclass(frozen=True)
class ExecutionConfig:
    """What the episode is (parent order, horizon, data) and how actions and rewards are defined.

    ``market`` is ``"synthetic"`` (the embedded generator's default catalogue), a
    :class:`~exec_env.market.catalogue.MarketCatalogue`, or anything ``exec_env.market.load_market``
    accepts. Construct once; ``reset(options=...)`` never changes it.
    """

    side: Literal["buy", "sell", "random"] = "random"
    """Side of the parent order; ``random`` draws it per episode from the env's RNG."""
    quantity: float = 5_000.0
    """Parent order size in units (a multiple of the market's lot size)."""
    horizon_s: float = 600.0
    """Time allowed to complete the order; what is left is liquidated at the horizon."""
    decision_interval_s: float = 10.0
    """Time between decisions; ``horizon_s`` must be a whole multiple of it."""
    action_mode: Literal["continuous", "discrete"] = "continuous"
    """``continuous``: Box(-1, 1, (2,)); ``discrete``: MultiDiscrete([5, 5]) on the same grid."""
    passive_ticks: int = 2
    """Least aggressive price: this many ticks behind the near touch (aggressiveness -1)."""
    cross_ticks: int = 5
    """Most aggressive price: this many ticks through the far touch (aggressiveness +1)."""
    reward_mode: Literal["mark_to_market", "arrival"] = "mark_to_market"
    """How the shortfall is split over steps (both sum to minus the shortfall, see env docs)."""
    reward_baseline: Literal["none", "twap", "passive_twap"] = "none"
    """``twap`` / ``passive_twap``: reward is relative to that baseline run on the same episode
    (return = IS_baseline - IS; same optimum, far less price noise)."""
    terminal_penalty_bps: float = 0.0
    """Extra penalty, bps per unit fraction of the order left for the forced liquidation."""
    compare_twap: bool = False
    """Run TWAP on the same episode and report ``vs_twap_bps`` in the final ``info``."""
    market: Any = "synthetic"
    """Market data: ``"synthetic"``, a MarketCatalogue, or a path/glob for ``load_market``."""
    split: Literal["train", "test", "all"] = "train"
    """Which days of the catalogue episodes are drawn from."""
    warmup_s: float = 300.0
    """Earliest start after the session open (the features look back 300 s)."""
    test_share: float = 0.0
    """Intraday split, for sources with few days (e.g. a single LOBSTER sample): > 0 cuts every day
    at ``close - test_share * (close - open)`` (``open``/``close``: the day's data inside its
    session); ``split="test"`` starts episodes after the cut, ``split="train"`` ends them (horizon
    included) ``purge_s`` before it; impact calibration uses only data before the cut. Needs a
    catalogue without test days (``n_test == 0``)."""
    purge_s: float = 0.0
    """Intraday split: gap in seconds between the end of the last training episode and the cut."""
    sim: SimConfig | None = None
    """Fees, latency, resilience and impact (see SimConfig). ``None``: the market's own defaults
    (``MarketCatalogue.sim_defaults``: the synthetic market carries its impact calibration; data
    loaded from files has none, so only the mechanical impact of walking the book applies until
    you set ``permanent_impact``/``transient_impact`` for your instrument)."""

    calibrate_impact: bool = True
    """With ``sim=None`` on data from files (a market whose ``sim_defaults`` carry no impact
    model): calibrate the impact model on the catalogue's training days (``exec_env.sim.calibrate``:
    Kyle's lambda as permanent impact, the measured resilience time, square-root liquidity for
    lifted sources). ``False``: only the mechanical impact of walking the book."""

    avoid_halts: bool = True
    """Random episode starts (training resets, evaluation episodes) keep the whole episode, its
    end included, out of the day's trading halts (``MarketDay.halts``: e.g. a futures exchange's
    daily maintenance break, a LOBSTER halt), where nothing fills and every policy would wait for the
    reopen. ``False``: starts are uniform over the session and an episode may span a halt. Days
    without halts are unaffected; a start pinned with ``reset(options={"start_ns": ...})`` is kept."""

    predictor: str | None = None
    """Path of a saved :class:`exec_env.predictor.Predictor` (JSON). When set, the observation gets
    one more (last) feature, ``predicted_move`` = side * (2 P(up) - 1) in [-1, 1] (+ = the mid is predicted to
    move against the order over the next decision interval), from the order-flow features of the
    book row in force at the decision time. Train it on the training days of the same catalogue."""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise _bad("side", self.side, f"one of {SIDES}")
        if not (isinstance(self.quantity, (int, float)) and math.isfinite(self.quantity) and self.quantity > 0):
            raise _bad("quantity", self.quantity, "a finite number > 0")
        if not (math.isfinite(self.decision_interval_s) and 0.001 <= self.decision_interval_s <= 86_400):
            raise _bad("decision_interval_s", self.decision_interval_s, "0.001 .. 86400 seconds")
        if not (math.isfinite(self.horizon_s) and self.decision_interval_s <= self.horizon_s <= 86_400):
            raise _bad(
                "horizon_s", self.horizon_s, f"decision_interval_s ({self.decision_interval_s}) .. 86400 seconds"
            )
        steps = self.horizon_s / self.decision_interval_s
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise _bad(
                "horizon_s", self.horizon_s, f"a whole multiple of decision_interval_s ({self.decision_interval_s})"
            )
        if self.action_mode not in ACTION_MODES:
            raise _bad("action_mode", self.action_mode, f"one of {ACTION_MODES}")
        if not (isinstance(self.passive_ticks, int) and 0 <= self.passive_ticks <= 100):
            raise _bad("passive_ticks", self.passive_ticks, "an integer 0 .. 100")
        if not (isinstance(self.cross_ticks, int) and 0 <= self.cross_ticks <= 1000):
            raise _bad("cross_ticks", self.cross_ticks, "an integer 0 .. 1000")
        if self.reward_mode not in REWARD_MODES:
            raise _bad("reward_mode", self.reward_mode, f"one of {REWARD_MODES}")
        if self.reward_baseline not in REWARD_BASELINES:
            raise _bad("reward_baseline", self.reward_baseline, f"one of {REWARD_BASELINES}")
        if not (math.isfinite(self.terminal_penalty_bps) and 0 <= self.terminal_penalty_bps <= 1e6):
            raise _bad("terminal_penalty_bps", self.terminal_penalty_bps, "0 .. 1e6")
        if not isinstance(self.avoid_halts, bool):
            raise _bad("avoid_halts", self.avoid_halts, "True or False")
        if self.split not in SPLITS:
            raise _bad("split", self.split, f"one of {SPLITS}")
        if not (math.isfinite(self.warmup_s) and 0 <= self.warmup_s <= 86_400):
            raise _bad("warmup_s", self.warmup_s, "0 .. 86400 seconds")
        if not (math.isfinite(self.test_share) and 0.0 <= self.test_share < 1.0):
            raise _bad("test_share", self.test_share, "0 <= test_share < 1 (0: split by days)")
        if not (math.isfinite(self.purge_s) and 0.0 <= self.purge_s <= 86_400):
            raise _bad("purge_s", self.purge_s, "0 .. 86400 seconds")
        if self.predictor is not None and not (isinstance(self.predictor, str) and Path(self.predictor).is_file()):
            raise _bad("predictor", self.predictor, "None or the path of a file written by Predictor.save")
        if not isinstance(self.calibrate_impact, bool):
            raise _bad("calibrate_impact", self.calibrate_impact, "True or False")
        if self.sim is not None and not isinstance(self.sim, SimConfig):
            raise _bad("sim", self.sim, "a SimConfig or None (the market's defaults)")

    def resolved_sim(self, sim_defaults: dict[str, Any], calibrated: dict[str, Any] | None = None) -> SimConfig:
        """The simulator settings in force: ``sim`` if given, else the market's ``sim_defaults``
        updated with the ``calibrated`` fields (see ``calibrate_impact``)."""
        if self.sim is not None:
            return self.sim
        return SimConfig(**{**sim_defaults, **(calibrated or {})})

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_s / self.decision_interval_s))

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly view (the market as its name), for saving with a run."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "sim" and value is not None:
                value = {k: getattr(value, k) for k in value.__dataclass_fields__}
            elif name == "market" and not isinstance(value, str):
                value = getattr(value, "name", repr(value))
            out[name] = value
        return out

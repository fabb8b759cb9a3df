"""RoutingEnv: work a parent order across several venues, splitting every child order among them."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from exec_env import stepper as ST
from exec_env.env import draw_start, episode_quantity, episode_side, halt_free_starts
from exec_env.market.venues import MultiVenueDay, VenueCatalogue, VenueSpec
from exec_env.sim import DayArrays, ExecutionSimulator, SimConfig
from exec_env.sim import kernels as K

__all__ = [
    "FLOW_QUANTILES",
    "GLOBAL_FEATURES",
    "VENUE_FEATURES",
    "RoutingConfig",
    "RoutingEnv",
    "market_halts",
    "register_routing",
    "resolve_venue_market",
]

_NS = 1_000_000_000
_MS = 1_000_000
SIDES = ("buy", "sell", "random")
SPLITS = ("train", "test", "all")
FLOW_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)
GLOBAL_FEATURES = ("time_left", "inventory_left", "schedule_deviation", "side", "child_slices", "session_elapsed")
VENUE_FEATURES = (
    "available", "far_bps", "near_bps", "far_size", "near_size", "own_resting", "own_queue_ahead",
    "resting_at_near", *(f"flow_q{int(q * 100)}" for q in FLOW_QUANTILES),
)  # fmt: skip
_BPS_CAP = 500.0
_LOG_CAP = 20.0
_ORDER_FIELDS = (K.F_ORD_PX, K.F_ORD_QTY, K.F_ORD_QA, K.F_ORD_LVL)


def _bad(name: str, value: Any, allowed: str) -> ValueError:
    return ValueError(f"RoutingConfig.{name} = {value!r} is invalid; allowed: {allowed}")


@dataclass(frozen=True)
class RoutingConfig:
    """The parent order, the venues' fee schedules and the market of ``exec_env/Routing-v0``."""

    side: str = "random"
    """``buy``, ``sell`` or ``random`` (drawn per episode from the env's RNG)."""
    quantity: float = 5_000.0
    """Parent order size in units (a multiple of the lot size)."""
    horizon_s: float = 600.0
    """Time allowed; what is left is liquidated at the horizon on the best-priced venue not in a halt."""
    decision_interval_s: float = 10.0
    """Time between decisions (``horizon_s`` a whole multiple of it)."""
    cross_ticks: int = 1
    """Marketable parts are immediate-or-cancel orders limited this many ticks through the venue's far touch."""
    market: Any = "synthetic"
    """``"synthetic"`` (the default synthetic multi-venue catalogue), a VenueCatalogue or a MultiVenueDay."""
    split: str = "train"
    """Days episodes are drawn from: ``train``, ``test`` or ``all``."""
    warmup_s: float = 300.0
    """Earliest start after the session open (the flow features look back ``flow_lookback_s``)."""
    venues: tuple[VenueSpec, ...] | None = None
    """Fee schedule and latency per venue, in the market's venue order; ``None``: the market's own
    (``VenueCatalogue.venue_specs``; for real data without them: maker 0, taker 0.3, rebate 0.2 bps, 1 ms)."""
    sim: SimConfig | None = None
    """Impact, resilience and queue model shared by every venue (its fees and latency are replaced
    by each venue's); ``None``: ``SimConfig(**market.sim_defaults)``."""
    flow_lookback_s: float = 300.0
    """Window of the outflow quantiles (per ``decision_interval_s`` bucket) before each decision."""
    avoid_halts: bool = True
    """Draw episode starts whose episode (forced liquidation included) meets no market-wide trading
    halt, a time when every venue is halted (:func:`market_halts`). A halt of some venues only is a
    routing case and is kept: the agent sees those venues as unavailable and can route around them."""

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise _bad("side", self.side, f"one of {SIDES}")
        if not (isinstance(self.quantity, (int, float)) and math.isfinite(self.quantity) and self.quantity > 0):
            raise _bad("quantity", self.quantity, "a finite number > 0")
        if not (math.isfinite(self.decision_interval_s) and 0.01 <= self.decision_interval_s <= 3600):
            raise _bad("decision_interval_s", self.decision_interval_s, "0.01 .. 3600 seconds")
        if not (math.isfinite(self.horizon_s) and self.decision_interval_s <= self.horizon_s <= 86_400):
            raise _bad("horizon_s", self.horizon_s, f"decision_interval_s ({self.decision_interval_s}) .. 86400 s")
        steps = self.horizon_s / self.decision_interval_s
        if abs(steps - round(steps)) > 1e-9 * steps:
            raise _bad(
                "horizon_s", self.horizon_s, f"a whole multiple of decision_interval_s ({self.decision_interval_s})"
            )
        if not (isinstance(self.cross_ticks, int) and 0 <= self.cross_ticks <= 100):
            raise _bad("cross_ticks", self.cross_ticks, "an integer 0 .. 100")
        if self.split not in SPLITS:
            raise _bad("split", self.split, f"one of {SPLITS}")
        if not (math.isfinite(self.warmup_s) and 0 <= self.warmup_s <= 86_400):
            raise _bad("warmup_s", self.warmup_s, "0 .. 86400 seconds")
        if self.venues is not None and not (
            isinstance(self.venues, tuple) and self.venues and all(isinstance(v, VenueSpec) for v in self.venues)
        ):
            raise _bad("venues", self.venues, "None or a non-empty tuple of VenueSpec")
        if self.sim is not None and not isinstance(self.sim, SimConfig):
            raise _bad("sim", self.sim, "a SimConfig or None")
        if not (math.isfinite(self.flow_lookback_s) and self.decision_interval_s <= self.flow_lookback_s <= 86_400):
            raise _bad("flow_lookback_s", self.flow_lookback_s, "decision_interval_s .. 86400 s")
        if not isinstance(self.avoid_halts, bool):
            raise _bad("avoid_halts", self.avoid_halts, "True or False")

    @property
    def n_steps(self) -> int:
        return int(round(self.horizon_s / self.decision_interval_s))


def market_halts(day: MultiVenueDay) -> np.ndarray:
    """The intervals ``[a, b)`` in which every venue of ``day`` is in a trading halt (the intersection
    of the venues' ``MarketDay.halts``), shape (K, 2), in time order; empty when one venue never halts."""
    common = None
    for v in day.venues:
        own = np.zeros((0, 2), dtype=np.int64) if v.halts is None else np.asarray(v.halts, dtype=np.int64)
        if common is None:
            common = own
            continue
        parts = [(max(a, c), min(b, d)) for a, b in common.tolist() for c, d in own.tolist()]
        common = np.array([p for p in parts if p[0] < p[1]], dtype=np.int64).reshape(-1, 2)
    return common[np.argsort(common[:, 0], kind="stable")]


def resolve_venue_market(market: Any) -> VenueCatalogue:
    """``"synthetic"``: :func:`~exec_env.market.synthetic_venues.synthetic_venue_catalogue`; a
    VenueCatalogue as is; a MultiVenueDay as a one-day catalogue (no test days)."""
    if isinstance(market, VenueCatalogue):
        return market
    if isinstance(market, MultiVenueDay):
        return VenueCatalogue([market], n_test=0, name=market.meta.source)
    if isinstance(market, str) and market == "synthetic":
        from exec_env.market.synthetic_venues import synthetic_venue_catalogue

        return synthetic_venue_catalogue()
    raise _bad("market", market, "'synthetic', a VenueCatalogue or a MultiVenueDay")


class _DayData:
    """One multi-venue day's arrays, with per-venue cumulative outflow volume on each side."""

    def __init__(self, day: MultiVenueDay) -> None:
        self.day = day
        self.arrays = [DayArrays(v) for v in day.venues]
        # outflow of a resting buy: seller-initiated or unknown trades; of a resting sell: buyer-initiated or unknown
        self.cum_out = {}
        for side in (1, -1):
            self.cum_out[side] = [
                np.concatenate([[0.0], np.cumsum(np.where(a.trade_side * side <= 0, a.trade_sz, 0.0))])
                for a in self.arrays
            ]
        vol = [np.concatenate([[0.0], np.cumsum(a.trade_sz)]) for a in self.arrays]
        self.cum_vol = vol


class RoutingEnv(gym.Env):
    """Work a parent order across ``V`` venues: every decision splits the child order among them.

    ## Description
    An episode draws a day, a start time and a side, like ``Execution-v0``. Every
    ``decision_interval_s`` the agent sets the child order on the linear schedule (``pace``) and
    splits it: per venue, a marketable part (an immediate-or-cancel order limited ``cross_ticks``
    through that venue's far touch) and a resting part (a limit order at that venue's near
    touch, which keeps its queue place while it stays at that price and does not grow). Each venue
    is its own ``ExecutionSimulator`` (the market model of ``docs/market_model.md``: per-side
    depletion, profile tail, queue model, keep-resting) with that venue's fees and latency: an
    order reaches venue ``v`` at ``t + latency_v``, and the venue's previous order can fill until
    then. Impact is one market-wide state: at the end of each interval every venue's impact state
    receives the other venues' fills of the interval (a lag of at most one interval). The
    outstanding quantity (resting orders plus the marketable part in flight) never exceeds what
    is left of the parent order, so the order is never overfilled: when a venue's order arrives
    it is clipped to the remaining quantity less the other venues' resting orders. What is left at
    the horizon is liquidated on the venue with the best far touch among those not in a trading halt
    (a halted venue only when all are; ``liquidated_in_halt`` then says so).

    ## Action Space
    ``Box(-1, 1, (1 + 2V,), float32)``; ``u = (a + 1) / 2`` maps a component to ``[0, 1]``:

    | index   | name          | meaning                                                         |
    |---------|---------------|-----------------------------------------------------------------|
    | 0       | pace          | as ``Execution-v0``: child order ``S`` so that the executed fraction reaches the linear schedule (0), everything (+1), nothing (-1) |
    | 1 + 2v  | marketable_v  | IOC quantity ``u * S`` on venue v                                |
    | 2 + 2v  | resting_v     | resting quantity ``u * S`` at venue v's near touch               |

    Quantities are rounded down to lots; when they add up to more than the remaining quantity they
    are scaled down to it. A total above ``S`` deliberately over-allocates (some resting parts will
    not fill). Every component -1 but pace: no order (and resting orders are cancelled).

    ## Observation Space
    ``Box(low, high, (6 + 13V,), float32)``. Sizes are in units of the slice ``quantity / n_steps``
    as ``log1p(size / slice)``; prices in bps of the reference mid, side-oriented (``s (p - mid)``,
    positive = costs a buyer); the reference mid is the median of the venues' mids (impact included).

    | index      | name               | unit / range                                               |
    |------------|--------------------|------------------------------------------------------------|
    | 0          | time_left          | fraction of the horizon, [0, 1]                            |
    | 1          | inventory_left     | fraction of the order, [0, 1]                              |
    | 2          | schedule_deviation | executed - elapsed fraction, [-1, 1]                       |
    | 3          | side               | +1 buy, -1 sell                                            |
    | 4          | child_slices       | log1p(child at pace 0 / slice), [0, 20]                    |
    | 5          | session_elapsed    | fraction of the session at the decision, [0, 1]            |
    | 6 + 13v    | available          | 1 if venue v's book is two-sided and v is not halted       |
    | 7 + 13v    | far_bps            | far touch (ask for a buy), bps, [-500, 500] (500 if empty) |
    | 8 + 13v    | near_bps           | near touch, bps, [-500, 500] (-500 if empty)               |
    | 9 + 13v    | far_size           | log1p of the far touch size less our own depletion; 0 in a |
    |            |                    | halt (a frozen book: nothing can be taken there)           |
    | 10 + 13v   | near_size          | log1p of the near touch size (the queue we would join)     |
    | 11 + 13v   | own_resting        | log1p of our resting quantity                              |
    | 12 + 13v   | own_queue_ahead    | log1p of the queue ahead of our resting order              |
    | 13 + 13v   | resting_at_near    | 1 if our resting order is at the near touch                |
    | 14-18 + 13v| flow_q10 .. q90    | log1p of the 10/30/50/70/90% quantiles of the venue's outflow (trades against the near side) per decision interval over the last ``flow_lookback_s`` |

    Every feature uses data stamped at or before the decision time.

    ## Rewards
    As ``Execution-v0``'s ``mark_to_market``: with ``m_j`` the reference mid at decision ``j``,
    ``N_j``, ``q_j``, ``f_j`` the notional, quantity and fees of the step's fills over every venue
    and ``R_j`` what is left after them, the reward is
    ``-(s (N_j - q_j m_j) + f_j + s R_j (m_{j+1} - m_j)) * 1e4 / (quantity * m_0)``; the episode
    return is exactly minus the implementation shortfall in bps of the arrival notional (fees included).

    ## Starting State
    Day uniform over the split, start uniform (whole ms) from ``open + warmup_s`` to
    ``close - horizon_s`` (within every venue's data), side per ``side``; from ``self.np_random``.
    With ``avoid_halts`` (the default) starts whose episode would meet a market-wide halt (every
    venue halted) are left out, as in ``Execution-v0``; a halt of some venues is kept (they show as
    unavailable; orders sent there only join the book and the forced liquidation goes elsewhere).
    ``reset(options={"day", "start_ns", "side", "quantity"})`` pins any of them; the env is
    deterministic given them, so every policy sees identical market paths.

    ## Episode End
    ``terminated`` after ``n_steps`` decisions; ``truncated`` never. The final ``info["execution"]``
    holds shortfall_bps, fill_rate, maker_fraction, fees_bps, the quantity filled per venue
    (``venue_<k>_qty``) and more; ``fill_records(k)`` gives venue k's fills.

    ## Arguments
    ``RoutingEnv(config=RoutingConfig(...), **overrides)``.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: RoutingConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        config = config if config is not None else RoutingConfig()
        if overrides:
            config = replace(config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not one of {self.metadata['render_modes']}")
        self.config = config
        self.render_mode = render_mode
        self.catalogue = resolve_venue_market(config.market)
        self._day_indices = self.catalogue.indices(config.split)
        if not self._day_indices:
            raise ValueError(f"RoutingConfig.split = {config.split!r} has no days in {self.catalogue.name}")
        first = self.catalogue.day(self._day_indices[0])
        self.n_venues = first.n_venues
        self.venue_names = first.venue_names
        for i in self._day_indices[1:]:
            if self.catalogue.day(i).n_venues != self.n_venues:
                raise ValueError(
                    f"{self.catalogue.name}: day {i} has another number of venues than day {self._day_indices[0]}"
                )
        specs = config.venues or self.catalogue.venue_specs or tuple(VenueSpec(n) for n in first.venue_names)
        if len(specs) != self.n_venues:
            raise _bad("venues", f"{len(specs)} VenueSpec", f"one per venue of the market ({self.n_venues})")
        self.venue_specs = tuple(specs)
        base = config.sim if config.sim is not None else SimConfig(**self.catalogue.sim_defaults)
        self.sim_configs = tuple(
            replace(base, maker_fee_bps=s.passive_fee_bps, taker_fee_bps=s.taker_fee_bps, latency_ms=s.latency_ms)
            for s in self.venue_specs
        )
        for s in self.venue_specs:
            if s.latency_ms * 1e-3 >= config.decision_interval_s:
                raise _bad("venues", f"{s.name} latency_ms={s.latency_ms}", "latency below decision_interval_s")
        self.n_steps = config.n_steps
        self._interval = round(config.decision_interval_s * _NS)
        self._horizon = self.n_steps * self._interval
        self._ranges = {}
        self._windows: dict[int, np.ndarray] = {}  # the starts drawn from: the range minus market-wide halts
        for i in self._day_indices:
            d = self.catalogue.day(i)
            lo = max([d.meta.session_open_ns + round(config.warmup_s * _NS)] + [int(v.ts[0]) for v in d.venues])
            hi = min([d.meta.session_close_ns] + [int(v.ts[-1]) for v in d.venues]) - self._horizon
            lo, hi = -(-lo // _MS) * _MS, (hi // _MS) * _MS
            self._ranges[i] = (lo, hi)
            self._windows[i] = halt_free_starts(lo, hi, market_halts(d) if config.avoid_halts else None, self._horizon)
            if not len(self._windows[i]):
                fits = "outside its market-wide halts (avoid_halts=True)" if hi >= lo else ""
                raise _bad(
                    "horizon_s", config.horizon_s,
                    f"a horizon + warm-up that fits day {i} of {self.catalogue.name} {fits}".rstrip(),
                )  # fmt: skip
        V = self.n_venues
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1 + 2 * V,), dtype=np.float32)
        nv = len(VENUE_FEATURES)
        low = np.array([0, 0, -1, -1, 0, 0] + [0, -_BPS_CAP, -_BPS_CAP] + [0] * (nv - 3) * 1, dtype=np.float32)
        high = np.array(
            [1, 1, 1, 1, _LOG_CAP, 1] + [1, _BPS_CAP, _BPS_CAP] + [_LOG_CAP] * 4 + [1] + [_LOG_CAP] * 5,
            dtype=np.float32,
        )
        low = np.concatenate([low[:6], np.tile(low[6:], V)])
        high = np.concatenate([high[:6], np.tile(high[6:], V)])
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.feature_names = GLOBAL_FEATURES + tuple(f"{n}_{k}" for k in range(V) for n in VENUE_FEATURES)
        self.sims = [ExecutionSimulator(c, first.venues[k].levels) for k, c in enumerate(self.sim_configs)]
        self._days: dict[int, _DayData] = {}
        self._day_index = -1
        self._step = 0
        self._mid = math.nan

    # -- data ---------------------------------------------------------------------------------
    def _load(self, index: int) -> _DayData:
        hit = self._days.get(index)
        if hit is None:
            hit = _DayData(self.catalogue.day(index))
            self._days[index] = hit
        return hit

    # -- read-outs ----------------------------------------------------------------------------
    @property
    def filled(self) -> float:
        return sum(s.filled for s in self.sims)

    def remaining(self) -> float:
        left = self._qty - self.filled
        return 0.0 if abs(left) <= 1e-9 * self._qty else left

    def reference_mid(self) -> float:
        """Median of the venues' mids as the agent sees them (impact included)."""
        return float(np.median([s.mid() for s in self.sims]))

    def shortfall_bps(self) -> float:
        notional = sum(float(s.fs[K.F_NOTIONAL]) for s in self.sims)
        fees = sum(s.fees for s in self.sims)
        return (self._side * (notional - self.filled * self._arrival) + fees) * self._scale

    def fill_records(self, venue: int) -> np.ndarray:
        """Venue ``venue``'s fills of the current episode (``ExecutionSimulator.fill_records``)."""
        return self.sims[venue].fill_records()

    def _touches(self, k: int) -> tuple[float, float, float, float]:
        """(far px, far size net of depletion, near px, near size) of venue k now (NaN/0 if empty)."""
        sim = self.sims[k]
        d = self._data.arrays[k]
        row = sim.book_row
        bid, ask = sim.touch()
        if self._side > 0:
            far, far_sz, near, near_sz = ask, float(d.ask_sz[row, 0]), bid, float(d.bid_sz[row, 0])
        else:
            far, far_sz, near, near_sz = bid, float(d.bid_sz[row, 0]), ask, float(d.ask_sz[row, 0])
        tick = d.tick
        if math.isfinite(far):
            far = (math.ceil(far / tick - 1e-9) if self._side > 0 else math.floor(far / tick + 1e-9)) * tick
        if math.isfinite(near):
            near = (math.floor(near / tick + 1e-9) if self._side > 0 else math.ceil(near / tick - 1e-9)) * tick
        return far, max(far_sz - sim.depletion(), 0.0), near, near_sz

    def _write_obs(self) -> np.ndarray:
        cfg = self.config
        j, n = self._step, self.n_steps
        s = self._side
        slice_ = self._qty / n
        obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        executed = self.filled / self._qty
        child = self._child(0.0) if j < n else 0.0
        meta = self._data.day.meta
        now = self._start + j * self._interval
        obs[:6] = (
            1.0 - j / n, max(1.0 - executed, 0.0), float(np.clip(executed - j / n, -1, 1)), s,
            min(math.log1p(child / slice_), _LOG_CAP),
            (now - meta.session_open_ns) / (meta.session_close_ns - meta.session_open_ns),
        )  # fmt: skip
        mid = self.reference_mid()
        nq = len(FLOW_QUANTILES)
        dt = self._interval
        nwin = max(int(cfg.flow_lookback_s * _NS // dt), 1)
        ends = now - dt * np.arange(nwin, dtype=np.int64)
        ends = ends[ends - dt >= meta.session_open_ns]
        for k in range(self.n_venues):
            far, far_sz, near, near_sz = self._touches(k)
            sim = self.sims[k]
            halted = sim.halted()
            base = 6 + k * len(VENUE_FEATURES)

            def lg(x: float) -> float:
                return min(math.log1p(max(x, 0.0) / slice_), _LOG_CAP)

            far_bps = s * (far - mid) / mid * 1e4 if math.isfinite(far) else _BPS_CAP
            near_bps = s * (near - mid) / mid * 1e4 if math.isfinite(near) else -_BPS_CAP
            resting = sim.resting_qty
            at_near = (
                resting > 0 and math.isfinite(near) and abs(sim.resting_px - near) < 0.5 * self._data.arrays[k].tick
            )
            a = self._data.arrays[k]
            if ends.size:
                cum = self._data.cum_out[s][k]
                hi = cum[np.searchsorted(a.trade_ts, ends, side="right")]
                lo = cum[np.searchsorted(a.trade_ts, ends - dt, side="right")]
                flows = np.quantile(hi - lo, FLOW_QUANTILES)
            else:
                flows = np.zeros(nq)
            obs[base : base + 8] = (
                1.0 if (math.isfinite(far) and math.isfinite(near) and not halted) else 0.0,
                float(np.clip(far_bps, -_BPS_CAP, _BPS_CAP)), float(np.clip(near_bps, -_BPS_CAP, _BPS_CAP)),
                0.0 if halted else lg(far_sz), lg(near_sz), lg(resting),
                lg(sim.queue_ahead) if resting > 0 else 0.0,
                1.0 if at_near else 0.0,
            )  # fmt: skip
            obs[base + 8 : base + 8 + nq] = [lg(x) for x in flows]
        return obs

    def _child(self, pace: float) -> float:
        lot = self._data.day.meta.lot_size
        qty, _ = ST.child_order_nb(float(pace), 0.0, self._step, self.n_steps, self._qty, self.filled, lot,
                                   float(self._side), math.nan, math.nan, 1.0, 0.0, 0.0)  # fmt: skip
        return float(qty)

    # -- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        cfg = self.config
        opts = dict(options or {})
        unknown = set(opts) - {"day", "start_ns", "side", "quantity"}
        if unknown:
            raise ValueError(f"reset options {sorted(unknown)} are unknown; allowed: day, quantity, side, start_ns")
        rng = self.np_random
        if opts.get("day") is not None:
            day_index = int(opts["day"])
            if day_index not in self._day_indices:
                raise ValueError(f"reset option day={day_index} is not in the {cfg.split!r} split {self._day_indices}")
        else:
            day_index = self._day_indices[int(rng.integers(len(self._day_indices)))]
        data = self._load(day_index)
        side = episode_side(opts.get("side", cfg.side), rng)
        qty = episode_quantity(opts.get("quantity", cfg.quantity), data.day.meta.lot_size, data.day.meta.source)
        lo, hi = self._ranges[day_index]
        if opts.get("start_ns") is not None:
            start = int(opts["start_ns"])
            if not lo <= start <= hi:
                raise ValueError(f"reset option start_ns={start} must be in [{lo}, {hi}] for day {day_index}")
        else:
            start = draw_start(rng, self._windows[day_index])
        self._day_index, self._data = day_index, data
        self._side, self._qty, self._start, self._step = side, qty, start, 0
        for sim, arrays in zip(self.sims, data.arrays, strict=True):
            sim.reset(arrays, side, start)
        self._mid = self._arrival = self.reference_mid()
        self._scale = 1e4 / (qty * self._arrival)
        self._n_orders = 0
        self._forced = 0.0
        self._halt_liquidation = False
        info = {"day": day_index, "start_ns": start, "side": side, "quantity": qty, "arrival_mid": self._arrival}
        return self._write_obs(), info

    def _plan(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        """Quantities (IOC, resting) per venue and their prices, from the action at the decision time."""
        V = self.n_venues
        lot = self._data.day.meta.lot_size
        child = self._child(float(action[0]))
        u = (np.asarray(action[1:], dtype=np.float64) + 1.0) * 0.5
        q = np.floor(u * child / lot + 1e-9) * lot
        total = q.sum()
        rem = self.remaining()
        if total > rem + 1e-9:
            q = np.floor(q * (rem / total) / lot + 1e-9) * lot
        ioc, rest = q[0::2].copy(), q[1::2].copy()
        prices = []
        for k in range(V):
            far, _, near, _ = self._touches(k)
            tick = self._data.arrays[k].tick
            ioc_px = far + self._side * self.config.cross_ticks * tick if math.isfinite(far) else math.nan
            if not math.isfinite(near):
                near = far - self._side * tick if math.isfinite(far) else math.nan
            prices.append((ioc_px, near))
            if not math.isfinite(ioc_px):
                ioc[k] = 0.0
            if not math.isfinite(near):
                rest[k] = 0.0
        return ioc, rest, prices

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._day_index < 0 or self._step >= self.n_steps:
            raise RuntimeError("step() called before reset() or after the episode ended; call reset()")
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape or not np.all((a >= -1.0) & (a <= 1.0)):
            raise ValueError(
                f"action {action!r} is outside Box(-1, 1, {self.action_space.shape}): the env does not clip"
            )
        j, s = self._step, self._side
        t = self._start + j * self._interval
        ioc, rest, prices = self._plan(a)
        for sim in self.sims:
            sim.set_step(j)
        order = sorted(range(self.n_venues), key=lambda k: (self.sims[k].latency_ns, k))
        done_venues: set[int] = set()
        for k in order:
            sim = self.sims[k]
            sim.advance(t + sim.latency_ns)
            others = sum(self.sims[w].resting_qty for w in range(self.n_venues) if w != k)
            allowed = max(self.remaining() - others, 0.0)
            x = min(ioc[k], allowed)
            taken = 0.0
            if x > 0:
                saved = sim.fs[list(_ORDER_FIELDS)].copy()
                taken = sim.submit(x, prices[k][0])
                sim.fs[list(_ORDER_FIELDS)] = saved  # immediate-or-cancel: the rest is not left resting
                self._n_orders += 1
            r = min(rest[k], max(allowed - taken, 0.0))
            if r > 0:
                sim.submit(r, prices[k][1])
                self._n_orders += 1
            else:
                sim.cancel()
            done_venues.add(k)
        t_next = t + self._interval
        for sim in self.sims:
            sim.advance(t_next)
        self._step += 1
        terminated = self._step >= self.n_steps
        if terminated:
            left = self.remaining()
            for sim in self.sims:
                sim.cancel()
            self._forced = left
            if left > 0:
                best = self._best_venue()
                self._halt_liquidation = self.sims[best].halted()
                self.sims[best].liquidate(left)
        step_q = np.array([float(sim.fs[K.F_STEP_QTY]) for sim in self.sims])
        if self.sim_configs[0].permanent_impact > 0 or self.sim_configs[0].transient_impact > 0:
            total = step_q.sum()
            for k, sim in enumerate(self.sims):
                other = total - step_q[k]
                if other > 0:
                    K.add_impact(sim.fs, sim.ist, sim.pp, sim.ist[K.I_NOW], s * other)
        notional = sum(float(sim.fs[K.F_STEP_NOTIONAL]) for sim in self.sims)
        fees = sum(float(sim.fs[K.F_STEP_FEES]) for sim in self.sims)
        mid_next = self.reference_mid()
        left = 0.0 if terminated else self.remaining()
        cost = s * (notional - step_q.sum() * self._mid) + fees + s * left * (mid_next - self._mid)
        reward = -cost * self._scale
        self._mid = mid_next
        obs = self._write_obs()
        info: dict[str, Any] = {
            "filled": float(step_q.sum()),
            "executed": self.filled,
            "shortfall_bps": self.shortfall_bps(),
        }
        if terminated:
            info["execution"] = self.metrics()
        return obs, float(reward), terminated, False, info

    def _best_venue(self) -> int:
        """The venue of the forced liquidation: the best far touch among the venues not in a trading
        halt (a halted venue's book is frozen: it is chosen only when every venue is halted)."""
        best, key = 0, None
        for k in range(self.n_venues):
            far, far_sz, _, _ = self._touches(k)
            if not math.isfinite(far):
                continue
            cand = (self.sims[k].halted(), self._side * far, -far_sz, k)
            if key is None or cand < key:
                best, key = k, cand
        return best

    def metrics(self) -> dict[str, Any]:
        """Per-episode metrics (see the class docstring)."""
        filled = self.filled
        maker = sum(float(s.fs[K.F_MAKER_QTY]) for s in self.sims)
        forced = self._forced
        out: dict[str, Any] = {
            "shortfall_bps": self.shortfall_bps(),
            "arrival_mid": self._arrival,
            "avg_price": sum(float(s.fs[K.F_NOTIONAL]) for s in self.sims) / filled if filled > 0 else None,
            "fill_rate": (filled - forced) / self._qty,
            "forced_qty": forced,
            "liquidated_in_halt": self._halt_liquidation,
            "maker_fraction": maker / filled if filled > 0 else 0.0,
            "fees_bps": sum(s.fees for s in self.sims) * self._scale,
            "n_child_orders": self._n_orders,
            "quantity": self._qty,
            "side": self._side,
            "start_ns": self._start,
            "day": self._day_index,
        }
        for k, sim in enumerate(self.sims):
            out[f"venue_{k}_qty"] = sim.filled
        return out

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        per = " ".join(f"{n}:{s.filled:.0f}" for n, s in zip(self.venue_names, self.sims, strict=True))
        return f"step {self._step}/{self.n_steps} executed {self.filled:.0f}/{self._qty:.0f} [{per}]"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_days"] = {}
        state.pop("_data", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._day_index >= 0:
            self._data = self._load(self._day_index)
            for sim, arrays in zip(self.sims, self._data.arrays, strict=True):
                sim.rebind(arrays)


ROUTING_ENV_ID = "exec_env/Routing-v0"


def register_routing() -> None:
    """Register ``exec_env/Routing-v0`` (called from ``exec_env/__init__.py``; idempotent)."""
    if ROUTING_ENV_ID not in gym.registry:
        gym.register(id=ROUTING_ENV_ID, entry_point="exec_env.routing_env:RoutingEnv")

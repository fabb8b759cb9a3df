"""ExecutionEnv: work a parent order against a replayed order book with market impact."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from exec_env import stepper as ST
from exec_env.config import SHADOW_ACTIONS, ExecutionConfig
from exec_env.features import FEATURE_NAMES, OBS_DIM, OBS_HIGH, OBS_LOW, DayFeatureArrays
from exec_env.market import MarketCatalogue, resolve_market
from exec_env.market.catalogue import intraday_cut
from exec_env.sim import DayArrays, ExecutionSimulator, SimConfig
from exec_env.sim import kernels as K
from exec_env.sim.calibrate import IMPACT_KEYS, calibration_for

__all__ = ["DISCRETE_GRID", "ExecutionEnv", "child_order", "draw_start", "halt_free_starts"]

DISCRETE_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0)
_OPTION_KEYS = frozenset({"day", "start_ns", "side", "quantity"})
_NS = 1_000_000_000
_MS = 1_000_000


def child_order(
    pace: float, aggressiveness: float, step: int, n_steps: int, quantity: float, executed: float, lot: float,
    side: int, bid: float, ask: float, tick: float, passive_ticks: int, cross_ticks: int,
) -> tuple[float, float]:  # fmt: skip
    """Map an action to a child order ``(qty, limit price)``; see the env docstring.

    ``pace`` sets the executed fraction targeted by the next decision: 0 follows the linear
    (TWAP) schedule, +1 targets everything, -1 targets nothing. In between the deviation from
    the schedule is ``pace**3`` of the way to those extremes: flat near the schedule, so that
    exploration noise on ``pace`` costs little while the extremes stay reachable.
    ``aggressiveness`` sets the limit price on a tick grid from ``passive_ticks`` behind the near
    touch (-1) to ``cross_ticks`` through the far touch (+1). ``bid``/``ask`` are the touches the
    agent sees (impact included), snapped outwards to the tick grid; with both sides empty the
    price is NaN (no order).
    """
    qty, px = ST.child_order_nb(
        float(pace), float(aggressiveness), int(step), int(n_steps), float(quantity), float(executed), float(lot),
        float(side), float(bid), float(ask), float(tick), float(passive_ticks), float(cross_ticks),
    )  # fmt: skip
    return float(qty), float(px)


def halt_free_starts(lo: int, hi: int, halts: np.ndarray | None, horizon_ns: int) -> np.ndarray:
    """The starts in ``[lo, hi]`` (ns, whole ms) whose episode ``[s, s + horizon_ns]`` meets no trading
    halt ``[a, b)``: ``s + horizon_ns < a`` (the forced liquidation too comes before the halt) or
    ``s >= b``. Closed intervals of whole ms, shape (K, 2), in time order; K = 0 when none is left,
    ``[[lo, hi]]`` without halts."""
    parts = [(lo, hi)] if hi >= lo else []
    for a, b in [] if halts is None else np.asarray(halts).tolist():
        before = ((a - horizon_ns - 1) // _MS) * _MS  # the last start whose episode ends before a
        after = -(-b // _MS) * _MS  # the first start at or after the reopen
        parts = [p for x, y in parts for p in ((x, min(y, before)), (max(x, after), y)) if p[1] >= p[0]]
    return np.array(parts, dtype=np.int64).reshape(-1, 2)


def draw_start(rng: np.random.Generator, windows: np.ndarray) -> int:
    """A start uniform over the whole milliseconds of ``windows`` (from :func:`halt_free_starts`);
    one window draws exactly as ``rng.integers(lo_ms, hi_ms + 1)``."""
    if len(windows) == 1:
        return int(rng.integers(windows[0, 0] // _MS, windows[0, 1] // _MS + 1)) * _MS
    counts = (windows[:, 1] - windows[:, 0]) // _MS + 1
    cum = np.cumsum(counts)
    u = int(rng.integers(int(cum[-1])))
    k = int(np.searchsorted(cum, u, side="right"))
    return int(windows[k, 0]) + (u - int(cum[k] - counts[k])) * _MS


def episode_side(value: Any, rng: np.random.Generator) -> int:
    """The side of a new episode from the config or a reset option: buy, sell or random."""
    if value in ("buy", 1):
        return 1
    if value in ("sell", -1):
        return -1
    if value == "random":
        return 1 if rng.integers(2) == 0 else -1
    raise ValueError(f"reset option side={value!r}; allowed: 'buy', 'sell', 1, -1")


def episode_quantity(value: Any, lot: float, source: str) -> float:
    """A parent order size: a positive whole number of lots."""
    quantity = float(value)
    lots = quantity / lot
    if not (math.isfinite(quantity) and quantity > 0 and abs(lots - round(lots)) <= 1e-9 * max(lots, 1.0)):
        raise ValueError(f"quantity={quantity!r} must be a positive multiple of the lot size {lot} of {source}")
    return quantity


class _Episode:
    """One parent order worked by one policy: simulator, schedule and reward accounting. The step
    itself is one compiled call (:func:`exec_env.stepper.episode_step`)."""

    def __init__(self, config: ExecutionConfig, sim_config: SimConfig, levels: int) -> None:
        self.config = config
        self.sim = ExecutionSimulator(sim_config, levels)
        self.n_steps = config.n_steps
        self.interval_ns = int(round(config.decision_interval_s * _NS))
        self.es = np.zeros(ST.N_ESTATE)
        self.ei = np.zeros(ST.N_EISTATE, dtype=np.int64)
        shadow = SHADOW_ACTIONS.get(config.reward_baseline, SHADOW_ACTIONS["twap"])
        self.ec = np.array(
            [config.passive_ticks, config.cross_ticks, 1.0 if config.reward_mode == "mark_to_market" else 0.0,
             sim_config.participation_cap, config.terminal_penalty_bps, shadow[0], shadow[1]],
            dtype=np.float64,
        )  # fmt: skip
        self.ei[ST.EI_NSTEPS] = self.n_steps
        self.ei[ST.EI_INTERVAL] = self.interval_ns
        self.ei[ST.EI_LATENCY] = self.sim.latency_ns
        self._no_obs = np.zeros(0, dtype=np.float32)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("data", "feats", "_args"):
            state.pop(key, None)  # the day's arrays are re-opened from the catalogue
        return state

    def bind(self, data: DayArrays, feats: DayFeatureArrays) -> None:
        self.data = data
        self.feats = feats
        self._args = (
            data.ts, data.bid_px, data.bid_sz, data.ask_px, data.ask_sz, data.trade_ts, data.trade_px, data.trade_sz,
            data.trade_side, data.halt_start, data.halt_end, data.cancel_ts, data.cancel_px, data.cancel_sz,
            data.cancel_side, data.cancel_entry_ts, feats.cum_buy, feats.cum_sell, feats.cum_vol, feats.mid_ffill,
        )  # fmt: skip

    def start(self, data: DayArrays, side: int, start_ns: int, quantity: float, feats: DayFeatureArrays) -> None:
        self.bind(data, feats)
        self.sim.reset(data, side, start_ns, feats.mid_ffill)
        es, ei = self.es, self.ei
        es[:] = 0.0
        es[ST.E_QTY] = quantity
        es[ST.E_ARRIVAL] = self.sim.arrival_mid
        es[ST.E_SCALE] = 1e4 / (quantity * self.sim.arrival_mid)
        es[ST.E_MID] = self.sim.arrival_mid
        es[ST.E_SIDE] = side
        es[ST.E_LOT] = data.day.meta.lot_size
        ei[ST.EI_STEP] = 0
        ei[ST.EI_START] = start_ns

    # read-outs kept as attributes of the episode's meaning
    side = property(lambda self: int(self.es[ST.E_SIDE]))
    quantity = property(lambda self: float(self.es[ST.E_QTY]))
    start_ns = property(lambda self: int(self.ei[ST.EI_START]))
    step_index = property(lambda self: int(self.ei[ST.EI_STEP]))
    arrival = property(lambda self: float(self.es[ST.E_ARRIVAL]))
    scale = property(lambda self: float(self.es[ST.E_SCALE]))
    mid = property(lambda self: float(self.es[ST.E_MID]))
    last_fill_ratio = property(lambda self: float(self.es[ST.E_FILL_RATIO]))
    n_child_orders = property(lambda self: int(self.es[ST.E_N_CHILD]))
    forced_qty = property(lambda self: float(self.es[ST.E_FORCED]))
    liquidated_in_halt = property(lambda self: bool(self.es[ST.E_HALT_LIQ]))
    total_reward = property(lambda self: float(self.es[ST.E_TOTAL]))

    def write_obs(self, out: np.ndarray) -> None:
        """The observation now (see ``ExecutionEnv``) into ``out``."""
        d, f, sim = self.data, self.feats, self.sim
        ST.write_obs(d.ts, d.bid_px, d.bid_sz, d.ask_px, d.ask_sz, d.trade_ts, f.cum_buy, f.cum_sell, f.mid_ffill,
                     sim.fs, sim.ist, sim.pp, sim.fills_f, sim.fills_i, self.es, self.ei, out)  # fmt: skip

    def step(self, pace: float, aggressiveness: float, obs: np.ndarray | None = None) -> float:
        """Decide at t_j, replay to t_{j+1}; returns the step's reward (bps of arrival notional) and
        writes the next observation into ``obs`` when given."""
        sim = self.sim
        out = self._no_obs if obs is None else obs
        while True:
            status, need = ST.episode_step(
                self._args, sim.fs, sim.ist, sim.pp, sim.fills_f, sim.fills_i, self.es, self.ei, self.ec,
                pace, aggressiveness, out, False,
            )  # fmt: skip
            if status != ST.STEP_NEED_ROOM:
                break
            sim._ensure_room(int(need) - sim.n_fills)
        if status == ST.STEP_BAD_OBS:
            raise _bad_observation(out, self)
        return float(self.es[ST.E_REWARD])

    def remaining(self) -> float:
        """Quantity still to execute; float residue below 1e-9 of the order counts as zero."""
        left = self.quantity - self.sim.filled
        return 0.0 if abs(left) <= 1e-9 * self.quantity else left

    @property
    def done(self) -> bool:
        return self.step_index >= self.n_steps

    def shortfall_bps(self) -> float:
        """Implementation shortfall of what has been executed so far, bps of the arrival notional."""
        fs = self.sim.fs
        return (
            self.side * (float(fs[K.F_NOTIONAL]) - float(fs[K.F_FILLED]) * self.arrival) + float(fs[K.F_FEES])
        ) * self.scale

    def metrics(self) -> dict[str, Any]:
        """Per-episode execution metrics (see ExecutionEnv docs)."""
        sim = self.sim
        fs = sim.fs
        fills = sim.fill_records()
        d = self.data
        end_ns = self.start_ns + self.n_steps * self.interval_ns
        k0, k1 = np.searchsorted(d.trade_ts, [self.start_ns, end_ns], side="right")
        mkt_vol = float(self.feats.cum_vol[k1] - self.feats.cum_vol[k0])
        mkt_vwap = float((d.trade_px[k0:k1] * d.trade_sz[k0:k1]).sum() / mkt_vol) if mkt_vol > 0 else None
        filled = float(fs[K.F_FILLED])
        if abs(filled - self.quantity) <= 1e-9 * self.quantity:
            filled = self.quantity  # float residue of summing whole lots
        avg_px = float(fs[K.F_NOTIONAL]) / filled if filled > 0 else None
        return {
            "shortfall_bps": self.shortfall_bps(),
            "arrival_mid": self.arrival,
            "avg_price": avg_px,
            "market_vwap": mkt_vwap,
            "vwap_slippage_bps": (self.side * (avg_px - mkt_vwap) / mkt_vwap * 1e4) if (avg_px and mkt_vwap) else None,
            "participation": filled / mkt_vol if mkt_vol > 0 else None,
            "fill_rate": (filled - self.forced_qty) / self.quantity,
            "forced_qty": self.forced_qty,
            "beyond_book_qty": float(fs[K.F_BEYOND_QTY]),
            "beyond_book_sweeps": int(fs[K.F_BEYOND_SWEEPS]),
            "impact_bps": self.side * sim.impact_offset() / self.arrival * 1e4,
            "liquidated_in_halt": self.liquidated_in_halt,
            "maker_fraction": float(fs[K.F_MAKER_QTY]) / filled if filled > 0 else 0.0,
            "fees_bps": float(fs[K.F_FEES]) * self.scale,
            "n_child_orders": self.n_child_orders,
            "n_fills": int(fills.shape[0]),
            "quantity": self.quantity,
            "side": self.side,
            "start_ns": self.start_ns,
            "end_ns": end_ns,
        }


def _bad_observation(obs: np.ndarray, ep: _Episode) -> RuntimeError:
    inside = (obs >= OBS_LOW) & (obs <= OBS_HIGH)  # False for NaN too
    bad = {FEATURE_NAMES[i]: float(obs[i]) for i in np.flatnonzero(~inside)}
    return RuntimeError(
        f"observation features outside their bounds (or NaN) {bad} on {ep.data.day.meta.source} at {ep.sim.now}"
    )


def _picture(ep: _Episode, height: int = 240, width: int = 480) -> np.ndarray:
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    if not hasattr(ep, "data"):
        return img
    d, sim = ep.data, ep.sim
    half = width // 2
    rows = 21  # price rows: the touch +- 10 ticks
    row_h = height // rows
    tick = d.tick
    off = sim.impact_offset()
    r = sim.book_row
    center = round(sim.mid() / tick)
    sizes = []
    for sz in (d.bid_sz[r], d.ask_sz[r]):
        sizes.extend(float(x) for x in sz[sz > 0])
    scale = max(sizes, default=1.0)
    for side_px, side_sz, color in (
        (d.bid_px[r], d.bid_sz[r], (40, 160, 60)),
        (d.ask_px[r], d.ask_sz[r], (200, 50, 50)),
    ):
        for px, sz in zip(side_px, side_sz, strict=True):
            if sz <= 0:
                continue
            k = center - round((px + off) / tick) + rows // 2
            if 0 <= k < rows:
                length = int((half - 10) * float(sz) / scale)
                img[k * row_h + 1 : (k + 1) * row_h - 1, 5 : 5 + length] = color
    if sim.resting_qty > 0:
        k = center - round(sim.resting_px / tick) + rows // 2
        if 0 <= k < rows:
            img[k * row_h : (k + 1) * row_h, half - 12 : half - 4] = (40, 80, 220)
    # executed fraction against the schedule
    n = ep.n_steps
    x0, x1, y0, y1 = half + 10, width - 10, height - 10, 10
    for j in range(n + 1):
        x = x0 + (x1 - x0) * j // n
        y = y0 + (y1 - y0) * j // n
        img[y - 1 : y + 1, x - 1 : x + 1] = (150, 150, 150)
    fills = sim.fill_records()
    done = np.bincount(fills["step"], weights=fills["qty"], minlength=n)[:n].cumsum() / ep.quantity
    for j in range(min(ep.step_index, n)):
        x = x0 + (x1 - x0) * (j + 1) // n
        y = y0 + int((y1 - y0) * min(max(done[j], 0.0), 1.0))
        img[y - 2 : y + 2, x - 2 : x + 2] = (40, 80, 220)
    img[:, half - 1 : half + 1] = 0
    return img


class ExecutionEnv(gym.Env):
    """Work a parent order (buy or sell ``quantity`` within ``horizon_s``) against a replayed
    limit order book with market impact.

    ## Description
    An episode draws a day from the catalogue split, a start time, a side and a size. Every
    ``decision_interval_s`` the agent chooses how much to trade and how aggressively; the child
    order replaces the previous one. Between decisions every book snapshot and trade of the day
    is replayed: marketable orders walk the book (liquidity the agent took recovers with time
    constant ``sim.resilience_s``), resting orders queue behind the displayed size and fill from
    trades at their price or at once when the market trades through them. A permanent plus
    transient impact model shifts every price the agent sees and trades at. What is left at the
    horizon is liquidated by a marketable order. Inside a trading halt (``MarketDay.halts``)
    nothing fills and a new order only joins the book; the forced liquidation at the horizon
    happens even inside a halt and is then flagged (``liquidated_in_halt``).

    ## Action Space
    ``continuous`` (default): ``Box(-1, 1, (2,), float32)``:

    | index | name           | meaning                                                              |
    |-------|----------------|----------------------------------------------------------------------|
    | 0     | pace           | executed fraction targeted by the next decision: -1 nothing, 0 on the linear (TWAP) schedule, +1 everything; deviation from the schedule is pace**3 of the way to those extremes |
    | 1     | aggressiveness | limit price on the tick grid from ``passive_ticks`` behind the near touch (-1) to ``cross_ticks`` through the far touch (+1) |

    ``discrete``: ``MultiDiscrete([5, 5])``, indices into (-1, -0.5, 0, 0.5, 1) for each.
    TWAP (equal marketable slices) is the constant action (0, +1); Immediate is (+1, +1).

    ## Observation Space
    ``Box(OBS_LOW, OBS_HIGH, (18,), float32)`` (``exec_env.features``); market features use data stamped at or before the
    decision time only, and are side-oriented (+ = pressure against the order):

    | index | name                     | unit / range                                   |
    |-------|--------------------------|------------------------------------------------|
    | 0     | time_left                | fraction of the horizon, [0, 1]                |
    | 1     | inventory_left           | fraction of the order, [0, 1]                  |
    | 2     | schedule_deviation       | executed - elapsed fraction, [-1, 1]           |
    | 3     | last_fill_ratio          | filled / sent of the last child order, [0, 1]  |
    | 4     | side                     | +1 buy, -1 sell                                |
    | 5     | log_spread_ticks         | log(spread / tick), >= 0                       |
    | 6-8   | imbalance_1/_3/_all      | (bid - ask)/(bid + ask) size, [-1, 1]          |
    | 9-10  | return_30s / return_300s | log mid return, units of 10 bps                |
    | 11    | volatility_300s          | RMS of 30 s log returns, units of 10 bps       |
    | 12-13 | flow_30s / flow_300s     | (buy - sell)/(buy + sell) aggressor volume     |
    | 14    | far_depth_vs_slice       | log1p(opposite best size / schedule slice)     |
    | 15    | volume_300s_vs_remaining | log1p(market volume 300 s / quantity left)     |
    | 16    | resting_fraction         | the agent's resting order / parent order, [0,1]|
    | 17    | queue_ahead_vs_slice     | log1p(queue ahead of it / schedule slice), 0 without one, at most 50 |

    ## Rewards
    Per step, that step's contribution to the implementation shortfall in bps of the arrival
    notional (``quantity * arrival mid``), negated. ``mark_to_market`` (default): fills are
    charged against the mid at the decision and the inventory still to trade is charged the mid
    move over the step; ``arrival``: fills are charged against the arrival mid. Both sum exactly
    to ``-shortfall_bps`` over the episode (fees included). ``reward_baseline="twap"`` (or
    ``"passive_twap"``) subtracts that baseline's reward on the same episode step by step; ``terminal_penalty_bps`` adds a penalty for
    the fraction left to the forced liquidation.

    ## Starting State
    Day uniform over the split's days, start uniform (whole milliseconds) from
    ``max(open + warmup_s, first book row)`` to ``min(close, last book row) - horizon_s``, side
    per ``side``; all from ``self.np_random``. With ``test_share > 0`` (intraday split) every day
    serves both splits: test starts at or after the cut, train episodes end ``purge_s`` before it.
    ``reset(options={"day", "start_ns", "side", "quantity"})`` pins any of them.

    ## Episode End
    ``terminated`` after ``horizon_s / decision_interval_s`` decisions (the horizon), when the
    order is complete by construction. ``truncated`` is never set by the env.
    The final ``info["execution"]`` holds the episode metrics (shortfall_bps, vwap_slippage_bps,
    fill_rate, maker_fraction, fees_bps, ..., and ``vs_twap_bps`` with ``compare_twap``, or
    ``vs_passive_twap_bps`` with that reward baseline) and
    ``env.unwrapped.fill_records()`` every fill (ts, step, px, qty, fee, limit_px, liq); ``info`` holds
    only scalars and the final metrics dict, so vector envs stack it.

    ## Arguments
    ``ExecutionEnv(config=ExecutionConfig(...), **overrides)``; keyword overrides replace config
    fields, so ``gymnasium.make("exec_env/Execution-v0", quantity=2000, market=catalogue)`` works.

    ## Version History
    * v0: initial version (unreleased). Within v0, before any release: prices, features and rewards
      moved into the impacted frame of the market model (``docs/market_model.md``); fills left
      ``info`` for ``fill_records()``; ``predictor`` adds an optional 17th feature. The next change
      of observation, action or reward meaning after a release bumps the id.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, config: ExecutionConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        config = config if config is not None else ExecutionConfig()
        if overrides:
            config = replace(config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not one of {self.metadata['render_modes']}")
        self.config = config
        self.render_mode = render_mode
        self.catalogue: MarketCatalogue = resolve_market(config.market)
        if config.test_share > 0 and self.catalogue.n_test:
            raise ValueError(
                f"ExecutionConfig.test_share = {config.test_share} (an intraday split) needs a catalogue without "
                f"test days; {self.catalogue.name} holds n_test = {self.catalogue.n_test}"
            )
        # an intraday split serves every day; the split restricts the start times instead
        self._day_indices = self.catalogue.indices("all" if config.test_share > 0 else config.split)
        if not self._day_indices:
            raise ValueError(
                f"ExecutionConfig.split = {config.split!r} has no days in {self.catalogue.name} "
                f"({len(self.catalogue)} days, n_test={self.catalogue.n_test})"
            )
        self._horizon_ns = config.n_steps * round(config.decision_interval_s * _NS)
        self._start_ranges: dict[int, tuple[int, int]] = {}
        self._start_windows: dict[int, np.ndarray] = {}  # the starts drawn from: the range minus halts
        short = []
        for i in self._day_indices:
            day = self.catalogue.day(i)
            lo, hi = self._start_range(day)
            self._start_ranges[i] = (lo, hi)
            halts = day.halts if config.avoid_halts else None
            self._start_windows[i] = halt_free_starts(lo, hi, halts, self._horizon_ns)
            if not len(self._start_windows[i]):
                short.append(i)
        if short:
            d = self.catalogue.day(short[0])
            halted = (
                " outside its trading halts (avoid_halts=True)" if d.halts is not None and config.avoid_halts else ""
            )
            raise ValueError(
                f"ExecutionConfig.horizon_s ({config.horizon_s}) + warmup_s ({config.warmup_s}) do not fit in "
                f"{len(short)} day(s) of the {config.split!r} split of {self.catalogue.name} (days {short[:5]}...): "
                f"e.g. {d.meta.source} has data from {d.ts[0]} to {d.ts[-1]} ns in the session "
                f"[{d.meta.session_open_ns}, {d.meta.session_close_ns}]{halted}"
            )
        self.levels = self.catalogue.day(self._day_indices[0]).levels
        if config.action_mode == "continuous":
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        else:
            self.action_space = spaces.MultiDiscrete([len(DISCRETE_GRID), len(DISCRETE_GRID)])
        self._predictor = None
        self._flows: dict[int, Any] = {}
        low, high, names = OBS_LOW, OBS_HIGH, FEATURE_NAMES
        if config.predictor is not None:
            from exec_env.predictor import Predictor

            self._predictor = Predictor.load(config.predictor)
            low = np.append(OBS_LOW, np.float32(-1.0)).astype(np.float32)
            high = np.append(OBS_HIGH, np.float32(1.0)).astype(np.float32)
            names = (*FEATURE_NAMES, "predicted_move")
        self.observation_space = spaces.Box(low, high, shape=(len(names),), dtype=np.float32)
        self.feature_names = names
        self.calibration = None
        if config.sim is None and config.calibrate_impact and not (IMPACT_KEYS & set(self.catalogue.sim_defaults)):
            self.calibration = calibration_for(self.catalogue, config.test_share, config.purge_s)
        calibrated = self.calibration.sim_kwargs() if self.calibration is not None else None
        self.sim_config = config.resolved_sim(self.catalogue.sim_defaults, calibrated)
        if self.sim_config.latency_ms * 1e-3 >= config.decision_interval_s:
            raise ValueError(
                f"SimConfig.latency_ms = {self.sim_config.latency_ms} must be shorter than "
                f"ExecutionConfig.decision_interval_s = {config.decision_interval_s} s (an order would arrive after the "
                "next decision)"
            )
        self._warned_participation = False
        if self.sim_config.queue == "order_level":
            missing = [i for i in self._day_indices if self.catalogue.day(i).cancel_ts is None]
            if missing:
                raise ValueError(
                    f"SimConfig.queue = 'order_level' needs order-level data (LOBSTER message files, Databento MBO); "
                    f"{len(missing)} day(s) of {self.catalogue.name} have none (e.g. day {missing[0]}); "
                    "allowed for them: 'conservative', 'power', 'log'"
                )
        self._episode = _Episode(config, self.sim_config, self.levels)
        twap_needed = config.compare_twap or config.reward_baseline != "none"
        self._shadow_name = config.reward_baseline if config.reward_baseline != "none" else "twap"
        self._twap = _Episode(config, self.sim_config, self.levels) if twap_needed else None
        self._days: dict[int, tuple[DayArrays, DayFeatureArrays]] = {}
        self._obs = np.zeros(len(self.feature_names), dtype=np.float32)
        self._day_index = -1

    # -- data ---------------------------------------------------------------------------------
    def _start_range(self, day) -> tuple[int, int]:
        """Episode starts allowed on ``day`` (whole ms): after the warm-up and the first book row,
        with the horizon ending before the session close and the last book row."""
        meta = day.meta
        cfg = self.config
        lo = max(meta.session_open_ns + round(cfg.warmup_s * _NS), int(day.ts[0]))
        hi = min(meta.session_close_ns, int(day.ts[-1])) - self._horizon_ns
        if cfg.test_share > 0:  # intraday split: see ExecutionConfig.test_share
            cut = intraday_cut(day, cfg.test_share)
            if cfg.split == "test":
                lo = max(lo, cut)
            elif cfg.split == "train":
                hi = min(hi, cut - round(cfg.purge_s * _NS) - self._horizon_ns)
        return -(-lo // _MS) * _MS, (hi // _MS) * _MS

    def _load(self, index: int) -> tuple[DayArrays, DayFeatureArrays]:
        """A day's arrays and feature arrays. Saved days are memory-mapped, so every day of the
        split stays open (a reset is then a dictionary lookup); in-memory days likewise."""
        hit = self._days.get(index)
        if hit is not None:
            return hit
        item = self.catalogue.days[index]
        data = DayArrays(self.catalogue.day(index))
        feats = DayFeatureArrays.for_day(data, item if isinstance(item, Path) else None)
        self._days[index] = (data, feats)
        return data, feats

    # -- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        cfg = self.config
        opts = dict(options or {})
        unknown = set(opts) - _OPTION_KEYS
        if unknown:
            raise ValueError(f"reset options {sorted(unknown)} are unknown; allowed: {sorted(_OPTION_KEYS)}")
        rng = self.np_random
        if opts.get("day") is not None:
            day_index = int(opts["day"])
            if day_index not in self._day_indices:
                raise ValueError(
                    f"reset option day={day_index} is not in the {cfg.split!r} split of {self.catalogue.name} "
                    f"(days {self._day_indices[0]}..{self._day_indices[-1]})"
                )
        else:
            day_index = self._day_indices[int(rng.integers(len(self._day_indices)))]
        data, feats = self._load(day_index)
        meta = data.day.meta
        side = episode_side(opts.get("side", cfg.side), rng)
        quantity = episode_quantity(opts.get("quantity", cfg.quantity), meta.lot_size, meta.source)
        horizon_ns = self._horizon_ns
        if opts.get("start_ns") is not None:
            start_ns = int(opts["start_ns"])
            if not meta.session_open_ns <= start_ns <= meta.session_close_ns - horizon_ns:
                raise ValueError(
                    f"reset option start_ns={start_ns} must be in [{meta.session_open_ns}, "
                    f"{meta.session_close_ns - horizon_ns}] (session open .. close - horizon) for {meta.source}"
                )
        else:
            start_ns = draw_start(rng, self._start_windows[day_index])
        self._day_index = day_index
        self._feats = feats
        self._episode.start(data, side, start_ns, quantity, feats)
        if self._twap is not None:
            self._twap.start(data, side, start_ns, quantity, feats)
        self._write_obs()
        info = {"day": day_index, "date": meta.date, "start_ns": start_ns, "side": side, "quantity": quantity,
                "arrival_mid": self._episode.arrival}  # fmt: skip
        return self._obs.copy(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        ep = self._episode
        if ep.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        if self.config.action_mode == "continuous":
            pace, aggr = float(action[0]), float(action[1])
            if not (-1.0 <= pace <= 1.0 and -1.0 <= aggr <= 1.0):
                raise ValueError(f"action {action!r} is outside Box(-1, 1): the env does not clip actions")
        else:
            i, k = int(action[0]), int(action[1])
            if not (0 <= i < len(DISCRETE_GRID) and 0 <= k < len(DISCRETE_GRID)):
                raise ValueError(f"action {action!r} is outside MultiDiscrete([5, 5])")
            pace, aggr = DISCRETE_GRID[i], DISCRETE_GRID[k]
        reward = ep.step(pace, aggr, self._obs[:OBS_DIM])
        self._predicted_move()
        if self._twap is not None:
            shadow_reward = self._twap.step(*SHADOW_ACTIONS[self._shadow_name])
            if self.config.reward_baseline != "none":
                reward -= shadow_reward
        terminated = ep.done
        info = {
            "filled": float(ep.sim.fs[K.F_STEP_QTY]),
            "executed": ep.sim.filled,
            "shortfall_bps": ep.shortfall_bps(),
        }
        if terminated:
            metrics = ep.metrics()
            if self._twap is not None:
                name = self._shadow_name
                metrics[f"{name}_shortfall_bps"] = self._twap.shortfall_bps()
                metrics[f"vs_{name}_bps"] = metrics["shortfall_bps"] - metrics[f"{name}_shortfall_bps"]
            metrics["day"] = self._day_index
            metrics["date"] = ep.data.day.meta.date
            info["execution"] = metrics
            if (
                metrics["participation"] is not None
                and metrics["participation"] > 1.0
                and not self._warned_participation
            ):
                self._warned_participation = True
                warnings.warn(
                    f"an episode filled {metrics['participation']:.0%} of the market volume of its window "
                    f"({ep.data.day.meta.source}, start {ep.start_ns}): the replay cannot represent that much "
                    "participation; consider SimConfig.participation_cap or a smaller quantity",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return self._obs.copy(), reward, terminated, False, info

    def _predicted_move(self) -> None:
        if self._predictor is None:
            return
        ep = self._episode
        flow = self._flows.get(self._day_index)
        if flow is None:
            from exec_env.orderflow import OrderflowArrays

            item = self.catalogue.days[self._day_index]
            flow = OrderflowArrays.for_day(ep.data.day, item if isinstance(item, Path) else None)
            self._flows[self._day_index] = flow
        row = ep.sim.book_row  # the replayed row in force at the decision time (stamped <= now)
        p = float(self._predictor.prob_up(np.asarray(flow.features[row : row + 1], dtype=np.float64))[0])
        self._obs[OBS_DIM] = np.float32(min(max(ep.side * (2.0 * p - 1.0), -1.0), 1.0)) if math.isfinite(p) else 0.0

    def _write_obs(self) -> None:
        ep = self._episode
        ep.write_obs(self._obs[:OBS_DIM])
        self._predicted_move()
        obs = self._obs[:OBS_DIM]
        if not ((obs >= OBS_LOW) & (obs <= OBS_HIGH)).all():  # False for NaN too
            raise _bad_observation(obs, ep)

    def fill_records(self) -> np.ndarray:
        """Every fill of the current (or just finished) episode: a structured array with fields
        ts (int64 ns), step, px, qty, fee, limit_px, liq (``exec_env.sim.kernels.LIQ_*``).
        Variable-length records are kept out of ``info`` so that vector envs can stack it."""
        return self._episode.sim.fill_records()

    def render(self) -> str | np.ndarray | None:
        """``ansi``: one line of text. ``rgb_array``: a 240 x 480 picture: left, the book the agent
        sees around the touch (bids green, asks red, bar length = size, the agent's resting order
        blue); right, the executed fraction (blue) against the linear schedule (grey)."""
        if self.render_mode is None:
            return None
        ep = self._episode
        if self.render_mode == "ansi":
            return (
                f"step {ep.step_index}/{ep.n_steps} side {'buy' if ep.side > 0 else 'sell'} "
                f"executed {ep.sim.filled:.0f}/{ep.quantity:.0f} mid {ep.sim.mid():.4f} "
                f"shortfall {ep.shortfall_bps():.2f} bps"
            )
        return _picture(ep)

    # -- pickling: days are re-opened from the catalogue, never copied --------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_days"] = {}
        state.pop("_feats", None)
        state["_flows"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._day_index >= 0:
            data, self._feats = self._load(self._day_index)
            for ep in (self._episode, self._twap):
                if ep is not None and ep.ei[ST.EI_START] != 0:
                    ep.bind(data, self._feats)
                    ep.sim.rebind(data)

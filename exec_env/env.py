"""ExecutionEnv: work a parent order against a replayed order book with market impact."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from exec_env.config import ExecutionConfig
from exec_env.features import FEATURE_NAMES, OBS_DIM, OBS_HIGH, OBS_LOW, DayFeatureArrays, write_observation
from exec_env.market import MarketCatalogue, resolve_market
from exec_env.sim import DayArrays, ExecutionSimulator, SimConfig
from exec_env.sim import kernels as K
from exec_env.sim.calibrate import IMPACT_KEYS, calibration_for

__all__ = ["DISCRETE_GRID", "ExecutionEnv", "child_order"]

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
    on_schedule = (step + 1) / n_steps
    deviation = pace * pace * pace
    if deviation >= 0.0:
        target = on_schedule + deviation * (1.0 - on_schedule)
    else:
        target = on_schedule * (1.0 + deviation)
    remaining = quantity - executed
    qty = math.floor((target * quantity - executed) / lot + 0.5) * lot
    qty = min(max(qty, 0.0), remaining)
    if math.isnan(bid) and math.isnan(ask):
        return qty, math.nan  # no book on either side: no order can be priced
    # the touches the agent sees include the impact offset: snap them outwards to the tick grid
    if not math.isnan(bid):
        bid = math.floor(bid / tick + 1e-9) * tick
    if not math.isnan(ask):
        ask = math.ceil(ask / tick - 1e-9) * tick
    if math.isnan(bid):
        bid = ask - tick
    if math.isnan(ask):
        ask = bid + tick
    spread_ticks = max(round((ask - bid) / tick), 1)
    span = passive_ticks + spread_ticks + cross_ticks
    ticks = -passive_ticks + math.floor((aggressiveness + 1.0) * 0.5 * span + 0.5)
    near = bid if side > 0 else ask
    return qty, round((near + side * ticks * tick) / tick) * tick


class _Episode:
    """One parent order worked by one policy: simulator, schedule and reward accounting."""

    def __init__(self, config: ExecutionConfig, sim_config: SimConfig, levels: int) -> None:
        self.config = config
        self.sim = ExecutionSimulator(sim_config, levels)
        self.n_steps = config.n_steps
        self.interval_ns = int(round(config.decision_interval_s * _NS))
        self.mark_to_market = config.reward_mode == "mark_to_market"
        self.cap_share = sim_config.participation_cap
        self.cum_vol: np.ndarray | None = None

    def start(self, data: DayArrays, side: int, start_ns: int, quantity: float, cum_vol: np.ndarray) -> None:
        self.data = data
        self.cum_vol = cum_vol
        self.side = side
        self.quantity = quantity
        self.start_ns = start_ns
        self.sim.reset(data, side, start_ns)
        self.arrival = self.sim.arrival_mid
        self.scale = 1e4 / (quantity * self.arrival)
        self.step_index = 0
        self.mid = self.arrival
        self.child_qty = 0.0
        self.last_fill_ratio = 0.0
        self.n_child_orders = 0
        self.forced_qty = 0.0
        self.liquidated_in_halt = False
        self.total_reward = 0.0

    def step(self, pace: float, aggressiveness: float) -> float:
        """Decide at t_j, replay to t_{j+1}; returns the step's reward (bps of arrival notional)."""
        cfg = self.config
        sim = self.sim
        data = self.data
        j = self.step_index
        bid, ask = sim.touch()
        qty, limit_px = child_order(
            pace, aggressiveness, j, self.n_steps, self.quantity, sim.filled, data.day.meta.lot_size, self.side,
            bid, ask, data.tick, cfg.passive_ticks, cfg.cross_ticks,
        )  # fmt: skip
        t_j = self.start_ns + j * self.interval_ns
        t_next = t_j + self.interval_ns
        cap = math.inf
        if self.cap_share > 0.0:
            k0, k1 = np.searchsorted(data.trade_ts, (t_j, t_next), side="right")
            lot = data.day.meta.lot_size
            cap = math.floor(self.cap_share * float(self.cum_vol[k1] - self.cum_vol[k0]) / lot + 1e-9) * lot
        sim.set_step(j, cap)
        if sim.latency_ns:
            sim.advance(t_j + sim.latency_ns)  # the old order may still fill in flight
        qty = min(qty, self.remaining())
        if not math.isnan(limit_px):  # both sides empty: the resting order (if any) stays as it is
            sim.submit(qty, limit_px)
            if qty > 0:
                self.n_child_orders += 1
        sim.advance(t_next)
        fs = sim.fs
        filled_in_step = float(fs[K.F_STEP_QTY])
        self.last_fill_ratio = min(filled_in_step / qty, 1.0) if qty > 0 else 0.0
        penalty = 0.0
        if j == self.n_steps - 1:
            left = self.remaining()
            self.liquidated_in_halt = left > 0 and sim.halted()
            if left > 0:
                self.forced_qty = left
                penalty = cfg.terminal_penalty_bps * left / self.quantity
                sim.liquidate(left)
            else:
                sim.cancel()
        mid_next = sim.mid()
        s = self.side
        notional = float(fs[K.F_STEP_NOTIONAL])
        step_qty = float(fs[K.F_STEP_QTY])
        fees = float(fs[K.F_STEP_FEES])
        if self.mark_to_market:
            remaining = self.remaining()
            cost = s * (notional - self.mid * step_qty + remaining * (mid_next - self.mid)) + fees
        else:
            cost = s * (notional - self.arrival * step_qty) + fees
        reward = -cost * self.scale - penalty
        self.mid = mid_next
        self.step_index = j + 1
        self.total_reward += reward
        return reward

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
        mkt_vol = float(self.cum_vol[k1] - self.cum_vol[k0])
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
    ``Box(OBS_LOW, OBS_HIGH, (16,), float32)`` (``exec_env.features``); market features use data stamped at or before the
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

    ## Rewards
    Per step, that step's contribution to the implementation shortfall in bps of the arrival
    notional (``quantity * arrival mid``), negated. ``mark_to_market`` (default): fills are
    charged against the mid at the decision and the inventory still to trade is charged the mid
    move over the step; ``arrival``: fills are charged against the arrival mid. Both sum exactly
    to ``-shortfall_bps`` over the episode (fees included). ``reward_baseline="twap"`` subtracts
    TWAP's reward on the same episode step by step; ``terminal_penalty_bps`` adds a penalty for
    the fraction left to the forced liquidation.

    ## Starting State
    Day uniform over the split's days, start uniform (whole milliseconds) from
    ``max(open + warmup_s, first book row)`` to ``min(close, last book row) - horizon_s``, side
    per ``side``; all from ``self.np_random``.
    ``reset(options={"day", "start_ns", "side", "quantity"})`` pins any of them.

    ## Episode End
    ``terminated`` after ``horizon_s / decision_interval_s`` decisions (the horizon), when the
    order is complete by construction. ``truncated`` is never set by the env.
    The final ``info["execution"]`` holds the episode metrics (shortfall_bps, vwap_slippage_bps,
    fill_rate, maker_fraction, fees_bps, ..., and vs_twap_bps with ``compare_twap``) and
    ``env.unwrapped.fill_records()`` every fill (ts, step, px, qty, fee, limit_px, liq); ``info`` holds
    only scalars and the final metrics dict, so vector envs stack it.

    ## Arguments
    ``ExecutionEnv(config=ExecutionConfig(...), **overrides)``; keyword overrides replace config
    fields, so ``gymnasium.make("exec_env/Execution-v0", quantity=2000, market=catalogue)`` works.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, config: ExecutionConfig | None = None, render_mode: str | None = None, **overrides: Any) -> None:
        config = config if config is not None else ExecutionConfig()
        if overrides:
            config = replace(config, **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode={render_mode!r} is not one of {self.metadata['render_modes']}")
        self.config = config
        self.render_mode = render_mode
        self.catalogue: MarketCatalogue = resolve_market(config.market)
        self._day_indices = self.catalogue.indices(config.split)
        if not self._day_indices:
            raise ValueError(
                f"ExecutionConfig.split = {config.split!r} has no days in {self.catalogue.name} "
                f"({len(self.catalogue)} days, n_test={self.catalogue.n_test})"
            )
        self._horizon_ns = config.n_steps * round(config.decision_interval_s * _NS)
        self._start_ranges: dict[int, tuple[int, int]] = {}
        short = []
        for i in self._day_indices:
            lo, hi = self._start_range(self.catalogue.day(i))
            self._start_ranges[i] = (lo, hi)
            if hi < lo:
                short.append(i)
        if short:
            d = self.catalogue.day(short[0])
            raise ValueError(
                f"ExecutionConfig.horizon_s ({config.horizon_s}) + warmup_s ({config.warmup_s}) do not fit in "
                f"{len(short)} day(s) of the {config.split!r} split of {self.catalogue.name} (days {short[:5]}...): "
                f"e.g. {d.meta.source} has data from {d.ts[0]} to {d.ts[-1]} ns in the session "
                f"[{d.meta.session_open_ns}, {d.meta.session_close_ns}]"
            )
        self.levels = self.catalogue.day(self._day_indices[0]).levels
        if config.action_mode == "continuous":
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        else:
            self.action_space = spaces.MultiDiscrete([len(DISCRETE_GRID), len(DISCRETE_GRID)])
        self.observation_space = spaces.Box(OBS_LOW, OBS_HIGH, shape=(OBS_DIM,), dtype=np.float32)
        self.feature_names = FEATURE_NAMES
        self.calibration = None
        if config.sim is None and config.calibrate_impact and not (IMPACT_KEYS & set(self.catalogue.sim_defaults)):
            self.calibration = calibration_for(self.catalogue)
        calibrated = self.calibration.sim_kwargs() if self.calibration is not None else None
        self.sim_config = config.resolved_sim(self.catalogue.sim_defaults, calibrated)
        if self.sim_config.latency_ms * 1e-3 >= config.decision_interval_s:
            raise ValueError(
                f"SimConfig.latency_ms = {self.sim_config.latency_ms} must be shorter than "
                f"ExecutionConfig.decision_interval_s = {config.decision_interval_s} s (an order would arrive after the "
                "next decision)"
            )
        self._warned_participation = False
        self._episode = _Episode(config, self.sim_config, self.levels)
        twap_needed = config.compare_twap or config.reward_baseline == "twap"
        self._twap = _Episode(config, self.sim_config, self.levels) if twap_needed else None
        self._days: OrderedDict[int, tuple[DayArrays, DayFeatureArrays]] = OrderedDict()
        self._obs = np.zeros(OBS_DIM, dtype=np.float32)
        self._day_index = -1

    # -- data ---------------------------------------------------------------------------------
    def _start_range(self, day) -> tuple[int, int]:
        """Episode starts allowed on ``day`` (whole ms): after the warm-up and the first book row,
        with the horizon ending before the session close and the last book row."""
        meta = day.meta
        lo = max(meta.session_open_ns + round(self.config.warmup_s * _NS), int(day.ts[0]))
        hi = min(meta.session_close_ns, int(day.ts[-1])) - self._horizon_ns
        return -(-lo // _MS) * _MS, (hi // _MS) * _MS

    def _load(self, index: int) -> tuple[DayArrays, DayFeatureArrays]:
        hit = self._days.get(index)
        if hit is not None:
            self._days.move_to_end(index)
            return hit
        data = DayArrays(self.catalogue.day(index))
        feats = DayFeatureArrays(data.bid_px, data.bid_sz, data.ask_px, data.ask_sz, data.trade_sz, data.trade_side)
        self._days[index] = (data, feats)
        while len(self._days) > 2:
            self._days.popitem(last=False)
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
        side_opt = opts.get("side", cfg.side)
        if side_opt in ("buy", 1):
            side = 1
        elif side_opt in ("sell", -1):
            side = -1
        elif side_opt == "random":
            side = 1 if rng.integers(2) == 0 else -1
        else:
            raise ValueError(f"reset option side={side_opt!r}; allowed: 'buy', 'sell', 1, -1")
        quantity = float(opts.get("quantity", cfg.quantity))
        lots = quantity / meta.lot_size
        if not (math.isfinite(quantity) and quantity > 0 and abs(lots - round(lots)) <= 1e-9 * max(lots, 1.0)):
            raise ValueError(
                f"quantity={quantity!r} must be a positive multiple of the lot size {meta.lot_size} of {meta.source}"
            )
        horizon_ns = self._horizon_ns
        if opts.get("start_ns") is not None:
            start_ns = int(opts["start_ns"])
            if not meta.session_open_ns <= start_ns <= meta.session_close_ns - horizon_ns:
                raise ValueError(
                    f"reset option start_ns={start_ns} must be in [{meta.session_open_ns}, "
                    f"{meta.session_close_ns - horizon_ns}] (session open .. close - horizon) for {meta.source}"
                )
        else:
            lo, hi = self._start_ranges[day_index]
            start_ns = int(rng.integers(lo // _MS, hi // _MS + 1)) * _MS
        self._day_index = day_index
        self._feats = feats
        self._episode.start(data, side, start_ns, quantity, feats.cum_vol)
        if self._twap is not None:
            self._twap.start(data, side, start_ns, quantity, feats.cum_vol)
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
        reward = ep.step(pace, aggr)
        if self._twap is not None:
            twap_reward = self._twap.step(0.0, 1.0)
            if self.config.reward_baseline == "twap":
                reward -= twap_reward
        self._write_obs()
        terminated = ep.done
        info = {
            "filled": float(ep.sim.fs[K.F_STEP_QTY]),
            "executed": ep.sim.filled,
            "shortfall_bps": ep.shortfall_bps(),
        }
        if terminated:
            metrics = ep.metrics()
            if self._twap is not None:
                metrics["twap_shortfall_bps"] = self._twap.shortfall_bps()
                metrics["vs_twap_bps"] = metrics["shortfall_bps"] - metrics["twap_shortfall_bps"]
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

    def _write_obs(self) -> None:
        ep = self._episode
        sim = ep.sim
        d = ep.data
        f = self._feats
        n = ep.n_steps
        j = ep.step_index
        remaining = ep.remaining()
        executed = 1.0 - remaining / ep.quantity
        write_observation(
            self._obs, d.ts, d.bid_px, d.bid_sz, d.ask_px, d.ask_sz, d.trade_ts, f.cum_buy, f.cum_sell, f.mid_ffill,
            sim.book_row, sim.now, ep.side, d.tick, (n - j) / n, remaining / ep.quantity, executed - j / n,
            ep.last_fill_ratio, ep.quantity / n, remaining,
            sim.fills_f, sim.fills_i, sim.n_fills, sim.pp, ep.start_ns, sim.depletion(),
        )  # fmt: skip
        inside = (self._obs >= OBS_LOW) & (self._obs <= OBS_HIGH)  # False for NaN too
        if not inside.all():
            bad = {FEATURE_NAMES[i]: float(self._obs[i]) for i in np.flatnonzero(~inside)}
            raise RuntimeError(
                f"observation features outside their bounds (or NaN) {bad} on {d.day.meta.source} at {sim.now}"
            )

    def fill_records(self) -> np.ndarray:
        """Every fill of the current (or just finished) episode: a structured array with fields
        ts (int64 ns), step, px, qty, fee, limit_px, liq (``exec_env.sim.kernels.LIQ_*``).
        Variable-length records are kept out of ``info`` so that vector envs can stack it."""
        return self._episode.sim.fill_records()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        ep = self._episode
        return (
            f"step {ep.step_index}/{ep.n_steps} side {'buy' if ep.side > 0 else 'sell'} "
            f"executed {ep.sim.filled:.0f}/{ep.quantity:.0f} mid {ep.sim.mid():.4f} "
            f"shortfall {ep.shortfall_bps():.2f} bps"
        )

    # -- pickling: days are re-opened from the catalogue, never copied --------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_days"] = OrderedDict()
        state.pop("_feats", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._day_index >= 0:
            data, self._feats = self._load(self._day_index)
            for ep in (self._episode, self._twap):
                if ep is not None and hasattr(ep, "data"):
                    ep.data = data
                    ep.sim.rebind(data)

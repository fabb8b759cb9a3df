"""A read-only market view for fixed policies: everything stamped at or before the decision time.

Learned policies see the 16-feature observation only. Fixed policies (VWAP, POV, directional
change, submit-and-leave) need a little more: the market volume traded since the last decision,
the mid path, the touches. :class:`MarketView` is the one way they get it. It wraps a live
environment and answers questions about *now*; every array it returns is cut at the simulator
clock with ``searchsorted(..., side="right")``, so a policy cannot read the episode's future.

The SB3 protocol stays as it is: a policy that needs the view has a ``bind(view)`` method, which
the evaluation harness calls once per environment before the first episode; its ``predict(obs,
state, episode_start, deterministic)`` then reads the view. A policy used without ``bind`` raises
an error that says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exec_env.env import child_order
from exec_env.market.catalogue import intraday_cut

__all__ = ["MarketView", "seen_mids", "split_windows", "start_range"]

_NS = 1_000_000_000
_MS = 1_000_000


def start_range(day: Any, horizon_ns: int, warmup_s: float) -> tuple[int, int]:
    """Episode starts the environment allows on ``day`` (whole ms), as in ``ExecutionEnv``:
    after the warm-up and the first book row, the horizon ending before the close and the last row."""
    meta = day.meta
    lo = max(meta.session_open_ns + round(warmup_s * _NS), int(day.ts[0]))
    hi = min(meta.session_close_ns, int(day.ts[-1])) - horizon_ns
    return -(-lo // _MS) * _MS, (hi // _MS) * _MS


def split_windows(
    catalogue: Any, split: str = "train", test_share: float = 0.0, purge_s: float = 0.0
) -> list[tuple[int, int, int]]:
    """The market time a split may use: ``(day index, from_ns, to_ns)`` per day.

    ``test_share == 0`` (a split by days): the catalogue's own ``train``/``test`` days, whole
    sessions. ``test_share > 0`` (an intraday split, for sources with few days; the catalogue
    must then hold no test days): every day is cut at ``close - test_share * (close - open)``, where
    ``open``/``close`` bound the day's data inside its session (truncated samples cut their data);
    ``test`` is the session after the cut, ``train`` the session before ``cut - purge_s``, so no
    training data (episodes included) comes within ``purge_s`` of the first test start.
    """
    if not 0.0 <= test_share < 1.0:
        raise ValueError(f"test_share = {test_share!r} is invalid; allowed: 0 <= test_share < 1")
    if not (math.isfinite(purge_s) and purge_s >= 0.0):
        raise ValueError(f"purge_s = {purge_s!r} is invalid; allowed: a finite number >= 0 seconds")
    if test_share == 0.0:
        out = []
        for i in catalogue.indices(split):
            meta = catalogue.day(i).meta
            out.append((i, int(meta.session_open_ns), int(meta.session_close_ns)))
        return out
    if catalogue.n_test:
        raise ValueError(
            f"test_share = {test_share} (an intraday split) needs a catalogue without test days; "
            f"{catalogue.name} holds n_test = {catalogue.n_test}"
        )
    out = []
    for i in catalogue.indices("all"):
        day = catalogue.day(i)
        open_ns = max(int(day.meta.session_open_ns), int(day.ts[0]))
        close_ns = min(int(day.meta.session_close_ns), int(day.ts[-1]))
        cut = intraday_cut(day, test_share)
        if split == "test":
            out.append((i, cut, close_ns))
        elif split == "train":
            out.append((i, open_ns, cut - round(purge_s * _NS)))
        else:
            out.append((i, open_ns, close_ns))
    return out


def seen_mids(
    ts: np.ndarray, bid_px: np.ndarray, bid_sz: np.ndarray, ask_px: np.ndarray, ask_sz: np.ndarray, since_ns: int,
    r1: int, start_ns: int, fills_f: np.ndarray, fills_i: np.ndarray, n_fills: int, pp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The mid an order saw at every two-sided book row stamped after ``since_ns``, up to row ``r1``
    (excluded): the replayed mid plus the order's impact offset at that time (its fills, from
    ``start_ns`` on). ``ts, mid``; what :class:`MarketView` and the executor's view both answer."""
    from exec_env.sim.kernels import impact_at

    r0 = int(np.searchsorted(ts, since_ns, side="right"))
    ok = (bid_sz[r0:r1, 0] > 0) & (ask_sz[r0:r1, 0] > 0)
    at = ts[r0:r1][ok]
    mid = 0.5 * (bid_px[r0:r1, 0] + ask_px[r0:r1, 0])[ok]
    if n_fills:
        off = np.array([impact_at(fills_f, fills_i, n_fills, pp, t) for t in at.tolist()])
        mid = mid + np.where(at >= start_ns, off, 0.0)
    return at, mid


class MarketView:
    """What a fixed policy may know at the decision time of a live :class:`ExecutionEnv`.

    Build it from the env (wrapped or not): ``view = MarketView(env)``. It holds no copy of the
    state: every property reads the env at the moment it is called.
    """

    def __init__(self, env: Any) -> None:
        self._env = env.unwrapped if hasattr(env, "unwrapped") else env
        if not hasattr(self._env, "_episode"):
            raise TypeError(f"MarketView needs an ExecutionEnv, got {type(env).__name__}")

    # -- the episode ----------------------------------------------------------------------------
    @property
    def config(self) -> Any:
        return self._env.config

    @property
    def catalogue(self) -> Any:
        return self._env.catalogue

    @property
    def continuous(self) -> bool:
        return self._env.config.action_mode == "continuous"

    @property
    def side(self) -> int:
        return int(self._env._episode.side)

    @property
    def quantity(self) -> float:
        return float(self._env._episode.quantity)

    @property
    def executed(self) -> float:
        return float(self._env._episode.sim.filled)

    @property
    def remaining(self) -> float:
        return float(self._env._episode.remaining())

    @property
    def step_index(self) -> int:
        """Index of the decision about to be taken (0 at the first decision)."""
        return int(self._env._episode.step_index)

    @property
    def n_steps(self) -> int:
        return int(self._env._episode.n_steps)

    @property
    def interval_ns(self) -> int:
        return int(self._env._episode.interval_ns)

    @property
    def start_ns(self) -> int:
        return int(self._env._episode.start_ns)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.n_steps * self.interval_ns

    @property
    def now(self) -> int:
        """The simulator clock: the time of the decision about to be taken."""
        return int(self._env._episode.sim.now)

    @property
    def decision_ns(self) -> int:
        """Scheduled time of the decision about to be taken (``start + step * interval``)."""
        return self.start_ns + self.step_index * self.interval_ns

    @property
    def day_index(self) -> int:
        """Catalogue index of the episode's day."""
        return int(self._env._day_index)

    @property
    def session_open_ns(self) -> int:
        return int(self._env._episode.data.day.meta.session_open_ns)

    @property
    def tick(self) -> float:
        return float(self._env._episode.data.tick)

    @property
    def lot(self) -> float:
        return float(self._env._episode.data.day.meta.lot_size)

    # -- market data up to now ------------------------------------------------------------------
    def touch(self) -> tuple[float, float]:
        """Best bid and ask the agent sees now (replayed book plus the impact offset; NaN for an
        empty side), as the env's action mapping reads them."""
        return self._env._episode.sim.touch()

    def mid(self) -> float:
        """The mid the agent sees now (replayed mid plus the impact offset)."""
        return float(self._env._episode.sim.mid())

    def trades(self, since_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Market trades stamped in ``(since_ns, now]``: ``ts, px, sz, side`` (views, do not write)."""
        d = self._env._episode.data
        k0, k1 = np.searchsorted(d.trade_ts, [since_ns, self.now], side="right")
        return d.trade_ts[k0:k1], d.trade_px[k0:k1], d.trade_sz[k0:k1], d.trade_side[k0:k1]

    def volume(self, since_ns: int) -> float:
        """Market volume traded in ``(since_ns, now]``."""
        return float(self.trades(since_ns)[2].sum())

    def mids(self, since_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Mid the agent saw at every two-sided book row stamped in ``(since_ns, now]`` (replayed
        mid plus the impact offset at that time): ``ts, mid``."""
        ep = self._env._episode
        d, sim = ep.data, ep.sim
        return seen_mids(d.ts, d.bid_px, d.bid_sz, d.ask_px, d.ask_sz, since_ns, sim.book_row + 1, ep.start_ns,
                         sim.fills_f, sim.fills_i, sim.n_fills, sim.pp)  # fmt: skip

    # -- what an action would send ----------------------------------------------------------------
    def child_order(self, pace: float, aggressiveness: float) -> tuple[float, float]:
        """The child order ``(qty, limit price)`` the env would send for this action now."""
        cfg = self._env.config
        bid, ask = self.touch()
        return child_order(
            float(pace),
            float(aggressiveness),
            self.step_index,
            self.n_steps,
            self.quantity,
            self.executed,
            self.lot,
            self.side,
            bid,
            ask,
            self.tick,
            cfg.passive_ticks,
            cfg.cross_ticks,
        )

"""Cont–Kukanov static order allocation across venues (Cont & Kukanov, "Optimal order placement
in limit order markets", Quantitative Finance 17(1), 2017), with a queue-risk term.

The allocation
--------------
A target of ``S`` units is split into marketable quantities ``M_k`` and limit orders ``L_k`` on
venues ``k = 1..K``. All costs are per unit in bps of the reference mid, side-oriented:

* ``cm_k``: marketable cost on venue k, its far touch plus its taker fee; at most ``A_k`` (the far
  touch size) fills at that price, and the marketable total ``M`` is filled on the cheapest
  venues first (greedy: for a given ``M`` this is optimal, the costs being certain);
* ``cl_k``: passive cost on venue k, its near touch plus its net maker fee (negative: the order
  earns the half spread and the rebate);
* ``Q_k``: queue ahead of a limit order on venue k (the displayed size at the near touch, or our
  current place in the queue when the order is kept: same price, not larger than what rests);
* ``xi_k``: the outflow of venue k's near queue over the interval (trades against that side), a
  random variable. A limit order fills ``F_k = min(L_k, (xi_k - Q_k)^+)``.

With ``A = sum_k min(M_k, A_k) + sum_k F_k`` the executed quantity, the cost of an allocation is

    V(X, xi) = sum_k cm_k M_k + sum_k cl_k F_k
               + lambda_under (S - A)^+ + lambda_over (A - S)^+ + theta_queue sum_k (L_k - F_k)

and the allocation minimises ``E[V]``. ``lambda_under`` prices the shortfall (what must be
executed later, at an unknown price), ``lambda_over`` executing ahead of the target,
``theta_queue`` each unit left waiting in a queue after the interval (queue risk: exposure to
adverse selection and a worse place later). The expectation is over equally likely scenarios;
in ``Routing-v0`` they are comonotone: scenario ``i`` takes the ``i``-th outflow quantile
(10, 30, 50, 70, 90%) on every venue (flows of one market move together), from data up to the
decision time only.

The minimisation is exact on a grid: ``M`` and every ``L_k`` take the values ``0, S/n, ...,
S`` (``n = grid``; ``M`` also the total displayed size when that is below ``S``), every
combination is evaluated, and ties go to the smaller quantities (enumeration order).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from exec_env.baselines.routing.base import RoutingPolicy, VenueView, action_from
from exec_env.market.venues import VenueSpec

__all__ = ["ContKukanov", "ck_allocate"]


def _check(name: str, value: float, low: float, high: float) -> None:
    if not (np.isfinite(value) and low <= value <= high):
        raise ValueError(f"ContKukanov.{name} = {value!r} is outside the allowed range [{low}, {high}]")


def _greedy(total: np.ndarray, cost: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Split each marketable total over venues, cheapest first, each capped at its size: (m, K)."""
    out = np.zeros((total.size, cost.size))
    left = total.astype(np.float64).copy()
    for k in np.argsort(cost, kind="stable"):
        take = np.minimum(left, size[k])
        out[:, k] = take
        left -= take
    return out


def ck_allocate(
    target: float,
    market_cost: Sequence[float],
    market_size: Sequence[float],
    limit_cost: Sequence[float],
    queue: Sequence[float],
    flows: np.ndarray,
    lambda_under: float,
    lambda_over: float,
    theta_queue: float,
    grid: int = 4,
    kept_queue: Sequence[float] | None = None,
    kept_qty: Sequence[float] | None = None,
    limit_allowed: Sequence[bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The Cont–Kukanov allocation (module docstring): returns ``(M_k, L_k, expected cost)``.

    ``flows``: (n_scenarios, K) equally likely outflows. ``kept_queue``/``kept_qty``: our place
    and size in venue k's near queue (a limit order up to ``kept_qty`` keeps that place).
    """
    cm, am, cl, q = (np.asarray(x, dtype=np.float64) for x in (market_cost, market_size, limit_cost, queue))
    K = cm.size
    xi = np.atleast_2d(np.asarray(flows, dtype=np.float64))
    if xi.shape[1] != K or any(x.shape != (K,) for x in (am, cl, q)):
        raise ValueError(f"ck_allocate: every per-venue input needs {K} values, flows shape (n, {K}); got {xi.shape}")
    if not (isinstance(grid, int) and 1 <= grid <= 64):
        raise ValueError(f"ck_allocate: grid = {grid!r} is outside the allowed range 1..64")
    if target <= 0:
        return np.zeros(K), np.zeros(K), 0.0
    steps = target * np.arange(grid + 1) / grid
    m_vals = steps[steps <= am.sum() + 1e-12]
    if am.sum() < target and not np.isclose(m_vals, am.sum()).any():
        m_vals = np.append(m_vals, am.sum())
    M = _greedy(m_vals, cm, am)  # (m, K)
    allowed = np.ones(K, bool) if limit_allowed is None else np.asarray(limit_allowed, bool)
    L = np.array(list(itertools.product(*[steps if allowed[k] else steps[:1] for k in range(K)])))  # (c, K)
    Q = np.broadcast_to(q, L.shape)
    if kept_queue is not None and kept_qty is not None:
        kq, kx = np.asarray(kept_queue, np.float64), np.asarray(kept_qty, np.float64)
        Q = np.where((kx > 0) & (L <= kx + 1e-9), kq, q)
    cap = np.maximum(xi[:, None, :] - Q[None, :, :], 0.0)  # (s, c, K)
    F = np.minimum(L[None], cap)
    limit_part = (F * cl).sum(-1) + theta_queue * (L[None] - F).sum(-1)  # (s, c)
    A = M.sum(1)[:, None, None] + F.sum(-1)[None]  # (m, s, c)
    pen = lambda_under * np.maximum(target - A, 0.0) + lambda_over * np.maximum(A - target, 0.0)
    cost = (M @ cm)[:, None, None] + limit_part[None] + pen
    expected = cost.mean(axis=1)  # (m, c)
    i = int(np.argmin(expected))
    mi, ci = divmod(i, L.shape[0])
    return M[mi], L[ci].astype(np.float64), float(expected[mi, ci])


class ContKukanov(RoutingPolicy):
    """Linear schedule (pace 0); each child order allocated by :func:`ck_allocate` from the
    observation (touch prices and sizes, queues, outflow quantiles) and the venues' fees."""

    name = "cont_kukanov"

    def __init__(
        self, venues: Sequence[VenueSpec], lambda_over: float = 1.0, lambda_under: float = 5.0,
        theta_queue: float = 0.5, grid: int = 4,
    ) -> None:  # fmt: skip
        _check("lambda_over", lambda_over, 0.0, 1e4)
        _check("lambda_under", lambda_under, 0.0, 1e4)
        _check("theta_queue", theta_queue, 0.0, 1e4)
        if not (isinstance(grid, int) and 1 <= grid <= 16):
            raise ValueError(f"ContKukanov.grid = {grid!r} is outside the allowed range 1..16")
        self.venues = tuple(venues)
        self.lambda_over, self.lambda_under, self.theta_queue, self.grid = lambda_over, lambda_under, theta_queue, grid
        self._taker = np.array([v.taker_fee_bps for v in self.venues])
        self._passive = np.array([v.passive_fee_bps for v in self.venues])

    def params(self) -> dict[str, float]:
        return {"lambda_over": self.lambda_over, "lambda_under": self.lambda_under, "theta_queue": self.theta_queue}

    def act(self, view: VenueView) -> np.ndarray:
        if view.n_venues != len(self.venues):
            raise ValueError(f"ContKukanov: observation has {view.n_venues} venues, the policy {len(self.venues)}")
        ok = view.available
        M, L, _ = ck_allocate(
            view.child, view.far_bps + self._taker, np.where(ok, view.far_size, 0.0), view.near_bps + self._passive,
            view.near_size, view.flows.T, self.lambda_under, self.lambda_over, self.theta_queue, self.grid,
            kept_queue=np.where(view.resting_at_near, view.queue_ahead, view.near_size),
            kept_qty=np.where(view.resting_at_near, view.own_resting, 0.0), limit_allowed=ok,
        )  # fmt: skip
        return action_from(0.0, M, L, view.child)

"""Almgren–Chriss: the mean-variance optimal static schedule under linear impact."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exec_env.baselines.base import MarketPolicy
from exec_env.policy_context import split_windows

__all__ = ["AlmgrenChriss", "estimate_eta", "estimate_sigma"]

_NS = 1_000_000_000


def _sinh_ratio(a: float, b: float) -> float:
    """``sinh(a) / sinh(b)`` for ``0 <= a <= b``, without overflow."""
    if b > 20.0:
        return math.exp(a - b) * (1.0 - math.exp(-2.0 * a)) / (1.0 - math.exp(-2.0 * b))
    return math.sinh(a) / math.sinh(b)


def estimate_sigma(catalogue: Any, sample_s: float = 10.0, test_share: float = 0.0, purge_s: float = 0.0) -> float:
    """Price volatility in price units per sqrt(second): ``sqrt(mean(dm^2) / sample_s)`` over the
    changes ``dm`` of the mid sampled every ``sample_s`` seconds on the training data."""
    sq, n = 0.0, 0
    step = round(sample_s * _NS)
    for i, lo, hi in split_windows(catalogue, "train", test_share, purge_s):
        day = catalogue.day(i)
        grid = np.arange(max(lo, int(day.ts[0])), min(hi, int(day.ts[-1])), step)
        rows = np.searchsorted(day.ts, grid, side="right") - 1
        ok = (day.bid_sz[rows, 0] > 0) & (day.ask_sz[rows, 0] > 0)
        mid = 0.5 * (day.bid_px[rows, 0] + day.ask_px[rows, 0])[ok]
        dm = np.diff(mid)
        sq += float((dm * dm).sum())
        n += dm.size
    if n == 0:
        raise ValueError(f"{catalogue.name}: no mid changes in the training data to estimate sigma")
    return math.sqrt(sq / n / sample_s)


def estimate_eta(
    catalogue: Any, interval_s: float, sim_config: Any = None, test_share: float = 0.0, purge_s: float = 0.0
) -> float:
    """Temporary impact ``eta`` in price units per (unit / second), the cost per unit of trading
    at rate ``v`` being ``eta * v``. The per-unit slope ``k`` (price per unit of slice) is the
    simulator's ``transient_impact`` when set, else the mean over training book rows of the
    half-spread divided by the displayed size at the best levels (both sides); a slice ``n``
    sent every ``interval_s`` has rate ``v = n / interval_s``, so ``eta = k * interval_s``."""
    k = float(getattr(sim_config, "transient_impact", 0.0) or 0.0)
    if k <= 0.0:
        vals = []
        for i, lo, hi in split_windows(catalogue, "train", test_share, purge_s):
            day = catalogue.day(i)
            r0, r1 = np.searchsorted(day.ts, [lo, hi], side="left")
            bsz, asz = day.bid_sz[r0:r1, 0], day.ask_sz[r0:r1, 0]
            ok = (bsz > 0) & (asz > 0)
            half = 0.5 * (day.ask_px[r0:r1, 0] - day.bid_px[r0:r1, 0])[ok]
            vals.append(half / (0.5 * (bsz[ok] + asz[ok])))
        k = float(np.mean(np.concatenate(vals))) if vals else 0.0
    if not k > 0.0:
        raise ValueError(f"{catalogue.name}: could not estimate a positive impact slope for eta")
    return k * interval_s


class AlmgrenChriss(MarketPolicy):
    """Hold ``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)`` at decision times ``t_j``, with
    ``kappa = sqrt(risk_aversion * sigma^2 / eta)`` (continuous-time Almgren–Chriss).

    Decision ``j`` targets the executed fraction ``1 - sinh(kappa (T - t_{j+1})) / sinh(kappa T)``.
    ``risk_aversion -> 0`` gives ``kappa -> 0`` and the linear (TWAP) schedule; larger values
    trade earlier. Parameters: ``sigma`` (price units / sqrt(s), > 0), ``eta`` (price units per
    unit/s, > 0), ``risk_aversion`` (lambda, per unit of currency, >= 0), ``aggressiveness``.
    :meth:`from_catalogue` estimates ``sigma`` and ``eta`` on training days.
    """

    name = "AC"

    def __init__(self, sigma: float, eta: float, risk_aversion: float, aggressiveness: float = 1.0) -> None:
        super().__init__(aggressiveness)
        for label, value, low in (
            ("sigma", sigma, "> 0"),
            ("eta", eta, "> 0"),
            ("risk_aversion", risk_aversion, ">= 0"),
        ):
            ok = math.isfinite(value) and (value >= 0 if label == "risk_aversion" else value > 0)
            if not ok:
                raise ValueError(f"AlmgrenChriss: {label}={value!r} is outside the allowed range {low}")
        self.sigma = float(sigma)
        self.eta = float(eta)
        self.risk_aversion = float(risk_aversion)
        self.kappa = math.sqrt(self.risk_aversion * self.sigma**2 / self.eta)

    @classmethod
    def from_catalogue(
        cls,
        catalogue: Any,
        interval_s: float,
        risk_aversion: float,
        sim_config: Any = None,
        test_share: float = 0.0,
        purge_s: float = 0.0,
        **kw: Any,
    ) -> AlmgrenChriss:
        sigma = estimate_sigma(catalogue, interval_s, test_share, purge_s)
        eta = estimate_eta(catalogue, interval_s, sim_config, test_share, purge_s)
        return cls(sigma, eta, risk_aversion, **kw)

    def fraction(self, elapsed_s: float, horizon_s: float) -> float:
        """Executed fraction on the schedule ``elapsed_s`` into a ``horizon_s`` horizon."""
        kt = self.kappa * horizon_s
        if kt < 1e-9:
            return elapsed_s / horizon_s
        return 1.0 - _sinh_ratio(self.kappa * (horizon_s - elapsed_s), kt)

    def target(self, view: Any) -> float:
        dt = view.interval_ns / _NS
        return self.fraction((view.step_index + 1) * dt, view.n_steps * dt)

"""Calibration of the market model from training days only.

``calibrate(catalogue)`` measures a market and returns a typed, saveable :class:`MarketCalibration`;
``MarketCalibration.sim_kwargs()`` turns it into :class:`~exec_env.sim.config.SimConfig` fields. The
estimators (all documented in ``docs/market_model.md``):

* **volatility**: mid sampled on a 60 s grid inside each day's data; ``vol_per_sqrt_s`` is
  ``sqrt(sum r^2 / seconds)`` of its log returns pooled over days; ``daily_vol`` scales it to the
  session length; the intraday profile is the same per 30-minute bucket since the open;
* **volume**: ``adv`` is the traded volume per second of data times the session length;
* **spread and depth**: time averages over book rows (both sides for depth, per level);
* **trade sizes**: mean, median, 90th and 99th percentiles;
* **Kyle's lambda** (permanent impact): least squares through the origin of 10 s mid changes on
  10 s signed volume (trades with a known aggressor); ``None`` without signed trades;
* **square-root coefficient Y**: least squares through the origin of 60 s relative mid changes
  ``dm / (daily_vol * mid)`` on ``sign(q) sqrt(|q| / adv)`` with ``q`` the 60 s signed volume;
* **resilience time**: after each large trade (size at or above the 95th percentile, known side)
  that takes displayed depth from the best 3 levels of its side, the time until that depth has
  recovered to within ``1/e`` of the deficit (median over events; events not recovered within 300 s
  count as 300 s).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from exec_env.market.catalogue import MarketCatalogue, intraday_cut
from exec_env.market.data import MarketDay

__all__ = ["IMPACT_KEYS", "MarketCalibration", "calibrate", "calibration_for", "is_lifted"]

IMPACT_KEYS = frozenset({"permanent_impact", "transient_impact", "liquidity"})
"""A market whose ``sim_defaults`` set any of these carries its own impact model (no calibration)."""

NS = 1_000_000_000
_RESILIENCE_CAP_S = 300.0
_MAX_EVENTS_PER_DAY = 2000


def is_lifted(day: MarketDay) -> bool:
    """Does the day's depth come from an assumption (bars, FX ticks) rather than data? Lifted
    sources say so in ``meta.notes["depth"]``."""
    return isinstance(day.meta.notes.get("depth"), str)


@dataclass(frozen=True)
class MarketCalibration:
    """What ``calibrate`` measured (units: prices in the data's currency, sizes in its units)."""

    name: str
    days: int
    seconds: float
    mid_price: float
    vol_per_sqrt_s: float
    daily_vol: float
    intraday_vol: dict[str, float]
    adv: float
    spread: float
    spread_ticks: float
    depth_per_level: list[float]
    trade_size: dict[str, float]
    kyle_lambda: float | None
    sqrt_coef: float | None
    resilience_s: float | None
    resilience_events: int
    lifted: bool
    notes: dict[str, Any] = field(default_factory=dict)

    def sim_kwargs(self) -> dict[str, Any]:
        """SimConfig fields for this market: linear permanent impact from Kyle's lambda, the
        measured resilience time, and for lifted sources (no real depth) square-root liquidity."""
        out: dict[str, Any] = {}
        if self.kyle_lambda is not None and self.kyle_lambda > 0:
            out["permanent_impact"] = self.kyle_lambda
        if self.resilience_s is not None:
            out["resilience_s"] = self.resilience_s
        if self.lifted and self.daily_vol > 0 and self.adv > 0:
            out.update(
                liquidity="sqrt",
                sqrt_coef=self.sqrt_coef if self.sqrt_coef is not None and self.sqrt_coef > 0 else 1.0,
                daily_vol=self.daily_vol,
                daily_volume=self.adv,
            )
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> MarketCalibration:
        return cls(**json.loads(Path(path).read_text()))

    def describe(self) -> str:
        lam = "n/a" if self.kyle_lambda is None else f"{self.kyle_lambda:.3g}"
        y = "n/a" if self.sqrt_coef is None else f"{self.sqrt_coef:.3g}"
        res = "n/a" if self.resilience_s is None else f"{self.resilience_s:.3g} s ({self.resilience_events} events)"
        return (
            f"{self.name}: {self.days} day(s), mid {self.mid_price:.4g}, daily vol {self.daily_vol:.3%}, "
            f"ADV {self.adv:.4g}, spread {self.spread_ticks:.2f} ticks, depth L1 "
            f"{self.depth_per_level[0] if self.depth_per_level else float('nan'):.4g}, "
            f"Kyle lambda {lam}, sqrt Y {y}, resilience {res}"
        )


def _mid_grid(day: MarketDay, step_ns: int) -> tuple[np.ndarray, np.ndarray]:
    ok = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    ts = day.ts[ok]
    if ts.size < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    mid = 0.5 * (day.bid_px[ok, 0] + day.ask_px[ok, 0])
    grid = np.arange(ts[0], ts[-1] + 1, step_ns, dtype=np.int64)
    idx = np.searchsorted(ts, grid, side="right") - 1
    return grid, mid[idx]


def _signed_volume(day: MarketDay, edges: np.ndarray) -> np.ndarray:
    signed = np.where(day.trade_side != 0, day.trade_side * day.trade_sz, 0.0)
    cum = np.concatenate(([0.0], np.cumsum(signed)))
    k = np.searchsorted(day.trade_ts, edges, side="right")
    return np.diff(cum[k])


def _resilience_events(day: MarketDay, big: float) -> list[float]:
    """Recovery times (s) of the best-3-level depth after large trades on ``day``."""
    times: list[float] = []
    depth_ask = day.ask_sz[:, :3].sum(axis=1)
    depth_bid = day.bid_sz[:, :3].sum(axis=1)
    sel = np.flatnonzero((day.trade_sz >= big) & (day.trade_side != 0))[:_MAX_EVENTS_PER_DAY]
    for k in sel:
        t = day.trade_ts[k]
        depth = depth_ask if day.trade_side[k] > 0 else depth_bid
        before = int(np.searchsorted(day.ts, t, side="left")) - 1
        after = int(np.searchsorted(day.ts, t, side="right"))
        if before < 0 or after >= day.ts.size:
            continue
        deficit = depth[before] - depth[after]
        if deficit <= 0:
            continue
        target = depth[before] - deficit / math.e
        end = int(np.searchsorted(day.ts, t + int(_RESILIENCE_CAP_S * NS), side="right"))
        window = depth[after:end]
        hit = np.flatnonzero(window >= target)
        times.append(float(day.ts[after + hit[0]] - t) / NS if hit.size else _RESILIENCE_CAP_S)
    return times


def _through_origin(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y) & (x != 0)
    if ok.sum() < 10:
        return None
    sxx = float((x[ok] ** 2).sum())
    return float((x[ok] * y[ok]).sum() / sxx) if sxx > 0 else None


def _before(day: MarketDay, t_ns: int) -> MarketDay:
    """``day`` with only the data stamped before ``t_ns``."""
    from dataclasses import replace

    nb = int(np.searchsorted(day.ts, t_ns, side="left"))
    nt = int(np.searchsorted(day.trade_ts, t_ns, side="left"))
    return replace(
        day, ts=day.ts[:nb], bid_px=day.bid_px[:nb], bid_sz=day.bid_sz[:nb], ask_px=day.ask_px[:nb],
        ask_sz=day.ask_sz[:nb], trade_ts=day.trade_ts[:nt], trade_px=day.trade_px[:nt], trade_sz=day.trade_sz[:nt],
        trade_side=day.trade_side[:nt],
    )  # fmt: skip


def calibrate(
    catalogue: MarketCatalogue, split: str = "train", test_share: float = 0.0, purge_s: float = 0.0
) -> MarketCalibration:
    """Measure the market on the ``split`` days of ``catalogue`` (training days by default). With an
    intraday split (``test_share > 0``), only the data before each day's cut less ``purge_s``."""
    indices = catalogue.indices(split)
    if not indices:
        raise ValueError(f"{catalogue.name}: the {split!r} split has no days to calibrate on")
    symbols = sorted({str(catalogue.day(i).meta.symbol) for i in indices})
    if len(symbols) > 1:
        raise ValueError(
            f"{catalogue.name}: the {split} days hold {len(symbols)} instruments ({', '.join(symbols)}): one impact "
            "model calibrated on all of them fits none (their prices, volumes and impact differ). Load one "
            "instrument per run, or set the impact model yourself (train.py --sim 'permanent_impact=...', or "
            "ExecutionConfig(calibrate_impact=False))"
        )
    r2 = 0.0
    seconds = 0.0
    volume = 0.0
    session_s = []
    mids = []
    spreads, spreads_ticks = [], []
    depth_sum = None
    depth_rows = 0
    sizes = []
    bucket_r2: dict[int, list[float]] = {}
    lam_x, lam_y, y_x, y_y = [], [], [], []
    res_days = []
    lifted = False
    for i in indices:
        day = catalogue.day(i)
        if test_share > 0:
            day = _before(day, intraday_cut(day, test_share) - round(purge_s * NS))
            if day.ts.size < 2:
                continue
        lifted = lifted or is_lifted(day)
        tick = day.meta.tick_size
        session_s.append((day.meta.session_close_ns - day.meta.session_open_ns) / NS)
        grid, mid = _mid_grid(day, 60 * NS)
        if mid.size >= 2:
            r = np.diff(np.log(mid))
            r2 += float((r**2).sum())
            seconds += 60.0 * r.size
            mids.append(float(np.median(mid)))
            bucket = ((grid[1:] - day.meta.session_open_ns) // (1800 * NS)).astype(int)
            for b, v in zip(bucket, r, strict=True):
                bucket_r2.setdefault(int(b), []).append(float(v * v))
        span = (day.ts[-1] - day.ts[0]) / NS if day.ts.size else 0.0
        volume += float(day.trade_sz.sum())
        ok = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
        if ok.any():
            sp = day.ask_px[ok, 0] - day.bid_px[ok, 0]
            spreads.append(float(sp.mean()))
            spreads_ticks.append(float(sp.mean() / tick))
        d = 0.5 * (day.bid_sz.sum(axis=0) + day.ask_sz.sum(axis=0))
        depth_sum = d if depth_sum is None else depth_sum[: d.size] + d[: depth_sum.size]
        depth_rows += day.ts.size
        sizes.append(np.asarray(day.trade_sz))
        # Kyle's lambda on 10 s buckets, Y on 60 s buckets
        g10, m10 = _mid_grid(day, 10 * NS)
        if m10.size >= 2 and (day.trade_side != 0).any():
            lam_x.append(_signed_volume(day, g10))
            lam_y.append(np.diff(m10))
        if mid.size >= 2 and (day.trade_side != 0).any():
            y_x.append(_signed_volume(day, grid))
            y_y.append(np.diff(mid) / mid[:-1])
        day_seconds = span
        res_days.append((day, day_seconds))
    all_sizes = np.concatenate(sizes) if sizes else np.zeros(0)
    vol_s = math.sqrt(r2 / seconds) if seconds > 0 else 0.0
    session = float(np.mean(session_s))
    data_seconds = sum(s for _, s in res_days)
    adv = float(volume / data_seconds * session) if data_seconds > 0 else 0.0
    daily_vol = vol_s * math.sqrt(session)
    kyle = _through_origin(np.concatenate(lam_x), np.concatenate(lam_y)) if lam_x else None
    sqrt_coef = None
    if y_x and daily_vol > 0 and adv > 0:
        q = np.concatenate(y_x)
        x = np.sign(q) * np.sqrt(np.abs(q) / adv)
        sqrt_coef = _through_origin(x, np.concatenate(y_y) / daily_vol)
    resilience = None
    n_events = 0
    if all_sizes.size and not lifted:
        big = float(np.quantile(all_sizes, 0.95))
        times = [t for day, _ in res_days for t in _resilience_events(day, big)]
        n_events = len(times)
        if n_events >= 5:
            resilience = float(np.median(times))
    intraday = {
        f"{b * 30 // 60:02d}:{b * 30 % 60:02d}": math.sqrt(float(np.mean(v)) / 60.0)
        for b, v in sorted(bucket_r2.items())
        if len(v) >= 5
    }
    trade_size = (
        {
            "mean": float(all_sizes.mean()),
            "median": float(np.median(all_sizes)),
            "p90": float(np.quantile(all_sizes, 0.9)),
            "p99": float(np.quantile(all_sizes, 0.99)),
        }
        if all_sizes.size
        else {}
    )
    notes = {"split": split, "estimators": "see exec_env.sim.calibrate"}
    if lifted and adv <= 0:
        notes["liquidity"] = "lifted source without traded volume: no square-root liquidity, the lifted ladder stays"
    if kyle is not None and kyle <= 0:
        notes["kyle_lambda"] = f"estimate {kyle:.3g} <= 0: not used as permanent impact"
    if sqrt_coef is not None and sqrt_coef <= 0:
        notes["sqrt_coef"] = f"estimate {sqrt_coef:.3g} <= 0: sqrt_kwargs fall back to Y = 1"
    return MarketCalibration(
        name=catalogue.name,
        days=len(indices),
        seconds=data_seconds,
        mid_price=float(np.median(mids)) if mids else math.nan,
        vol_per_sqrt_s=vol_s,
        daily_vol=daily_vol,
        intraday_vol=intraday,
        adv=adv,
        spread=float(np.mean(spreads)) if spreads else math.nan,
        spread_ticks=float(np.mean(spreads_ticks)) if spreads_ticks else math.nan,
        depth_per_level=[float(x) for x in (depth_sum / max(depth_rows, 1))] if depth_sum is not None else [],
        trade_size=trade_size,
        kyle_lambda=kyle,
        sqrt_coef=sqrt_coef,
        resilience_s=resilience,
        resilience_events=n_events,
        lifted=lifted,
        notes=notes,
    )


_CACHE: dict[tuple, tuple[MarketCatalogue, MarketCalibration]] = {}


def calibration_for(catalogue: MarketCatalogue, test_share: float = 0.0, purge_s: float = 0.0) -> MarketCalibration:
    """``calibrate(catalogue)`` on its training data, computed once per catalogue object and split."""
    key = (id(catalogue), test_share, purge_s)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is catalogue:
        return hit[1]
    cal = calibrate(catalogue, split="train", test_share=test_share, purge_s=purge_s)
    if len(_CACHE) > 32:
        _CACHE.clear()
    _CACHE[key] = (catalogue, cal)
    return cal

"""A synthetic multi-venue market: several CST order books around one fundamental price.

Each venue is a day of :func:`exec_env.market.synthetic.generate_day` with its own parameters
(limit, market and cancellation rates, order size: hence its own queue sizes and queue dynamics)
and its own seed. Independent CST sessions would drift apart, so every venue but the first is
**anchored** to the first venue's mid (the *primary* venue, whose mid is the fundamental price
``F``): on a grid of ``anchor_interval_s`` from the open, at each grid time ``g`` the venue's
whole book and its trades until the next grid time are shifted by

    offset(g) = tick * round((F(g) - m_v(g)) / tick)

where ``F(g)`` and ``m_v(g)`` are the last valid mids at or before ``g`` (no look-ahead). Between
grid times the venue moves on its own dynamics, so its quotes differ from the primary's by its
own short-term moves (routing has real price differences to find), and they are re-centred every
``anchor_interval_s``. A shift moves both sides by whole ticks, so no venue is ever crossed; the
venues can be crossed with each other for a moment, as real venues are. Book rows are added at
the grid times where the offset changes. A trade stamped exactly at a grid time takes the new
offset.

The default market (:data:`DEFAULT_VENUES`): three venues, 10-minute warm-up as in the
single-venue generator, 5 recorded levels:

========= ============================================ ======== ======= ======== =========
venue     book (vs the single-venue defaults)          maker    taker   rebate   latency
========= ============================================ ======== ======= ======== =========
PRIM      defaults (deep queues, ~2 orders of 100)      0.00     0.30    0.20     1.0 ms
INV       order size 40, k x0.8: thin queues; inverted  0.10     -0.10   0.00     2.0 ms
FAST      order size 60, mu x1.5, faster cancellations  0.00     0.25    0.15     0.5 ms
========= ============================================ ======== ======= ======== =========

(fees in bps of notional: 0.30 bps at a price of 100 is $0.003 per share.) Days are
deterministic in ``(seed, day_index)``; the catalogue is cached like the single-venue one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from exec_env.market.data import MarketDay, validate
from exec_env.market.synthetic import SIM_DEFAULTS, SyntheticParams, _cache_root, _prices, generate_day
from exec_env.market.venues import MultiVenueDay, VenueCatalogue, VenueSpec, combine_venues, save_multi

__all__ = ["DEFAULT_VENUES", "SyntheticVenue", "anchor", "generate_venue_day", "synthetic_venue_catalogue"]

VENUE_GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SyntheticVenue:
    """One synthetic venue: its order-book parameters and its fee schedule / latency."""

    spec: VenueSpec
    params: SyntheticParams


_BASE = SyntheticParams(levels=5)
DEFAULT_VENUES: tuple[SyntheticVenue, ...] = (
    SyntheticVenue(VenueSpec("PRIM", 0.0, 0.30, 0.20, 1.0), _BASE),
    SyntheticVenue(VenueSpec("INV", 0.10, -0.10, 0.0, 2.0), replace(_BASE, order_size=40.0, k=_BASE.k * 0.8)),
    SyntheticVenue(
        VenueSpec("FAST", 0.0, 0.25, 0.15, 0.5),
        replace(_BASE, order_size=60.0, mu=_BASE.mu * 1.5, theta=tuple(1.3 * x for x in _BASE.theta)),
    ),
)


def _ffill_mid(day: MarketDay) -> np.ndarray:
    mid = day.mid()
    ok = np.isfinite(mid)
    idx = np.where(ok, np.arange(mid.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = mid[idx]
    out[~ok & (np.cumsum(ok) == 0)] = np.nan
    return out


def _at(ts: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    rows = np.searchsorted(ts, t, side="right") - 1
    return np.where(rows >= 0, values[np.maximum(rows, 0)], np.nan)


def anchor(day: MarketDay, fundamental: MarketDay, interval_s: float) -> MarketDay:
    """Shift ``day`` onto ``fundamental``'s mid every ``interval_s`` (see the module docstring)."""
    tick = day.meta.tick_size
    open_ns, close_ns = day.meta.session_open_ns, day.meta.session_close_ns
    step = round(interval_s * 1e9)
    grid = np.arange(open_ns, close_ns + 1, step, dtype=np.int64)
    f = _at(fundamental.ts, _ffill_mid(fundamental), grid)
    m = _at(day.ts, _ffill_mid(day), grid)
    off = np.round((f - m) / tick)
    off[~np.isfinite(off)] = 0.0
    changes = grid[np.flatnonzero(np.diff(off, prepend=np.nan) != 0)]
    ts = np.union1d(day.ts, changes[changes >= day.ts[0]])
    src = np.searchsorted(day.ts, ts, side="right") - 1
    shift = off[np.searchsorted(grid, ts, side="right") - 1][:, None]

    def move(px: np.ndarray, sz: np.ndarray, rows: np.ndarray, ticks: np.ndarray) -> np.ndarray:
        q = np.round(px[rows] / tick) + ticks
        return _prices(np.nan_to_num(q), sz[rows], tick)

    tshift = off[np.maximum(np.searchsorted(grid, day.trade_ts, side="right") - 1, 0)]
    trade_px = _prices(np.round(day.trade_px / tick) + tshift, np.ones_like(day.trade_px), tick)
    notes = {**day.meta.notes, "anchored_to": fundamental.meta.symbol, "anchor_interval_s": interval_s}
    out = replace(
        day, meta=replace(day.meta, notes=notes), ts=ts.astype(np.int64),
        bid_px=move(day.bid_px, day.bid_sz, src, shift), bid_sz=np.ascontiguousarray(day.bid_sz[src]),
        ask_px=move(day.ask_px, day.ask_sz, src, shift), ask_sz=np.ascontiguousarray(day.ask_sz[src]),
        trade_px=trade_px,
    )  # fmt: skip
    return validate(out)


def _venue_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([int(seed), 7919, k]).generate_state(1, dtype=np.uint32)[0])


def generate_venue_day(
    venues: tuple[SyntheticVenue, ...] = DEFAULT_VENUES,
    seed: int = 0,
    day_index: int = 0,
    session_seconds: float | None = None,
    anchor_interval_s: float = 1.0,
) -> MultiVenueDay:
    """Session ``day_index`` of the multi-venue market; deterministic in ``(venues, seed, day_index)``.
    ``session_seconds`` overrides every venue's session length (short days for tests)."""
    if not (isinstance(venues, tuple) and venues and all(isinstance(v, SyntheticVenue) for v in venues)):
        raise ValueError(f"venues = {venues!r} is invalid; allowed: a non-empty tuple of SyntheticVenue")
    if not (0.001 <= anchor_interval_s <= 3600):
        raise ValueError(f"anchor_interval_s = {anchor_interval_s!r} is outside the allowed range [0.001, 3600]")
    days = []
    for k, v in enumerate(venues):
        p = v.params if session_seconds is None else replace(v.params, session_seconds=session_seconds)
        p = replace(p, symbol="SYNTH")
        day = generate_day(p, seed=_venue_seed(seed, k), day_index=day_index)
        days.append(day if k == 0 else anchor(day, days[0], anchor_interval_s))
    names = [v.spec.name for v in venues]
    source = f"synthetic multi-venue v{VENUE_GENERATOR_VERSION} ({','.join(names)}; seed={seed}, day_index={day_index})"
    return combine_venues(
        days, list(range(1, len(venues) + 1)), names, source, notes={"anchor_interval_s": anchor_interval_s}
    )


def synthetic_venue_catalogue(
    n_days: int = 12,
    n_test: int = 4,
    seed: int = 0,
    venues: tuple[SyntheticVenue, ...] = DEFAULT_VENUES,
    cache_dir: str | Path | None = None,
) -> VenueCatalogue:
    """Generate (or reuse) days under ``cache_dir/synthetic-venues-<hash>/day_XXX``; the newest
    ``n_test`` days are the test split. The market's fee schedules are the catalogue's ``venue_specs``."""
    if not (isinstance(n_days, int) and n_days >= 1):
        raise ValueError(f"n_days = {n_days!r} is outside the allowed range: an integer >= 1")
    if not (isinstance(n_test, int) and 0 <= n_test < n_days):
        raise ValueError(f"n_test = {n_test!r} is outside the allowed range 0..{n_days - 1}")
    desc = {
        "version": VENUE_GENERATOR_VERSION,
        "seed": int(seed),
        "venues": [
            {"spec": asdict(v.spec), "params": {**asdict(v.params), "theta": list(v.params.theta)}} for v in venues
        ],
    }
    key = json.dumps(desc, sort_keys=True)
    folder = _cache_root(cache_dir) / f"synthetic-venues-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_days):
        path = folder / f"day_{i:03d}"
        if not (path / "venues.json").is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".day_{i:03d}.", dir=folder))
            try:
                save_multi(generate_venue_day(venues, seed, i), tmp)
                shutil.rmtree(path, ignore_errors=True)
                try:
                    tmp.rename(path)
                except OSError:
                    if not (path / "venues.json").is_file():
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        paths.append(path)
    return VenueCatalogue(
        paths, n_test=n_test, name="synthetic-venues", venue_specs=tuple(v.spec for v in venues),
        sim_defaults=dict(SIM_DEFAULTS),
    )  # fmt: skip

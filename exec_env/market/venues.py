"""Multi-venue market data: one :class:`MarketDay` per venue of one instrument and session.

A :class:`MultiVenueDay` holds each venue's own book and its own trades (the trades printed on
that venue), with the venue id on every book row (``MarketDay.venue``) and on every trade of
:meth:`MultiVenueDay.trades`. All venues share the tick, the lot and the session of
``MultiVenueDay.meta``. Sources:

* :func:`from_databento`: a Databento MBP-1/MBP-10/MBO file, one venue per ``publisher_id`` of
  the selected instrument (each read by ``exec_env.market.databento.load(publisher_id=...)``
  with a common tick and session). The shared sample (CME Globex ES) has a single publisher, so
  it gives a one-venue day;
* :func:`from_taq`: TAQ quotes with their ``EX`` column and trades with theirs
  (``exec_env.market.taq.load_venue_books``), one MultiVenueDay per New York date;
* ``exec_env.market.synthetic_venues``: the default synthetic multi-venue market.

A :class:`VenueCatalogue` orders days oldest first with the newest ``n_test`` held out, like
:class:`~exec_env.market.catalogue.MarketCatalogue`; saved days (:func:`save_multi`) are
memory-mapped on load. :class:`VenueSpec` is one venue's fee schedule and latency, the unit of the
per-venue configuration of ``exec_env/Routing-v0``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from exec_env.market.catalogue import DayCatalogue
from exec_env.market.data import MarketDay, MarketMeta, load_day, save_day, validate

__all__ = [
    "TRADE_DTYPE",
    "MultiVenueDay",
    "VenueCatalogue",
    "VenueSpec",
    "combine_venues",
    "from_databento",
    "from_taq",
    "load_multi",
    "save_multi",
]

TRADE_DTYPE = np.dtype([("ts", "i8"), ("px", "f8"), ("sz", "f8"), ("side", "i1"), ("venue", "i2")])
"""Trades of every venue in one array (:meth:`MultiVenueDay.trades`)."""

_MULTI_VERSION = 1


def _check(owner: str, name: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{owner}.{name} = {value!r} is outside the allowed range: {allowed}")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class VenueSpec:
    """One venue's fee schedule (bps of notional) and order latency.

    A passive fill pays ``maker_fee_bps - rebate_bps`` (negative: a net rebate); an aggressive
    fill pays ``taker_fee_bps`` (negative on inverted venues, which pay takers).
    """

    name: str
    maker_fee_bps: float = 0.0
    """Fee on passive (resting) fills."""
    taker_fee_bps: float = 0.3
    """Fee on marketable fills, including the forced liquidation."""
    rebate_bps: float = 0.2
    """Rebate paid to passive fills (subtracted from ``maker_fee_bps``)."""
    latency_ms: float = 1.0
    """Order-to-venue latency: an order decided at t reaches this venue's book at t + latency."""

    def __post_init__(self) -> None:
        owner = "VenueSpec"
        _check(owner, "name", self.name, isinstance(self.name, str) and len(self.name) > 0, "a non-empty string")
        for name in ("maker_fee_bps", "taker_fee_bps", "rebate_bps"):
            v = getattr(self, name)
            _check(owner, name, v, _finite(v) and -100.0 <= v <= 100.0, "[-100, 100] bps")
        _check(
            owner,
            "latency_ms",
            self.latency_ms,
            _finite(self.latency_ms) and 0 <= self.latency_ms <= 60_000,
            "[0, 60000] ms",
        )

    @property
    def passive_fee_bps(self) -> float:
        """Net fee of a passive fill (maker fee less rebate)."""
        return self.maker_fee_bps - self.rebate_bps


@dataclass(frozen=True, eq=False)
class MultiVenueDay:
    """One session of one instrument on several venues: ``venues[k]`` is venue ``venue_ids[k]``."""

    meta: MarketMeta
    venues: tuple[MarketDay, ...]
    venue_ids: tuple[int, ...]
    venue_names: tuple[str, ...]

    def __post_init__(self) -> None:
        src = self.meta.source
        n = len(self.venues)
        if n == 0:
            raise ValueError(f"{src}: a MultiVenueDay needs at least one venue")
        if len(self.venue_ids) != n or len(self.venue_names) != n:
            raise ValueError(
                f"{src}: {n} venues but {len(self.venue_ids)} venue_ids and {len(self.venue_names)} venue_names"
            )
        if len(set(self.venue_ids)) != n:
            raise ValueError(f"{src}: venue_ids must be distinct, got {list(self.venue_ids)}")
        for k, day in enumerate(self.venues):
            m = day.meta
            for name in ("tick_size", "lot_size", "session_open_ns", "session_close_ns"):
                if getattr(m, name) != getattr(self.meta, name):
                    raise ValueError(
                        f"{src}: venue {self.venue_names[k]} has {name} = {getattr(m, name)!r}, the day has "
                        f"{getattr(self.meta, name)!r} (venues share tick, lot and session)"
                    )
            if day.venue is not None and not np.all(np.asarray(day.venue) == self.venue_ids[k]):
                raise ValueError(f"{src}: venue {self.venue_names[k]}'s book rows carry another venue id")

    @property
    def n_venues(self) -> int:
        return len(self.venues)

    def trades(self) -> np.ndarray:
        """Every venue's trades in time order (stable: venues in order at equal times), with the venue id."""
        parts = []
        for vid, day in zip(self.venue_ids, self.venues, strict=True):
            t = np.empty(day.n_trades, dtype=TRADE_DTYPE)
            t["ts"], t["px"], t["sz"], t["side"] = day.trade_ts, day.trade_px, day.trade_sz, day.trade_side
            t["venue"] = vid
            parts.append(t)
        out = np.concatenate(parts)
        return out[np.argsort(out["ts"], kind="stable")]

    def __repr__(self) -> str:
        names = ",".join(self.venue_names)
        return f"MultiVenueDay({self.meta.symbol} {self.meta.date}, venues [{names}], source={self.meta.source!r})"


def combine_venues(
    days: list[MarketDay], ids: list[int], names: list[str], source: str, notes: dict | None = None
) -> MultiVenueDay:
    """Put per-venue days of one instrument together: the session becomes the union of theirs
    (earliest open, latest close), every book row gets its venue id; ticks and lots must agree."""
    if not days:
        raise ValueError(f"{source}: no venue days to combine")
    ticks = {d.meta.tick_size for d in days}
    lots = {d.meta.lot_size for d in days}
    if len(ticks) != 1 or len(lots) != 1:
        raise ValueError(f"{source}: venues disagree on tick_size {sorted(ticks)} or lot_size {sorted(lots)}")
    first = days[0].meta
    meta = replace(
        first,
        session_open_ns=min(d.meta.session_open_ns for d in days),
        session_close_ns=max(d.meta.session_close_ns for d in days),
        source=source,
        notes={**(notes or {}), "venue_ids": list(ids), "venue_names": list(names)},
    )
    out = []
    for d, vid in zip(days, ids, strict=True):
        m = replace(d.meta, session_open_ns=meta.session_open_ns, session_close_ns=meta.session_close_ns)
        out.append(validate(replace(d, meta=m, venue=np.full(d.n_books, vid, dtype=np.int16))))
    return MultiVenueDay(meta=meta, venues=tuple(out), venue_ids=tuple(int(i) for i in ids), venue_names=tuple(names))


# ----------------------------------------------------------------------------------------------
# Saving and loading
# ----------------------------------------------------------------------------------------------


def save_multi(day: MultiVenueDay, directory: str | Path) -> Path:
    """Write each venue with :func:`save_day` under ``venue_<k>/`` and ``venues.json`` last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for k, v in enumerate(day.venues):
        save_day(v, directory / f"venue_{k}")
    desc = {
        "_version": _MULTI_VERSION,
        "meta": asdict(day.meta),
        "venue_ids": list(day.venue_ids),
        "venue_names": list(day.venue_names),
    }
    tmp = directory / "venues.json.tmp"
    tmp.write_text(json.dumps(desc, indent=1, sort_keys=True))
    tmp.replace(directory / "venues.json")
    return directory


def load_multi(directory: str | Path, mmap: bool = True) -> MultiVenueDay:
    """Load a day written by :func:`save_multi` (venue arrays memory-mapped)."""
    directory = Path(directory)
    path = directory / "venues.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no venues.json (not a saved MultiVenueDay, or an incomplete write)")
    raw = json.loads(path.read_text())
    if raw.get("_version") != _MULTI_VERSION:
        raise ValueError(f"{path}: version {raw.get('_version')!r}, this exec_env reads version {_MULTI_VERSION}")
    ids = tuple(raw["venue_ids"])
    venues = tuple(load_day(directory / f"venue_{k}", mmap=mmap) for k in range(len(ids)))
    return MultiVenueDay(MarketMeta(**raw["meta"]), venues, ids, tuple(raw["venue_names"]))


@dataclass(eq=False)
class VenueCatalogue(DayCatalogue):
    """Multi-venue days (oldest first); the newest ``n_test`` are the test split.

    ``venue_specs`` are the market's default fee schedule and latency per venue (used when the
    env's ``venues`` is None); ``sim_defaults`` the SimConfig fields of its impact model.
    """

    name: str = "venues"
    venue_specs: tuple[VenueSpec, ...] = ()

    DAY_TYPE: ClassVar[type] = MultiVenueDay

    @staticmethod
    def load_saved(path: Path) -> MultiVenueDay:
        return load_multi(path)

    def day(self, index: int) -> MultiVenueDay:
        return super().day(index)


# ----------------------------------------------------------------------------------------------
# Real sources
# ----------------------------------------------------------------------------------------------

DATABENTO_PUBLISHERS = {1: "GLBX.MDP3 (CME Globex)", 2: "XNAS.ITCH (Nasdaq)", 39: "XNYS.PILLAR (NYSE)"}
"""Names of a few Databento publisher ids (others are named ``publisher <id>``)."""


def from_databento(path: str | Path, **options: Any) -> list[MultiVenueDay]:
    """One MultiVenueDay from a Databento book file, a venue per ``publisher_id``.

    Options: ``instrument_id``/``symbol`` (as ``databento.load``), ``tick_size`` (default: inferred
    from every publisher's prices together), ``session_open``/``session_close`` (default: the
    first and last record times over all publishers), ``crossed``, ``clock``, ``levels``. Each
    venue keeps its own trade records (``trades="records"``: a trades companion file holds every
    publisher's trades at once).
    """
    from exec_env.market import databento as db

    path = Path(path)
    allowed = {"instrument_id", "symbol", "tick_size", "session_open", "session_close", "crossed", "clock", "levels"}
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"from_databento: options {sorted(unknown)} are unknown; allowed: {sorted(allowed)}")
    clock = options.get("clock", "ts_recv")
    rec = db._select(db._read(path, clock, "auto"), options.get("instrument_id"), options.get("symbol"), None)
    if rec.clock.size == 0:
        raise ValueError(f"{path}: no records for the selected instrument")
    pubs = [int(p) for p in np.unique(rec.publisher_id)]
    tick = options.get("tick_size")
    if tick is None:
        prices = [rec.price] + ([] if rec.book is None else [rec.book["bid_px"].ravel(), rec.book["ask_px"].ravel()])
        tick = db._infer_tick(path, np.concatenate(prices))
    open_ns = options.get("session_open", int(rec.clock.min()))
    close_ns = options.get("session_close", max(int(rec.clock.max()), int(rec.clock.min()) + 1))
    kw = {k: options[k] for k in ("crossed", "levels") if k in options}
    days = []
    for p in pubs:
        (d,) = db.load(
            path, instrument_id=int(rec.notes["instrument_id"]), publisher_id=p, tick_size=float(tick),
            session_open=open_ns, session_close=close_ns, clock=clock, trades="records", **kw,
        )  # fmt: skip
        days.append(d)
    names = [DATABENTO_PUBLISHERS.get(p, f"publisher {p}") for p in pubs]
    notes = {"format": "databento", "publisher_ids": pubs}
    return [combine_venues(days, pubs, names, source=str(path), notes=notes)]


def from_taq(path: str | Path, venues: str | None = None, **options: Any) -> list[MultiVenueDay]:
    """One MultiVenueDay per New York date from TAQ quotes (``EX``) and their trades companion.

    ``venues``: the exchange codes to keep, in that order (e.g. ``"NPTZ"``); default every venue
    quoting in the session on every date. Each venue's book is its own quote (one level, sizes
    in shares) and its trades are the trades printed on it (``EX``), sides inferred against the
    consolidated NBBO; other options are ``taq.load_venue_books``'s (e.g. ``session``).
    """
    from exec_env.market import taq

    books = taq.load_venue_books(Path(path), **options)
    by_date: dict[str, dict[str, MarketDay]] = {}
    for ex, days in books.items():
        for d in days:
            by_date.setdefault(d.meta.date, {})[ex] = d
    dates = sorted(by_date)
    if venues is None:
        common = set.intersection(*(set(v) for v in by_date.values())) if by_date else set()
        chosen = sorted(common)
    else:
        if not (isinstance(venues, str) and venues and len(set(venues)) == len(venues)):
            raise ValueError(f"from_taq: venues = {venues!r} is invalid; allowed: distinct exchange codes, e.g. 'NPTZ'")
        chosen = list(venues)
        for date in dates:
            missing = [e for e in chosen if e not in by_date[date]]
            if missing:
                raise ValueError(
                    f"{path}: venues = {venues!r}: {''.join(missing)} has no quotes in the session of {date} "
                    f"(venues quoting: {''.join(sorted(by_date[date]))})"
                )
    if not chosen:
        raise ValueError(f"{path}: no venue quotes in the session on every date")
    out = []
    for date in dates:
        days = [by_date[date][e] for e in chosen]
        ids = [taq.VENUE_CODES[e] for e in chosen]
        names = [f"{e} {taq.EXCHANGES[e]}" for e in chosen]
        out.append(combine_venues(days, ids, names, source=f"{path} ({date})", notes={"format": "taq"}))
    return out

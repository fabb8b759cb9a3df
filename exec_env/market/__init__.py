"""Market data: the canonical in-memory form and every source that produces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exec_env.market.catalogue import MarketCatalogue
from exec_env.market.data import MarketDay, MarketMeta, load_day, mirror_day, save_day, validate

__all__ = [
    "MarketCatalogue",
    "MarketDay",
    "MarketMeta",
    "load_day",
    "mirror_day",
    "resolve_market",
    "save_day",
    "validate",
]


def resolve_market(market: Any) -> MarketCatalogue:
    """Turn an env's ``market`` setting into a catalogue.

    ``"synthetic"``: the embedded generator's default catalogue (generated once, then cached);
    a path, folder or glob: ``load_market(market)`` (format auto-detected, no test days);
    a :class:`MarketCatalogue` as is; a single :class:`MarketDay`: a one-day catalogue (no test days).
    """
    if isinstance(market, MarketCatalogue):
        return market
    if isinstance(market, MarketDay):
        return MarketCatalogue([market], n_test=0, name=f"{market.meta.symbol} {market.meta.date}")
    if isinstance(market, str) and market == "synthetic":
        from exec_env.market.synthetic import synthetic_catalogue

        return synthetic_catalogue()
    if isinstance(market, (str, Path)):
        from exec_env.market.sources import load_market

        return load_market(market)
    raise ValueError(f"market={market!r}: expected 'synthetic', a path/glob, a MarketCatalogue or a MarketDay")

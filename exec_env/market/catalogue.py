"""A catalogue of trading days with a chronological train/test split.

Days are held either as saved directories (memory-mapped on load, so subprocess workers receive
paths and never pickle large arrays) or as in-memory :class:`MarketDay` objects (small tests).
The last ``n_test`` days are the test days: evaluation never sees a training day, and a test
day is never earlier than a training day.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from exec_env.market.data import MarketDay, load_day

__all__ = ["MarketCatalogue", "Split"]

Split = Literal["train", "test", "all"]


@dataclass(eq=False)
class MarketCatalogue:
    """Ordered days (oldest first) and how many of the newest are held out for testing."""

    days: list[MarketDay | Path]
    n_test: int = 0
    name: str = "catalogue"
    notes: dict = field(default_factory=dict)
    """Facts about where the days came from (files read, files skipped)."""
    sim_defaults: dict = field(default_factory=dict)
    """SimConfig fields this market is calibrated for (used when the env's ``sim`` is None)."""
    _cache: OrderedDict[int, MarketDay] = field(default_factory=OrderedDict, repr=False)
    _cache_size: int = 4

    def __post_init__(self) -> None:
        self.days = [d if isinstance(d, MarketDay) else Path(d) for d in self.days]
        if not self.days:
            raise ValueError(f"{self.name}: a catalogue needs at least one day")
        if not 0 <= self.n_test < len(self.days):
            raise ValueError(
                f"{self.name}: n_test={self.n_test} must be in 0..{len(self.days) - 1} "
                f"(at least one training day of {len(self.days)})"
            )

    def __len__(self) -> int:
        return len(self.days)

    def indices(self, split: Split) -> list[int]:
        """Day indices of a split; with ``n_test == 0`` the test split is empty."""
        n = len(self.days)
        if split == "train":
            return list(range(n - self.n_test))
        if split == "test":
            return list(range(n - self.n_test, n))
        if split == "all":
            return list(range(n))
        raise ValueError(f"{self.name}: split must be 'train', 'test' or 'all', got {split!r}")

    def day(self, index: int) -> MarketDay:
        """The day at ``index`` (loaded memory-mapped and kept in a small LRU)."""
        item = self.days[index]
        if isinstance(item, MarketDay):
            return item
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        loaded = load_day(item)
        self._cache[index] = loaded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return loaded

    def skipped_message(self) -> str | None:
        """One line saying which input files were not loaded, or None (for a command to print)."""
        skipped = self.notes.get("skipped") or []
        if not skipped:
            return None
        unreadable = self.notes.get("unreadable") or []
        names = ", ".join(Path(p).name for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        what = f"{len(unreadable)} unreadable, {len(skipped) - len(unreadable)} documentation"
        return f"{self.name}: skipped {len(skipped)} file(s) ({what}): {names}"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # memory maps are re-opened in the receiving process
        return state

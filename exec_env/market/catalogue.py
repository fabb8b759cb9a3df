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
from typing import ClassVar, Literal

from exec_env.market.data import MarketDay, load_day

__all__ = ["DayCatalogue", "MarketCatalogue", "Split", "intraday_cut"]

Split = Literal["train", "test", "all"]


@dataclass(eq=False)
class DayCatalogue:
    """Ordered days (oldest first) of any day type, held in memory or as saved directories (loaded
    on demand, memory-mapped, in a small LRU), and how many of the newest are held out for testing.
    Subclasses name their day type and how a saved directory is loaded."""

    days: list
    n_test: int = 0
    name: str = "catalogue"
    notes: dict = field(default_factory=dict)
    """Facts about where the days came from (files read, files skipped)."""
    sim_defaults: dict = field(default_factory=dict)
    """SimConfig fields this market is calibrated for (used when the env's ``sim`` is None)."""
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _cache_size: int = 4

    DAY_TYPE: ClassVar[type] = MarketDay

    @staticmethod
    def load_saved(path: Path):
        return load_day(path)

    def __post_init__(self) -> None:
        self.days = [d if isinstance(d, self.DAY_TYPE) else Path(d) for d in self.days]
        if not self.days:
            raise ValueError(f"{self.name}: a catalogue needs at least one day")
        if not (isinstance(self.n_test, int) and 0 <= self.n_test < len(self.days)):
            raise ValueError(
                f"{self.name}: n_test={self.n_test!r} must be in 0..{len(self.days) - 1} "
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

    def day(self, index: int):
        """The day at ``index`` (loaded memory-mapped and kept in a small LRU)."""
        item = self.days[index]
        if isinstance(item, self.DAY_TYPE):
            return item
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        loaded = self.load_saved(item)
        self._cache[index] = loaded
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return loaded

    def date(self, index: int) -> str:
        """The session date of day ``index`` (``"day <index>"`` for a day without one). The sessions
        of one date (several symbols) move together: one independent unit of an evaluation, and
        never split between training and test."""
        date = self.day(index).meta.date
        return str(date) if date else f"day {index}"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # memory maps are re-opened in the receiving process
        return state


@dataclass(eq=False)
class MarketCatalogue(DayCatalogue):
    """Ordered :class:`MarketDay` s (oldest first) and how many of the newest are held out for testing."""

    def day(self, index: int) -> MarketDay:
        return super().day(index)

    def skipped_message(self) -> str | None:
        """One line saying which input files were not loaded, or None (for a command to print)."""
        skipped = self.notes.get("skipped") or []
        if not skipped:
            return None
        unreadable = self.notes.get("unreadable") or []
        names = ", ".join(Path(p).name for p in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        what = f"{len(unreadable)} unreadable, {len(skipped) - len(unreadable)} documentation"
        return f"{self.name}: skipped {len(skipped)} file(s) ({what}): {names}"


def intraday_cut(day: MarketDay, test_share: float) -> int:
    """Where an intraday split cuts ``day`` (ns): the last ``test_share`` of its data inside the
    session (``max(open, first row)`` .. ``min(close, last row)``) is test time."""
    first = max(int(day.meta.session_open_ns), int(day.ts[0]))
    last = min(int(day.meta.session_close_ns), int(day.ts[-1]))
    return last - round(test_share * (last - first))

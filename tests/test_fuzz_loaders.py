"""A seeded fuzz of the seven loaders (issue 9): every mutated file loads into valid days or fails
with a short error naming the file; no raw exception ever.

Each case is one base file (``tests/fuzz.py``, from the package's writers) with random
structure-aware mutations, drawn from ``random.Random(seed)``; it is loaded through the format's
``load`` with one of its option sets and, for every third seed, through ``sources.load_days``
with auto-detection. The outcome must be

* a list of days, each passing ``data.validate``, with no NaN price at a level holding size (and
  not when a compressed stream was cut short: that is a silent truncation); or
* a ``ValueError`` / ``ImportError`` / ``FileNotFoundError`` under 300 characters naming one of
  the case's files. When the mutations changed one field of a specific line or DBN record (and
  no whole-file mutation such as a truncation or byte flip came after them), a ``ValueError``
  must also say where: ``line `` or ``record ``; a header field counts as a header change (not
  a line), and errors about the file as a whole that one changed field can cause (a tick size no
  longer inferable, a format no longer recognised: ``WHOLE_FILE``) pass.

A failure lists seed, base, options and mutations: ``mutate(base, seed)`` rebuilds the case.
"""

from __future__ import annotations

import importlib
import os
import shutil
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from exec_env.market import sources
from exec_env.market.data import validate
from tests.fuzz import Base, make_bases, mutate

SEEDS = {"lobster": 800, "databento": 1000, "binance": 600, "tardis": 1500, "fx_ticks": 1500, "bars": 1000, "taq": 1000}
"""Cases per format: about 25 s in all on 2 cores; ``FUZZ_SCALE=4`` runs four times as many."""
ALLOWED = (ValueError, ImportError, FileNotFoundError)
WHOLE_FILE = ("no known market data format recognizes", "cannot infer")


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> list[Base]:
    return make_bases(tmp_path_factory.mktemp("bases"))


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def problem(load, files: list[str], case, read: bool) -> str | None:
    """What is wrong with the outcome of ``load()``, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            days = load()
    except ALLOWED as exc:
        text = str(exc)
        if len(text) >= 300:
            return f"{type(exc).__name__} of {len(text)} characters: {text[:200]}..."
        if not any(name in text for name in files):
            return f"{type(exc).__name__} naming none of the files: {text}"
        located = "line " in text or "record " in text or any(w in text for w in WHOLE_FILE)
        if isinstance(exc, ValueError) and case.line and not located:
            return f"ValueError naming no line or record: {text}"
        return None
    except Exception as exc:  # any other exception is a failure
        return f"raw {type(exc).__name__}: {str(exc)[:200]}"
    if case.cut_stream and read:
        return f"a cut compressed stream loaded silently ({len(days)} days)"
    for day in days:
        try:
            validate(day)
        except ValueError as exc:
            return f"a loaded day fails validate: {str(exc)[:200]}"
        for px, sz in ((day.bid_px, day.bid_sz), (day.ask_px, day.ask_sz)):
            if (np.isnan(px) & (sz > 0)).any():
                return "a loaded day has a NaN price at a level holding size"
    return None


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_fuzzed_files_load_or_fail_cleanly(fmt: str, bases: list[Base], tmp_path: Path) -> None:
    module = importlib.import_module(sources.FORMATS[fmt])
    mine = [b for b in bases if b.fmt == fmt]
    failures = []
    seeds = range(round(SEEDS[fmt] * float(os.environ.get("FUZZ_SCALE", 1))))
    for seed in seeds:
        base = mine[seed % len(mine)]
        case = mutate(base, seed)
        folder = write(tmp_path / str(seed), case.files)
        options = base.options[seed // len(mine) % len(base.options)]
        path = folder / base.target
        loads = [("load", partial(module.load, path, **options))]
        if seed % 3 == 0:
            loads.append(("load_days", partial(sources.load_days, path, cache=False, **options)))
        read = case.mutated == base.target or options.get("trades") is not False  # is the mutated file read?
        found = [(how, f) for how, load in loads if (f := problem(load, list(case.files), case, read))]
        for how, f in found:
            failures.append(f"seed {seed} base {base.name} {how}({options}) mutated {case.mutated}: "
                            f"{'; '.join(case.desc)[:150]}\n    -> {f}")  # fmt: skip
        if not found:
            shutil.rmtree(folder)  # keep only the failing cases' files (8,400 cases would take ~0.5 GB)
    assert not failures, f"{len(failures)} failures in {len(seeds)} cases:\n" + "\n".join(failures)


def test_every_base_loads_with_every_option_set(bases: list[Base], tmp_path: Path) -> None:
    for base in bases:
        folder = write(tmp_path / base.name, base.files)
        module = importlib.import_module(sources.FORMATS[base.fmt])
        assert sources.detect_format(folder / base.target) == base.fmt, base.name
        for options in base.options:
            days = module.load(folder / base.target, **options)
            assert days and all(len(d.ts) >= 5 for d in days), (base.name, options)

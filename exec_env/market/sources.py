"""Market data sources: format registry, auto-detection, parse cache, and catalogues of days.

Every format is a module of ``exec_env.market`` with

* ``sniff(path: Path) -> bool``: does this file look like the format (reads at most a few KB);
* ``load(path: Path, **options) -> list[MarketDay]``: parse and validate, one day per session;
* optionally ``companions(path: Path) -> list[Path]``: files read together with ``path`` (a
  LOBSTER orderbook file is the companion of its message file), and ``VERSION: int`` (bumped
  when the parser's output changes, so caches are rebuilt).

``load_market`` turns a file, a folder, a glob or a list of them into a
:class:`~exec_env.market.catalogue.MarketCatalogue`, parsing each input once: the parsed days
are saved as memory-mappable ``.npy`` files under the cache folder, keyed by the inputs' paths,
sizes and modification times, the format, the options and the parser version.
"""

from __future__ import annotations

import glob as globlib
import hashlib
import importlib
import json
import os
import shutil
import struct
import tempfile
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from exec_env.market import facts, reader
from exec_env.market.catalogue import MarketCatalogue
from exec_env.market.data import MarketDay, load_day, save_day

__all__ = ["FORMATS", "cache_root", "detect_format", "load_days", "load_market"]

# Order matters for auto-detection: the first format whose sniff() accepts a file wins, and a
# file accepted by two formats is an error unless the first is listed here first on purpose.
FORMATS: dict[str, str] = {
    "lobster": "exec_env.market.lobster",
    "databento": "exec_env.market.databento",
    "binance": "exec_env.market.crypto",
    "tardis": "exec_env.market.tardis",
    "taq": "exec_env.market.taq",
    "fx_ticks": "exec_env.market.fx",
    "bars": "exec_env.market.bars",
    "parquet": "exec_env.market.parquet",
}


def _module(fmt: str) -> ModuleType:
    if fmt not in FORMATS:
        raise ValueError(f"format={fmt!r} is unknown; known formats: {', '.join(FORMATS)} (or 'auto')")
    return importlib.import_module(FORMATS[fmt])


def _available_modules() -> list[tuple[str, ModuleType]]:
    out = []
    for fmt in FORMATS:
        try:
            out.append((fmt, _module(fmt)))
        except ModuleNotFoundError as exc:  # a format whose module is not written yet
            if exc.name != FORMATS[fmt]:
                raise
    return out


def detect_format(path: str | Path) -> str:
    """The registered format that recognizes ``path``; ``ValueError`` if none does."""
    path = Path(path)
    for fmt, module in _available_modules():
        if module.sniff(path):
            return fmt
    names = ", ".join(f for f, _ in _available_modules())
    raise ValueError(f"{path}: no known market data format recognizes this file (formats: {names}); pass format=...")


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$EXEC_ENV_CACHE``, else ``~/.cache/exec_env``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EXEC_ENV_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "exec_env"


def _cache_key(inputs: list[Path], fmt: str, version: int, options: dict[str, Any]) -> str:
    files = []
    for p in inputs:
        st = os.stat(p)
        files.append([os.path.abspath(p), st.st_size, st.st_mtime_ns])
    blob = json.dumps(
        {"files": files, "format": fmt, "version": version, "options": options}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


_UNEXPECTED = (IndexError, KeyError, EOFError, UnicodeError, OverflowError, struct.error, zlib.error)


def _parse(module: ModuleType, fmt: str, path: Path | list[Path], options: dict[str, Any]) -> list[MarketDay]:
    """``module.load``; when it fails on a file the reader layer refuses (empty, truncated, binary),
    the reader's error is raised instead, and an unexpected exception becomes a short ValueError."""
    files = path if isinstance(path, list) else [path]
    try:
        return module.load(path, **options)
    except reader.DataFileError:
        raise
    except ValueError as exc:
        for f in files:
            reader.diagnose(f)  # the file itself is unreadable: say that, not what the parser tripped on
        if len(str(exc)) > 600:
            raise ValueError(f"{reader.excerpt(str(exc), 500)} [message cut]") from exc
        raise
    except _UNEXPECTED as exc:
        for f in files:
            reader.diagnose(f)
        raise reader.DataFileError(
            f"{', '.join(map(str, files))}: cannot be read as {fmt}: {type(exc).__name__} {reader.excerpt(str(exc), 80)} "
            "(a case the loader does not name yet: please report it)"
        ) from exc


def load_days(
    path: str | Path | Sequence[str | Path],
    format: str = "auto",
    cache: bool = True,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> list[MarketDay]:
    """Parse one input (a file with its companions, or a list of the files of one stream, oldest
    first, for a format with ``stream_key``) into validated days, through the cache.

    With ``cache=True`` the first load parses and saves; later loads memory-map the saved days
    (``.npy``), which is what makes a second load fast.
    """
    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file")
    path = paths[0]
    fmt = detect_format(path) if format == "auto" else format
    module = _module(fmt)
    reader.check_option_names(fmt, module.load, options)
    if len(paths) > 1 and not hasattr(module, "stream_key"):
        raise ValueError(f"format {fmt!r} reads one file at a time; got {len(paths)} files")
    inputs = [q for p in paths for q in (p, *getattr(module, "companions", lambda p: [])(p))]
    target: Path | list[Path] = paths if len(paths) > 1 else path
    if not cache:
        return _parse(module, fmt, target, options)
    # files named by options (e.g. trades=...) are inputs too: their changes must invalidate the cache
    inputs += [Path(v) for v in options.values() if isinstance(v, (str, Path)) and Path(v).is_file()]
    key = _cache_key(inputs, fmt, getattr(module, "VERSION", 1), options)
    folder = cache_root(cache_dir) / "parsed" / f"{fmt}-{path.stem[:40]}-{key}"
    index = folder / "days.json"
    if index.is_file():
        return [load_day(folder / name) for name in json.loads(index.read_text())]
    days = _parse(module, fmt, target, options)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        names = []
        for i, day in enumerate(days):
            name = f"day_{i:03d}"
            save_day(day, tmp / name)
            names.append(name)
        (tmp / "days.json").write_text(json.dumps(names))
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first: use its copy
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [load_day(folder / name) for name in json.loads(index.read_text())]


def _expand(source: str | Path | Sequence[str | Path], format: str) -> tuple[list[Path], list[str]]:
    """Input files of ``source`` and the files of a folder that no format recognizes."""
    if isinstance(source, (list, tuple)):
        files: list[Path] = []
        skipped: list[str] = []
        for item in source:
            f, s = _expand(item, format)
            files += f
            skipped += s
        return files, skipped
    text = str(source)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        matches = sorted(Path(p) for p in globlib.glob(text) if Path(p).is_file())
        if not matches:
            raise FileNotFoundError(f"{text}: the pattern matches no file")
        candidates = matches
    elif Path(text).is_dir():
        candidates = sorted(p for p in Path(text).iterdir() if p.is_file() and not p.name.startswith("."))
    elif Path(text).is_file():
        return [Path(text)], []
    else:
        raise FileNotFoundError(f"{text}: no such file, folder or matching pattern")
    files, skipped = [], []
    companions: set[Path] = set()
    for p in candidates:
        if p.resolve() in companions:  # read with a file already taken (e.g. a LOBSTER orderbook file)
            continue
        try:
            fmt = detect_format(p) if format == "auto" else format
        except ValueError:
            skipped.append(str(p))
            continue
        if format != "auto" and not _module(fmt).sniff(p):
            skipped.append(str(p))
            continue
        files.append(p)
        companions.update(q.resolve() for q in getattr(_module(fmt), "companions", lambda q: [])(p))
    return files, skipped


def _streams(files: list[Path], format: str) -> list[tuple[str, list[Path]]]:
    """``files`` as (format, files read together): one file each, except for a format with a
    ``stream_key(path) -> (stream, start) | None``, whose files of one stream go together, by start."""
    out: list[tuple[str, list]] = []
    streams: dict[tuple[str, str], list] = {}
    for f in files:
        fmt = detect_format(f) if format == "auto" else format
        key_of = getattr(_module(fmt), "stream_key", None)
        key = key_of(f) if key_of is not None else None
        if key is None:
            out.append((fmt, [(0, f)]))
            continue
        if (fmt, key[0]) not in streams:
            streams[(fmt, key[0])] = []
            out.append((fmt, streams[(fmt, key[0])]))
        streams[(fmt, key[0])].append((key[1], f))
    return [(fmt, [f for _, f in sorted(group, key=lambda x: x[0])]) for fmt, group in out]


_DOC_NAMES = ("readme", "license", "licence", "copying", "notice", "changelog")
_DOC_SUFFIXES = (".txt", ".md", ".rst", ".html", ".pdf")


def _unreadable(skipped: list[str]) -> list[str]:
    """``"<path>: <why>"`` of every skipped file that is not documentation (see ``load_market``)."""
    out = []
    for text in skipped:
        path = Path(text)
        try:
            reader.diagnose(path)
        except reader.DataFileError as exc:
            msg = str(exc)
            out.append(msg if len(msg) <= 200 else msg[:200] + "...")
            continue
        if path.name.lower().startswith(_DOC_NAMES) or path.suffix.lower() in _DOC_SUFFIXES:
            continue
        out.append(f"{path}: no known format recognizes this file")
    return out


def _check_whole_dates(catalogue: MarketCatalogue) -> None:
    """The test split (the newest ``n_test`` sessions) must hold whole dates: sessions of several
    symbols on one date move together, so one on each side would train on the test day's market."""
    dates = [catalogue.date(i) for i in range(len(catalogue))]
    cut = len(dates) - catalogue.n_test
    if catalogue.n_test == 0 or dates[cut - 1] != dates[cut]:
        return
    allowed = [str(len(dates) - k) for k in range(1, len(dates)) if dates[k - 1] != dates[k]]
    raise ValueError(
        f"{catalogue.name}: test_days={catalogue.n_test} cuts the date {dates[cut]} in two ({dates.count(dates[cut])} "
        f"sessions of several symbols, some training, some test); the sessions of one date move together, so a date "
        f"is all training or all test: test_days may be 0 or one of {', '.join(allowed[::-1]) or 'none'}"
    )


def load_market(
    source: str | Path | Sequence[str | Path],
    format: str = "auto",
    n_test: int = 0,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    name: str | None = None,
    skip_unreadable: bool = False,
    **options: Any,
) -> MarketCatalogue:
    """A catalogue of every day in ``source`` (file, folder, glob, or a list), oldest first.

    The newest ``n_test`` days are the test split. The files of one capture stream (a format's
    ``stream_key``: Binance captures of one symbol, e.g. split at midnight) are read together, oldest
    first, so each continues the previous one's book. Files in a folder that no format recognizes
    as data are sorted in two: documentation (README, LICENSE, ``*.txt``/``*.md`` text no format
    claims) is listed in ``catalogue.notes["skipped"]``; any other such file (empty, truncated,
    binary, an unknown layout) is *unreadable*: ``ValueError`` listing them, unless
    ``skip_unreadable=True``, which skips them with a warning and lists them in
    ``notes["skipped"]`` and ``notes["unreadable"]`` (see :meth:`MarketCatalogue.skipped_message`).
    Every day is checked (:func:`exec_env.market.facts.check_day`): sizes below one lot, a book
    frozen for hours inside the session give a warning, kept in ``notes["warnings"]``. Crypto
    formats set fee defaults (``sim_defaults``, source in ``notes["fees"]``).
    ``options`` go to the format's loader (e.g. ``tick_size=``, ``symbol=``).
    """
    files, skipped = _expand(source, format)
    unreadable = _unreadable(skipped)
    if unreadable and not skip_unreadable:
        shown = "; ".join(unreadable[:3]) + (f"; and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
        raise ValueError(
            f"{source}: {len(unreadable)} file(s) that no format can read: {shown}. Remove them, narrow the "
            "glob, or pass skip_unreadable=True to skip them (listed in catalogue.notes['unreadable'])"
        )
    if unreadable:
        warnings.warn(
            f"{source}: skipped {len(unreadable)} unreadable file(s): {'; '.join(unreadable[:3])}", stacklevel=2
        )
    if not files:
        raise ValueError(f"{source}: no market data file found (skipped: {skipped})")
    days: list[MarketDay | Path] = []
    origin: dict[tuple, str] = {}
    formats: set[str] = set()
    looks_off: list[str] = []
    for fmt, group in _streams(files, format):
        formats.add(fmt)
        f = ", ".join(map(str, group))
        source_of = group if len(group) > 1 else group[0]
        for day in load_days(source_of, format=fmt, cache=cache, cache_dir=cache_dir, **options):
            looks_off += facts.check_day(day)
            key = (day.meta.symbol, day.meta.session_open_ns, day.meta.session_close_ns)
            if key in origin:
                raise ValueError(
                    f"{f} and {origin[key]} both hold {day.meta.symbol} for the session starting "
                    f"{day.meta.session_open_ns} ns: the same day twice would weigh it twice; "
                    "select one copy (a narrower glob or a list of files)"
                )
            origin[key] = f
            days.append(day)
    days.sort(key=lambda d: (d.meta.session_open_ns, d.meta.symbol))  # type: ignore[union-attr]
    catalogue = MarketCatalogue(days, n_test=n_test, name=name or str(source))
    _check_whole_dates(catalogue)
    catalogue.notes["skipped"] = skipped
    catalogue.notes["unreadable"] = unreadable
    catalogue.notes["files"] = [str(f) for f in files]
    catalogue.notes["warnings"] = looks_off
    for text in looks_off:
        warnings.warn(text, stacklevel=2)
    catalogue.sim_defaults, catalogue.notes["fees"] = facts.fees_for(formats)
    return catalogue

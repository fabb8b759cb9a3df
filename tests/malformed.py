"""The malformed-file corpus: 7 formats x 13 ways a file goes wrong, made at test time.

Each format's base file is cut from a real sample in ``../shared/data`` (Tardis: from a synthetic
day through ``write_tardis``, so that row runs without the samples); each case changes it in one
known way at a known line. Nothing here is copied into the project.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

CASES = (
    "empty",
    "header_only",
    "wrong_columns",
    "non_numeric",
    "nan",
    "negative_size",
    "unsorted",
    "crossed",
    "duplicate_ts",
    "truncated_gzip",
    "random_binary",
    "long_line",
    "utf16",
)
K = 10
"""0-based data line that the line-level cases change."""
LONG = 16 << 20


@dataclass
class Base:
    """One format's base file: the target file's lines and where its fields are."""

    fmt: str
    name: str
    lines: list[str]
    header: int  # header lines before the data
    ts: tuple[int, ...]  # field indices (comma-separated formats): the time field(s)
    px: int
    sz: int
    others: dict[str, list[str]] = field(default_factory=dict)  # files written beside, unchanged
    fake_header: str = ""  # the header-only case of a headerless format
    crossed: Callable[[Base], dict[str, list[str]]] | None = None
    options: dict = field(default_factory=dict)
    k: int = -1
    """0-based index in ``lines`` of the changed line (default: data line ``K``)."""

    def __post_init__(self) -> None:
        if self.k < 0:
            self.k = self.header + K


def _set(line: str, i: int, value: str) -> str:
    parts = line.split(",")
    parts[i] = value
    return ",".join(parts)


def _csv_case(b: Base, case: str) -> list[str]:
    lines, k = list(b.lines), b.k
    if case == "header_only":
        return lines[: b.header] if b.header else [b.fake_header]
    if case == "wrong_columns":
        lines[k] = lines[k].rsplit(",", 1)[0]
    elif case == "non_numeric":
        lines[k] = _set(lines[k], b.px, "abc")
    elif case == "nan":
        lines[k] = _set(lines[k], b.px, "nan")
    elif case == "negative_size":
        lines[k] = _set(lines[k], b.sz, "-" + lines[k].split(",")[b.sz])
    elif case == "unsorted":
        for t in b.ts:
            lines[k] = _set(lines[k], t, lines[k + 40].split(",")[t])
    elif case == "duplicate_ts":
        for t in b.ts:
            lines[k + 1] = _set(lines[k + 1], t, lines[k].split(",")[t])
    elif case == "long_line":
        lines[k] = _set(lines[k], b.px, "1" * LONG)
    return lines


_BINANCE_PX = re.compile(r'"b":\[\["([^"]+)","([^"]+)"\]')


def _binance_case(b: Base, case: str) -> list[str]:
    lines, k = list(b.lines), b.k
    stamp, body = lines[k].split(" ", 1)
    m = _BINANCE_PX.search(body)
    assert m is not None
    px = slice(*m.span(1))
    sz = slice(*m.span(2))
    if case == "header_only":
        return lines[:1]
    if case == "wrong_columns":
        lines[k] = stamp + body
    elif case in ("non_numeric", "nan", "long_line"):
        value = {"non_numeric": "abc", "nan": "NaN", "long_line": "1" * LONG}[case]
        lines[k] = f"{stamp} {body[: px.start]}{value}{body[px.stop :]}"
    elif case == "negative_size":
        lines[k] = f"{stamp} {body[: sz.start]}-1.00000000{body[sz.stop :]}"
    elif case == "unsorted":
        lines[k] = f"{lines[k + 40].split(' ', 1)[0]} {body}"
    elif case == "duplicate_ts":
        lines[k + 1] = f"{stamp} {lines[k + 1].split(' ', 1)[1]}"
    return lines


def make_case(b: Base, case: str, folder: Path) -> Path:
    """Write the base files with ``case`` applied; the path of the target file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {b.name: b.lines, **b.others}
    target = folder / b.name
    change = _binance_case if b.fmt == "binance" else _csv_case
    if case == "crossed":
        assert b.crossed is not None
        files.update(b.crossed(b))
    elif case in ("header_only", "wrong_columns", "non_numeric", "nan", "negative_size", "unsorted",
                  "duplicate_ts", "long_line"):  # fmt: skip
        files[b.name] = change(b, case)
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    text = "\n".join(b.lines) + "\n"
    if case == "empty":
        target.write_bytes(b"")
    elif case == "truncated_gzip":
        packed = gzip.compress(text.encode())
        target.write_bytes(packed[: len(packed) * 3 // 5])
    elif case == "random_binary":
        target.write_bytes(np.random.default_rng(9).bytes(4096))
    elif case == "utf16":
        target.write_bytes(text.encode("utf-16"))
    return target


# ----------------------------------------------------------------------------------------------
# Base files
# ----------------------------------------------------------------------------------------------


def _head(path: Path, n: int) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:  # type: ignore[operator]
        return [fh.readline().rstrip("\n") for _ in range(n)]


def _cross_csv(bid: int, ask: int, rows: int = 1, name: str | None = None) -> Callable:
    """Raise field ``bid`` above field ``ask`` (one unit of the integer part) on ``rows`` rows from
    the changed line, in the target file or in the file ``name`` beside it."""

    def cross(b: Base) -> dict[str, list[str]]:
        lines = list(b.others[name] if name else b.lines)
        for i in range(b.k, b.k + rows):
            parts = lines[i].split(",")
            whole, dot, frac = parts[ask].partition(".")
            step = 10_000 if not dot else 1  # LOBSTER prices are integers in 1/10,000 dollar
            parts[bid] = f"{int(whole) + step}{dot}{frac}"
            lines[i] = ",".join(parts)
        return {name or b.name: lines}

    return cross


def _cross_tardis(b: Base) -> dict[str, list[str]]:
    """An incremental row that puts a bid far above every ask."""
    lines = list(b.lines)
    parts = lines[b.k].split(",")
    parts[5:8] = ["bid", "1000000", "1"]
    lines[b.k] = ",".join(parts)
    return {b.name: lines}


def _cross_binance(b: Base) -> dict[str, list[str]]:
    lines = list(b.lines)
    i = next(i for i, line in enumerate(lines) if '"lastUpdateId"' in line)
    stamp, body = lines[i].split(" ", 1)
    snap = json.loads(body)
    snap["bids"].insert(0, ["70000.00000000", "1.00000000"])
    lines[i] = f"{stamp} {json.dumps(snap, separators=(',', ':'))}"
    return {b.name: lines}


def bases(shared: Path | None, tardis_day_lines: list[str] | None) -> dict[str, Base]:
    """The base file of each format (formats whose sample is missing are left out)."""
    out: dict[str, Base] = {}
    if tardis_day_lines is not None:
        out["tardis"] = Base("tardis", "synthetic_incremental_book_L2_2023-11-14_TEST.csv", tardis_day_lines,
                             1, (3,), 6, 7, crossed=_cross_tardis, options={"trades": False})  # fmt: skip
    if shared is None:
        return out
    lob = shared / "lobster"
    msg = "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    book = "AMZN_2012-06-21_34200000_57600000_orderbook_1.csv"
    out["lobster"] = Base("lobster", msg, _head(lob / msg, 300), 0, (0,), 4, 3, others={book: _head(lob / book, 300)},
                          fake_header="Time,Type,OrderID,Size,Price,Direction",
                          crossed=_cross_csv(2, 0, rows=6, name=book))  # fmt: skip
    dbn = "ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv"
    out["databento"] = Base("databento", dbn, _head(shared / "databento" / dbn, 301), 1, (0,), 8, 9,
                            crossed=_cross_csv(13, 14))  # fmt: skip
    capture = _head(shared / "crypto" / "binance-spot" / "btcusdt_20240808.gz", 600)
    k = next(i for i, line in enumerate(capture) if i >= K and '"depthUpdate"' in line and '"b":[["' in line)
    out["binance"] = Base("binance", "btcusdt_20240808.txt", capture, 0, (0,), 0, 0, crossed=_cross_binance, k=k)
    taq = _head(shared / "taq-multivenue" / "sampleQDataRaw.csv", 1000)
    out["taq"] = Base("taq", "sampleQDataRaw.csv", taq[:1] + taq[700:1000],
                      1, (1, 0), 3, 4, crossed=_cross_csv(3, 5),
                      options={"trades": False, "crossed": "drop"})  # fmt: skip
    out["fx_ticks"] = Base("fx_ticks", "EURUSD_2026-07-13_12h_ticks.csv",
                           _head(shared / "fx" / "EURUSD_2026-07-13_12h_ticks.csv", 301), 1, (0,), 1, 3,
                           crossed=_cross_csv(1, 2))  # fmt: skip
    out["bars"] = Base("bars", "SPY_1min.csv", _head(shared / "bars" / "SPY_1min.csv", 301), 1, (0,), 1, 5,
                       crossed=_cross_csv(3, 2))  # fmt: skip
    return out


def with_options(b: Base, **options) -> Base:
    return replace(b, options={**b.options, **options})

"""Seeded structure-aware mutations of market-data files (``tests/test_fuzz_loaders.py``): base
files from the package's writers on short synthetic days; one to three mutations of fields, lines,
header, columns, JSON values, DBN records or metadata, then maybe a whole-file one (BOM, line
endings, truncation, byte flip, gzip/zstd, a cut stream), all from ``random.Random(seed)``."""

from __future__ import annotations

import functools
import gzip
import json
import operator
import random
import struct
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import zstandard

from exec_env.market import bars, crypto, lobster, taq, tardis
from exec_env.market import databento as db
from exec_env.market import fx as fxmod
from exec_env.market.data import validate
from exec_env.market.synthetic import SyntheticParams, generate_day

VALUES = ["", " ", "-1", "0", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "abc", "9" * 25, "18446744073709551616",
          "-9223372036854775809", "0x10", "1_000", '"', "\x00", "NULL", "2024-01-01"]  # fmt: skip
LONG = ["2" * 1000, "1" * 100_000]
DERIVED = (lambda s: "-" + s, lambda s: s + "000000", lambda s: s + "x", lambda s: s[:-1], lambda s: s * 2,
           lambda s: '"' + s, lambda s: "0" + s, lambda s: s.upper())  # fmt: skip
JSON_VALUES = [None, "", "abc", "-1", "NaN", "1e400", 1e308, -5, True, "9" * 30, 2**70, -(2**70), [], {}, "inf"]


@dataclass
class Base:
    """One base case: its files, the file to load, how to mutate it, the loader options to try."""

    fmt: str  # a key of exec_env.market.sources.FORMATS
    name: str
    files: dict[str, bytes]
    target: str
    kind: str = "csv"  # csv | json (Binance lines) | dbn
    header: int = 1  # header lines of a csv file
    options: list[dict] = field(default_factory=lambda: [{}])
    zst: bool = False  # a .dbn.zst: mutate the DBN bytes, then compress


@dataclass
class Case:
    files: dict[str, bytes]
    mutated: str  # the file changed
    desc: list[str]
    line: bool = False  # only fields of specific lines / records were changed
    cut_stream: bool = False  # a compressed stream was cut short: loading it must fail


def make_bases(tmp: Path) -> list[Base]:
    """Valid files from the package's writers on short synthetic days (a few hundred rows each)."""
    tmp.mkdir(parents=True, exist_ok=True)
    out = []
    day = generate_day(SyntheticParams(session_seconds=60.0, snapshot_interval_ms=0.0, levels=5), seed=5, day_index=2)
    mp, bp = lobster.write_lobster(day, tmp)
    opts = [{}, {"crossed": "drop"}, {"same_time": "all"}, {"cross_trades": "include"}]
    files = {mp.name: mp.read_bytes(), bp.name: bp.read_bytes()}
    out += [Base("lobster", "msg", files, mp.name, header=0, options=opts),
            Base("lobster", "book", files, bp.name, header=0, options=opts[:2])]  # fmt: skip

    day = generate_day(SyntheticParams(session_seconds=30.0), seed=3, day_index=0)
    sess = {"session_open": day.meta.session_open_ns, "session_close": day.meta.session_close_ns}
    opts = [sess, {}, {"levels": 1}, {"crossed": "drop"}, {"session": "records"}]
    for name, kw in (("a_mbp-10.csv", {}), ("b_mbp-1.csv", {"schema": "mbp-1", "pretty_px": False, "pretty_ts": False}),
                     ("c.dbn", {}), ("d_mbp-1.dbn", {"schema": "mbp-1"}), ("e.dbn.zst", {})):  # fmt: skip
        raw = db.write_databento(day, tmp / name, **kw).read_bytes()
        kind = "csv" if name.endswith("csv") else "dbn"
        out.append(Base("databento", name, {name: raw}, name, kind, 1, opts, zst=name.endswith(".zst")))

    path = crypto.write_binance(day, tmp / "synth_20240102.txt")
    opts = [{}, {"on_gap": "resync"}, {"crossed": "drop"}, {"book_ticker": "strict"}, {"levels": 5}]
    out.append(Base("binance", "capture", {path.name: path.read_bytes()}, path.name, "json", 0, opts))

    tday = validate(replace(day, ts=day.ts // 1000 * 1000, trade_ts=day.trade_ts // 1000 * 1000))
    opts = [{}, {"crossed": "drop"}, {"levels": 5}, {"trades": False}]
    for ds in ("incremental_book_L2", "book_snapshot_25"):
        paths = tardis.write_tardis(tday, tmp / ds, dataset=ds)
        files = {p.name[:-3]: gzip.decompress(p.read_bytes()) for p in paths if p is not None}
        out.append(Base("tardis", ds, files, paths[0].name[:-3], options=opts))

    ok = (day.bid_sz[:, 0] > 0) & (day.ask_sz[:, 0] > 0)
    ts = day.ts[ok] // 1_000_000 * 1_000_000
    rows = np.flatnonzero(ok)[np.r_[ts[1:] != ts[:-1], True]]
    l1 = replace(day, ts=np.unique(ts), **{k: getattr(day, k)[rows, :1].copy() for k in ("bid_px", "bid_sz", "ask_px", "ask_sz")})  # fmt: skip
    for style in ("dukascopy", "truefx", "histdata"):
        p = fxmod.write_fx_ticks(l1, tmp / f"SYNTH_{style}.csv", style=style, symbol="EURUSD")
        ds = {} if style == "dukascopy" else {"default_size": 1e6}
        opts = [ds, {**ds, "crossed": "drop"}, {**ds, "duplicate_ts": "last"}, {**ds, "extra_levels": 3}]
        out.append(Base("fx_ticks", style, {p.name: p.read_bytes()}, p.name, header=int(style == "dukascopy"), options=opts))  # fmt: skip

    bday = generate_day(SyntheticParams(session_seconds=600.0), seed=9, day_index=0)
    p = bars.write_bars(bars.bars_from_day(bday), tmp / "SYNTH_1min.csv", newest_first=True)
    s = {"session": ("09:30", "09:40")}
    opts = [s, {**s, "outside": "drop"}, {**s, "label": "end"}, {**s, "open_snapshot": True}]
    out.append(Base("bars", "bars", {p.name: p.read_bytes()}, p.name, options=opts))

    qday = generate_day(SyntheticParams(session_seconds=30.0, snapshot_interval_ms=0.0), seed=7, day_index=0)
    qp, tp = taq.write_taq(qday, tmp / "synthQDataRaw.csv", tmp / "synthTDataRaw.csv")
    opts = [{}, {"trades": False}, {"crossed": "drop"}, {"levels": 3}]
    files = {qp.name: qp.read_bytes(), tp.name: tp.read_bytes()}
    out.append(Base("taq", "quotes", files, qp.name, options=opts))
    return out


def _value(old: str, r: random.Random) -> str:
    p = r.random()
    return r.choice(LONG) if p < 0.1 else r.choice(VALUES) if p < 0.6 else r.choice(DERIVED)(old)


def text_op(lines: list[str], r: random.Random, header: int, sep: str = ",") -> tuple[str, bool]:
    """Change ``lines`` in place by one line-level mutation: (description, one line's field?)."""
    op = r.choice(["field"] * 6 + ["column", "del", "dup", "swap", "hdr", "addcol", "delcol", "addcol1", "delcol1",
                                   "blank", "ts_copy", "reverse", "header_only", "one_row", "quote"])  # fmt: skip
    data = len(lines) > header and r.random() > 0.2  # else the header or the first data line
    i = r.randrange(header, len(lines)) if data else r.randrange(min(header + 1, len(lines)))
    parts = lines[i].split(sep)
    c = r.randrange(len(parts))
    if op == "field" or (op == "hdr" and not header):
        parts[c] = _value(parts[c], r)
        lines[i] = sep.join(parts)
        return f"line {i + 1} field {c} = {parts[c][:30]!r}", i >= header  # a header field: a header change
    if op in ("column", "addcol", "delcol"):  # one change to every line's field c, e.g. '-' before every time
        change = r.choice(DERIVED)
        for k in range(header if op == "column" else 0, len(lines)):
            p = lines[k].split(sep)
            if c < len(p):
                p[c : c + 1] = {"column": [change(p[c])], "addcol": ["extra" if k < header else "1", p[c]], "delcol": []}[op]  # fmt: skip
                lines[k] = sep.join(p)
        return f"{op} {c}" + f" like {parts[c][:20]!r} to {change(parts[c])[:20]!r}" * (op == "column"), False
    if op == "hdr":
        names, how = lines[0].split(sep), r.choice(["rename", "upper", "dup", "swap", "del", "empty"])
        c = r.randrange(len(names))
        if how == "swap":
            names[c - 1], names[c] = names[c], names[c - 1]
        else:
            new = {"rename": [names[c] + "x"], "upper": [names[c].upper()], "dup": [names[c - 1]], "del": [], "empty": [""]}  # fmt: skip
            names[c : c + 1] = new[how]
        lines[0] = sep.join(names)
        return f"header {how} column {c}", False
    j = r.randrange(header, len(lines)) if len(lines) > header else i
    if op == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "ts_copy":  # the time (field 0 or 1) of another line
        t, other = r.choice([0, 0, 1]) if len(parts) > 1 else 0, lines[j].split(sep)
        parts[t] = other[t] if t < len(other) else ""
        lines[i] = sep.join(parts)
    elif op in ("reverse", "header_only", "one_row"):
        lines[header:] = {"reverse": lines[header:][::-1], "header_only": [], "one_row": [lines[i]]}[op]
    else:
        blank = r.choice(["", " ", sep * (len(parts) - 1), "#x"])
        lines[i : i + 1] = {"del": [], "dup": [lines[i]] * 2, "addcol1": [lines[i] + sep + "1"], "quote": ['"' + lines[i]],
                            "delcol1": [lines[i].rsplit(sep, 1)[0]], "blank": [blank, lines[i]]}[op]  # fmt: skip
    return f"{op} line {i + 1} (and {j + 1})", False


def json_op(lines: list[str], r: random.Random) -> tuple[str, bool]:
    """A Binance capture line ``<ms> <json>``: change one JSON value (or its stamp), else a line op."""
    i = r.randrange(len(lines))
    stamp, _, body = lines[i].partition(" ")
    if r.random() < 0.25:
        return text_op(lines, r, 0, sep=" ")
    if r.random() < 0.15:
        lines[i] = f"{_value(stamp, r)} {body}"
        return f"line {i + 1} stamp", True
    try:
        obj = json.loads(body)
    except ValueError:  # an earlier mutation broke it
        return text_op(lines, r, 0, sep=" ")
    paths: list[list] = []

    def walk(o: object, p: list) -> None:
        if p:
            paths.append(p)
        for k, v in o.items() if isinstance(o, dict) else enumerate(o[:4]) if isinstance(o, list) else ():
            walk(v, [*p, k])

    walk(obj, [])
    if not paths:  # an earlier mutation left a bare value
        return text_op(lines, r, 0, sep=" ")
    p = r.choice(paths)
    parent = functools.reduce(operator.getitem, p[:-1], obj)
    if r.random() < 0.2:
        del parent[p[-1]]
    else:
        parent[p[-1]] = r.choice(JSON_VALUES)
    lines[i] = stamp + " " + json.dumps(obj, separators=(",", ":"))
    return f"line {i + 1} json {p}", True


def dbn_op(data: bytearray, r: random.Random) -> tuple[str, bool]:
    """One change to a DBN stream: a record's field, length byte or type, a record deleted, doubled,
    swapped or cut short, a metadata byte, the version byte."""
    start = 8 + struct.unpack_from("<I", data, 4)[0] if data[:3] == b"DBN" and len(data) >= 8 else len(data)
    recs, p = [], start  # (offset, length) of each record, up to one of length 0
    while p < len(data) and data[p]:
        recs.append((p, data[p] * 4))
        p += data[p] * 4
    op = r.choice(["field"] * 5 + ["meta", "meta", "version", "del", "dup", "swap", "length", "rtype", "cut"])
    if op == "meta" or not recs:
        k = r.randrange(max(1, min(start, len(data))))
        data[k] = r.randrange(256)
        return f"metadata byte {k}", False
    if op == "version":
        data[3] = r.choice([0, 1, 4, 9, 255])
        return f"version {data[3]}", False
    i = r.randrange(len(recs))
    p, n = recs[i]
    if op == "field":
        w = r.choice([1, 2, 4, 8, 8])
        off = r.randrange(0, n - w + 1, w)
        lim = 2 ** (8 * w - 1)
        v = max(-lim, min(lim - 1, r.choice([0, -1, 1, 7, -5, 2**31 - 1, 10**18, 2**63 - 1, -(2**63)])))
        if p + off + w > len(data):  # an earlier change cut the record short
            return f"record {i + 1} runs past the end", False
        struct.pack_into({1: "<b", 2: "<h", 4: "<i", 8: "<q"}[w], data, p + off, v)
        return f"record {i + 1} offset {off} width {w} = {v}", True
    if op == "del":
        del data[p : p + n]
    elif op == "dup":
        data[p:p] = data[p : p + n]
    elif op == "swap":
        q, m = r.choice(recs)
        if m == n and q != p:
            data[p : p + n], data[q : q + n] = data[q : q + n], data[p : p + n]
    elif op == "length":
        data[p] = r.choice([0, 1, 2, 255, (data[p] + 1) % 256])
    elif op == "rtype":
        data[p + 1] = r.choice([0, 1, 0x0A, 0x13, 0x16, 0x20, 0xA0, 255])
    else:
        del data[p + r.randrange(n) :]
    return f"{op} record {i + 1}", False


ENCODINGS = {"BOM": lambda d: b"\xef\xbb\xbf" + d, "CRLF": lambda d: d.replace(b"\n", b"\r\n"),
             "CRCRLF": lambda d: d.replace(b"\n", b"\r\r\n"), "UTF-16": lambda d: d.decode("utf-8", "replace").encode("utf-16")}  # fmt: skip
COMPRESS = {"gzip": lambda d: gzip.compress(d, mtime=0), "zstd": lambda d: zstandard.ZstdCompressor().compress(d)}


def whole_file(data: bytes, r: random.Random, text: bool) -> tuple[bytes, list[str], bool]:
    """Encoding and line endings, a truncation or a byte flip, compression (its stream maybe cut)."""
    desc, cut, k = [], False, r.randrange(max(len(data), 1))
    if text and r.random() < 0.15:
        desc.append(r.choice(list(ENCODINGS)))
        data = ENCODINGS[desc[-1]](data)
    if (p := r.random()) < 0.12 and k < len(data):
        data = data[:k] if p < 0.08 else data[:k] + bytes([r.randrange(256)]) + data[k + 1 :]
        desc.append(f"truncated at byte {k}" if p < 0.08 else f"byte {k} flipped")
    if r.random() < 0.12:
        desc.append(r.choice(list(COMPRESS)))
        data = COMPRESS[desc[-1]](data)
        if r.random() < 0.5 and len(data) > 20:
            k = r.randrange(10, len(data))
            data, cut = data[:k], True
            desc.append(f"stream cut at byte {k}")
    return data, desc, cut


def mutate(base: Base, seed: int) -> Case:
    r = random.Random(seed)
    names = list(base.files)
    which = base.target if len(names) == 1 or r.random() < 0.65 else r.choice([n for n in names if n != base.target])
    data, desc, line = base.files[which], [], True
    if base.zst:
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    dbn = base.kind == "dbn"
    buf = bytearray(data) if dbn else data.decode().split("\n")[:-1]  # DBN bytes, or text lines
    for _ in range(r.choice([1, 1, 2] if dbn else [1, 1, 1, 2, 3])):
        if not buf:
            break
        d, one = dbn_op(buf, r) if dbn else json_op(buf, r) if base.kind == "json" else text_op(buf, r, base.header)
        desc.append(d)
        line &= one
    data = bytes(buf) if dbn else ("\n".join(buf) + "\n" * (r.random() < 0.9)).encode()
    if base.zst:
        data = zstandard.ZstdCompressor().compress(data)
    data, more, cut = whole_file(data, r, base.kind != "dbn")
    cut |= base.zst and "truncated" in " ".join(more)  # the .zst stream itself cut short
    line &= not any(w in " ".join(more) for w in ("truncated", "flipped", "cut"))  # may fail first, elsewhere
    return Case({**base.files, which: data}, which, desc + more, line, cut)

"""The malformed-file corpus (7 formats x 13 cases, see ``tests/malformed.py``).

Every case either raises a ``ValueError`` that names the file, the line and (for a field-level
fault) the field, in under 300 characters, with no numpy repr and no long excerpt; or is accepted
because the format allows it, and then the test says what was loaded. Nothing else: no raw
exception type, no silent truncation.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exec_env.market import reader, tardis
from exec_env.market.reader import DataFileError
from exec_env.market.sources import load_days
from exec_env.market.synthetic import SyntheticParams, generate_day
from tests.malformed import CASES, Base, bases, make_case

ARRAYS = ("ts", "bid_px", "bid_sz", "ask_px", "ask_sz", "trade_ts", "trade_px", "trade_sz", "trade_side")
ACCEPT = "accepted"
FILE_LEVEL = {
    "empty": (1, None, "the file is empty (0 bytes)"),
    "random_binary": (1, None, "binary data, not text (a NUL byte at byte 44)"),
}
TRUNCATED = (None, None, "truncated gzip stream")
LONG = (None, None, "bytes long (limit 4,194,304)")

# (line, field, fragment) of the expected error, or ACCEPT. Line numbers are file lines; the
# changed line is data line 10 (file line 11 without a header, 12 with one; Binance: line 54).
EXPECTED: dict[str, dict[str, tuple | str]] = {
    "tardis": {
        "header_only": (2, "exchange", "no data rows after the header line"),
        "wrong_columns": (12, "amount", "wrong column count: 7 fields, expected 8; 'amount' is missing"),
        "non_numeric": (12, "price", "unparsable number 'abc'"),
        "nan": (12, "price", "not a finite number: 'nan'"),
        "negative_size": (12, "amount", "amount must be finite and >= 0, got -"),
        "unsorted": (13, "local_timestamp", "is before the previous line's"),
        "crossed": (15, "price", "crossed book: best bid 1000000.0 > best ask"),
        "duplicate_ts": ACCEPT,  # several updates per microsecond are normal
    },
    "lobster": {
        "header_only": (1, "time", "unparsable number 'Time'"),
        "wrong_columns": (11, "direction", "wrong column count: 5 fields, expected 6; 'direction' is missing"),
        "non_numeric": (11, "price", "unparsable number 'abc'"),
        "nan": (11, "price", "not a finite number: 'nan'"),
        "negative_size": (11, "size", "size must be finite and >= 0, got -100"),
        "unsorted": (12, "time", "is before the previous line's"),
        "crossed": (13, "bid_price_1", "crossed book: best bid 224.99 > best ask 223.99; pass crossed='drop'"),
        "duplicate_ts": ACCEPT,  # events in the same nanosecond: the book after the last one is kept
    },
    "databento": {
        "header_only": (2, "ts_recv", "no data rows after the header line"),
        "wrong_columns": (12, "symbol", "wrong column count: 19 fields, expected 20; 'symbol' is missing"),
        "non_numeric": (12, "price", "unparsable number 'abc'"),
        "nan": (12, "price", "not a finite number: 'nan'"),
        "negative_size": (12, "size", "size must be finite and >= 0, got -1"),
        "unsorted": (13, "ts_recv", "is before the previous line's"),
        "crossed": (12, "bid_px_00", "crossed book: best bid 5529.75 > best ask 5528.75; pass crossed='drop'"),
        "duplicate_ts": ACCEPT,  # records of one event share ts_recv
    },
    "binance": {
        "header_only": (1, "lastUpdateId", "none of the 1 lines is a depth snapshot"),
        "wrong_columns": (54, "local_ts", "expected '<local_ts_ns> <json>' (2 fields)"),
        "non_numeric": (54, "b", "unparsable number 'abc'"),
        "nan": (54, "b", "not a finite number: 'NaN'"),
        "negative_size": (54, "b", "size must be finite and >= 0, got -1.0"),
        "unsorted": (55, "local_ts", "is before the previous line's"),
        "crossed": (8, "b", "crossed book: best bid 70000.0 > best ask 61837.64; pass crossed='drop'"),
        "duplicate_ts": ACCEPT,  # two messages received in the same nanosecond
    },
    "taq": {
        "header_only": (2, "DT_epoch_s", "no data rows after the header line"),
        "wrong_columns": (12, "SYMBOL", "wrong column count: 7 fields, expected 8; 'SYMBOL' is missing"),
        "non_numeric": (12, "BID", "unparsable number 'abc'"),
        "nan": (12, "BID", "not a finite number: 'nan'"),
        "negative_size": (12, "BIDSIZ", "size must be finite and >= 0, got -2.0"),
        "unsorted": (13, "DT_epoch_s", "is before the previous line's"),
        "crossed": ACCEPT,  # crossed='drop' (the base option): dropped and counted, see below
        "duplicate_ts": ACCEPT,  # quotes of several venues in the same millisecond
    },
    "fx_ticks": {
        "header_only": (2, "time", "no data rows after the header line"),
        "wrong_columns": (12, "ask_volume", "wrong column count: 4 fields, expected 5; 'ask_volume' is missing"),
        "non_numeric": (12, "bid", "unparsable number 'abc'"),
        "nan": (12, "bid", "not a finite number: 'nan'"),
        "negative_size": (12, "bid_volume", "size must be finite and > 0, got -900000.0"),
        "unsorted": (13, "time", "is before the previous line's"),
        "crossed": (12, "bid", "crossed quote: best bid 2.14279 > best ask 1.14279; pass crossed='drop'"),
        "duplicate_ts": (13, "time", "duplicate timestamp"),
    },
    "bars": {
        "header_only": (2, "time", "no data rows after the header line"),
        "wrong_columns": (12, "volume", "wrong column count: 5 fields, expected 6; 'volume' is missing"),
        "non_numeric": (12, "open", "unparsable number 'abc'"),
        "nan": (12, "open", "not a finite number: 'nan'"),
        "negative_size": (12, "volume", "volume must be finite and >= 0, got -342248.0"),
        "unsorted": (13, "datetime", "breaks the decreasing order"),
        "crossed": (12, "high", "high 277.28 < low 278.28"),
        "duplicate_ts": (13, "datetime", "duplicate timestamp"),
    },
}
for _table in EXPECTED.values():
    _table.update(FILE_LEVEL, truncated_gzip=TRUNCATED, long_line=LONG, utf16=ACCEPT)
# what an accepted case loads, as (book rows, trades) of each day
LOADED = {
    ("taq", "crossed"): [(180, 0)],  # one self-crossed venue quote dropped (of 181 book rows)
    ("taq", "duplicate_ts"): [(180, 0)],  # two quotes at one time: one book row for both
}


def _tardis_lines(tmp: Path) -> list[str]:
    day = generate_day(SyntheticParams(session_seconds=300.0), seed=5, day_index=0)
    day = replace(day, ts=day.ts // 1000 * 1000, trade_ts=day.trade_ts // 1000 * 1000)
    book, _ = tardis.write_tardis(day, tmp, trades=False)
    with gzip.open(book, "rt") as fh:
        return fh.read().splitlines()[:400]


@pytest.fixture(scope="module")
def corpus_bases(tmp_path_factory, request) -> dict[str, Base]:
    from tests.conftest import _shared_data

    shared = _shared_data()
    return bases(shared if shared.is_dir() else None, _tardis_lines(tmp_path_factory.mktemp("tardis")))


@pytest.fixture(scope="module")
def base_days(corpus_bases, tmp_path_factory) -> dict[str, list]:
    out = {}
    for fmt, b in corpus_bases.items():
        path = make_case(b, "none", tmp_path_factory.mktemp(f"base-{fmt}"))
        out[fmt] = load_days(path, format=fmt, cache=False, **b.options)
    return out


def _same(a, b) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), name


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fmt", list(EXPECTED))
def test_malformed_file(fmt, case, corpus_bases, base_days, tmp_path):
    if fmt not in corpus_bases:
        pytest.skip(f"no shared sample for {fmt} (../shared/data absent)")
    b = corpus_bases[fmt]
    path = make_case(b, case, tmp_path)
    expected = EXPECTED[fmt][case]
    if expected == ACCEPT:
        days = load_days(path, format=fmt, cache=False, **b.options)
        base = base_days[fmt]
        if case == "utf16":  # transcoded: exactly the UTF-8 file's days
            assert len(days) == len(base)
            for d, e in zip(days, base, strict=True):
                _same(d, e)
        else:
            want = LOADED.get((fmt, case), [(d.n_books, d.n_trades) for d in base])
            assert [(d.n_books, d.n_trades) for d in days] == want
        if (fmt, case) == ("taq", "crossed"):
            assert days[0].meta.notes["dropped_self_crossed_quotes"] == 1
        return
    line, field, fragment = expected
    with pytest.raises(ValueError) as info:
        load_days(path, format=fmt, cache=False, **b.options)
    msg = str(info.value)
    changed = path.parent / next(iter(b.crossed(b))) if case == "crossed" else path  # LOBSTER: the orderbook file
    assert msg.startswith(f"{changed}: "), msg
    assert len(msg) < 300, msg
    assert fragment in msg, msg
    assert "np." not in msg and "please report" not in msg, msg
    if line is not None:
        assert re.search(rf": line {line}\b", msg), msg  # the one vocabulary: "line N" of a text file
    if field is not None:
        assert f"field '{field}'" in msg, msg
    if case in FILE_LEVEL or case in ("truncated_gzip", "long_line"):
        assert isinstance(info.value, DataFileError)


def test_truncated_dbn_zst_is_refused_not_loaded_short(shared_data, tmp_path):
    """A cut .dbn.zst once loaded as a shorter day (540 of 2,168 book rows)."""
    sample = shared_data / "databento" / "futures_mbp-1_2024-07-01T23-58_2024-07-02T00-02.dbn.zst"
    whole = sample.read_bytes()
    path = tmp_path / sample.name
    path.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(DataFileError, match=r"truncated zstd stream: the data ends before the end-of-stream marker"):
        load_days(path, format="databento", cache=False)


def test_zstd_garbage_is_a_clear_error(tmp_path):
    path = tmp_path / "x.dbn.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + np.random.default_rng(1).bytes(500))
    with pytest.raises(DataFileError, match=re.escape(f"{path}: corrupt zstd data after 0 decompressed bytes")):
        load_days(path, format="databento", cache=False)


TEXT = "time,price\n1.5,100.25\n2.0,é\n"


@pytest.mark.parametrize(
    "raw",
    [
        TEXT.encode(),  # plain UTF-8: read straight into the array
        b"\xef\xbb\xbf" + TEXT.encode(),  # the rest are decoded first, then copied
        TEXT.encode("utf-16"),
        TEXT.encode("utf-16-le"),
        gzip.compress(TEXT.encode()),
    ],
    ids=["utf8", "utf8_bom", "utf16_bom", "utf16_no_bom", "gzip"],
)
def test_read_buffer_is_read_bytes_with_a_sentinel_pad(raw, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(raw)
    buf, size = reader.read_buffer(path, pad=2)
    assert size == len(TEXT.encode()) == len(reader.read_bytes(path))
    assert bytes(buf[:size]) == TEXT.encode() and bytes(buf[size:]) == b"\n\n"
    buf[size] = 0  # writable: the sentinel goes here


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "line 1: the file is empty (0 bytes); expected market data"),
        (b" \r\n\n", "line 1: the file is empty (4 bytes); expected market data"),
        (
            b"\xef\xbb\xbf",
            "line 1: the file is empty (3 bytes of UTF-8 (BOM) text, all white space); expected market data",
        ),
        (
            b"\xff\xfe\n\x00",
            "line 1: the file is empty (4 bytes of UTF-16-LE text, all white space); expected market data",
        ),
        (b"a,b\n1,2\x00\n", "line 2: binary data, not text (a NUL byte at byte 7)"),
        (b"a,b\n1,\xff\n", "line 2: not UTF-8 text (byte 6: b'\\xff\\n'); save the file as UTF-8"),
    ],
)
def test_read_buffer_refuses_what_read_bytes_refuses(raw, error, tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(raw)
    for read in (reader.read_bytes, reader.read_buffer):
        with pytest.raises(DataFileError) as info:
            read(path)
        assert str(info.value).startswith(f"{path}: {error}"), str(info.value)


@settings(max_examples=500, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(0, 40), st.sampled_from([b"a", b"1,2", b" ", b"\xc3\xa9"])), max_size=12),
    bad=st.none() | st.tuples(st.integers(0, 10**6), st.sampled_from([b"\x00", b"\xc3", b"\xff"])),
    below=st.integers(-40, 12),
)
def test_text_checks_match_their_definition(lines, bad, below):
    """The reader's text checks (numpy reductions over the text; a line over the limit searched for
    in pieces; the exact scan only when needed) against their definition on bytes: the first NUL,
    then the first longest line if over ``max_line``, then the first byte that is not UTF-8. Lines
    of 0-120 bytes, each of one repeated piece, maybe one bad byte somewhere, and a limit near the
    longest line (``below`` it)."""
    data = b"\n".join(piece * k for k, piece in lines)
    if bad is not None:
        at = bad[0] % (len(data) + 1)
        data = data[:at] + bad[1] + data[at:]
    lengths = [len(line) for line in data.split(b"\n")]
    nul, longest = data.find(b"\x00"), max(lengths)
    max_line = max(1, longest - below)
    try:
        data.decode("utf-8")
        bad_utf8 = None
    except UnicodeDecodeError as exc:
        bad_utf8 = exc.start
    line_of = lambda offset: data.count(b"\n", 0, offset) + 1  # noqa: E731
    if nul >= 0:
        expected = f"f: line {line_of(nul)}: binary data, not text (a NUL byte at byte {nul:,})"
    elif longest > max_line:
        expected = f"f: line {lengths.index(longest) + 1} is {longest:,} bytes long (limit {max_line:,})"
    elif bad_utf8 is not None:
        expected = f"f: line {line_of(bad_utf8)}: not UTF-8 text (byte {bad_utf8:,}: "
    else:
        expected = None
    padded = np.frombuffer(data + b"\n\n", dtype=np.uint8)
    # bytes; a padded buffer; the same read in pieces of 7 bytes (as a large file is, in 1 MiB pieces)
    for given_as, piece in ((data, reader._PIECE), (padded, reader._PIECE), (padded, 7)):
        with patch.object(reader, "_PIECE", piece):
            if expected is None:
                reader._check_text(Path("f"), given_as, max_line, len(data))
                continue
            with pytest.raises(DataFileError) as info:
                reader._check_text(Path("f"), given_as, max_line, len(data))
        assert str(info.value).startswith(expected), (str(info.value), expected)


@settings(max_examples=500, deadline=None)
@given(
    lines=st.lists(st.tuples(st.text(",a\r", max_size=9), st.sampled_from(["\n", "\r\n"])), min_size=1, max_size=9),
    final_break=st.booleans(),
)
def test_csv_lines_match_their_definition(lines, final_break):
    """``reader.csv_lines`` (start, end, comma count of each line) against its definition on the
    text's lines: lines of commas, letters and carriage returns, broken by LF or CRLF, with or
    without a final line break (then a last ``\\r`` ends the line too)."""
    text = "".join(line + brk for line, brk in lines)
    if not final_break:
        text = text[: -len(lines[-1][1])]
    data = text.encode()
    if not data:
        return
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()  # a final line break opens no line
    starts = np.cumsum([0] + [len(p) + 1 for p in parts[:-1]])
    ends = [s + len(p) - (p.endswith(b"\r")) for s, p in zip(starts, parts, strict=True)]
    got = reader.csv_lines(data)
    np.testing.assert_array_equal(got[0], starts)
    np.testing.assert_array_equal(got[1], ends)
    np.testing.assert_array_equal(got[2], [p.count(b",") for p in parts])


@settings(max_examples=300, deadline=None)
@given(
    shape=st.sampled_from([(0,), (7,), (0, 3), (5, 1), (6, 4), (3, 9)]),
    seed=st.integers(0, 2**32 - 1),
    density=st.sampled_from([0.0, 0.05, 0.5]),
    view=st.sampled_from(["plain", "columns", "transposed"]),
)
def test_first_is_the_first_row_holding_a_true(shape, seed, density, view):
    """``reader.first`` (every loader's "first bad row") against its definition, for 1-D and 2-D
    masks, contiguous or not (a column slice, a transpose)."""
    mask = np.random.default_rng(seed).random(shape) < density
    if view == "columns" and mask.ndim == 2:
        mask = np.concatenate([mask, ~mask], axis=1)[:, : shape[1]]  # not contiguous
    elif view == "transposed" and mask.ndim == 2:
        mask = np.ascontiguousarray(mask.T).T  # Fortran order
    rows = mask.any(axis=1) if mask.ndim == 2 else mask
    hits = np.flatnonzero(rows)
    assert reader.first(mask) == (int(hits[0]) if hits.size else -1)


@pytest.mark.parametrize("fmt", ["databento", "binance", "tardis", "taq", "fx_ticks", "bars"])
def test_wrong_explicit_format_on_binary_file_quotes_no_bytes(fmt, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"\x01\x02header" + np.random.default_rng(2).bytes(2000))
    with pytest.raises(ValueError) as info:
        load_days(path, format=fmt, cache=False)
    msg = str(info.value)
    assert msg.startswith(f"{path}: line 5: binary data, not text (a NUL byte at byte 835)"), msg
    assert "\\x" not in msg and len(msg) < 300


@pytest.mark.parametrize(
    ("fmt", "old"), [("lobster", "crossed_rows"), ("binance", "on_crossed"), ("tardis", "on_crossed")]
)
def test_old_option_names_point_to_the_new_one(fmt, old, tmp_path):
    path = tmp_path / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    path.write_text("34200.1,1,1,100,2238100,1\n")
    with pytest.raises(ValueError, match=rf"{fmt}: option '{old}' was renamed 'crossed' .*: pass crossed='drop'"):
        load_days(path, format=fmt, cache=False, **{old: "drop"})


def test_unknown_option_lists_the_known_ones(tmp_path):
    path = tmp_path / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    path.write_text("34200.1,1,1,100,2238100,1\n")
    with pytest.raises(ValueError, match=r"lobster: unknown option 'levels'; the options of this format: tick_size, "):
        load_days(path, format="lobster", cache=False, levels=5)


@pytest.mark.parametrize("fmt", ["lobster", "databento", "binance", "tardis", "taq", "fx_ticks"])
def test_every_book_format_takes_crossed_by_keyword(fmt):
    import inspect

    from exec_env.market.sources import _module

    params = inspect.signature(_module(fmt).load).parameters
    if "crossed" in params:
        assert params["crossed"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["crossed"].default == "raise"
    else:  # taq: **options, checked by the loader
        assert fmt == "taq"
        from exec_env.market.taq import _options

        assert _options({}).crossed == "raise" and _options({"crossed": "drop"}).crossed == "drop"


def test_the_one_vocabulary_of_places():
    """``line N`` of a text file, ``record N`` of a binary one, the file of a line numbered across a
    stream's files, ``row N`` only for data in memory; under 300 characters."""
    from exec_env.market.reader import Capture, InMemory, field_error

    assert str(field_error("a.csv", 12, "price", "unparsable value 'abc'")) == (
        "a.csv: line 12, field 'price': unparsable value 'abc'"
    )
    assert str(field_error("a.dbn", 3, "action", "b'X' is not one of A, C", unit="record")) == (
        "a.dbn: record 3, field 'action': b'X' is not one of A, C"
    )
    assert str(field_error(InMemory("yf"), 0, "close", "value is NaN")) == "yf: row 0, field 'close': value is NaN"
    stream = Capture.of([Path("one.gz"), Path("two.gz")], [10, 5])  # lines 1..10, then 11..15
    assert str(field_error(stream, 12, "U", "sequence gap")) == "two.gz: line 2, field 'U': sequence gap"
    assert str(field_error(stream, 10, None, "bad")) == "one.gz: line 10: bad"
    long = str(field_error("a.csv", 2, "x", "y" * 1000))
    assert len(long) == 299 and long.startswith("a.csv: line 2, field 'x': yyy") and long.endswith("y...")

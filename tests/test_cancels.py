"""Order-level cancellation events (``MarketDay.cancel_*``): validation, save/load, mirror, the
``make_day`` fixture, and their extraction from LOBSTER and Databento MBO (CSV and DBN), exact on
hand-written files and checked for counts and invariants on the shared samples."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exec_env.market import databento as db
from exec_env.market import lobster
from exec_env.market.data import CANCEL_FIELDS, UNKNOWN_ENTRY, load_day, mirror_day, save_day, validate
from tests.books import T0, book, cancel, make_day, trade
from tests.test_databento import LAST, LIVE, MBO_EVENTS, SNAP, write_mbo
from tests.test_databento import T0 as DB_T0
from tests.test_lobster import t, write_pair

S = 10**9
BIDS = [(100.00, 300), (99.99, 400)]
ASKS = [(100.01, 200), (100.02, 250)]
CANCELS = [cancel(0.5, 100.00, 30, 1, 0.25), cancel(1.0, 100.02, 50, -1, None), cancel(1.0, 99.99, 1, 1, 1.0)]


def cancels_of(day) -> list[tuple]:
    return list(zip(*(getattr(day, f).tolist() for f in CANCEL_FIELDS), strict=True))


@pytest.fixture()
def day():
    books = [book(0, BIDS, ASKS), book(1, BIDS, ASKS), book(2, BIDS, ASKS)]
    return make_day(books, trades=[trade(0.5, 100.00, 10, -1)], levels=2, cancels=CANCELS)


def test_make_day_cancels(day):
    assert day.n_cancels == 3 and "3 cancels" in repr(day)
    assert cancels_of(day) == [
        (T0 + S // 2, 100.00, 30.0, 1, T0 + S // 4),
        (T0 + S, 100.02, 50.0, -1, UNKNOWN_ENTRY),
        (T0 + S, 99.99, 1.0, 1, T0 + S),
    ]
    assert [day.cancel_ts.dtype, day.cancel_side.dtype, day.cancel_entry_ts.dtype] == [np.int64, np.int8, np.int64]
    plain = make_day([book(0, BIDS, ASKS)], levels=2)
    assert plain.cancel_ts is None and plain.n_cancels is None and "cancels" not in repr(plain)
    assert make_day([book(0, BIDS, ASKS)], levels=2, cancels=[]).n_cancels == 0


def edit(day, **arrays):
    return replace(day, **arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: edit(d, cancel_ts=d.cancel_ts[::-1].copy()),
            r"fixture: cancel row 2, field 'ts': timestamp .* before",
        ),
        (
            lambda d: edit(d, cancel_px=np.array([100.0, np.nan, 99.99])),
            r"cancel row 1, field 'px': price must be finite",
        ),
        (
            lambda d: edit(d, cancel_px=np.array([100.0, 100.02, 99.995])),
            r"cancel row 2, field 'px': price 99.995 is not on the tick grid \(0.01\)",
        ),
        (
            lambda d: edit(d, cancel_sz=np.array([30.0, 0.0, 1.0])),
            r"cancel row 1, field 'sz': size must be finite and > 0",
        ),
        (
            lambda d: edit(d, cancel_side=np.array([1, 0, 1], dtype=np.int8)),
            r"cancel row 1, field 'side': side must be \+1 \(bid\) or -1",
        ),
        (
            lambda d: edit(d, cancel_entry_ts=d.cancel_ts + 1),
            r"cancel row 0, field 'entry_ts': the order entered at \d+, after its cancel",
        ),
        (
            lambda d: edit(d, cancel_sz=d.cancel_sz.astype(np.float32)),
            r"field 'cancel_sz' must be float64 of shape \(C,\)",
        ),
        (lambda d: edit(d, cancel_side=np.ones(2, dtype=np.int8)), r"field 'cancel_side' must be int8 of shape \(C,\)"),
        (lambda d: edit(d, cancel_entry_ts=None), r"cancel fields come together; cancel_entry_ts missing"),
    ],
)
def test_validate_names_cancel_row_and_field(day, change, message):
    with pytest.raises(ValueError, match=message):
        validate(change(day))


def test_validate_maps_cancel_rows_to_file_lines(day):
    bad = edit(day, cancel_sz=np.array([30.0, 50.0, -1.0]))
    with pytest.raises(ValueError, match=r"^f.csv: line 17, field 'cancel_sz'"):
        validate(bad, origin="f.csv", cancel_rows=np.array([5, 9, 17]))


def test_save_load_and_mirror(day, tmp_path):
    loaded = load_day(save_day(day, tmp_path / "small"))
    assert cancels_of(loaded) == cancels_of(day)
    assert not isinstance(loaded.cancel_ts, np.memmap)
    plain = load_day(save_day(make_day([book(0, BIDS, ASKS)], levels=2), tmp_path / "plain"))
    assert all(getattr(plain, f) is None for f in CANCEL_FIELDS)

    n = 200_000  # 1.6 MB per int64 array: memory-mapped like the other large arrays
    many = {
        "cancel_ts": np.full(n, T0, dtype=np.int64),
        "cancel_px": np.full(n, 100.00),
        "cancel_sz": np.ones(n),
        "cancel_side": np.ones(n, dtype=np.int8),
        "cancel_entry_ts": np.full(n, UNKNOWN_ENTRY, dtype=np.int64),
    }
    big = load_day(save_day(validate(edit(day, **many)), tmp_path / "big"))
    assert isinstance(big.cancel_ts, np.memmap) and isinstance(big.cancel_entry_ts, np.memmap)
    assert not isinstance(big.cancel_side, np.memmap)  # 0.2 MB: read outright
    assert big.cancel_ts.shape == (n,) and big.cancel_entry_ts[0] == UNKNOWN_ENTRY

    m = validate(mirror_day(day, 100.005))
    assert m.cancel_px.tolist() == pytest.approx([100.01, 99.99, 100.02])
    assert m.cancel_side.tolist() == [-1, 1, -1] and m.cancel_side.dtype == np.int8
    assert m.cancel_ts.tolist() == day.cancel_ts.tolist() and m.cancel_sz.tolist() == day.cancel_sz.tolist()
    assert m.cancel_entry_ts.tolist() == day.cancel_entry_ts.tolist()
    assert mirror_day(make_day([book(0, BIDS, ASKS)], levels=2), 100.005).cancel_ts is None


# -- LOBSTER -------------------------------------------------------------------------------------
LOB_MESSAGES = [
    "34200.0,1,10,100,1000000,1",  # bid order 10: 100 @ 100.00
    "34200.5,1,11,50,1000100,-1",  # ask order 11: 50 @ 100.01
    "34201.0,2,10,30,1000000,1",  # partial cancel of order 10 (entered 34200.0)
    "34201.5,3,99,20,999900,1",  # deletion of order 99, never submitted in the file: entry unknown
    "34202.0,4,11,10,1000100,-1",  # execution: a trade, never a cancel
    "34202.5,3,11,40,1000100,-1",  # deletion of what is left of order 11 (entered 34200.5)
    "34203.0,3,13,5,1000300,-1",  # deletion of order 13 before its (re)submission below: entry unknown
    "34204.0,1,13,5,1000300,-1",
]
LOB_BOOK = [
    "9999999999,0,1000000,100",
    "1000100,50,1000000,100",
    "1000100,50,1000000,70",
    "1000100,50,1000000,70",
    "1000100,40,1000000,70",
    "9999999999,0,1000000,70",
    "9999999999,0,1000000,70",
    "1000300,5,1000000,70",
]


def test_lobster_cancels_hand_written(tmp_path):
    (day,) = lobster.load(write_pair(tmp_path, LOB_MESSAGES, LOB_BOOK))
    assert cancels_of(day) == [
        (t(34201.0), 100.00, 30.0, 1, t(34200.0)),
        (t(34201.5), 99.99, 20.0, 1, UNKNOWN_ENTRY),
        (t(34202.5), 100.01, 40.0, -1, t(34200.5)),
        (t(34203.0), 100.03, 5.0, -1, UNKNOWN_ENTRY),
    ]
    assert (day.meta.notes["cancels"], day.meta.notes["cancels_entry_unknown"]) == (4, 2)
    assert day.trade_sz.tolist() == [10.0]
    assert day.meta.notes["cancels_of_size_0"] == 0


def test_lobster_cancel_of_size_0_removes_nothing(tmp_path):
    messages = list(LOB_MESSAGES)
    messages[2] = "34201.0,2,10,0,1000000,1"
    (day,) = lobster.load(write_pair(tmp_path, messages, LOB_BOOK))
    assert day.cancel_ts.tolist() == [t(34201.5), t(34202.5), t(34203.0)]
    assert (day.meta.notes["cancels"], day.meta.notes["cancels_of_size_0"]) == (3, 1)


@pytest.mark.parametrize(
    ("row", "message", "expected"),
    [
        (4, "34201.5,3,99,20,0,1", r": line 4, field 'price': a cancellation \(type 3\) needs a price > 0, got 0$"),
        (4, "34201.5,3,99,20,999950,1", r": line 4, field 'cancel_px': price 99.995 is not on the tick grid \(0.01\)$"),
    ],
)
def test_lobster_bad_cancels_name_file_row_and_field(tmp_path, row, message, expected):
    messages = list(LOB_MESSAGES)
    messages[row - 1] = message
    path = write_pair(tmp_path, messages, LOB_BOOK)
    with pytest.raises(ValueError, match=expected) as err:
        lobster.load(path)
    assert str(err.value).startswith(str(path))


def _plain_lobster_cancels(path: Path) -> list[tuple]:
    """Independent reference: a dict of submissions walked line by line."""
    entered: dict[int, float] = {}
    out = []
    for line in path.read_text().splitlines():
        time, typ, oid, size, price, direction = line.split(",")
        if typ == "1":
            entered[int(oid)] = float(time)
        elif typ in ("2", "3"):
            out.append((float(time), int(price), int(size), int(direction), entered.get(int(oid))))
    return out


def test_lobster_amzn_sample_cancels(shared_data):
    path = shared_data / "lobster" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
    (day,) = lobster.load(path)
    counts = day.meta.notes["event_counts"]
    assert day.n_cancels == counts["partial_cancel"] + counts["delete"] == 16 + 18235
    assert day.meta.notes["cancels_entry_unknown"] == 4396
    known = day.cancel_entry_ts != UNKNOWN_ENTRY
    assert (np.diff(day.cancel_ts) >= 0).all() and (day.cancel_entry_ts[known] <= day.cancel_ts[known]).all()
    assert (day.cancel_sz > 0).all() and set(day.cancel_side.tolist()) == {-1, 1}
    ref = _plain_lobster_cancels(path)
    midnight = day.meta.session_open_ns - 34_200 * S
    assert day.cancel_px.tolist() == [p / 10_000 for _, p, _, _, _ in ref]
    assert day.cancel_sz.tolist() == [float(s) for _, _, s, _, _ in ref]
    assert day.cancel_side.tolist() == [d for _, _, _, d, _ in ref]
    entry_s = [None if e == UNKNOWN_ENTRY else (e - midnight) / S for e in day.cancel_entry_ts.tolist()]
    assert entry_s == pytest.approx([e for *_, e in ref])


# -- Databento MBO ----------------------------------------------------------------------------------
def test_mbo_cancels_of_the_rebuild_fixture(tmp_path):
    # order 2 moves from 99.75 to 100.00 (a modify to another price leaves its queue: a cancel of
    # its 3 at 99.75); order 1 is cancelled in full; fills (orders 3 and 2) remove size without cancels
    (day,) = db.load(write_mbo(tmp_path / "x.mbo.csv", MBO_EVENTS), levels=2)
    us = 1000
    assert cancels_of(day) == [
        (DB_T0 + 3 * us, 99.75, 3.0, 1, UNKNOWN_ENTRY),
        (DB_T0 + 4 * us, 100.00, 5.0, 1, UNKNOWN_ENTRY),
    ]
    n = day.meta.notes
    assert (n["cancels"], n["cancels_entry_unknown"], n["modifies_losing_priority"]) == (2, 2, 1)


MBO_CANCEL_EVENTS = [
    (0, "R", "N", None, 0, 0, SNAP),
    (0, "A", "B", 100.00, 5, 1, SNAP),  # in the book before the data: entry unknown
    (0, "A", "A", 101.00, 4, 2, LAST),
    (1, "A", "B", 100.00, 6, 3, LIVE),  # entered at 1 us
    (2, "C", "B", 100.00, 2, 3, LIVE),  # partial cancel of 2 (entry 1 us)
    (3, "M", "B", 100.00, 3, 3, LIVE),  # size 4 -> 3 at the same price: cancel 1, keeps its place
    (4, "T", "A", 100.00, 2, 9, 0),
    (4, "F", "B", 100.00, 2, 3, 0),  # 2 of order 3 filled ...
    (5, "M", "B", 100.00, 0, 3, LIVE),  # ... then removed in full: 2 filled, 1 cancelled
    (6, "M", "A", 101.00, 7, 2, LIVE),  # size 4 -> 7: the order loses its place (cancel of its 4)
    (7, "C", "A", 101.00, 7, 2, LIVE),  # cancel of 7, entry the modify's time (6 us)
    (8, "A", "A", 101.25, 3, 4, LIVE),
    (9, "C", "B", 100.00, 5, 1, LIVE),  # order 1 in full, entry unknown
]


def test_mbo_cancels_hand_computed(tmp_path):
    (day,) = db.load(write_mbo(tmp_path / "c.mbo.csv", MBO_CANCEL_EVENTS), levels=2)
    us = 1000
    expected = [
        (DB_T0 + 2 * us, 100.00, 2.0, 1, DB_T0 + us),
        (DB_T0 + 3 * us, 100.00, 1.0, 1, DB_T0 + us),
        (DB_T0 + 5 * us, 100.00, 1.0, 1, DB_T0 + us),
        (DB_T0 + 6 * us, 101.00, 4.0, -1, UNKNOWN_ENTRY),
        (DB_T0 + 7 * us, 101.00, 7.0, -1, DB_T0 + 6 * us),
        (DB_T0 + 9 * us, 100.00, 5.0, 1, UNKNOWN_ENTRY),
    ]
    assert cancels_of(day) == expected
    n = day.meta.notes
    assert (n["cancels"], n["cancels_entry_unknown"], n["modifies_losing_priority"]) == (6, 2, 1)
    assert day.trade_sz.tolist() == [2.0]

    dbn = write_mbo_dbn(tmp_path / "c.mbo.dbn", MBO_CANCEL_EVENTS)
    (same,) = db.load(dbn, levels=2)
    assert cancels_of(same) == expected


def write_mbo_dbn(path: Path, records: list[tuple]) -> Path:
    """The records of :func:`write_mbo` as a DBN file (rtype 160)."""
    dbn = pytest.importorskip("databento_dbn")
    dtype = np.dtype(dbn.MBOMsg._dtypes)
    arr = np.zeros(len(records), dtype=dtype)
    arr["length"] = dtype.itemsize // 4
    arr["rtype"] = 160
    arr["publisher_id"] = 1
    arr["instrument_id"] = 5602
    for k, (t_us, action, side, price, size, oid, flags) in enumerate(records):
        ts = DB_T0 + t_us * 1000
        arr["ts_event"][k] = arr["ts_recv"][k] = ts
        arr["price"][k] = db.UNDEF_PRICE if price is None else round(price * 1e9)
        arr["size"][k], arr["order_id"][k], arr["flags"][k], arr["sequence"][k] = size, oid, flags, k
        arr["action"][k], arr["side"][k] = action.encode(), side.encode()
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=DB_T0,
        end=DB_T0 + 10**6,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBO,
        symbols=["ESM4"],
        mappings=[],
        version=int(dbn.DBN_VERSION),
    )
    path.write_bytes(bytes(meta.encode()) + arr.tobytes())
    return path


def test_mbo_esm4_sample_cancels(shared_data):
    (day,) = db.load(shared_data / "databento" / "ESM4_glbx-mdp3_mbo_2024-05-08T00-00-00_2024-05-08T00-00-02.csv")
    n = day.meta.notes
    # 80 C and 27 M records; the fills' removals (2 C and 3 M of 6 contracts) are not cancels
    assert (day.n_cancels, n["cancels_entry_unknown"], n["modifies_losing_priority"]) == (102, 39, 23)
    assert n["records_by_action"]["C"] + n["records_by_action"]["M"] - 5 == day.n_cancels
    known = day.cancel_entry_ts != UNKNOWN_ENTRY
    assert (day.cancel_entry_ts[known] <= day.cancel_ts[known]).all() and (day.cancel_entry_ts[known] > day.ts[0]).all()
    assert (np.diff(day.cancel_ts) >= 0).all() and (day.cancel_sz > 0).all()
    assert np.all(np.round(day.cancel_px / 0.25) * 0.25 == day.cancel_px)


def test_other_sources_leave_cancels_none(shared_data):
    (day,) = db.load(shared_data / "databento" / "ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv")
    assert day.cancel_ts is None and "cancels" not in day.meta.notes

"""The recorder against a local Binance stand-in replaying the real sample (websocket + REST on
127.0.0.1): recorded files load with ``load_market`` and give the sample's book and trades, through
a dropped connection, a sequence gap, midnight and size rotation. Plus the local book's rules, the
writer and the command line on hand-made input."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("websockets")

from exec_env.market import crypto
from exec_env.market.data import MarketDay, MarketMeta, validate
from exec_env.market.sources import load_market
from exec_env.record import main, parse_duration
from exec_env.recorder import BinanceSpot, CaptureWriter, LocalBook, RecordStats, record_async
from exec_env.recorder.exchange import Diff, Snapshot, normalize_symbol
from tests.binance_replay import ReplayExchange, ReplayServer, Timeline

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "crypto/binance-spot/btcusdt_20240808.gz"
BOOK = ("bid_px", "bid_sz", "ask_px", "ask_sz")
SAMPLE_START_NS = 1_723_161_253_937_085_768  # first line of the sample, 2024-08-08 23:54:13.937 UTC
T_GEN = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MIDNIGHT_NS = 1_723_161_600 * 1_000_000_000  # 2024-08-09 00:00:00 UTC


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> Path:
    path = shared_data / SAMPLE
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def timeline(sample: Path) -> Timeline:
    return Timeline.read(sample)


@pytest.fixture(scope="module")
def original(sample: Path):
    (day,) = crypto.load(sample)
    return day


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A capture written from a hand-made day (5 levels, 2,000 books 100 ms apart, 1,000 trades):
    the recorder's end-to-end tests that need no shared sample."""
    rng = np.random.default_rng(7)
    n, levels = 2000, 5
    t = T_GEN + np.arange(n, dtype=np.int64) * 100_000_000
    bid0 = 6_000_000 + np.cumsum(rng.integers(-2, 3, n))  # cents
    ask0 = bid0 + 1 + rng.integers(0, 2, n)
    k = np.arange(levels)
    rows = np.arange(1, n, 2)
    side = rng.choice(np.array([-1, 1], dtype=np.int8), rows.size)
    day = MarketDay(
        meta=MarketMeta("TESTUSDT", 0.01, 0.001, int(t[0]), int(t[-1]) + 1, "generated", "2023-11-14"),
        ts=t,
        bid_px=(bid0[:, None] - k) / 100,
        bid_sz=rng.integers(1, 500, (n, levels)) / 1000,
        ask_px=(ask0[:, None] + k) / 100,
        ask_sz=rng.integers(1, 500, (n, levels)) / 1000,
        trade_ts=t[rows] - 50_000_000,
        trade_px=np.where(side > 0, ask0[rows - 1], bid0[rows - 1]) / 100,
        trade_sz=rng.integers(1, 50, rows.size) / 1000,
        trade_side=side,
    )
    path = tmp_path_factory.mktemp("generated") / "testusdt_generated.gz"
    return crypto.write_binance(validate(day), path, book_ticker=False)


def lines_of(files: list[Path]) -> list[tuple[int, dict]]:
    out = []
    for f in files:
        with gzip.open(f, "rt") as fh:
            out += [(int(a), json.loads(b)) for a, _, b in (line.partition(" ") for line in fh)]
    return out


def lines_of_sample(timeline: Timeline) -> list[tuple[int, dict]]:
    """The sample's stream lines and its snapshot line, in file order (for :func:`row_ids`)."""
    out = [(t, json.loads(x)) for t, x in zip(timeline.ts, timeline.text, strict=True)]
    k = int(np.searchsorted([t for t, _ in out], timeline.snapshot_ts))
    return [*out[:k], (timeline.snapshot_ts, timeline.snapshot), *out[k:]]


def row_ids(lines: list[tuple[int, dict]], ts: np.ndarray) -> np.ndarray:
    """The final update id of each book row: the largest diff ``u`` or snapshot ``lastUpdateId`` among
    the lines stamped at or before the row (what the book holds after a diff, a resync or a snapshot)."""
    stamps = np.array([t for t, _ in lines], dtype=np.int64)
    ids = []
    for _, msg in lines:
        data = msg.get("data", msg)
        ids.append(data.get("u", -1) if data.get("e") == "depthUpdate" else data.get("lastUpdateId", -1))
    top = np.maximum.accumulate(np.array(ids, dtype=np.int64))
    return top[np.searchsorted(stamps, ts, side="right") - 1]


def trade_rank(timeline: Timeline, indices: list[int]) -> np.ndarray:
    """Positions, among the sample's trades, of the trades at these timeline indices."""
    trades = [i for i, s in enumerate(timeline.stream) if s.endswith("@trade")]
    return np.searchsorted(trades, [i for i in indices if timeline.stream[i].endswith("@trade")])


def replay_clock(replay: ReplayExchange, start_ns: int):
    """The replay's data time as a clock: ``start_ns`` until the first message of its slice is sent,
    then ``start_ns`` plus the original stamp of the last message sent since that one. No wall time:
    a slow start (a loaded CI machine) shifts nothing, so midnight falls where the test puts it."""
    tl, first = replay.timeline, replay.start
    return lambda: start_ns + int(tl.ts[max(replay._pos - 1, first)] - tl.ts[first])


def record_replay(replay: ReplayExchange, folder: Path, **options) -> RecordStats:
    """Record everything the replay sends, then stop (20 s at most)."""
    with ReplayServer(replay) as server:
        base = f"127.0.0.1:{server.port}"
        binance = BinanceSpot(ws_base=f"ws://{base}", rest_base=f"http://{base}")

        async def run() -> RecordStats:
            stop = asyncio.Event()

            def progress(stats: RecordStats) -> None:
                if server.finished and stats.depth_updates + stats.trades == len(server.sent):
                    stop.set()

            return await record_async(
                binance,
                replay.timeline.symbol,
                folder,
                20.0,
                stop=stop,
                progress=progress,
                progress_every_s=0.05,
                reconnect_delay_s=0.05,
                **options,
            )

        stats = asyncio.run(run())
    assert stats.depth_updates + stats.trades == len(replay.sent), "the recording ended before the replay"
    return stats


def first_index(timeline: Timeline, start: int, kind: str) -> int:
    return next(i for i in range(start, len(timeline.ts)) if timeline.stream[i].endswith(kind))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def test_recording_through_a_dropped_connection_and_a_sequence_gap(tmp_path, timeline, original):
    drop = first_index(timeline, 6000, "@depth@100ms")
    omit = first_index(timeline, 11000, "@depth@100ms")
    replay = ReplayExchange(timeline, speed=100, stop=15000, drop_after=drop, drop_skip=60, omit=frozenset({omit}))
    stats = record_replay(replay, tmp_path, clock=replay_clock(replay, SAMPLE_START_NS))

    counts = {k: getattr(stats, k) for k in ("connects", "disconnects", "gaps", "snapshots", "snapshots_discarded")}
    assert counts == {"connects": 2, "disconnects": 1, "gaps": 2, "snapshots": 3, "snapshots_discarded": 0}
    assert replay.connections == 2 and replay.snapshot_requests == 3
    files = [Path(f) for f in stats.files]
    assert [f.name[:16] for f in files] == ["btcusdt_20240808"]
    lines = lines_of(files)
    events = [m["data"]["e"] for _, m in lines if m.get("stream") == "recorder"]
    assert events.count("disconnect") == 1 and events.count("gap") == 2 and events.count("connect") == 2

    (day,) = load_market(files, cache=False, on_gap="resync").days
    assert day.meta.notes["resyncs"] == 2
    assert day.meta.notes["other_messages"] == {"recorder": len(events)}
    # trades: exactly those sent (the ones missed while disconnected are missing)
    k = trade_rank(timeline, replay.sent)
    assert day.n_trades == k.size == stats.trades
    np.testing.assert_array_equal(day.trade_px, original.trade_px[k])
    np.testing.assert_array_equal(day.trade_sz, original.trade_sz[k])
    np.testing.assert_array_equal(day.trade_side, original.trade_side[k])
    # book: every recorded row is the original row with the same update id
    rec_ids = row_ids(lines, day.ts)
    orig_ids = row_ids(lines_of_sample(timeline), original.ts)
    at = np.searchsorted(orig_ids, rec_ids)
    np.testing.assert_array_equal(orig_ids[at], rec_ids)
    for name in BOOK:
        np.testing.assert_array_equal(getattr(day, name), getattr(original, name)[at])
    # the original rows missing from the recording: the two resynced stretches, each a halt
    span = (orig_ids >= rec_ids[0]) & (orig_ids <= rec_ids[-1])
    missing = span & ~np.isin(orig_ids, rec_ids)
    stretches = runs(missing)
    assert len(stretches) == 2
    skipped_diff = first_index(timeline, drop + 1, "@depth@100ms")
    assert orig_ids[stretches[0][0]] == timeline.diff[skipped_diff][1]
    assert orig_ids[stretches[1][0]] == timeline.diff[omit][1]
    # each stretch is a halt from the gap (marked by the recorder) to the resync snapshot line
    gap_ts = [t for t, m in lines if m.get("stream") == "recorder" and m["data"]["e"] == "gap"]
    snapshot_ts = [t for t, m in lines if "lastUpdateId" in m]
    assert day.halts.tolist() == [[gap_ts[0], snapshot_ts[1]], [gap_ts[1], snapshot_ts[2]]]
    inside = (day.ts[:, None] >= day.halts[:, 0]) & (day.ts[:, None] < day.halts[:, 1])
    assert not inside.any()
    lost = [i for i in range(drop + 1, drop + 1 + 60) if timeline.diff[i] is not None]
    assert stretches[0][1] - stretches[0][0] >= len(lost) >= 1


def test_midnight_and_size_rotation_each_file_loads_alone(tmp_path, timeline, original):
    start, stop, at_midnight = 15000, 24000, 19500
    replay = ReplayExchange(timeline, speed=100, start=start, stop=stop)
    clock = replay_clock(replay, MIDNIGHT_NS - (timeline.ts[at_midnight] - timeline.ts[start]))
    stats = record_replay(replay, tmp_path, clock=clock, max_bytes=400_000)

    files = [Path(f) for f in stats.files]
    assert sorted(tmp_path.iterdir()) == files  # no part file left, nothing else
    headers = [lines_of([f])[0][1]["data"] for f in files]
    reasons = [h["reason"] for h in headers]
    assert reasons[0] == "start" and reasons.count("midnight") == 1 and reasons.count("size") >= 1
    assert len(files) == 1 + reasons.count("midnight") + reasons.count("size")
    cut = reasons.index("midnight")
    assert all(f.name.startswith("btcusdt_20240808_") for f in files[:cut])
    assert all(f.name.startswith("btcusdt_20240809_") for f in files[cut:])

    # the concatenation: two UTC days, the sample's book and every trade sent
    whole = tmp_path / "whole" / "btcusdt_all.gz"
    whole.parent.mkdir()
    whole.write_bytes(gzip.compress(b"".join(gzip.decompress(f.read_bytes()) for f in files)))
    catalogue = load_market(whole, cache=False)
    assert [d.meta.date for d in catalogue.days] == ["2024-08-08", "2024-08-09"]
    first, second = catalogue.days
    # the rotation snapshots, all consistent: counted on the day each arrived, and over the capture in notes["file"]
    assert first.meta.notes["file"]["snapshots_unused"] == len(files) - 1
    assert first.meta.notes["snapshots_unused"] + second.meta.notes["snapshots_unused"] == len(files) - 1
    assert first.meta.notes["resyncs"] == 0
    lines = lines_of(files)
    orig_ids = row_ids(lines_of_sample(timeline), original.ts)
    for day in catalogue.days:
        at = np.searchsorted(orig_ids, row_ids(lines, day.ts))
        for name in BOOK:
            np.testing.assert_array_equal(getattr(day, name), getattr(original, name)[at])
    rec_ids = row_ids(lines, np.concatenate([first.ts, second.ts]))
    assert np.array_equal(np.unique(rec_ids), rec_ids)
    span = (orig_ids >= rec_ids[0]) & (orig_ids <= rec_ids[-1])
    assert span.sum() == rec_ids.size  # no row lost anywhere, midnight included
    k = trade_rank(timeline, replay.sent)
    np.testing.assert_array_equal(np.concatenate([first.trade_px, second.trade_px]), original.trade_px[k])
    np.testing.assert_array_equal(np.concatenate([first.trade_side, second.trade_side]), original.trade_side[k])

    # each file alone: starts with the recorder's header and (after the first) a snapshot of its book,
    # loads with the strict default (no gap), and gives the concatenation's rows
    by_ts = {int(t): (d, r) for d in catalogue.days for r, t in enumerate(d.ts)}
    for n, f in enumerate(files):
        head = lines_of([f])[:2]
        assert head[0][1]["stream"] == "recorder"
        if n > 0:
            assert head[1][1]["stream"] == "btcusdt@localBook" and head[1][0] == head[0][0]
        (alone,) = load_market(f, cache=False).days
        assert alone.meta.notes["resyncs"] == 0
        extra = [r for r, t in enumerate(alone.ts) if int(t) not in by_ts]
        assert extra in ([], [0]) and (n > 0 or extra == [])  # the header snapshot's own row
        for r, t in enumerate(alone.ts):
            key = int(t) if int(t) in by_ts else max(x for x in by_ts if x < int(t))
            d, j = by_ts[key]
            for name in BOOK:
                np.testing.assert_array_equal(getattr(alone, name)[r], getattr(d, name)[j], err_msg=f"{f.name} {r}")


def test_snapshot_errors_a_stale_snapshot_and_a_garbage_frame(tmp_path, timeline, original):
    start = 15000
    replay = ReplayExchange(
        timeline, speed=100, start=start, stop=18000, garbage_after=16000, snapshot_faults=["503", "old"]
    )
    clock = replay_clock(replay, SAMPLE_START_NS + timeline.ts[start] - timeline.ts[0])
    stats = record_replay(replay, tmp_path, clock=clock)

    assert (stats.snapshot_failures, stats.snapshots_discarded, stats.snapshots) == (1, 1, 1)
    assert (stats.unparsable, stats.gaps, stats.disconnects, replay.snapshot_requests) == (1, 0, 0, 3)
    assert "unusable message skipped" in stats.last_error and "Bad Gateway" in stats.last_error
    files = [Path(f) for f in stats.files]
    lines = lines_of(files)
    events = [m["data"]["e"] for _, m in lines if m.get("stream") == "recorder"]
    assert events == ["file", "connect", "snapshot_failed", "snapshot_discarded", "stop"]
    failed = next(m["data"] for _, m in lines if m.get("data", {}).get("e") == "snapshot_failed")
    assert "503" in failed["error"]
    # neither the stale snapshot nor the garbage was written: the file loads with the strict default
    (day,) = load_market(files, cache=False).days
    assert day.meta.notes["snapshots_used"] == 1 and day.meta.notes["resyncs"] == 0
    orig_ids = row_ids(lines_of_sample(timeline), original.ts)
    rec_ids = row_ids(lines, day.ts)
    at = np.searchsorted(orig_ids, rec_ids)
    for name in BOOK:
        np.testing.assert_array_equal(getattr(day, name), getattr(original, name)[at])
    assert at[-1] - at[0] + 1 == at.size  # from the first row on, none missing
    np.testing.assert_array_equal(day.trade_px, original.trade_px[trade_rank(timeline, replay.sent)])


def test_recording_a_generated_capture_gives_its_book_and_trades(tmp_path, generated):
    timeline = Timeline.read(generated)
    (original,) = crypto.load(generated)
    replay = ReplayExchange(timeline, speed=200)
    stats = record_replay(replay, tmp_path, clock=replay_clock(replay, T_GEN))
    assert (stats.depth_updates, stats.trades, stats.snapshots, stats.gaps) == (1999, 1000, 1, 0)
    (day,) = load_market(stats.files, cache=False).days
    lines = lines_of([Path(f) for f in stats.files])
    at = np.searchsorted(row_ids(lines_of_sample(timeline), original.ts), row_ids(lines, day.ts))
    np.testing.assert_array_equal(at, np.arange(at[0], original.n_books))  # every row from the snapshot on
    assert at[0] < original.n_books // 10  # the first snapshot came early (its timing varies)
    for name in (*BOOK, "trade_px", "trade_sz", "trade_side"):
        np.testing.assert_array_equal(
            getattr(day, name), getattr(original, name)[at] if name in BOOK else getattr(original, name)
        )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_python_m_record_stops_cleanly_on_a_signal(tmp_path, generated, sig):
    replay = ReplayExchange(Timeline.read(generated), speed=100)
    out = tmp_path / "out"
    with ReplayServer(replay) as server:
        base = f"127.0.0.1:{server.port}"
        argv = [
            sys.executable,
            "-m",
            "exec_env.record",
            "TESTUSDT",
            "--out",
            str(out),
            "--ws-url",
            f"ws://{base}",
            "--rest-url",
            f"http://{base}",
            "--progress-every",
            "0.2",
        ]
        proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while len(replay.sent) < 300 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.05)
            assert len(replay.sent) >= 300, "the recorder did not start"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 0, err[-500:]
    assert f"stopped by {sig.name}" in err and re.search(r"\n[12] file\(s\):", err)
    files = sorted(out.iterdir())
    # renamed: no part file left (two files if the wall clock passed midnight UTC meanwhile)
    assert len(files) in (1, 2) and all(f.suffix == ".gz" for f in files)
    lines = lines_of(files)
    assert lines[-1][1] == {"stream": "recorder", "data": {"e": "stop", "reason": "stopped"}}
    n_trades = sum(m.get("stream") == "testusdt@trade" for _, m in lines)
    days = load_market(files, cache=False).days
    assert n_trades > 0 and sum(d.n_trades for d in days) == n_trades


def test_command_line_records_with_progress(tmp_path, generated, capsys):
    timeline = Timeline.read(generated)
    replay = ReplayExchange(timeline, speed=1000)  # sent within 0.2 s, recorded within 2 s
    with ReplayServer(replay) as server:
        base = f"127.0.0.1:{server.port}"
        code = main(
            [
                "test/usdt",
                "--duration",
                "2s",
                "--out",
                str(tmp_path),
                "--ws-url",
                f"ws://{base}",
                "--rest-url",
                f"http://{base}",
                "--progress-every",
                "0.5",
            ]
        )
    assert code == 0
    err = capsys.readouterr().err
    assert f"recording TESTUSDT from ws://{base}/stream?streams=testusdt@depth@100ms/testusdt@trade" in err
    assert err.count("TESTUSDT") >= 3 and "diffs " in err and re.search(r"\n[12] file\(s\):", err)
    days = load_market(tmp_path, cache=False).days
    assert replay.finished and sum(d.n_trades for d in days) == 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["BTCUSDT", "--duration", "soon"], "invalid duration 'soon'"),
        (["BTC USDT"], "symbol='BTC USDT' is invalid"),
        (["BTCUSDT", "--depth-limit", "7"], "depth_limit=7 is invalid"),
        (["BTCUSDT", "--max-mb", "0"], "--max-mb=0.0 is invalid"),
    ],
)
def test_command_line_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_parse_duration():
    assert [parse_duration(x) for x in ("90", "90s", "1.5m", "2h", "1d", "forever")] == [
        90.0,
        90.0,
        90.0,
        7200.0,
        86400.0,
        None,
    ]


# ------------------------------------------------------------------------------------------------
# the local book, the exchange layer and the writer on hand-made input


def d(first: int, last: int, b=(), a=()) -> Diff:
    return Diff(first, last, [list(x) for x in b], [list(x) for x in a])


def book_with(lid: int, bids, asks) -> LocalBook:
    book = LocalBook(BinanceSpot())
    assert book.on_snapshot(Snapshot(lid, [list(x) for x in bids], [list(x) for x in asks])) == "used"
    return book


def test_local_book_buffers_until_a_snapshot_then_applies_binance_rules():
    book = LocalBook(BinanceSpot())
    assert book.needs_snapshot
    assert book.on_diff(d(90, 100, b=[("10.00", "9")])) == "buffered"  # stale once the snapshot (105) comes
    assert book.on_diff(d(101, 107, a=[("11.00", "0"), ("11.50", "2")])) == "buffered"  # bridges 105
    snap = Snapshot(105, [["10.00", "1"], ["9.00", "2"]], [["11.00", "3"]])
    assert not book.too_old(snap)
    assert book.on_snapshot(snap) == "used"
    assert book.snapshot() == Snapshot(107, [["10.00", "1"], ["9.00", "2"]], [["11.50", "2"]])
    assert book.on_diff(d(108, 108, b=[("10.00", "0")])) == "applied"
    assert book.best() == (9.0, 11.5)
    assert book.on_snapshot(Snapshot(108, [], [])) == "unused"  # in sync: the loader ignores it too
    assert book.on_diff(d(110, 111)) == "gap" and book.needs_snapshot and book.gaps == 1
    assert book.on_diff(d(112, 115, b=[("9.50", "4")])) == "buffered"
    assert book.too_old(Snapshot(108, [], []))  # cannot reach U=110
    assert book.on_snapshot(Snapshot(113, [["9.00", "2"]], [["11.50", "1"]])) == "used"
    assert book.snapshot() == Snapshot(115, [["9.50", "4"], ["9.00", "2"]], [["11.50", "1"]])


def test_local_book_bridge_rule():
    book = book_with(100, [("10", "1")], [("11", "1")])
    assert book.on_diff(d(90, 100)) == "stale"
    assert book.on_diff(d(102, 103)) == "gap"  # the first diff after a snapshot must contain 101
    book = book_with(100, [("10", "1")], [("11", "1")])
    assert book.on_diff(d(101, 101)) == "applied" and book.on_diff(d(101, 101)) == "gap"


def test_binance_messages_and_errors():
    ex = BinanceSpot(ws_base="ws://127.0.0.1:1", rest_base="http://127.0.0.1:1/")
    assert ex.stream_url("BTC/USDT") == "ws://127.0.0.1:1/stream?streams=btcusdt@depth@100ms/btcusdt@trade"
    assert ex.snapshot_url("btcusdt") == "http://127.0.0.1:1/api/v3/depth?symbol=BTCUSDT&limit=1000"
    assert BinanceSpot(depth_speed="1000ms", book_ticker=True).streams("ETHBTC") == [
        "ethbtc@depth",
        "ethbtc@trade",
        "ethbtc@bookTicker",
    ]
    assert normalize_symbol("eth-btc") == "ETHBTC"
    kind, diff = ex.classify({"stream": "x", "data": {"e": "depthUpdate", "U": 5, "u": 6, "b": [["1", "2"]], "a": []}})
    assert kind == "diff" and (diff.first, diff.last, diff.bids) == (5, 6, [["1", "2"]])
    assert ex.classify({"e": "trade", "p": "1"}) == ("trade", None)
    assert ex.classify({"result": None, "id": 1}) == ("other", None)
    with pytest.raises(ValueError, match="depthUpdate message: field 'U' must be an integer update id"):
        ex.classify({"e": "depthUpdate", "U": "5", "u": 6, "b": [], "a": []})
    with pytest.raises(ValueError, match=r"field 'b': a level must be a \[price, qty\] pair of strings"):
        ex.classify({"e": "depthUpdate", "U": 5, "u": 6, "b": [["1"]], "a": []})
    with pytest.raises(ValueError, match="field 'pu': futures depth diffs"):
        ex.classify({"e": "depthUpdate", "U": 5, "u": 6, "pu": 4, "b": [], "a": []})
    with pytest.raises(ValueError, match="field 'U': first update id 7 is after the final id 6"):
        ex.classify({"e": "depthUpdate", "U": 7, "u": 6, "b": [], "a": []})
    with pytest.raises(ValueError, match="REST depth snapshot: the exchange answered an error: code -1121"):
        ex.parse_snapshot({"code": -1121, "msg": "Invalid symbol."})
    with pytest.raises(ValueError, match="REST depth snapshot: field 'asks' must be a list"):
        ex.parse_snapshot({"lastUpdateId": 1, "bids": []})


def test_writer_stamps_rotation_and_part_files(tmp_path):
    ticks = iter([100, 100, 90, 200])
    headers = []

    def header(ts: int, reason: str) -> list[str]:
        headers.append((ts, reason))
        return [json.dumps({"stream": "recorder", "data": {"e": "file", "reason": reason}})]

    w = CaptureWriter(tmp_path, "TESTUSDT", header, max_bytes=60, clock=lambda: next(ticks))
    assert [w.stamp() for _ in range(4)] == [100, 101, 102, 200]
    assert w.stamps_raised == 2
    day = 86_400 * 10**9
    w.write(day - 2, '{"a":1}')
    assert [p.name for p in tmp_path.iterdir()] == [".testusdt_19700101_235959.gz.part"]
    w.write(day - 1, '{"a":2,"pad":"' + "x" * 40 + '"}')  # the file now holds > 60 bytes after its header
    w.write(day - 1, '{"a":3}')  # size rotation, same second: a suffixed name
    w.write(day, '{"a":4}')  # midnight
    with pytest.raises(ValueError, match="must not contain a newline"):
        w.write(day, '{"a":\n5}')
    files = w.close()
    assert [f.name for f in files] == [
        "testusdt_19700101_235959.gz",
        "testusdt_19700101_235959-1.gz",
        "testusdt_19700102_000000.gz",
    ]
    assert sorted(tmp_path.iterdir()) == sorted(files)
    assert headers == [(day - 2, "start"), (day - 1, "size"), (day, "midnight")]
    assert gzip.decompress(files[1].read_bytes()).decode().splitlines() == [
        f'{day - 1} {{"stream": "recorder", "data": {{"e": "file", "reason": "size"}}}}',
        f'{day - 1} {{"a":3}}',
    ]

"""load_market: auto-detection, folders, globs, companions, duplicates, the parse cache, env by path."""

from __future__ import annotations

import os
import re
import shutil

import gymnasium as gym
import numpy as np
import pytest

import exec_env  # noqa: F401  (registers the ids)
from exec_env.market.data import BOOK_FIELDS, TRADE_FIELDS
from exec_env.market.fx import write_fx_ticks
from exec_env.market.lobster import write_lobster
from exec_env.market.sources import FORMATS, detect_format, load_days, load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

SHORT = SyntheticParams(session_seconds=900.0, snapshot_interval_ms=0.0)


def same(a, b):
    for name in ("ts", *BOOK_FIELDS, *TRADE_FIELDS):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    """A folder as users keep one: two LOBSTER pairs, one FX tick file, a README."""
    folder = tmp_path_factory.mktemp("data")
    for i, date in enumerate(("2024-01-02", "2024-01-03")):
        write_lobster(generate_day(SHORT, seed=5, day_index=i), folder, ticker="SYN", date=date)
    write_fx_ticks(
        generate_day(SyntheticParams(session_seconds=300.0), seed=6, day_index=2), folder / "EURUSD_ticks.csv"
    )
    (folder / "README.txt").write_text("where these files came from\n")
    return folder


def test_a_folder_loads_every_day_once_and_reports_what_it_skipped(data_folder, tmp_path):
    catalogue = load_market(data_folder, n_test=1, cache_dir=tmp_path)
    assert len(catalogue) == 3 and catalogue.n_test == 1
    assert [d.meta.date for d in catalogue.days] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert [d.meta.symbol for d in catalogue.days][:2] == ["SYN", "SYN"]
    assert catalogue.notes["skipped"] == [str(data_folder / "README.txt")]
    assert sorted(os.path.basename(f) for f in catalogue.notes["files"]) == [
        "EURUSD_ticks.csv",
        "SYN_2024-01-02_34200000_35100000_message_10.csv",
        "SYN_2024-01-03_34200000_35100000_message_10.csv",
    ]  # each LOBSTER pair once (its orderbook file is the message file's companion)
    assert catalogue.indices("test") == [2]


def test_a_folder_with_unreadable_files_is_refused_unless_they_are_skipped(data_folder, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(data_folder, folder)
    (folder / "EURUSD_more.csv").write_bytes(b"")
    text = (folder / "EURUSD_ticks.csv").read_text()
    (folder / "EURUSD_utf16.csv").write_text(text, encoding="utf-16")  # readable: transcoded, loaded
    (folder / "zz_blob.bin").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError) as info:
        load_market(folder, cache_dir=tmp_path / "cache")
    assert str(info.value) == (
        f"{folder}: 2 file(s) that no format can read: {folder / 'EURUSD_more.csv'}: line 1: the file is empty "
        f"(0 bytes); expected market data; {folder / 'zz_blob.bin'}: line 1: binary data, not text (a NUL byte at "
        "byte 0); is this a compressed or binary file?. Remove them, narrow the glob, or pass skip_unreadable=True "
        "to skip them (listed in catalogue.notes['unreadable'])"
    )
    (folder / "EURUSD_utf16.csv").unlink()  # the same day as EURUSD_ticks.csv: a duplicate
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable file\(s\)"):
        catalogue = load_market(folder, cache_dir=tmp_path / "cache", skip_unreadable=True)
    assert len(catalogue) == 3
    assert catalogue.notes["skipped"] == [str(folder / n) for n in ("EURUSD_more.csv", "README.txt", "zz_blob.bin")]
    assert [u.split(": ")[0] for u in catalogue.notes["unreadable"]] == [
        str(folder / "EURUSD_more.csv"),
        str(folder / "zz_blob.bin"),
    ]
    assert catalogue.skipped_message() == (
        f"{folder}: skipped 3 file(s) (2 unreadable, 1 documentation): EURUSD_more.csv, README.txt, zz_blob.bin"
    )


def test_a_utf16_file_in_a_folder_is_read_not_skipped(data_folder, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    text = (data_folder / "EURUSD_ticks.csv").read_text()
    (folder / "EURUSD_utf16.csv").write_text(text, encoding="utf-16")
    catalogue = load_market(folder, cache_dir=tmp_path / "cache")
    same(catalogue.day(0), load_days(data_folder / "EURUSD_ticks.csv", cache=False)[0])
    assert catalogue.notes["skipped"] == [] and catalogue.skipped_message() is None


def test_globs_lists_and_explicit_formats(data_folder, tmp_path):
    by_glob = load_market(str(data_folder / "SYN_*_orderbook_10.csv"), cache_dir=tmp_path)
    by_list = load_market(sorted(data_folder.glob("SYN_*_message_10.csv")), format="lobster", cache_dir=tmp_path)
    assert len(by_glob) == len(by_list) == 2
    for a, b in zip(by_glob.days, by_list.days, strict=True):
        same(a, b)
    assert detect_format(data_folder / "EURUSD_ticks.csv") == "fx_ticks"
    with pytest.raises(ValueError, match=r"README.txt: no known market data format recognizes this file"):
        detect_format(data_folder / "README.txt")
    with pytest.raises(ValueError, match=r"format='csv' is unknown; known formats: lobster, databento"):
        load_market(data_folder / "EURUSD_ticks.csv", format="csv")
    with pytest.raises(FileNotFoundError, match="matches no file"):
        load_market(str(data_folder / "*.parquet"))
    assert set(FORMATS) == {"lobster", "databento", "binance", "tardis", "taq", "fx_ticks", "bars", "parquet"}


def test_the_same_session_twice_is_refused(data_folder, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(data_folder / "EURUSD_ticks.csv", copy / "EURUSD_ticks.csv")
    shutil.copy(data_folder / "EURUSD_ticks.csv", copy / "EURUSD_ticks_again.csv")
    with pytest.raises(ValueError, match=r"both hold .* the same day twice would weigh it twice"):
        load_market(copy, cache_dir=tmp_path / "cache")


def test_the_test_split_holds_whole_dates(tmp_path):
    """Two symbols on two dates: test_days=1 would train on one symbol's session of the test date."""
    folder = tmp_path / "two"
    for i, date in enumerate(("2024-01-02", "2024-01-03")):
        for seed, ticker in ((5, "AAA"), (6, "BBB")):
            write_lobster(generate_day(SHORT, seed=seed, day_index=i), folder, ticker=ticker, date=date)
    msg = "test_days=1 cuts the date 2024-01-03 in two (2 sessions of several symbols, some training, some test)"
    with pytest.raises(ValueError, match=re.escape(msg) + r".*test_days may be 0 or one of 2$"):
        load_market(folder, n_test=1, cache_dir=tmp_path / "cache")
    catalogue = load_market(folder, n_test=2, cache_dir=tmp_path / "cache")
    test = [(str(catalogue.day(i).meta.date), catalogue.day(i).meta.symbol) for i in catalogue.indices("test")]
    assert test == [("2024-01-03", "AAA"), ("2024-01-03", "BBB")]


def test_the_cache_returns_the_parsed_days_and_notices_changed_files(data_folder, tmp_path):
    path = tmp_path / "ticks.csv"
    shutil.copy(data_folder / "EURUSD_ticks.csv", path)
    fresh = load_days(path, cache=False)
    first = load_days(path, cache_dir=tmp_path / "cache")
    second = load_days(path, cache_dir=tmp_path / "cache")
    for a, b, c in zip(fresh, first, second, strict=True):
        same(a, b)
        same(a, c)
        assert b.meta == a.meta == c.meta
    assert len(list((tmp_path / "cache" / "parsed").iterdir())) == 1
    # other options are another parse
    load_days(path, cache_dir=tmp_path / "cache", lot_size=10.0)
    assert len(list((tmp_path / "cache" / "parsed").iterdir())) == 2
    # a changed file (size and mtime) is parsed again, never served stale
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-5]) + "\n")
    changed = load_days(path, cache_dir=tmp_path / "cache")
    assert changed[0].n_books == fresh[0].n_books - 5


def test_make_by_path_runs_an_episode(data_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path))
    path = str(data_folder / "SYN_2024-01-02_34200000_35100000_message_10.csv")
    env = gym.make("exec_env/Execution-v0", market=path, horizon_s=300, warmup_s=0, quantity=500)
    env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        _, reward, done, _, info = env.step(np.array([0.0, 1.0], dtype=np.float32))
        total += reward
    assert total == pytest.approx(-info["execution"]["shortfall_bps"], abs=1e-9)


def test_shared_samples_by_folder(shared_data, tmp_path):
    lobster = load_market(shared_data / "lobster", cache_dir=tmp_path)
    assert sorted(d.meta.symbol for d in lobster.days) == ["AAPL", "AMZN"]
    assert lobster.notes["skipped"] == [str(shared_data / "lobster" / "LOBSTER_SampleFiles_ReadMe.txt")]
    bars = load_market(shared_data / "bars", cache_dir=tmp_path)
    assert len(bars) == 10 and sorted({d.meta.symbol for d in bars.days}) == ["AAPL", "SPY"]
    assert bars.notes["skipped"] == [str(shared_data / "bars" / "LICENSE")]
    # the Databento folder holds the ESU4 session twice (CSV and DBN): refused, not double-counted
    with pytest.raises(ValueError, match="the same day twice"):
        load_market(shared_data / "databento", cache_dir=tmp_path)
    taq = load_market(shared_data / "taq-multivenue", cache_dir=tmp_path, crossed="drop")
    assert [d.meta.date for d in taq.days] == ["2018-01-02", "2018-01-03"]


@pytest.mark.slow
def test_train_runs_on_real_data(shared_data, tmp_path, monkeypatch):
    import train

    monkeypatch.setenv("EXEC_ENV_CACHE", str(tmp_path / "cache"))
    out = train.main([
        "--data", str(shared_data / "bars" / "SPY_1min.csv"), "--test-days", "1", "--quantity", "10000",
        "--horizon-s", "3600", "--decision-interval-s", "60", "--total-timesteps", "1024", "--n-envs", "2",
        "--n-steps", "256", "--batch-size", "128", "--eval-episodes", "8", "--output", str(tmp_path / "runs"),
        "--no-progress",
    ])  # fmt: skip
    summary = out["summary"].set_index("policy")
    from exec_env.baselines import DEFAULT_BASELINES

    assert list(summary.index) == ["PPO", *DEFAULT_BASELINES] and (summary["n"] == 8).all()
    assert train.parse_options("crossed=drop,levels=10,x=1.5,y=true,z=none") == {
        "crossed": "drop", "levels": 10, "x": 1.5, "y": True, "z": None,
    }  # fmt: skip

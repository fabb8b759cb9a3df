"""Facts checked on loaded days: warnings where a file looks off, and fee defaults by market."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exec_env.market.facts import MARKET_FEES, check_day, fees_for
from exec_env.market.hours import CALENDARS
from exec_env.market.sources import load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

NS = 1_000_000_000


def clock(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[s]")).replace("T", " ")


@pytest.fixture(scope="module")
def day():
    return generate_day(SyntheticParams(session_seconds=1800.0), seed=3, day_index=0)


def test_a_normal_day_has_no_warning(day):
    assert check_day(day) == []


def test_data_starting_hours_after_the_open_is_reported(day):
    m = day.meta
    early = replace(day, meta=replace(m, session_open_ns=m.session_open_ns - 3 * 3600 * NS))
    assert check_day(early) == [
        f"{m.source} (2024-01-02): the data starts at 2024-01-02 14:30:00 UTC, 3.0 h after the declared session "
        "opens (2024-01-02 11:30:00): episodes there replay a book that is not known yet"
    ]


def gap_day(day, hours=2, calendar=None, halted=False):
    """``day`` with every row and trade from a row in its middle on moved ``hours`` later: the top of
    the book then last changes at row k - 1 and next at row k (returned: the two times)."""
    top = np.column_stack([day.bid_px[:, 0], day.bid_sz[:, 0], day.ask_px[:, 0], day.ask_sz[:, 0]])
    moves = (top[1:] != top[:-1]).any(axis=1)  # moves[i]: row i + 1 differs from row i
    k = next(i for i in range(day.n_books // 2, day.n_books) if moves[i - 1] and moves[i - 2])
    shift = hours * 3600 * NS
    mid = int(day.ts[k])
    ts, trade_ts = day.ts + shift * (day.ts >= mid), day.trade_ts + shift * (day.trade_ts >= mid)
    m = replace(day.meta, session_close_ns=day.meta.session_close_ns + shift,
                notes={"calendar": calendar} if calendar else {})  # fmt: skip
    halts = np.array([[int(ts[k - 1]) + 1, mid + shift]], dtype=np.int64) if halted else None
    return replace(day, ts=ts, trade_ts=trade_ts, meta=m, halts=halts), int(ts[k - 1]), mid + shift


def test_a_book_frozen_for_hours_inside_the_session_is_reported(day):
    frozen, a, b = gap_day(day)
    (text,) = check_day(frozen)
    assert text == (
        f"{day.meta.source} (2024-01-02): the top of the book does not change for {(b - a) / 3.6e12:.1f} h "
        f"({clock(a)} to {clock(b)} UTC) inside the declared session (a closed market (a night, a weekend, a "
        "daily halt) or a data gap?): episodes there fill against a frozen book; narrow the session"
    )


def test_a_frozen_book_while_the_calendar_says_open_is_reported_as_such(day):
    frozen, _, _ = gap_day(day, calendar="us_equities")  # 09:45-11:45 New York: the exchanges are open
    (text,) = check_day(frozen)
    assert "inside the declared session (while the venue is open by its calendar (US equities: Mon-Fri " in text
    assert text.endswith(
        "09:30-16:00 America/New_York): a holiday, a halt or a data gap?): episodes there fill against a frozen book; narrow the session"
    )


def test_trading_halts_of_an_hour_or_more_are_reported_once(day):
    halted, a, b = gap_day(day, halted=True)
    assert check_day(halted) == [
        f"{day.meta.source} (2024-01-02): trading halts cover 2.0 h of the declared session (e.g. {clock(a + 1)} to "
        f"{clock(b)} UTC): nothing fills there, but an episode can start in one and wait for "
        "the reopen"
    ]


def test_a_session_reaching_outside_the_calendar_is_reported(day):
    m = day.meta
    calm = replace(day, meta=replace(m, notes={"calendar": "us_equities"}))
    assert check_day(calm) == []  # 09:30-10:00 New York on a Tuesday
    early = replace(calm, meta=replace(calm.meta, session_open_ns=m.session_open_ns - 3 * 3600 * NS))
    assert check_day(early) == [  # the frozen stretch (06:30-09:30 New York) is said once, by the calendar
        f"{m.source} (2024-01-02): the declared session (2024-01-02 11:30:00 to 2024-01-02 15:00:00 UTC) includes "
        "3.0 h outside the regular hours of the venue (US equities: Mon-Fri 09:30-16:00 America/New_York), e.g. "
        "2024-01-02 11:30:00 to 2024-01-02 14:30:00 UTC: the exchanges are closed or in extended hours (thin, often "
        "frozen books); episodes could start in a frozen book there: narrow the session"
    ]
    saturday = replace(calm, meta=replace(calm.meta, session_open_ns=m.session_open_ns + 4 * 86_400 * NS,
                                          session_close_ns=m.session_close_ns + 4 * 86_400 * NS))  # fmt: skip
    assert "lies entirely outside the regular hours of the venue (US equities" in check_day(saturday)[0]


def test_data_ending_hours_before_the_close_is_reported(day):
    m = day.meta
    late = replace(day, meta=replace(m, session_close_ns=m.session_close_ns + 2 * 3600 * NS))
    (text,) = check_day(late)
    assert "h before the declared session closes" in text and "a truncated file?" in text


def test_sizes_below_one_lot_are_reported(day):
    small = replace(day, bid_sz=day.bid_sz * 1e-7, ask_sz=day.ask_sz * 1e-7)
    (text,) = check_day(small)
    typical = float(np.median(np.concatenate([small.bid_sz[:, 0], small.ask_sz[:, 0]])))
    assert f"the median displayed size {typical:g} is below one lot (1)" in text


def test_fee_defaults_by_market():
    assert fees_for({"binance"}) == ({"maker_fee_bps": 10.0, "taker_fee_bps": 10.0}, MARKET_FEES["binance"][1])
    assert fees_for({"lobster"}) == ({}, None)  # equities: SimConfig's defaults (0.5 bps taker)
    assert fees_for({"binance", "lobster"}) == ({}, None)  # mixed markets: no single schedule


def test_a_crypto_catalogue_carries_crypto_fees(shared_data, tmp_path):
    catalogue = load_market(shared_data / "crypto" / "binance-spot", cache_dir=tmp_path)
    assert catalogue.sim_defaults == {"maker_fee_bps": 10.0, "taker_fee_bps": 10.0}
    assert catalogue.notes["fees"].startswith("Binance spot regular user (VIP 0)")
    assert catalogue.day(0).levels == 50  # the snapshot holds 1,000 levels a side: kept up to 50


def test_a_truncated_sample_warns_when_loaded(shared_data, tmp_path):
    with pytest.warns(UserWarning, match=r"AAPL_2012-06-21.*the data ends at 2012-06-21 13:30:49 UTC, 6.5 h before"):
        catalogue = load_market(shared_data / "lobster", cache_dir=tmp_path)
    assert len(catalogue.notes["warnings"]) == 1


def test_real_cme_samples_against_the_calendar(shared_data, tmp_path):
    folder = shared_data / "databento"
    esh4 = folder / "esh4-glbx-mdp3-20231224.mbo.dbn.zst"  # a Sunday snapshot, 13:00 UTC: CME is closed
    with pytest.warns(UserWarning) as caught:
        catalogue = load_market(esh4, cache_dir=tmp_path)
    assert (
        catalogue.notes["warnings"]
        == [str(w.message) for w in caught]
        == [
            f"{esh4} (2023-12-24): the declared session (2023-12-24 13:00:05 to 2023-12-24 13:00:05 UTC) lies entirely "
            "outside the regular hours of the venue (CME Globex equity index futures: Sun-Fri 17:00-16:00 "
            "America/Chicago, daily halt 16:00-17:00): the market is halted or closed (pre-open orders may change the "
            "book, nothing trades); a weekend or holiday file? every episode replays a frozen book"
        ]
    )
    esu4 = folder / "ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv"  # Monday 18:58-19:02 Chicago
    assert load_market(esu4, cache_dir=tmp_path).notes["warnings"] == []
    with pytest.warns(UserWarning, match="includes 1.0 h outside the regular hours"):
        wide = load_market(esu4, cache_dir=tmp_path, session_open="2024-07-01T20:30")
    assert wide.notes["warnings"][0] == (
        f"{esu4} (2024-07-02): the declared session (2024-07-01 20:30:00 to 2024-07-02 00:01:59 UTC) includes 1.0 h "
        "outside the regular hours of the venue (CME Globex equity index futures: Sun-Fri 17:00-16:00 "
        "America/Chicago, daily halt 16:00-17:00), e.g. 2024-07-01 21:00:00 to 2024-07-01 22:00:00 UTC: the market "
        "is halted or closed (pre-open orders may change the book, nothing trades); episodes could start in a "
        "frozen book there: narrow the session"
    )
    assert wide.notes["warnings"][1].endswith("the data starts at 2024-07-01 23:58:01 UTC, 3.5 h after the declared "
                                              "session opens (2024-07-01 20:30:00): episodes there replay a book "
                                              "that is not known yet")  # fmt: skip


def _utc(text: str) -> int:
    return int(np.datetime64(text, "ns").astype(np.int64))


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        # inside Monday's CME session (opened Monday 17:00 CDT = 22:00 UTC the day before the start)
        ("cme_equity_index", "2024-07-02T03:00", "2024-07-02T04:00", [("2024-07-02T03:00", "2024-07-02T04:00")]),
        # Friday to Monday across the weekend and the US switch to daylight saving (Sunday 2024-03-10):
        # Friday closes 16:00 CST = 22:00 UTC, Sunday reopens 17:00 CDT = 22:00 UTC
        ("cme_equity_index", "2024-03-08T12:00", "2024-03-11T12:00",
         [("2024-03-08T12:00", "2024-03-08T22:00"), ("2024-03-10T22:00", "2024-03-11T12:00")]),
        # the daily maintenance halt 16:00-17:00 CDT = 21:00-22:00 UTC
        ("cme_equity_index", "2024-07-02T20:00", "2024-07-02T23:00",
         [("2024-07-02T20:00", "2024-07-02T21:00"), ("2024-07-02T22:00", "2024-07-02T23:00")]),
        # US equities: 09:30-16:00 EDT = 13:30-20:00 UTC, nothing on Saturday
        ("us_equities", "2024-07-05T00:00", "2024-07-07T00:00", [("2024-07-05T13:30", "2024-07-05T20:00")]),
    ],
)  # fmt: skip
def test_calendar_open_intervals_hand_computed(calendar, start, end, expected):
    got = CALENDARS[calendar].open_intervals(_utc(start), _utc(end))
    assert got.tolist() == [[_utc(a), _utc(b)] for a, b in expected]

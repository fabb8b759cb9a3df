"""Facts checked on loaded days: warnings where a file looks off, and fee defaults by market."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from exec_env.market.facts import MARKET_FEES, check_day, fees_for
from exec_env.market.sources import load_market
from exec_env.market.synthetic import SyntheticParams, generate_day

NS = 1_000_000_000


@pytest.fixture(scope="module")
def day():
    return generate_day(SyntheticParams(session_seconds=1800.0), seed=3, day_index=0)


def test_a_normal_day_has_no_warning(day):
    assert check_day(day) == []


def test_a_book_frozen_for_hours_inside_the_session_is_reported(day):
    m = day.meta
    open_ns = m.session_open_ns - 3 * 3600 * NS  # the session declared 3 h earlier than the book moves
    frozen = replace(day, meta=replace(m, session_open_ns=open_ns))
    (text,) = check_day(frozen)
    assert "the top of the book does not change for 3.0 h" in text
    assert "inside the declared session: a closed market (e.g. CME's daily halt" in text


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

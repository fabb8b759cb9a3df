"""Multi-venue data: MultiVenueDay invariants, save/load, the synthetic anchoring, Databento by
publisher (a two-publisher file written here, and the real sample) and TAQ by exchange."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exec_env.market.databento import write_databento
from exec_env.market.synthetic_venues import _ffill_mid, generate_venue_day
from exec_env.market.venues import from_databento, from_taq, load_multi, save_multi


@pytest.fixture(scope="module")
def mday():
    return generate_venue_day(seed=3, day_index=0, session_seconds=600.0)


def test_venues_share_session_and_carry_their_id(mday) -> None:
    assert mday.venue_names == ("PRIM", "INV", "FAST") and mday.venue_ids == (1, 2, 3)
    for vid, v in zip(mday.venue_ids, mday.venues, strict=True):
        assert (v.venue == vid).all() and v.meta.session_open_ns == mday.meta.session_open_ns
    t = mday.trades()
    assert t.size == sum(v.n_trades for v in mday.venues) and (np.diff(t["ts"]) >= 0).all()
    assert set(np.unique(t["venue"])) == {1, 2, 3}


def test_anchoring_recentres_each_venue_on_the_primary_mid(mday) -> None:
    """At every anchor time the venue's mid is within half a tick of the primary's."""
    tick = mday.meta.tick_size
    grid = np.arange(mday.meta.session_open_ns + 10**9, mday.meta.session_close_ns, 10**9)
    prim = mday.venues[0]
    f = _ffill_mid(prim)[np.searchsorted(prim.ts, grid, side="right") - 1]
    for v in mday.venues[1:]:
        m = _ffill_mid(v)[np.searchsorted(v.ts, grid, side="right") - 1]
        assert np.nanmax(np.abs(m - f)) <= 0.5 * tick + 1e-9


def test_save_load_round_trip(mday, tmp_path: Path) -> None:
    back = load_multi(save_multi(mday, tmp_path / "d"))
    assert back.venue_ids == mday.venue_ids and back.venue_names == mday.venue_names
    for a, b in zip(mday.venues, back.venues, strict=True):
        for name in ("ts", "bid_px", "ask_sz", "trade_ts", "trade_px", "trade_side", "venue"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_databento_two_publishers_become_two_venues(mday, tmp_path: Path) -> None:
    """Two venues written as one MBP-1 CSV (publisher 7 and 9, rows merged by ts_recv) load back
    as two venues with their own books and trades."""
    parts = []
    for k, pub in ((0, 7), (1, 9)):
        one = replace(mday.venues[k], venue=None)
        parts.append(write_databento(one, tmp_path / f"v{pub}.csv", schema="mbp-1", publisher_id=pub).read_text())
    header = parts[0].splitlines()[0]
    rows = [r for p in parts for r in p.splitlines()[1:]]
    rows.sort(key=lambda r: r.split(",")[0])  # ts_recv, ISO text of one width: sorts as time
    path = tmp_path / "two_mbp-1.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    (got,) = from_databento(path, tick_size=0.01)
    assert got.venue_ids == (7, 9)
    for k in range(2):
        v, src = got.venues[k], mday.venues[k]
        np.testing.assert_array_equal(v.trade_ts, src.trade_ts)
        np.testing.assert_allclose(v.trade_px, src.trade_px)
        np.testing.assert_allclose(v.bid_px[:, 0], src.bid_px[:, 0])


def test_databento_real_sample_has_one_publisher(shared_data: Path) -> None:
    path = shared_data / "databento" / "ESU4_glbx-mdp3_mbp-1_2024-07-01T23-58_2024-07-02T00-02.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    (d,) = from_databento(path)
    assert d.venue_ids == (1,) and d.meta.tick_size == 0.25
    assert d.venues[0].n_books == 2168 and d.venues[0].n_trades == 120


def test_taq_real_sample_by_exchange(shared_data: Path) -> None:
    path = shared_data / "taq-multivenue" / "sampleQDataRaw.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    days = from_taq(path, venues="NPTZ")
    assert [d.meta.date for d in days] == ["2018-01-02", "2018-01-03"]
    assert days[0].venue_ids == (14, 16, 20, 26)
    assert [v.n_trades for v in days[0].venues] == [5761, 3047, 6235, 2949]
    with pytest.raises(ValueError, match=r"venues = 'NQ'"):
        from_taq(path, venues="NQ")

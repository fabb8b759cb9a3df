"""Broker interface pieces with exact expectations: commissions, market hours, the simulated venue."""

from __future__ import annotations

import asyncio

import pytest

from exec_env.broker import (
    BrokerReject,
    BrokerTimeout,
    CommissionSchedule,
    MarketHours,
    OrderRequest,
    SimulatedBroker,
)
from exec_env.sim import SimConfig
from tests.books import T0, S, book, make_day

FLAT = SimConfig(maker_fee_bps=0.0, taker_fee_bps=0.0, latency_ms=0.0, resilience_s=0.0)
IB_FIXED = CommissionSchedule(per_unit=0.005, minimum=1.0, max_bps=100.0)


def run(coro):
    return asyncio.run(coro)


def flat_day():
    """Bids 100.00 x 300 / 99.99 x 300, asks 100.01 x 100 / 100.02 x 200 / 100.03 x 500, one row a second."""
    rows = [book(t, [(100.00, 300), (99.99, 300)], [(100.01, 100), (100.02, 200), (100.03, 500)]) for t in range(600)]
    return make_day(rows, close_s=600.0)


def buy_broker(**kw):
    return SimulatedBroker(flat_day(), kw.pop("sim", FLAT), 1, T0 + 10 * S, **kw)


# -- commissions ----------------------------------------------------------------------------------
def test_commission_minimum_per_unit_and_cap_by_hand():
    # 100 units: 0.005 * 100 = 0.50 < minimum 1.00; 10 units of 5.00 = 50 notional: capped at 1% = 0.50
    assert IB_FIXED.order_commission(100, 100 * 50.0) == 1.0
    assert IB_FIXED.order_commission(400, 400 * 50.0) == 2.0
    assert IB_FIXED.order_commission(10, 10 * 5.0) == pytest.approx(0.5, abs=1e-15)
    assert IB_FIXED.order_commission(0, 0.0) == 0.0
    # fill by fill: the first pays the minimum, the next pays nothing until 200 units, then 0.005 a unit
    assert IB_FIXED.fill_commission(0, 0.0, 100, 5000.0) == 1.0
    assert IB_FIXED.fill_commission(100, 5000.0, 100, 5000.0) == 0.0
    assert IB_FIXED.fill_commission(200, 10000.0, 200, 10000.0) == 1.0
    bps = CommissionSchedule(bps=2.0)
    assert bps.order_commission(300, 30_000.0) == pytest.approx(6.0, abs=1e-12)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [("per_unit", -0.01, "[0, 1e6]"), ("minimum", float("nan"), "[0, 1e6]"), ("max_bps", 0.0, "(0, 1e4]")],
)
def test_commission_errors_name_field_value_and_range(field, value, allowed):
    with pytest.raises(ValueError) as e:
        CommissionSchedule(**{field: value})
    assert f"CommissionSchedule.{field} = {value!r}" in str(e.value) and allowed in str(e.value)


def test_simulated_fills_carry_the_commission_and_the_position_pays_it():
    b = buy_broker(commission=IB_FIXED)
    st = run(b.submit(OrderRequest("c1", "TEST", 1, 150.0, 100.02)))
    assert st.status == "filled" and st.filled == 150.0
    fills = run(b.fills(0))
    assert [(f.px, f.qty, f.commission, f.liquidity) for f in fills] == [
        (100.01, 100.0, 1.0, "taker"),
        (100.02, 50.0, 0.0, "taker"),
    ]
    pos = run(b.positions())["TEST"]
    assert pos.qty == 150.0
    assert pos.cash == pytest.approx(-(100 * 100.01 + 50 * 100.02) - 1.0, abs=1e-9)


# -- market hours ---------------------------------------------------------------------------------
NYSE = MarketHours.daily("09:30", "16:00", "America/New_York", "2024-03-08", "2024-03-12", holidays=("2024-03-12",))
NS = 10**9


def utc(s: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(s + "+00:00").timestamp()) * NS


def test_daily_hours_follow_daylight_saving_weekends_and_holidays():
    # Friday 8 March 2024 is EST (UTC-5): 14:30-21:00 UTC; Monday 11 March is EDT (UTC-4): 13:30-20:00 UTC
    assert NYSE.sessions == (
        (utc("2024-03-08T14:30:00"), utc("2024-03-08T21:00:00")),
        (utc("2024-03-11T13:30:00"), utc("2024-03-11T20:00:00")),
    )  # the weekend and the holiday of 12 March have no session


@pytest.mark.parametrize(
    ("ts", "is_open"),
    [
        (utc("2024-03-08T14:30:00") - 1, False),
        (utc("2024-03-08T14:30:00"), True),  # open is inclusive
        (utc("2024-03-08T21:00:00") - 1, True),
        (utc("2024-03-08T21:00:00"), False),  # close is exclusive
        (utc("2024-03-09T15:00:00"), False),  # Saturday
        (utc("2024-03-11T13:30:00"), True),
        (utc("2024-03-12T15:00:00"), False),  # holiday
    ],
)
def test_market_hours_boundaries(ts, is_open):
    assert NYSE.is_open(ts) is is_open


def test_next_open_skips_the_weekend():
    assert NYSE.next_open(utc("2024-03-08T21:00:00")) == utc("2024-03-11T13:30:00")
    assert NYSE.next_open(utc("2024-03-11T14:00:00")) == utc("2024-03-11T14:00:00")
    assert NYSE.next_open(utc("2024-03-11T20:00:00")) is None
    assert MarketHours.always().is_open(utc("2024-03-09T03:00:00"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"open_time": "9h30"}, "open_time = '9h30'"),
        ({"weekdays": "mon-fry"}, "weekdays = 'mon-fry'"),
        ({"first_date": "2024-13-01"}, "first_date = '2024-13-01'"),
        ({"close_time": "09:00"}, "close_time = '09:00' must be after open_time"),
    ],
)
def test_market_hours_errors_name_the_field(kwargs, message):
    args = {"open_time": "09:30", "close_time": "16:00", "tz": "UTC", "first_date": "2024-01-01",
            "last_date": "2024-01-02", **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=message):
        MarketHours.daily(**args)


def test_simulated_broker_refuses_orders_outside_its_hours_but_accepts_cancels():
    hours = MarketHours(((T0, T0 + 20 * S), (T0 + 30 * S, T0 + 600 * S)))
    b = buy_broker(market_hours=hours)
    st = run(b.submit(OrderRequest("c1", "TEST", 1, 10.0, 99.99)))  # rests
    run(b.wait_until(T0 + 20 * S))
    with pytest.raises(BrokerReject, match="market_closed"):
        run(b.submit(OrderRequest("c2", "TEST", 1, 10.0, 99.99)))
    with pytest.raises(BrokerReject, match="market_closed"):
        run(b.amend(st.order_id, "c3", 20.0, 99.99))
    assert run(b.cancel(st.order_id, "c4")).status == "canceled"
    run(b.wait_until(T0 + 30 * S))  # open again, inclusive
    assert run(b.submit(OrderRequest("c5", "TEST", 1, 10.0, 99.99))).status == "working"


# -- the simulated venue --------------------------------------------------------------------------
def test_amend_sets_the_total_quantity_and_one_order_works_at_a_time():
    b = buy_broker()
    st = run(b.submit(OrderRequest("c1", "TEST", 1, 150.0, 100.01)))  # takes 100, 50 rest at 100.01
    assert (st.status, st.filled, st.leaves) == ("working", 100.0, 50.0)
    with pytest.raises(BrokerReject, match="one_working_order"):
        run(b.submit(OrderRequest("c2", "TEST", 1, 10.0, 99.99)))
    with pytest.raises(BrokerReject, match="duplicate_client_id"):
        run(b.submit(OrderRequest("c1", "TEST", 1, 10.0, 99.99)))
    st = run(b.amend(st.order_id, "c3", 120.0, 100.00))  # total 120: leaves 20
    assert (st.qty, st.filled, st.leaves, st.limit_px) == (120.0, 100.0, 20.0, 100.00)
    assert b.sim.resting_qty == 20.0 and b.sim.resting_px == 100.00
    st = run(b.amend(st.order_id, "c4", 100.0, 100.00))  # total at or below filled: nothing left to work
    assert st.status == "filled" and b.sim.resting_qty == 0.0
    with pytest.raises(BrokerReject, match="not_working"):
        run(b.cancel(st.order_id, "c5"))
    assert run(b.order_status("c3")).client_ids == ("c1", "c3", "c4", "c5")
    assert run(b.order_status("nope")) is None


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (OrderRequest("x", "TEST", 1, 10.5, 100.0), "invalid_order"),  # not a whole lot
        (OrderRequest("x", "TEST", 1, 10.0, 100.005), "invalid_order"),  # off the tick grid
        (OrderRequest("x", "TEST", -1, 10.0, 100.0), "invalid_order"),  # the session's other side
    ],
)
def test_invalid_orders_are_rejected_with_a_code(request_, code):
    with pytest.raises(BrokerReject) as e:
        run(buy_broker().submit(request_))
    assert e.value.code == code


def test_state_file_replays_the_venue_after_a_restart(tmp_path):
    path = tmp_path / "venue.sqlite"
    b = buy_broker(state_path=path)
    st = run(b.submit(OrderRequest("c1", "TEST", 1, 150.0, 100.01)))  # takes 100 at once
    run(b.wait_until(T0 + 20 * S))  # the 50 left fill as the displayed ask recovers
    st = run(b.submit(OrderRequest("c2", "TEST", 1, 80.0, 99.99)))  # rests behind 300
    run(b.amend(st.order_id, "c3", 90.0, 100.00))
    before = (run(b.fills(0)), run(b.positions()), run(b.now_ns()), b.sim.resting_qty)
    assert before[1]["TEST"].qty == 150.0 and before[3] == 90.0
    # a new process: same file, same session
    again = buy_broker(state_path=path)
    assert (run(again.fills(0)), run(again.positions()), run(again.now_ns()), again.sim.resting_qty) == before
    assert [k for k, _ in again.requests()] == ["submit", "clock", "submit", "amend"]
    with pytest.raises(ValueError, match="holds another session"):
        SimulatedBroker(flat_day(), FLAT, -1, T0 + 10 * S, state_path=path)


def test_injected_timeout_applies_the_request_then_loses_the_answer():
    b = buy_broker(faults={"submit": {1: "timeout"}})
    with pytest.raises(BrokerTimeout):
        run(b.submit(OrderRequest("c1", "TEST", 1, 100.0, 100.01)))
    assert run(b.order_status("c1")).status == "filled"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sim": SimConfig(participation_cap=0.1)}, "participation_cap = 0.1 is not supported"),
        ({"speed": 0.0}, r"speed = 0.0 is outside the allowed range \(0, 1e6\]"),
        ({"faults": {"submit": {1: "explode"}}}, "faults\\['submit'\\]\\[1\\] = 'explode'"),
    ],
)
def test_simulated_broker_errors_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        buy_broker(**kwargs)


# -- the ccxt adapter's order mapping (offline: a fake exchange of ccxt's documented shape) -----------
class FakeExchange:
    """The exchange side of ccxt's unified API: records calls, answers like ccxt's order structure."""

    def __init__(self):
        self.calls = []
        self.orders = {}

    def market(self, symbol):
        return {"symbol": symbol, "base": "BTC", "quote": "USDT", "precision": {"price": 0.1, "amount": 0.001}}

    def _order(self, oid, side, kind, amount, price, status="open", filled=0.0, client=None):
        o = {"id": oid, "clientOrderId": client, "side": side, "type": kind, "amount": amount, "price": price,
             "filled": filled, "status": status}  # fmt: skip
        self.orders[oid] = o
        return o

    async def create_order(self, symbol, kind, side, amount, price=None, params=None):
        self.calls.append(("create_order", symbol, kind, side, amount, price, params))
        status = "closed" if kind == "market" else "open"
        filled = amount if kind == "market" else 0.0
        return self._order(f"X{len(self.orders) + 1}", side, kind, amount, price, status, filled,
                           params["clientOrderId"])  # fmt: skip

    async def edit_order(self, oid, symbol, kind, side, amount, price, params=None):
        self.calls.append(("edit_order", oid, symbol, kind, side, amount, price, params))
        return self._order(oid, side, kind, amount, price, client=params["clientOrderId"])

    async def cancel_order(self, oid, symbol):
        self.calls.append(("cancel_order", oid, symbol))
        return dict(self.orders[oid], status="canceled")

    async def fetch_order(self, oid, symbol, params=None):
        self.calls.append(("fetch_order", oid, symbol, params))
        if oid is None:
            oid = next(k for k, o in self.orders.items() if o["clientOrderId"] == params["clientOrderId"])
        return self.orders[oid]

    async def fetch_my_trades(self, symbol):
        return [
            {"id": "t2", "order": "X1", "timestamp": 1_700_000_000_500, "price": 30000.0, "amount": 0.2,
             "takerOrMaker": "maker", "fee": {"cost": 0.0001, "currency": "BTC"}},
            {"id": "t1", "order": "X1", "timestamp": 1_700_000_000_000, "price": 30001.0, "amount": 0.1,
             "takerOrMaker": "taker", "fee": {"cost": 1.5, "currency": "USDT"}},
        ]  # fmt: skip


def test_ccxt_adapter_maps_orders_to_the_unified_api():
    from exec_env.broker.ccxt_adapter import CcxtBroker

    ex = FakeExchange()
    b = CcxtBroker(ex, "BTC/USDT")
    assert (b.tick_size, b.lot_size) == (0.1, 0.001)
    st = run(b.submit(OrderRequest("c1", "BTC/USDT", 1, 0.5, 30000.0)))
    assert ex.calls[-1] == ("create_order", "BTC/USDT", "limit", "buy", 0.5, 30000.0,
                            {"clientOrderId": "c1", "timeInForce": "GTC"})  # fmt: skip
    assert (st.order_id, st.status, st.qty, st.limit_px) == ("X1", "working", 0.5, 30000.0)
    run(b.submit(OrderRequest("c2", "BTC/USDT", -1, 0.3, 29990.0, tif="ioc")))
    assert ex.calls[-1][2:] == ("limit", "sell", 0.3, 29990.0, {"clientOrderId": "c2", "timeInForce": "IOC"})
    st = run(b.submit(OrderRequest("c3", "BTC/USDT", -1, 0.2, None)))
    assert ex.calls[-1][2:] == ("market", "sell", 0.2, None, {"clientOrderId": "c3"})
    assert (st.status, st.filled, st.limit_px) == ("filled", 0.2, None)
    st = run(b.amend("X1", "c4", 0.8, 29995.0))  # total quantity, side taken from the order
    assert ex.calls[-1] == ("edit_order", "X1", "BTC/USDT", "limit", "buy", 0.8, 29995.0, {"clientOrderId": "c4"})
    assert run(b.cancel("X1", "c5")).status == "canceled"
    assert run(b.order_status("c3")).order_id == "X3"
    assert ex.calls[-1] == ("fetch_order", None, "BTC/USDT", {"clientOrderId": "c3"})
    fills = run(b.fills(0))
    assert [(f.seq, f.fill_id, f.ts, f.qty, f.liquidity) for f in fills] == [
        (1, "t1", 1_700_000_000_000_000_000, 0.1, "taker"),
        (2, "t2", 1_700_000_000_500_000_000, 0.2, "maker"),
    ]
    assert fills[0].fee == 1.5 and fills[1].fee == pytest.approx(0.0001 * 30000.0, abs=1e-12)  # base fee in quote
    assert run(b.fills(1)) == fills[1:]
    assert b.market_hours().is_open(0)

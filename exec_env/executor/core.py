"""The executor: a policy works a parent order through a broker, journaled so that it survives a kill.

At each decision time ``t_j = start + j * decision_interval`` (j = 0 .. n-1) the executor

1. waits for the broker's clock to reach ``t_j`` and journals the fills received since the last
   decision (they belong to step ``j - 1``);
2. stops if the kill switch is set; skips the policy if the market is closed (and cancels);
3. builds the env's observation from the broker's market data, asks the policy
   (``predict(obs, state, episode_start, deterministic=True)``), maps the action to a child order
   with the env's own ``child_order``, applies the risk limits and journals the decision;
4. sends it: amend of the working order (FIX total quantity: filled + the new child quantity),
   a new order when none works, or a cancel for a zero quantity; every request is journaled as an
   intent before it is sent.

At the horizon the working order is cancelled and what is left is sent as a market order (an
immediate-or-cancel limit at the edge of the price band when ``RiskLimits.price_band_bps`` is set).

Restart: the journal says which decision was last made, which requests never got an answer (the
broker is asked by client id whether they arrived) and which fills are known (the broker's
sequence number), so a killed executor resumes with the right position and sends nothing twice.

Against a ``SimulatedBroker`` with ``latency_ms = 0`` this reproduces ``ExecutionEnv`` fill for fill.
With latency, two documented differences remain: (1) when the working order fills while an amend
is in flight, the env trims the new child order to what is left of the parent, while the executor's
amend (a total quantity) leaves ``child - in-flight fills``; (2) the env's horizon liquidation
happens at the horizon, the executor's market order reaches the book one latency later.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from exec_env.broker.interface import (
    DUPLICATE,
    NOT_WORKING,
    BrokerAPI,
    BrokerDisconnected,
    BrokerReject,
    BrokerTimeout,
    OrderRequest,
    OrderState,
)
from exec_env.env import DISCRETE_GRID, child_order
from exec_env.executor.config import ExecutorConfig
from exec_env.executor.journal import Decision, Journal, Request
from exec_env.executor.observation import MarketRecorder
from exec_env.executor.view import ExecutorView
from exec_env.features import OBS_HIGH, OBS_LOW

__all__ = ["CRASH_ENV", "ExecutionReport", "Executor"]

log = logging.getLogger("exec_env.executor")

CRASH_ENV = "EXEC_ENV_CRASH_AT"
"""Fault testing: ``point:n`` kills the process (SIGKILL) at the n-th time it reaches ``point``
(``after_decision``, ``before_send``, ``after_send``, ``after_fill``)."""
CRASH_POINTS = ("after_decision", "before_send", "after_send", "after_fill")
_crash_counts: dict[str, int] = {}


def _crash_point(name: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, count = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class ExecutionReport:
    """Outcome of a parent order (from the journal)."""

    status: str
    """``done``, ``incomplete`` (market closed or liquidation limited at the horizon) or ``killed``."""
    side: int
    quantity: float
    filled: float
    arrival_mid: float
    avg_price: float | None
    notional: float
    fees: float
    commission: float
    shortfall_bps: float
    """``(side * (notional - filled * arrival) + fees + commission) / (quantity * arrival) * 1e4``."""
    n_requests: int
    n_fills: int
    broker_position: float
    """Signed position the broker reports at the end (equals ``side * filled`` for a fresh account)."""


class Executor:
    """Works one parent order (``config``) with ``policy`` through ``broker``, journaled at
    ``journal_path``. ``await Executor(...).run()`` returns the :class:`ExecutionReport`; running
    it again on the same journal resumes (or returns the finished report)."""

    def __init__(self, broker: BrokerAPI, policy: Any, config: ExecutorConfig, journal_path: str | Path) -> None:
        lots = config.quantity / broker.lot_size
        if abs(lots - round(lots)) > 1e-9 * max(lots, 1.0):
            raise ValueError(
                f"ExecutorConfig.quantity = {config.quantity!r} is invalid; allowed: a multiple of the lot size "
                f"{broker.lot_size} of {broker.symbol}"
            )
        self.broker = broker
        self.policy = policy
        self.config = config
        self.journal = Journal(journal_path)
        self.recorder = MarketRecorder()
        self.side = config.sign
        self.n = config.n_steps
        self._stop = False
        self.view = ExecutorView(self)
        """What fixed policies with a ``bind(view)`` method (VWAP, POV, DC, AC, ...) read."""
        self._uses_view = hasattr(policy, "bind")

    def stop(self) -> None:
        """Ask the executor to cancel and stop at its next check (like the kill-switch file)."""
        self._stop = True

    # -- bookkeeping from the journal ---------------------------------------------------------
    def _filled(self) -> float:
        total = 0.0
        for f in self.journal.fills():
            total += f[6]
        return total

    def _remaining(self) -> float:
        q = self.config.quantity
        left = q - self._filled()
        return 0.0 if abs(left) <= 1e-9 * q else left

    def _live_order(self) -> tuple[str, float, float] | None:
        """(order id, total quantity, filled) of the order the executor believes is working."""
        live: tuple[str, float] | None = None
        for r in self.journal.requests():
            if r.state == "acked":
                live = (r.order_id, float(r.order_qty)) if r.order_status == "working" else None
            elif r.state == "rejected" and r.reason == NOT_WORKING and live is not None and r.order_id == live[0]:
                live = None
        if live is None:
            return None
        filled = sum(f[6] for f in self.journal.fills() if f[2] == live[0])
        if filled >= live[1] - 1e-9 * live[1]:
            return None
        return live[0], live[1], filled

    def _event(self, level: int, message: str, ts: int | None = None) -> None:
        log.log(level, message)
        self.journal.event(ts, logging.getLevelName(level), message)

    # -- broker calls with retries --------------------------------------------------------------
    async def _retry(self, what: str, call):
        cfg = self.config
        delay = cfg.retry_backoff_s
        for attempt in range(cfg.max_retries + 1):
            try:
                return await call()
            except (BrokerTimeout, BrokerDisconnected) as e:
                if attempt == cfg.max_retries:
                    self._event(logging.ERROR, f"{what}: {type(e).__name__} ({e}); gave up after {attempt + 1} tries")
                    raise
                self._event(logging.WARNING, f"{what}: {type(e).__name__} ({e}); retry {attempt + 1} in {delay:.3g} s")
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _sync_fills(self, step: int) -> None:
        fills = await self._retry("fills", lambda: self.broker.fills(self.journal.last_fill_seq()))
        for f in fills:
            if self.journal.add_fill(f, step):
                _crash_point("after_fill")

    async def _sync_market(self) -> None:
        now = await self.broker.now_ns()
        md = await self.broker.market_data(self.recorder.last_ts)
        self.recorder.extend(md, now)

    # -- sending ---------------------------------------------------------------------------------
    async def _call(self, r: Request) -> OrderState:
        b = self.broker
        if r.kind == "submit":
            return await b.submit(OrderRequest(r.client_id, b.symbol, self.side, r.qty, r.limit_px, r.tif or "day"))
        if r.kind == "amend":
            return await b.amend(r.order_id, r.client_id, r.qty, r.limit_px)
        return await b.cancel(r.order_id, r.client_id)

    def _applied(self, r: Request, st: OrderState) -> bool:
        """Did request ``r`` (which reached the venue) take effect on the order ``st``?"""
        if r.kind == "amend":
            return st.qty == r.qty and st.limit_px == r.limit_px
        if r.kind == "cancel":
            return st.status == "canceled"
        return True

    async def _resolve(self, r: Request) -> bool:
        """An intent whose outcome is unknown: did it reach the broker? Records the outcome; True if so."""
        st = await self._retry(f"order_status {r.client_id}", lambda: self.broker.order_status(r.client_id))
        if st is None:
            return False
        if self._applied(r, st):
            self.journal.set_outcome(r.client_id, "acked", None, st)
            self._event(logging.INFO, f"{r.kind} {r.client_id} had reached the broker: order {st.order_id} {st.status}")
        else:
            self.journal.set_outcome(r.client_id, "rejected", NOT_WORKING, st)
            self._event(logging.INFO, f"{r.kind} {r.client_id} reached the broker too late: order is {st.status}")
        return True

    async def _send(self, r: Request) -> None:
        """Send an intent (already journaled) until it is acked, rejected or retries run out."""
        cfg = self.config
        delay = cfg.retry_backoff_s
        for attempt in range(cfg.max_retries + 1):
            try:
                _crash_point("before_send")
                st = await self._call(r)
                _crash_point("after_send")
            except BrokerReject as e:
                if e.code == DUPLICATE and await self._resolve(r):
                    return
                self.journal.set_outcome(r.client_id, "rejected", e.code)
                level = logging.INFO if e.code == NOT_WORKING else logging.WARNING
                self._event(level, f"{r.kind} {r.client_id} rejected by the broker: {e}")
                return
            except (BrokerTimeout, BrokerDisconnected) as e:
                self._event(logging.WARNING, f"{r.kind} {r.client_id}: {type(e).__name__} ({e}), attempt {attempt + 1}")
                try:
                    if isinstance(e, BrokerTimeout) and await self._resolve(r):
                        return
                except (BrokerTimeout, BrokerDisconnected):
                    pass  # unknown: resending with the same client id is safe (duplicates are refused)
                if attempt < cfg.max_retries:
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            self.journal.set_outcome(r.client_id, "acked", None, st)
            return
        self.journal.set_outcome(r.client_id, "failed", "retries exhausted")
        self._event(logging.ERROR, f"{r.kind} {r.client_id} failed after {cfg.max_retries + 1} attempts")

    async def _request(self, step: int, kind: str, order_id: str | None, qty: float | None,
                       limit_px: float | None, tif: str | None = None) -> Request:  # fmt: skip
        k = len(self.journal.requests(step))
        cid = f"{self._parent_id}-{step}-{k}"
        r = self.journal.add_intent(cid, step, k, kind, order_id, qty, limit_px, tif)
        await self._send(r)
        return self.journal.request(cid)  # type: ignore[return-value]

    async def _settle(self, step: int) -> None:
        """Resolve the step's intents left by a crash: sent ones are recorded, unsent ones sent now."""
        for r in self.journal.requests(step):
            if r.state == "intent" and not await self._resolve(r):
                self._event(logging.INFO, f"{r.kind} {r.client_id} never reached the broker: sending it now")
                await self._send(r)

    # -- one step --------------------------------------------------------------------------------
    async def _act(self, d: Decision) -> None:
        """Bring the working order to the decision's child order (idempotent across restarts)."""
        await self._settle(d.step)
        for _ in range(3):
            reqs = self.journal.requests(d.step)
            last = reqs[-1] if reqs else None
            if last is not None and not (last.kind == "amend" and last.reason == NOT_WORKING):
                return  # acked, or rejected / failed for a reason retrying this step cannot fix
            if last is not None:  # the order finished while the amend was in flight: its fills first
                await self._sync_fills(d.step)
            if self._killed():
                return
            live = self._live_order()
            if d.limit_px is None:  # no price (market closed, empty book): only cancels
                if live is not None and d.note == "market_closed":
                    await self._request(d.step, "cancel", live[0], None, None)
                return
            if d.qty <= 0:
                if live is not None:
                    await self._request(d.step, "cancel", live[0], None, None)
                return
            if live is None:
                await self._request(d.step, "submit", None, d.qty, d.limit_px, "day")
            else:
                order_id, _, filled = live
                await self._request(d.step, "amend", order_id, filled + d.qty, d.limit_px)

    def _killed(self) -> bool:
        path = self.config.risk.kill_switch_path
        return self._stop or (path is not None and Path(path).exists())

    async def _kill(self, step: int) -> None:
        live = self._live_order()
        self._event(logging.WARNING, f"kill switch at step {step}: cancelling and stopping")
        if live is not None:
            k = len(self.journal.requests(step))
            cid = f"{self._parent_id}-{step}-{k}"
            r = self.journal.add_intent(cid, step, k, "cancel", live[0], None, None, None)
            await self._send(r)
        await self._sync_fills(step)
        self.journal.put("status", "killed")

    def _policy_action(self, obs: np.ndarray, step: int) -> tuple[float, float]:
        action, _ = self.policy.predict(obs, state=None, episode_start=np.array([step == 0]), deterministic=True)
        a = np.asarray(action).reshape(-1)
        if np.issubdtype(a.dtype, np.integer):
            return DISCRETE_GRID[int(a[0])], DISCRETE_GRID[int(a[1])]
        return float(np.clip(a[0], -1.0, 1.0)), float(np.clip(a[1], -1.0, 1.0))

    def _apply_risk(self, qty: float, px: float, mid: float, now: int) -> tuple[float, float, list[str]]:
        risk = self.config.risk
        lot = self.broker.lot_size
        tick = self.broker.tick_size
        notes = []
        if risk.max_order_qty is not None and qty > risk.max_order_qty:
            qty = math.floor(risk.max_order_qty / lot + 1e-9) * lot
            notes.append(f"max_order_qty {risk.max_order_qty}")
        if risk.max_participation is not None and qty > 0:
            w = round(risk.participation_window_s * 1e9)
            market = self.recorder.market_volume(now - w, now)
            own = sum(f[6] for f in self.journal.fills() if f[4] > now - w)
            allowed = max(math.floor((risk.max_participation * market - own) / lot + 1e-9) * lot, 0.0)
            if qty > allowed:
                qty = allowed
                notes.append(f"max_participation {risk.max_participation} of {market:g} traded")
        if risk.price_band_bps is not None and math.isfinite(mid):
            edge = self._band_edge(mid)
            if self.side * (px - edge) > 0.5 * tick:
                px = edge
                notes.append(f"price_band_bps {risk.price_band_bps}")
        return qty, px, notes

    def _band_edge(self, mid: float) -> float:
        tick = self.broker.tick_size
        b = self.config.risk.price_band_bps * 1e-4
        if self.side > 0:
            return math.floor(mid * (1 + b) / tick + 1e-9) * tick
        return math.ceil(mid * (1 - b) / tick - 1e-9) * tick

    async def _decide(self, j: int, t: int) -> Decision:
        cfg = self.config
        b = self.broker
        if not b.market_hours().is_open(t):
            d = Decision(j, t, "market_closed", None, None, None, 0.0, None)
            self._event(logging.WARNING, f"step {j}: market closed at {t}; no order", t)
        else:
            await self._sync_market()
            remaining = self._remaining()
            prev = self.journal.decision(j - 1)
            last_ratio = 0.0
            if prev is not None and prev.qty > 0:
                step_fills = sum(f[6] for f in self.journal.fills() if f[3] == j - 1)
                last_ratio = min(step_fills / prev.qty, 1.0)
            obs = self.recorder.observation(
                t, self.side, b.tick_size, j, self.n, cfg.quantity, remaining, last_ratio, b.own_impact()
            )
            inside = (obs >= OBS_LOW) & (obs <= OBS_HIGH)
            if not inside.all():
                self._event(logging.WARNING, f"step {j}: observation outside its bounds {obs.tolist()}; clipped", t)
                obs = np.clip(np.nan_to_num(obs), OBS_LOW, OBS_HIGH).astype(np.float32)
            q = await b.quote()
            executed = self._filled()
            self.view.at(j, t, q.bid, q.ask, executed)
            if self._uses_view:  # what the policy saw, to rebuild its memory after a restart
                self.journal.put(f"view/{j}", [t, q.bid, q.ask, executed])
            pace, aggr = self._policy_action(obs, j)
            qty, px = child_order(
                pace, aggr, j, self.n, cfg.quantity, executed,
                b.lot_size, self.side, q.bid, q.ask, b.tick_size, cfg.passive_ticks, cfg.cross_ticks,
            )  # fmt: skip
            qty = min(qty, remaining)
            note = "policy"
            if math.isnan(px):
                note, px = "no_book", None
            else:
                qty, px, limits = self._apply_risk(qty, px, 0.5 * (q.bid + q.ask), t)
                if limits:
                    self._event(logging.INFO, f"step {j}: risk limits applied: {', '.join(limits)}", t)
            d = Decision(j, t, note, obs.tolist(), pace, aggr, qty, px)
        self.journal.add_decision(d)
        if d.note == "policy":
            log.info(
                "step %d/%d: action (%.3f, %.3f) -> %g @ %.6g; executed %g/%g",
                j, self.n, d.pace, d.aggressiveness, d.qty, d.limit_px, self._filled(), cfg.quantity,
            )  # fmt: skip
        _crash_point("after_decision")
        return d

    # -- the horizon -----------------------------------------------------------------------------
    async def _finish(self, t: int) -> str:
        """Cancel, then liquidate what is left (step n). Idempotent across restarts."""
        n = self.n
        risk = self.config.risk
        if self.journal.decision(n) is None:
            self.journal.add_decision(Decision(n, t, "horizon", None, None, None, self._remaining(), None))
        await self._settle(n)
        for _ in range(1000):
            live = self._live_order()
            if live is not None:
                await self._request(n, "cancel", live[0], None, None)
                await self._sync_fills(n)
                continue
            await self._sync_fills(n)
            left = self._remaining()
            if left <= 0:
                return "done"
            if not self.broker.market_hours().is_open(t):
                self._event(logging.ERROR, f"horizon: market closed at {t}; {left:g} left unexecuted", t)
                return "incomplete"
            reqs = self.journal.requests(n)
            sent = [r for r in reqs if r.kind == "submit"]
            if sent and sent[-1].state != "acked":
                self._event(logging.ERROR, f"horizon: liquidation {sent[-1].client_id} {sent[-1].state}; stopping", t)
                return "incomplete"
            if risk.price_band_bps is not None:
                if sent:  # one immediate-or-cancel round at the band's edge
                    self._event(logging.WARNING, f"horizon: {left:g} left beyond the price band", t)
                    return "incomplete"
                q = await self.broker.quote()
                await self._request(n, "submit", None, self._chunk(left), self._band_edge(q.mid), "ioc")
            else:
                await self._request(n, "submit", None, self._chunk(left), None, "day")
        raise RuntimeError("horizon liquidation did not converge")

    def _chunk(self, left: float) -> float:
        m = self.config.risk.max_order_qty
        if m is None:
            return left
        lot = self.broker.lot_size
        return min(left, math.floor(m / lot + 1e-9) * lot)

    # -- the run ---------------------------------------------------------------------------------
    async def _start(self) -> None:
        j = self.journal
        cfg = self.config
        described = cfg.describe()
        known = j.get("config")
        if known is None:
            start = cfg.start_ns if cfg.start_ns is not None else await self.broker.now_ns()
            described_start = dict(described, start_ns=start)
            j.put("config", described_start)
            j.put("symbol", self.broker.symbol)
            j.put("status", "running")
            self._event(logging.INFO, f"parent {cfg.side} {cfg.quantity:g} {self.broker.symbol} from {start}", start)
        else:
            mine = dict(described, start_ns=known["start_ns"] if cfg.start_ns is None else cfg.start_ns)
            if mine != known or j.get("symbol") != self.broker.symbol:
                diff = sorted(k for k in known if known.get(k) != mine.get(k))
                raise ValueError(
                    f"journal {j.path} belongs to another parent order (fields differing: {diff}); "
                    "use a new journal file"
                )
            self._event(logging.INFO, f"resuming from the journal {j.path}")
        self.start_ns = int(j.get("config")["start_ns"])
        self._parent_id = f"P{self.start_ns // 1_000_000}"
        if self._uses_view:
            self.policy.bind(self.view)

    async def _replay_policy(self, last: int) -> None:
        """After a restart, show a policy that reads the view its decisions ``0..last`` again as
        journaled (time, touch, executed quantity; market data cut at that time), so that what it
        remembers (VWAP's schedule, DC's price path, submit-and-leave's price) is as before. The
        actions are discarded: those decisions were journaled and acted on."""
        await self._sync_market()
        for step in range(last + 1):
            seen = self.journal.get(f"view/{step}")
            d = self.journal.decision(step)
            if seen is None or d is None or d.obs is None:
                continue  # no policy call at that step (market closed, no book)
            t, bid, ask, executed = seen
            self.view.at(step, t, bid, ask, executed)
            self.policy.predict(np.asarray(d.obs, dtype=np.float32), state=None,
                                episode_start=np.array([step == 0]), deterministic=True)  # fmt: skip

    async def run(self) -> ExecutionReport:
        await self._start()
        j = self.journal
        status = j.get("status")
        if status != "running":
            return await self.report()
        interval = self.config.interval_ns
        if j.get("arrival_mid") is None:
            await self.broker.wait_until(self.start_ns)
            await self._sync_market()
            q = await self.broker.quote()
            arrival = q.mid if math.isfinite(q.mid) else self.recorder.last_valid_mid()
            j.put("arrival_mid", arrival)
        first = 0
        resume = j.last_decision_step()
        if resume is not None and resume < self.n:
            if self._uses_view and resume < self.n - 1:
                await self._replay_policy(resume)
            # decision `resume` was journaled after every fill before it: newer fills belong to it
            await self._sync_fills(resume)
            if self._killed():
                await self._kill(resume)
                return await self.report()
            await self._act(j.decision(resume))  # type: ignore[arg-type]
            first = resume + 1
        elif resume is not None:
            first = self.n
        for step in range(first, self.n):
            t = self.start_ns + step * interval
            await self.broker.wait_until(t)
            await self._sync_fills(step - 1)
            if self._killed():
                await self._kill(step)
                return await self.report()
            d = await self._decide(step, t)
            await self._act(d)
            if self._remaining() <= 0 and self._live_order() is None:
                self._event(logging.INFO, f"step {step}: parent complete", t)
        t_end = self.start_ns + self.n * interval
        await self.broker.wait_until(t_end)
        if self._killed():
            await self._kill(self.n)
            return await self.report()
        await self._sync_fills(self.n - 1 if j.decision(self.n) is None else self.n)
        j.put("status", await self._finish(t_end))
        report = await self.report()
        self._event(
            logging.INFO,
            f"{report.status}: filled {report.filled:g}/{report.quantity:g}, shortfall {report.shortfall_bps:.3f} bps",
            t_end,
        )
        return report

    async def report(self) -> ExecutionReport:
        j = self.journal
        fills = j.fills()
        filled = notional = fees = commission = 0.0
        for f in fills:
            filled += f[6]
            notional += f[5] * f[6]
            fees += f[7]
            commission += f[8]
        q = self.config.quantity
        if abs(filled - q) <= 1e-9 * q:
            filled = q
        arrival = j.get("arrival_mid")
        arrival = math.nan if arrival is None else float(arrival)
        shortfall = (self.side * (notional - filled * arrival) + fees + commission) / (q * arrival) * 1e4
        pos = (await self.broker.positions()).get(self.broker.symbol)
        return ExecutionReport(
            status=j.get("status"), side=self.side, quantity=q, filled=filled, arrival_mid=arrival,
            avg_price=notional / filled if filled > 0 else None, notional=notional, fees=fees,
            commission=commission, shortfall_bps=shortfall, n_requests=len(j.requests()), n_fills=len(fills),
            broker_position=pos.qty if pos is not None else 0.0,
        )  # fmt: skip

    def close(self) -> None:
        self.journal.close()

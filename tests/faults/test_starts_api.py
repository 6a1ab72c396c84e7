"""Idempotent starts and the kill switch mid-open (issue 8, part C), through the running `dnbot local` API against
`dnbot sim` and the PRODUCTION adapters: the same start asked twice (a retried request, a double click, two
overlapping ticks) is one position with one order per leg; close-all flipped in SSM while an open is between its
legs unwinds at once; an agent the venue forgot is approved again. Each scenario settles, then asserts the
invariant from venue truth + ledger (tests/faults/invariant.py) and records its figure."""

from __future__ import annotations

import gc
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest

from dnbot import resources
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import PositionStatus
from dnbot.local.system import LocalSystem
from dnbot.services.tick import FUNDING_HISTORY_HOURS, tick_context
from tests.faults.helpers import SimUser
from tests.integration.helpers import SteadyFunding, Terminal

pytestmark = pytest.mark.xdist_group("moto")

OPEN_BODY = {"asset": "SOL", "protocol": "drift", "leverage": "2", "size_usd": "1000"}
RICH_FUNDING_HOURLY = Decimal("0.0003")  # the short earns well past the round trip: the strategy opens


@pytest.fixture(autouse=True)
def _clean(system: LocalSystem) -> Iterator[None]:
    yield
    assert system.sim is not None and system.runtime is not None
    httpx.delete(f"{system.sim.base_url}/sim/faults")
    system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)


_emails = iter(range(1000))


class Trader(SimUser):
    def __init__(self, system: LocalSystem, terminal: Terminal) -> None:
        super().__init__(system, terminal, f"starts{next(_emails)}@example.com")

    def post(self, path: str, body: dict[str, Any] | None, key: str | None) -> httpx.Response:
        headers = {"X-CSRF-Token": self.client.csrf, **({"Idempotency-Key": key} if key else {})}
        return self.client.http.post(path, json=body or {}, headers=headers)

    def settle(self, timeout: float = 90) -> None:
        """Until no workflow runs for this user (no pending or closing position)."""
        assert self.system.runtime is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [p for p in self.system.runtime.store.list_positions(self.user_id)
                    if p.status in (PositionStatus.PENDING, PositionStatus.CLOSING)]
            if not busy:
                return
            time.sleep(0.1)
        raise AssertionError("a workflow is still running")


@pytest.fixture
def trader(system: LocalSystem, terminal: Terminal) -> Trader:
    return Trader(system, terminal)


def test_the_same_idempotency_key_twice_is_one_position(trader: Trader) -> None:
    key = str(uuid.uuid4())
    first = trader.post("/api/v1/positions/open", OPEN_BODY, key)
    second = trader.post("/api/v1/positions/open", OPEN_BODY, key)  # the retried request: the first answer
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json() == second.json()
    other = trader.post("/api/v1/positions/open", {**OPEN_BODY, "size_usd": "900"}, key)  # same key, new body
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert trader.client.wait_job(first.json()["job_id"], timeout=90)["status"] == "succeeded"
    trader.settle()
    assert len(trader.system.runtime.store.list_positions(trader.user_id)) == 1  # type: ignore[union-attr]
    assert len(trader.asgard_records()) == 1 and len(trader.user_fills()) == 1  # one order per leg

    position_id = first.json()["position_id"]
    close_key = str(uuid.uuid4())
    closes = [trader.post(f"/api/v1/positions/{position_id}/close", None, close_key) for _ in range(2)]
    assert [c.status_code for c in closes] == [202, 202] and closes[0].json() == closes[1].json()
    # a double click with two fresh keys: the execution is named after the position, so one close runs
    double = trader.post(f"/api/v1/positions/{position_id}/close", None, str(uuid.uuid4()))
    assert double.status_code in (202, 409), double.text
    if double.status_code == 202:
        assert double.json()["job_id"] == closes[0].json()["job_id"]
    assert trader.client.wait_job(closes[0].json()["job_id"], timeout=90)["status"] == "succeeded"
    trader.settle()
    assert len([f for f in trader.user_fills() if f["side"] == "B"]) == 1  # one buy-back
    report = trader.invariant("duplicate start: same Idempotency-Key twice, close clicked three times")
    assert report.duplicate_orders == 0 and report.naked_legs == 0


@contextmanager
def _running_on_rich_funding(system: LocalSystem, trader: Trader) -> Iterator[dict[str, Any]]:
    """The bot started with Hyperliquid's funding held rich (the strategy would open at once) over a fresh snapshot:
    yields the worker's message for this user as the tick sends it. Stopped, the real funding back, after."""
    runtime = system.runtime
    assert runtime is not None
    original = runtime.funding_source
    runtime.override(funding_source=SteadyFunding(runtime.hyperliquid, RICH_FUNDING_HOURLY))
    try:
        system.functions.invoke("rates_poller", {})
        assert trader.client.post("/api/v1/control/start").json()["bot_status"] == "running"
        snapshot = runtime.store.latest_snapshot()
        assert snapshot is not None
        history = runtime.funding_source.funding_history_hourly(FUNDING_HISTORY_HOURS)
        yield {"kind": "user", "user_id": trader.user_id,
               "context": tick_context(KillSwitch.OFF, snapshot, history, runtime.clock.now())}
    finally:
        trader.client.post("/api/v1/control/stop")
        runtime.override(funding_source=original)
        system.functions.invoke("rates_poller", {})


def test_two_overlapping_ticks_open_one_position_with_one_order_per_leg(system: LocalSystem,
                                                                        trader: Trader) -> None:
    runtime = system.runtime
    assert runtime is not None and system.queues is not None
    with _running_on_rich_funding(system, trader) as message:
        outcomes: list[Any] = []
        start = threading.Barrier(2)

        def tick() -> None:  # two workers handed the same user by two overlapping ticks
            start.wait()
            outcomes.append(runtime.tick_worker.handle(message))

        threads = [threading.Thread(target=tick) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        opened = [job for outcome in outcomes for job in outcome.opened]
        assert len(opened) == 1, outcomes  # the other found the lock taken (or the position pending)
        # and a third tick through the real handlers and queue, while or after it runs, opens nothing more
        assert system.functions.invoke("strategy_tick", {})["enqueued"] == 2
        system.queues.wait_idle()
        trader.settle()
    positions = runtime.store.list_positions(trader.user_id)
    assert len(positions) == 1 and positions[0].status is PositionStatus.OPEN, positions
    assert len(trader.asgard_records()) == 1 and len(trader.user_fills()) == 1
    report = trader.invariant("duplicate start: two overlapping ticks for one user")
    assert report.duplicate_orders == 0
    trader.client.wait_job(trader.client.post(f"/api/v1/positions/{positions[0].position_id}/close")
                           .json()["job_id"], timeout=90)
    trader.settle()
    trader.invariant("duplicate start: two overlapping ticks, then closed")


def test_close_all_mid_open_unwinds_at_once(system: LocalSystem, trader: Trader) -> None:
    """The operator flips the switch in SSM (as with the aws CLI against the printed endpoint) while Asgard is
    still answering the long: the short is never placed, the long is closed, nothing rests."""
    assert system.cloud is not None and system.sim is not None
    ssm = system.cloud.client("ssm")
    delay = {"venue": "asgard", "call": "submit-create-position-tx", "kind": "delay", "times": 1,
             "delay_seconds": 3}
    assert httpx.post(f"{system.sim.base_url}/sim/faults", json=delay).status_code == 201
    reply = trader.post("/api/v1/positions/open", OPEN_BODY, str(uuid.uuid4()))
    assert reply.status_code == 202, reply.text
    time.sleep(1.0)  # the long's submit is in flight at Asgard
    ssm.put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value="close-all", Type="String", Overwrite=True)
    flipped = time.monotonic()
    job = trader.client.wait_job(reply.json()["job_id"], timeout=90)
    flat_after = time.monotonic() - flipped
    trader.settle()
    assert job["status"] == "failed", job
    names = [stage["name"] for stage in job["stages"]]
    assert "unwind" in names and "open_short" in names
    assert "kill switch is close-all" in (job["error"] or "") or any(
        "kill switch is close-all" in stage["detail"] for stage in job["stages"]), job
    assert trader.user_fills() == []  # the short was never placed
    assert all(long["state"] != 0 for long in trader.asgard_records())  # the long is closed
    report = trader.invariant("close-all mid-open")
    assert report.naked_legs == 0
    print(f"close-all mid-open: flat {flat_after:.1f} s after the flip (Asgard delay 3 s included)")
    assert flat_after < 30


def test_an_agent_the_venue_forgot_is_approved_again_not_retried_forever(system: LocalSystem,
                                                                         trader: Trader) -> None:
    from dnbot.sim.hyperliquid import HyperliquidSim

    first = trader.client.wait_job(trader.post("/api/v1/positions/open", OPEN_BODY, None).json()["job_id"],
                                   timeout=90)
    assert first["status"] == "succeeded", first
    sims = [o for o in gc.get_objects() if isinstance(o, HyperliquidSim) and o.world is system.world]
    assert len(sims) == 1
    user = system.runtime.store.get_user(trader.user_id)  # type: ignore[union-attr]
    assert user is not None and user.evm_address
    forgotten = [agent for agent, owner in sims[0].agents.items() if owner == user.evm_address.lower()]
    assert len(forgotten) == 1
    del sims[0].agents[forgotten[0]]  # the venue no longer knows the agent ("User or API Wallet ... does not exist")
    closing = trader.client.wait_job(trader.client.post(f"/api/v1/positions/{first['position_id']}/close")
                                     .json()["job_id"], timeout=90)
    assert closing["status"] == "succeeded", closing
    assert sims[0].agents.get(forgotten[0]) == user.evm_address.lower()  # approved again, the same agent
    trader.settle()
    trader.invariant("Hyperliquid agent unknown to the venue: re-approved")


def test_a_kill_switch_flipped_in_ssm_reaches_the_api_and_the_tick_within_10_s(system: LocalSystem,
                                                                               trader: Trader) -> None:
    """As the operator does with the aws CLI against the printed endpoint: the API's status and the tick see it
    within the cache time (5 s), well inside 10 s."""
    assert system.cloud is not None and system.runtime is not None
    endpoint = next(line for line in system_lines(system) if "AWS endpoint" in line)
    assert system.cloud.endpoint_url in endpoint
    assert system.sim is not None
    assert any("simulator" in line and system.sim.base_url in line for line in system_lines(system))
    assert trader.client.get("/api/v1/status").json()["kill_switch"] == "off"
    system.runtime.tick.run()  # the tick's cached read is warm too
    ssm = system.cloud.client("ssm")
    ssm.put_parameter(Name=resources.KILL_SWITCH_PARAMETER, Value="no-new-positions", Type="String", Overwrite=True)
    flipped = time.monotonic()
    seen: dict[str, float] = {}
    while len(seen) < 2 and time.monotonic() - flipped < 10:
        if "api" not in seen and trader.client.get("/api/v1/status").json()["kill_switch"] == "no-new-positions":
            seen["api"] = time.monotonic() - flipped
        if "tick" not in seen and system.runtime.tick.run().kill_switch == "no-new-positions":
            seen["tick"] = time.monotonic() - flipped
        time.sleep(0.2)
    system.queues.wait_idle()  # type: ignore[union-attr]
    print(f"kill switch flip seen by the API after {seen.get('api', -1):.1f} s, by the tick after "
          f"{seen.get('tick', -1):.1f} s")
    assert set(seen) == {"api", "tick"} and max(seen.values()) < 10


def system_lines(system: LocalSystem) -> list[str]:
    say = system.say
    return list(getattr(getattr(say, "__self__", None), "lines", []))


def test_a_failed_open_backs_automatic_opens_off_and_the_status_says_until_when(system: LocalSystem,
                                                                                trader: Trader) -> None:
    runtime = system.runtime
    assert runtime is not None and system.sim is not None
    refuse = {"venue": "hyperliquid", "call": "order", "kind": "reject", "times": 10,
              "message": "Insufficient margin to place order."}
    assert httpx.post(f"{system.sim.base_url}/sim/faults", json=refuse).status_code == 201
    job = trader.client.wait_job(trader.post("/api/v1/positions/open", OPEN_BODY, None).json()["job_id"],
                                 timeout=90)
    httpx.delete(f"{system.sim.base_url}/sim/faults")
    assert job["status"] == "failed", job
    trader.settle()
    status = trader.client.get("/api/v1/status").json()
    assert status["failed_opens"] == 1 and status["open_backoff_until"] is not None, status
    # the strategy would open again at once (rich funding); the worker holds, saying why
    with _running_on_rich_funding(system, trader) as message:
        outcome = runtime.tick_worker.handle(message)
    assert outcome.opened == [] and "backing off after 1 failed open" in str(outcome.held), outcome
    assert [p.status for p in runtime.store.list_positions(trader.user_id)] == [PositionStatus.FAILED]
    trader.invariant("a failed open backs the user off (no automatic re-open)")

"""The strategy tick through its handler on moto: it opens for a running user when the carry clears the preset,
holds (saying why) when it does not, and closes everything on the kill switch's close-all."""

from __future__ import annotations

import time
from dataclasses import asdict
from decimal import Decimal

import pytest

from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import PositionStatus
from dnbot.local.system import LocalSystem
from dnbot.services.tick import FUNDING_HISTORY_HOURS, tick_context
from tests.integration.helpers import Client, SteadyFunding, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")

RICH_FUNDING_HOURLY = Decimal("0.0003")  # 263%/yr: the short earns well every hour, past the round trip


@pytest.fixture(scope="module")
def dave(system: LocalSystem, terminal: Terminal) -> Client:
    client = log_in(system, terminal, "dave@example.com")
    assert client.post("/api/v1/control/start").json()["bot_status"] == "running"
    return client


def _positions(client: Client) -> list[dict[str, object]]:
    return client.get("/api/v1/positions").json()["positions"]  # type: ignore[no-any-return]


def _wait_for(client: Client, status: str, timeout: float = 30) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in _positions(client) if p["status"] == status]
        if found and not [p for p in _positions(client) if p["status"] in ("pending", "closing")]:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no settled {status} position: {_positions(client)}")


def _tick(system: LocalSystem) -> None:
    """The tick through its handler, then its fan-out through the worker's (the local SQS consumer)."""
    assert system.queues is not None and system.runtime is not None
    failed = system.queues.failed
    report = system.functions.invoke("strategy_tick", {})
    # the users' page and the open positions' page; under close-all the open positions' closes only
    expected = 1 if system.runtime.kill_switch.kill_switch() is KillSwitch.CLOSE_ALL else 2
    assert report["enqueued"] == expected and report["errors"] == {}, report
    system.queues.wait_idle()
    assert system.queues.failed == failed


def _decide(system: LocalSystem, user_id: str) -> dict[str, object]:
    """One user's message, as the tick would send it (the worker's outcome says why it held)."""
    assert system.runtime is not None
    runtime = system.runtime
    snapshot = runtime.store.latest_snapshot()
    assert snapshot is not None
    context = tick_context(runtime.kill_switch.kill_switch(), snapshot,
                           runtime.funding_source.funding_history_hourly(FUNDING_HISTORY_HOURS), runtime.clock.now())
    return asdict(runtime.tick_worker.handle({"kind": "user", "user_id": user_id, "context": context}))


def test_weak_funding_holds_with_a_reason(system: LocalSystem, dave: Client) -> None:
    assert system.runtime is not None
    steady = SteadyFunding(system.markets, Decimal("-0.00001"))  # the short would pay
    system.runtime.override(funding_source=steady)
    system.functions.invoke("rates_poller", {})
    _tick(system)
    assert _positions(dave) == []
    dave_id = dave.get("/api/v1/auth/me").json()["user"]["user_id"]
    outcome = _decide(system, dave_id)
    assert outcome["opened"] == [] and "funding" in str(outcome["held"])


def test_rich_persistent_funding_opens_then_close_all_closes(system: LocalSystem, dave: Client) -> None:
    assert system.runtime is not None
    steady = SteadyFunding(system.markets, RICH_FUNDING_HOURLY)
    system.runtime.override(funding_source=steady)
    system.functions.invoke("rates_poller", {})
    _tick(system)
    opened = _wait_for(dave, "open")
    assert len(opened) == 1

    # a second tick does not open a second position for the same user
    _tick(system)
    assert len(_positions(dave)) == 1

    system.runtime.kill_switch.set_kill_switch(KillSwitch.CLOSE_ALL)
    try:
        _tick(system)
        closed = _wait_for(dave, "closed")
    finally:
        system.runtime.kill_switch.set_kill_switch(KillSwitch.OFF)
    assert closed[0]["position_id"] == opened[0]["position_id"]
    assert not system.runtime.store.positions_with_status(PositionStatus.OPEN)

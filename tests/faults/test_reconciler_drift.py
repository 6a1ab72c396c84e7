"""The reconciler against `dnbot sim` through the production adapters (moto for AWS, the simulator for every
venue, the very handler EventBridge runs every 2 minutes): a short closed outside the bot, an Asgard liquidation,
and a crash between the venues' answers and the ledger write. Each asserts the invariant after ONE reconciler
cycle, then that a second cycle changes nothing, and records its figures (naked legs at rest, orphan legs
closed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hyperliquid.exchange import Exchange

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Position, PositionStatus
from dnbot.local.system import LocalSystem
from dnbot.ports import LongOpenRequest, UserRecord
from tests.faults.invariant import assert_invariant, check_invariant, record_figure, venue_truth
from tests.integration.helpers import Client, Terminal, log_in

pytestmark = pytest.mark.xdist_group("moto")


def _user(system: LocalSystem, client: Client) -> UserRecord:
    assert system.runtime is not None
    user = system.runtime.store.get_user(client.get("/api/v1/auth/me").json()["user"]["user_id"])
    assert user is not None
    return user


def _open(system: LocalSystem, client: Client, size_usd: str = "1000") -> str:
    system.functions.invoke("rates_poller", {})  # fresh rates for the open's preflight
    job = client.wait_job(client.post("/api/v1/positions/open", {"asset": "SOL", "protocol": "drift", "leverage": "2",
                                                                 "size_usd": size_usd}).json()["job_id"], timeout=60)
    assert job["status"] == "succeeded", job
    return str(job["position_id"])


def _reconcile(system: LocalSystem, user_id: str) -> dict[str, Any]:
    """This user's reconciliation (the Lambda handler, as one message of the reconcile queue runs it); its report."""
    report = system.functions.invoke("reconciler", {"user_id": user_id})
    assert user_id not in report["errors"], report["errors"]
    assert user_id not in report["skipped"]
    return {"drifts": [d for d in report["drifts"] if d["user_id"] == user_id],
            "repairs": [r for r in report["repairs"] if r.startswith(f"{user_id}:")]}


def _legs_closed(cycle: dict[str, Any]) -> int:
    return len([r for r in cycle["repairs"] if "closed the Asgard long" in r or "bought back" in r])


def _invariant(system: LocalSystem, user: UserRecord, scenario: str, orphans_closed: int) -> None:
    assert system.sim is not None and system.runtime is not None
    report = assert_invariant(venue_truth(system.sim.base_url, user), system.runtime.store.list_positions(user.user_id))
    assert report.naked_legs == 0
    record_figure(f"reconciler: {scenario} (orphan legs closed {orphans_closed}, one cycle)", report)


def _alerts(system: LocalSystem, user_id: str) -> list[dict[str, Any]]:
    assert system.alerts is not None
    return [a for a in system.alerts.sent if a["user_id"] == user_id]


def test_a_short_closed_outside_the_bot_is_restored(system: LocalSystem, terminal: Terminal) -> None:
    client = log_in(system, terminal, "outside-close@example.com")
    user = _user(system, client)
    position_id = _open(system, client)
    assert system.sim is not None and system.runtime is not None and user.evm_address
    # someone with the account's agent key closes the whole short through the SDK (no client id of the bot)
    agent = system.runtime.short_venue.ensure_agent(user.user_id)  # type: ignore[attr-defined]
    Exchange(agent, system.sim.url("hyperliquid"), account_address=user.evm_address).market_close("SOL")
    before = check_invariant(venue_truth(system.sim.base_url, user), system.runtime.store.list_positions(user.user_id))
    assert not before.holds  # the long is naked now

    first = _reconcile(system, user.user_id)
    assert [d["kind"] for d in first["drifts"]] == ["short_missing"]
    assert any("sold" in r for r in first["repairs"])
    _invariant(system, user, "short closed outside the bot", orphans_closed=_legs_closed(first))
    position = system.runtime.store.get_position(user.user_id, position_id)
    assert position is not None and position.status is PositionStatus.OPEN  # hedged again, still open
    assert position.drift is not None and "hedge restored" in position.drift
    assert "hedge restored" in client.get(f"/api/v1/positions/{position_id}").json()["drift"]  # the trader sees it
    assert [a["kind"] for a in _alerts(system, user.user_id)] == ["drift"]
    assert any(line.startswith(f"dnbot local: ALERT drift user={user.user_id}") for line in terminal.lines)

    second = _reconcile(system, user.user_id)
    assert second == {"drifts": [], "repairs": []}  # idempotent
    assert len(_alerts(system, user.user_id)) == 1

    closing = client.wait_job(client.post(f"/api/v1/positions/{position_id}/close").json()["job_id"], timeout=60)
    assert closing["status"] == "succeeded", closing
    assert_invariant(venue_truth(system.sim.base_url, user), system.runtime.store.list_positions(user.user_id))


def test_an_asgard_liquidation_flattens_the_position(system: LocalSystem, terminal: Terminal) -> None:
    client = log_in(system, terminal, "liquidated@example.com")
    user = _user(system, client)
    position_id = _open(system, client)
    assert system.sim is not None and system.runtime is not None
    position = system.runtime.store.get_position(user.user_id, position_id)
    assert position is not None and position.long_leg is not None
    # the market moves against the long: its debt now exceeds the liquidation threshold (the sim liquidates on
    # its next read, seizing collateral with a 5% penalty and leaving a remnant)
    asgard = system.sim.app.state.venues["asgard"].app.state.asgard
    with asgard.lock:
        held = asgard.positions[position.long_leg.reference]
        price = asgard.price(held.market.asset)
        threshold = held.market.liquidation_threshold
        held.debt = held.size * price * (threshold + (1 / Decimal("1.05") - threshold) / 2)

    first = _reconcile(system, user.user_id)
    assert [d["kind"] for d in first["drifts"]] == ["asgard_liquidation"]
    assert _legs_closed(first) == 2  # the long's remnant and the position's own short
    _invariant(system, user, "Asgard liquidation", orphans_closed=_legs_closed(first))
    position = system.runtime.store.get_position(user.user_id, position_id)
    assert position is not None and position.status is PositionStatus.CLOSED
    assert position.close_reason is not None and "liquidated" in position.close_reason
    assert position.realized_pnl_usd is not None and position.realized_pnl_usd < 0  # the liquidation penalty
    assert "liquidation" in [a["kind"] for a in _alerts(system, user.user_id)]

    assert _reconcile(system, user.user_id) == {"drifts": [], "repairs": []}


def test_legs_the_ledger_never_recorded_are_closed(system: LocalSystem, terminal: Terminal) -> None:
    client = log_in(system, terminal, "crashed@example.com")
    user = _user(system, client)
    kept = _open(system, client, "600")  # a healthy position beside the crashed one must keep its legs
    assert system.sim is not None and system.runtime is not None
    runtime = system.runtime
    # an open whose Lambda died after each venue answered and before the ledger write: the venues hold both
    # legs, the ledger none, and the execution ended failed without seeing them
    now = runtime.clock.now()
    crashed = Position("crashed-open", user.user_id, Asset.SOL, Protocol.DRIFT, Decimal(2), Decimal(800),
                       PositionStatus.PENDING, now, now)
    runtime.store.create_position(crashed)
    fill = runtime.long_venue.open_long(LongOpenRequest(user.user_id, crashed.position_id, Asset.SOL,
                                                        int(Protocol.DRIFT), Decimal(400), Decimal(2)))
    runtime.short_venue.open_short(user.user_id, crashed.position_id,
                                   (fill.notional_usd / fill.entry_price_usd).quantize(Decimal("0.01")))
    stored = runtime.store.get_position(user.user_id, crashed.position_id)
    assert stored is not None
    runtime.store.save_position(stored.moved_to(PositionStatus.FAILED, runtime.clock.now(),
                                                failure="Lambda timed out"))
    before = check_invariant(venue_truth(system.sim.base_url, user), runtime.store.list_positions(user.user_id))
    assert before.naked_legs >= 2

    first = _reconcile(system, user.user_id)
    assert sorted(d["kind"] for d in first["drifts"]) == ["orphan_long", "orphan_short"]
    orphans = [r for r in first["repairs"] if "closed the Asgard long" in r or "bought back" in r]
    assert len(orphans) == 2 and all("crashed-open" in r for r in orphans)
    _invariant(system, user, "crash between the venues' answers and the ledger write",
               orphans_closed=_legs_closed(first))
    healthy = runtime.store.get_position(user.user_id, kept)
    assert healthy is not None and healthy.status is PositionStatus.OPEN and healthy.drift is None

    assert _reconcile(system, user.user_id) == {"drifts": [], "repairs": []}
    assert {a["kind"] for a in _alerts(system, user.user_id)} == {"drift"}


def test_a_user_with_a_workflow_running_is_left_alone(system: LocalSystem, terminal: Terminal) -> None:
    client = log_in(system, terminal, "busy@example.com")
    user = _user(system, client)
    assert system.runtime is not None
    now = system.runtime.clock.now()
    system.runtime.store.create_position(Position("busy-open", user.user_id, Asset.SOL, Protocol.DRIFT, Decimal(2),
                                                  Decimal(500), PositionStatus.PENDING, now, now))
    report = system.functions.invoke("reconciler", {"user_id": user.user_id})
    assert user.user_id in report["skipped"]
    assert not [d for d in report["drifts"] if d["user_id"] == user.user_id]

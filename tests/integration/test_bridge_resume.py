"""Resuming the bridge transfers a workflow gave up on (BridgeService.resume, run by the reconciler's per-user
pass): the production adapters (SolanaCctp, ArbitrumCctp, IrisClient) against the simulator's chains and
attesters, the user's Privy wallets, the records on moto, as in test_bridge_service. A transfer burned and never
minted is minted once however often resume runs; a planned one whose rebalance ended is abandoned with nothing
burned; an attestation still pending leaves the record as it is; a live workflow's record is left alone; an
overdue transfer is alerted once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.bridge import OVERDUE_REPORTED, BridgeDirection, BridgeState, in_flight_usd, stage
from dnbot.domain.positions import Leg, Position, PositionStatus, RebalanceInFlight
from dnbot.domain.rebalance_cash import bridge_booked
from dnbot.services.reconciler import Reconciler, ReconcilerLimits
from dnbot.sim.world import Fault, FaultKind
from tests.integration.test_bridge_service import System, bridge_system
from tests.unit.fakes import Alerts
from tests.unit.test_reconcile_service import Ledger, Venues

APP_ID, APP_SECRET = "cm-sim-bridge-resume", "sim-secret-bridge-resume"
D = Decimal
GIVEN_UP = timedelta(minutes=46)  # past the workflow grace (45 min): no workflow writes the record any more
GRACE = timedelta(minutes=45)


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with bridge_system(APP_ID, APP_SECRET) as system:
        yield system


def position(system: System, user_id: str, pid: str, rebalancing: int | None = None) -> Position:
    """An open position, written long ago (its workflows are over), with rebalance `rebalancing` in flight."""
    now = system.sim.world.clock.now()
    intent = None if rebalancing is None else RebalanceInFlight(rebalancing, D(0), D(2), 3, now - timedelta(hours=2))
    return Position(pid, user_id, Asset.SOL, Protocol.DRIFT, D(2), D(1500), PositionStatus.OPEN,
                    now - timedelta(hours=3), now - timedelta(hours=1),
                    Leg("asgard", D(10), D(150), D(1500), D(1), f"pda-{pid}"),
                    Leg("hyperliquid", D(10), D(150), D(1500), D(1), f"cloid-{pid}"), rebalancing=intent)


def test_a_transfer_burned_and_never_minted_is_minted_by_resume_once(system: System) -> None:
    wallets = system.user("gaveup", arbitrum_usdc="30")
    service = system.service
    planned = service.plan("gaveup", "gp1", 1, BridgeDirection.TO_LONG, D(25))
    burned = service.burn("gaveup", planned.transfer_id)  # then the workflow fell back to the shrink and ended
    assert burned.state is BridgeState.BURNED and system.arbitrum_usdc(wallets) == D(5)
    ended = [position(system, "gaveup", "gp1")]

    assert service.resume("gaveup", ended) == []  # just written: a live workflow's, left alone
    assert system.store.get("gaveup", planned.transfer_id) == burned

    system.seconds(GIVEN_UP.total_seconds())
    (resumed,) = service.resume("gaveup", ended)
    # attested, minted to the user's Solana USDC account, and ended there: the rebalance is over
    assert resumed.state is BridgeState.CREDITED and resumed.minted_usd == D("24.9975")
    assert resumed.credited_at == system.sim.world.clock.now() and resumed.error is None
    assert system.solana_usdc(wallets) == D("24.9975") and in_flight_usd([resumed]) == D(0)
    assert service.overdue([resumed]) == []  # credited: not overdue

    system.seconds(GIVEN_UP.total_seconds())
    assert service.resume("gaveup", ended) == []  # final: nothing more to do
    assert system.solana_usdc(wallets) == D("24.9975") and system.arbitrum_usdc(wallets) == D(5)  # minted once
    assert system.store.get("gaveup", planned.transfer_id) == resumed


def test_a_minted_transfer_whose_rebalance_is_in_flight_stays_minted_for_its_workflow(system: System) -> None:
    wallets = system.user("midway", solana_usdc="50")
    service = system.service
    planned = service.plan("midway", "mw1", 2, BridgeDirection.TO_SHORT, D(40))
    service.burn("midway", planned.transfer_id)
    system.seconds(8)
    service.attest("midway", planned.transfer_id)  # attested, never minted
    system.seconds(GIVEN_UP.total_seconds())
    in_flight = [position(system, "midway", "mw1", rebalancing=2)]

    (minted,) = service.resume("midway", in_flight)
    assert minted.state is BridgeState.MINTED and system.arbitrum_usdc(wallets) == D("39.996")
    assert in_flight_usd([minted]) == D("39.996")  # the workflow books and credits it (mark_bridged)

    system.seconds(GIVEN_UP.total_seconds())
    (again,) = service.resume("midway", in_flight)
    assert again == minted and system.arbitrum_usdc(wallets) == D("39.996")  # no second mint
    # the rebalance ended without booking it: the USDC is in the user's Arbitrum wallet, where it belongs now
    (ended,) = service.resume("midway", [position(system, "midway", "mw1", rebalancing=3)])
    assert ended.state is BridgeState.CREDITED and ended.minted_usd == D("39.996")


def test_a_planned_transfer_whose_rebalance_ended_is_abandoned_and_never_burned(system: System) -> None:
    wallets = system.user("planner", solana_usdc="20")
    service = system.service
    stale = service.plan("planner", "pl1", 1, BridgeDirection.TO_SHORT, D(10))
    current = service.plan("planner", "pl2", 4, BridgeDirection.TO_SHORT, D(5))
    system.seconds(GIVEN_UP.total_seconds())
    positions = [position(system, "planner", "pl1"), position(system, "planner", "pl2", rebalancing=4)]

    abandoned, left = service.resume("planner", positions)
    assert abandoned.transfer_id == stale.transfer_id and abandoned.state is BridgeState.ABANDONED
    assert "nothing was burned" in (abandoned.error or "")
    assert left == current  # its rebalance is still in flight: its workflow decides
    assert system.solana_usdc(wallets) == D(20)  # resume never burns


def test_an_attestation_still_pending_leaves_the_record_as_it_is(system: System) -> None:
    wallets = system.user("pending", solana_usdc="30")
    service = system.service
    planned = service.plan("pending", "pd1", 1, BridgeDirection.TO_SHORT, D(12))
    burned = service.burn("pending", planned.transfer_id)
    # no idle wait: Iris has not signed the Fast message yet (~8 s on the simulated clock)
    (left,) = service.resume("pending", [position(system, "pending", "pd1")], idle=timedelta(0))
    assert left == burned and system.store.get("pending", planned.transfer_id) == burned
    assert system.arbitrum_usdc(wallets) == D(0) and stage(left) is BridgeState.BURNED


def test_the_reconciler_resumes_the_users_transfers_and_alerts_an_overdue_one_once(system: System) -> None:
    """The per-user pass: a transfer whose rebalance ended is minted and ended; one stuck behind a dead workflow
    (its rebalance still recorded in flight) is minted but not credited: overdue, alerted once."""
    wallets = system.user("recon", solana_usdc="60", arbitrum_usdc="30")
    service = system.service
    stuck = service.plan("recon", "rc1", 5, BridgeDirection.TO_SHORT, D(20))
    service.burn("recon", stuck.transfer_id)
    ended = service.plan("recon", "rc2", 1, BridgeDirection.TO_LONG, D(25))
    service.burn("recon", ended.transfer_id)
    system.seconds(GIVEN_UP.total_seconds())
    ledger = Ledger(position(system, "recon", "rc1", rebalancing=5), position(system, "recon", "rc2"))
    alerts = Alerts()
    venues = Venues({"rc1": D(10), "rc2": D(10)}, {"rc1": D(10), "rc2": D(10)}, outside=D(0))
    reconciler = Reconciler(ledger, ledger, venues, venues, venues, venues, alerts,  # type: ignore[arg-type]
                            system.sim.world.clock, ReconcilerLimits(GRACE, timedelta(hours=24)), bridge=service)

    report = reconciler.run()
    assert report.errors == {} and report.in_sync == 1  # the legs are in sync: the bridge is the only finding
    credited = system.store.get("recon", ended.transfer_id)
    assert credited is not None and credited.state is BridgeState.CREDITED
    assert system.solana_usdc(wallets) == D(40) + D("24.9975")  # 60 - 20 burned, + what arrived
    overdue = system.store.get("recon", stuck.transfer_id)
    assert overdue is not None and overdue.state is BridgeState.NEEDS_ATTENTION and stage(overdue) is BridgeState.MINTED
    assert (overdue.error or "").startswith(OVERDUE_REPORTED) and system.arbitrum_usdc(wallets) == D(5) + D("19.998")
    assert [kind for kind, _ in alerts.sent] == ["bridge_overdue"]
    assert stuck.transfer_id in alerts.sent[0][1] and "still minted" in alerts.sent[0][1]
    assert [d["kind"] for d in report.drifts] == ["bridge_overdue"]

    for _ in range(2):  # later runs: still not credited, not alerted again, not minted again
        system.seconds(GIVEN_UP.total_seconds())
        again = reconciler.run()
        assert again.errors == {} and again.drifts == []
    assert len(alerts.sent) == 1 and system.arbitrum_usdc(wallets) == D(5) + D("19.998")
    assert system.store.get("recon", stuck.transfer_id) == overdue

    # its rebalance is cleared at last: the USDC in the user's wallet ends the transfer, the mark with it
    ledger.items["rc1"] = replace(ledger.items["rc1"], rebalancing=None)
    system.seconds(GIVEN_UP.total_seconds())
    assert reconciler.run().errors == {}
    done = system.store.get("recon", stuck.transfer_id)
    assert done is not None and done.state is BridgeState.CREDITED and len(alerts.sent) == 1
    # its USDC left the rebalance cash for the Hyperliquid account: the live position's books say so, once
    booked = ledger.items["rc1"]
    assert bridge_booked(booked, stuck.transfer_id)
    assert booked.rebalance_cash_usd == D(-20) and booked.rebalance_pnl_usd == -(D(20) - D("19.998"))
    system.seconds(GIVEN_UP.total_seconds())
    assert reconciler.run().errors == {} and ledger.items["rc1"] == booked


def test_a_transfer_reported_overdue_keeps_its_mark_when_resume_moves_it_on(system: System) -> None:
    """Minting clears a record's `error`; one the operator was told about keeps the mark while not final, so the
    next run does not alert it again."""
    wallets = system.user("marked", solana_usdc="30")
    service = system.service
    planned = service.plan("marked", "mk1", 7, BridgeDirection.TO_SHORT, D(10))
    service.burn("marked", planned.transfer_id)
    system.seconds(GIVEN_UP.total_seconds())
    (late,) = service.overdue([service.record("marked", planned.transfer_id)])
    reported = service.report_overdue(late)
    assert reported.state is BridgeState.NEEDS_ATTENTION and stage(reported) is BridgeState.BURNED
    assert service.report_overdue(late) == reported  # once

    system.seconds(GIVEN_UP.total_seconds())
    (minted,) = service.resume("marked", [position(system, "marked", "mk1", rebalancing=7)])
    assert stage(minted) is BridgeState.MINTED and system.arbitrum_usdc(wallets) == D("9.999")
    assert (minted.error or "").startswith(OVERDUE_REPORTED) and service.overdue([minted]) == []


def test_a_mint_the_chain_refuses_needs_attention_and_is_retried_later(system: System) -> None:
    """A node outage leaves the record for the next run; a refusal records it (needs_attention, still resumable
    from its evidence); the next run after it mints once."""
    wallets = system.user("refusal", arbitrum_usdc="20")
    service = system.service
    planned = service.plan("refusal", "rf1", 1, BridgeDirection.TO_LONG, D(10))
    service.burn("refusal", planned.transfer_id)
    system.seconds(GIVEN_UP.total_seconds())
    ended = [position(system, "refusal", "rf1")]

    system.sim.world.faults.inject(Fault("solana", "sendTransaction", FaultKind.SERVER_ERROR))
    (outage,) = service.resume("refusal", ended)
    assert outage.state is BridgeState.ATTESTED and outage.error is None  # attested; the mint waits
    assert system.solana_usdc(wallets) == D(0)

    system.seconds(GIVEN_UP.total_seconds())
    system.sim.world.faults.inject(Fault("solana", "sendTransaction", FaultKind.REJECT))
    (refused,) = service.resume("refusal", ended)
    assert refused.state is BridgeState.NEEDS_ATTENTION and stage(refused) is BridgeState.ATTESTED
    assert (refused.error or "").startswith("resuming it:") and system.solana_usdc(wallets) == D(0)

    assert service.resume("refusal", ended) == []  # just written: the next attempt waits for the grace
    system.seconds(GIVEN_UP.total_seconds())
    (landed,) = service.resume("refusal", ended)
    assert landed.state is BridgeState.CREDITED and system.solana_usdc(wallets) == D("9.999")


def test_a_reported_transfer_attested_while_its_mint_waits_keeps_its_mark(system: System) -> None:
    system.user("waiting", arbitrum_usdc="20")
    service = system.service
    planned = service.plan("waiting", "wt1", 2, BridgeDirection.TO_LONG, D(10))
    service.burn("waiting", planned.transfer_id)
    system.seconds(GIVEN_UP.total_seconds())
    (late,) = service.overdue([service.record("waiting", planned.transfer_id)])
    service.report_overdue(late)
    system.seconds(GIVEN_UP.total_seconds())
    system.sim.world.faults.inject(Fault("solana", "sendTransaction", FaultKind.SERVER_ERROR))
    (attested,) = service.resume("waiting", [position(system, "waiting", "wt1")])
    assert stage(attested) is BridgeState.ATTESTED and attested.attestation is not None
    assert (attested.error or "").startswith(OVERDUE_REPORTED) and service.overdue([attested]) == []

"""The rent of a Solana burn's event account back to the user's wallet (BridgeService.reclaim_rent, run by the
reconciler's per-user pass): the production adapters (SolanaCctp through Privy, IrisClient) against the simulator's
MessageTransmitterV2, the records on moto, as in test_bridge_service. Nothing is sent before the account is 5 days
old, and the chain's refusal of a reclaim too early changes nothing; after, the reconciler reclaims it once (the
wallet's SOL rises by the account's rent less the fee), a second run sends nothing, and the user leaves the
unfinished-transfers index; a lost answer is resolved by asking the chain; a program refusal records why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from solders.keypair import Keypair

from dnbot.adapters.aws.dynamodb import DynamoStateStore
from dnbot.domain.bridge import EVENT_ACCOUNT_WINDOW, BridgeDirection, BridgeState, BridgeTransfer, rent_reclaimable
from dnbot.ports import SolanaCctpPort
from dnbot.services.bridge import BridgeService
from dnbot.services.reconciler import Reconciler, ReconcilerLimits
from dnbot.sim.solana_ledger import ledger_for as solana_ledger
from dnbot.sim.world import Fault, FaultKind
from tests.integration.test_bridge_resume import GRACE, position
from tests.integration.test_bridge_service import System, bridge_system
from tests.unit.fakes import Alerts
from tests.unit.test_reconcile_service import Ledger, Venues

APP_ID, APP_SECRET = "cm-sim-bridge-reclaim", "sim-secret-bridge-reclaim"
D = Decimal
SIGNATURE_FEE_LAMPORTS = 5_000  # one signature (the wallet's) on the reclaim
PAST_THE_WINDOW = EVENT_ACCOUNT_WINDOW + timedelta(minutes=11)


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with bridge_system(APP_ID, APP_SECRET) as system:
        yield system


class CountingSolana:
    """The production SolanaCctp, counting the reclaims signed and the transactions sent."""

    def __init__(self, solana: SolanaCctpPort) -> None:
        self.solana = solana
        self.reclaims_signed = 0
        self.sent = 0

    def sign_burn(self, user_id: str, amount_raw: int, evm_recipient: str, max_fee_raw: int, min_finality: int,
                  event_keypair: Keypair) -> object:
        return self.solana.sign_burn(user_id, amount_raw, evm_recipient, max_fee_raw, min_finality, event_keypair)

    def sign_receive(self, user_id: str, message: bytes, attestation: bytes) -> str:
        return self.solana.sign_receive(user_id, message, attestation)

    def sign_reclaim(self, user_id: str, event_account: str, attestation: bytes, destination_message: bytes) -> str:
        self.reclaims_signed += 1
        return self.solana.sign_reclaim(user_id, event_account, attestation, destination_message)

    def event_account_open(self, address: str) -> bool:
        return self.solana.event_account_open(address)

    def send(self, tx_base64: str) -> str:
        self.sent += 1
        return self.solana.send(tx_base64)

    def status(self, signature: str) -> str:
        return self.solana.status(signature)

    def nonce_used(self, nonce: bytes) -> bool:
        return self.solana.nonce_used(nonce)

    def can_still_land(self, tx_base64: str) -> bool:
        return self.solana.can_still_land(tx_base64)


class Ahead:
    """A clock `by` ahead of the simulated chain's: the service believes the window is over, the chain does not."""

    def __init__(self, system: System, by: timedelta) -> None:
        self.system, self.by = system, by

    def now(self) -> datetime:
        return self.system.sim.world.clock.now() + self.by


def counted(system: System, clock: object = None) -> tuple[BridgeService, CountingSolana]:
    solana = CountingSolana(system.chains.solana)
    service = BridgeService(system.store, replace(system.chains, solana=solana),  # type: ignore[arg-type]
                            system.wallets_of, clock or system.sim.world.clock)  # type: ignore[arg-type]
    return service, solana


def credited(system: System, user_id: str, position_id: str, amount: Decimal) -> BridgeTransfer:
    """A to_short transfer (Solana -> Arbitrum) burned, attested, minted and credited."""
    system.user(user_id, solana_usdc="50")
    service = system.service
    planned = service.plan(user_id, position_id, 1, BridgeDirection.TO_SHORT, amount)
    service.burn(user_id, planned.transfer_id)
    system.seconds(8)
    service.attest(user_id, planned.transfer_id)
    service.mint(user_id, planned.transfer_id)
    done = service.credited(user_id, planned.transfer_id)
    assert done.state is BridgeState.CREDITED and done.event_account is not None and done.attestation is not None
    return done


def event_lamports(system: System, address: str) -> int | None:
    """The event account's lamports, as getAccountInfo answers (None: no such account)."""
    answer = httpx.post(f"{system.sim.base_url}/solana", json={
        "jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": [address, {"encoding": "base64"}]}).json()
    value = answer["result"]["value"]
    return None if value is None else int(value["lamports"])


def lamports(system: System, user_id: str) -> int:
    return solana_ledger(system.sim.world).balance_lamports(system.wallets_of(user_id).solana_address)


def unfinished_users(system: System) -> list[str]:
    now = system.sim.world.clock.now()
    return DynamoStateStore(system.table, lambda: now).user_ids_to_reconcile(now - timedelta(hours=24))


def test_the_reconciler_reclaims_a_credited_burns_event_account_rent_once_after_five_days(system: System) -> None:
    record = credited(system, "rally", "rl1", D(40))
    assert record.event_account is not None
    rent = event_lamports(system, record.event_account)
    assert rent is not None and rent > 0
    sol_before = lamports(system, "rally")
    assert "rally" in unfinished_users(system)  # credited, its rent still locked: the round visits the user

    service, solana = counted(system)
    ledger = Ledger(position(system, "rally", "rl1"))
    venues = Venues({"rl1": D(10)}, {"rl1": D(10)}, outside=D(0))
    reconciler = Reconciler(ledger, ledger, venues, venues, venues, venues, Alerts(),  # type: ignore[arg-type]
                            system.sim.world.clock, ReconcilerLimits(GRACE, timedelta(hours=24)), bridge=service)

    system.seconds(timedelta(days=4).total_seconds())  # 4 days on: nothing is sent
    assert reconciler.run().errors == {}
    assert (solana.reclaims_signed, solana.sent) == (0, 0)
    assert system.store.get("rally", record.transfer_id) == record and lamports(system, "rally") == sol_before

    # a clock ahead of the chain's: the service tries, the program refuses (EventAccountWindowNotExpired), and the
    # rent is left for later: no refusal recorded, no SOL moved
    early, early_solana = counted(system, Ahead(system, timedelta(days=2)))
    assert early.reclaim_rent("rally") == [] and early_solana.sent == 1
    tried = system.store.get("rally", record.transfer_id)
    assert tried is not None and tried.signed_reclaim is not None  # stored before it was sent
    assert tried.rent_reclaimed_at is None and tried.reclaim_error is None
    assert lamports(system, "rally") == sol_before and event_lamports(system, record.event_account) == rent

    system.seconds(timedelta(days=1, minutes=11).total_seconds())  # past 5 days (+ the margin) since the burn
    assert rent_reclaimable(tried, system.sim.world.clock.now())
    assert reconciler.run().errors == {}
    assert (solana.reclaims_signed, solana.sent) == (1, 1)
    back = system.store.get("rally", record.transfer_id)
    assert back is not None and back.rent_reclaimed_at == system.sim.world.clock.now()
    assert back.reclaim_tx is not None and system.chains.solana.status(back.reclaim_tx) == "landed"
    assert back.state is BridgeState.CREDITED and back.minted_usd == record.minted_usd  # the USDC untouched
    assert event_lamports(system, record.event_account) is None  # closed
    gained = lamports(system, "rally") - sol_before
    assert gained == rent - SIGNATURE_FEE_LAMPORTS
    print(f"\nevent account rent reclaimed: {rent} lamports = {D(rent) / 10**9} SOL "
          f"({D(gained) / 10**9} SOL net of the reclaim's fee)")
    assert "rally" not in unfinished_users(system)  # done: the user leaves the round's bridge partition

    system.seconds(timedelta(minutes=3).total_seconds())
    assert reconciler.run().errors == {}
    assert (solana.reclaims_signed, solana.sent) == (1, 1)  # a second run sends nothing
    assert system.store.get("rally", record.transfer_id) == back and lamports(system, "rally") == sol_before + gained


def test_a_lost_reclaim_answer_is_resolved_by_asking_the_chain(system: System) -> None:
    record = credited(system, "lost-reclaim", "lr1", D(10))
    assert record.event_account is not None
    rent = event_lamports(system, record.event_account)
    assert rent is not None
    sol_before = lamports(system, "lost-reclaim")
    system.seconds(PAST_THE_WINDOW.total_seconds())
    service, solana = counted(system)

    system.sim.world.faults.inject(Fault("solana", "sendTransaction", FaultKind.LOSE_RESPONSE))
    assert service.reclaim_rent("lost-reclaim") == []  # the chain acted, the answer was lost: left for next run
    signed = system.store.get("lost-reclaim", record.transfer_id)
    assert signed is not None and signed.signed_reclaim is not None and signed.rent_reclaimed_at is None
    assert event_lamports(system, record.event_account) is None

    (back,) = service.reclaim_rent("lost-reclaim")
    assert back.rent_reclaimed_at is not None and back.reclaim_tx is not None
    assert (solana.reclaims_signed, solana.sent) == (1, 1)  # asked the chain: not signed nor sent again
    assert lamports(system, "lost-reclaim") - sol_before == rent - SIGNATURE_FEE_LAMPORTS


def test_a_reclaim_the_program_refuses_records_why_and_the_rent_stays(system: System) -> None:
    record = credited(system, "refused-reclaim", "rr1", D(10))
    assert record.event_account is not None and record.attestation is not None
    system.seconds(PAST_THE_WINDOW.total_seconds())
    # an attestation that is not Circle's (one byte changed): MessageTransmitterV2 refuses, whatever the time
    forged = record.attestation[:-2] + ("00" if record.attestation[-2:] != "00" else "01")
    system.store.save(replace(record, attestation=forged, version=record.version + 1))
    service, solana = counted(system)
    node_down = Fault("solana", "sendTransaction", FaultKind.REJECT)  # the node's refusal, not the program's
    system.sim.world.faults.inject(node_down)
    assert service.reclaim_rent("refused-reclaim") == []
    left = system.store.get("refused-reclaim", record.transfer_id)
    assert left is not None and left.reclaim_error is None and "refused-reclaim" in unfinished_users(system)

    (refused,) = service.reclaim_rent("refused-reclaim")
    assert refused.reclaim_error is not None and "InvalidAttesterSignature" in refused.reclaim_error
    assert refused.rent_reclaimed_at is None and event_lamports(system, record.event_account) is not None
    assert "refused-reclaim" not in unfinished_users(system)  # cannot be reclaimed: it leaves the partition
    assert service.reclaim_rent("refused-reclaim") == [] and solana.sent == 2  # not tried again

"""The simulated Iris through the real IrisClient: a hub burn is unknown, then pending, then attested with
signatures the destination chain accepts; re-attestation, the fee quote and injected faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from dnbot.adapters.iris import IrisClient
from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_TOKEN_MESSENGER_V2,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
    SOLANA_USDC_MINT,
)
from dnbot.cctp.message import BurnBody, CctpMessage, InvalidAttestation, evm_to_bytes32, solana_to_bytes32
from dnbot.ports import AttestationPending, TransientVenueError, VenueRateLimited, VenueRejected
from dnbot.sim.cctp import CctpHub, hub_for
from dnbot.sim.server import RunningSim, start_in_thread
from dnbot.sim.world import Fault, FaultKind, SimWorld

WALLET = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    world = SimWorld.create(start=datetime(2026, 12, 1, 12, tzinfo=UTC), speed=0)
    running = start_in_thread(world=world)
    yield running
    running.stop()


@pytest.fixture
def iris(sim: RunningSim) -> Iterator[IrisClient]:
    sim.world.faults.clear()
    with IrisClient(sim.url("iris"), timeout=5.0) as client:
        yield client


def _solana_burn(amount: int, min_finality: int = 1000) -> bytes:
    """depositForBurn on Solana as the chain emits it (empty nonce, no fee executed)."""
    body = BurnBody(burn_token=solana_to_bytes32(SOLANA_USDC_MINT), mint_recipient=evm_to_bytes32("0x" + "22" * 20),
                    amount=amount, message_sender=solana_to_bytes32(WALLET), max_fee=amount // 500)
    return CctpMessage(source_domain=SOLANA_DOMAIN, destination_domain=ARBITRUM_DOMAIN,
                       sender=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                       recipient=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2), destination_caller=bytes(32),
                       min_finality_threshold=min_finality, body=body.encode()).encode()


def _hub(sim: RunningSim) -> CctpHub:
    return hub_for(sim.world)


def test_a_burn_is_unknown_then_pending_then_attested_and_verifies(sim: RunningSim, iris: IrisClient) -> None:
    signature = "5" + "A" * 86
    with pytest.raises(AttestationPending, match="not observed"):
        iris.attested(SOLANA_DOMAIN, signature)
    emitted = _solana_burn(amount=10_000_000)
    _hub(sim).burned(SOLANA_DOMAIN, signature, emitted)
    sim.world.clock.advance(timedelta(seconds=7))
    with pytest.raises(AttestationPending, match="pending_confirmations"):
        iris.attested(SOLANA_DOMAIN, signature)
    sim.world.clock.advance(timedelta(seconds=1))  # Fast from Solana: ~8 s
    [attested] = iris.attested(SOLANA_DOMAIN, signature)
    assert _hub(sim).verify(attested.message, attested.attestation).nonce == attested.nonce
    assert attested.nonce != bytes(32) and attested.finality_threshold_executed == 1000
    assert attested.fee_executed_raw == 1_000  # 1 bp of 10 USDC
    assert CctpMessage.decode(attested.message).burn.amount == 10_000_000
    with pytest.raises(InvalidAttestation):
        _hub(sim).verify(emitted, attested.attestation)  # what the chain emitted is not what Circle signed
    assert iris.attested(SOLANA_DOMAIN, signature) == [attested]  # attested once

    by_nonce = httpx.get(sim.url("iris") + "/v2/messages/5", params={"nonce": "0x" + attested.nonce.hex()}).json()
    assert by_nonce["messages"][0]["message"] == "0x" + attested.message.hex()  # Iris's other query
    listed = httpx.get(sim.base_url + "/sim/iris/burns").json()["burns"]
    [row] = [burn for burn in listed if burn["transaction"] == signature]
    assert row["status"] == "complete" and row["nonce"] == "0x" + attested.nonce.hex()


def test_an_evm_hash_is_found_whatever_its_case(sim: RunningSim, iris: IrisClient) -> None:
    tx = "0x" + "Ab" * 32
    body = BurnBody(burn_token=evm_to_bytes32("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"),
                    mint_recipient=solana_to_bytes32(WALLET), amount=3_000_000,
                    message_sender=evm_to_bytes32("0x" + "22" * 20), max_fee=600)
    message = CctpMessage(source_domain=ARBITRUM_DOMAIN, destination_domain=SOLANA_DOMAIN,
                          sender=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2),
                          recipient=solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2),
                          destination_caller=bytes(32), min_finality_threshold=1000, body=body.encode())
    _hub(sim).burned(ARBITRUM_DOMAIN, tx, message.encode())
    sim.world.clock.advance(timedelta(seconds=8))
    [attested] = iris.attested(ARBITRUM_DOMAIN, tx.lower())
    assert attested.fee_executed_raw == 300
    with pytest.raises(AttestationPending):
        iris.attested(SOLANA_DOMAIN, tx)  # the same hash on another source domain is another transaction


def test_reattest_re_signs_a_fast_message_as_finalized_keeping_the_fee(sim: RunningSim, iris: IrisClient) -> None:
    signature = "5" + "B" * 86
    _hub(sim).burned(SOLANA_DOMAIN, signature, _solana_burn(amount=4_000_000))
    sim.world.clock.advance(timedelta(seconds=8))
    [fast] = iris.attested(SOLANA_DOMAIN, signature)
    iris.reattest(fast.nonce)
    with pytest.raises(AttestationPending):
        iris.attested(SOLANA_DOMAIN, signature)  # until Solana's Standard finality (~25 s after the burn)
    sim.world.clock.advance(timedelta(seconds=17))
    [finalized] = iris.attested(SOLANA_DOMAIN, signature)
    assert finalized.finality_threshold_executed == 2000 and finalized.nonce == fast.nonce
    assert finalized.fee_executed_raw == fast.fee_executed_raw == 400
    _hub(sim).verify(finalized.message, finalized.attestation)
    with pytest.raises(VenueRejected, match="already finalized"):
        iris.reattest(fast.nonce)
    with pytest.raises(VenueRejected, match="404"):
        iris.reattest(b"\x07" * 32)


def test_the_fee_quote_is_the_hubs(iris: IrisClient) -> None:
    assert iris.fast_fee_bps(SOLANA_DOMAIN, ARBITRUM_DOMAIN) == Decimal(1)
    assert iris.fast_fee_bps(ARBITRUM_DOMAIN, SOLANA_DOMAIN) == Decimal(1)
    with pytest.raises(VenueRejected, match="400"):
        iris.fast_fee_bps(SOLANA_DOMAIN, 0)


def test_injected_faults_surface_as_the_clients_errors(sim: RunningSim, iris: IrisClient) -> None:
    signature = "5" + "C" * 86
    _hub(sim).burned(SOLANA_DOMAIN, signature, _solana_burn(amount=1_000_000))
    sim.world.clock.advance(timedelta(seconds=8))
    sim.world.faults.inject(Fault(venue="iris", call="messages", kind=FaultKind.SERVER_ERROR))
    with pytest.raises(TransientVenueError) as raised:
        iris.attested(SOLANA_DOMAIN, signature)
    assert not isinstance(raised.value, AttestationPending) and "500" in str(raised.value)
    injected = httpx.post(sim.base_url + "/sim/faults", json={"venue": "iris", "call": "fees", "kind": "reject"})
    assert injected.status_code == 201
    with pytest.raises(VenueRateLimited) as limited:
        iris.fast_fee_bps(SOLANA_DOMAIN, ARBITRUM_DOMAIN)
    assert limited.value.retry_after_seconds == 300
    assert len(iris.attested(SOLANA_DOMAIN, signature)) == 1  # each fault once
    sim.world.faults.inject(Fault(venue="iris", call="messages", kind=FaultKind.TIMEOUT, delay_seconds=1.0))
    with IrisClient(sim.url("iris"), timeout=0.3) as impatient, pytest.raises(TransientVenueError, match="timed out"):
        impatient.attested(SOLANA_DOMAIN, signature)

"""The simulator's attesters: a burn is attested once its finality is reached, with a nonce and the Fast fee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dnbot.cctp.message import CctpMessage, InvalidAttestation
from dnbot.sim.cctp import hub_for
from dnbot.sim.world import SimWorld
from tests.unit.test_cctp_message import _arbitrum_to_solana


def test_a_fast_burn_is_attested_after_its_delay_with_the_fee_and_verifies() -> None:
    world = SimWorld.create(start=datetime(2026, 12, 1, 12, tzinfo=UTC), speed=0)
    hub = hub_for(world)
    hub.burned(3, "0xABC", _arbitrum_to_solana(amount=1_500_000).encode())
    [burn] = hub.messages(3, "0xabc")
    assert burn.attestation is None  # Fast from Arbitrum: one block, ~8 s
    world.clock.advance(timedelta(seconds=8))
    [burn] = hub.messages(3, "0xabc")
    assert burn.attested is not None and burn.attestation is not None
    assert burn.attested.nonce != bytes(32) and burn.attested.finality_threshold_executed == 1000
    assert burn.attested.burn.fee_executed == 150  # 1 bp of 1.5 USDC (under the 200 max fee)
    assert hub.verify(burn.attested.encode(), burn.attestation) == burn.attested
    with pytest.raises(InvalidAttestation):
        hub.verify(burn.message.encode(), burn.attestation)  # the un-attested message (empty nonce)
    second = hub.messages(3, "0xabc")[0]
    assert second.attested == burn.attested  # attested once


def test_each_burn_gets_its_own_nonce() -> None:
    world = SimWorld.create(start=datetime(2026, 12, 1, 12, tzinfo=UTC), speed=0)
    hub = hub_for(world)
    hub.burned(3, "0x1", _arbitrum_to_solana().encode())
    hub.burned(3, "0x2", _arbitrum_to_solana().encode())
    world.clock.advance(timedelta(minutes=1))
    nonces = {CctpMessage.decode(b.attested.encode()).nonce for t in ("0x1", "0x2") for b in hub.messages(3, t)
              if b.attested is not None}
    assert len(nonces) == 2

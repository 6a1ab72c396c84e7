"""The simulator's Circle CCTP V2: what the chain simulators and the simulated attestation service (Iris) share.

A source chain's simulator calls `burned(...)` when a depositForBurn lands, with the message exactly as the chain
emitted it (empty nonce, no fee executed). The hub plays Circle's attesters: once the message's finality has been
reached on the simulated clock it assigns a 32-byte nonce, fills in the finality reached and the Fast fee, and
signs keccak256(message) with its attester keys (eth-account, threshold 2), as mainnet does. A Fast (pre-finality)
message gets an `expirationBlock`: the destination chain's height when attested plus `FAST_EXPIRY_BLOCKS` (about
two hours of its blocks: modelled, Circle's window is **unverified**), past which the destination refuses it until
Iris re-attests it (`dnbot.sim.iris`; the world's clock moves both chains' heights). A destination chain's
simulator calls `verify(message, attestation)` before it mints, which checks the signatures exactly as
MessageTransmitterV2 does (`dnbot.cctp.message.verify_attestation`), so a byte-wrong message fails as on mainnet.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from eth_account import Account

from dnbot.cctp import ARBITRUM_DOMAIN, SOLANA_DOMAIN
from dnbot.cctp.message import FAST_FINALITY, STANDARD_FINALITY, CctpMessage, sign_attestation, verify_attestation

ATTESTER_THRESHOLD = 2
# Simulated attester keys: fixed, so that recorded test expectations do not depend on a random draw.
ATTESTER_KEYS: tuple[bytes, ...] = tuple(hashlib.sha256(f"dnbot-sim-attester-{i}".encode()).digest()
                                         for i in range(ATTESTER_THRESHOLD))
# Fast Transfer fee in basis points by SOURCE domain (Circle's fees endpoint answers per source; docs/bridge.md
# section 2 "Fee and finality"); Standard transfers are free.
FAST_FEE_BPS: dict[int, int] = {SOLANA_DOMAIN: 1, ARBITRUM_DOMAIN: 1}
# How long until a burn is attested, by (source domain, finality asked): docs/bridge.md section 4.
ATTESTATION_DELAY: dict[tuple[int, int], timedelta] = {
    (SOLANA_DOMAIN, FAST_FINALITY): timedelta(seconds=8), (SOLANA_DOMAIN, STANDARD_FINALITY): timedelta(seconds=25),
    (ARBITRUM_DOMAIN, FAST_FINALITY): timedelta(seconds=8),
    (ARBITRUM_DOMAIN, STANDARD_FINALITY): timedelta(minutes=16)}
# A Fast message's life on its destination, in that chain's blocks (Arbitrum ~250 ms, Solana 400 ms slots): ~2 h.
FAST_EXPIRY_BLOCKS: dict[int, int] = {ARBITRUM_DOMAIN: 28_800, SOLANA_DOMAIN: 18_000}


@dataclass
class Burn:
    source_domain: int
    transaction: str  # the source transaction: a Solana signature or an 0x EVM hash
    message: CctpMessage  # as emitted on the source chain (empty nonce)
    burned_at: datetime
    attested: CctpMessage | None = None
    attestation: bytes | None = None


@dataclass
class CctpHub:
    clock_now: Any
    burns: dict[tuple[int, str], list[Burn]] = field(default_factory=dict)
    attester_keys: tuple[bytes, ...] = ATTESTER_KEYS
    threshold: int = ATTESTER_THRESHOLD
    _next_nonce: int = 1
    lock: threading.RLock = field(default_factory=threading.RLock)
    # destination domain -> its current block number / slot; a domain without one gets no expirationBlock
    heights: dict[int, Callable[[], int]] = field(default_factory=dict)

    @property
    def attesters(self) -> set[str]:
        return {Account.from_key(key).address.lower() for key in self.attester_keys}

    def burned(self, source_domain: int, transaction: str, message: bytes) -> None:
        """A source chain's depositForBurn landed, emitting `message` (MessageSent)."""
        with self.lock:
            self.burns.setdefault((source_domain, _key(transaction)), []).append(
                Burn(source_domain, transaction, CctpMessage.decode(message), self.clock_now()))

    def messages(self, source_domain: int, transaction: str) -> list[Burn]:
        """Every burn of that transaction, attested once its finality has been reached (None attestation before)."""
        with self.lock:
            found = self.burns.get((source_domain, _key(transaction)), [])
            for burn in found:
                if burn.attestation is None and self.clock_now() >= burn.burned_at + self._delay(burn):
                    self._attest(burn)
            return list(found)

    def verify(self, message: bytes, attestation: bytes) -> CctpMessage:
        """What a destination chain checks before minting: raises InvalidAttestation."""
        verify_attestation(message, attestation, self.attesters, self.threshold)
        return CctpMessage.decode(message)

    def _delay(self, burn: Burn) -> timedelta:
        asked = FAST_FINALITY if burn.message.min_finality_threshold <= FAST_FINALITY else STANDARD_FINALITY
        return ATTESTATION_DELAY[(burn.source_domain, asked)]

    def _attest(self, burn: Burn) -> None:
        fast = burn.message.min_finality_threshold <= FAST_FINALITY
        body = burn.message.burn
        fee = -(-body.amount * FAST_FEE_BPS[burn.source_domain] // 10_000) if fast else 0
        nonce = hashlib.sha256(f"dnbot-sim-nonce-{self._next_nonce}".encode()).digest()
        self._next_nonce += 1
        attested = burn.message.attested(nonce, FAST_FINALITY if fast else STANDARD_FINALITY, min(fee, body.max_fee))
        height = self.heights.get(attested.destination_domain)
        if fast and height is not None:
            expiry = height() + FAST_EXPIRY_BLOCKS[attested.destination_domain]
            attested = replace(attested, body=replace(attested.burn, expiration_block=expiry).encode())
        burn.attested = attested
        burn.attestation = sign_attestation(attested.encode(), list(self.attester_keys))


def _key(transaction: str) -> str:
    return transaction.lower() if transaction.startswith("0x") else transaction


def hub_for(world: Any) -> CctpHub:
    """The world's CCTP hub, created on first use (like the chain ledgers)."""
    hub = getattr(world, "cctp_hub", None)
    if hub is None:
        hub = CctpHub(clock_now=world.clock.now, heights={ARBITRUM_DOMAIN: lambda: _arbitrum_block(world),
                                                          SOLANA_DOMAIN: lambda: _solana_slot(world)})
        world.cctp_hub = hub
    assert isinstance(hub, CctpHub)
    return hub


def _arbitrum_block(world: Any) -> int:
    from dnbot.sim.arbitrum import ledger_for  # the chain simulators import this module

    return ledger_for(world).block_number()


def _solana_slot(world: Any) -> int:
    from dnbot.sim.solana_ledger import ledger_for

    return ledger_for(world).slot()

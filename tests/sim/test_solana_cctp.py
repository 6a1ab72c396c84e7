"""The Solana half of the USDC bridge end to end on the simulator, through the adapter (dnbot.adapters.solana.cctp)
and the user's Privy wallet: a burn towards Arbitrum is debited and attested; an attested Arbitrum burn is
received once, minted less the Fast fee; a replay, a tampered attestation or a burn to someone else fail."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from privy import PrivyClient
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.instructions import create_idempotent_associated_token_account

from dnbot.adapters.privy.authorization import LocalAuthorizationSigner
from dnbot.adapters.privy.wallets import InMemoryWalletDirectory, PrivyWallets
from dnbot.adapters.solana.cctp import SolanaCctp
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.cctp import ARBITRUM_TOKEN_MESSENGER_V2, ARBITRUM_USDC
from dnbot.cctp import solana as cctp
from dnbot.cctp.message import BurnBody, CctpMessage, evm_to_bytes32
from dnbot.domain.assets import USDC
from dnbot.ports import PrivyWalletRecord, VenueRejected
from dnbot.security.transaction_validator import SigningPolicy, TransactionRefusedError
from dnbot.sim.cctp import hub_for
from dnbot.sim.server import RunningSim, start_in_thread
from dnbot.sim.solana_cctp import SIM_FEE_RECIPIENT, programs_for
from dnbot.sim.solana_ledger import ledger_for

APP_ID, APP_SECRET = "cm-sim-cctp-0001", "sim-secret-cctp"


@dataclass
class Bridge:
    sim: RunningSim
    cctp: SolanaCctp
    wallets: PrivyWallets
    rpc: SolanaRpc

    def user(self, user_id: str, sol: str = "1", usdc: str | None = None) -> PrivyWalletRecord:
        record = self.wallets.wallet_record(user_id)
        body: dict[str, str] = {"address": record.solana_address, "sol": sol}
        if usdc is not None:
            body["usdc"] = usdc
        assert httpx.post(f"{self.sim.base_url}/sim/solana/fund", json=body).status_code == 200
        return record

    def usdc_raw(self, owner: str) -> int:
        return ledger_for(self.sim.world).token_raw(owner, USDC.mint)

    def tick(self, seconds: float) -> None:
        self.sim.world.clock.advance(timedelta(seconds=seconds))


@pytest.fixture(scope="module")
def bridge() -> Iterator[Bridge]:
    sim = start_in_thread(speed=0)  # the clock moves only when a test advances it
    signer = LocalAuthorizationSigner.generate()
    registered = httpx.post(f"{sim.base_url}/sim/privy/apps", json={
        "app_id": APP_ID, "app_secret": APP_SECRET, "authorization_public_key": signer.public_key_base64()})
    assert registered.status_code == 200, registered.text
    client = PrivyClient(app_id=APP_ID, app_secret=APP_SECRET, base_url=f"{sim.base_url}/privy")
    wallets = PrivyWallets(client, signer, signer.public_key_base64(), InMemoryWalletDirectory())
    rpc = SolanaRpc(f"{sim.base_url}/solana")
    yield Bridge(sim, SolanaCctp(rpc, lambda: wallets), wallets, rpc)
    rpc.close()
    client.close()
    sim.stop()


def arbitrum_burn(bridge: Bridge, record: PrivyWalletRecord, amount: int, tx_hash: str) -> tuple[bytes, bytes]:
    """An Arbitrum -> Solana burn as TokenMessengerV2 emits it, attested by the simulated attesters."""
    hub = hub_for(bridge.sim.world)
    body = BurnBody(burn_token=evm_to_bytes32(ARBITRUM_USDC),
                    mint_recipient=bytes(cctp.usdc_account(Pubkey.from_string(record.solana_address))),
                    amount=amount, message_sender=evm_to_bytes32(record.evm_address), max_fee=amount // 1000)
    message = CctpMessage(source_domain=3, destination_domain=5, sender=evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2),
                          recipient=bytes(cctp.TOKEN_MESSENGER_MINTER), destination_caller=bytes(32),
                          min_finality_threshold=1000, body=body.encode())
    hub.burned(3, tx_hash, message.encode())
    bridge.tick(8)
    [burn] = hub.messages(3, tx_hash)
    assert burn.attested is not None and burn.attestation is not None
    return burn.attested.encode(), burn.attestation


def test_a_burn_to_arbitrum_is_debited_and_attested(bridge: Bridge) -> None:
    record = bridge.user("burner", usdc="25")
    event = Keypair()
    signed = bridge.cctp.sign_burn("burner", 10_000_000, record.evm_address, 2_000, 1000, event)
    assert signed.event_account == str(event.pubkey())
    assert bridge.cctp.min_fee_raw(10_000_000) == 0  # the simulated TokenMessenger's min_fee is 0
    assert bridge.cctp.status(signed.signature) == "unknown"  # signed, not sent
    assert bridge.cctp.send(signed.tx_base64) == signed.signature
    assert bridge.cctp.send(signed.tx_base64) == signed.signature  # a resend of what landed
    assert bridge.cctp.status(signed.signature) == "landed"
    assert bridge.usdc_raw(record.solana_address) == 15_000_000

    hub = hub_for(bridge.sim.world)
    [burn] = hub.messages(5, signed.signature)
    assert burn.attestation is None  # Fast from Solana: ~8 s
    sent = burn.message
    assert (sent.source_domain, sent.destination_domain, sent.min_finality_threshold) == (5, 3, 1000)
    assert sent.sender == bytes(cctp.TOKEN_MESSENGER_MINTER)
    assert sent.recipient == evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2)
    assert sent.destination_caller == bytes(32) and sent.nonce == bytes(32)
    body = sent.burn
    assert body.burn_token == bytes(cctp.USDC_MINT) and body.mint_recipient == evm_to_bytes32(record.evm_address)
    assert (body.amount, body.max_fee) == (10_000_000, 2_000)
    assert body.message_sender == bytes(Pubkey.from_string(record.solana_address))

    bridge.tick(8)
    [burn] = hub.messages(5, signed.signature)
    assert burn.attested is not None and burn.attestation is not None
    assert burn.attested.burn.fee_executed == 1_000  # 1 bp of 10 USDC
    assert hub.verify(burn.attested.encode(), burn.attestation) == burn.attested

    # the event account exists (MessageTransmitterV2's): a rebuilt burn with the same keypair cannot land twice
    assert bridge.rpc.account_data(signed.event_account) is not None
    bridge.tick(1)
    again = bridge.cctp.sign_burn("burner", 10_000_000, record.evm_address, 2_000, 1000, event)
    assert again.signature != signed.signature
    with pytest.raises(VenueRejected, match="already in use"):
        bridge.cctp.send(again.tx_base64)
    assert bridge.usdc_raw(record.solana_address) == 15_000_000
    assert len(hub.messages(5, signed.signature)) == 1 and hub.messages(5, again.signature) == []


def test_a_burn_to_another_evm_address_is_never_signed(bridge: Bridge) -> None:
    bridge.user("careful", usdc="5")
    with pytest.raises(TransactionRefusedError, match="not the user's EVM address"):
        bridge.cctp.sign_burn("careful", 1_000_000, "0x" + "22" * 20, 200, 1000, Keypair())


def test_a_burn_over_the_fee_cap_or_the_balance_debits_nothing(bridge: Bridge) -> None:
    record = bridge.user("edgy", usdc="1")
    with pytest.raises(TransactionRefusedError, match="cap"):
        bridge.cctp.sign_burn("edgy", 1_000, record.evm_address, 1_000, 1000, Keypair())
    with pytest.raises(VenueRejected, match="insufficient funds"):
        bridge.cctp.send(bridge.cctp.sign_burn("edgy", 2_000_000, record.evm_address, 100, 1000, Keypair()).tx_base64)
    assert bridge.usdc_raw(record.solana_address) == 1_000_000


def test_a_burn_offering_less_than_the_minimum_fee_reverts(bridge: Bridge) -> None:
    record = bridge.user("stingy", usdc="10")
    programs = programs_for(bridge.sim.world)
    original = programs.token_messenger
    programs.token_messenger = replace(original, min_fee=1_000)  # 1 bp
    try:
        assert bridge.cctp.min_fee_raw(10_000_000) == 1_000
        signed = bridge.cctp.sign_burn("stingy", 10_000_000, record.evm_address, 999, 1000, Keypair())
        with pytest.raises(VenueRejected, match="InsufficientMaxFee"):
            bridge.cctp.send(signed.tx_base64)
        bridge.cctp.send(bridge.cctp.sign_burn("stingy", 10_000_000, record.evm_address, 1_000, 1000, Keypair())
                         .tx_base64)
    finally:
        programs.token_messenger = original
    assert bridge.usdc_raw(record.solana_address) == 0


def test_an_arbitrum_burn_is_received_once_less_the_fee(bridge: Bridge) -> None:
    record = bridge.user("receiver", usdc="3")
    fee_before = bridge.usdc_raw(str(SIM_FEE_RECIPIENT))
    message, attestation = arbitrum_burn(bridge, record, 5_000_000, "0x" + "ab" * 32)
    nonce = CctpMessage.decode(message).nonce
    assert not bridge.cctp.nonce_used(nonce)

    signature = bridge.cctp.send(bridge.cctp.sign_receive("receiver", message, attestation))
    assert bridge.cctp.status(signature) == "landed"
    assert bridge.usdc_raw(record.solana_address) == 3_000_000 + 5_000_000 - 500  # 1 bp Fast fee
    assert bridge.usdc_raw(str(SIM_FEE_RECIPIENT)) == fee_before + 500
    assert bridge.cctp.nonce_used(nonce)

    bridge.tick(1)  # a new blockhash: a different transaction for the same message
    with pytest.raises(VenueRejected, match="already in use"):
        bridge.cctp.send(bridge.cctp.sign_receive("receiver", message, attestation))
    assert bridge.usdc_raw(record.solana_address) == 7_999_500


def test_a_tampered_attestation_or_message_mints_nothing(bridge: Bridge) -> None:
    record = bridge.user("victim", usdc="1")
    message, attestation = arbitrum_burn(bridge, record, 2_000_000, "0x" + "cd" * 32)
    nonce = CctpMessage.decode(message).nonce
    forged = attestation[:10] + bytes([attestation[10] ^ 1]) + attestation[11:]
    with pytest.raises(VenueRejected, match=r"InvalidAttesterSignature|InvalidSignatureOrderOrDupe"):
        bridge.cctp.send(bridge.cctp.sign_receive("victim", message, forged))
    genuine = CctpMessage.decode(message).burn
    more = message[:148] + replace(genuine, amount=20_000_000).encode()  # the amount inflated, same attestation
    with pytest.raises(VenueRejected, match=r"InvalidAttesterSignature|InvalidSignatureOrderOrDupe"):
        bridge.cctp.send(bridge.cctp.sign_receive("victim", more, attestation))
    with pytest.raises(VenueRejected, match="InvalidAttestationLength"):
        bridge.cctp.send(bridge.cctp.sign_receive("victim", message, attestation[:65]))
    assert bridge.usdc_raw(record.solana_address) == 1_000_000
    assert not bridge.cctp.nonce_used(nonce)
    # the genuine pair still works afterwards
    bridge.cctp.send(bridge.cctp.sign_receive("victim", message, attestation))
    assert bridge.usdc_raw(record.solana_address) == 1_000_000 + 2_000_000 - 200


def test_a_receive_creates_the_users_usdc_account_first(bridge: Bridge) -> None:
    record = bridge.user("fresh")  # SOL only: no USDC account yet
    owner = Pubkey.from_string(record.solana_address)
    assert bridge.rpc.account_data(str(cctp.usdc_account(owner))) is None
    message, attestation = arbitrum_burn(bridge, record, 1_000_000, "0x" + "ef" * 32)
    bridge.cctp.send(bridge.cctp.sign_receive("fresh", message, attestation))
    assert bridge.usdc_raw(record.solana_address) == 1_000_000 - 100


def test_a_message_for_someone_else_is_not_signed_for_the_user(bridge: Bridge) -> None:
    alice, bob = bridge.user("alice", usdc="1"), bridge.user("bob", usdc="1")
    message, attestation = arbitrum_burn(bridge, bob, 1_000_000, "0x" + hashlib.sha256(b"bob").hexdigest())
    with pytest.raises(TransactionRefusedError, match="not the user's USDC account"):
        bridge.cctp.sign_receive("alice", message, attestation)
    assert bridge.usdc_raw(alice.solana_address) == 1_000_000


def test_the_node_refuses_a_receive_too_large_for_a_packet(bridge: Bridge) -> None:
    # why sign_receive creates the USDC account in a transaction of its own: with it, the receive is 1300 bytes
    record = bridge.user("packed", usdc="1")
    owner = Pubkey.from_string(record.solana_address)
    message, attestation = arbitrum_burn(bridge, record, 1_000_000, "0x" + "99" * 32)
    blockhash, _ = bridge.rpc.latest_blockhash()
    compiled = MessageV0.try_compile(owner, [
        create_idempotent_associated_token_account(owner, owner, cctp.USDC_MINT),
        cctp.receive_message_ix(owner, message, attestation, bridge.cctp.fee_recipient_token_account())],
        [], Hash.from_string(blockhash))
    unsigned = VersionedTransaction.populate(compiled, [Signature.default()])
    signed = bridge.wallets.sign_transaction("packed", base64.b64encode(bytes(unsigned)).decode(),
                                             SigningPolicy.for_wallet(owner))
    with pytest.raises(VenueRejected, match="too large: 1300 bytes"):
        bridge.cctp.send(signed)
    assert bridge.usdc_raw(record.solana_address) == 1_000_000


def test_the_event_account_rent_comes_back_after_five_days(bridge: Bridge) -> None:
    # last in this module: it moves the shared clock by days
    record = bridge.user("reclaimer", usdc="10")
    event = Keypair()
    burn = bridge.cctp.sign_burn("reclaimer", 4_000_000, record.evm_address, 800, 1000, event)
    bridge.cctp.send(burn.tx_base64)
    rent = bridge.rpc.sol_balance(record.solana_address)
    bridge.tick(8)
    [attested] = hub_for(bridge.sim.world).messages(5, burn.signature)
    assert attested.attested is not None and attested.attestation is not None
    destination = attested.attested.encode()
    with pytest.raises(VenueRejected, match="EventAccountWindowNotExpired"):
        bridge.cctp.send(bridge.cctp.sign_reclaim("reclaimer", burn.event_account, attested.attestation, destination))
    bridge.tick(5 * 24 * 3600)
    other = arbitrum_burn(bridge, record, 1_000_000, "0x" + "77" * 32)[0]  # attested, but not this burn's
    with pytest.raises(VenueRejected, match="InvalidDestinationMessage"):
        bridge.cctp.send(bridge.cctp.sign_reclaim("reclaimer", burn.event_account, attested.attestation, other))
    with pytest.raises(VenueRejected, match="ConstraintRaw"):  # only the rent payer gets the rent back
        bridge.user("thief")
        bridge.cctp.send(bridge.cctp.sign_reclaim("thief", burn.event_account, attested.attestation, destination))
    signature = bridge.cctp.send(
        bridge.cctp.sign_reclaim("reclaimer", burn.event_account, attested.attestation, destination))
    assert bridge.cctp.status(signature) == "landed"
    assert bridge.rpc.account_data(burn.event_account) is None
    back = bridge.rpc.sol_balance(record.solana_address) - rent
    assert back == (Decimal(8 + 32 + 8 + 4 + len(destination) + 128) * 6960 - 5_000) / 1_000_000_000

"""The USDC bridge's use case end to end (dnbot.services.bridge): the production adapters (SolanaCctp,
ArbitrumCctp, IrisClient) against the simulator's chains and attesters, the user's Privy wallets, the record in
DynamoDB (moto). Each direction moves the money once; a lost answer, a retried step and an attestation not yet
signed never burn or mint twice; a burn that can never land is abandoned with nothing burned; a Fast message that
expired before its mint is re-attested once and minted once, and one Iris refused to re-attest stays resumable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.pubkey import Pubkey

from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore
from dnbot.adapters.evm.arbitrum import ArbitrumClient
from dnbot.adapters.evm.cctp import ArbitrumCctp
from dnbot.adapters.iris import IrisClient
from dnbot.adapters.privy.wallets import PrivyEvmTransactionSigner, PrivyWallets
from dnbot.adapters.solana.cctp import SolanaCctp
from dnbot.adapters.solana.rpc import SolanaRpc
from dnbot.cctp.message import FAST_FINALITY, STANDARD_FINALITY, CctpMessage
from dnbot.cctp.solana import usdc_account
from dnbot.domain.assets import USDC
from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, in_flight_usd
from dnbot.ports import (
    AttestationPending,
    AttestedMessage,
    MessageExpired,
    TransientVenueError,
    UserWallets,
    VenueRateLimited,
)
from dnbot.services.bridge import BridgeChains, BridgeService, NotConfirmedYet
from dnbot.sim.arbitrum import ledger_for as arbitrum_ledger
from dnbot.sim.server import RunningSim
from dnbot.sim.solana_ledger import ledger_for as solana_ledger
from dnbot.sim.world import Fault, FaultKind
from tests.contract.aws.test_dynamodb_store import moto_table
from tests.integration.helpers import sim_with_privy_wallets

APP_ID, APP_SECRET = "cm-sim-bridge-0001", "sim-secret-bridge"


@dataclass
class System:
    sim: RunningSim
    wallets: PrivyWallets
    service: BridgeService
    store: DynamoBridgeTransferStore
    chains: BridgeChains
    wallets_of: Callable[[str], UserWallets]
    table: Any = None  # the moto state table holding the records

    def user(self, user_id: str, *, solana_usdc: str = "0", arbitrum_usdc: str = "0") -> UserWallets:
        record = self.wallets.wallet_record(user_id)
        assert httpx.post(f"{self.sim.base_url}/sim/solana/fund", json={
            "address": record.solana_address, "sol": "1", "usdc": solana_usdc}).status_code == 200
        assert httpx.post(f"{self.sim.base_url}/sim/arbitrum/fund", json={
            "address": record.evm_address, "usdc": arbitrum_usdc, "eth": "0.01"}).status_code == 200
        return UserWallets(record.solana_address, record.evm_address)

    def solana_usdc(self, wallets: UserWallets) -> Decimal:
        return solana_ledger(self.sim.world).token_ui(wallets.solana_address, USDC.mint)

    def arbitrum_usdc(self, wallets: UserWallets) -> Decimal:
        return arbitrum_ledger(self.sim.world).usdc_ui(wallets.evm_address)

    def seconds(self, seconds: float) -> None:
        self.sim.world.clock.advance(timedelta(seconds=seconds))

    def with_iris(self, iris: CountingIris) -> BridgeService:
        """The same service over the same chains and records, asking Iris through `iris`."""
        return BridgeService(self.store, replace(self.chains, iris=iris), self.wallets_of, self.sim.world.clock)


class CountingIris:
    """The production IrisClient, counting the re-attestations asked of it."""

    def __init__(self, iris: IrisClient) -> None:
        self.iris = iris
        self.reattested: list[bytes] = []

    def attested(self, source_domain: int, transaction: str) -> list[AttestedMessage]:
        return self.iris.attested(source_domain, transaction)

    def fast_fee_bps(self, source_domain: int, destination_domain: int) -> Decimal:
        return self.iris.fast_fee_bps(source_domain, destination_domain)

    def reattest(self, nonce: bytes) -> None:
        self.reattested.append(nonce)
        self.iris.reattest(nonce)


@contextmanager
def bridge_system(app_id: str, app_secret: str) -> Iterator[System]:
    """BridgeService through the production adapters against the simulator, Privy wallets, records on moto."""
    with sim_with_privy_wallets(app_id, app_secret) as (sim, _client, wallets):
        rpc = SolanaRpc(f"{sim.base_url}/solana")
        chains = BridgeChains(
            solana=SolanaCctp(rpc, lambda: wallets),
            arbitrum=ArbitrumCctp(ArbitrumClient(f"{sim.base_url}/arbitrum"), PrivyEvmTransactionSigner(wallets)),
            iris=IrisClient(f"{sim.base_url}/iris"))

        def wallets_of(user_id: str) -> UserWallets:
            record = wallets.wallet_record(user_id)
            return UserWallets(record.solana_address, record.evm_address)

        with moto_table() as table:
            store = DynamoBridgeTransferStore(table)
            yield System(sim, wallets, BridgeService(store, chains, wallets_of, sim.world.clock), store, chains,
                         wallets_of, table)
        rpc.close()


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with bridge_system(APP_ID, APP_SECRET) as system:
        yield system


def test_solana_to_arbitrum_moves_the_usdc_once_less_the_fast_fee(system: System) -> None:
    wallets = system.user("rally", solana_usdc="100")
    service = system.service
    planned = service.plan("rally", "pos1", 1, BridgeDirection.TO_SHORT, Decimal("40"))
    assert planned.mint_recipient == wallets.evm_address and planned.max_fee_usd == Decimal("0.008")
    assert service.plan("rally", "pos1", 1, BridgeDirection.TO_SHORT, Decimal("40")) == planned  # found, not new

    burned = service.burn("rally", planned.transfer_id)
    assert burned.state is BridgeState.BURNED and system.solana_usdc(wallets) == Decimal(60)
    assert service.burn("rally", planned.transfer_id) == burned  # a retried step burns nothing more
    assert system.solana_usdc(wallets) == Decimal(60)
    assert in_flight_usd([burned]) == Decimal("39.992")  # counted at the most the fee can be

    with pytest.raises(AttestationPending):  # Fast from Solana: ~8 s
        service.attest("rally", planned.transfer_id)
    system.seconds(8)
    attested = service.attest("rally", planned.transfer_id)
    assert attested.state is BridgeState.ATTESTED and attested.fee_executed_usd == Decimal("0.004")  # 1 bp

    minted = service.mint("rally", planned.transfer_id)
    assert minted.state is BridgeState.MINTED and minted.minted_usd == Decimal("39.996")
    assert system.arbitrum_usdc(wallets) == Decimal("39.996")
    assert service.mint("rally", planned.transfer_id) == minted  # no second mint
    assert system.arbitrum_usdc(wallets) == Decimal("39.996")
    assert system.store.get("rally", planned.transfer_id) == minted


def test_arbitrum_to_solana_approves_exactly_burns_and_mints_to_the_usdc_account(system: System) -> None:
    wallets = system.user("fall", arbitrum_usdc="30")
    service = system.service
    planned = service.plan("fall", "pos2", 1, BridgeDirection.TO_LONG, Decimal("25"))
    assert planned.mint_recipient == str(usdc_account(Pubkey.from_string(wallets.solana_address)))
    burned = service.burn("fall", planned.transfer_id)
    assert burned.state is BridgeState.BURNED and burned.evm_nonce is not None
    assert system.arbitrum_usdc(wallets) == Decimal(5)
    system.seconds(8)
    service.attest("fall", planned.transfer_id)
    minted = service.mint("fall", planned.transfer_id)
    assert minted.minted_usd == Decimal("24.9975") and system.solana_usdc(wallets) == Decimal("24.9975")


def _burn_failing(system: System, user_id: str, position_id: str, amount: Decimal, fault: FaultKind,
                  raises: type[Exception], *, times: int = 1) -> BridgeTransfer:
    """A to_short transfer planned, its burn tried while Solana's sendTransaction fails `times` as `fault`."""
    planned = system.service.plan(user_id, position_id, 1, BridgeDirection.TO_SHORT, amount)
    system.sim.world.faults.inject(Fault("solana", "sendTransaction", fault, times=times))
    with pytest.raises(raises):
        system.service.burn(user_id, planned.transfer_id)
    return planned


def test_a_lost_burn_answer_is_resolved_by_asking_the_chain_not_by_burning_again(system: System) -> None:
    wallets = system.user("lost", solana_usdc="50")
    service = system.service
    planned = _burn_failing(system, "lost", "pos3", Decimal("20"), FaultKind.LOSE_RESPONSE, TransientVenueError)
    signed = system.store.get("lost", planned.transfer_id)
    assert signed is not None and signed.state is BridgeState.BURN_SIGNED  # stored before it was sent
    assert system.solana_usdc(wallets) == Decimal(30)  # the chain acted
    retried = service.burn("lost", planned.transfer_id)
    assert retried.state is BridgeState.BURNED and system.solana_usdc(wallets) == Decimal(30)  # once


def test_a_refused_burn_is_watched_while_it_can_land_and_abandoned_once_it_cannot(system: System) -> None:
    wallets = system.user("refused", solana_usdc="10")
    service = system.service
    # refused, but its blockhash is valid: it could still be sent and land
    planned = _burn_failing(system, "refused", "pos4", Decimal("8"), FaultKind.REJECT, NotConfirmedYet, times=2)
    system.seconds(120)  # past the blockhash's ~60 s
    abandoned = service.burn("refused", planned.transfer_id)
    assert abandoned.state is BridgeState.ABANDONED and "can no longer land" in (abandoned.error or "")
    assert system.solana_usdc(wallets) == Decimal(10)
    assert in_flight_usd([abandoned]) == Decimal(0)


def test_a_refused_burn_whose_blockhash_is_valid_lands_when_sent_again(system: System) -> None:
    wallets = system.user("second", solana_usdc="10")
    service = system.service
    planned = _burn_failing(system, "second", "pos5", Decimal("8"), FaultKind.REJECT, NotConfirmedYet)
    assert service.burn("second", planned.transfer_id).state is BridgeState.BURNED  # the same bytes, once
    assert system.solana_usdc(wallets) == Decimal(2)


def test_an_arbitrum_burn_whose_nonce_went_elsewhere_is_abandoned(system: System) -> None:
    wallets = system.user("nonce", arbitrum_usdc="20")
    service = system.service
    planned = service.plan("nonce", "pos6", 1, BridgeDirection.TO_LONG, Decimal("10"))
    system.sim.world.faults.inject(Fault("arbitrum", "eth_sendRawTransaction", FaultKind.REJECT))
    with pytest.raises(NotConfirmedYet):  # refused, its nonce unused: it may still be sent
        service.burn("nonce", planned.transfer_id)
    signed = system.store.get("nonce", planned.transfer_id)
    assert signed is not None and signed.state is BridgeState.BURN_SIGNED
    # another transaction of the wallet takes the burn's nonces (the user sends USDC elsewhere)
    arbitrum = ArbitrumClient(f"{system.sim.base_url}/arbitrum")
    deposit = arbitrum.sign_bridge_deposit("nonce", wallets.evm_address, Decimal(5),
                                           PrivyEvmTransactionSigner(system.wallets))
    arbitrum.send(deposit)
    second = arbitrum.sign_bridge_deposit("nonce", wallets.evm_address, Decimal(5),
                                          PrivyEvmTransactionSigner(system.wallets))
    arbitrum.send(second)
    abandoned = service.burn("nonce", planned.transfer_id)
    assert abandoned.state is BridgeState.ABANDONED and "went to another transaction" in (abandoned.error or "")
    assert system.arbitrum_usdc(wallets) == Decimal(10)  # the two deposits left; nothing was burned


# --- a Fast message that expired before its mint ----------------------------------------------------------------

EXPIRED = 2 * 3600 + 60  # past the simulated Fast message's expirationBlock (~2 h of the destination's blocks)


def _attested(system: System, user_id: str, position_id: str, direction: BridgeDirection,
              amount: Decimal) -> BridgeTransfer:
    service = system.service
    planned = service.plan(user_id, position_id, 1, direction, amount)
    assert service.burn(user_id, planned.transfer_id).state is BridgeState.BURNED
    system.seconds(8)
    attested = service.attest(user_id, planned.transfer_id)
    assert attested.state is BridgeState.ATTESTED and attested.message is not None
    return attested


def _message(record: BridgeTransfer) -> CctpMessage:
    assert record.message is not None
    return CctpMessage.decode(bytes.fromhex(record.message))


def test_an_expired_fast_message_is_re_attested_once_and_minted_once_on_arbitrum(system: System) -> None:
    wallets = system.user("expired-rally", solana_usdc="50")
    attested = _attested(system, "expired-rally", "pos7", BridgeDirection.TO_SHORT, Decimal(20))
    fast = _message(attested)
    arbitrum = arbitrum_ledger(system.sim.world)
    assert fast.finality_threshold_executed == FAST_FINALITY and fast.burn.expiration_block > arbitrum.block_number()
    system.seconds(EXPIRED)
    assert fast.burn.expiration_block <= arbitrum.block_number()
    assert attested.attestation is not None
    with pytest.raises(MessageExpired, match="Message expired and must be re-signed"):  # the node's own answer
        system.chains.arbitrum.sign_receive("expired-rally", wallets.evm_address, fast.encode(),
                                            bytes.fromhex(attested.attestation))
    iris = CountingIris(IrisClient(f"{system.sim.base_url}/iris"))
    service = system.with_iris(iris)

    minted = service.mint("expired-rally", attested.transfer_id)

    assert minted.state is BridgeState.MINTED and minted.minted_usd == Decimal("19.998")  # less the 1 bp Fast fee
    assert minted.reattested_at == system.sim.world.clock.now() and minted.cctp_nonce == attested.cctp_nonce
    assert [nonce.hex() for nonce in iris.reattested] == [attested.cctp_nonce]
    finalized = _message(minted)
    assert finalized.nonce == fast.nonce and finalized.finality_threshold_executed == STANDARD_FINALITY
    assert finalized.burn.expiration_block == 0 and finalized.burn.fee_executed == fast.burn.fee_executed
    assert system.arbitrum_usdc(wallets) == Decimal("19.998")
    assert service.mint("expired-rally", attested.transfer_id) == minted  # a retried step: nothing more
    assert len(iris.reattested) == 1 and system.arbitrum_usdc(wallets) == Decimal("19.998")
    assert system.store.get("expired-rally", attested.transfer_id) == minted


def test_an_expired_message_to_solana_waits_for_its_new_attestation_then_mints_once(system: System) -> None:
    wallets = system.user("expired-fall", arbitrum_usdc="30")
    attested = _attested(system, "expired-fall", "pos8", BridgeDirection.TO_LONG, Decimal(25))
    assert _message(attested).burn.expiration_block > 0
    system.seconds(EXPIRED)
    iris = CountingIris(IrisClient(f"{system.sim.base_url}/iris"))
    service = system.with_iris(iris)
    system.sim.world.faults.inject(Fault("iris", "messages", FaultKind.SERVER_ERROR))  # the new message, not yet
    with pytest.raises(TransientVenueError):  # the workflow retries the mint step
        service.mint("expired-fall", attested.transfer_id)
    waiting = system.store.get("expired-fall", attested.transfer_id)
    assert waiting is not None and waiting.state is BridgeState.BURNED and waiting.attestation is None
    assert waiting.reattested_at is not None and waiting.cctp_nonce == attested.cctp_nonce
    assert len(iris.reattested) == 1 and system.solana_usdc(wallets) == Decimal(0)
    assert in_flight_usd([waiting]) == Decimal("24.9975")  # still in transit, at the fee Iris took

    minted = service.mint("expired-fall", attested.transfer_id)  # the retry: attested again (finalized), minted

    assert minted.state is BridgeState.MINTED and minted.minted_usd == Decimal("24.9975")
    assert _message(minted).finality_threshold_executed == STANDARD_FINALITY
    assert len(iris.reattested) == 1 and system.solana_usdc(wallets) == Decimal("24.9975")
    assert service.mint("expired-fall", attested.transfer_id) == minted
    assert system.solana_usdc(wallets) == Decimal("24.9975")


def _refusing_iris(system: System) -> IrisClient:
    """The production client, through a transport that refuses every re-attestation (400) and passes the rest to
    the simulated Iris."""
    upstream = httpx.Client(base_url=f"{system.sim.base_url}/iris")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v2/reattest/"):
            return httpx.Response(400, json={"error": "Message is not eligible for re-attestation"})
        forwarded = upstream.request(request.method, request.url.path, params=request.url.params)
        return httpx.Response(forwarded.status_code, content=forwarded.content,
                              headers={"content-type": forwarded.headers.get("content-type", "application/json")})

    return IrisClient("http://iris.test", transport=httpx.MockTransport(answer))


def test_a_refused_re_attestation_leaves_the_transfer_resumable_and_resume_mints_it_once(system: System) -> None:
    wallets = system.user("expired-refused", solana_usdc="30")
    attested = _attested(system, "expired-refused", "pos9", BridgeDirection.TO_SHORT, Decimal(10))
    system.seconds(EXPIRED)
    refused = system.with_iris(CountingIris(_refusing_iris(system)))
    with pytest.raises(AttestationPending, match="Iris refused to re-attest"):  # the usual transient error
        refused.mint("expired-refused", attested.transfer_id)
    system.sim.world.faults.inject(Fault("iris", "reattest", FaultKind.REJECT))  # Iris's 429
    with pytest.raises(VenueRateLimited):
        system.service.mint("expired-refused", attested.transfer_id)
    assert system.store.get("expired-refused", attested.transfer_id) == attested  # unchanged: attested, resumable
    assert system.arbitrum_usdc(wallets) == Decimal(0)

    system.seconds(46 * 60)  # past the workflow grace: the reconciler takes it over
    (resumed,) = system.service.resume("expired-refused", [])

    assert resumed.state is BridgeState.CREDITED and resumed.minted_usd == Decimal("9.999")
    assert resumed.reattested_at is not None and _message(resumed).burn.expiration_block == 0
    assert system.arbitrum_usdc(wallets) == Decimal("9.999")
    system.seconds(46 * 60)
    assert system.service.resume("expired-refused", []) == [] and system.arbitrum_usdc(wallets) == Decimal("9.999")


def test_a_re_attestation_whose_answer_was_lost_is_not_asked_for_forever(system: System) -> None:
    wallets = system.user("expired-lost", solana_usdc="30")
    attested = _attested(system, "expired-lost", "pos10", BridgeDirection.TO_SHORT, Decimal(12))
    system.seconds(EXPIRED)
    iris = CountingIris(IrisClient(f"{system.sim.base_url}/iris"))
    service = system.with_iris(iris)
    system.sim.world.faults.inject(Fault("iris", "reattest", FaultKind.LOSE_RESPONSE))  # Iris acts, the answer is lost
    with pytest.raises(TransientVenueError):
        service.mint("expired-lost", attested.transfer_id)
    assert system.store.get("expired-lost", attested.transfer_id) == attested  # nothing recorded: it may not have
    assert attested.burn_tx is not None
    (finalized,) = system.chains.iris.attested(5, attested.burn_tx)  # meanwhile Iris re-signed it
    assert finalized.finality_threshold_executed == STANDARD_FINALITY

    minted = service.mint("expired-lost", attested.transfer_id)  # Iris refuses a second re-attestation: taken as done

    assert len(iris.reattested) == 2 and minted.state is BridgeState.MINTED and minted.reattested_at is not None
    assert minted.minted_usd == Decimal("11.9988") and system.arbitrum_usdc(wallets) == Decimal("11.9988")

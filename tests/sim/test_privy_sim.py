"""`/privy` against privy-client, unmodified: wallets owned by a KMS key (moto), signatures verified by the sim."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import httpx
import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from fastapi.testclient import TestClient
from moto import mock_aws
from privy import AuthenticationError, BadRequestError, NotFoundError, PrivyClient
from privy.lib.authorization import AuthorizationContext, prepare_request
from privy.lib.request_options import PrivyRequestOptions
from solders.compute_budget import set_compute_unit_limit
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from dnbot.adapters.auth.privy_token import PrivyAccessTokenVerifier, privy_users_email_lookup
from dnbot.adapters.aws.kms import KmsAuthorizationSigner
from dnbot.adapters.privy.authorization import LocalAuthorizationSigner, privy_signer_function
from dnbot.adapters.privy.wallets import InMemoryWalletDirectory, PrivyEvmTransactionSigner, PrivyWallets
from dnbot.domain.assets import USDC
from dnbot.ports import LoginRejected, TransientVenueError, VenueRejected
from dnbot.security.evm_validator import ARBITRUM_USDC, HYPERLIQUID_BRIDGE
from dnbot.security.transaction_validator import SigningPolicy, TransactionRefusedError
from dnbot.sim import asgard as asgard_sim
from dnbot.sim import privy as privy_sim
from dnbot.sim.server import start_in_thread
from dnbot.sim.solana_ledger import ledger_for
from dnbot.sim.world import Fault, FaultKind, SimWorld

APP_ID = "cm-sim-app-0001"
APP_SECRET = "sim-secret-0001"
VENUE_PRIVY = "privy"


@dataclass
class RunningPrivySim:
    base_url: str
    world: SimWorld


@pytest.fixture(scope="module")
def running() -> Iterator[RunningPrivySim]:
    sim = start_in_thread()
    yield RunningPrivySim(sim.base_url, sim.world)
    sim.stop()


@pytest.fixture(scope="module")
def kms_signer() -> Iterator[KmsAuthorizationSigner]:
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        yield KmsAuthorizationSigner(kms, key_id)


@pytest.fixture(scope="module")
def registered(running: RunningPrivySim, kms_signer: KmsAuthorizationSigner) -> RunningPrivySim:
    answer = httpx.post(f"{running.base_url}/sim/privy/apps", json={
        "app_id": APP_ID, "app_secret": APP_SECRET,
        "authorization_public_key": kms_signer.public_key_base64()})
    assert answer.status_code == 200, answer.text
    return running


@pytest.fixture(scope="module")
def client(registered: RunningPrivySim) -> Iterator[PrivyClient]:
    with PrivyClient(app_id=APP_ID, app_secret=APP_SECRET, base_url=f"{registered.base_url}/privy") as c:
        yield c


@pytest.fixture(scope="module")
def directory() -> InMemoryWalletDirectory:
    return InMemoryWalletDirectory()


@pytest.fixture(scope="module")
def wallets(client: PrivyClient, kms_signer: KmsAuthorizationSigner,
            directory: InMemoryWalletDirectory) -> PrivyWallets:
    return PrivyWallets(client, kms_signer, kms_signer.public_key_base64(), directory)


def _self_transfer(payer: Pubkey, legacy: bool = False, to: Pubkey | None = None) -> str:
    instructions = [set_compute_unit_limit(200_000),
                    transfer(TransferParams(from_pubkey=payer, to_pubkey=to or payer, lamports=1_000))]
    blockhash = Hash.new_unique()
    if legacy:
        tx: Transaction | VersionedTransaction = Transaction.new_unsigned(
            Message.new_with_blockhash(instructions, payer, blockhash))
    else:
        message = MessageV0.try_compile(payer, instructions, [], blockhash)
        tx = VersionedTransaction.populate(message, [Keypair().sign_message(b"placeholder")])
    return base64.b64encode(bytes(tx)).decode()


def _wallet_count(running: RunningPrivySim) -> int:
    listed = httpx.get(f"{running.base_url}/sim/privy/wallets").json()
    return sum(1 for w in listed if w["app_id"] == APP_ID)


def test_creates_both_wallets_owned_by_the_kms_key(wallets: PrivyWallets, client: PrivyClient,
                                                  registered: RunningPrivySim) -> None:
    user = wallets.wallets_for("user-1")
    assert Pubkey.from_string(user.solana_address)
    assert user.evm_address.startswith("0x") and len(user.evm_address) == 42
    record = wallets.wallet_record("user-1")
    solana = client.wallets.get(record.solana_wallet_id)
    evm = client.wallets.get(record.evm_wallet_id)
    assert (solana.chain_type, solana.address) == ("solana", user.solana_address)
    assert (evm.chain_type, evm.address) == ("ethereum", user.evm_address)
    assert solana.owner_id is not None and solana.owner_id == evm.owner_id
    count = _wallet_count(registered)
    assert wallets.wallets_for("user-1") == user  # from the directory: nothing new is created
    assert _wallet_count(registered) == count


@pytest.mark.parametrize("legacy", [False, True])
def test_signs_a_solana_transaction_with_the_kms_backed_authorization(wallets: PrivyWallets,
                                                                       legacy: bool) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    unsigned = _self_transfer(address, legacy=legacy)
    signed_b64 = wallets.sign_transaction("user-1", unsigned)
    raw = base64.b64decode(signed_b64)
    if legacy:
        signed = Transaction.from_bytes(raw)
        signed.verify()  # raises unless every required signature is valid
    else:
        signed_v0 = VersionedTransaction.from_bytes(raw)
        assert signed_v0.signatures[0].verify(address, bytes(to_bytes_versioned(signed_v0.message)))


def test_the_validator_refuses_before_anything_is_signed(wallets: PrivyWallets) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    stranger = Keypair().pubkey()
    with pytest.raises(TransactionRefusedError, match=str(stranger)):
        wallets.sign_transaction("user-1", _self_transfer(address, to=stranger))


def test_signs_eip712_typed_data_that_recovers_to_the_evm_wallet(wallets: PrivyWallets) -> None:
    evm_address = wallets.wallets_for("user-1").evm_address
    agent = Account.create().address
    typed_data = {  # Hyperliquid's approveAgent, as its SDK builds it
        "domain": {"name": "HyperliquidSignTransaction", "version": "1", "chainId": 421614,
                   "verifyingContract": "0x0000000000000000000000000000000000000000"},
        "types": {
            "HyperliquidTransaction:ApproveAgent": [
                {"name": "hyperliquidChain", "type": "string"}, {"name": "agentAddress", "type": "address"},
                {"name": "agentName", "type": "string"}, {"name": "nonce", "type": "uint64"}],
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
        },
        "primaryType": "HyperliquidTransaction:ApproveAgent",
        "message": {"hyperliquidChain": "Testnet", "agentAddress": agent, "agentName": "dnbot",
                    "nonce": 1764050000000, "signatureChainId": "0x66eee", "type": "approveAgent"},
    }
    signature = wallets.sign_typed_data("user-1", typed_data)
    assert Account.recover_message(encode_typed_data(full_message=typed_data), signature=signature) \
        == evm_address


def test_a_request_signed_by_another_key_is_refused(client: PrivyClient, directory: InMemoryWalletDirectory,
                                                    wallets: PrivyWallets) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    impostor = PrivyWallets(client, LocalAuthorizationSigner.generate(),
                            LocalAuthorizationSigner.generate().public_key_base64(), directory)
    with pytest.raises(VenueRejected, match="No valid authorization signatures"):
        impostor.sign_transaction("user-1", _self_transfer(address))
    record = wallets.wallet_record("user-1")
    with pytest.raises(AuthenticationError) as unsigned:  # no signature at all
        client.wallets.solana.sign_transaction(record.solana_wallet_id, _self_transfer(address))
    assert unsigned.value.body == {"error": "Missing privy-authorization-signature header.",
                                   "code": "missing_authorization_signature"}


def test_wrong_app_secret_is_refused(registered: RunningPrivySim) -> None:
    with PrivyClient(app_id=APP_ID, app_secret="wrong", base_url=f"{registered.base_url}/privy") as bad, \
            pytest.raises(AuthenticationError):
        bad.wallets.create(chain_type="solana")


def test_idempotency_key_replays_the_same_answer_and_refuses_a_different_body(
        client: PrivyClient, kms_signer: KmsAuthorizationSigner, wallets: PrivyWallets) -> None:
    owner = {"public_key": kms_signer.public_key_base64()}
    first = client.wallets.create(chain_type="solana", owner=owner, idempotency_key="idem-create-1")
    again = client.wallets.create(chain_type="solana", owner=owner, idempotency_key="idem-create-1")
    assert again.id == first.id and again.address == first.address
    with pytest.raises(BadRequestError, match="different request"):
        client.wallets.create(chain_type="ethereum", owner=owner, idempotency_key="idem-create-1")
    # The same on a signed RPC: same key + same transaction -> same signed transaction.
    record = wallets.wallet_record("user-1")
    options = PrivyRequestOptions(
        authorization_context=AuthorizationContext(signers=[privy_signer_function(kms_signer)]))
    tx = _self_transfer(Pubkey.from_string(record.solana_address))
    one = client.wallets.solana.sign_transaction(record.solana_wallet_id, tx, idempotency_key="idem-rpc-1",
                                                 request_options=options)
    two = client.wallets.solana.sign_transaction(record.solana_wallet_id, tx, idempotency_key="idem-rpc-1",
                                                 request_options=options)
    assert one.signed_transaction == two.signed_transaction
    with pytest.raises(BadRequestError):
        client.wallets.solana.sign_transaction(record.solana_wallet_id,
                                               _self_transfer(Pubkey.from_string(record.solana_address)),
                                               idempotency_key="idem-rpc-1", request_options=options)


def test_a_lost_create_response_does_not_create_a_second_wallet(wallets: PrivyWallets,
                                                                registered: RunningPrivySim) -> None:
    registered.world.faults.inject(Fault(VENUE_PRIVY, "create_wallet", FaultKind.LOSE_RESPONSE, times=1))
    before = _wallet_count(registered)
    user = wallets.wallets_for("user-lost-response")  # privy-client retries the 504 with the same key
    assert _wallet_count(registered) == before + 2  # one Solana, one Ethereum: no duplicate
    assert user.solana_address and user.evm_address


def test_an_injected_rejection_surfaces_as_venue_rejected(wallets: PrivyWallets,
                                                          registered: RunningPrivySim) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    registered.world.faults.inject(Fault(VENUE_PRIVY, "signTransaction", FaultKind.REJECT, times=1,
                                         message="policy violation"))
    with pytest.raises(VenueRejected, match="policy violation"):
        wallets.sign_transaction("user-1", _self_transfer(address))



def test_signs_the_arbitrum_bridge_deposit_and_refuses_anything_else(wallets: PrivyWallets) -> None:
    evm_address = wallets.wallets_for("user-1").evm_address
    signer = PrivyEvmTransactionSigner(wallets)

    def usdc_transfer(recipient: str, usdc_units: int) -> dict[str, Any]:
        data = "0xa9059cbb" + encode(["address", "uint256"], [recipient, usdc_units]).hex()
        return {"chainId": 42161, "nonce": 7, "from": evm_address, "to": to_checksum_address(ARBITRUM_USDC),
                "value": 0, "data": data, "gas": 120_000, "maxFeePerGas": 20_000_000,
                "maxPriorityFeePerGas": 0, "type": 2}

    deposit = usdc_transfer(to_checksum_address(HYPERLIQUID_BRIDGE), 25_000_000)
    raw = signer.sign_transaction("user-1", deposit)
    assert Account.recover_transaction(raw) == evm_address
    with pytest.raises(TransactionRefusedError, match="not to Hyperliquid's bridge"):
        signer.sign_transaction("user-1", usdc_transfer(Account.create().address, 25_000_000))


def test_server_errors_past_the_sdk_retries_are_transient(wallets: PrivyWallets,
                                                          registered: RunningPrivySim) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    # privy-client retries a 5xx twice with the same idempotency key; three faults outlast it.
    registered.world.faults.inject(Fault(VENUE_PRIVY, "signTransaction", FaultKind.SERVER_ERROR, times=3))
    with pytest.raises(TransientVenueError, match="500"):
        wallets.sign_transaction("user-1", _self_transfer(address))
    assert wallets.sign_transaction("user-1", _self_transfer(address))  # and then it works again


def test_an_expired_request_is_refused_even_when_signed(wallets: PrivyWallets, kms_signer: KmsAuthorizationSigner,
                                                        registered: RunningPrivySim) -> None:
    record = wallets.wallet_record("user-1")
    url = f"{registered.base_url}/privy/v1/wallets/{record.solana_wallet_id}/rpc"
    body = {"method": "signTransaction", "chain_type": "solana",
            "params": {"transaction": _self_transfer(Pubkey.from_string(record.solana_address)),
                       "encoding": "base64"}}
    expired = int(time.time() * 1000) - 60_000
    prepared = prepare_request(app_id=APP_ID, method="POST", url=url, body=body, request_expiry=expired,
                               authorization_context=AuthorizationContext(
                                   signers=[privy_signer_function(kms_signer)]))
    answer = httpx.post(url, json=body, auth=(APP_ID, APP_SECRET),
                        headers={"privy-app-id": APP_ID, **prepared.headers})
    assert answer.status_code == 400 and answer.json()["code"] == "request_expired"
    # The same request, not expired, passes: the refusal above was the expiry, not the signature.
    fresh = prepare_request(app_id=APP_ID, method="POST", url=url, body=body,
                            request_expiry=int(time.time() * 1000) + 60_000,
                            authorization_context=AuthorizationContext(signers=[privy_signer_function(kms_signer)]))
    answer = httpx.post(url, json=body, auth=(APP_ID, APP_SECRET), headers={"privy-app-id": APP_ID, **fresh.headers})
    assert answer.status_code == 200, answer.text
    # A header naming another app than the credentials is refused.
    answer = httpx.post(url, json=body, auth=(APP_ID, APP_SECRET), headers={"privy-app-id": "other", **fresh.headers})
    assert answer.status_code == 401


def test_wallets_of_another_app_are_invisible(registered: RunningPrivySim, wallets: PrivyWallets) -> None:
    record = wallets.wallet_record("user-1")
    other_app = {"app_id": "cm-other-app", "app_secret": "other-secret"}
    assert httpx.post(f"{registered.base_url}/sim/privy/apps", json=other_app).status_code == 200
    with PrivyClient(app_id="cm-other-app", app_secret="other-secret",
                     base_url=f"{registered.base_url}/privy") as other:
        with pytest.raises(NotFoundError):
            other.wallets.get(record.solana_wallet_id)
        # An app without an authorization key gets wallets that need no signature (as Privy does).
        unowned = other.wallets.create(chain_type="solana")
        assert unowned.owner_id is None
        signed = other.wallets.solana.sign_transaction(unowned.id, _self_transfer(Pubkey.from_string(unowned.address)))
        assert VersionedTransaction.from_bytes(base64.b64decode(signed.signed_transaction)).signatures[0].verify(
            Pubkey.from_string(unowned.address),
            bytes(to_bytes_versioned(VersionedTransaction.from_bytes(
                base64.b64decode(signed.signed_transaction)).message)))


def test_a_malformed_authorization_key_is_refused_at_registration(registered: RunningPrivySim) -> None:
    answer = httpx.post(f"{registered.base_url}/sim/privy/apps", json={
        "app_id": "cm-bad", "app_secret": "s", "authorization_public_key": "bm90IGEga2V5"})
    assert answer.status_code == 400


def test_a_lost_directory_entry_finds_the_same_wallets_after_the_idempotency_window(
        client: PrivyClient, kms_signer: KmsAuthorizationSigner, registered: RunningPrivySim) -> None:
    first = PrivyWallets(client, kms_signer, kms_signer.public_key_base64(), InMemoryWalletDirectory())
    user = first.wallets_for("user-forgotten")
    before = _wallet_count(registered)
    assert httpx.delete(f"{registered.base_url}/sim/privy/idempotency").status_code == 200
    # A new directory (the record was never written) and no idempotency key left: found by external id.
    again = PrivyWallets(client, kms_signer, kms_signer.public_key_base64(), InMemoryWalletDirectory())
    assert again.wallets_for("user-forgotten") == user
    assert _wallet_count(registered) == before


def test_policy_for_widens_what_may_be_signed(client: PrivyClient, kms_signer: KmsAuthorizationSigner,
                                              directory: InMemoryWalletDirectory, wallets: PrivyWallets) -> None:
    address = Pubkey.from_string(wallets.wallets_for("user-1").solana_address)
    partner = Keypair().pubkey()
    widened = PrivyWallets(client, kms_signer, kms_signer.public_key_base64(), directory,
                           policy_for=lambda _user, wallet: SigningPolicy.for_wallet(wallet,
                                                                                     extra_recipients=[partner]))
    assert widened.sign_transaction("user-1", _self_transfer(address, to=partner))
    with pytest.raises(TransactionRefusedError):
        wallets.sign_transaction("user-1", _self_transfer(address, to=partner))


def test_create_venue_mounts_at_privy_with_its_control_router() -> None:
    pytest.importorskip("dnbot.sim.venue")  # engineer HL's SimVenue
    app = privy_sim.SimPrivyApp(APP_ID, APP_SECRET, LocalAuthorizationSigner.generate().public_key_base64())
    venue = privy_sim.create_venue(SimWorld.create(), apps=[app])
    assert venue.prefix == "/privy" and venue.control is not None
    paths = {getattr(route, "path", "") for route in venue.control.routes}
    assert {"/apps", "/wallets", "/idempotency"} <= paths


def test_login_tokens_from_the_sim_verify_by_jwks_and_by_pem(registered: RunningPrivySim,
                                                             client: PrivyClient) -> None:
    base = registered.base_url
    tokens = httpx.post(f"{base}/sim/privy/login", json={"app_id": APP_ID, "email": "Dana@Example.com"}).json()
    assert tokens["user_id"].startswith("did:privy:")
    # JWKS over HTTP (PyJWKClient's own fetch), the email from GET /v1/users/{did} through privy-client.
    by_jwks = PrivyAccessTokenVerifier(APP_ID, jwks_url=f"{base}/privy/api/v1/apps/{APP_ID}/jwks.json",
                                       email_lookup=privy_users_email_lookup(client))
    verified = by_jwks.verify(tokens["access_token"])
    assert (verified.subject, verified.email) == (tokens["user_id"], "dana@example.com")
    assert verified.token_id and verified.token_id.startswith(tokens["user_id"])  # exchanged once, by sid/iat
    pem = httpx.get(f"{base}/sim/privy/apps/{APP_ID}/verification_key").text
    by_pem = PrivyAccessTokenVerifier(APP_ID, verification_key=pem)
    assert by_pem.verify_identity_token(tokens["identity_token"]).email == "dana@example.com"
    # The same email logs in as the same user; another app's verifier refuses these tokens.
    again = httpx.post(f"{base}/sim/privy/login", json={"app_id": APP_ID, "email": "dana@example.com"}).json()
    assert again["user_id"] == tokens["user_id"]
    with pytest.raises(LoginRejected):
        PrivyAccessTokenVerifier("cm-other-app", verification_key=pem).verify_identity_token(
            tokens["identity_token"])
    assert httpx.post(f"{base}/sim/privy/login", json={"app_id": "nope", "email": "x@y.z"}).status_code == 404


def test_an_asgard_transaction_signed_through_privy_is_accepted_by_the_asgard_sim(
        wallets: PrivyWallets, registered: RunningPrivySim) -> None:
    address = wallets.wallets_for("user-asgard").solana_address
    ledger_for(registered.world).fund(address, sol=Decimal("0.1"), usdc=Decimal(500))
    asgard = TestClient(asgard_sim.build_app(registered.world))  # the same world as the Privy sim
    key = {"X-API-Key": "test"}
    sources = asgard.get("/markets", headers=key).json()["strategies"]["SOL/USDC"]["liquiditySources"]
    kamino = next(s for s in sources if s["lendingProtocol"] == 1)
    built = asgard.post("/create-position", headers=key, json={
        "protocol": 1, "tokenABank": kamino["tokenABank"], "tokenBBank": kamino["tokenBBank"], "direction": 0,
        "collateralType": 1, "collateralAmountNative": 100_000_000, "collateralMint": USDC.mint,
        "collateralUnitPrice": 1, "leverage": 3.0, "jitoTipLamport": 10_000, "slippageBps": 50,
        "walletPubkey": address, "useDirectRoute": False}).json()
    signed = wallets.sign_transaction("user-asgard", built["signedTxs"][0])
    submitted = asgard.post("/submit-create-position-tx", headers=key, json={**built, "signedTxs": [signed]})
    assert submitted.status_code == 200, submitted.text
    assert ledger_for(registered.world).token_ui(address, USDC.mint) == Decimal(400)

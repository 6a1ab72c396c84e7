"""KMS on moto: the P-256 authorization signer and the envelope-encryption vault."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws
from privy.lib.authorization import AuthorizationContext, prepare_request

from dnbot.adapters.aws.kms import (
    AGENT_KEY_PURPOSE,
    InMemoryBlobStore,
    KmsAuthorizationSigner,
    KmsEnvelopeVault,
    VaultError,
)
from dnbot.adapters.privy.authorization import (
    LocalAuthorizationSigner,
    canonical_request,
    privy_signer_function,
    public_key_from_base64,
    verify_signature,
)
from dnbot.ports import AgentKeyVault, AuthorizationSigner

AGENT_KEY_HEX = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


@pytest.fixture
def kms() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


@pytest.fixture
def signer(kms: Any) -> KmsAuthorizationSigner:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/dnbot-privy-authorization", TargetKeyId=key_id)
    return KmsAuthorizationSigner(kms, "alias/dnbot-privy-authorization")


@pytest.fixture
def blobs() -> InMemoryBlobStore:
    return InMemoryBlobStore()


@pytest.fixture
def vault(kms: Any, blobs: InMemoryBlobStore) -> KmsEnvelopeVault:
    key_id = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/dnbot-envelope", TargetKeyId=key_id)
    return KmsEnvelopeVault(kms, "alias/dnbot-envelope", blobs)


def test_kms_signature_verifies_with_the_public_key_from_get_public_key(signer: KmsAuthorizationSigner,
                                                                          kms: Any) -> None:
    payload = canonical_request("POST", "https://api.privy.io/v1/wallets/w1/rpc",
                                {"method": "signTransaction"}, {"privy-app-id": "app"})
    der = signer.sign(payload)
    public = serialization.load_der_public_key(kms.get_public_key(KeyId="alias/dnbot-privy-authorization")
                                               ["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1)
    public.verify(der, payload, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature if wrong
    assert not verify_signature(public, payload + b" ", base64.b64encode(der).decode())
    assert public_key_from_base64(signer.public_key_base64()).public_numbers() == public.public_numbers()


def test_kms_signer_plugs_into_privy_client_authorization_context(signer: KmsAuthorizationSigner) -> None:
    prepared = prepare_request(app_id="app", method="POST", url="https://api.privy.io/v1/wallets/w1/rpc",
                               body={"method": "eth_signTypedData_v4"}, idempotency_key="k1",
                               authorization_context=AuthorizationContext(signers=[privy_signer_function(signer)]))
    payload = canonical_request("POST", "https://api.privy.io/v1/wallets/w1/rpc",
                                {"method": "eth_signTypedData_v4"},
                                {"privy-app-id": "app", "privy-idempotency-key": "k1"})
    assert verify_signature(signer.public_key(), payload, prepared.headers["privy-authorization-signature"])


def test_kms_signer_refuses_payloads_over_the_raw_limit(signer: KmsAuthorizationSigner) -> None:
    with pytest.raises(ValueError, match="4096"):
        signer.sign(b"x" * 4097)


def test_kms_signer_refuses_a_key_that_is_not_p256(kms: Any) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    with pytest.raises(ValueError, match="ECC_NIST_P256"):
        KmsAuthorizationSigner(kms, key_id).public_key()


def test_envelope_vault_round_trips_and_stores_no_plaintext(vault: KmsEnvelopeVault,
                                                           blobs: InMemoryBlobStore) -> None:
    vault.store("user-1", AGENT_KEY_HEX)
    assert vault.load("user-1") == AGENT_KEY_HEX
    item = blobs.get_blob(f"{AGENT_KEY_PURPOSE}#user-1")
    assert item is not None
    stored = repr(item)
    assert AGENT_KEY_HEX[2:] not in stored and AGENT_KEY_HEX[2:].encode().hex() not in stored
    assert set(item) == {"version", "ciphertext", "encrypted_data_key", "nonce", "purpose"}
    assert len(base64.b64decode(item["nonce"])) == 12
    # A second store uses a fresh data key and nonce.
    vault.store("user-1", AGENT_KEY_HEX)
    again = blobs.get_blob(f"{AGENT_KEY_PURPOSE}#user-1")
    assert again is not None and again["nonce"] != item["nonce"] and again["ciphertext"] != item["ciphertext"]
    assert vault.load("user-1") == AGENT_KEY_HEX


def test_envelope_vault_refuses_a_wrong_context(vault: KmsEnvelopeVault) -> None:
    blob = vault.encrypt("user-1", "hyperliquid-agent-key", b"secret")
    assert vault.decrypt("user-1", "hyperliquid-agent-key", blob) == b"secret"
    with pytest.raises(VaultError):
        vault.decrypt("user-2", "hyperliquid-agent-key", blob)
    with pytest.raises(VaultError):
        vault.decrypt("user-1", "another-purpose", blob)


def test_envelope_vault_refuses_a_blob_moved_to_another_user_or_tampered(vault: KmsEnvelopeVault,
                                                                        blobs: InMemoryBlobStore) -> None:
    vault.store("alice", AGENT_KEY_HEX)
    alice = blobs.get_blob(f"{AGENT_KEY_PURPOSE}#alice")
    assert alice is not None
    blobs.put_blob(f"{AGENT_KEY_PURPOSE}#mallory", alice)
    with pytest.raises(VaultError):
        vault.load("mallory")
    tampered = dict(alice)
    raw = bytearray(base64.b64decode(tampered["ciphertext"]))
    raw[0] ^= 1
    tampered["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    blobs.put_blob(f"{AGENT_KEY_PURPOSE}#alice", tampered)
    with pytest.raises(VaultError):
        vault.load("alice")
    with pytest.raises(VaultError, match="no agent key"):
        vault.load("nobody")


def test_envelope_vault_refuses_a_data_key_from_another_kms_key(kms: Any, vault: KmsEnvelopeVault) -> None:
    other_key = kms.create_key()["KeyMetadata"]["KeyId"]
    other = KmsEnvelopeVault(kms, other_key, InMemoryBlobStore())
    blob = other.encrypt("user-1", AGENT_KEY_PURPOSE, b"secret")
    # AWS answers IncorrectKeyException (-> VaultError); moto answers AccessDeniedException (passed through).
    with pytest.raises((VaultError, ClientError)):
        vault.decrypt("user-1", AGENT_KEY_PURPOSE, blob)


def test_a_malformed_blob_is_a_vault_error(vault: KmsEnvelopeVault, blobs: InMemoryBlobStore) -> None:
    blobs.put_blob(f"{AGENT_KEY_PURPOSE}#user-9", {"version": "1", "ciphertext": "!!"})
    with pytest.raises(VaultError, match="malformed"):
        vault.load("user-9")
    blobs.put_blob(f"{AGENT_KEY_PURPOSE}#user-9", {"version": "2"})
    with pytest.raises(VaultError, match="version"):
        vault.load("user-9")


def test_the_vault_and_signers_satisfy_their_ports(vault: KmsEnvelopeVault, signer: KmsAuthorizationSigner) -> None:
    vaults: list[AgentKeyVault] = [vault]  # mypy checks the structural match
    signers: list[AuthorizationSigner] = [signer, LocalAuthorizationSigner.generate()]
    vaults[0].store("user-port", AGENT_KEY_HEX)
    assert vaults[0].load("user-port") == AGENT_KEY_HEX
    assert all(s.sign(b"x")[0] == 0x30 for s in signers)  # DER SEQUENCE

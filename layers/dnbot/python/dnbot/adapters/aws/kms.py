"""KMS: the Privy authorization signer (P-256, the private half never leaves KMS) and the envelope vault.

Envelope encryption (AWS's pattern for data larger than or more numerous than KMS keys): KMS GenerateDataKey
returns a fresh AES-256 key in plaintext and encrypted under the KMS key; we encrypt locally with AES-256-GCM
and keep only the encrypted data key beside the ciphertext. The encryption context {user_id, purpose} is bound
twice: KMS refuses to decrypt the data key under any other context (and logs it in CloudTrail), and the
same context is the GCM associated data, so a blob copied onto another user's record fails locally too.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dnbot.adapters.privy.authorization import public_key_to_base64
from dnbot.ports import EncryptedBlobStore

# KMS Sign takes at most 4096 bytes with MessageType RAW. Privy request payloads are far smaller (a Solana
# transaction is at most 1232 bytes, ~1.7 kB in base64). Past the limit AWS would need MessageType DIGEST,
# which moto does not implement faithfully, so we refuse rather than ship an untested path.
KMS_RAW_MESSAGE_LIMIT = 4096

AGENT_KEY_PURPOSE = "hyperliquid-agent-key"
_BLOB_VERSION = "1"


class KmsAuthorizationSigner:
    """AuthorizationSigner on an ECC_NIST_P256 / SIGN_VERIFY KMS key: KMS Sign, ECDSA_SHA_256, RAW message.

    KMS returns the DER-encoded signature Privy expects (base64 of it goes in the header).
    """

    def __init__(self, kms_client: Any, key_id: str) -> None:
        self._kms = kms_client
        self._key_id = key_id
        self._public_key: ec.EllipticCurvePublicKey | None = None

    def sign(self, payload: bytes) -> bytes:
        if len(payload) > KMS_RAW_MESSAGE_LIMIT:
            raise ValueError(f"payload of {len(payload)} bytes is over KMS Sign's "
                             f"{KMS_RAW_MESSAGE_LIMIT}-byte RAW limit")
        response = self._kms.sign(KeyId=self._key_id, Message=payload, MessageType="RAW",
                                  SigningAlgorithm="ECDSA_SHA_256")
        return bytes(response["Signature"])

    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The key's public half (GetPublicKey), cached: it is what Privy registers as the wallets' owner."""
        if self._public_key is None:
            der = self._kms.get_public_key(KeyId=self._key_id)["PublicKey"]
            key = serialization.load_der_public_key(bytes(der))
            if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
                raise ValueError(f"KMS key {self._key_id} is not an ECC_NIST_P256 key")
            self._public_key = key
        return self._public_key

    def public_key_base64(self) -> str:
        return public_key_to_base64(self.public_key())


class VaultError(Exception):
    """The vault cannot produce the key: nothing stored, or the blob or its context does not authenticate."""


class InMemoryBlobStore:
    """EncryptedBlobStore in a dict: tests and single-process runs (production stores blobs in DynamoDB)."""

    def __init__(self) -> None:
        self._blobs: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def put_blob(self, key: str, blob: dict[str, str]) -> None:
        with self._lock:
            self._blobs[key] = dict(blob)

    def get_blob(self, key: str) -> dict[str, str] | None:
        with self._lock:
            blob = self._blobs.get(key)
            return dict(blob) if blob is not None else None


@dataclass(frozen=True, slots=True)
class EnvelopeBlob:
    """What is stored: no plaintext, no plaintext data key."""

    ciphertext: bytes  # AES-256-GCM output (ciphertext || 16-byte tag)
    encrypted_data_key: bytes  # KMS CiphertextBlob of the data key
    nonce: bytes  # 96-bit GCM nonce, fresh per encryption
    purpose: str

    def to_item(self) -> dict[str, str]:
        return {
            "version": _BLOB_VERSION,
            "ciphertext": base64.b64encode(self.ciphertext).decode("ascii"),
            "encrypted_data_key": base64.b64encode(self.encrypted_data_key).decode("ascii"),
            "nonce": base64.b64encode(self.nonce).decode("ascii"),
            "purpose": self.purpose,
        }

    @classmethod
    def from_item(cls, item: dict[str, str]) -> EnvelopeBlob:
        if item.get("version") != _BLOB_VERSION:
            raise VaultError(f"unknown envelope blob version {item.get('version')!r}")
        try:
            return cls(
                ciphertext=base64.b64decode(item["ciphertext"], validate=True),
                encrypted_data_key=base64.b64decode(item["encrypted_data_key"], validate=True),
                nonce=base64.b64decode(item["nonce"], validate=True),
                purpose=item["purpose"],
            )
        except (KeyError, ValueError) as error:
            raise VaultError(f"malformed envelope blob: {error!r}") from error


class KmsEnvelopeVault:
    """Envelope encryption of small secrets per user under one symmetric KMS key.

    `encrypt`/`decrypt` are the general operations (any purpose); `store`/`load` implement AgentKeyVault for
    the Hyperliquid agent wallet's private key (hex), with purpose AGENT_KEY_PURPOSE.
    """

    def __init__(self, kms_client: Any, key_id: str, blobs: EncryptedBlobStore,
                 agent_key_purpose: str = AGENT_KEY_PURPOSE) -> None:
        self._kms = kms_client
        self._key_id = key_id
        self._blobs = blobs
        self._agent_purpose = agent_key_purpose

    @staticmethod
    def _context(user_id: str, purpose: str) -> dict[str, str]:
        return {"user_id": user_id, "purpose": purpose}

    @staticmethod
    def _aad(context: dict[str, str]) -> bytes:
        return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()

    def encrypt(self, user_id: str, purpose: str, plaintext: bytes) -> EnvelopeBlob:
        context = self._context(user_id, purpose)
        data_key = self._kms.generate_data_key(KeyId=self._key_id, KeySpec="AES_256",
                                               EncryptionContext=context)
        key = bytes(data_key["Plaintext"])
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, self._aad(context))
        return EnvelopeBlob(ciphertext=ciphertext, encrypted_data_key=bytes(data_key["CiphertextBlob"]),
                            nonce=nonce, purpose=purpose)

    def decrypt(self, user_id: str, purpose: str, blob: EnvelopeBlob) -> bytes:
        context = self._context(user_id, purpose)
        try:
            # KeyId pins the key: a blob whose data key was wrapped by another KMS key is refused.
            key = bytes(self._kms.decrypt(CiphertextBlob=blob.encrypted_data_key, KeyId=self._key_id,
                                          EncryptionContext=context)["Plaintext"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise VaultError(f"KMS refused the data key for user {user_id!r}, "
                                 f"purpose {purpose!r}: {code}") from error
            raise
        try:
            return AESGCM(key).decrypt(blob.nonce, blob.ciphertext, self._aad(context))
        except InvalidTag as error:
            raise VaultError(f"the blob for user {user_id!r}, purpose {purpose!r} "
                             "does not authenticate") from error

    # AgentKeyVault

    def _blob_key(self, user_id: str) -> str:
        return f"{self._agent_purpose}#{user_id}"

    def store(self, user_id: str, key_hex: str) -> None:
        blob = self.encrypt(user_id, self._agent_purpose, key_hex.encode("ascii"))
        self._blobs.put_blob(self._blob_key(user_id), blob.to_item())

    def has(self, user_id: str) -> bool:
        return self._blobs.get_blob(self._blob_key(user_id)) is not None

    def load(self, user_id: str) -> str:
        item = self._blobs.get_blob(self._blob_key(user_id))
        if item is None:
            raise VaultError(f"no agent key stored for user {user_id!r}")
        return self.decrypt(user_id, self._agent_purpose, EnvelopeBlob.from_item(item)).decode("ascii")

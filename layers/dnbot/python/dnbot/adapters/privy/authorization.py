"""Privy authorization signatures: the canonical request, P-256 signers, verification.

Privy (docs: "Authorization signatures", direct implementation) signs the RFC 8785 canonical JSON of
`{version: 1, method, url, body, headers}` where `headers` holds only the `privy-*` request headers
(`privy-app-id`, and `privy-idempotency-key` / `privy-request-expiry` when the request carries them), with
ECDSA P-256 over SHA-256, and sends the base64 DER signature in `privy-authorization-signature`
(comma separated when several keys sign).

privy-client (privy/lib/authorization.py) builds the payload itself and hands the bytes to our signer
functions (`AuthorizationContext(signers=[fn])`, fn(payload) -> base64 signature); we follow its rules
exactly: an empty body ({} or []) is signed as "", the URL has no trailing slash, and it canonicalizes with
`canonicaljson`. For the JSON the wallet API carries (strings, integers, objects, arrays) that output is
byte-for-byte RFC 8785; tests/contract/privy pins both to the same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dnbot.ports import AuthorizationSigner

SIGNATURE_HEADER = "privy-authorization-signature"
APP_ID_HEADER = "privy-app-id"
IDEMPOTENCY_HEADER = "privy-idempotency-key"
EXPIRY_HEADER = "privy-request-expiry"
# The privy-* headers a signature covers; anything else (auth, content-type, tracing) is not signed.
SIGNED_HEADERS = (APP_ID_HEADER, IDEMPOTENCY_HEADER, EXPIRY_HEADER)


def canonical_request(method: str, url: str, body: Any, headers: Mapping[str, str]) -> bytes:
    """The exact bytes an authorization signature covers (RFC 8785 canonical JSON, UTF-8)."""
    if APP_ID_HEADER not in headers:
        raise ValueError("the signed headers must include privy-app-id")
    if url.endswith("/"):
        raise ValueError("the signed URL must not end with a slash")
    if (isinstance(body, Mapping | list | tuple)) and not body:
        body = ""  # privy-client signs an empty body as "" (format_request_for_authorization_signature)
    payload = {
        "version": 1,
        "method": method.upper(),
        "url": url,
        "body": body,
        "headers": {k: v for k, v in headers.items() if k in SIGNED_HEADERS},
    }
    return rfc8785.dumps(payload)


def signed_headers_of(request_headers: Mapping[str, str]) -> dict[str, str]:
    """The privy-* headers of an incoming request that its authorization signature covers."""
    lowered = {k.lower(): v for k, v in request_headers.items()}
    return {name: lowered[name] for name in SIGNED_HEADERS if name in lowered}


def public_key_from_base64(public_key: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key as Privy shows it (base64 DER SPKI, maybe prefixed `wallet-auth:`) or PEM."""
    text = public_key.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode(text.removeprefix("wallet-auth:")))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("an authorization key must be a P-256 public key")
    return key


def public_key_to_base64(key: ec.EllipticCurvePublicKey) -> str:
    """Base64 DER SubjectPublicKeyInfo: the form Privy takes for a wallet owner's `public_key`."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def verify_signature(public_key: ec.EllipticCurvePublicKey, payload: bytes, signature_b64: str) -> bool:
    """True if `signature_b64` (base64 DER) is this key's ECDSA P-256/SHA-256 signature over `payload`."""
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
        public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class LocalAuthorizationSigner:
    """AuthorizationSigner holding the private key in process: `dnbot local` and tests (AWS uses KMS)."""

    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> LocalAuthorizationSigner:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> LocalAuthorizationSigner:
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("an authorization key must be a P-256 private key")
        return cls(key)

    @classmethod
    def from_privy_private_key(cls, private_key: str) -> LocalAuthorizationSigner:
        """The dashboard's form: base64 PKCS#8 DER, optionally prefixed `wallet-auth:`."""
        der = base64.b64decode(private_key.strip().removeprefix("wallet-auth:"))
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("an authorization key must be a P-256 private key")
        return cls(key)

    def sign(self, payload: bytes) -> bytes:
        return self.private_key.sign(payload, ec.ECDSA(hashes.SHA256()))

    def public_key_base64(self) -> str:
        return public_key_to_base64(self.private_key.public_key())


def privy_signer_function(signer: AuthorizationSigner) -> Callable[[bytes], str]:
    """Adapts our port to privy-client's `AuthorizationContext(signers=[fn])`: fn(payload) -> base64 DER."""

    def sign(payload: bytes) -> str:
        return base64.b64encode(signer.sign(payload)).decode("ascii")

    return sign

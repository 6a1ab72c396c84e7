"""Golden test of the Privy authorization signature: canonical bytes pinned, signatures verified.

ECDSA P-256 is randomized here (neither privy-client nor KMS uses RFC 6979), so the test pins the exact canonical
payload and checks that each signature verifies with the public key, rather than pinning signature bytes.
"""

from __future__ import annotations

import base64
import string

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from privy.lib.authorization import (
    AuthorizationContext,
    WalletAPIRequestSignatureInput,
    format_request_for_authorization_signature,
    prepare_request,
)

from dnbot.adapters.privy.authorization import (
    LocalAuthorizationSigner,
    canonical_request,
    privy_signer_function,
    public_key_from_base64,
    signed_headers_of,
    verify_signature,
)

# A fixed P-256 key (private scalar chosen for the test, never used anywhere else).
FIXED_KEY = ec.derive_private_key(0x5EC2E70DD1B0700000000000000000000000000000000000000000000000001, ec.SECP256R1())
URL = "https://api.privy.io/v1/wallets/cm4ksi3gd00cwm5xqm5n5bcme/rpc"
BODY = {
    "method": "signTransaction",
    "chain_type": "solana",
    "params": {"transaction": "AQABAg==", "encoding": "base64"},
    "address": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
}
HEADERS = {"privy-app-id": "cm4kre2gy00kgb8m1yp6u1dm2", "privy-idempotency-key": "dnbot-0123456789abcdef"}
GOLDEN = (
    b'{"body":{"address":"9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin","chain_type":"solana",'
    b'"method":"signTransaction","params":{"encoding":"base64","transaction":"AQABAg=="}},'
    b'"headers":{"privy-app-id":"cm4kre2gy00kgb8m1yp6u1dm2","privy-idempotency-key":"dnbot-0123456789abcdef"},'
    b'"method":"POST","url":"https://api.privy.io/v1/wallets/cm4ksi3gd00cwm5xqm5n5bcme/rpc","version":1}'
)


def test_canonical_request_is_pinned() -> None:
    assert canonical_request("post", URL, BODY, HEADERS) == GOLDEN


def test_privy_client_formats_the_same_bytes() -> None:
    sdk = format_request_for_authorization_signature(
        WalletAPIRequestSignatureInput(method="POST", url=URL, body=BODY, headers=HEADERS))
    assert sdk == GOLDEN


def test_signature_from_the_sdk_path_verifies_against_the_public_key() -> None:
    signer = LocalAuthorizationSigner(FIXED_KEY)
    seen: list[bytes] = []
    sign = privy_signer_function(signer)

    def recording_signer(payload: bytes) -> str:
        seen.append(payload)
        return sign(payload)

    prepared = prepare_request(app_id=HEADERS["privy-app-id"], method="POST", url=URL, body=BODY,
                               idempotency_key=HEADERS["privy-idempotency-key"],
                               authorization_context=AuthorizationContext(signers=[recording_signer]))
    assert seen == [GOLDEN]
    header = prepared.headers["privy-authorization-signature"]
    public_key = public_key_from_base64(signer.public_key_base64())
    assert verify_signature(public_key, GOLDEN, header)
    # DER, not raw r||s: a P-256 DER signature is a SEQUENCE of 70-72 bytes.
    der = base64.b64decode(header)
    assert der[0] == 0x30 and 68 <= len(der) <= 72
    FIXED_KEY.public_key().verify(der, GOLDEN, ec.ECDSA(hashes.SHA256()))


def test_a_signature_does_not_verify_for_another_request_or_key() -> None:
    signer = LocalAuthorizationSigner(FIXED_KEY)
    signature = base64.b64encode(signer.sign(GOLDEN)).decode()
    other_body = dict(BODY, address="11111111111111111111111111111111")
    assert not verify_signature(FIXED_KEY.public_key(), canonical_request("POST", URL, other_body, HEADERS),
                                signature)
    other = LocalAuthorizationSigner.generate()
    assert not verify_signature(other.private_key.public_key(), GOLDEN, signature)
    assert not verify_signature(FIXED_KEY.public_key(), GOLDEN, "not base64!")


def test_signed_headers_are_only_the_privy_ones_and_empty_body_is_empty_string() -> None:
    headers = signed_headers_of({"Privy-App-Id": "app", "Authorization": "Basic x", "Content-Type": "json",
                                 "privy-request-expiry": "1700000000000"})
    assert headers == {"privy-app-id": "app", "privy-request-expiry": "1700000000000"}
    assert canonical_request("PATCH", "https://api.privy.io/v1/wallets/w", {}, headers) == (
        b'{"body":"","headers":{"privy-app-id":"app","privy-request-expiry":"1700000000000"},'
        b'"method":"PATCH","url":"https://api.privy.io/v1/wallets/w","version":1}')
    with pytest.raises(ValueError):
        canonical_request("POST", URL + "/", BODY, HEADERS)
    with pytest.raises(ValueError):
        canonical_request("POST", URL, BODY, {"privy-idempotency-key": "k"})


def test_privy_key_formats_round_trip() -> None:
    signer = LocalAuthorizationSigner(FIXED_KEY)
    spki = signer.public_key_base64()
    assert public_key_from_base64("wallet-auth:" + spki).public_numbers() == FIXED_KEY.public_key().public_numbers()
    with pytest.raises(ValueError):
        p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
        der = p384.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        public_key_from_base64(base64.b64encode(der).decode())


json_scalars = (st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
                | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | st.booleans() | st.none())
json_values = st.recursive(json_scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(string.printable, max_size=8), children, max_size=4),
                           max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(body=json_values)
def test_rfc8785_and_the_sdk_canonicalization_agree_on_wallet_api_json(body: object) -> None:
    """privy-client signs canonicaljson's bytes, Privy verifies RFC 8785's: they must be the same bytes."""
    sdk = format_request_for_authorization_signature(
        WalletAPIRequestSignatureInput(method="POST", url=URL, body=body, headers=HEADERS))
    assert canonical_request("POST", URL, body, HEADERS) == sdk

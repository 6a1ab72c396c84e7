"""Hyperliquid -> an Arbitrum address the user gave (never their own EVM wallet, the deposit address the sweep
empties back into Hyperliquid): `withdraw3`, a user-signed action (EIP-712, the SDK's withdraw
payload), signed by the user's Privy EVM wallet. The agent wallet that trades cannot sign it: Hyperliquid only
accepts the account's own signature for withdrawals. The bridge pays out on Arbitrum, less Hyperliquid's $1 fee."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.signing import WITHDRAW_SIGN_TYPES, user_signed_payload

from dnbot.adapters.hyperliquid.trading import signature_parts
from dnbot.ports import EvmTypedDataSigner, NonceSource, TransientVenueError, VenueRejected

WITHDRAW_FEE_USDC = Decimal(1)
EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class HyperliquidWithdrawals:
    """Implements TransferExecutor for withdrawals whose source is Hyperliquid."""

    def __init__(self, base_url: str, signer: Callable[[], EvmTypedDataSigner], address_of: Callable[[str], str],
                 nonces: NonceSource, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=15)
        self._mainnet = base_url.rstrip("/") == MAINNET_API_URL
        self._signer = signer
        self._address_of = address_of
        self._nonces = nonces

    def sign_transfer(self, user_id: str, asset: Any, amount: Decimal, to: str) -> str:
        if asset != "USDC" or not EVM_ADDRESS.fullmatch(to) or to.lower() == self._address_of(user_id).lower():
            # the account's own wallet is its deposit address: the sweep would send the USDC straight back
            raise VenueRejected("Hyperliquid withdrawals pay USDC to an Arbitrum address other than the account's")
        nonce = self._nonces.next_nonce(self._address_of(user_id).lower())  # the signer's nonces
        action = {"type": "withdraw3", "hyperliquidChain": "Mainnet" if self._mainnet else "Testnet",
                  "signatureChainId": "0x66eee", "destination": to, "amount": format(amount.normalize(), "f"),
                  "time": nonce}
        typed = user_signed_payload("HyperliquidTransaction:Withdraw", WITHDRAW_SIGN_TYPES, action)
        signature = signature_parts(self._signer().sign_typed_data(user_id, typed))
        return json.dumps({"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                           "expiresAfter": None})

    def send(self, signed: str) -> str:
        payload = json.loads(signed)
        reference = f"withdraw3:{payload['action']['destination'].lower()}:{payload['nonce']}"
        try:
            response = self._http.post("/exchange", json=payload)
        except httpx.HTTPError as error:
            raise TransientVenueError(f"Hyperliquid withdraw3: {error}") from error
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientVenueError(f"Hyperliquid withdraw3: HTTP {response.status_code}")
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if body.get("status") == "ok":
            return reference
        detail = str(body.get("response", response.text[:200]))
        if "duplicate nonce" in detail:  # this very signed request already landed (a resend after a lost answer)
            return reference
        raise VenueRejected(f"Hyperliquid refused the withdrawal: {detail}")

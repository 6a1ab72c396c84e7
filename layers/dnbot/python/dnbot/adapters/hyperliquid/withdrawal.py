"""Hyperliquid -> an Arbitrum address the user gave (never their own EVM wallet, the deposit address the sweep
empties back into Hyperliquid): `withdraw3`, a user-signed action (EIP-712, the SDK's withdraw
payload), signed by the user's Privy EVM wallet. The agent wallet that trades cannot sign it: Hyperliquid only
accepts the account's own signature for withdrawals. The bridge pays out on Arbitrum, less Hyperliquid's $1 fee.

HyperliquidMarginOut is the one exception to "never their own wallet": a bridge rebalance's margin out, to the
account's own address, under the rebalance's deterministic nonce."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.signing import WITHDRAW_SIGN_TYPES, user_signed_payload

from dnbot.adapters.hyperliquid.info import HyperliquidInfo
from dnbot.adapters.hyperliquid.trading import signature_parts
from dnbot.ports import EvmTypedDataSigner, NonceSource, TransientVenueError, VenueRejected

WITHDRAW_FEE_USDC = Decimal(1)
USDC_STEP = Decimal("0.000001")
LEDGER_SKEW_MS = 120_000  # a ledger entry is dated when processed, after its nonce (signing time): clocks
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
        return sign_withdraw3(self._signer(), user_id, to, amount, nonce, mainnet=self._mainnet)

    def send(self, signed: str) -> str:
        return send_withdraw3(self._http, signed)


def withdraw3_reference(destination: str, nonce: int) -> str:
    return f"withdraw3:{destination.lower()}:{nonce}"


def sign_withdraw3(signer: EvmTypedDataSigner, user_id: str, destination: str, amount: Decimal, nonce: int, *,
                   mainnet: bool) -> str:
    """The signed `withdraw3` request (JSON): `amount` USDC to `destination` under `nonce` (its `time`)."""
    action = {"type": "withdraw3", "hyperliquidChain": "Mainnet" if mainnet else "Testnet",
              "signatureChainId": "0x66eee", "destination": destination, "amount": format(amount.normalize(), "f"),
              "time": nonce}
    typed = user_signed_payload("HyperliquidTransaction:Withdraw", WITHDRAW_SIGN_TYPES, action)
    signature = signature_parts(signer.sign_typed_data(user_id, typed))
    return json.dumps({"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                       "expiresAfter": None})


def send_withdraw3(http: httpx.Client, signed: str) -> str:
    """Send a signed `withdraw3`; its reference. Hyperliquid's "duplicate nonce" answer to a resend of the very
    same signed request means the first one landed (its answer was lost): the same reference."""
    payload = json.loads(signed)
    reference = withdraw3_reference(payload["action"]["destination"], payload["nonce"])
    try:
        response = http.post("/exchange", json=payload)
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


class HyperliquidMarginOut:
    """Implements MarginOut: the short's spare margin to the account's OWN Arbitrum wallet, the first leg of a
    bridge rebalance after a fall (Hyperliquid -> Arbitrum wallet -> CCTP to Solana -> the long). Unlike
    HyperliquidWithdrawals (user withdrawals, which refuse that wallet because the deposit sweep would send the
    USDC straight back), the destination is always the account's own address; the bridge transfer the USDC is
    for must be planned BEFORE this withdrawal (the sweep then leaves it alone: services.deposits).

    Once per nonce: the caller gives a deterministic nonce (the rebalance's start in ms), so a retry signs the
    very same action. Before signing, Hyperliquid's ledger is asked for a `withdraw` entry carrying that nonce
    (landed: nothing is sent); a resend Hyperliquid answers "duplicate nonce" landed too. A nonce can be used
    once per signer, so a second withdrawal under it is impossible; outside Hyperliquid's window (2 days back,
    1 day ahead) it is refused, never paid twice."""

    def __init__(self, base_url: str, signer: Callable[[], EvmTypedDataSigner], address_of: Callable[[str], str],
                 info: HyperliquidInfo, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), transport=transport, timeout=15)
        self._mainnet = base_url.rstrip("/") == MAINNET_API_URL
        self._signer = signer
        self._address_of = address_of
        self._info = info

    def withdrawable_usd(self, user_id: str) -> Decimal:
        """What Hyperliquid lets the account withdraw now (its value less the margin its positions hold)."""
        return self._info.withdrawable_usd(self._address_of(user_id))

    def withdrawn_with_nonce(self, user_id: str, nonce: int) -> Decimal | None:
        """The USDC (after the fee) of the account's ledger `withdraw` entry under `nonce`; None if none is listed
        (not sent, or not listed yet: Hyperliquid lists a withdrawal once it is processed)."""
        rows = self._info.post({"type": "userNonFundingLedgerUpdates", "user": self._address_of(user_id),
                                "startTime": max(0, nonce - LEDGER_SKEW_MS)})
        for row in rows:
            delta = row.get("delta") or {}
            if delta.get("type") == "withdraw" and str(delta.get("nonce")) == str(nonce):
                return abs(Decimal(str(delta.get("usdc", "0"))))
        return None

    def withdraw_to_own_wallet(self, user_id: str, amount_usd: Decimal, nonce: int) -> str:
        if not amount_usd.is_finite() or amount_usd <= WITHDRAW_FEE_USDC or amount_usd != amount_usd.quantize(
                USDC_STEP):
            raise VenueRejected(f"a Hyperliquid withdrawal must exceed the {WITHDRAW_FEE_USDC} USDC fee in whole "
                                f"micro-USDC, not {amount_usd}")
        if nonce <= 0:
            raise VenueRejected(f"a Hyperliquid nonce is a positive time in ms, not {nonce}")
        own = self._address_of(user_id)
        if self.withdrawn_with_nonce(user_id, nonce) is not None:
            return withdraw3_reference(own, nonce)  # landed earlier: nothing is signed again
        return send_withdraw3(self._http, sign_withdraw3(self._signer(), user_id, own, amount_usd, nonce,
                                                         mainnet=self._mainnet))

"""Reads from a Solana JSON-RPC node: SOL, USDC and LST balances, the latest blockhash, signature status.

Requests and responses are solders' RPC types (the ones solana-py's client is built on), sent with a
synchronous httpx client because the ports are synchronous; solana-py 0.41 ships only an async client.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcTokenAccountsFilterMint
from solders.rpc.requests import (
    GetBalance,
    GetLatestBlockhash,
    GetSignatureStatuses,
    GetTokenAccountsByOwner,
)
from solders.rpc.responses import (
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetSignatureStatusesResp,
    GetTokenAccountsByOwnerResp,
    RPCError,
)
from solders.signature import Signature
from solders.token.state import TokenAccount
from solders.account_decoder import UiAccountEncoding

from dnbot.domain.assets import USDC, Asset
from dnbot.ports import TransientVenueError, VenueRejected

LAMPORTS_PER_SOL = Decimal(1_000_000_000)


@dataclass(frozen=True, slots=True)
class SignatureState:
    slot: int
    confirmation_status: str | None  # processed | confirmed | finalized
    error: str | None  # the transaction's error, None if it succeeded


class SolanaRpc:
    def __init__(self, url: str, transport: httpx.BaseTransport | None = None, timeout_seconds: float = 10.0) -> None:
        self._http = httpx.Client(transport=transport, timeout=timeout_seconds)
        self.url = url

    def close(self) -> None:
        self._http.close()

    def _post(self, body: str) -> str:
        try:
            response = self._http.post(self.url, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            raise TransientVenueError(f"Solana RPC unreachable: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientVenueError(f"Solana RPC answered {response.status_code}")
        if response.status_code >= 400:
            raise VenueRejected(f"Solana RPC answered {response.status_code}: {response.text[:200]}")
        return response.text

    @staticmethod
    def _value(parsed: Any) -> Any:
        if isinstance(parsed, RPCError) or not hasattr(parsed, "value"):
            raise TransientVenueError(f"Solana RPC error: {parsed}")
        return parsed.value

    def sol_balance(self, owner: str) -> Decimal:
        text = self._post(GetBalance(Pubkey.from_string(owner)).to_json())
        return Decimal(self._value(GetBalanceResp.from_json(text))) / LAMPORTS_PER_SOL

    def token_balance(self, owner: str, mint: str, decimals: int) -> Decimal:
        """Sum over the owner's token accounts of this mint (usually one: the associated account)."""
        request = GetTokenAccountsByOwner(Pubkey.from_string(owner), RpcTokenAccountsFilterMint(
            Pubkey.from_string(mint)), RpcAccountInfoConfig(encoding=UiAccountEncoding.Base64))
        accounts = self._value(GetTokenAccountsByOwnerResp.from_json(self._post(request.to_json())))
        raw = sum(TokenAccount.from_bytes(bytes(keyed.account.data)).amount for keyed in accounts)
        return Decimal(raw).scaleb(-decimals)

    def usdc_balance(self, owner: str) -> Decimal:
        return self.token_balance(owner, USDC.mint, USDC.decimals)

    def lst_balances(self, owner: str) -> dict[Asset, Decimal]:
        return {asset: self.token_balance(owner, asset.token.mint, asset.token.decimals)
                for asset in Asset if asset.is_lst}

    def latest_blockhash(self) -> tuple[str, int]:
        value = self._value(GetLatestBlockhashResp.from_json(self._post(GetLatestBlockhash().to_json())))
        return str(value.blockhash), int(value.last_valid_block_height)

    def signature_status(self, signature: str) -> SignatureState | None:
        request = GetSignatureStatuses([Signature.from_string(signature)])
        statuses = self._value(GetSignatureStatusesResp.from_json(self._post(request.to_json())))
        status = statuses[0] if statuses else None
        if status is None:
            return None
        confirmation = str(status.confirmation_status).split(".")[-1].lower() if status.confirmation_status else None
        return SignatureState(int(status.slot), confirmation, None if status.err is None else str(status.err))

"""Reads from a Solana JSON-RPC node: SOL, USDC and LST balances, the latest blockhash, signature status.

Requests and responses are solders' RPC types (the ones solana-py's client is built on), sent with a
synchronous httpx client because the ports are synchronous; solana-py 0.41 ships only an async client.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from solders.account_decoder import UiAccountEncoding
from solders.errors import SerdeJSONError
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.config import RpcAccountInfoConfig, RpcTokenAccountsFilterMint
from solders.rpc.requests import (
    GetAccountInfo,
    GetBalance,
    GetLatestBlockhash,
    GetSignatureStatuses,
    GetTokenAccountsByOwner,
    IsBlockhashValid,
)
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetSignatureStatusesResp,
    GetTokenAccountsByOwnerJsonParsedResp,
    IsBlockhashValidResp,
)
from solders.signature import Signature
from solders.transaction import VersionedTransaction

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
    def _parse(response_type: Any, text: str) -> Any:
        # JSON-RPC errors are handled here, not by solders: its RPCError parser panics (a BaseException) on
        # an error object without `data`, which nodes do send (and a string `error`, as one recording shows).
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise TransientVenueError(f"Solana RPC: not JSON: {text[:200]}") from exc
        error = envelope.get("error") if isinstance(envelope, dict) else None
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            if code in (-32600, -32601, -32602):
                raise VenueRejected(f"Solana RPC refused the request: {message} ({code})")
            raise TransientVenueError(f"Solana RPC error: {message} ({code})")
        try:
            return response_type.from_json(text)
        except (SerdeJSONError, ValueError) as exc:
            raise TransientVenueError(f"Solana RPC: unreadable answer ({exc}): {text[:200]}") from exc

    @staticmethod
    def _value(parsed: Any) -> Any:
        if not hasattr(parsed, "value"):  # an error variant (errors were mostly caught in _parse)
            raise TransientVenueError(f"Solana RPC error: {parsed}")
        return parsed.value

    def send_transaction(self, tx_base64: str, what: str) -> str:
        """sendTransaction of signed bytes; their signature. The same bytes sent again after they landed ("already
        been processed") answer their signature too; any other refusal is VenueRejected naming `what`."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
                           "params": [tx_base64, {"encoding": "base64", "preflightCommitment": "confirmed"}]})
        text = self._post(body)
        try:
            envelope = json.loads(text)
        except ValueError as exc:
            raise TransientVenueError(f"Solana RPC: not JSON while sending: {text[:200]}") from exc
        error = envelope.get("error")
        if error:
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            if "already been processed" in message:
                return str(VersionedTransaction.from_bytes(base64.b64decode(tx_base64)).signatures[0])
            raise VenueRejected(f"Solana refused {what}: {message}")
        return str(envelope["result"])

    def sol_balance(self, owner: str) -> Decimal:
        text = self._post(GetBalance(Pubkey.from_string(owner)).to_json())
        return Decimal(self._value(self._parse(GetBalanceResp, text))) / LAMPORTS_PER_SOL

    def token_balance(self, owner: str, mint: str, decimals: int) -> Decimal:
        """Sum over the owner's token accounts of this mint (usually one: the associated account)."""
        request = GetTokenAccountsByOwner(Pubkey.from_string(owner), RpcTokenAccountsFilterMint(
            Pubkey.from_string(mint)), RpcAccountInfoConfig(encoding=UiAccountEncoding.JsonParsed))
        accounts = self._value(self._parse(GetTokenAccountsByOwnerJsonParsedResp, self._post(request.to_json())))
        raw = 0
        for keyed in accounts:
            info = keyed.account.data.parsed.get("info", {})
            if info.get("mint") == mint:  # a node filters by mint already; a proxy might not
                raw += int(info["tokenAmount"]["amount"])
                decimals = int(info["tokenAmount"]["decimals"])
        return Decimal(raw).scaleb(-decimals)

    def usdc_balance(self, owner: str) -> Decimal:
        return self.token_balance(owner, USDC.mint, USDC.decimals)

    def lst_balances(self, owner: str) -> dict[Asset, Decimal]:
        return {asset: self.token_balance(owner, asset.token.mint, asset.token.decimals)
                for asset in Asset if asset.is_lst}

    def latest_blockhash(self) -> tuple[str, int]:
        value = self._value(self._parse(GetLatestBlockhashResp, self._post(GetLatestBlockhash().to_json())))
        return str(value.blockhash), int(value.last_valid_block_height)

    def signature_status(self, signature: str) -> SignatureState | None:
        request = GetSignatureStatuses([Signature.from_string(signature)])
        statuses = self._value(self._parse(GetSignatureStatusesResp, self._post(request.to_json())))
        status = statuses[0] if statuses else None
        if status is None:
            return None
        confirmation = str(status.confirmation_status).split(".")[-1].lower() if status.confirmation_status else None
        return SignatureState(int(status.slot), confirmation, None if status.err is None else str(status.err))

    def account_data(self, address: str) -> bytes | None:
        """An account's data (getAccountInfo, base64), None if the account does not exist."""
        request = GetAccountInfo(Pubkey.from_string(address), RpcAccountInfoConfig(encoding=UiAccountEncoding.Base64))
        account = self._value(self._parse(GetAccountInfoResp, self._post(request.to_json())))
        return None if account is None else bytes(account.data)

    def blockhash_valid(self, blockhash: str) -> bool:
        """Whether a transaction signed over `blockhash` can still land (isBlockhashValid)."""
        request = IsBlockhashValid(Hash.from_string(blockhash))
        return bool(self._value(self._parse(IsBlockhashValidResp, self._post(request.to_json()))))

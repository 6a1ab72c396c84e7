"""Arbitrum One over JSON-RPC: the USDC balance (eth_call balanceOf, ABI via eth-abi) and the deposit to
Hyperliquid's bridge (a USDC transfer signed through the EvmTransactionSigner port).

No web3.py: the three calls the bot needs are a few lines of JSON-RPC over httpx, and web3 is not a
dependency of the project.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from dnbot.ports import AmbiguousVenueError, EvmTransactionSigner, SignedEvmTx, TransientVenueError, VenueRejected
from dnbot.security.evm_validator import (
    ARBITRUM_CHAIN_ID,
    ARBITRUM_USDC,
    HYPERLIQUID_BRIDGE,
    MIN_BRIDGE_DEPOSIT_USDC,
)

USDC_DECIMALS = 6
ETH_DECIMALS = 18
GAS_HEADROOM = Decimal("1.2")  # on the node's gas estimate
FEE_CAP_FACTOR = 2  # maxFeePerGas = 2 x the current gas price: room for the base fee to rise
_BALANCE_OF = bytes.fromhex("70a08231")
_TRANSFER = bytes.fromhex("a9059cbb")


class BridgeDepositTooSmall(VenueRejected):
    """Hyperliquid credits no deposit under 5 USDC: the USDC would be lost."""


@dataclass(frozen=True, slots=True)
class SignedDeposit:
    """A bridge deposit signed and not necessarily sent: sending the same bytes again is recognised by the node
    ("already known") and, once one is mined, its nonce refuses any other ("nonce too low")."""

    tx_hash: str
    nonce: int
    raw: str
    usdc: Decimal


def transaction_hash(raw: str) -> str:
    """The hash of a signed raw transaction (0x-hex): keccak256 of its bytes."""
    return "0x" + keccak(hexstr=raw).hex().removeprefix("0x")


class ArbitrumClient:
    def __init__(self, url: str, transport: httpx.BaseTransport | None = None, timeout_seconds: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._http = httpx.Client(transport=transport, timeout=timeout_seconds)
        self.url = url
        self._ids = itertools.count(1)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def _rpc(self, method: str, params: list[Any], *, sends: bool = False) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            response = self._http.post(self.url, json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransientVenueError(f"Arbitrum RPC unreachable: {exc}") from exc
        except httpx.HTTPError as exc:
            if sends:
                raise AmbiguousVenueError(f"Arbitrum {method}: no answer after sending ({exc})") from exc
            raise TransientVenueError(f"Arbitrum {method}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            if sends and response.status_code != 503:
                raise AmbiguousVenueError(f"Arbitrum {method}: {response.status_code} after sending")
            raise TransientVenueError(f"Arbitrum {method}: {response.status_code}")
        payload = response.json()
        if payload.get("error"):
            error = payload["error"]
            raise VenueRejected(f"Arbitrum {method}: {error.get('message')} ({error.get('code')})")
        return payload.get("result")

    def chain_id(self) -> int:
        return int(self._rpc("eth_chainId", []), 16)

    def usdc_balance(self, address: str) -> Decimal:
        data = "0x" + (_BALANCE_OF + abi_encode(["address"], [to_checksum_address(address)])).hex()
        result = self._rpc("eth_call", [{"to": to_checksum_address(ARBITRUM_USDC), "data": data}, "latest"])
        (raw,) = abi_decode(["uint256"], bytes.fromhex(str(result)[2:]))
        return Decimal(raw).scaleb(-USDC_DECIMALS)

    def eth_balance(self, address: str) -> Decimal:
        return Decimal(int(self._rpc("eth_getBalance", [to_checksum_address(address), "latest"]), 16)).scaleb(
            -ETH_DECIMALS)

    def transfer_gas_reserve_eth(self, address: str) -> Decimal:
        """ETH a bridge deposit must be able to pay: gas limit x max fee (what the node checks before accepting)."""
        call = {"from": to_checksum_address(address), "to": to_checksum_address(ARBITRUM_USDC),
                "data": "0x" + (_TRANSFER + abi_encode(["address", "uint256"],
                                                       [to_checksum_address(HYPERLIQUID_BRIDGE), 1])).hex()}
        gas = int(int(self._rpc("eth_estimateGas", [call]), 16) * GAS_HEADROOM)
        return Decimal(gas * int(self._rpc("eth_gasPrice", []), 16) * FEE_CAP_FACTOR).scaleb(-ETH_DECIMALS)

    def transaction_count(self, address: str) -> int:
        """The account's mined transactions (its next nonce at the latest block)."""
        return int(self._rpc("eth_getTransactionCount", [address, "latest"]), 16)

    def receipt_status(self, tx_hash: str) -> bool | None:
        """True mined, False reverted, None not mined (pending, or unknown to the node)."""
        receipt = self.receipt(tx_hash)
        return None if receipt is None else int(receipt["status"], 16) == 1

    def sign_bridge_deposit(self, user_id: str, address: str, usdc: Decimal, signer: EvmTransactionSigner,
                            *, nonce: int | None = None) -> SignedDeposit:
        """Sign (not send) a transfer of `usdc` to Hyperliquid's bridge, at `nonce` (default: the next one).
        Refuses under 5 USDC (lost on the bridge) and beyond the balance."""
        if usdc < MIN_BRIDGE_DEPOSIT_USDC:
            raise BridgeDepositTooSmall(f"a bridge deposit of {usdc} USDC is under Hyperliquid's "
                                        f"{MIN_BRIDGE_DEPOSIT_USDC} USDC minimum: it would be lost")
        balance = self.usdc_balance(address)
        if balance < usdc:
            raise VenueRejected(f"the wallet holds {balance} USDC on Arbitrum, less than {usdc}")
        raw_amount = int(usdc.scaleb(USDC_DECIMALS).to_integral_value(ROUND_DOWN))
        data = _TRANSFER + abi_encode(["address", "uint256"], [to_checksum_address(HYPERLIQUID_BRIDGE), raw_amount])
        signed = self.sign_call(user_id, address, ARBITRUM_USDC, data, signer, nonce=nonce)
        return SignedDeposit(tx_hash=signed.tx_hash, nonce=signed.nonce, raw=signed.raw, usdc=usdc)

    def sign_call(self, user_id: str, sender: str, to: str, data: bytes, signer: EvmTransactionSigner, *,
                  nonce: int | None = None, gas: int | None = None) -> SignedEvmTx:
        """Sign (not send) a call of contract `to` with `data` from `sender`, at `nonce` (default: the next one)
        with `gas` (default: the node's estimate x GAS_HEADROOM; a call the node sees revert is refused here)."""
        sender = to_checksum_address(sender)
        hex_data = "0x" + data.hex()
        if gas is None:
            call = {"from": sender, "to": to_checksum_address(to), "data": hex_data}
            gas = int(int(self._rpc("eth_estimateGas", [call]), 16) * GAS_HEADROOM)
        gas_price = int(self._rpc("eth_gasPrice", []), 16)
        if nonce is None:
            nonce = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        transaction = {
            "chainId": ARBITRUM_CHAIN_ID, "nonce": nonce,
            "from": sender, "to": to_checksum_address(to), "value": 0, "data": hex_data, "gas": gas,
            "maxFeePerGas": gas_price * FEE_CAP_FACTOR, "maxPriorityFeePerGas": 0, "type": 2,
        }
        raw = signer.sign_transaction(user_id, transaction)
        return SignedEvmTx(tx_hash=transaction_hash(raw), nonce=nonce, raw=raw)

    def eth_call(self, to: str, data: bytes) -> bytes:
        """A read-only contract call at the latest block; returns the ABI-encoded result."""
        result = self._rpc("eth_call", [{"to": to_checksum_address(to), "data": "0x" + data.hex()}, "latest"])
        return bytes.fromhex(str(result).removeprefix("0x"))

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The transaction's receipt (None while not mined, or unknown to the node)."""
        receipt = self._rpc("eth_getTransactionReceipt", [tx_hash])
        return None if receipt is None else dict(receipt)

    def send(self, deposit: SignedDeposit) -> str:
        return self.send_raw(deposit.tx_hash, deposit.raw)

    def send_raw(self, tx_hash: str, raw: str) -> str:
        """Send signed bytes; sending them again is fine (the node already knows them)."""
        try:
            return str(self._rpc("eth_sendRawTransaction", [raw], sends=True))
        except VenueRejected as exc:
            if "already known" in str(exc):
                return tx_hash
            raise

    def wait_mined(self, tx_hash: str, wait_seconds: float = 10.0) -> None:
        deadline = time.monotonic() + wait_seconds
        while True:
            status = self.receipt_status(tx_hash)
            if status is not None:
                if not status:
                    raise VenueRejected(f"the bridge deposit {tx_hash} reverted")
                return
            if time.monotonic() > deadline:
                raise AmbiguousVenueError(f"the bridge deposit {tx_hash} was sent but is not mined yet")
            self._sleep(0.5)

    def bridge_deposit(self, user_id: str, address: str, usdc: Decimal, signer: EvmTransactionSigner,
                       *, wait_seconds: float = 10.0) -> str:
        """Send `usdc` from the user's Arbitrum wallet to Hyperliquid's bridge; returns the transaction hash
        once mined. Refuses under 5 USDC (lost on the bridge) and beyond the balance."""
        deposit = self.sign_bridge_deposit(user_id, address, usdc, signer)
        tx_hash = self.send(deposit)
        self.wait_mined(tx_hash, wait_seconds)
        return tx_hash

"""Arbitrum One over JSON-RPC: the USDC balance (eth_call balanceOf, ABI via eth-abi) and the deposit to
Hyperliquid's bridge (a USDC transfer signed through the EvmTransactionSigner port).

No web3.py: the three calls the bot needs are a few lines of JSON-RPC over httpx, and web3 is not a
dependency of the project.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address

from dnbot.ports import AmbiguousVenueError, EvmTransactionSigner, TransientVenueError, VenueRejected
from dnbot.security.evm_validator import (
    ARBITRUM_CHAIN_ID,
    ARBITRUM_USDC,
    HYPERLIQUID_BRIDGE,
    MIN_BRIDGE_DEPOSIT_USDC,
)

USDC_DECIMALS = 6
_BALANCE_OF = bytes.fromhex("70a08231")
_TRANSFER = bytes.fromhex("a9059cbb")


class BridgeDepositTooSmall(VenueRejected):
    """Hyperliquid credits no deposit under 5 USDC: the USDC would be lost."""


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

    def bridge_deposit(self, user_id: str, address: str, usdc: Decimal, signer: EvmTransactionSigner,
                       *, wait_seconds: float = 10.0) -> str:
        """Send `usdc` from the user's Arbitrum wallet to Hyperliquid's bridge; returns the transaction hash
        once mined. Refuses under 5 USDC (lost on the bridge) and beyond the balance."""
        if usdc < MIN_BRIDGE_DEPOSIT_USDC:
            raise BridgeDepositTooSmall(f"a bridge deposit of {usdc} USDC is under Hyperliquid's "
                                        f"{MIN_BRIDGE_DEPOSIT_USDC} USDC minimum: it would be lost")
        balance = self.usdc_balance(address)
        if balance < usdc:
            raise VenueRejected(f"the wallet holds {balance} USDC on Arbitrum, less than {usdc}")
        raw_amount = int(usdc.scaleb(USDC_DECIMALS).to_integral_value(ROUND_DOWN))
        data = "0x" + (_TRANSFER + abi_encode(["address", "uint256"],
                                              [to_checksum_address(HYPERLIQUID_BRIDGE), raw_amount])).hex()
        sender = to_checksum_address(address)
        call = {"from": sender, "to": to_checksum_address(ARBITRUM_USDC), "data": data}
        gas = int(int(self._rpc("eth_estimateGas", [call]), 16) * 1.2)
        gas_price = int(self._rpc("eth_gasPrice", []), 16)
        transaction = {
            "chainId": ARBITRUM_CHAIN_ID, "nonce": int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16),
            "from": sender, "to": to_checksum_address(ARBITRUM_USDC), "value": 0, "data": data, "gas": gas,
            "maxFeePerGas": gas_price * 2, "maxPriorityFeePerGas": 0, "type": 2,
        }
        raw = signer.sign_transaction(user_id, transaction)
        tx_hash = str(self._rpc("eth_sendRawTransaction", [raw], sends=True))
        deadline = time.monotonic() + wait_seconds
        while True:
            receipt = self._rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                if int(receipt["status"], 16) != 1:
                    raise VenueRejected(f"the bridge deposit {tx_hash} reverted")
                return tx_hash
            if time.monotonic() > deadline:
                raise AmbiguousVenueError(f"the bridge deposit {tx_hash} was sent but is not mined yet")
            self._sleep(0.5)

"""The check before the server signs an EVM transaction for a user: the only EVM transaction the bot sends is
the Hyperliquid bridge deposit, a USDC `transfer` on Arbitrum One to the bridge, of at least 5 USDC."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_abi.abi import decode as abi_decode

from dnbot.security.transaction_validator import Refusal, TransactionRefusedError

ARBITRUM_CHAIN_ID = 42161
ARBITRUM_USDC = "0xaf88d065e77c8cc2239327c5edb3a432268e5831"
HYPERLIQUID_BRIDGE = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7"
MIN_BRIDGE_DEPOSIT_USDC = Decimal(5)  # Hyperliquid: smaller deposits are not credited and are lost
_TRANSFER = bytes.fromhex("a9059cbb")


def _data(transaction: dict[str, Any]) -> bytes:
    data = transaction.get("data") or transaction.get("input") or b""
    return bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)


def validate_evm_transaction(transaction: dict[str, Any], wallet: str) -> None:
    """Raise TransactionRefusedError unless this is a bridge deposit of the user's own USDC."""
    refusals: list[Refusal] = []
    if int(transaction.get("chainId", 0)) != ARBITRUM_CHAIN_ID:
        refusals.append(Refusal(f"chain id {transaction.get('chainId')} is not Arbitrum One ({ARBITRUM_CHAIN_ID})"))
    if str(transaction.get("from", wallet)).lower() != wallet.lower():
        refusals.append(Refusal(f"sent from {transaction.get('from')}, not the user's wallet {wallet}"))
    if int(transaction.get("value", 0)):
        refusals.append(Refusal("sends ETH: the bot only moves USDC", account=str(transaction.get("to"))))
    to = str(transaction.get("to", "")).lower()
    data = _data(transaction)
    if to != ARBITRUM_USDC:
        refusals.append(Refusal("calls a contract other than Arbitrum's USDC", program=to))
    elif data[:4] != _TRANSFER or len(data) != 68:
        refusals.append(Refusal("calls a USDC function other than transfer(address,uint256)", program=to))
    else:
        recipient, amount = abi_decode(["address", "uint256"], data[4:])
        if recipient.lower() != HYPERLIQUID_BRIDGE:
            refusals.append(Refusal(f"transfers USDC to {recipient}, not to Hyperliquid's bridge", program=to,
                                    account=recipient))
        elif Decimal(amount).scaleb(-6) < MIN_BRIDGE_DEPOSIT_USDC:
            refusals.append(Refusal(f"a bridge deposit of {Decimal(amount).scaleb(-6)} USDC is under the "
                                    f"{MIN_BRIDGE_DEPOSIT_USDC} USDC minimum and would be lost", program=to,
                                    account=recipient))
    if refusals:
        raise TransactionRefusedError(refusals)

"""The adapter's request shapes and the sim's reading of them agree (EVM transactions, EIP-712 typed data)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address

from dnbot.adapters.privy.wallets import privy_evm_transaction, wallet_external_id
from dnbot.sim.privy import PrivyApiError, sign_evm_transaction, sign_typed_data

ACCOUNT = Account.from_key("0x" + "11" * 32)
USDC = to_checksum_address("0xaf88d065e77c8cc2239327c5edb3a432268e5831")


def test_an_evm_transaction_in_privy_shape_signs_to_the_same_transaction() -> None:
    tx = {"chainId": 42161, "nonce": 3, "from": ACCOUNT.address, "to": USDC, "value": 0,
          "data": "0xa9059cbb" + "00" * 64, "gas": 90_000, "maxFeePerGas": 30_000_000,
          "maxPriorityFeePerGas": 1, "type": 2}
    privy = privy_evm_transaction(tx)
    assert privy == {"chain_id": 42161, "nonce": 3, "from": ACCOUNT.address, "to": USDC, "value": 0,
                     "data": "0xa9059cbb" + "00" * 64, "gas_limit": 90_000, "max_fee_per_gas": 30_000_000,
                     "max_priority_fee_per_gas": 1, "type": 2}
    direct = ACCOUNT.sign_transaction({k: v for k, v in tx.items() if k != "from"})
    assert sign_evm_transaction(ACCOUNT, privy) == "0x" + bytes(direct.raw_transaction).hex()
    # Hex quantities, as Privy also accepts them, sign the same.
    hexed = {k: (hex(v) if isinstance(v, int) and k != "type" else v) for k, v in privy.items()}
    assert sign_evm_transaction(ACCOUNT, hexed) == "0x" + bytes(direct.raw_transaction).hex()


def test_unknown_fields_and_foreign_senders_are_refused() -> None:
    with pytest.raises(ValueError, match="accessList"):
        privy_evm_transaction({"chainId": 1, "accessList": []})
    with pytest.raises(PrivyApiError, match="not this wallet"):
        sign_evm_transaction(ACCOUNT, {"from": Account.create().address, "chain_id": 1})


def test_typed_data_without_an_eip712domain_type_signs_as_with_it() -> None:
    domain = {"name": "Exchange", "version": "1", "chainId": 1337,
              "verifyingContract": "0x0000000000000000000000000000000000000000"}
    agent = {"Agent": [{"name": "source", "type": "string"}, {"name": "connectionId", "type": "bytes32"}]}
    message = {"source": "a", "connectionId": "0x" + "ab" * 32}
    full = {"domain": domain, "primaryType": "Agent", "message": message,
            "types": agent | {"EIP712Domain": [{"name": "name", "type": "string"},
                                               {"name": "version", "type": "string"},
                                               {"name": "chainId", "type": "uint256"},
                                               {"name": "verifyingContract", "type": "address"}]}}
    expected = "0x" + bytes(ACCOUNT.sign_message(encode_typed_data(full_message=full)).signature).hex()
    assert sign_typed_data(ACCOUNT, {"domain": domain, "types": agent, "primary_type": "Agent",
                                     "message": message}) == expected


def test_external_ids_are_url_safe_bounded_and_do_not_reveal_the_user() -> None:
    external = wallet_external_id("alice@example.com", "ethereum")
    assert len(external) <= 64 and external.replace("-", "").isalnum() and "alice" not in external
    assert external != wallet_external_id("alice@example.com", "solana")

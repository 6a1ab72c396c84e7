"""The check before the server signs an EVM transaction for a user. The bot sends only these, on Arbitrum One:
- the Hyperliquid bridge deposit: a USDC `transfer` to the bridge of at least 5 USDC;
- the CCTP V2 bridge to Solana (docs/bridge.md section 3): USDC `approve(TokenMessengerV2, x)` (never an
  unlimited one) and `TokenMessengerV2.depositForBurn` to Solana (domain 5) of USDC, minting to the user's own
  Solana USDC account, with anyone allowed to mint (destinationCaller 0) and a max fee under 0.2 % of the amount;
- the CCTP V2 mint from Solana (section 2): `MessageTransmitterV2.receiveMessage` of a burn message from Solana to
  Arbitrum (domain 3) whose mint recipient is the user's own wallet.
Anything else is refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak
from solders.pubkey import Pubkey

from dnbot.cctp import (
    ARBITRUM_DOMAIN,
    ARBITRUM_MESSAGE_TRANSMITTER_V2,
    ARBITRUM_TOKEN_MESSENGER_V2,
    SOLANA_DOMAIN,
    SOLANA_TOKEN_MESSENGER_MINTER_V2,
)
from dnbot.cctp import ARBITRUM_USDC as _ARBITRUM_USDC_CHECKSUMMED
from dnbot.cctp.message import EMPTY_BYTES32, CctpMessage, MalformedMessage, evm_to_bytes32, solana_to_bytes32
from dnbot.cctp.solana import usdc_account
from dnbot.domain.bridge import MAX_FEE_CAP_RATE
from dnbot.security.transaction_validator import Refusal, TransactionRefusedError

ARBITRUM_CHAIN_ID = 42161
ARBITRUM_USDC = _ARBITRUM_USDC_CHECKSUMMED.lower()
HYPERLIQUID_BRIDGE = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7"
MIN_BRIDGE_DEPOSIT_USDC = Decimal(5)  # Hyperliquid: smaller deposits are not credited and are lost
TOKEN_MESSENGER_V2 = ARBITRUM_TOKEN_MESSENGER_V2.lower()
MESSAGE_TRANSMITTER_V2 = ARBITRUM_MESSAGE_TRANSMITTER_V2.lower()
# An approval this large is "unlimited" (wallets show 2**256 - 1 as such): more USDC than will ever exist.
UNLIMITED_APPROVAL = 2**128
_TRANSFER = bytes.fromhex("a9059cbb")
# The CCTP calls (also what dnbot.adapters.evm.cctp encodes): keccak256 of circlefin/evm-cctp-contracts' signatures.
APPROVE = keccak(text="approve(address,uint256)")[:4]
DEPOSIT_FOR_BURN = keccak(text="depositForBurn(uint256,uint32,bytes32,address,bytes32,uint256,uint32)")[:4]
RECEIVE_MESSAGE = keccak(text="receiveMessage(bytes,bytes)")[:4]
BURN_ARGS = ["uint256", "uint32", "bytes32", "address", "bytes32", "uint256", "uint32"]


def _data(transaction: dict[str, Any]) -> bytes:
    data = transaction.get("data") or transaction.get("input") or b""
    return bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)


def solana_usdc_account(solana_wallet: str) -> bytes:
    """The 32 bytes of the wallet's USDC associated token account (a Solana mint's recipient, docs/bridge.md 3)."""
    return bytes(usdc_account(Pubkey.from_string(solana_wallet)))


def validate_evm_transaction(transaction: dict[str, Any], wallet: str, solana_wallet: str | None = None) -> None:
    """Raise TransactionRefusedError unless this is a bridge deposit of the user's own USDC or a step of a CCTP
    transfer between the user's own wallets. `solana_wallet` is the user's Solana address: without it a burn to
    Solana is refused (its recipient cannot be checked)."""
    refusals: list[Refusal] = []
    if int(transaction.get("chainId", 0)) != ARBITRUM_CHAIN_ID:
        refusals.append(Refusal(f"chain id {transaction.get('chainId')} is not Arbitrum One ({ARBITRUM_CHAIN_ID})"))
    if str(transaction.get("from", wallet)).lower() != wallet.lower():
        refusals.append(Refusal(f"sent from {transaction.get('from')}, not the user's wallet {wallet}"))
    if int(transaction.get("value", 0)):
        refusals.append(Refusal("sends ETH: the bot only moves USDC", account=str(transaction.get("to"))))
    to = str(transaction.get("to", "")).lower()
    data = _data(transaction)
    if to == ARBITRUM_USDC:
        refusals += _usdc_call(data)
    elif to == TOKEN_MESSENGER_V2:
        refusals += _deposit_for_burn(data, solana_wallet)
    elif to == MESSAGE_TRANSMITTER_V2:
        refusals += _receive_message(data, wallet)
    else:
        refusals.append(Refusal("calls a contract other than Arbitrum's USDC, CCTP's TokenMessengerV2 or "
                                "MessageTransmitterV2", program=to))
    if refusals:
        raise TransactionRefusedError(refusals)


def _usdc_call(data: bytes) -> list[Refusal]:
    usdc = ARBITRUM_USDC
    if len(data) != 68 or data[:4] not in (_TRANSFER, APPROVE):
        return [Refusal("calls a USDC function other than transfer(address,uint256) or approve(address,uint256)",
                        program=usdc)]
    counterparty, amount = abi_decode(["address", "uint256"], data[4:])
    if data[:4] == APPROVE:
        if counterparty.lower() != TOKEN_MESSENGER_V2:
            return [Refusal(f"approves {counterparty} to spend USDC, not CCTP's TokenMessengerV2", program=usdc,
                            account=counterparty)]
        if amount >= UNLIMITED_APPROVAL:
            return [Refusal("an unlimited USDC approval: approve exactly the amount to burn", program=usdc,
                            account=counterparty)]
        return []
    if counterparty.lower() != HYPERLIQUID_BRIDGE:
        return [Refusal(f"transfers USDC to {counterparty}, not to Hyperliquid's bridge", program=usdc,
                        account=counterparty)]
    if Decimal(amount).scaleb(-6) < MIN_BRIDGE_DEPOSIT_USDC:
        return [Refusal(f"a bridge deposit of {Decimal(amount).scaleb(-6)} USDC is under the "
                        f"{MIN_BRIDGE_DEPOSIT_USDC} USDC minimum and would be lost", program=usdc,
                        account=counterparty)]
    return []


def _deposit_for_burn(data: bytes, solana_wallet: str | None) -> list[Refusal]:
    messenger = TOKEN_MESSENGER_V2
    if data[:4] != DEPOSIT_FOR_BURN or len(data) != 4 + 32 * len(BURN_ARGS):
        return [Refusal("calls a TokenMessengerV2 function other than depositForBurn (without hook)",
                        program=messenger)]
    try:
        amount, domain, recipient, burn_token, caller, max_fee, _finality = abi_decode(BURN_ARGS, data[4:])
    except DecodingError as bad:
        return [Refusal(f"depositForBurn arguments do not decode: {bad}", program=messenger)]
    refusals: list[Refusal] = []
    if domain != SOLANA_DOMAIN:
        refusals.append(Refusal(f"burns towards CCTP domain {domain}, not Solana ({SOLANA_DOMAIN})", program=messenger))
    if burn_token.lower() != ARBITRUM_USDC:
        refusals.append(Refusal(f"burns the token {burn_token}, not Arbitrum's USDC", program=messenger))
    if caller != EMPTY_BYTES32:
        refusals.append(Refusal("sets a destination caller: only that caller could mint, the bot lets anyone mint to "
                                "the user", program=messenger, account="0x" + caller.hex()))
    if amount <= 0:
        refusals.append(Refusal("burns nothing", program=messenger))
    elif Decimal(max_fee) > Decimal(amount) * MAX_FEE_CAP_RATE:
        refusals.append(Refusal(f"a max fee of {max_fee} on {amount} raw USDC is over the "
                                f"{MAX_FEE_CAP_RATE:%} cap", program=messenger))
    if solana_wallet is None:
        refusals.append(Refusal("burns to Solana but the user's Solana wallet is unknown: its recipient cannot be "
                                "checked", program=messenger))
    elif recipient != solana_usdc_account(solana_wallet):
        refusals.append(Refusal(f"mints on Solana to {Pubkey.from_bytes(recipient)}, not the user's USDC account "
                                f"{Pubkey.from_bytes(solana_usdc_account(solana_wallet))}", program=messenger,
                                account=str(Pubkey.from_bytes(recipient))))
    return refusals


def _receive_message(data: bytes, wallet: str) -> list[Refusal]:
    transmitter = MESSAGE_TRANSMITTER_V2
    if data[:4] != RECEIVE_MESSAGE:
        return [Refusal("calls a MessageTransmitterV2 function other than receiveMessage", program=transmitter)]
    try:
        raw_message, _attestation = abi_decode(["bytes", "bytes"], data[4:])
        message = CctpMessage.decode(bytes(raw_message))
        body = message.burn
    except (DecodingError, MalformedMessage) as bad:
        return [Refusal(f"receiveMessage of something that is not a CCTP burn message: {bad}", program=transmitter)]
    refusals: list[Refusal] = []
    if message.destination_domain != ARBITRUM_DOMAIN:
        refusals.append(Refusal(f"a message for CCTP domain {message.destination_domain}, not Arbitrum "
                                f"({ARBITRUM_DOMAIN})", program=transmitter))
    if message.source_domain != SOLANA_DOMAIN or message.sender != solana_to_bytes32(SOLANA_TOKEN_MESSENGER_MINTER_V2):
        refusals.append(Refusal(f"a message from domain {message.source_domain} sender 0x{message.sender.hex()}, "
                                "not Solana's TokenMessengerMinterV2", program=transmitter))
    if message.recipient != evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2):
        refusals.append(Refusal(f"a message to 0x{message.recipient.hex()}, not Arbitrum's TokenMessengerV2",
                                program=transmitter))
    if body.mint_recipient != evm_to_bytes32(wallet):
        refusals.append(Refusal(f"mints to 0x{body.mint_recipient.hex()}, not the user's wallet {wallet}",
                                program=transmitter, account="0x" + body.mint_recipient.hex()))
    return refusals

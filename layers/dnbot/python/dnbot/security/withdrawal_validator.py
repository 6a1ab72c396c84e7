"""A withdrawal's transaction may do exactly one thing: move that amount of that asset from the user's wallet to
that address. Checked before the generic policy (transaction_validator) and before anything is signed.

Allowed instructions: compute budget; for USDC, creating the recipient's USDC account (idempotent, paid by the
user, owned by the recipient); then exactly one transfer: SOL by the system program to the address, or USDC by
transferChecked from the user's USDC account to the recipient's, with the USDC mint and 6 decimals.
"""

from __future__ import annotations

import struct
from decimal import Decimal

from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from dnbot.domain.assets import USDC
from dnbot.security.transaction_validator import (
    ASSOCIATED_TOKEN_PROGRAM,
    COMPUTE_BUDGET_PROGRAM,
    SYSTEM_PROGRAM,
    TOKEN_PROGRAM,
    Refusal,
    TransactionRefusedError,
    instructions_of,
    parse_transaction,
)

LAMPORTS_PER_SOL = Decimal(1_000_000_000)
USDC_MINT = Pubkey.from_string(USDC.mint)


def base_units(asset: str, amount: Decimal) -> int:
    scale = LAMPORTS_PER_SOL if asset == "SOL" else Decimal(10) ** USDC.decimals
    units = amount * scale
    if units != units.to_integral_value():
        raise ValueError(f"{amount} {asset} is finer than the asset's smallest unit")
    return int(units)


def validate_withdrawal(tx_base64: str, wallet: str, asset: str, amount: Decimal, to: str) -> None:
    """Raise TransactionRefusedError unless the transaction is exactly this withdrawal."""
    parsed = parse_transaction(tx_base64)
    message = parsed.message
    if not isinstance(message, Message | MessageV0):
        raise TransactionRefusedError([Refusal(f"unsupported message version {type(message).__name__}")])
    owner, recipient = Pubkey.from_string(wallet), Pubkey.from_string(to)
    refusals: list[Refusal] = []
    if not message.account_keys or message.account_keys[0] != owner:
        refusals.append(Refusal("the fee payer is not the user's wallet"))
    expected = base_units(asset, amount)
    source_ata = get_associated_token_address(owner, USDC_MINT)
    dest_ata = get_associated_token_address(recipient, USDC_MINT)
    transfers = 0
    for view in instructions_of(message):
        program, accounts, data = view.program_id, view.accounts, view.data
        if program == COMPUTE_BUDGET_PROGRAM:
            continue
        if asset == "SOL" and program == SYSTEM_PROGRAM and data[:4] == struct.pack("<I", 2) and len(data) == 12:
            lamports = struct.unpack_from("<Q", data, 4)[0]
            if accounts[:2] != (owner, recipient) or lamports != expected:
                refusals.append(Refusal(f"a SOL transfer of {lamports} lamports to {accounts[1]}, not {expected} "
                                        f"to {recipient}", view.index, str(program)))
            transfers += 1
        elif (asset == "USDC" and program == ASSOCIATED_TOKEN_PROGRAM and data in (b"\x01",)
              and accounts[:4] == (owner, dest_ata, recipient, USDC_MINT)):
            continue
        elif asset == "USDC" and program == TOKEN_PROGRAM and data[:1] == b"\x0c" and len(data) == 10:
            units, decimals = struct.unpack_from("<Q", data, 1)[0], data[9]
            if (accounts[:4] != (source_ata, USDC_MINT, dest_ata, owner) or units != expected
                    or decimals != USDC.decimals):
                refusals.append(Refusal(f"a token transfer of {units} units to {accounts[2]}, not {expected} USDC "
                                        f"units to {dest_ata}", view.index, str(program)))
            transfers += 1
        else:
            refusals.append(Refusal("not part of a withdrawal", view.index, str(program)))
    if transfers != 1:
        refusals.append(Refusal(f"a withdrawal is exactly one transfer, this has {transfers}"))
    if refusals:
        raise TransactionRefusedError(refusals)

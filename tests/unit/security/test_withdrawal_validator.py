"""A withdrawal's transaction is exactly one transfer of that asset and amount to that address."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from dnbot.adapters.solana.withdrawal import transfer_instructions, valid_solana_address
from dnbot.security.transaction_validator import SYSTEM_PROGRAM, TransactionRefusedError
from dnbot.security.withdrawal_validator import validate_withdrawal

OWNER = Keypair().pubkey()
TO = Keypair().pubkey()
MALLORY = Keypair().pubkey()


def _tx(instructions: list[Instruction], payer: Pubkey = OWNER) -> str:
    message = MessageV0.try_compile(payer, instructions, [], Hash.default())
    signatures = [Signature.default()] * message.header.num_required_signatures
    return base64.b64encode(bytes(VersionedTransaction.populate(message, signatures))).decode()


@pytest.mark.parametrize(("asset", "amount"), [("USDC", Decimal("25.5")), ("SOL", Decimal("0.25"))])
def test_the_exact_transfer_passes(asset: str, amount: Decimal) -> None:
    validate_withdrawal(_tx(transfer_instructions(OWNER, asset, amount, TO)), str(OWNER), asset, amount, str(TO))


@pytest.mark.parametrize(("built", "asked"), [
    (("USDC", Decimal("25.5"), TO), ("USDC", Decimal("25.4"), TO)),  # another amount
    (("USDC", Decimal("25.5"), MALLORY), ("USDC", Decimal("25.5"), TO)),  # another recipient
    (("SOL", Decimal("1"), TO), ("USDC", Decimal("1"), TO)),  # another asset
    (("SOL", Decimal("1"), MALLORY), ("SOL", Decimal("1"), TO)),
])
def test_anything_else_is_refused(built: tuple[str, Decimal, Pubkey], asked: tuple[str, Decimal, Pubkey]) -> None:
    tx = _tx(transfer_instructions(OWNER, built[0], built[1], built[2]))
    with pytest.raises(TransactionRefusedError):
        validate_withdrawal(tx, str(OWNER), asked[0], asked[1], str(asked[2]))


def test_a_second_transfer_or_another_payer_is_refused() -> None:
    extra = transfer(TransferParams(from_pubkey=OWNER, to_pubkey=MALLORY, lamports=1))
    two = _tx([*transfer_instructions(OWNER, "SOL", Decimal("1"), TO), extra])
    with pytest.raises(TransactionRefusedError, match=r"exactly one transfer|not 1000000000"):
        validate_withdrawal(two, str(OWNER), "SOL", Decimal("1"), str(TO))
    sneaky = _tx([Instruction(SYSTEM_PROGRAM, bytes(4), []), *transfer_instructions(OWNER, "SOL", Decimal(1), TO)])
    with pytest.raises(TransactionRefusedError):
        validate_withdrawal(sneaky, str(OWNER), "SOL", Decimal("1"), str(TO))
    other_payer = _tx(transfer_instructions(OWNER, "SOL", Decimal("1"), TO), payer=MALLORY)
    with pytest.raises(TransactionRefusedError):
        validate_withdrawal(other_payer, str(OWNER), "SOL", Decimal("1"), str(TO))


def test_addresses() -> None:
    assert valid_solana_address(str(TO))
    assert not valid_solana_address("11111111111111111111111111111111")
    assert not valid_solana_address("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
    assert not valid_solana_address("not-base58-0OIl")
    pda, _ = Pubkey.find_program_address([b"x"], SYSTEM_PROGRAM)
    assert not valid_solana_address(str(pda))

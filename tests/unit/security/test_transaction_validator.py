"""The transaction validator: what it lets the server sign for a user, and how a refusal explains itself."""

from __future__ import annotations

import base64

import pytest
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import Transaction, VersionedTransaction
from spl.token.instructions import approve, transfer_checked
from spl.token.models import ApproveParams, TransferCheckedParams

from dnbot.adapters.solana.signer import LocalKeypairSigner
from dnbot.domain.assets import USDC
from dnbot.security.transaction_validator import (
    JITO_TIP_ACCOUNTS,
    KAMINO_LENDING_PROGRAM,
    TOKEN_PROGRAM,
    SigningPolicy,
    TransactionRefusedError,
    validate_transaction,
)

USDC_MINT = Pubkey.from_string(USDC.mint)
BLOCKHASH = Hash.new_unique()
WALLET = Keypair()
STRANGER = Keypair().pubkey()
TIP = sorted(JITO_TIP_ACCOUNTS, key=str)[0]


def tx(instructions: list[Instruction], payer: Pubkey = WALLET.pubkey()) -> str:
    message = MessageV0.try_compile(payer, instructions, [], BLOCKHASH)
    return base64.b64encode(bytes(VersionedTransaction.populate(
        message, [Signature.default()] * message.header.num_required_signatures))).decode()


def policy() -> SigningPolicy:
    return SigningPolicy.for_wallet(WALLET.pubkey())


def usdc_transfer(dest: Pubkey, amount: int = 1_000_000) -> Instruction:
    return transfer_checked(TransferCheckedParams(
        program_id=TOKEN_PROGRAM, source=get_associated_token_address(WALLET.pubkey(), USDC_MINT), mint=USDC_MINT,
        dest=dest, owner=WALLET.pubkey(), amount=amount, decimals=6))


def refusal(transaction: str) -> TransactionRefusedError:
    with pytest.raises(TransactionRefusedError) as caught:
        validate_transaction(transaction, policy())
    return caught.value


def asgard_like() -> list[Instruction]:
    return [set_compute_unit_limit(400_000), set_compute_unit_price(10_000),
            Instruction(KAMINO_LENDING_PROGRAM, b"\x01" * 16, [AccountMeta(WALLET.pubkey(), True, True)]),
            transfer(TransferParams(from_pubkey=WALLET.pubkey(), to_pubkey=TIP, lamports=100_000))]


def test_accepts_a_protocol_instruction_a_bounded_tip_and_transfers_to_own_accounts() -> None:
    own_usdc = get_associated_token_address(WALLET.pubkey(), USDC_MINT)
    validate_transaction(tx([*asgard_like(), usdc_transfer(own_usdc)]), policy())


def test_refuses_a_sol_transfer_to_a_stranger_and_says_which() -> None:
    error = refusal(tx([*asgard_like(), transfer(TransferParams(
        from_pubkey=WALLET.pubkey(), to_pubkey=STRANGER, lamports=5_000_000))]))
    [reason] = error.refusals
    assert reason.instruction_index == 4 and reason.account == str(STRANGER)
    assert reason.program == "11111111111111111111111111111111"
    assert "transfers 5000000 lamports" in str(error) and "instruction #4" in str(error)


def test_refuses_a_token_transfer_or_approval_to_a_stranger() -> None:
    stranger_usdc = get_associated_token_address(STRANGER, USDC_MINT)
    error = refusal(tx([usdc_transfer(stranger_usdc)]))
    assert error.refusals[0].account == str(stranger_usdc) and "not a token account of the user's" in str(error)
    approval = approve(ApproveParams(program_id=TOKEN_PROGRAM,
                                     source=get_associated_token_address(WALLET.pubkey(), USDC_MINT),
                                     delegate=STRANGER, owner=WALLET.pubkey(), amount=1))
    assert "approves" in str(refusal(tx([approval])))
    # ... unless the caller names that account as expected.
    validate_transaction(tx([usdc_transfer(stranger_usdc)]),
                         SigningPolicy.for_wallet(WALLET.pubkey(), extra_token_accounts=[stranger_usdc]))


def test_refuses_an_unknown_program() -> None:
    rogue = Keypair().pubkey()
    error = refusal(tx([Instruction(rogue, b"", [AccountMeta(WALLET.pubkey(), True, True)])]))
    assert error.refusals[0].program == str(rogue) and "not on the allow-list" in str(error)


def test_refuses_a_wrong_fee_payer() -> None:
    other = Keypair().pubkey()
    error = refusal(tx(asgard_like()[:2], payer=other))
    assert error.refusals[0].account == str(other) and "fee payer" in str(error)


def test_refuses_an_oversized_tip_and_priority_fee() -> None:
    big_tip = transfer(TransferParams(from_pubkey=WALLET.pubkey(), to_pubkey=TIP, lamports=2_000_000_000))
    assert "Jito tip" in str(refusal(tx([big_tip])))
    assert "priority fee" in str(refusal(tx([set_compute_unit_limit(1_400_000),
                                              set_compute_unit_price(1_000_000_000)])))


def test_checks_legacy_transactions_too() -> None:
    message = Message.new_with_blockhash([transfer(TransferParams(
        from_pubkey=WALLET.pubkey(), to_pubkey=STRANGER, lamports=1))], WALLET.pubkey(), BLOCKHASH)
    legacy = base64.b64encode(bytes(Transaction.new_unsigned(message))).decode()
    assert refusal(legacy).refusals[0].account == str(STRANGER)


def test_the_local_signer_validates_before_signing() -> None:
    signer = LocalKeypairSigner({"u1": WALLET})
    signed = signer.sign_transaction("u1", tx(asgard_like()))
    assert VersionedTransaction.from_bytes(base64.b64decode(signed)).verify_with_results() == [True]
    with pytest.raises(TransactionRefusedError, match="neither the user's wallet"):
        signer.sign_transaction("u1", tx([transfer(TransferParams(
            from_pubkey=WALLET.pubkey(), to_pubkey=STRANGER, lamports=1))]))


def test_accounts_from_lookup_tables_must_be_resolvable() -> None:
    from solders.address_lookup_table_account import AddressLookupTableAccount

    table_key = Keypair().pubkey()
    table = AddressLookupTableAccount(table_key, [STRANGER, Keypair().pubkey()])
    message = MessageV0.try_compile(WALLET.pubkey(), [transfer(TransferParams(
        from_pubkey=WALLET.pubkey(), to_pubkey=STRANGER, lamports=1))], [table], BLOCKHASH)
    assert len(message.address_table_lookups) == 1  # the stranger hides in the table
    hidden = VersionedTransaction.populate(message, [Signature.default()])
    with pytest.raises(TransactionRefusedError, match="lookup table cannot be verified"):
        validate_transaction(hidden, policy())
    with pytest.raises(TransactionRefusedError, match="neither the user's wallet"):
        validate_transaction(hidden, policy(), resolver=lambda key: list(table.addresses) if key == table_key else [])

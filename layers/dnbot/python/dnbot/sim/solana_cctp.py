"""Circle CCTP V2's two Solana programs as the simulated node runs them (docs/bridge.md sections 2-3).

TokenMessengerMinterV2.deposit_for_burn and MessageTransmitterV2.receive_message are checked the way the programs
check them (discriminator, every account against its PDA or constraint, signers, amounts, the attestation) and
applied to the simulator's Solana ledger: a burn debits the owner's USDC account, creates the event account (its
rent paid by the event rent payer) and, once the transaction commits, hands the emitted message to the world's
CCTP hub (dnbot.sim.cctp), which attests it; a receive verifies the attestation with the hub, `init`s the nonce's
used_nonce account (so a message is received once) and mints the amount less the executed fee to the recipient,
the fee to the fee recipient's USDC account. Only USDC towards or from Arbitrum is configured, as on mainnet's
token pairs that dnbot uses. Custody is not modelled: a receive mints, a burn destroys.

Errors carry the programs' codes: Anchor's framework errors (1xx-3xxx) and each program's error enum from 6000,
in the order of circlefin/solana-cctp-contracts `error.rs`; a used nonce fails as the system program's
`init` of an existing account does (custom 0).
"""

from __future__ import annotations

import copy
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from dnbot.cctp import ARBITRUM_DOMAIN, ARBITRUM_TOKEN_MESSENGER_V2, ARBITRUM_USDC, SOLANA_DOMAIN
from dnbot.cctp import solana as cctp
from dnbot.cctp.message import (
    BurnBody,
    CctpMessage,
    InvalidAttestation,
    MalformedMessage,
    evm_to_bytes32,
)
from dnbot.security.transaction_validator import InstructionView
from dnbot.sim.cctp import CctpHub
from dnbot.sim.solana_ledger import LedgerError, SolanaLedger

# Who collects the Fast fee in the simulator (mainnet's is read from the TokenMessenger account, as here).
SIM_FEE_RECIPIENT = Keypair.from_seed(hashlib.sha256(b"dnbot-sim-cctp-fee-recipient").digest()).pubkey()
REMOTE_TOKEN_MESSENGERS: dict[int, bytes] = {ARBITRUM_DOMAIN: evm_to_bytes32(ARBITRUM_TOKEN_MESSENGER_V2)}
REMOTE_USDC: dict[int, bytes] = {ARBITRUM_DOMAIN: evm_to_bytes32(ARBITRUM_USDC)}
_Params = TypeVar("_Params")  # an instruction's decoded arguments

_ANCHOR_ERRORS = {"InstructionFallbackNotFound": 101, "ConstraintHasOne": 2001, "ConstraintRaw": 2003,
                  "ConstraintSeeds": 2006, "ConstraintAssociated": 2009, "ConstraintAddress": 2012,
                  "ConstraintTokenMint": 2014, "AccountNotEnoughKeys": 3005, "InvalidProgramId": 3008,
                  "AccountNotSigner": 3010, "AccountNotInitialized": 3012}
_TMM_ERRORS = [
    "InvalidAuthority", "InvalidTokenMessengerState", "InvalidTokenMessenger", "InvalidOwner",
    "MalformedMessage", "InvalidMessageBodyVersion", "InvalidAmount", "InvalidDestinationDomain",
    "InvalidDestinationCaller", "InvalidMintRecipient", "InvalidSender", "InvalidTokenPair", "InvalidTokenMint",
    "InvalidHookData", "FeeExceedsAmount", "FeeExceedsMaxFee", "MessageExpired", "UnsupportedFinalityThreshold",
    "AlreadyDenylisted", "AccountNotInDenylist", "InvalidDenylister", "DenylistedAccount",
    "InvalidFeeRecipient", "InvalidMinFeeController", "MinFeeTooHigh", "MinFeeAmountOverflow",
    "InsufficientMaxFee", "MaxFeeMustBeLessThanAmount",
]
_MT_ERRORS = [
    "InvalidAuthority", "ProgramPaused", "InvalidMessageTransmitterState", "InvalidSignatureThreshold",
    "SignatureThresholdAlreadySet", "InvalidOwner", "InvalidPauser", "InvalidAttesterManager",
    "InvalidAttester", "AttesterAlreadyEnabled", "TooFewEnabledAttesters", "SignatureThresholdTooLow",
    "AttesterAlreadyDisabled", "MessageBodyLimitExceeded", "InvalidDestinationCaller", "InvalidRecipient",
    "SenderNotPermitted", "InvalidSourceDomain", "InvalidDestinationDomain", "InvalidMessageVersion",
    "InvalidUsedNoncesAccount", "InvalidRecipientProgram", "InvalidNonce", "NonceAlreadyUsed",
    "MessageTooShort", "MalformedMessage", "InvalidSignatureOrderOrDupe", "InvalidAttesterSignature",
    "InvalidAttestationLength", "InvalidSignatureRecoveryId", "InvalidSignatureSValue", "InvalidMessageHash",
    "InvalidDestinationMessage", "EventAccountWindowNotExpired", "DestinationDomainIsLocalDomain",
]


def rent_lamports(size: int) -> int:
    return (size + 128) * 6960  # as getMinimumBalanceForRentExemption answers


@dataclass(frozen=True, slots=True)
class ProgramAccount:
    owner: str
    data: bytes
    lamports: int


@dataclass
class SolanaCctpPrograms:
    """The programs' state in the simulator; `accounts` holds what they created (event and used-nonce accounts)."""

    ledger: SolanaLedger
    hub: CctpHub
    accounts: dict[str, ProgramAccount] = field(default_factory=dict)
    token_messenger: cctp.TokenMessengerState = field(default_factory=lambda: cctp.TokenMessengerState(
        denylister=SIM_FEE_RECIPIENT, owner=SIM_FEE_RECIPIENT, pending_owner=Pubkey.default(),
        message_body_version=1, authority_bump=255, fee_recipient=SIM_FEE_RECIPIENT,
        min_fee_controller=SIM_FEE_RECIPIENT, min_fee=0))

    def __post_init__(self) -> None:
        # the fee recipient's USDC account exists on mainnet (TMM's constraint requires it)
        self.ledger.credit_token(str(SIM_FEE_RECIPIENT), str(cctp.USDC_MINT), 0)

    # --- reads (getAccountInfo) ---

    def account(self, address: str) -> ProgramAccount | None:
        if address == str(cctp.TOKEN_MESSENGER):
            data = self.token_messenger.encode()
            return ProgramAccount(str(cctp.TOKEN_MESSENGER_MINTER), data, rent_lamports(len(data)))
        return self.accounts.get(address)

    def snapshot(self) -> dict[str, ProgramAccount]:
        return copy.copy(self.accounts)

    def restore(self, saved: dict[str, ProgramAccount]) -> None:
        self.accounts = saved

    # --- execution ---

    def execute(self, view: InstructionView, signers: set[str]) -> bytes | None:
        """Run one instruction of either program; returns the message a burn emitted (None for a receive)."""
        if view.program_id == cctp.TOKEN_MESSENGER_MINTER and view.data[:8] == cctp.DEPOSIT_FOR_BURN:
            return self._deposit_for_burn(view, signers)
        if view.program_id == cctp.MESSAGE_TRANSMITTER and view.data[:8] == cctp.RECEIVE_MESSAGE:
            self._receive_message(view, signers)
            return None
        if view.program_id == cctp.MESSAGE_TRANSMITTER and view.data[:8] == cctp.RECLAIM_EVENT_ACCOUNT:
            self._reclaim_event_account(view, signers)
            return None
        raise _anchor(view, "InstructionFallbackNotFound", "Fallback functions are not supported")

    def _deposit_for_burn(self, view: InstructionView, signers: set[str]) -> bytes:
        params = _decode(view, cctp.DepositForBurnParams.decode)
        accounts = _accounts(view, cctp.BURN_ACCOUNT_COUNT)
        owner, payer, token_account, event_account = (accounts[cctp.BURN_OWNER], accounts[cctp.BURN_RENT_PAYER],
                                                       accounts[cctp.BURN_TOKEN_ACCOUNT],
                                                       accounts[cctp.BURN_EVENT_ACCOUNT])
        _require_signers(view, signers, owner=owner, event_rent_payer=payer, message_sent_event_data=event_account)
        _expect(view, accounts, {2: cctp.SENDER_AUTHORITY, 4: cctp.denylist_account(Pubkey.from_string(owner)),
                                 5: cctp.MESSAGE_TRANSMITTER_STATE, 6: cctp.TOKEN_MESSENGER, 8: cctp.TOKEN_MINTER,
                                 9: cctp.LOCAL_TOKEN_USDC, 10: cctp.USDC_MINT, 12: cctp.MESSAGE_TRANSMITTER,
                                 13: cctp.TOKEN_MESSENGER_MINTER, 14: cctp.TOKEN_PROGRAM, 15: cctp.SYSTEM_PROGRAM,
                                 16: cctp.TMM_EVENT_AUTHORITY, 17: cctp.TOKEN_MESSENGER_MINTER})
        remote = accounts[cctp.BURN_REMOTE_TOKEN_MESSENGER]
        known = {str(cctp.remote_token_messenger(d)): d for d in REMOTE_TOKEN_MESSENGERS}
        if remote not in known:
            raise _anchor(view, "AccountNotInitialized", "remote_token_messenger: the account is not initialized")
        if params.destination_domain != known[remote]:
            raise _program(view, _TMM_ERRORS, "InvalidDestinationDomain")
        found = self.ledger.token_account(token_account)
        if found is None:
            raise _anchor(view, "AccountNotInitialized", "burn_token_account: the account is not initialized")
        if found[1] != str(cctp.USDC_MINT):
            raise _anchor(view, "ConstraintRaw", "burn_token_account: the mint is not the burn token's")
        if found[0] != owner:
            raise _anchor(view, "ConstraintHasOne", "burn_token_account: has_one = owner")
        if params.amount <= 0:
            raise _program(view, _TMM_ERRORS, "InvalidAmount")
        if params.mint_recipient == bytes(32):
            raise _program(view, _TMM_ERRORS, "InvalidMintRecipient")
        if params.amount <= params.max_fee:
            raise _program(view, _TMM_ERRORS, "MaxFeeMustBeLessThanAmount")
        if params.max_fee < self.token_messenger.min_fee_amount(params.amount):
            raise _program(view, _TMM_ERRORS, "InsufficientMaxFee")
        if found[2] < params.amount:
            raise _spl(view, "insufficient funds", 1)
        self.ledger.debit_token(owner, str(cctp.USDC_MINT), params.amount)
        message = CctpMessage(
            source_domain=SOLANA_DOMAIN, destination_domain=params.destination_domain,
            sender=bytes(cctp.TOKEN_MESSENGER_MINTER), recipient=REMOTE_TOKEN_MESSENGERS[params.destination_domain],
            destination_caller=params.destination_caller, min_finality_threshold=params.min_finality_threshold,
            body=BurnBody(burn_token=bytes(cctp.USDC_MINT), mint_recipient=params.mint_recipient,
                          amount=params.amount, message_sender=bytes(Pubkey.from_string(owner)),
                          max_fee=params.max_fee).encode()).encode()
        created_at = int(self.ledger.clock_now().timestamp())
        data = (cctp.MESSAGE_SENT_ACCOUNT + bytes(Pubkey.from_string(payer)) + struct.pack("<q", created_at)
                + struct.pack("<I", len(message)) + message)
        self._init(view, event_account, payer, str(cctp.MESSAGE_TRANSMITTER), data)
        return message

    def _receive_message(self, view: InstructionView, signers: set[str]) -> None:
        params = _decode(view, cctp.ReceiveMessageParams.decode)
        accounts = _accounts(view, cctp.RECEIVE_ACCOUNT_COUNT)
        payer = accounts[cctp.RECEIVE_PAYER]
        _require_signers(view, signers, payer=payer, caller=accounts[1])
        _expect(view, accounts, {3: cctp.MESSAGE_TRANSMITTER_STATE, 6: cctp.SYSTEM_PROGRAM,
                                 7: cctp.MT_EVENT_AUTHORITY, 8: cctp.MESSAGE_TRANSMITTER})
        receiver = accounts[cctp.RECEIVE_RECEIVER]
        if receiver != str(cctp.TOKEN_MESSENGER_MINTER):
            raise _anchor(view, "ConstraintRaw", f"receiver: {receiver} is not an executable receiver")
        _expect(view, accounts, {2: cctp.MT_AUTHORITY_FOR_TMM})
        if len(params.message) < 148:
            raise _program(view, _MT_ERRORS, "MessageTooShort")
        message = CctpMessage.decode(params.message)
        _expect(view, accounts, {cctp.RECEIVE_USED_NONCE: cctp.used_nonce(message.nonce)})
        self._init(view, accounts[cctp.RECEIVE_USED_NONCE], payer, str(cctp.MESSAGE_TRANSMITTER),
                   cctp.USED_NONCE_ACCOUNT + b"\x01")  # `init` while Anchor loads the accounts
        if message.version != 1:
            raise _program(view, _MT_ERRORS, "InvalidMessageVersion")
        try:
            self.hub.verify(params.message, params.attestation)
        except InvalidAttestation as bad:
            name = ("InvalidAttestationLength" if "threshold" in str(bad) or "65-byte" in str(bad)
                    else "InvalidSignatureOrderOrDupe" if "order" in str(bad) else "InvalidAttesterSignature")
            raise _program(view, _MT_ERRORS, name) from None
        if message.destination_domain != SOLANA_DOMAIN:
            raise _program(view, _MT_ERRORS, "InvalidDestinationDomain")
        if message.destination_caller != bytes(32) and message.destination_caller != bytes(
                Pubkey.from_string(accounts[1])):
            raise _program(view, _MT_ERRORS, "InvalidDestinationCaller")
        if message.recipient != bytes(Pubkey.from_string(receiver)):
            raise _program(view, _MT_ERRORS, "InvalidRecipientProgram")
        self._handle_receive(view, accounts, message)

    def _handle_receive(self, view: InstructionView, accounts: list[str], message: CctpMessage) -> None:
        """TokenMessengerMinterV2.handle_receive_{finalized,unfinalized}_message with the remaining accounts."""
        source = message.source_domain
        if source not in REMOTE_TOKEN_MESSENGERS or accounts[10] != str(cctp.remote_token_messenger(source)):
            raise _anchor(view, "AccountNotInitialized", "remote_token_messenger: the account is not initialized")
        _expect(view, accounts, {9: cctp.TOKEN_MESSENGER, 11: cctp.TOKEN_MINTER, 12: cctp.LOCAL_TOKEN_USDC,
                                 16: cctp.CUSTODY_USDC, 17: cctp.TOKEN_PROGRAM, 18: cctp.TMM_EVENT_AUTHORITY,
                                 19: cctp.TOKEN_MESSENGER_MINTER})
        if message.finality_threshold_executed < 500:
            raise _program(view, _TMM_ERRORS, "UnsupportedFinalityThreshold")
        if message.sender != REMOTE_TOKEN_MESSENGERS[source]:
            raise _program(view, _TMM_ERRORS, "InvalidTokenMessenger")
        try:
            burn = message.burn
        except MalformedMessage:
            raise _program(view, _TMM_ERRORS, "MalformedMessage") from None
        if burn.version != self.token_messenger.message_body_version:
            raise _program(view, _TMM_ERRORS, "InvalidMessageBodyVersion")
        if burn.burn_token != REMOTE_USDC[source] or accounts[13] != str(cctp.token_pair(source, burn.burn_token)):
            raise _anchor(view, "ConstraintSeeds", "token_pair: a seeds constraint was violated")
        fee_account = accounts[cctp.RECEIVE_FEE_RECIPIENT_TOKEN_ACCOUNT]
        if fee_account != str(self.token_messenger.fee_recipient_token_account):
            raise _anchor(view, "ConstraintAssociated", "fee_recipient_token_account: an associated constraint "
                          "was violated")
        recipient = accounts[cctp.RECEIVE_RECIPIENT_TOKEN_ACCOUNT]
        found = self.ledger.token_account(recipient)
        if found is None:
            raise _anchor(view, "AccountNotInitialized", "recipient_token_account: the account is not initialized")
        if found[1] != str(cctp.USDC_MINT):
            raise _anchor(view, "ConstraintRaw", "recipient_token_account: the mint is not the local token's")
        if burn.expiration_block != 0 and burn.expiration_block <= self.ledger.slot():
            raise _program(view, _TMM_ERRORS, "MessageExpired")
        if burn.fee_executed >= burn.amount:
            raise _program(view, _TMM_ERRORS, "FeeExceedsAmount")
        if burn.fee_executed > burn.max_fee:
            raise _program(view, _TMM_ERRORS, "FeeExceedsMaxFee")
        if bytes(Pubkey.from_string(recipient)) != burn.mint_recipient:
            raise _program(view, _TMM_ERRORS, "InvalidMintRecipient")
        if burn.fee_executed:
            self.ledger.credit_token(str(self.token_messenger.fee_recipient), str(cctp.USDC_MINT), burn.fee_executed)
        self.ledger.credit_token(found[0], str(cctp.USDC_MINT), burn.amount - burn.fee_executed)

    def _reclaim_event_account(self, view: InstructionView, signers: set[str]) -> None:
        params = _decode(view, cctp.ReclaimEventAccountParams.decode)
        accounts = _accounts(view, cctp.RECLAIM_ACCOUNT_COUNT)
        payee, address = accounts[cctp.RECLAIM_PAYEE], accounts[cctp.RECLAIM_EVENT_ACCOUNT_INDEX]
        _require_signers(view, signers, payee=payee)
        _expect(view, accounts, {1: cctp.MESSAGE_TRANSMITTER_STATE})
        event = self.accounts.get(address)
        if event is None or event.data[:8] != cctp.MESSAGE_SENT_ACCOUNT:
            raise _anchor(view, "AccountNotInitialized", "message_sent_event_data: the account is not initialized")
        rent_payer = str(Pubkey.from_bytes(event.data[8:40]))
        (created_at,) = struct.unpack_from("<q", event.data, 40)
        message = event.data[52:]
        if rent_payer != payee:
            raise _anchor(view, "ConstraintRaw", "message_sent_event_data: rent_payer == payee")
        if self.ledger.clock_now().timestamp() < created_at + cctp.EVENT_ACCOUNT_WINDOW_SECONDS:
            raise _program(view, _MT_ERRORS, "EventAccountWindowNotExpired")
        if len(params.destination_message) < 148 or cctp.source_fields(message) != cctp.source_fields(
                params.destination_message):
            raise _program(view, _MT_ERRORS, "InvalidDestinationMessage")
        try:
            self.hub.verify(params.destination_message, params.attestation)
        except InvalidAttestation:
            raise _program(view, _MT_ERRORS, "InvalidAttesterSignature") from None
        del self.accounts[address]  # `close = payee`: the rent goes back to the payee
        self.ledger.credit_lamports(payee, event.lamports)

    def _init(self, view: InstructionView, address: str, payer: str, owner: str, data: bytes) -> None:
        """Anchor `init`: the system program creates the account, which must not exist yet; the payer pays rent."""
        if address in self.accounts or self.ledger.balance_lamports(address) > 0 or self.ledger.token_account(
                address) is not None:
            raise _fail(view, f"Allocate: account Address {{ address: {address}, base: None }} already in "
                               "use", {"Custom": 0})
        rent = rent_lamports(len(data))
        if self.ledger.balance_lamports(payer) < rent:
            raise _fail(view, f"Transfer: insufficient lamports {self.ledger.balance_lamports(payer)}, need "
                               f"{rent}", {"Custom": 1})
        self.ledger.debit_lamports(payer, rent)
        self.accounts[address] = ProgramAccount(owner, data, rent)


def _decode(view: InstructionView, decode: Callable[[bytes], _Params]) -> _Params:
    """The instruction's arguments, or Anchor's error for data that does not deserialize."""
    try:
        return decode(view.data)
    except MalformedMessage:
        raise _anchor(view, "InstructionDidNotDeserialize", "The program could not deserialize the given instruction",
                      code=102) from None


def _require_signers(view: InstructionView, signers: set[str], **accounts: str) -> None:
    """Anchor's `Signer` constraint on each named account, in order."""
    for name, key in accounts.items():
        if key not in signers:
            raise _anchor(view, "AccountNotSigner", f"{name}: the account is not a signer")


def _accounts(view: InstructionView, count: int) -> list[str]:
    if len(view.accounts) < count:
        raise _anchor(view, "AccountNotEnoughKeys", "Not enough account keys given to the instruction")
    return [str(a) for a in view.accounts]


def _expect(view: InstructionView, accounts: list[str], expected: dict[int, Pubkey]) -> None:
    for position, key in expected.items():
        if accounts[position] != str(key):
            raise _anchor(view, "ConstraintSeeds", f"account #{position} is {accounts[position]}, expected {key}")


def _fail(view: InstructionView, message: str, error: Any) -> LedgerError:
    return LedgerError(message, data={"err": {"InstructionError": [view.index, error]}, "logs": [message]})


def _anchor(view: InstructionView, name: str, text: str, code: int | None = None) -> LedgerError:
    number = code if code is not None else _ANCHOR_ERRORS[name]
    return _fail(view, f"AnchorError: Error Code: {name}. Error Number: {number}. Error Message: {text}.",
                        {"Custom": number})


def _program(view: InstructionView, names: list[str], name: str) -> LedgerError:
    number = 6000 + names.index(name)
    return _fail(view, f"AnchorError: Error Code: {name}. Error Number: {number}.", {"Custom": number})


def _spl(view: InstructionView, text: str, code: int) -> LedgerError:
    return _fail(view, f"Error processing Instruction {view.index}: custom program error: {code:#x} "
                        f"({text})", {"Custom": code})


def programs_for(world: Any) -> SolanaCctpPrograms:
    """The world's CCTP programs on Solana, created on first use (like the ledger and the hub)."""
    from dnbot.sim.cctp import hub_for
    from dnbot.sim.solana_ledger import ledger_for

    programs = getattr(world, "solana_cctp", None)
    if programs is None:
        programs = SolanaCctpPrograms(ledger_for(world), hub_for(world))
        world.solana_cctp = programs
    assert isinstance(programs, SolanaCctpPrograms)
    return programs

"""The check every Solana transaction passes before the server signs it for a user.

A transaction built by someone else (Asgard's API, a compromised dependency, a man in the middle) must not be
able to spend the user's funds in ways the bot did not intend. Before ANY signature:

- the user's wallet is the fee payer (nobody else's account pays, and the wallet is not a bystander signer);
- every instruction calls an allow-listed program (lending protocols, Jupiter, the token and system programs);
- funds leave the wallet only towards the expected accounts: SOL (system transfers) to the user's own wallet
  or, as a bounded Jito tip, to a Jito tip account; tokens (SPL transfers) to the user's own token accounts or
  to accounts the caller names; no approvals to strangers, no authority changes, no closing an account into
  a stranger's wallet; the priority fee stays bounded.

A refusal names the instruction, the program and the account at fault and says why (`Refusal`).

Opaque instructions of allow-listed protocol programs are trusted to move funds only by their own rules (that
is what the allow-list means); the validator decodes what it can decode with solders (system instructions,
message layout) and solana-py's SPL token decoders (token instructions), and refuses what it cannot verify.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from solders.instruction import AccountMeta, Instruction
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import decode_transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import Transaction, VersionedTransaction
from spl.token.instructions import decode_transfer as decode_spl_transfer
from spl.token.instructions import decode_transfer_checked as decode_spl_transfer_checked

from dnbot.cctp import ARBITRUM_DOMAIN, SOLANA_DOMAIN
from dnbot.cctp import solana as cctp
from dnbot.cctp.message import CctpMessage, MalformedMessage, evm_to_bytes32
from dnbot.domain.assets import USDC, Asset
from dnbot.domain.bridge import MAX_FEE_CAP_RATE

SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
TOKEN_PROGRAM = Pubkey.from_string("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA")
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")

# The lending protocols Asgard routes to (mainnet program ids) and the swap router it uses.
MARGINFI_PROGRAM = Pubkey.from_string("MFv2hWf31Z9kbCa1snEPYctwafyhdvnV7FZnsebVacA")
KAMINO_LENDING_PROGRAM = Pubkey.from_string("KLend2g3cP87fffoy8q1mQqGKjrxjC8boSyAYavgmjD")
SOLEND_PROGRAM = Pubkey.from_string("So1endDq2YkqhipRh3WViPa8hdiSpxWy6z3Z6tMCpAo")
DRIFT_PROGRAM = Pubkey.from_string("dRiftyHA39MWEi3m9aunc5MzRF1JYuBsbn6VPcn33UH")
JUPITER_V6_PROGRAM = Pubkey.from_string("JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4")
# Asgard's own on-chain program id is not published in its API documentation: add it here (or pass it in a
# policy's `extra_programs`) once known; until then a transaction calling it is refused, which fails closed.

PROTOCOL_PROGRAMS: dict[int, Pubkey] = {  # by Asgard protocol code (dnbot.domain.assets.Protocol)
    0: MARGINFI_PROGRAM,
    1: KAMINO_LENDING_PROGRAM,
    2: SOLEND_PROGRAM,
    3: DRIFT_PROGRAM,
}

DEFAULT_ALLOWED_PROGRAMS: frozenset[Pubkey] = frozenset(
    {
        SYSTEM_PROGRAM,
        TOKEN_PROGRAM,
        TOKEN_2022_PROGRAM,
        ASSOCIATED_TOKEN_PROGRAM,
        COMPUTE_BUDGET_PROGRAM,
        MEMO_PROGRAM,
        MARGINFI_PROGRAM,
        KAMINO_LENDING_PROGRAM,
        SOLEND_PROGRAM,
        DRIFT_PROGRAM,
        JUPITER_V6_PROGRAM,
        # Circle CCTP V2 (the USDC bridge): every instruction of theirs is decoded (_check_cctp)
        *cctp.CCTP_PROGRAMS,
    }
)

# Jito's published tip payment accounts (jito-foundation docs, "on-chain addresses").
JITO_TIP_ACCOUNTS: frozenset[Pubkey] = frozenset(
    Pubkey.from_string(a)
    for a in (
        "96gYZGLnJYVFmbjzopPSU6QiEV5fGqZNyN9nmNhvrZU5",
        "HFqU5x63VTqvQss8hp11i4wVV8bD44PvwucfZ2bU7gRe",
        "Cw8CFyM9FkoMi7K7Crf6HNQqf4uEMzpKw6QNghXLvLkY",
        "ADaUMid9yfUytqMBgopwjb2DTLSokTSzL1zt6iGPaS49",
        "DfXygSm4jCyNCybVYYK6DwvWqjKee8pbDmJGcLWNDXjh",
        "ADuUkR4vqLUMWXxW9gh6D6L8pMSawimctcNZ5pGwDcEt",
        "DttWaMuVvTiduZRnguLF7jNxTgiMBZ1hyAumKUiL2KRL",
        "3AVi9Tg9Uo68tJfuvoKvqKNWKkC5wPdSSdeBnizKZ6jT",
    )
)

# Mints whose associated token accounts of the user count as "the user's own".
KNOWN_MINTS: tuple[Pubkey, ...] = (
    Pubkey.from_string(USDC.mint),
    *(Pubkey.from_string(a.token.mint) for a in Asset),
)

# System program instruction tags (u32 little-endian) and SPL token instruction tags (u8).
_SYS_CREATE_ACCOUNT, _SYS_ASSIGN, _SYS_TRANSFER, _SYS_CREATE_WITH_SEED = 0, 1, 2, 3
_SYS_ADVANCE_NONCE, _SYS_ALLOCATE, _SYS_TRANSFER_WITH_SEED = 4, 8, 11
_SPL_INIT_ACCOUNTS = {1, 16, 18}
_SPL_TRANSFER, _SPL_APPROVE, _SPL_REVOKE, _SPL_SET_AUTHORITY = 3, 4, 5, 6
_SPL_BURN, _SPL_CLOSE, _SPL_TRANSFER_CHECKED, _SPL_APPROVE_CHECKED = 8, 9, 12, 13
_SPL_BURN_CHECKED, _SPL_SYNC_NATIVE = 15, 17
_CB_SET_LIMIT, _CB_SET_PRICE = 2, 3


@dataclass(frozen=True, slots=True)
class Refusal:
    """One reason a transaction is refused: where (instruction, program, account) and why."""

    reason: str
    instruction_index: int | None = None
    program: str | None = None
    account: str | None = None

    def __str__(self) -> str:
        where = []
        if self.instruction_index is not None:
            where.append(f"instruction #{self.instruction_index}")
        if self.program is not None:
            where.append(f"program {self.program}")
        if self.account is not None:
            where.append(f"account {self.account}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class TransactionRefusedError(Exception):
    """The validator refused to let this transaction be signed."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("transaction refused: " + "; ".join(str(r) for r in refusals))


@dataclass(frozen=True)
class SigningPolicy:
    """What a transaction signed for `wallet` may do."""

    wallet: Pubkey
    allowed_programs: frozenset[Pubkey] = DEFAULT_ALLOWED_PROGRAMS
    # Wallets SOL may be sent to, besides the user's own (and the Jito tip accounts, bounded below).
    allowed_recipients: frozenset[Pubkey] = frozenset()
    # Token accounts tokens may be sent to, besides the user's own ATAs of KNOWN_MINTS.
    allowed_token_accounts: frozenset[Pubkey] = frozenset()
    max_tip_lamports: int = 10_000_000  # 0.01 SOL: a generous Jito tip, not a drain
    max_priority_fee_lamports: int = 10_000_000
    max_rent_lamports: int = 50_000_000  # account creations the user pays rent for (positions, ATAs)
    # The user's own EVM address: the only mint recipient a CCTP burn may name (None: no burn is signed).
    evm_address: str | None = None
    own_token_accounts: frozenset[Pubkey] = field(init=False)

    def __post_init__(self) -> None:
        own = {get_associated_token_address(self.wallet, mint) for mint in KNOWN_MINTS}
        own |= {get_associated_token_address(self.wallet, mint, TOKEN_2022_PROGRAM) for mint in KNOWN_MINTS}
        object.__setattr__(self, "own_token_accounts", frozenset(own))

    @classmethod
    def for_wallet(
        cls,
        wallet: str | Pubkey,
        *,
        extra_programs: Iterable[str | Pubkey] = (),
        extra_recipients: Iterable[str | Pubkey] = (),
        extra_token_accounts: Iterable[str | Pubkey] = (),
        evm_address: str | None = None,
    ) -> SigningPolicy:
        def keys(values: Iterable[str | Pubkey]) -> frozenset[Pubkey]:
            return frozenset(v if isinstance(v, Pubkey) else Pubkey.from_string(v) for v in values)

        return cls(
            wallet=wallet if isinstance(wallet, Pubkey) else Pubkey.from_string(wallet),
            allowed_programs=DEFAULT_ALLOWED_PROGRAMS | keys(extra_programs),
            allowed_recipients=keys(extra_recipients),
            allowed_token_accounts=keys(extra_token_accounts),
            evm_address=evm_address,
        )


@dataclass(frozen=True, slots=True)
class InstructionView:
    """A compiled instruction with its keys resolved (None: loaded from an address lookup table)."""

    index: int
    program_id: Pubkey
    accounts: tuple[Pubkey | None, ...]
    data: bytes

    def account(self, position: int) -> Pubkey | None:
        return self.accounts[position] if position < len(self.accounts) else None

    def as_instruction(self) -> Instruction | None:
        """A solders Instruction for the decoders, if every account is known."""
        if any(a is None for a in self.accounts):
            return None
        metas = [AccountMeta(a, is_signer=False, is_writable=True) for a in self.accounts if a is not None]
        return Instruction(self.program_id, self.data, metas)


LookupResolver = Callable[[Pubkey], list[Pubkey]]


def parse_transaction(
    tx: str | bytes | VersionedTransaction | Transaction,
) -> VersionedTransaction | Transaction:
    """A transaction from base64 text, wire bytes or an object; versioned (v0) first, then legacy."""
    if isinstance(tx, VersionedTransaction | Transaction):
        return tx
    raw = base64.b64decode(tx) if isinstance(tx, str) else tx
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError:
        return Transaction.from_bytes(raw)


def instructions_of(
    message: Message | MessageV0, resolver: LookupResolver | None = None
) -> list[InstructionView]:
    """Every top-level instruction with its program and accounts as public keys."""
    keys: list[Pubkey | None] = list(message.account_keys)
    if isinstance(message, MessageV0):
        writable: list[Pubkey | None] = []
        readonly: list[Pubkey | None] = []
        for lookup in message.address_table_lookups:
            table = resolver(lookup.account_key) if resolver else None
            writable += [
                table[i] if table and i < len(table) else None for i in bytes(lookup.writable_indexes)
            ]
            readonly += [
                table[i] if table and i < len(table) else None for i in bytes(lookup.readonly_indexes)
            ]
        keys += writable + readonly
    views = []
    for index, compiled in enumerate(message.instructions):
        program = keys[compiled.program_id_index]
        if program is None:  # the runtime forbids it too; guard the type
            program = Pubkey.default()
        views.append(
            InstructionView(
                index, program, tuple(keys[i] for i in bytes(compiled.accounts)), bytes(compiled.data)
            )
        )
    return views


def validate_transaction(
    tx: str | bytes | VersionedTransaction | Transaction,
    policy: SigningPolicy,
    resolver: LookupResolver | None = None,
) -> None:
    """Raise TransactionRefusedError (with every reason found) unless `policy` allows the transaction."""
    parsed = parse_transaction(tx)
    message = parsed.message
    if not isinstance(message, Message | MessageV0):  # fail closed on message versions we cannot read
        raise TransactionRefusedError([Refusal(f"unsupported message version {type(message).__name__}")])
    refusals: list[Refusal] = []
    fee_payer = message.account_keys[0] if message.account_keys else None
    if fee_payer != policy.wallet:
        refusals.append(
            Refusal(
                f"the fee payer is {fee_payer}, not the user's wallet {policy.wallet}", account=str(fee_payer)
            )
        )
    priority_micro_lamports_per_cu = 0
    compute_units = 200_000 * max(1, len(message.instructions))
    for view in instructions_of(message, resolver):
        program = view.program_id
        if program not in policy.allowed_programs:
            refusals.append(Refusal("the program is not on the allow-list", view.index, str(program)))
            continue
        if program == SYSTEM_PROGRAM:
            refusals += _check_system(view, policy)
        elif program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
            refusals += _check_token(view, policy)
        elif program in cctp.CCTP_PROGRAMS:
            refusals += _check_cctp(view, policy)
        elif program == COMPUTE_BUDGET_PROGRAM and view.data:
            if view.data[0] == _CB_SET_LIMIT and len(view.data) >= 5:
                compute_units = struct.unpack_from("<I", view.data, 1)[0]
            elif view.data[0] == _CB_SET_PRICE and len(view.data) >= 9:
                priority_micro_lamports_per_cu = struct.unpack_from("<Q", view.data, 1)[0]
    priority_fee = priority_micro_lamports_per_cu * compute_units // 1_000_000
    if priority_fee > policy.max_priority_fee_lamports:
        refusals.append(
            Refusal(
                f"the priority fee would be {priority_fee} lamports, over the "
                f"{policy.max_priority_fee_lamports} lamport cap",
                program=str(COMPUTE_BUDGET_PROGRAM),
            )
        )
    if refusals:
        raise TransactionRefusedError(refusals)


def _check_system(view: InstructionView, policy: SigningPolicy) -> list[Refusal]:
    program = str(SYSTEM_PROGRAM)
    if len(view.data) < 4:
        return [Refusal("malformed system instruction", view.index, program)]
    tag = struct.unpack_from("<I", view.data)[0]
    if tag == _SYS_TRANSFER:
        decodable = view.as_instruction()
        if decodable is None:
            return [
                Refusal(
                    "a SOL transfer whose accounts come from a lookup table cannot be verified",
                    view.index,
                    program,
                )
            ]
        params = decode_transfer(decodable)
        return _check_sol_recipient(view, params["to_pubkey"], params["lamports"], policy)
    if tag == _SYS_TRANSFER_WITH_SEED:
        recipient = view.account(2)
        lamports = struct.unpack_from("<Q", view.data, 4)[0] if len(view.data) >= 12 else 0
        if recipient is None:
            return [Refusal("a SOL transfer to an unresolvable account", view.index, program)]
        return _check_sol_recipient(view, recipient, lamports, policy)
    if tag in (_SYS_CREATE_ACCOUNT, _SYS_CREATE_WITH_SEED):
        offset = 4 if tag == _SYS_CREATE_ACCOUNT else 4 + 32 + 8 + struct.unpack_from("<Q", view.data, 36)[0]
        lamports = struct.unpack_from("<Q", view.data, offset)[0] if len(view.data) >= offset + 8 else 0
        if lamports > policy.max_rent_lamports:
            return [
                Refusal(
                    f"creates an account funded with {lamports} lamports, over the "
                    f"{policy.max_rent_lamports} lamport rent cap",
                    view.index,
                    program,
                    str(view.account(1)),
                )
            ]
        return []
    if tag in (_SYS_ASSIGN, _SYS_ALLOCATE) and view.account(0) == policy.wallet:
        return [
            Refusal("would reassign or reallocate the user's wallet", view.index, program, str(policy.wallet))
        ]
    if tag in (_SYS_ASSIGN, _SYS_ALLOCATE, _SYS_ADVANCE_NONCE):
        return []
    return [Refusal(f"system instruction {tag} is not permitted", view.index, program)]


def _check_sol_recipient(
    view: InstructionView, recipient: Pubkey, lamports: int, policy: SigningPolicy
) -> list[Refusal]:
    if recipient == policy.wallet or recipient in policy.allowed_recipients:
        return []
    if recipient in JITO_TIP_ACCOUNTS:
        if lamports <= policy.max_tip_lamports:
            return []
        return [
            Refusal(
                f"a Jito tip of {lamports} lamports is over the {policy.max_tip_lamports} lamport cap",
                view.index,
                str(SYSTEM_PROGRAM),
                str(recipient),
            )
        ]
    return [
        Refusal(
            f"transfers {lamports} lamports to {recipient}, which is neither the user's wallet nor an "
            "expected account",
            view.index,
            str(SYSTEM_PROGRAM),
            str(recipient),
        )
    ]


def _token_destination_ok(account: Pubkey | None, policy: SigningPolicy) -> bool:
    return account is not None and (
        account in policy.own_token_accounts or account in policy.allowed_token_accounts
    )


def _check_token(view: InstructionView, policy: SigningPolicy) -> list[Refusal]:
    program = str(view.program_id)
    if not view.data:
        return [Refusal("malformed token instruction", view.index, program)]
    tag = view.data[0]
    if tag in (_SPL_TRANSFER, _SPL_TRANSFER_CHECKED):
        decodable = view.as_instruction()
        if decodable is None:
            return [
                Refusal(
                    "a token transfer whose accounts come from a lookup table cannot be verified",
                    view.index,
                    program,
                )
            ]
        decode = decode_spl_transfer if tag == _SPL_TRANSFER else decode_spl_transfer_checked
        params = decode(decodable)
        if _token_destination_ok(params.dest, policy):
            return []
        return [
            Refusal(
                f"transfers {params.amount} token base units to {params.dest}, which is not a token "
                "account of the user's nor an expected account",
                view.index,
                program,
                str(params.dest),
            )
        ]
    if tag in (_SPL_APPROVE, _SPL_APPROVE_CHECKED):
        delegate = view.account(1 if tag == _SPL_APPROVE else 2)
        if delegate == policy.wallet or (delegate is not None and delegate in policy.allowed_recipients):
            return []
        return [
            Refusal(f"approves {delegate} to spend the user's tokens", view.index, program, str(delegate))
        ]
    if tag == _SPL_SET_AUTHORITY:
        return [Refusal("changes a token account's authority", view.index, program, str(view.account(0)))]
    if tag == _SPL_CLOSE:
        destination = view.account(1)
        if destination == policy.wallet or (
            destination is not None and destination in policy.allowed_recipients
        ):
            return []
        return [
            Refusal(
                f"closes a token account into {destination}, not the user's wallet",
                view.index,
                program,
                str(destination),
            )
        ]
    if tag in (_SPL_BURN, _SPL_BURN_CHECKED):
        return [
            Refusal(
                "burns tokens: the bot never destroys a user's funds",
                view.index,
                program,
                str(view.account(0)),
            )
        ]
    if tag in (*_SPL_INIT_ACCOUNTS, _SPL_REVOKE, _SPL_SYNC_NATIVE):
        return []
    return [Refusal(f"token instruction {tag} is not permitted", view.index, program)]


def _check_cctp(view: InstructionView, policy: SigningPolicy) -> list[Refusal]:
    """Circle CCTP V2: only a burn of the user's USDC to the user's own EVM address (Arbitrum, no designated
    caller, a bounded fee), a receive minting to the user's own USDC account and the reclaim of an event
    account's rent by the user's wallet; any other instruction of MessageTransmitterV2 or TokenMessengerMinterV2
    is refused."""
    program = str(view.program_id)
    if any(a is None for a in view.accounts):
        return [Refusal("a CCTP instruction whose accounts come from a lookup table cannot be verified",
                        view.index, program)]
    own_usdc = cctp.usdc_account(policy.wallet)
    if view.program_id == cctp.TOKEN_MESSENGER_MINTER and view.data[:8] == cctp.DEPOSIT_FOR_BURN:
        return _check_cctp_burn(view, policy, own_usdc)
    if view.program_id == cctp.MESSAGE_TRANSMITTER and view.data[:8] == cctp.RECEIVE_MESSAGE:
        return _check_cctp_receive(view, policy, own_usdc)
    if view.program_id == cctp.MESSAGE_TRANSMITTER and view.data[:8] == cctp.RECLAIM_EVENT_ACCOUNT:
        try:
            cctp.ReclaimEventAccountParams.decode(view.data)
        except MalformedMessage as bad:
            return [Refusal(str(bad), view.index, program)]
        payee = view.account(cctp.RECLAIM_PAYEE)
        if len(view.accounts) != cctp.RECLAIM_ACCOUNT_COUNT or payee != policy.wallet:
            return [Refusal("reclaims an event account's rent for another account", view.index, program,
                            str(payee))]
        return []
    return [Refusal("a CCTP instruction other than deposit_for_burn, receive_message or reclaim_event_account",
                    view.index, program)]


def _check_cctp_burn(view: InstructionView, policy: SigningPolicy, own_usdc: Pubkey) -> list[Refusal]:
    program = str(view.program_id)
    try:
        params = cctp.DepositForBurnParams.decode(view.data)
    except MalformedMessage as bad:
        return [Refusal(str(bad), view.index, program)]
    if len(view.accounts) != cctp.BURN_ACCOUNT_COUNT:
        return [Refusal(f"deposit_for_burn with {len(view.accounts)} accounts, expected {cctp.BURN_ACCOUNT_COUNT}",
                        view.index, program)]
    refusals = []

    def refuse(reason: str, account: Pubkey | None = None) -> None:
        refusals.append(Refusal(reason, view.index, program, None if account is None else str(account)))

    owner, payer = view.account(cctp.BURN_OWNER), view.account(cctp.BURN_RENT_PAYER)
    if owner != policy.wallet or payer != policy.wallet:
        refuse("burns for another owner (or has another account pay the event rent)", owner)
    burn_account = view.account(cctp.BURN_TOKEN_ACCOUNT)
    if burn_account != own_usdc:
        refuse("burns from a token account that is not the user's USDC account", burn_account)
    if view.account(cctp.BURN_MINT) != cctp.USDC_MINT:
        refuse("burns a token other than USDC", view.account(cctp.BURN_MINT))
    remote = view.account(cctp.BURN_REMOTE_TOKEN_MESSENGER)
    if params.destination_domain != ARBITRUM_DOMAIN or remote != cctp.remote_token_messenger(ARBITRUM_DOMAIN):
        refuse(f"burns towards domain {params.destination_domain}, not Arbitrum ({ARBITRUM_DOMAIN})", remote)
    if policy.evm_address is None:
        refuse("the signing policy names no EVM address of the user's to mint to")
    elif params.mint_recipient != evm_to_bytes32(policy.evm_address):
        refuse(f"mints to 0x{params.mint_recipient.hex()}, not the user's EVM address {policy.evm_address}")
    if params.destination_caller != bytes(32):
        refuse("names a destination caller: only that caller could mint")
    if params.amount <= 0 or params.max_fee > params.amount * MAX_FEE_CAP_RATE:
        refuse(f"offers a fee of up to {params.max_fee} on {params.amount} base units, over the "
               f"{MAX_FEE_CAP_RATE * 100:.1f} % cap")
    return refusals


def _check_cctp_receive(view: InstructionView, policy: SigningPolicy, own_usdc: Pubkey) -> list[Refusal]:
    program = str(view.program_id)
    try:
        params = cctp.ReceiveMessageParams.decode(view.data)
        message = CctpMessage.decode(params.message)
        burn = message.burn
    except MalformedMessage as bad:
        return [Refusal(str(bad), view.index, program)]
    if len(view.accounts) != cctp.RECEIVE_ACCOUNT_COUNT:
        return [Refusal(f"receive_message with {len(view.accounts)} accounts, expected "
                        f"{cctp.RECEIVE_ACCOUNT_COUNT}", view.index, program)]
    refusals = []
    receiver = view.account(cctp.RECEIVE_RECEIVER)
    if receiver != cctp.TOKEN_MESSENGER_MINTER or message.recipient != bytes(cctp.TOKEN_MESSENGER_MINTER):
        refusals.append(Refusal("the message is not for TokenMessengerMinterV2", view.index, program,
                                str(receiver)))
    if message.destination_domain != SOLANA_DOMAIN:
        refusals.append(Refusal(f"the message is for domain {message.destination_domain}, not Solana",
                                view.index, program))
    recipient = view.account(cctp.RECEIVE_RECIPIENT_TOKEN_ACCOUNT)
    if recipient != own_usdc or burn.mint_recipient != bytes(own_usdc):
        refusals.append(Refusal("mints to a token account that is not the user's USDC account", view.index,
                                program, str(recipient)))
    if view.account(cctp.RECEIVE_PAYER) != policy.wallet:
        refusals.append(Refusal("another account pays the nonce's rent", view.index, program,
                                str(view.account(cctp.RECEIVE_PAYER))))
    return refusals


# The name the ports' docstrings use.
TransactionRefused = TransactionRefusedError

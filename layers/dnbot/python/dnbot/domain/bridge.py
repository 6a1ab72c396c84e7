"""A USDC transfer between Solana and Arbitrum on Circle's CCTP V2 (docs/bridge.md), as one durable record.

The record is written before anything is sent and moves `planned -> burn_signed -> burned -> attested -> minted ->
credited` (plus `abandoned`: provably never burned, and `needs_attention`), each step storing the evidence that
lets a retry resume without burning twice (docs/bridge.md section 5). One step goes back: `attested -> burned`
when the destination chain refused the Fast message as expired and Iris was asked to re-attest it (`Reattested`,
once per record: `reattested_at`); the next `Attested` must carry the same CCTP nonce. Pure: no I/O; money in
Decimal USDC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import Enum
from typing import Any

from dnbot.domain.rebalance import TO_LONG, TO_SHORT

SOLANA_DOMAIN = 5  # CCTP domain ids [docs/bridge.md section 1]
ARBITRUM_DOMAIN = 3
USDC_MICRO = Decimal("0.000001")  # USDC has 6 decimals on both chains: amounts are whole micro-units
MAX_FEE_CAP_RATE = Decimal("0.002")  # a burn's max_fee above 0.2 % of its amount is refused
FAST_OVERDUE = timedelta(minutes=30)  # not credited this long after the burn: a drift (`bridge_overdue`)
STANDARD_OVERDUE = timedelta(hours=2)
# The start of `error` on a record the operator was told is overdue (services.bridge `report_overdue`): kept while
# it is not final, so the alert is sent once per record; readers (the balances view) test it without the service.
OVERDUE_REPORTED = "bridge_overdue"
# MessageTransmitterV2 closes a burn's event account (its rent back to the payer) only once it is this old
# (EVENT_ACCOUNT_WINDOW_SECONDS, dnbot.cctp.solana); the margin covers the chain's clock against ours.
EVENT_ACCOUNT_WINDOW = timedelta(days=5)
RECLAIM_MARGIN = timedelta(minutes=10)
ZERO = Decimal(0)


class BridgeDirection(str, Enum):
    TO_SHORT = TO_SHORT  # after a rally: Solana -> Arbitrum (partial-close proceeds to the short's margin)
    TO_LONG = TO_LONG  # after a fall: Arbitrum -> Solana (the short's spare margin repays the long's debt)


class BridgeState(str, Enum):
    PLANNED = "planned"  # recorded, nothing signed
    BURN_SIGNED = "burn_signed"  # the signed burn is stored; it may or may not have been sent
    BURNED = "burned"  # the burn landed on the source chain
    ATTESTED = "attested"  # Iris signed the message
    MINTED = "minted"  # minted to mint_recipient on the destination chain
    CREDITED = "credited"  # the venue holds it (Hyperliquid account value / Asgard collateral)
    ABANDONED = "abandoned"  # provably never burned
    NEEDS_ATTENTION = "needs_attention"  # a failure a person must look at; resumable from its evidence


FINAL = frozenset({BridgeState.CREDITED, BridgeState.ABANDONED})
IN_FLIGHT = frozenset({BridgeState.BURNED, BridgeState.ATTESTED, BridgeState.MINTED})
# a workflow or the reconciler is still moving the transfer's USDC (planned: reserved; later: on its way); not
# final, and not left to an operator: a new open waits for it, a withdrawal could take it
MOVING = frozenset(BridgeState) - FINAL - {BridgeState.NEEDS_ATTENTION}


class IllegalBridgeTransition(Exception):
    """An event the record's state (or its evidence) does not allow; the record is unchanged."""


def domains(direction: BridgeDirection) -> tuple[int, int]:
    """(source, destination) CCTP domains of a direction."""
    if BridgeDirection(direction) is BridgeDirection.TO_SHORT:
        return SOLANA_DOMAIN, ARBITRUM_DOMAIN
    return ARBITRUM_DOMAIN, SOLANA_DOMAIN


def transfer_id_for(position_id: str, n: int, direction: BridgeDirection) -> str:
    """`<position_id>:<rebalance n>:<direction>`: one transfer per rebalance of a position, so a retried
    workflow finds its record instead of creating a second one."""
    if not position_id or ":" in position_id:
        raise ValueError(f"position id {position_id!r} must be non-empty and hold no ':'")
    if n < 0:
        raise ValueError(f"rebalance number {n} must be >= 0")
    return f"{position_id}:{n}:{BridgeDirection(direction).value}"


def max_fee_usd(amount: Decimal, bps: Decimal | int) -> Decimal:
    """The burn's max_fee: ceil(amount x (bps + 1) / 10000) to the micro-USDC (one basis point over Iris's Fast
    fee, as Circle's client does: a max_fee under the fee reverts the burn)."""
    if amount <= ZERO or bps < 0:
        raise ValueError(f"amount {amount} must be > 0 and fee bps {bps} >= 0")
    return (amount * (Decimal(bps) + 1) / Decimal(10_000)).quantize(USDC_MICRO, rounding=ROUND_CEILING)


def fee_within_cap(amount: Decimal, max_fee: Decimal) -> bool:
    """True if 0 <= max_fee <= 0.2 % of the amount (the signing validators refuse more)."""
    return ZERO <= max_fee <= amount * MAX_FEE_CAP_RATE


def _whole_micro(value: Decimal) -> bool:
    return value.is_finite() and value == value.quantize(USDC_MICRO)


@dataclass(frozen=True, slots=True)
class BridgeTransfer:
    transfer_id: str  # transfer_id_for(position_id, n, direction)
    user_id: str
    position_id: str
    direction: BridgeDirection
    amount_usd: Decimal  # USDC burned
    max_fee_usd: Decimal  # the burn's max_fee (USDC)
    source_domain: int
    destination_domain: int
    mint_recipient: str  # the user's Arbitrum address (to_short) or Solana USDC token account (to_long)
    state: BridgeState
    created_at: datetime
    updated_at: datetime
    version: int = 0  # +1 per advance; a store saves only over version - 1
    # burn_signed: stored before the send, so a retry resends these bytes or rebuilds with the same guard
    signed_burn: str | None = None  # the signed transaction (base64 Solana / hex EVM)
    event_account: str | None = None  # Solana: the event keypair's pubkey (a second burn with it cannot land)
    evm_nonce: int | None = None  # Arbitrum: the account nonce of the burn (a second burn with it cannot land)
    # burned
    burn_tx: str | None = None
    burned_at: datetime | None = None
    # attested (Iris's message, never the source chain's: V2 nonces are assigned at attestation)
    message: str | None = None  # hex
    attestation: str | None = None  # hex
    cctp_nonce: str | None = None  # hex, 32 bytes
    fee_executed_usd: Decimal | None = None
    # re-attestation asked for: the Fast message expired before its mint (kept once the new attestation is in)
    reattested_at: datetime | None = None
    # minted
    mint_tx: str | None = None  # None when found minted by reading the nonce ("nonce already used")
    minted_usd: Decimal | None = None
    # credited
    credited_at: datetime | None = None
    error: str | None = None  # why abandoned / needs attention
    # after credited, a Solana burn's event account rent (paid by the user's wallet) is reclaimed once 5 days old:
    signed_reclaim: str | None = None  # the signed reclaim_event_account (base64), stored before it is sent
    reclaim_tx: str | None = None  # the reclaim that landed (None when the account was found closed already)
    rent_reclaimed_at: datetime | None = None
    reclaim_error: str | None = None  # the program refused the reclaim for good: the rent stays (operator)


def new_transfer(*, user_id: str, position_id: str, n: int, direction: BridgeDirection, amount_usd: Decimal,
                 max_fee: Decimal, mint_recipient: str, at: datetime) -> BridgeTransfer:
    """A `planned` record, checked as the burn will be: amount > 0 in whole micro-USDC, max_fee under the amount
    (CCTP requires it) and under the cap."""
    direction = BridgeDirection(direction)
    if amount_usd <= ZERO or not _whole_micro(amount_usd):
        raise ValueError(f"amount {amount_usd} USDC must be > 0 in whole micro-USDC")
    if not _whole_micro(max_fee) or not fee_within_cap(amount_usd, max_fee) or max_fee >= amount_usd:
        raise ValueError(f"max fee {max_fee} USDC must be >= 0, in whole micro-USDC, and at most "
                         f"{MAX_FEE_CAP_RATE:%} of {amount_usd} USDC")
    if not mint_recipient:
        raise ValueError("mint recipient must be set")
    source, destination = domains(direction)
    return BridgeTransfer(transfer_id_for(position_id, n, direction), user_id, position_id, direction, amount_usd,
                          max_fee, source, destination, mint_recipient, BridgeState.PLANNED, at, at)


# --- events: what each step proves ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BurnSigned:
    signed_burn: str
    event_account: str | None = None  # Solana source (to_short)
    evm_nonce: int | None = None  # Arbitrum source (to_long)


@dataclass(frozen=True, slots=True)
class Burned:
    burn_tx: str


@dataclass(frozen=True, slots=True)
class Attested:
    message: str
    attestation: str
    cctp_nonce: str
    fee_executed_usd: Decimal


@dataclass(frozen=True, slots=True)
class Reattested:
    """The destination chain refused the attested Fast message as expired and Iris accepted to re-sign it as
    finalized: the record waits for the new attestation (of the same nonce) at `burned`."""


@dataclass(frozen=True, slots=True)
class Minted:
    mint_tx: str | None
    minted_usd: Decimal


@dataclass(frozen=True, slots=True)
class Credited:
    pass


@dataclass(frozen=True, slots=True)
class Abandoned:
    reason: str


@dataclass(frozen=True, slots=True)
class NeedsAttention:
    reason: str


BridgeEvent = BurnSigned | Burned | Attested | Reattested | Minted | Credited | Abandoned | NeedsAttention

_PROGRESS = (BridgeState.PLANNED, BridgeState.BURN_SIGNED, BridgeState.BURNED, BridgeState.ATTESTED,
             BridgeState.MINTED)


def stage(record: BridgeTransfer) -> BridgeState:
    """The step the record stands at: its state, or for `needs_attention` the last step its evidence proves."""
    if record.state is not BridgeState.NEEDS_ATTENTION:
        return record.state
    if record.minted_usd is not None:
        return BridgeState.MINTED
    if record.attestation is not None:
        return BridgeState.ATTESTED
    if record.burn_tx is not None:
        return BridgeState.BURNED
    if record.signed_burn is not None:
        return BridgeState.BURN_SIGNED
    return BridgeState.PLANNED


def _hex(name: str, value: str, size: int | None = None) -> None:
    digits = value.removeprefix("0x")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise IllegalBridgeTransition(f"{name} is not hex") from None
    if not raw or (size is not None and len(raw) != size):
        raise IllegalBridgeTransition(f"{name} must be {size or 'some'} bytes, got {len(raw)}")


@dataclass(frozen=True, slots=True)
class _Rule:
    target: BridgeState
    sources: frozenset[BridgeState]  # the stages the event may follow
    evidence: Mapping[str, Any]  # set, and compared for idempotency
    stamps: Mapping[str, Any]  # set only when the event applies


def _rule(record: BridgeTransfer, event: BridgeEvent, at: datetime) -> _Rule:
    """What the event proves and where it may come from; raises if its evidence is malformed."""
    progress = {"error": None}  # leaving needs_attention for a step clears the reason
    if isinstance(event, BurnSigned):
        if not event.signed_burn:
            raise IllegalBridgeTransition("signed burn is empty")
        solana = record.direction is BridgeDirection.TO_SHORT
        if solana and (not event.event_account or event.evm_nonce is not None):
            raise IllegalBridgeTransition("a Solana burn stores its event account (and no EVM nonce)")
        if not solana and (event.evm_nonce is None or event.evm_nonce < 0 or event.event_account is not None):
            raise IllegalBridgeTransition("an Arbitrum burn stores its account nonce (and no event account)")
        sources = {BridgeState.PLANNED}
        if (event.event_account, event.evm_nonce) == (record.event_account, record.evm_nonce):
            sources.add(BridgeState.BURN_SIGNED)  # rebuilt with the same guard: at most one of them can land
        return _Rule(BridgeState.BURN_SIGNED, frozenset(sources),
                     {"signed_burn": event.signed_burn, "event_account": event.event_account,
                      "evm_nonce": event.evm_nonce}, progress)
    if isinstance(event, Burned):
        if not event.burn_tx:
            raise IllegalBridgeTransition("burn tx is empty")
        return _Rule(BridgeState.BURNED, frozenset({BridgeState.BURN_SIGNED}), {"burn_tx": event.burn_tx},
                     {**progress, "burned_at": record.burned_at or at})
    if isinstance(event, Attested):
        _hex("message", event.message)
        _hex("attestation", event.attestation)
        _hex("cctp nonce", event.cctp_nonce, 32)
        fee = event.fee_executed_usd
        if not _whole_micro(fee) or not ZERO <= fee <= record.max_fee_usd:
            raise IllegalBridgeTransition(f"fee executed {fee} USDC is outside 0..max fee {record.max_fee_usd}")
        if record.cctp_nonce is not None and event.cctp_nonce != record.cctp_nonce:
            raise IllegalBridgeTransition(f"cctp nonce {event.cctp_nonce} is not the burn's {record.cctp_nonce}")
        sources = {BridgeState.BURNED}
        if event.cctp_nonce == record.cctp_nonce:
            sources.add(BridgeState.ATTESTED)  # re-attested (POST /v2/reattest): same burn, new signatures
        return _Rule(BridgeState.ATTESTED, frozenset(sources),
                     {"message": event.message, "attestation": event.attestation, "cctp_nonce": event.cctp_nonce,
                      "fee_executed_usd": fee}, progress)
    if isinstance(event, Reattested):  # back to burned: the expired attestation is dropped, its nonce and fee kept
        if record.cctp_nonce is None:
            raise IllegalBridgeTransition(f"bridge transfer {record.transfer_id} has no attested message to re-attest")
        if record.reattested_at is not None and record.attestation is not None:
            raise IllegalBridgeTransition(f"bridge transfer {record.transfer_id} was re-attested already at "
                                          f"{record.reattested_at:%Y-%m-%d %H:%M:%S} UTC")
        return _Rule(BridgeState.BURNED, frozenset({BridgeState.ATTESTED}),
                     {"message": None, "attestation": None}, {**progress, "reattested_at": record.reattested_at or at})
    if isinstance(event, Minted):
        minted = event.minted_usd
        if event.mint_tx == "" or not _whole_micro(minted) or not ZERO < minted <= record.amount_usd:
            raise IllegalBridgeTransition(f"minted {minted} USDC must be in 0..{record.amount_usd}, tx non-empty")
        return _Rule(BridgeState.MINTED, frozenset({BridgeState.ATTESTED}),
                     {"mint_tx": event.mint_tx, "minted_usd": minted}, progress)
    if isinstance(event, Credited):
        return _Rule(BridgeState.CREDITED, frozenset({BridgeState.MINTED}), {},
                     {**progress, "credited_at": record.credited_at or at})
    if not event.reason:
        raise IllegalBridgeTransition("a reason is required")
    if isinstance(event, Abandoned):  # only while nothing can have burned
        return _Rule(BridgeState.ABANDONED, frozenset({BridgeState.PLANNED, BridgeState.BURN_SIGNED}),
                     {"error": event.reason}, {})
    return _Rule(BridgeState.NEEDS_ATTENTION, frozenset(_PROGRESS), {"error": event.reason}, {})


def advance(record: BridgeTransfer, event: BridgeEvent, at: datetime) -> BridgeTransfer:
    """The record after `event` at `at` (version + 1), or the record itself if it is already in the event's state
    with the same evidence (a workflow retry). Raises IllegalBridgeTransition for an event its state does not
    allow (e.g. Minted before Attested, anything after credited/abandoned, Abandoned once burned) or different
    evidence for a step already taken. Two repeats are moves, not conflicts: a burn rebuilt with the same event
    account / EVM nonce (only one can land) and a re-attestation of the same CCTP nonce. One move goes back,
    once per record: Reattested (attested -> burned, the expired attestation dropped). A `needs_attention`
    record resumes from the step its evidence proves."""
    rule = _rule(record, event, at)
    held = all(getattr(record, name) == value for name, value in rule.evidence.items())
    if record.state is rule.target and held:
        return record
    if record.state in FINAL:
        raise IllegalBridgeTransition(f"bridge transfer {record.transfer_id} is {record.state.value}: "
                                      f"{type(event).__name__} refused")
    now = stage(record)
    if now not in rule.sources and not (now is rule.target and held):
        raise IllegalBridgeTransition(f"bridge transfer {record.transfer_id} at {now.value}: "
                                      f"{type(event).__name__} refused")
    changes: dict[str, Any] = {**rule.evidence, **rule.stamps}
    return replace(record, **changes, state=rule.target, version=record.version + 1, updated_at=at)


def expected_arrival_usd(record: BridgeTransfer) -> Decimal:
    """What reaches the destination: the minted amount once known, else the amount less the fee executed (once
    attested) or the max fee (the most it can be)."""
    if record.minted_usd is not None:
        return record.minted_usd
    fee = record.fee_executed_usd if record.fee_executed_usd is not None else record.max_fee_usd
    return record.amount_usd - fee


def in_flight_usd(records: Iterable[BridgeTransfer]) -> Decimal:
    """USDC in transit: the records burned but not credited (burned, attested, minted; a `needs_attention` one
    by its evidence), each at its expected arrival. The reconciler adds it to a position's equity so that the
    drawdown does not fire on money in transit (docs/bridge.md "USDC in flight counts")."""
    return sum((expected_arrival_usd(r) for r in records if stage(r) in IN_FLIGHT), ZERO)


def overdue(record: BridgeTransfer, now: datetime, fast: bool = True) -> bool:
    """Burned and still not credited 30 min (Fast) / 2 h (Standard) later."""
    if record.burned_at is None or record.state in FINAL:
        return False
    return now - record.burned_at > (FAST_OVERDUE if fast else STANDARD_OVERDUE)


# --- the event account's rent (a Solana burn's), after the transfer ----------------------------------------------


def rent_to_reclaim(record: BridgeTransfer) -> bool:
    """A credited Solana burn whose event account's rent has not come back yet and still can: its event account,
    attested message and attestation are known, and the program has not refused the reclaim for good. Such a
    record keeps its user in the reconciler's round (it stays in the unfinished-transfers index)."""
    return (record.state is BridgeState.CREDITED and record.source_domain == SOLANA_DOMAIN
            and bool(record.event_account) and bool(record.message) and bool(record.attestation)
            and record.burned_at is not None and record.rent_reclaimed_at is None and record.reclaim_error is None)


def rent_reclaimable(record: BridgeTransfer, now: datetime) -> bool:
    """`rent_to_reclaim` and the burn is 5 days old (plus a margin) at `now`: the program accepts the reclaim.
    `burned_at` is when the record saw the burn land, never before the event account's own `created_at`."""
    return (rent_to_reclaim(record) and record.burned_at is not None
            and now - record.burned_at >= EVENT_ACCOUNT_WINDOW + RECLAIM_MARGIN)


def _reclaim_step(record: BridgeTransfer, at: datetime, **changes: Any) -> BridgeTransfer:
    if not rent_to_reclaim(record):
        raise IllegalBridgeTransition(f"bridge transfer {record.transfer_id} has no event account rent to reclaim")
    return replace(record, **changes, version=record.version + 1, updated_at=at)


def reclaim_signed(record: BridgeTransfer, signed_reclaim: str, at: datetime) -> BridgeTransfer:
    """The signed reclaim is stored before it is sent: a lost answer is then resolved by asking the chain about
    it (a second reclaim of a closed account only fails)."""
    if not signed_reclaim:
        raise IllegalBridgeTransition("signed reclaim is empty")
    if record.signed_reclaim == signed_reclaim and rent_to_reclaim(record):
        return record
    return _reclaim_step(record, at, signed_reclaim=signed_reclaim)


def rent_reclaimed(record: BridgeTransfer, reclaim_tx: str | None, at: datetime) -> BridgeTransfer:
    """The event account is closed, its rent back in the wallet: by `reclaim_tx`, or found closed (None)."""
    if record.rent_reclaimed_at is not None and record.reclaim_tx == reclaim_tx:
        return record
    if reclaim_tx == "":
        raise IllegalBridgeTransition("reclaim tx is empty")
    return _reclaim_step(record, at, reclaim_tx=reclaim_tx, rent_reclaimed_at=at)


def reclaim_refused(record: BridgeTransfer, reason: str, at: datetime) -> BridgeTransfer:
    """The program refused the reclaim for a reason time does not cure: the rent stays, nothing retries it."""
    if not reason:
        raise IllegalBridgeTransition("a reason is required")
    return _reclaim_step(record, at, reclaim_error=reason)

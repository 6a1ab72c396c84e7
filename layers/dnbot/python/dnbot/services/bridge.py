"""Moving a user's USDC between Solana and Arbitrum on Circle's CCTP V2 (docs/bridge.md), one step at a time.

Each step reads the transfer's record, asks the chain what happened when an answer may have been lost, does
its one thing and saves the record's next state (`domain.bridge.advance`): the record, not the workflow, is the
truth, so any step may be retried or resumed after a crash without burning twice:
- `plan`: the durable record, before anything is signed (one per position, rebalance and direction);
- `burn`: sign, store the signed bytes, THEN send; a retry asks the chain about those bytes, resends them, or,
  when they can provably never land (their blockhash expired unseen, or the chain refused them), abandons;
- `attest`: Circle's attestation (Iris) of the burn; `AttestationPending` until it is signed (retried);
- `mint`: the destination chain's receive; a nonce already used means minted (by us or anyone: the USDC only
  ever goes to the recorded recipient). A Fast message the chain refuses as expired (past its expirationBlock)
  is re-attested by Iris, once per record (`reattested_at`; the record goes back to `burned`), then attested
  again (finalized: no expiry) and minted; `AttestationPending` until Iris has re-signed it, or if Iris refuses.

`resume` (the reconciler, per user) finishes what a workflow gave up on after its burn landed: it attests and
mints the records no workflow has written for a while, never burns, abandons the planned ones whose rebalance
ended, and ends the minted ones whose rebalance ended (the USDC is in the user's wallet); `overdue` names the
ones to tell the operator about, once each (`report_overdue`). `reclaim_rent` (the reconciler too) closes the
event account of each credited Solana burn once it is 5 days old: its rent comes back to the user's wallet.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from dnbot.cctp import SOLANA_USDC_MINT
from dnbot.cctp.message import FAST_FINALITY, STANDARD_FINALITY, CctpMessage, solana_to_bytes32
from dnbot.domain.bridge import (
    FINAL,
    OVERDUE_REPORTED,
    Abandoned,
    Attested,
    BridgeDirection,
    BridgeEvent,
    BridgeState,
    BridgeTransfer,
    Burned,
    BurnSigned,
    Credited,
    Minted,
    NeedsAttention,
    Reattested,
    advance,
    domains,
    max_fee_usd,
    new_transfer,
    reclaim_refused,
    reclaim_signed,
    rent_reclaimable,
    rent_reclaimed,
    stage,
)
from dnbot.domain.bridge import overdue as overdue_at
from dnbot.domain.positions import Position
from dnbot.ports import (
    AmbiguousVenueError,
    ArbitrumCctpPort,
    AttestationPending,
    AttestationService,
    BridgeTransferConflict,
    BridgeTransferStore,
    Clock,
    EventAccountWindowOpen,
    MessageExpired,
    SolanaCctpPort,
    TransientVenueError,
    UserWallets,
    VenueRejected,
)

logger = logging.getLogger(__name__)

USDC_UNITS = Decimal(10) ** 6
# A record no one has written for this long is no workflow's any more: `resume` takes it over. Above the longest
# wait between two of a rebalance's writes of it (one bridge Task's retry window, ~22 min, then the next's): the
# reconciler passes its workflow grace (Settings.reconciler_workflow_grace_minutes), the same bound.
RESUME_IDLE = timedelta(minutes=45)
# A refusal by the program itself (an Anchor error, or its number in the preflight's answer), which no retry cures;
# anything else a node refuses (the fee payer's SOL, a stale blockhash) is tried again.
PROGRAM_REFUSAL_MARKS = ("Error Code:", "custom program error")


def usdc_raw(amount: Decimal) -> int:
    return int((amount * USDC_UNITS).to_integral_value())


def usdc_of(raw: int) -> Decimal:
    return Decimal(raw) / USDC_UNITS


class NotConfirmedYet(TransientVenueError):
    """A sent burn or mint the chain has not confirmed yet: the workflow retries the step, which asks again."""


@dataclass(frozen=True, slots=True)
class BridgeChains:
    solana: SolanaCctpPort
    arbitrum: ArbitrumCctpPort
    iris: AttestationService


class BridgeService:
    def __init__(self, store: BridgeTransferStore, chains: BridgeChains, wallets: Callable[[str], UserWallets],
                 clock: Clock, *, fast: bool = True,
                 new_event_keypair: Callable[[], Keypair] = Keypair) -> None:
        self._store = store
        self._chains = chains
        self._wallets = wallets
        self._clock = clock
        self._fast = fast
        self._new_event_keypair = new_event_keypair

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, user_id: str, position_id: str, n: int, direction: BridgeDirection,
             amount_usd: Decimal) -> BridgeTransfer:
        """The transfer's record (created once; a retry finds it). The max fee is Iris's Fast fee plus one basis
        point (Standard transfers are free)."""
        wallets = self._wallets(user_id)
        source, destination = domains(direction)
        bps = self._chains.iris.fast_fee_bps(source, destination) if self._fast else 0
        recipient = (wallets.evm_address if direction is BridgeDirection.TO_SHORT
                     else str(_usdc_account(wallets.solana_address)))
        record = new_transfer(user_id=user_id, position_id=position_id, n=n, direction=direction,
                              amount_usd=amount_usd, max_fee=max_fee_usd(amount_usd, bps) if bps else Decimal(0),
                              mint_recipient=recipient, at=self._clock.now())
        existing = self._store.get(user_id, record.transfer_id)
        if existing is not None:
            return existing
        self._store.create(record)
        return record

    # --- burn --------------------------------------------------------------------------------------------

    def burn(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        record = self.record(user_id, transfer_id)
        if record.state is BridgeState.PLANNED:
            record = self._sign_burn(record)
        if stage(record) is BridgeState.BURN_SIGNED:
            record = self._land_burn(record)
        return record

    def _sign_burn(self, record: BridgeTransfer) -> BridgeTransfer:
        wallets = self._wallets(record.user_id)
        finality = self._finality
        if record.direction is BridgeDirection.TO_SHORT:
            event = self._new_event_keypair()
            signed = self._chains.solana.sign_burn(record.user_id, usdc_raw(record.amount_usd), record.mint_recipient,
                                                   usdc_raw(record.max_fee_usd), finality, event)
            return self._save(record, BurnSigned(signed.tx_base64, event_account=signed.event_account))
        burn = self._chains.arbitrum.sign_burn(record.user_id, wallets.evm_address, usdc_raw(record.amount_usd),
                                               record.mint_recipient, usdc_raw(record.max_fee_usd), finality)
        return self._save(record, BurnSigned(burn.encode(), evm_nonce=burn.burn_nonce))

    def _land_burn(self, record: BridgeTransfer) -> BridgeTransfer:
        """The stored burn's fate, asked of its chain; unknown: the same bytes are sent again. Abandoned only when
        it provably can never land: it reverted, or it was refused and can no longer be included (Solana: its
        blockhash expired; Arbitrum: its account nonce was used by another transaction)."""
        assert record.signed_burn is not None
        if record.direction is BridgeDirection.TO_SHORT:
            solana = self._chains.solana
            tx = _signature_of(record.signed_burn)
            status = solana.status(tx)
            if status == "unknown":
                try:
                    solana.send(record.signed_burn)
                except VenueRejected as refused:
                    status = solana.status(tx)
                    if status == "unknown":
                        if not solana.can_still_land(record.signed_burn):
                            return self._save(record, Abandoned(f"the burn was refused and can no longer land "
                                                                f"(its blockhash expired): {refused}"))
                        raise NotConfirmedYet(f"burn {tx} refused ({refused}); its blockhash is still valid, so "
                                              "it is watched until it can no longer land") from refused
                else:
                    status = solana.status(tx)
        else:
            arbitrum = self._chains.arbitrum
            burn = arbitrum.decode_burn(record.signed_burn)
            tx = burn.burn_hash
            status = arbitrum.receipt_status(tx)
            if status == "unknown":
                try:
                    for raw in burn.raws():
                        arbitrum.send(raw)
                except VenueRejected as refused:
                    status = arbitrum.receipt_status(tx)
                    if status == "unknown":
                        owner = self._wallets(record.user_id).evm_address
                        if arbitrum.nonce_consumed(owner, burn.burn_nonce):
                            return self._save(record, Abandoned(f"the burn was refused and its nonce "
                                                                f"{burn.burn_nonce} went to another transaction: "
                                                                f"{refused}"))
                        raise NotConfirmedYet(f"burn {tx} refused ({refused}); its nonce is unused, so it may still "
                                              "be sent") from refused
                else:
                    status = arbitrum.receipt_status(tx)
        if status == "failed":
            return self._save(record, Abandoned(f"the burn {tx} reverted: nothing was burned"))
        if status != "landed":
            raise NotConfirmedYet(f"burn {tx} of {record.transfer_id} is sent and not confirmed yet")
        return self._save(record, Burned(tx))

    # --- attest, mint --------------------------------------------------------------------------------------

    def attest(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """Iris's signed message for the burn (AttestationPending, a transient error, until it is ready)."""
        record = self.record(user_id, transfer_id)
        if stage(record) is not BridgeState.BURNED:
            return record
        assert record.burn_tx is not None
        for found in self._chains.iris.attested(record.source_domain, record.burn_tx):
            message = CctpMessage.decode(found.message)
            body = message.burn
            if (body.amount == usdc_raw(record.amount_usd) and _recipient_matches(record, body.mint_recipient)
                    and message.destination_domain == record.destination_domain):
                if record.reattested_at is not None and found.finality_threshold_executed < STANDARD_FINALITY:
                    raise AttestationPending(
                        f"Iris still serves the expired Fast attestation of {record.transfer_id} (nonce "
                        f"0x{found.nonce.hex()}); its re-attestation was asked for at "
                        f"{record.reattested_at:%Y-%m-%d %H:%M:%S} UTC")
                return self._save(record, Attested(found.message.hex(), found.attestation.hex(), found.nonce.hex(),
                                                   usdc_of(found.fee_executed_raw)))
        return self._save(record, NeedsAttention(
            f"Iris has no message for burn {record.burn_tx} with {record.amount_usd} USDC to {record.mint_recipient}"))

    def mint(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """The destination chain's receive of the attested message, once. A re-attested record (`reattested_at`,
        back at `burned`) is attested first; an expired Fast message is re-attested (`_reattest`), then minted."""
        record = self.record(user_id, transfer_id)
        if stage(record) is BridgeState.BURNED and record.reattested_at is not None:
            record = self.attest(user_id, transfer_id)  # the re-signed message; AttestationPending until then
        if stage(record) is not BridgeState.ATTESTED:
            return record
        try:
            return self._mint(record)
        except MessageExpired as expired:
            self._reattest(record, expired)
        return self.mint(user_id, transfer_id)

    def _reattest(self, record: BridgeTransfer, expired: MessageExpired) -> BridgeTransfer:
        """Iris is asked to re-sign the expired Fast message as finalized (expirationBlock 0), once per record:
        the record goes back to `burned` with `reattested_at`. A refusal (or a second expiry) raises
        AttestationPending and leaves the record attested: the step is retried, the reconciler resumes it."""
        assert record.cctp_nonce is not None
        nonce = record.cctp_nonce.removeprefix("0x")
        if record.reattested_at is not None:
            raise AttestationPending(f"the message of {record.transfer_id} (nonce 0x{nonce}) expired again after "
                                     f"its re-attestation at {record.reattested_at:%Y-%m-%d %H:%M:%S} UTC: "
                                     f"{expired}")
        try:
            self._chains.iris.reattest(bytes.fromhex(nonce))
        except VenueRejected as refused:
            if not self._finalized_at_iris(record):  # else re-attested already (a lost answer): take it
                raise AttestationPending(f"the Fast message of {record.transfer_id} expired before its mint "
                                         f"({expired}) and Iris refused to re-attest nonce 0x{nonce}: "
                                         f"{refused}") from refused
        logger.warning("bridge transfer %s: its Fast message expired before the mint; Iris re-attests nonce 0x%s",
                       record.transfer_id, nonce)
        return self._save(record, Reattested())

    def _finalized_at_iris(self, record: BridgeTransfer) -> bool:
        """Iris already serves the record's message re-signed as finalized (an earlier re-attestation whose answer
        was lost: Iris refuses to re-attest a finalized message)."""
        assert record.burn_tx is not None and record.cctp_nonce is not None
        try:
            found = self._chains.iris.attested(record.source_domain, record.burn_tx)
        except (TransientVenueError, VenueRejected):
            return False
        return any(m.nonce.hex() == record.cctp_nonce.removeprefix("0x")
                   and m.finality_threshold_executed >= STANDARD_FINALITY
                   for m in found)

    def _mint(self, record: BridgeTransfer) -> BridgeTransfer:
        user_id = record.user_id
        assert record.message is not None and record.attestation is not None and record.cctp_nonce is not None
        message, attestation = bytes.fromhex(record.message), bytes.fromhex(record.attestation)
        nonce = bytes.fromhex(record.cctp_nonce)
        arriving = record.amount_usd - (record.fee_executed_usd or Decimal(0))
        if record.direction is BridgeDirection.TO_SHORT:
            arbitrum = self._chains.arbitrum
            if arbitrum.nonce_used(nonce):
                return self._save(record, Minted(None, arriving))
            wallets = self._wallets(user_id)
            signed = arbitrum.sign_receive(user_id, wallets.evm_address, message, attestation)
            tx = arbitrum.send(signed.raw)
            landed = arbitrum.receipt_status(tx) == "landed"
        else:
            solana = self._chains.solana
            if solana.nonce_used(nonce):
                return self._save(record, Minted(None, arriving))
            tx = solana.send(solana.sign_receive(user_id, message, attestation))
            landed = solana.status(tx) == "landed"
        if not landed and not self._nonce_used(record, nonce):
            raise NotConfirmedYet(f"mint {tx} of {record.transfer_id} is sent and not confirmed yet")
        return self._save(record, Minted(tx if landed else None, arriving))

    # --- after the mint ------------------------------------------------------------------------------------

    def credited(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """The venue holds what was minted (the caller booked it): the transfer ends."""
        return self._save(self.record(user_id, transfer_id), Credited())

    def abandon_if_planned(self, user_id: str, transfer_id: str, why: str) -> BridgeTransfer | None:
        """A transfer nothing was signed for will never burn: abandoned (the deposit sweep may then take its
        USDC). Anything further along is left as it is."""
        record = self._store.get(user_id, transfer_id)
        if record is None or record.state is not BridgeState.PLANNED:
            return record
        return self._save(record, Abandoned(why))

    # --- resumption (the reconciler) -------------------------------------------------------------------------

    def resume(self, user_id: str, positions: Iterable[Position], *,
               idle: timedelta = RESUME_IDLE) -> list[BridgeTransfer]:
        """The user's transfers a workflow gave up on, one attempt each; returns them as they are after it.

        Only records not final and not written for `idle` are touched (a live workflow writes its record at every
        step; a second writer would make its next save conflict). `positions`: the user's positions, whose
        `rebalancing` says whether the transfer's rebalance (`<position>:<n>:<direction>`) is still in flight.
        - burned / attested (or needs_attention with that evidence): attest, then mint, once; an attestation
          still pending, a transaction not confirmed yet or any transient error leaves it for the next run, a
          refusal records it as needs_attention (still resumable from its evidence). Anyone may mint an attested
          message, and only to the recorded recipient: the USDC reaches the user's wallet. An expired Fast message
          is re-attested here as in `mint` (then the record, written, waits `idle` again unless already re-signed).
        - minted, its rebalance no longer in flight: marked credited. Credited then means "landed where it
          belongs": the user's wallet, after the workflow fell back (to_long: the Solana USDC account; to_short:
          the Arbitrum wallet, which the deposit sweep pays into Hyperliquid like any deposit). It no longer
          counts as in flight (`in_flight_usd`) nor as overdue. A minted record whose rebalance is still in
          flight stays minted: that workflow books and credits it (mark_bridged).
        - planned, its rebalance no longer in flight: abandoned (nothing was signed; the sweep may take its USDC).
        - burn_signed: its chain is asked about the stored burn, which is sent again (the same bytes: never a new
          burn) or, once it provably can never land, abandoned (so the deposit sweep may take its USDC again).
        """
        now = self._clock.now()
        in_flight = {p.position_id: p.rebalancing.number for p in positions if p.rebalancing is not None}
        taken: list[BridgeTransfer] = []
        for record in self._store.list_for_user(user_id):
            if record.state in FINAL or now - record.updated_at < idle:
                continue
            try:
                taken.append(self._resume_one(record, in_flight))
            except (TransientVenueError, AmbiguousVenueError, BridgeTransferConflict) as error:
                logger.info("bridge transfer %s: left for the next run (%s)", record.transfer_id, error)
                taken.append(self._store.get(user_id, record.transfer_id) or record)
            except Exception:  # one record's fault must not stop the others; `overdue` still reports it
                logger.exception("resuming bridge transfer %s failed", record.transfer_id)
                taken.append(self._store.get(user_id, record.transfer_id) or record)
        return taken

    def _resume_one(self, record: BridgeTransfer, in_flight: dict[str, int]) -> BridgeTransfer:
        at, user_id, transfer_id = stage(record), record.user_id, record.transfer_id
        rebalance_in_flight = in_flight.get(record.position_id) == _rebalance_of(record)
        if at is BridgeState.PLANNED:
            if rebalance_in_flight:
                return record
            return self._save(record, Abandoned(f"its rebalance {_rebalance_of(record)} ended before the burn "
                                                "was signed: nothing was burned"))
        if at is BridgeState.BURN_SIGNED:  # the same signed bytes, asked about, resent or provably dead: no new burn
            record = self._land_burn(record)
            at = stage(record)
            if at is not BridgeState.BURNED:
                return record
        if at in (BridgeState.BURNED, BridgeState.ATTESTED):
            try:
                self.attest(user_id, transfer_id)
                resumed = self.mint(user_id, transfer_id)
            except VenueRejected as refused:
                current = self.record(user_id, transfer_id)
                resumed = self._save(current, NeedsAttention(_keep_report(current, f"resuming it: {refused}")))
            except (TransientVenueError, AmbiguousVenueError) as error:  # attested maybe: the mint waits
                logger.info("bridge transfer %s: left for the next run (%s)", transfer_id, error)
                resumed = self.record(user_id, transfer_id)
            resumed = self._keep_reported(record, resumed)
            if stage(resumed) is not BridgeState.MINTED:
                return resumed
            record, at = resumed, BridgeState.MINTED
        if at is BridgeState.MINTED and not rebalance_in_flight:
            return self._save(record, Credited())
        return record

    def _keep_reported(self, before: BridgeTransfer, after: BridgeTransfer) -> BridgeTransfer:
        """A step forward clears `error`: a record already reported overdue keeps the mark while not final."""
        if not _reported(before) or _reported(after) or after.state in FINAL:
            return after
        return self._save(after, NeedsAttention(_keep_report(before, after.error or "")))

    def overdue(self, records: Iterable[BridgeTransfer]) -> list[BridgeTransfer]:
        """The records to tell the operator about: burned, not credited 30 min (Fast) / 2 h (Standard) later
        (domain.bridge.overdue) and not reported yet. Give it what `resume` returned (records no workflow is
        writing): reporting one writes it."""
        now = self._clock.now()
        return [r for r in records if overdue_at(r, now, self._fast) and not _reported(r)]

    def report_overdue(self, record: BridgeTransfer) -> BridgeTransfer:
        """Record that the operator was told (needs_attention, `error` starting with OVERDUE_REPORTED): the record
        stays resumable from its evidence, and `overdue` does not name it again."""
        current = self.record(record.user_id, record.transfer_id)
        if _reported(current):
            return current
        at = stage(current).value
        why = f"{OVERDUE_REPORTED}: not credited since its burn at {current.burned_at:%Y-%m-%d %H:%M} UTC ({at})"
        return self._save(current, NeedsAttention(f"{why}; {current.error}" if current.error else why))

    # --- the event accounts' rent (after the transfer) ---------------------------------------------------------

    def reclaim_rent(self, user_id: str) -> list[BridgeTransfer]:
        """The rent of the user's Solana burns' event accounts back to their wallet: for each record
        `rent_reclaimable` (credited, burned 5 days ago and more), one reclaim_event_account, signed and stored on
        the record before it is sent; returns the records settled by this run (rent back, or refused for good).

        A record whose stored reclaim landed, or whose event account is closed already (a lost answer, anyone's
        reclaim), is marked reclaimed without sending; a second reclaim of a closed account could only fail. The
        chain refusing it as too young (EventAccountWindowOpen), a reclaim sent and not confirmed yet and any
        transient error leave it for the next run; another refusal records `reclaim_error` (the rent stays: the
        operator looks). Never touches USDC."""
        now = self._clock.now()
        settled: list[BridgeTransfer] = []
        for record in self._store.list_for_user(user_id):
            if not rent_reclaimable(record, now):
                continue
            try:
                after = self._reclaim_one(record)
            except (TransientVenueError, AmbiguousVenueError, BridgeTransferConflict, EventAccountWindowOpen) as error:
                logger.info("bridge transfer %s: its event account's rent is left for the next run (%s)",
                            record.transfer_id, error)
                continue
            except Exception:  # one record's fault must not stop the others
                logger.exception("reclaiming the event account rent of bridge transfer %s failed", record.transfer_id)
                continue
            if after.rent_reclaimed_at is not None or after.reclaim_error is not None:
                settled.append(after)
        return settled

    def _reclaim_one(self, record: BridgeTransfer) -> BridgeTransfer:
        solana = self._chains.solana
        account = record.event_account
        assert account is not None and record.message is not None and record.attestation is not None
        stored = None if record.signed_reclaim is None else _signature_of(record.signed_reclaim)
        if (back := self._found_reclaimed(record, stored)) is not None:
            return back
        signed = solana.sign_reclaim(record.user_id, account, bytes.fromhex(record.attestation),
                                     bytes.fromhex(record.message))
        record = self._keep(record, reclaim_signed(record, signed, self._clock.now()))
        tx = _signature_of(signed)
        try:
            solana.send(signed)
        except EventAccountWindowOpen:  # a VenueRejected, but not for good: reclaim_rent leaves it for later
            raise
        except VenueRejected as refused:
            if (back := self._found_reclaimed(record, tx)) is not None:  # an earlier send landed, or anyone's
                return back
            if not any(mark in str(refused) for mark in PROGRAM_REFUSAL_MARKS):  # the node's (funds, blockhash)
                raise NotConfirmedYet(f"reclaim {tx} of {record.transfer_id} refused ({refused}): tried again "
                                      "next run") from refused
            logger.warning("bridge transfer %s: the reclaim of its event account %s was refused; its rent stays: %s",
                           record.transfer_id, record.event_account, refused)
            return self._keep(record, reclaim_refused(record, f"reclaim refused: {refused}", self._clock.now()))
        if solana.status(tx) != "landed":
            raise NotConfirmedYet(f"reclaim {tx} of {record.transfer_id} is sent and not confirmed yet")
        logger.info("bridge transfer %s: the rent of event account %s is back (%s)", record.transfer_id,
                    record.event_account, tx)
        return self._keep(record, rent_reclaimed(record, tx, self._clock.now()))

    def _found_reclaimed(self, record: BridgeTransfer, tx: str | None) -> BridgeTransfer | None:
        """The record marked reclaimed when the chain says the rent is back: our reclaim `tx` landed, or the event
        account is closed already (anyone's reclaim); None when it is still open."""
        solana = self._chains.solana
        if tx is not None and solana.status(tx) == "landed":
            return self._keep(record, rent_reclaimed(record, tx, self._clock.now()))
        assert record.event_account is not None
        if not solana.event_account_open(record.event_account):
            return self._keep(record, rent_reclaimed(record, None, self._clock.now()))
        return None

    def _keep(self, before: BridgeTransfer, moved: BridgeTransfer) -> BridgeTransfer:
        """Save a record a step moved (the domain returns the record itself when nothing changed)."""
        if moved is not before:
            self._store.save(moved)
        return moved

    # --- plumbing --------------------------------------------------------------------------------------------

    @property
    def _finality(self) -> int:
        return FAST_FINALITY if self._fast else STANDARD_FINALITY

    def _nonce_used(self, record: BridgeTransfer, nonce: bytes) -> bool:
        chain = self._chains.arbitrum if record.direction is BridgeDirection.TO_SHORT else self._chains.solana
        return chain.nonce_used(nonce)

    def record(self, user_id: str, transfer_id: str) -> BridgeTransfer:
        """The transfer's record (LookupError when there is none)."""
        record = self._store.get(user_id, transfer_id)
        if record is None:
            raise LookupError(f"no bridge transfer {transfer_id} for user {user_id}")
        return record

    def _save(self, record: BridgeTransfer, event: BridgeEvent) -> BridgeTransfer:
        return self._keep(record, advance(record, event, self._clock.now()))


def _rebalance_of(record: BridgeTransfer) -> int:
    """The rebalance number in the transfer's id (`<position_id>:<n>:<direction>`, domain.bridge.transfer_id_for)."""
    return int(record.transfer_id.split(":")[1])


def _reported(record: BridgeTransfer) -> bool:
    return (record.error or "").startswith(OVERDUE_REPORTED)


def _keep_report(before: BridgeTransfer, reason: str) -> str:
    """`reason`, under the overdue mark if `before` carried it."""
    if not _reported(before) or reason.startswith(OVERDUE_REPORTED):
        return reason
    mark = (before.error or OVERDUE_REPORTED).split(";")[0]
    return f"{mark}; {reason}" if reason else mark


def _signature_of(tx_base64: str) -> str:
    return str(VersionedTransaction.from_bytes(base64.b64decode(tx_base64)).signatures[0])


def _usdc_account(owner: str) -> Pubkey:
    return get_associated_token_address(Pubkey.from_string(owner), Pubkey.from_string(SOLANA_USDC_MINT))


def _recipient_matches(record: BridgeTransfer, mint_recipient: bytes) -> bool:
    if record.direction is BridgeDirection.TO_SHORT:
        return mint_recipient[12:].hex() == record.mint_recipient.lower().removeprefix("0x")
    return mint_recipient == solana_to_bytes32(record.mint_recipient)

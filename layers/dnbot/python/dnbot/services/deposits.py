"""Money in: USDC a user sends to their Arbitrum address reaches Hyperliquid, and the capital plan says how much
to send where.

The sweep (the `deposit_sweep` function, every minute; `dnbot local` runs it on its scheduler) looks at every
user's Arbitrum address and moves its USDC through Hyperliquid's bridge (Bridge2: a USDC transfer to the bridge
contract, credited to the same address on Hyperliquid within about a minute):

- never under the bridge's 5 USDC minimum (the bridge would keep it): smaller amounts wait, reported as waiting;
- the user's Privy EVM wallet pays the gas (docs/architecture.md, "Deposits"): without enough ETH for the
  transfer the sweep refuses and says how much ETH is missing, rather than leave a transaction stuck;
- once per deposit: a sweep is recorded (with its signed bytes and nonce) before it is sent, and at most one is
  open per user. A lost answer leaves it open; the next run looks for its receipt and, if the chain has not seen
  it, sends the very same bytes again (the node answers "already known", or mines it): never a second transfer;
- when the credit shows on Hyperliquid (its ledger's deposit entry) the sweep closes with a "deposit" activity
  line, which the notifier turns into a message;
- never the USDC a bridge transfer is about to burn (a rebalance after a fall withdraws Hyperliquid margin to this
  very wallet and bridges it to Solana): with `reservations`, only the balance above what the user's planned or
  signed Arbitrum -> Solana transfers will burn is swept, and only when that is at least the 5 USDC minimum.
  The balance is read before the reservations, so USDC that arrived for a transfer is seen with its record
  (the rebalance records the transfer before it withdraws).

`sweep_user` sweeps one user now (a rebalance credits a freshly minted transfer to Hyperliquid without waiting
for the next run), through the same records: it never sends while that user's sweep is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from dnbot.domain.bridge import BridgeDirection, BridgeState, BridgeTransfer, stage
from dnbot.domain.deposit_plan import MIN_BRIDGE_DEPOSIT_USDC, DepositPlan, plan_deposits
from dnbot.domain.presets import UserSettings
from dnbot.ports import (
    ActivityLog,
    AmbiguousVenueError,
    ArbitrumBridge,
    BalanceReader,
    Balances,
    BridgeTransferStore,
    Clock,
    DepositSweepLedger,
    EvmTransactionSigner,
    SweepRecord,
    TransientVenueError,
    UsdcReservations,
    UserRecord,
    VenueRejected,
)
from dnbot.services.errors import ServiceError

USDC_STEP = Decimal("0.000001")  # USDC has 6 decimals on Arbitrum
PAGE = 100
BACKFILL_PAGES_PER_RUN = 5  # Scan pages of the one-time wallet-list backfill per run (a few seconds at most)
# How far before the send a Hyperliquid deposit entry may be dated and still be this sweep's credit (clocks).
CREDIT_CLOCK_SKEW = timedelta(minutes=2)
DEPOSIT_KIND = "deposit"
NOT_BURNED_YET = frozenset({BridgeState.PLANNED, BridgeState.BURN_SIGNED})

logger = logging.getLogger(__name__)


def _text(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def reserved_for_burn_usd(transfers: list[BridgeTransfer]) -> Decimal:
    """What the user's Arbitrum wallet must keep for its bridge burns: the amount of every Arbitrum -> Solana
    transfer not burned yet (planned, or its burn signed and perhaps sent; a `needs_attention` one by its
    evidence). Burned, abandoned and credited ones hold nothing there."""
    return sum((t.amount_usd for t in transfers
                if t.direction is BridgeDirection.TO_LONG and stage(t) in NOT_BURNED_YET), Decimal(0))


class BridgeBurnReservations:
    """Implements UsdcReservations from the users' bridge transfer records."""

    def __init__(self, transfers: BridgeTransferStore) -> None:
        self._transfers = transfers

    def reserved_usdc(self, user_id: str) -> Decimal:
        return reserved_for_burn_usd(self._transfers.list_for_user(user_id))


class DepositCredits(Protocol):
    def __call__(self, address: str, start_ms: int) -> list[tuple[int, str, Decimal]]:
        """Hyperliquid bridge deposits credited to `address` since `start_ms`: (time ms, ledger hash, USDC)."""
        ...


@dataclass
class SweepReport:
    sent: dict[str, str] = field(default_factory=dict)  # user -> tx hash sent this run
    credited: dict[str, str] = field(default_factory=dict)  # user -> USDC credited on Hyperliquid this run
    in_flight: dict[str, str] = field(default_factory=dict)  # user -> tx hash sent earlier, not credited yet
    below_minimum: dict[str, str] = field(default_factory=dict)  # user -> USDC waiting for more
    needs_gas: dict[str, str] = field(default_factory=dict)  # user -> ETH missing to pay the transfer
    reserved: dict[str, str] = field(default_factory=dict)  # user -> USDC left for a bridge transfer to burn
    errors: dict[str, str] = field(default_factory=dict)
    backfilled: int | None = None  # wallets added to the sweep's list this run (None: the backfill is done)


class DepositSweep:
    def __init__(self, ledger: DepositSweepLedger, bridge: ArbitrumBridge,
                 signer: Callable[[], EvmTransactionSigner], credits: DepositCredits, activity: ActivityLog,
                 clock: Clock, *, reservations: UsdcReservations | None = None,
                 address_of: Callable[[str], str] | None = None) -> None:
        """`reservations`: USDC the sweep must leave on a wallet (bridge burns to come); `address_of(user_id)`:
        the user's EVM address, for `sweep_user`."""
        self._reservations = reservations
        self._address_of = address_of
        self._ledger = ledger
        self._bridge = bridge
        self._signer = signer  # built when first needed
        self._credits = credits
        self._activity = activity
        self._clock = clock

    def run(self) -> SweepReport:
        report = SweepReport()
        try:  # users whose wallets predate the sweep's list join it (a bounded step a run, until done)
            report.backfilled = self._ledger.backfill_wallet_registry(BACKFILL_PAGES_PER_RUN)
        except Exception as error:  # the users already listed are still swept; the next run tries again
            logger.exception("backfilling the sweep's wallet list failed")
            report.errors["backfill"] = f"{type(error).__name__}: {error}"
        cursor: str | None = None
        while True:
            wallets, cursor = self._ledger.evm_wallets_page(cursor, PAGE)
            for user_id, address in wallets:
                try:
                    self.sweep(user_id, address, report)
                except (TransientVenueError, AmbiguousVenueError, VenueRejected) as error:
                    report.errors[user_id] = str(error)  # one user's venue trouble never stops the others
            if cursor is None:
                return report

    def sweep_user(self, user_id: str) -> SweepReport:
        """Sweep one user now, as a run would (the same once-per-deposit records): this user's entries in the
        report say what happened (sent and perhaps credited, in flight, waiting, reserved, needing gas). An open
        sweep is followed, not doubled: USDC that arrived since waits for the next call. Venue errors raise (the
        caller retries); LookupError without `address_of` or an EVM wallet."""
        if self._address_of is None:
            raise LookupError("this deposit sweep was built without address_of: it sweeps only whole runs")
        report = SweepReport()
        self.sweep(user_id, self._address_of(user_id), report)
        return report

    def sweep(self, user_id: str, address: str, report: SweepReport) -> None:
        record = self._ledger.open_sweep(user_id)
        if record is not None:
            self._follow(record, address, report)
            return
        balance = self._bridge.usdc_balance(address)
        if balance <= 0:
            return
        if self._reservations is not None:  # read after the balance: USDC that arrived is seen with its record
            reserved = self._reservations.reserved_usdc(user_id)
            if reserved > 0:
                report.reserved[user_id] = _text(reserved)
                balance -= reserved
                if balance <= 0:
                    return
        if balance < MIN_BRIDGE_DEPOSIT_USDC:
            report.below_minimum[user_id] = _text(balance)
            return
        reserve = self._bridge.transfer_gas_reserve_eth(address)
        eth = self._bridge.eth_balance(address)
        if eth < reserve:
            report.needs_gas[user_id] = _text(reserve - eth)
            return
        usdc = balance.quantize(USDC_STEP, ROUND_DOWN)
        signed = self._bridge.sign_bridge_deposit(user_id, address, usdc, self._signer())
        record = SweepRecord(user_id=user_id, tx_hash=signed.tx_hash, nonce=signed.nonce, raw=signed.raw,
                             usdc=usdc, sent_at=self._clock.now(), status="sent")
        if not self._ledger.claim_sweep(record):
            return  # another run claimed this user's sweep first
        try:
            self._bridge.send_raw(record.tx_hash, record.raw)
        except (TransientVenueError, AmbiguousVenueError):
            report.in_flight[user_id] = record.tx_hash  # the next run finds its receipt or resends the bytes
            return
        except VenueRejected as error:
            self._ledger.update_sweep(replace(record, status="refused"))
            report.errors[user_id] = str(error)
            return
        report.sent[user_id] = record.tx_hash
        self._follow(record, address, report)

    def _follow(self, record: SweepRecord, address: str, report: SweepReport) -> None:
        """Take an open sweep as far as it goes now: mined, then credited on Hyperliquid."""
        if record.status == "sent":
            status = self._bridge.receipt_status(record.tx_hash)
            if status is None:  # not mined: unknown to the node (a lost send) or still pending; same bytes again
                self._resend(record)
                status = self._bridge.receipt_status(record.tx_hash)
            if status is None:
                report.in_flight[record.user_id] = record.tx_hash
                return
            if status is False:
                self._ledger.update_sweep(replace(record, status="reverted"))
                self._activity.record(record.user_id, "deposit_failed",
                                      f"Moving {_text(record.usdc)} USDC from Arbitrum to Hyperliquid failed on chain; "
                                      "it stays on your Arbitrum address and is tried again.",
                                      tx_hash=record.tx_hash)
                report.errors[record.user_id] = f"{record.tx_hash} reverted"
                return
            record = replace(record, status="mined")
            self._ledger.update_sweep(record)
        since_ms = int((record.sent_at - CREDIT_CLOCK_SKEW).timestamp() * 1000)
        used = self._ledger.credit_refs(record.user_id)
        credit = next((ref for _, ref, usdc in sorted(self._credits(address, since_ms))
                       if usdc == record.usdc and ref not in used), None)
        if credit is None:
            report.in_flight[record.user_id] = record.tx_hash  # the bridge credits within about a minute
            return
        self._ledger.update_sweep(replace(record, status="credited", credit_ref=credit))
        self._activity.record(record.user_id, DEPOSIT_KIND,
                              f"{_text(record.usdc)} USDC arrived on Hyperliquid from your Arbitrum address.",
                              usdc=record.usdc, tx_hash=record.tx_hash)
        report.credited[record.user_id] = _text(record.usdc)

    def _resend(self, record: SweepRecord) -> None:
        try:
            self._bridge.send_raw(record.tx_hash, record.raw)
        except (TransientVenueError, AmbiguousVenueError):
            return
        except VenueRejected as error:
            if "nonce too low" not in str(error):
                raise
            # the nonce is used: by this transaction (mined meanwhile) or, if the wallet sent something else,
            # by that one; the receipt says which


class DepositPlanner:
    """GET /deposit-plan: the capital plan for a user, from what their addresses hold now."""

    def __init__(self, balances: BalanceReader, arbitrum_eth: Callable[[str], Decimal],
                 hyperliquid_free: Callable[[str], Decimal] | None = None) -> None:
        self._balances = balances
        self._arbitrum_eth = arbitrum_eth
        # Hyperliquid's withdrawable: what an open counts there (a live short's margin is not free for the next)
        self._hyperliquid_free = hyperliquid_free

    def plan(self, user: UserRecord, capital_usd: Decimal, preset: str | None = None,
             leverage: object | None = None) -> DepositPlan:
        """The user's saved preset and leverage unless given; a ServiceError (400) for nonsense."""
        try:
            settings = (UserSettings.create(**user.settings) if user.settings else UserSettings.create())
            if preset is not None:
                settings = UserSettings.create(preset, leverage)
            elif leverage is not None:
                settings = settings.with_overrides(leverage=leverage)
            held = self._balances.balances(user)
            return plan_deposits(capital_usd, settings.leverage, settings.preset.margin_buffer,
                                 solana_usdc=held.solana_usdc, solana_sol=held.solana_sol,
                                 hyperliquid_usdc=self._hyperliquid_have(user.evm_address, held),
                                 arbitrum_usdc=held.evm_usdc, arbitrum_eth=self._read_eth(user.evm_address))
        except ValueError as invalid:
            raise ServiceError(str(invalid), code="invalid_plan") from invalid

    def _hyperliquid_have(self, address: str | None, held: Balances) -> Decimal | None:
        if self._hyperliquid_free is None:
            return held.hyperliquid_account_value_usd
        if not address:
            return None
        try:
            return self._hyperliquid_free(address)
        except Exception as error:  # unknown, never zero (as VenueBalances reads it): the plan shows "unknown"
            logger.warning("could not read Hyperliquid's withdrawable: %s", error)
            return None

    def _read_eth(self, address: str | None) -> Decimal | None:
        if not address:
            return None
        try:
            return self._arbitrum_eth(address)
        except (TransientVenueError, AmbiguousVenueError, VenueRejected):
            return None

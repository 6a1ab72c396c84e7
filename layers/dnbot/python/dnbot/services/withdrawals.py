"""Withdrawals: a user takes free funds out of their Solana wallet, confirmed by a one-time code sent by email.

request   POST /withdrawals: checks the address, the amount against free funds, the per-user limit; stores the
          withdrawal (status confirm_by_email) and a hashed code (the sessions table), sends the code.
confirm   POST /withdrawals/{id}/confirm: at most MAX_CODE_CHECKS checks of the code, then one atomic move
          confirm_by_email -> approved (a second confirm pays nothing) and the withdraw workflow starts.
execute   the workflow's step, in the trading function (the only one that may sign): checks free funds again,
          builds exactly one transfer, validates it (dnbot.security.withdrawal_validator), signs it with the
          user's Privy wallet (KMS authorization key), stores the signed transaction BEFORE sending it (a retried
          step resends the same signature: it cannot pay twice), sends it, records the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from dnbot.domain.bridge import MOVING
from dnbot.domain.pnl import CENT
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.rebalance import maintenance_rate_from, rebalance_target, spare_margin_usd
from dnbot.domain.rebalance_cash import cash_paid_out, rebalance_cash_taken
from dnbot.domain.withdrawals import Withdrawal, WithdrawalAsset, WithdrawalSource, WithdrawalStatus
from dnbot.ports import (
    ActivityLog,
    BalanceReader,
    Balances,
    BridgeTransferStore,
    Clock,
    PositionConflict,
    PositionStore,
    RiskReader,
    ShortMargin,
    TransientVenueError,
    UserRecord,
    UserStore,
    VenueRejected,
)
from dnbot.services.auth import AuditTrail, RateLimiter, limit
from dnbot.services.errors import Conflict, NotFound, ServiceError, Unauthorized, Unavailable

logger = logging.getLogger(__name__)

CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_CHECKS = 5
WITHDRAWALS_PER_USER_PER_HOUR = 10
SOL_FEE_RESERVE = Decimal("0.01")  # SOL kept for transaction fees: a SOL withdrawal cannot drain the wallet
HYPERLIQUID_FEE_USDC = Decimal(1)  # kept by Hyperliquid's bridge on every withdrawal
MIN_AMOUNT = {"USDC": Decimal("0.01"), "SOL": Decimal("0.000001")}
DECIMALS = {"USDC": 6, "SOL": 9}  # the smallest unit each asset moves in (USDC on Solana and Arbitrum: 6)
EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
HYPERLIQUID_BRIDGE = "0x2df1c51e09aecf9cacb7bc98cb1742757f163df7"  # a transfer there is a deposit
# positions whose short is (or may be) on the Hyperliquid account: its margin is not free while one is
SHORT_HELD = (PositionStatus.PENDING, PositionStatus.OPEN, PositionStatus.CLOSING, PositionStatus.NEEDS_ATTENTION)


class WithdrawalStore(Protocol):
    def create_withdrawal(self, withdrawal: Withdrawal) -> None: ...

    def get_withdrawal(self, user_id: str, withdrawal_id: str) -> Withdrawal | None: ...

    def move_withdrawal(self, withdrawal: Withdrawal, expected: WithdrawalStatus) -> bool:
        """Save only if the stored status is still `expected` (atomic); False if it moved meanwhile."""
        ...

    def list_withdrawals(self, user_id: str) -> list[Withdrawal]: ...


class CodeItems(Protocol):
    def put_expiring(self, pk: str, sk: str, attributes: dict[str, Any], expires_at: datetime) -> None: ...

    def get_unexpired(self, pk: str, sk: str) -> dict[str, Any] | None: ...

    def count_use(self, pk: str, sk: str, attribute: str, limit: int) -> bool: ...

    def delete_if(self, pk: str, sk: str, attribute: str, value: Any) -> bool: ...


class CodeSender(Protocol):
    def send_withdrawal_code(self, email: str, code: str, withdrawal: Withdrawal) -> None: ...


class WithdrawalStarter(Protocol):
    def start_withdrawal(self, withdrawal: Withdrawal) -> None:
        """Start the withdraw workflow (idempotent per withdrawal)."""
        ...


class AddressCheck(Protocol):
    def valid_address(self, address: str) -> bool: ...


class TransferExecutor(Protocol):
    def sign_transfer(self, user_id: str, asset: WithdrawalAsset, amount: Decimal, to: str) -> str:
        """Build, validate and sign exactly this transfer from the user's wallet; the signed transaction."""
        ...

    def send(self, signed_transaction: str) -> str:
        """Send (or resend) it; its signature."""
        ...


@dataclass(frozen=True)
class FreeAmount:
    """What a withdrawal may take from a source now, and, when a rule keeps part of the balance, what that part
    does ("keeps your open short 21.6% from liquidation")."""

    amount: Decimal
    limited_by: str | None = None
    balance: Decimal | None = None  # the Solana wallet's balance it was read from (None on Hyperliquid)


@dataclass(frozen=True)
class FreeFunds:
    """Each source's free amounts; a source that cannot be read is None, with its reason in `unavailable`."""

    solana: dict[WithdrawalAsset, FreeAmount] | None
    hyperliquid: FreeAmount | None
    unavailable: dict[WithdrawalSource, str]


def _code_digest(withdrawal_id: str, code: str) -> str:
    return hashlib.sha256(f"{withdrawal_id}:{code}".encode()).hexdigest()


class WithdrawalService:
    def __init__(self, store: WithdrawalStore, users: UserStore, positions: PositionStore, codes: CodeItems,
                 sender: CodeSender | None, starter: WithdrawalStarter | None, funds: BalanceReader,
                 addresses: AddressCheck, limiter: RateLimiter, clock: Clock, *, audit: AuditTrail | None = None,
                 activity: ActivityLog | None = None,
                 hyperliquid_withdrawable: Callable[[str], Decimal] | None = None,
                 hyperliquid_margin: Callable[[str], ShortMargin] | None = None,
                 risk: RiskReader | None = None, transfers: BridgeTransferStore | None = None) -> None:
        """`hyperliquid_withdrawable(evm address)`: the venue's withdrawable; `hyperliquid_margin(evm address)`:
        the account's value, short, mark and liquidation price; `risk`: each live position's distance to
        liquidation at its open (the rebalance target) — a withdrawal leaves the short at least that far;
        `transfers`: the user's bridge transfers (USDC on its way between the venues is not withdrawn under it)."""
        self._transfers = transfers
        self._hyperliquid_margin = hyperliquid_margin
        self._risk = risk
        self._store = store
        self._users = users
        self._positions = positions
        self._codes = codes
        self._sender = sender
        self._starter = starter
        self._funds = funds
        self._addresses = addresses
        self._limiter = limiter
        self._clock = clock
        self._audit = audit
        self._activity = activity
        self._hyperliquid_withdrawable = hyperliquid_withdrawable

    # --- the API side ---------------------------------------------------------------------------------------

    def request(self, user: UserRecord, asset: WithdrawalAsset, amount: Decimal, to: str | None, *,
                source: WithdrawalSource = "solana", client: str = "") -> Withdrawal:
        if self._sender is None or self._starter is None:
            raise Unavailable("Withdrawals are not configured on this deployment.", code="withdrawals_unavailable")
        if source == "hyperliquid":  # out of Hyperliquid: USDC, to an Arbitrum address of the user's
            if asset != "USDC":
                raise ServiceError("Hyperliquid pays out USDC only.", code="bad_asset")
            if not user.evm_address:
                raise ServiceError("This account has no Hyperliquid account yet.", code="no_hyperliquid_account")
            if to is None or not EVM_ADDRESS.fullmatch(to) or to.lower() == HYPERLIQUID_BRIDGE:
                raise ServiceError("Give the Arbitrum address (0x...) Hyperliquid should pay.", code="bad_address")
            if to.lower() == user.evm_address.lower():
                # the deposit sweep moves USDC on this wallet back to Hyperliquid: it would pay the fee for nothing
                raise ServiceError("That is this account's own EVM wallet, its deposit address: USDC there goes "
                                   "back to Hyperliquid. Give an Arbitrum address of yours.", code="bad_address")
            if amount <= HYPERLIQUID_FEE_USDC:
                raise ServiceError(f"Hyperliquid keeps a {HYPERLIQUID_FEE_USDC} USDC fee: withdraw more than that.",
                                   code="amount_too_small")
        else:
            if amount < MIN_AMOUNT[asset]:
                raise ServiceError(f"The smallest {asset} withdrawal is {MIN_AMOUNT[asset]}.",
                                   code="amount_too_small")
            if to is None or not self._addresses.valid_address(to):
                raise ServiceError("That is not a Solana wallet address.", code="bad_address")
            if to == user.solana_address:
                raise ServiceError("That is this account's own wallet.", code="bad_address")
        if amount != amount.quantize(Decimal(1).scaleb(-DECIMALS[asset]), ROUND_DOWN):
            raise ServiceError(f"{asset} moves in units of {Decimal(1).scaleb(-DECIMALS[asset])}: "
                               f"use at most {DECIMALS[asset]} decimals.", code="amount_too_precise")
        limit(self._limiter, "withdrawals", user.user_id, WITHDRAWALS_PER_USER_PER_HOUR, timedelta(hours=1),
              "Too many withdrawals in the last hour; wait a little.")
        self._check_free(user, asset, amount, source)
        now = self._clock.now()
        withdrawal = Withdrawal(withdrawal_id=uuid.uuid4().hex, user_id=user.user_id, asset=asset, amount=amount,
                                to=to, status="confirm_by_email", created_at=now, updated_at=now, source=source)
        self._store.create_withdrawal(withdrawal)
        code = f"{secrets.randbelow(1_000_000):06d}"
        self._codes.put_expiring(f"WCODE#{withdrawal.withdrawal_id}", "WCODE",
                                 {"digest": _code_digest(withdrawal.withdrawal_id, code), "checks": 0},
                                 now + CODE_LIFETIME)
        self._sender.send_withdrawal_code(user.email, code, withdrawal)
        self._record("withdrawal_requested", user.user_id, client, withdrawal)
        self._event(withdrawal, "requested")
        return withdrawal

    def confirm(self, user: UserRecord, withdrawal_id: str, code: str, *, client: str = "") -> Withdrawal:
        withdrawal = self.get(user.user_id, withdrawal_id)
        if withdrawal.status != "confirm_by_email":
            raise Conflict("This withdrawal was already confirmed.", code="already_confirmed")
        key = (f"WCODE#{withdrawal_id}", "WCODE")
        stored = self._codes.get_unexpired(*key)
        if stored is None:
            raise Unauthorized("The code expired; request the withdrawal again.", code="code_expired")
        if not self._codes.count_use(*key, "checks", MAX_CODE_CHECKS):
            raise Unauthorized("Too many wrong codes; request the withdrawal again.", code="code_expired")
        digest = _code_digest(withdrawal_id, code)
        if not hmac.compare_digest(stored["digest"], digest) or not self._codes.delete_if(*key, "digest", digest):
            self._record("withdrawal_code_rejected", user.user_id, client, withdrawal)
            raise Unauthorized("That code is wrong.", code="invalid_code")
        approved = replace(withdrawal, status="approved", updated_at=self._clock.now())
        if not self._store.move_withdrawal(approved, expected="confirm_by_email"):
            raise Conflict("This withdrawal was already confirmed.", code="already_confirmed")
        assert self._starter is not None
        self._starter.start_withdrawal(approved)
        self._record("withdrawal_confirmed", user.user_id, client, approved)
        self._event(approved, "confirmed")
        return approved

    def get(self, user_id: str, withdrawal_id: str) -> Withdrawal:
        withdrawal = self._store.get_withdrawal(user_id, withdrawal_id)
        if withdrawal is None:  # another user's withdrawal is as absent as a made-up id
            raise NotFound("No such withdrawal.", code="withdrawal_not_found")
        return withdrawal

    def of_user(self, user_id: str) -> list[Withdrawal]:
        return self._store.list_withdrawals(user_id)

    def free_amount(self, user: UserRecord, asset: WithdrawalAsset, source: WithdrawalSource) -> FreeAmount:
        """What a withdrawal of `asset` from `source` may take now: the one rule `request` and `execute` check
        against (raises a ServiceError when it cannot be read, or funds are moving)."""
        positions = self._refuse_funds_in_motion(user)
        if source == "hyperliquid":
            return self._free_on_hyperliquid(user, positions)
        return self._free_in_wallet(self._funds.balances(user), asset)

    def free_funds(self, user: UserRecord) -> FreeFunds:
        """What is free to withdraw from each source, by `free_amount`'s rule; a source that cannot be read is
        left out with the reason (the other one still answers)."""
        solana: dict[WithdrawalAsset, FreeAmount] | None = None
        hyperliquid: FreeAmount | None = None
        unavailable: dict[WithdrawalSource, str] = {}
        try:
            positions = self._refuse_funds_in_motion(user)
        except ServiceError as moving:
            return FreeFunds(None, None, {"solana": str(moving), "hyperliquid": str(moving)})
        try:
            balances = self._funds.balances(user)
            solana = {"USDC": self._free_in_wallet(balances, "USDC"), "SOL": self._free_in_wallet(balances, "SOL")}
        except ServiceError as unread:
            unavailable["solana"] = str(unread)
        try:
            hyperliquid = self._free_on_hyperliquid(user, positions)
        except ServiceError as unread:
            unavailable["hyperliquid"] = str(unread)
        except (TransientVenueError, VenueRejected):
            unavailable["hyperliquid"] = "Hyperliquid's account cannot be read just now; try again in a minute."
        return FreeFunds(solana, hyperliquid, unavailable)

    def _check_free(self, user: UserRecord, asset: WithdrawalAsset, amount: Decimal,
                    source: WithdrawalSource) -> Decimal | None:
        """Refuses what is not free; the Solana wallet's balance of `asset` it read (None from Hyperliquid)."""
        free = self.free_amount(user, asset, source)
        if amount > free.amount:
            where = " from Hyperliquid" if source == "hyperliquid" else ""
            why = f": the rest {free.limited_by}" if free.limited_by else ""
            raise ServiceError(f"Only {free.amount} {asset} is free to withdraw{where}{why}.",
                               code="insufficient_funds")
        return free.balance

    def _refuse_funds_in_motion(self, user: UserRecord) -> list[Position]:
        """The user's positions (read once per check), unless one is opening or closing, a rebalance is moving a
        position's funds, or USDC is on its way between the venues (a to_long transfer's USDC waits in the Solana
        wallet for the long's repayment; a planned burn's is reserved): a withdrawal then could take it."""
        positions = self._positions.list_positions(user.user_id)
        if any(p.status in (PositionStatus.PENDING, PositionStatus.CLOSING) for p in positions):
            raise Conflict("A position is opening or closing: its funds are moving. Try again when it is done.",
                           code="funds_in_motion")
        if any(p.rebalancing is not None and p.status.is_live for p in positions):
            raise Conflict("A rebalance is moving a position's funds between the venues. Try again when it is "
                           "done.", code="funds_in_motion")
        if self._transfers is not None and any(t.state in MOVING for t in self._transfers.list_for_user(user.user_id)):
            raise Conflict("USDC is on its way between your Solana wallet and Hyperliquid. Try again when it has "
                           "arrived.", code="funds_in_motion")
        return positions

    def _free_in_wallet(self, balances: Balances, asset: WithdrawalAsset) -> FreeAmount:
        balance = balances.solana_sol if asset == "SOL" else balances.solana_usdc
        if balance is None:
            raise Unavailable("The wallet's balance cannot be read just now; try again in a minute.",
                              code="balance_unavailable")
        free = balance - SOL_FEE_RESERVE if asset == "SOL" else balance
        limited_by = f"pays the transactions' fees ({SOL_FEE_RESERVE} SOL)" if asset == "SOL" else None
        return FreeAmount(max(free, Decimal(0)), limited_by, balance)

    def _free_on_hyperliquid(self, user: UserRecord, positions: list[Position]) -> FreeAmount:
        """The venue's withdrawable; with a live short, at most what keeps it at its rebalance distance."""
        if not user.evm_address:
            raise ServiceError("This account has no Hyperliquid account yet.", code="no_hyperliquid_account")
        if self._hyperliquid_withdrawable is None:
            raise Unavailable("Hyperliquid withdrawals are not configured here.", code="withdrawals_unavailable")
        free_usdc = self._hyperliquid_withdrawable(user.evm_address)  # a venue error propagates: the step retries
        live = [p for p in positions if p.status in SHORT_HELD]
        kept = self._spare_for_short(user.evm_address, live) if live else None
        if kept is not None and kept[0] < free_usdc:
            spare, distance = kept
            return FreeAmount(spare, f"keeps your open short {distance:.1%} from liquidation")
        return FreeAmount(max(free_usdc, Decimal(0)))

    def _spare_for_short(self, address: str, live: list[Position]) -> tuple[Decimal, Decimal] | None:
        """(the account value a withdrawal may take, the distance it keeps the short from liquidation), or None
        when the account holds no short. The venue's `withdrawable` only keeps the short's initial margin (at the
        account's 10x: a 3x position could be left ~8% from liquidation, and a spike would liquidate the short and
        leave the long naked); this keeps the short as far as the strictest live position's rebalance target."""
        if self._hyperliquid_margin is None:
            raise Unavailable("Hyperliquid withdrawals are not configured here.", code="withdrawals_unavailable")
        try:
            margin = self._hyperliquid_margin(address)
        except (TransientVenueError, VenueRejected) as error:
            raise Unavailable("Hyperliquid's margin cannot be read just now; try again in a minute.",
                              code="balance_unavailable") from error
        if margin.short_sol <= 0:
            return None
        if margin.liquidation_price_usd is None or margin.liquidation_price_usd <= 0 or margin.price_usd <= 0:
            raise Unavailable("Hyperliquid reports no liquidation price for your short just now; try again in a "
                              "minute.", code="balance_unavailable")
        distance = max(self._target_distance(position) for position in live)
        rate = maintenance_rate_from(margin.account_value_usd, margin.short_sol, margin.price_usd,
                                     margin.liquidation_price_usd)
        spare = spare_margin_usd(margin.account_value_usd, margin.short_sol, margin.price_usd, rate, distance)
        return max(spare, Decimal(0)).quantize(CENT, rounding=ROUND_DOWN), distance

    def _target_distance(self, position: Position) -> Decimal:
        """The distance the tick's rebalance restores for this position (`rebalance_target`)."""
        readings = self._risk.readings(position) if self._risk is not None else None
        return rebalance_target(readings.liquidation_distance_at_open if readings is not None else None)

    # --- the trading side (the withdraw workflow's step) -----------------------------------------------------

    def execute(self, user_id: str, withdrawal_id: str, executors: dict[str, TransferExecutor]) -> Withdrawal:
        withdrawal = self.get(user_id, withdrawal_id)
        executor = executors[withdrawal.source]
        wallet_before: Decimal | None = None  # the wallet's balance this run read before it signed
        if withdrawal.status in ("sent", "failed", "expired", "confirm_by_email"):
            return withdrawal  # done, or never confirmed: nothing to pay
        if withdrawal.status == "approved":
            user = self._users.get_user(user_id)
            if user is None:
                raise NotFound("No such user.", code="unknown_user")
            try:
                wallet_before = self._check_free(user, withdrawal.asset, withdrawal.amount, withdrawal.source)
                signed = executor.sign_transfer(user_id, withdrawal.asset, withdrawal.amount, withdrawal.to)
            except (ServiceError, VenueRejected, ValueError) as refused:  # nothing signed or sent: it fails
                return self._finish(withdrawal, "approved", status="failed", error=str(refused))
            sending = replace(withdrawal, status="sending", signed_transaction=signed, updated_at=self._clock.now())
            if not self._store.move_withdrawal(sending, expected="approved"):
                return self.get(user_id, withdrawal_id)  # a parallel run took it
            withdrawal = sending
        assert withdrawal.signed_transaction is not None
        try:
            signature = executor.send(withdrawal.signed_transaction)  # the same bytes on every retry
        except VenueRejected as refused:  # refused before it executed: nothing left the account
            return self._finish(withdrawal, "sending", status="failed", error=str(refused))
        done, moved = self._move(withdrawal, "sending", status="sent", signature=signature)
        if moved and wallet_before is not None and done.source == "solana" and done.asset == "USDC":
            self._take_rebalance_cash(done, wallet_before)
        return done

    def _take_rebalance_cash(self, withdrawal: Withdrawal, wallet_before: Decimal) -> None:
        """The part of a paid USDC withdrawal that was live positions' rebalance cash leaves their books as capital
        returned (dnbot.domain.rebalance_cash: why, and why not a loss). Once per withdrawal: only the run that
        moved it to sent, with the balance it read before signing. The money has left: a ledger failure is
        logged, never raised (the position then counts that cash until it closes, as before)."""
        try:
            live = [p for p in self._positions.list_positions(withdrawal.user_id) if p.status in SHORT_HELD]
            for position, usd in rebalance_cash_taken(wallet_before, withdrawal.amount, live):
                self._save_paid_out(withdrawal, position, usd)
        except Exception:  # the USDC has left whatever the ledger does: never fail the paid withdrawal
            logger.exception("withdrawal %s: the positions' rebalance cash not updated", withdrawal.withdrawal_id)

    def _save_paid_out(self, withdrawal: Withdrawal, position: Position, usd: Decimal) -> None:
        current = position
        for _ in range(3):
            try:
                self._positions.save_position(replace(cash_paid_out(current, usd), updated_at=self._clock.now()))
            except PositionConflict:  # the tick or the reconciler wrote it meanwhile: apply it to theirs
                fresh = self._positions.get_position(position.user_id, position.position_id)
                if fresh is None:
                    return
                current = fresh
                continue
            logger.info("withdrawal %s took %s USDC of %s's rebalance cash", withdrawal.withdrawal_id, usd,
                        position.position_id)
            return
        logger.warning("withdrawal %s: %s's rebalance cash not lowered by %s USDC (it kept changing)",
                       withdrawal.withdrawal_id, position.position_id, usd)

    def _finish(self, withdrawal: Withdrawal, expected: WithdrawalStatus, **changes: Any) -> Withdrawal:
        return self._move(withdrawal, expected, **changes)[0]

    def _move(self, withdrawal: Withdrawal, expected: WithdrawalStatus, **changes: Any) -> tuple[Withdrawal, bool]:
        """(the withdrawal as stored, whether this call moved it)."""
        done = replace(withdrawal, updated_at=self._clock.now(), **changes)
        if not self._store.move_withdrawal(done, expected=expected):
            return self.get(withdrawal.user_id, withdrawal.withdrawal_id), False
        self._event(done, str(done.status))
        return done, True

    def _record(self, action: str, user_id: str, client: str, withdrawal: Withdrawal) -> None:
        if self._audit is not None:
            self._audit.record(action, user_id=user_id, client=client, detail={
                "withdrawal_id": withdrawal.withdrawal_id, "asset": withdrawal.asset,
                "amount": str(withdrawal.amount), "to": withdrawal.to})

    def _event(self, withdrawal: Withdrawal, what: str) -> None:
        if self._activity is not None:
            self._activity.record(withdrawal.user_id, "withdrawal",
                                  f"Withdrawal of {withdrawal.amount} {withdrawal.asset} to {withdrawal.to}: {what}.",
                                  withdrawal_id=withdrawal.withdrawal_id, status=withdrawal.status,
                                  signature=withdrawal.signature or "")

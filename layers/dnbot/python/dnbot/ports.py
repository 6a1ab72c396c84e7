"""The small interfaces the services need. Adapters implement them; services and tests depend only on these.

Venue ports speak domain types (Decimal money, named rate periods) so that a service never sees a wire format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from dnbot.domain.assets import Asset
from dnbot.domain.bridge import BridgeTransfer
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.lst_peg import PegQuote
from dnbot.domain.pnl import FundingShare
from dnbot.domain.positions import Job, Position, PositionStatus
from dnbot.domain.rates import FundingQuote, LendingMarket, RatesSnapshot
from dnbot.domain.reconcile import VenueTruth
from dnbot.domain.risk import RiskReadings

if TYPE_CHECKING:
    from solders.keypair import Keypair

# --- time --------------------------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC."""
        ...


# --- market data (read-only, public) -----------------------------------------------------------------------


class LendingMarketSource(Protocol):
    """Asgard /markets (or a replay of it): every asset x protocol the long can use, with its rates."""

    def lending_markets(self) -> list[LendingMarket]: ...

    def sol_price_usd(self) -> Decimal: ...


class FundingSource(Protocol):
    """Hyperliquid metaAndAssetCtxs + predictedFundings + fundingHistory for SOL."""

    def sol_funding(self) -> FundingQuote: ...

    def funding_history_hourly(self, hours: int) -> list[Decimal]:
        """The last `hours` settled hourly rates, OLDEST FIRST (positive = the short earned)."""
        ...


# --- state ---------------------------------------------------------------------------------------------------


class RatesStore(Protocol):
    def put_snapshot(self, snapshot: RatesSnapshot) -> None: ...

    def latest_snapshot(self) -> RatesSnapshot | None: ...

    def hourly_snapshots(self, since: datetime) -> list[RatesSnapshot]:
        """The last snapshot polled in each hour since `since`, oldest first (kept ~70 days, TTL): the
        strategy's funding lookback and each market's week of rates."""
        ...

    def peg_quotes(self, since: datetime) -> list[PegQuote]:
        """Each LST's best rate at Asgard in each hour since `since` (every poll's `put_snapshot` keeps it, a
        lower rate later in the hour does not replace it; kept ~8 days, TTL): an LST's peg reference."""
        ...


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    email: str
    created_at: datetime
    solana_address: str | None = None
    evm_address: str | None = None
    bot_status: str = "standby"  # standby | running | paused
    settings: dict[str, Any] | None = None


class UserStore(Protocol):
    def get_user(self, user_id: str) -> UserRecord | None: ...

    def find_user_by_email(self, email: str) -> UserRecord | None: ...

    def put_user(self, user: UserRecord) -> None: ...

    def running_user_ids(self) -> list[str]: ...


class CapitalSource(Protocol):
    def free_capital_usd(self, user: UserRecord) -> Decimal:
        """Capital a new position may use: collateral on Solana plus margin on Hyperliquid, not committed."""
        ...


@dataclass(frozen=True, slots=True)
class Balances:
    """What the user holds where (None: that venue could not be read just now)."""

    solana_sol: Decimal | None
    solana_usdc: Decimal | None
    evm_usdc: Decimal | None  # on Arbitrum, on its way to Hyperliquid
    hyperliquid_account_value_usd: Decimal | None


class BalanceReader(Protocol):
    def balances(self, user: UserRecord) -> Balances: ...


class RiskReader(Protocol):
    def readings(self, position: Position) -> RiskReadings:
        """What the venues say about this live position now (unknown readings stay None)."""
        ...


class PositionConflict(Exception):
    """A conditional write lost: the position already exists, or is not in the state the caller expected."""


class PositionStore(Protocol):
    def create_position(self, position: Position) -> None:
        """Raises PositionConflict if a position with this id exists (the open workflow is idempotent)."""
        ...

    def get_position(self, user_id: str, position_id: str) -> Position | None: ...

    def save_position(self, position: Position, *, expected_updated_at: datetime | None = None) -> Position:
        """A versioned conditional write: only if the stored version is still `position.version` (the version
        the caller read; also `expected_updated_at` if given), else PositionConflict. Returns the position as
        stored (version + 1): save that, not the argument, next time."""
        ...

    def list_positions(self, user_id: str) -> list[Position]: ...

    def positions_with_status(self, status: PositionStatus) -> list[Position]:
        """Across every user (the kill switch's close-all must reach paused users too)."""
        ...


class JobStore(Protocol):
    def put_job(self, job: Job) -> None: ...

    def get_job(self, job_id: str) -> Job | None: ...


@dataclass(frozen=True, slots=True)
class SessionRecord:
    session_id: str
    user_id: str
    created_at: datetime
    expires_at: datetime  # the absolute lifetime (24 h, 7 days with "stay logged in")
    csrf_token: str
    last_seen_at: datetime | None = None  # the idle timeout counts from here


class SessionStore(Protocol):
    """Sessions by their secret (the cookie); the store keeps only the secret's SHA-256."""

    def create_session(self, session: SessionRecord) -> None: ...

    def get_session(self, session_id: str) -> SessionRecord | None:
        """Returns None for an unknown or expired session (DynamoDB TTL is lazy: expiry is checked here)."""
        ...

    def touch_session(self, session_id: str, at: datetime) -> None: ...

    def delete_session(self, session_id: str) -> None: ...

    def delete_user_sessions(self, user_id: str) -> int:
        """Every session of the user (log out everywhere); returns how many ended."""
        ...


class ConnectionStore(Protocol):
    """Open WebSocket connections (API Gateway connection ids) and whose they are."""

    def add_connection(self, connection_id: str, user_id: str | None) -> None: ...

    def remove_connection(self, connection_id: str) -> None: ...

    def connections(self, user_id: str | None = None) -> list[str]:
        """Every connection, or only this user's."""
        ...


class ConnectionPusher(Protocol):
    def push(self, connection_id: str, message: dict[str, Any]) -> bool:
        """Send one JSON message; False when the connection is gone."""
        ...


class KillSwitchReader(Protocol):
    def kill_switch(self, *, fresh: bool = False) -> KillSwitch:
        """The switch (cached a few seconds); `fresh` reads past the cache (before a step adds exposure)."""
        ...


class KillSwitchWriter(Protocol):
    def set_kill_switch(self, value: KillSwitch) -> None: ...


class WorkflowStarter(Protocol):
    def start_open(self, position: Position, job_id: str) -> str:
        """Start the open state machine for this position; returns the execution id. Idempotent by id."""
        ...

    def start_close(self, position: Position, job_id: str, reason: str) -> str:
        """Start the close state machine, one execution per position at a time (named after it); returns the
        job id of the close that runs: `job_id`, or the job of the close already running for this position."""
        ...

    def start_rebalance(self, position: Position, reason: str, target_distance: Decimal) -> str:
        """Start the rebalance state machine for this open position's next rebalance (or the one in flight): one
        execution per position and rebalance number (`rebalance-<position id>-<n>`); returns its name."""
        ...


# --- identity ------------------------------------------------------------------------------------------------


class LoginRejected(Exception):
    """Wrong or expired code, malformed or forged token: the user is not logged in."""


class CodeReplaced(LoginRejected):
    """Too many wrong codes: the code is void and a fresh one went to its owner's inbox (nobody is locked out)."""


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    subject: str  # the identity provider's user id (Privy DID, or the local provider's)
    email: str
    # A bearer token's identity (Privy: its sid and iat) and expiry: it may be exchanged for a session once.
    token_id: str | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UserWallets:
    solana_address: str
    evm_address: str


class WalletProvisioner(Protocol):
    def wallets_for(self, user_id: str) -> UserWallets:
        """Create (or find) the user's Solana and EVM wallets; idempotent per user."""
        ...


class IdentityProvider(Protocol):
    """Email one-time-code login run by the server (the local provider of `dnbot local`)."""

    def start_email_login(self, email: str) -> None:
        """Send (or, locally, print) a one-time code to this address."""
        ...

    def verify_email_code(self, email: str, code: str) -> VerifiedIdentity: ...


class AccessTokenVerifier(Protocol):
    """Privy: the browser runs the email OTP with Privy; the server verifies the access token it gets."""

    def verify(self, access_token: str) -> VerifiedIdentity:
        """Raises LoginRejected for a bad, expired or foreign token."""
        ...


# --- venues (trading) ----------------------------------------------------------------------------------------


class TransientVenueError(Exception):
    """The venue was briefly unavailable (5xx, timeout before sending, rate limit): safe to retry."""


class VenueRejected(Exception):
    """The venue refused the request (bad parameters, insufficient funds): retrying will not help."""


class AmbiguousVenueError(Exception):
    """The request may have landed (timeout after sending): reconcile by client id before anything else."""


@dataclass(frozen=True, slots=True)
class LongOpenRequest:
    user_id: str
    position_id: str  # idempotency key at the venue
    asset: Asset
    protocol: int  # Asgard protocol code
    collateral_usd: Decimal
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class LongFill:
    reference: str  # Asgard position address
    size: Decimal  # asset units held
    entry_price_usd: Decimal  # USD per asset unit
    notional_usd: Decimal
    fees_usd: Decimal


@dataclass(frozen=True, slots=True)
class ShortFill:
    reference: str  # order id / cloid
    size_sol: Decimal  # filled SOL (positive number; the position is short)
    average_price_usd: Decimal
    fees_usd: Decimal


class LongVenue(Protocol):
    def open_long(self, request: LongOpenRequest) -> LongFill: ...

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        """The long this position opened, if any (reconciliation after an ambiguous failure)."""
        ...

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        """Close it; returns USD proceeds after fees. Closing an absent long is a no-op returning 0."""
        ...

    def long_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        """The fees this position's own close of the long paid, and the penalties of the liquidations it took
        (inside close_long's proceeds): the realized PnL's fees part. 0 while it is not closed, or when the venue
        does not say."""
        ...


class ShortVenue(Protocol):
    def open_short(self, user_id: str, position_id: str, size_sol: Decimal) -> ShortFill: ...

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        """THIS position's short still open at the venue (its own fills; the account may hold others')."""
        ...

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        """Reduce-only buy back of exactly this position's `size_sol` (its ledger size), never the account's net:
        another position's short is never touched. Returns the closing fills' realized USD PnL after their fees
        (funding and the opening fee are not in it). Closing an absent short is a no-op."""
        ...

    def short_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        """The fees this position's closing buy-backs paid (inside close_short's PnL): the realized PnL's fees
        part. 0 before any."""
        ...

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        """This position's funding received (+) or paid (-) since `since`: the venue pays the account every hour,
        split across the account's positions by their sizes in that hour."""
        ...

    def funding_shares(self, user_id: str, positions: Sequence[Position], since: datetime,
                       until: datetime | None = None) -> list[FundingShare]:
        """These positions' parts of each hourly payment between `since` and `until`, oldest first (a position's
        parts sum to its funding_usd): the funding export."""
        ...

    def adjust_short(self, user_id: str, position_id: str, add_sol: Decimal) -> ShortFill:
        """Sell `add_sol` more SOL short (a negative amount buys back, reduce-only); returns the whole short
        (size, average price, fees so far). Idempotent per position: one adjustment."""
        ...


# --- signing (Privy wallets, authorization keys) -----------------------------------------------------------


class SolanaTransactionSigner(Protocol):
    def sign_transaction(self, user_id: str, tx_base64: str) -> str:
        """Validate, then sign with the user's Solana wallet; returns the signed transaction (base64).

        Raises dnbot.security.transaction_validator.TransactionRefused for a transaction the policy refuses.
        """
        ...


class EvmTypedDataSigner(Protocol):
    def sign_typed_data(self, user_id: str, typed_data: dict[str, Any]) -> str:
        """EIP-712 (eth_signTypedData_v4 shape: domain, types, primaryType, message); returns 0x-hex r||s||v."""
        ...


class AuthorizationSigner(Protocol):
    """The server's P-256 authorization key (Privy): ECDSA over SHA-256 of `payload`, DER-encoded."""

    def sign(self, payload: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PrivyWalletRecord:
    """The user's Privy wallets: ids to call the wallet API with, addresses to show and fund."""

    solana_wallet_id: str
    solana_address: str
    evm_wallet_id: str
    evm_address: str


class WalletDirectory(Protocol):
    """user id -> that user's Privy wallet ids (the lead backs it with DynamoDB)."""

    def get_wallets(self, user_id: str) -> PrivyWalletRecord | None: ...

    def put_wallets(self, user_id: str, record: PrivyWalletRecord) -> None: ...


class EncryptedBlobStore(Protocol):
    """Opaque encrypted blobs by key (the envelope vault's storage; the lead backs it with DynamoDB)."""

    def put_blob(self, key: str, blob: dict[str, str]) -> None: ...

    def get_blob(self, key: str) -> dict[str, str] | None: ...


class EvmTransactionSigner(Protocol):
    def sign_transaction(self, user_id: str, transaction: dict[str, Any]) -> str:
        """Sign an EVM transaction (eth-account dict: chainId, nonce, to, value, data, gas, fees) with the user's
        EVM wallet after validating it (dnbot.security.evm_validator); returns the raw signed transaction, 0x-hex."""
        ...


class AgentKeyVault(Protocol):
    """The user's Hyperliquid agent (API) wallet key, envelope-encrypted at rest (dnbot.adapters.aws.kms)."""

    def store(self, user_id: str, key_hex: str) -> None: ...

    def has(self, user_id: str) -> bool:
        """Whether a key is stored for this user (a key that is stored but fails to decrypt is an error, not absent)."""
        ...

    def load(self, user_id: str) -> str:
        """The key as stored (0x-hex); raises dnbot.adapters.aws.kms.VaultError if absent or not authentic."""
        ...


class NonceSource(Protocol):
    """Hyperliquid nonces for one signer (an agent or a user wallet)."""

    def next_nonce(self, signer: str) -> int:
        """A millisecond nonce, strictly increasing per signer across every process that signs for it."""
        ...


# --- activity and PnL records (the dashboard's History and Activity) ------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    at: datetime
    kind: str  # position_opened | position_closed | position_failed | unwind | kill_switch | settings | ...
    message: str  # one sentence a trader understands
    position_id: str | None = None
    detail: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class ActivityPage:
    events: list[ActivityEvent]
    cursor: str | None  # pass back to get the next (older) page; None at the end


class ActivityLog(Protocol):
    """What happened to a user's account, newest first (opens, closes, unwinds, kill switch, settings, deposits,
    withdrawals, rebalances). Recording never raises into the caller's use case."""

    def record(self, user_id: str, kind: str, message: str, position_id: str | None = None,
               **detail: object) -> None: ...

    def events(self, user_id: str, limit: int = 50, cursor: str | None = None) -> ActivityPage: ...


class PnlBook(Protocol):
    """A closed (or failed) position's realized PnL by source, kept with it (source name -> USD, in cents)."""

    def put_realized(self, user_id: str, position_id: str, parts: dict[str, Decimal]) -> None: ...

    def realized_of(self, user_id: str) -> dict[str, dict[str, Decimal]]:
        """position id -> its parts, for every position of the user that has them."""
        ...


# --- starts: idempotency keys, one open in flight per user, the back-off after failed opens ----------------


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """What a request with this key did: still running (`status_code` None), or its stored answer."""

    fingerprint: str  # of the request (method, path, body): the same key with another body is refused
    status_code: int | None
    body: dict[str, Any] | None


class IdempotencyStore(Protocol):
    def claim(self, scope: str, key: str, fingerprint: str, lease: timedelta) -> IdempotencyRecord | None:
        """Claim the key for a first run (None) with one conditional write, or return the existing record. A
        claim whose run died without an answer may be taken over once its `lease` has passed."""
        ...

    def complete(self, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
        """Store the answer; it is replayed for the key's lifetime (24 h)."""
        ...

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose run failed unexpectedly (a retry may run it again)."""
        ...


@dataclass(frozen=True, slots=True)
class OpenBackoff:
    failures: int  # failed opens in a row
    until: datetime  # no automatic open before this


class OpenGuard(Protocol):
    def acquire_open(self, user_id: str, position_id: str, hold: timedelta) -> str | None:
        """Take the user's "open in flight" lock for this position with one conditional write; returns None if
        taken, else the position id of the open that holds it. An abandoned lock expires after `hold`."""
        ...

    def release_open(self, user_id: str, position_id: str) -> None:
        """Release the lock if this position holds it (the open ended: MarkOpen / MarkFailed)."""
        ...

    def open_backoff(self, user_id: str) -> OpenBackoff | None: ...

    def record_open_failure(self, user_id: str, base: timedelta, cap: timedelta) -> OpenBackoff:
        """One more failed open: back off `base` x 2^(failures - 1), at most `cap`."""
        ...

    def clear_open_failures(self, user_id: str) -> None: ...


# --- the reconciler and the operator's alerts ---------------------------------------------------------------


class AlertSink(Protocol):
    """The operator's alerts (SNS in AWS, the terminal under `dnbot local`): every needs_attention, drift,
    unwind and liquidation raises one. Never raises itself: an alert must not fail the step that sends it."""

    def alert(self, kind: str, message: str, *, user_id: str | None = None, position_id: str | None = None,
              detail: dict[str, Any] | None = None) -> None: ...


class VenueTruthReader(Protocol):
    def venue_truth(self, user_id: str, position_ids: list[str], since: datetime) -> VenueTruth:
        """The user's Hyperliquid SOL position (and each of `position_ids`' own share of it, from its fills) and
        every Asgard position of the user's wallet; `short_liquidated` counts liquidations after `since`."""
        ...


class AccountShortTrader(Protocol):
    def trade_account_short(self, user_id: str, change_sol: Decimal, *, reduce_only: bool, key: str) -> Decimal:
        """Sell (+) or buy back (-) exactly |change_sol| SOL on the user's Hyperliquid account with an order no
        position owns (client id from `key`: the same key never trades twice); returns the fills' realized USD
        PnL after fees."""
        ...


class ReconcileTargets(Protocol):
    def user_ids_to_reconcile(self, failed_since: datetime) -> list[str]:
        """Every user with a live position, or one that failed or closed since `failed_since`."""
        ...


# --- the tick's fan-out --------------------------------------------------------------------------------------


class FanOutReads(Protocol):
    """Paged reads, so each fan-out invocation does a bounded amount of work however many users there are."""

    def running_users_page(self, cursor: str | None, limit: int) -> tuple[list[str], str | None]: ...

    def positions_with_status_page(self, status: PositionStatus, cursor: str | None,
                                   limit: int) -> tuple[list[Position], str | None]: ...


class WorkQueue(Protocol):
    def send_batch(self, messages: list[dict[str, Any]]) -> None:
        """Enqueue JSON messages (SendMessageBatch, 10 a call); raises if any could not be enqueued."""
        ...


@dataclass(frozen=True, slots=True)
class PnlSnapshot:
    """A position's PnL by source at one hour (unrealized while open; the last one is the realized PnL)."""

    position_id: str
    at: datetime
    parts: dict[str, Decimal]  # source -> USD (cents), as domain.pnl.SOURCES


class PnlSnapshots(Protocol):
    """Hourly PnL snapshots of a user's positions (the dashboard's charts)."""

    def put_snapshot(self, user_id: str, snapshot: PnlSnapshot) -> None:
        """Idempotent per position and hour (a second write in the same hour replaces the first)."""
        ...

    def snapshots(self, user_id: str, since: datetime, position_id: str | None = None) -> list[PnlSnapshot]:
        """Oldest first."""
        ...


# --- user notifications: a Slack/Discord-compatible webhook per user, fed through a queue --------------------


class WebhookStore(Protocol):
    """The one webhook URL a user has saved for notifications (None: notifications off)."""

    def get_webhook(self, user_id: str) -> str | None: ...

    def put_webhook(self, user_id: str, url: str) -> None: ...

    def delete_webhook(self, user_id: str) -> None: ...


class Notifier(Protocol):
    """Queues one notification for a user; delivery (and its retries) happens elsewhere, so a caller inside a
    workflow is never held up by a slow or failing webhook."""

    def notify(self, user_id: str, text: str, event: dict[str, Any]) -> None: ...


class WebhookSender(Protocol):
    """POSTs a JSON body to a webhook; raises on anything but a 2xx (the queue then retries)."""

    def post(self, url: str, body: dict[str, Any]) -> None: ...


# --- deposits: USDC on the user's Arbitrum address swept to Hyperliquid (services/deposits.py) ---------------

@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One bridge deposit of a user's Arbitrum USDC. Open while `sent` or `mined`; at most one open per user."""

    user_id: str
    tx_hash: str
    nonce: int
    raw: str  # the signed transaction, resent byte for byte while it is not mined
    usdc: Decimal
    sent_at: datetime
    status: str  # sent | mined | credited | reverted | refused
    credit_ref: str | None = None  # the Hyperliquid ledger entry that credited it

    @property
    def open(self) -> bool:
        return self.status in ("sent", "mined")


class DepositSweepLedger(Protocol):
    def evm_wallets_page(self, cursor: str | None, limit: int) -> tuple[list[tuple[str, str]], str | None]:
        """One page of (user id, EVM address) of every user with wallets, and the next page's cursor."""
        ...

    def backfill_wallet_registry(self, max_pages: int) -> int | None:
        """Lists the users whose wallets predate the sweep's list (at most `max_pages` pages of work a call,
        resumable); how many it added, or None once the backfill has completed (cheap from then on)."""
        ...

    def open_sweep(self, user_id: str) -> SweepRecord | None: ...

    def claim_sweep(self, record: SweepRecord) -> bool:
        """Record a new open sweep; False when the user already has one (another run got there first)."""
        ...

    def update_sweep(self, record: SweepRecord) -> None:
        """Save the record's new status; a record no longer open is closed (kept as history)."""
        ...

    def credit_refs(self, user_id: str) -> set[str]:
        """Hyperliquid ledger entries already matched to a sweep of this user."""
        ...


class ArbitrumBridge(Protocol):
    """The user's Arbitrum wallet and Hyperliquid's bridge (dnbot.adapters.evm.arbitrum.ArbitrumClient)."""

    def usdc_balance(self, address: str) -> Decimal: ...

    def eth_balance(self, address: str) -> Decimal: ...

    def transfer_gas_reserve_eth(self, address: str) -> Decimal: ...

    def sign_bridge_deposit(self, user_id: str, address: str, usdc: Decimal, signer: EvmTransactionSigner,
                            *, nonce: int | None = None) -> Any: ...

    def send_raw(self, tx_hash: str, raw: str) -> str: ...

    def receipt_status(self, tx_hash: str) -> bool | None: ...


# --- in-place rebalance (dnbot.services.rebalance) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LongState:
    """One Asgard long now: its size, value and debt at Asgard's price, its liquidation threshold, and how many
    updates (deleverage, add collateral, partial close) it has had."""

    size: Decimal
    value_usd: Decimal
    debt_usd: Decimal
    liquidation_threshold: Decimal
    update_count: int
    # What the partial close this call sent paid to the wallet (Asgard's equityWithdrawnUI, after its fee); None
    # when this call sent no partial close (a deleverage, a read, a retry that found the update landed).
    paid_out_usd: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ShortMargin:
    """The Hyperliquid account (cross margin: every position's short shares its value)."""

    account_value_usd: Decimal
    short_sol: Decimal  # the account's whole short, positive
    price_usd: Decimal  # the mark price
    liquidation_price_usd: Decimal | None


class HyperliquidAccountReads(Protocol):
    """What a Hyperliquid withdrawal reads of the user's account, by its EVM address."""

    def withdrawable_usd(self, address: str) -> Decimal: ...

    def short_margin(self, address: str) -> ShortMargin: ...


class LongDeleverager(Protocol):
    def long_state(self, user_id: str, position_id: str) -> LongState | None: ...

    def shrink_long(self, user_id: str, position_id: str, *, target_leverage: Decimal,
                    close_percentage: Decimal | None, updates_before: int) -> LongState:
        """Asgard's /position/deleverage to `target_leverage` (or, with `close_percentage`, its
        /position/partial-close), once: when the position already has more updates than `updates_before`, the
        earlier attempt landed and nothing is sent. Raises LongMayStillLand while a submit whose answer was lost
        may still land."""
        ...

    def repay_debt_once(self, user_id: str, position_id: str, usdc: Decimal, *, updates_before: int) -> LongState:
        """Asgard's /position/repay-debt of `usdc` from the user's Solana wallet (the USDC a bridge rebalance
        moved to the long: its debt falls by `usdc`, its SOL stays), once: when the position already has more
        updates than `updates_before`, the earlier attempt landed and nothing is sent; while a signed repayment
        whose answer was lost may still land, raises LongMayStillLand (never signs a second one). Returns the
        long's state after."""
        ...


class MarginOut(Protocol):
    """Hyperliquid margin -> the account's OWN Arbitrum wallet (the first leg of a bridge rebalance after a fall;
    the bridge transfer it feeds must be planned before, so the deposit sweep leaves the USDC alone)."""

    def withdrawable_usd(self, user_id: str) -> Decimal:
        """What Hyperliquid lets the account withdraw now."""
        ...

    def withdraw_to_own_wallet(self, user_id: str, amount_usd: Decimal, nonce: int) -> str:
        """`withdraw3` of `amount_usd` (the wallet receives it less Hyperliquid's 1 USDC fee) under the caller's
        `nonce` (ms, within Hyperliquid's window: 2 days back, 1 day ahead); its reference. Once per nonce: a retry
        with the same nonce withdraws nothing more (the ledger lists it, or Hyperliquid answers "duplicate
        nonce"). Raises VenueRejected (e.g. more than withdrawable), TransientVenueError (retry)."""
        ...


class UsdcReservations(Protocol):
    def reserved_usdc(self, user_id: str) -> Decimal:
        """USDC on the user's Arbitrum wallet that a bridge transfer is about to burn: the deposit sweep leaves it."""
        ...


@dataclass(frozen=True, slots=True)
class StepFill:
    """What one order step of a position traded: its size and its realized PnL after fees (USD)."""

    size_sol: Decimal
    realized_usd: Decimal


class ShortResizer(Protocol):
    def short_margin(self, user_id: str) -> ShortMargin: ...

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None: ...

    def step_filled(self, user_id: str, position_id: str, step: str) -> StepFill:
        """What the order of `step` filled (size 0 if it never traded)."""
        ...

    def resize_short(self, user_id: str, position_id: str, change_sol: Decimal, step: str) -> StepFill:
        """Sell `change_sol` more (negative: buy back, reduce-only) for this position under the cloid of `step`
        ("rebalance-<n>", "restore-<n>"); once per step: a retry returns what the first attempt filled."""
        ...


class UserLease(Protocol):
    """A short per-user lease for work that must not run twice at once for one user (a reconcile message that
    standard SQS delivered twice). One conditional write; a lease whose holder died lapses after `hold`."""

    def acquire_user_lease(self, scope: str, user_id: str, holder: str, hold: timedelta) -> bool:
        """True if `holder` now holds the user's `scope` lease (it was free, lapsed, or already `holder`'s)."""
        ...

    def release_user_lease(self, scope: str, user_id: str, holder: str) -> None:
        """Give the lease back if `holder` still holds it."""
        ...


# --- the USDC bridge: Circle's attestation service (docs/bridge.md "Attestation (Iris)") ------------------------


class VenueRateLimited(TransientVenueError):
    """The venue refused for rate (HTTP 429): retry, but not before `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class AttestationPending(TransientVenueError):
    """The burn is not attested yet (not observed, or awaiting confirmations): poll again later."""


class MessageExpired(VenueRejected):
    """The destination chain refuses to mint an attested Fast message past its `expirationBlock` (EVM: "Message
    expired and must be re-signed"; Solana: MessageExpired): Iris must re-attest it (`reattest`) before a mint."""


class EventAccountWindowOpen(VenueRejected):
    """Solana's MessageTransmitterV2 refuses to close a burn's event account before it is 5 days old
    (EventAccountWindowNotExpired): the reclaim of its rent is tried again later."""


@dataclass(frozen=True, slots=True)
class AttestedMessage:
    """A burn as Circle attested it: mint with exactly these bytes (the nonce is Circle's, not the source chain's)."""

    message: bytes
    attestation: bytes
    nonce: bytes  # 32 bytes
    fee_executed_raw: int  # USDC base units (6 decimals) the destination keeps from the burned amount
    finality_threshold_executed: int  # 1000 (Fast, confirmed) or 2000 (Standard, finalized)


class AttestationService(Protocol):
    def attested(self, source_domain: int, transaction: str) -> list[AttestedMessage]:
        """Every CCTP message of the source transaction, attested; raises AttestationPending until all are."""
        ...

    def fast_fee_bps(self, source_domain: int, destination_domain: int) -> Decimal:
        """The Fast Transfer fee (finality 1000) in basis points of the amount, for that route."""
        ...

    def reattest(self, nonce: bytes) -> None:
        """Ask for a pre-finality message to be re-signed as finalized (an expired Fast message)."""
        ...


# --- the USDC bridge: one durable record per CCTP transfer (docs/bridge.md section 5) ---------------------------


class BridgeTransferExists(Exception):
    """A bridge transfer with this id is already recorded (a retried workflow: read it and resume)."""


class BridgeTransferConflict(Exception):
    """A save lost: the stored record is not at the version the writer advanced from."""


class BridgeTransferStore(Protocol):
    def create(self, record: BridgeTransfer) -> None:
        """Record a planned transfer before anything is sent; raises BridgeTransferExists if its id is taken."""
        ...

    def get(self, user_id: str, transfer_id: str) -> BridgeTransfer | None: ...

    def save(self, record: BridgeTransfer) -> None:
        """Store a record `domain.bridge.advance` returned, only over the stored version `record.version - 1`;
        another writer in between (or no such record) -> BridgeTransferConflict."""
        ...

    def list_for_user(self, user_id: str) -> list[BridgeTransfer]:
        """Every bridge transfer of the user, oldest first."""
        ...


# --- the CCTP bridge on Arbitrum (dnbot.adapters.evm.cctp.ArbitrumCctp; docs/bridge.md) ----------------------


@dataclass(frozen=True, slots=True)
class SignedEvmTx:
    """One signed EVM transaction, not necessarily sent: its bytes resend safely ("already known")."""

    tx_hash: str
    nonce: int
    raw: str  # 0x-hex


@dataclass(frozen=True, slots=True)
class SignedEvmBurn:
    """A CCTP burn on Arbitrum, signed before anything is sent: the USDC approve of TokenMessengerV2 (None when the
    allowance already covered the amount) at `approve_nonce`, then depositForBurn at `burn_nonce`. Stored as
    `encode()` in the transfer record before sending; the burn's nonce refuses any other burn once one lands."""

    burn_raw: str
    burn_hash: str
    burn_nonce: int
    approve_raw: str | None = None
    approve_hash: str | None = None
    approve_nonce: int | None = None

    def raws(self) -> list[str]:
        """The raw transactions in sending order (the approve first)."""
        return [raw for raw in (self.approve_raw, self.burn_raw) if raw is not None]

    def encode(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self.__slots__}, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> SignedEvmBurn:
        return cls(**json.loads(text))


class ArbitrumCctpPort(Protocol):
    """Circle CCTP V2 on Arbitrum One: burn the user's USDC towards Solana, mint what Solana burned to the user."""

    def sign_burn(self, user_id: str, owner: str, amount_raw: int, solana_recipient_ata: str, max_fee_raw: int,
                  min_finality: int) -> SignedEvmBurn:
        """Sign (not send) approve(TokenMessengerV2, amount) when the allowance is short, then depositForBurn to
        Solana (domain 5) minting to `solana_recipient_ata` (the user's USDC token account)."""
        ...

    def decode_burn(self, encoded: str) -> SignedEvmBurn: ...

    def send(self, raw: str) -> str:
        """Send signed bytes; returns the transaction hash (sending them again is fine)."""
        ...

    def receipt_status(self, tx_hash: str) -> str:
        """"landed" | "failed" (reverted) | "unknown" (not mined, or unknown to the node)."""
        ...

    def sign_receive(self, user_id: str, owner: str, message: bytes, attestation: bytes) -> SignedEvmTx:
        """Sign MessageTransmitterV2.receiveMessage(message, attestation) from the user's wallet."""
        ...

    def nonce_used(self, nonce: bytes) -> bool:
        """MessageTransmitterV2.usedNonces(nonce) != 0: that message was minted (by anyone)."""
        ...

    def nonce_consumed(self, owner: str, nonce: int) -> bool:
        """Whether `owner`'s account nonce `nonce` is used by a mined transaction (then no other transaction
        signed with it can land)."""
        ...

    def allowance(self, owner: str) -> int:
        """USDC raw units `owner` lets TokenMessengerV2 spend."""
        ...


# --- the CCTP bridge on Solana (dnbot.adapters.solana.cctp.SolanaCctp; docs/bridge.md) -----------------------


@dataclass(frozen=True, slots=True)
class SignedSolanaBurn:
    """A CCTP deposit_for_burn on Solana, signed by the wallet and the event account, not necessarily sent. Store
    it (`encode()`) and the event keypair before sending: resend the same bytes while the blockhash is valid; a
    rebuilt burn must reuse the event keypair, whose account can be created once, so two burns cannot land."""

    signature: str
    tx_base64: str
    event_account: str

    def encode(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self.__slots__}, sort_keys=True)

    @classmethod
    def decode(cls, text: str) -> SignedSolanaBurn:
        return cls(**json.loads(text))


class SolanaCctpPort(Protocol):
    """Circle CCTP V2 on Solana: burn the user's USDC towards Arbitrum, mint what Arbitrum burned to the user."""

    def sign_burn(self, user_id: str, amount_raw: int, evm_recipient: str, max_fee_raw: int, min_finality: int,
                  event_keypair: Keypair) -> SignedSolanaBurn:
        """Sign (not send) deposit_for_burn of the user's USDC to Arbitrum (domain 3), minting to
        `evm_recipient` (the signing policy refuses any address but the user's own). Raises TransactionRefused."""
        ...

    def sign_receive(self, user_id: str, message: bytes, attestation: bytes) -> str:
        """A signed receive_message (base64) minting the attested message to the user's USDC account."""
        ...

    def sign_reclaim(self, user_id: str, event_account: str, attestation: bytes, destination_message: bytes) -> str:
        """A signed reclaim_event_account (base64): the burn's event account rent back to the wallet (>= 5 days)."""
        ...

    def event_account_open(self, address: str) -> bool:
        """Whether a burn's event account still exists (its rent not reclaimed yet)."""
        ...

    def send(self, tx_base64: str) -> str:
        """Send a signed transaction; its signature ("already been processed" = it landed before)."""
        ...

    def status(self, signature: str) -> str:
        """"landed" | "failed" | "unknown" (getSignatureStatuses)."""
        ...

    def nonce_used(self, nonce: bytes) -> bool:
        """Whether the message with this 32-byte nonce was received on Solana (its used_nonce PDA exists)."""
        ...

    def can_still_land(self, tx_base64: str) -> bool:
        """Whether a signed transaction can still be included: its recent blockhash is still valid."""
        ...


class StakePoolReader(Protocol):
    """An LST's stake pool read on chain (adapters/solana/stake_pool.py): the open preflight's and the tick's fair
    reference for its peg (domain.stake_pool, domain.lst_peg)."""

    def redemption_rate(self, asset: Asset) -> Decimal | None:
        """SOL per LST its stake pool redeems at now; None for an LST with no stake pool to read (INF). Raises
        TransientVenueError / VenueRejected when the chain cannot be read or the account is not that pool's."""
        ...

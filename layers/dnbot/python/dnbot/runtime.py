"""The composition root: the one place that turns Settings into a graph of adapters and services.

- In Lambda, `lambda_runtime()` builds it once per container from the environment (Settings).
- `dnbot local` builds it against its in-process AWS and installs it, so the very same handlers use it.
- Tests build it on moto and swap single parts with `override(...)`.

Parts are built lazily: the API and the poller never import the trading SDKs that only the steps need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dnbot import snapstart

if TYPE_CHECKING:
    import boto3

    from dnbot.adapters.asgard.client import AsgardClient
    from dnbot.adapters.asgard.venue import AsgardLongVenue
    from dnbot.adapters.aws.dynamodb import DynamoStateStore
    from dnbot.adapters.aws.kms import KmsAuthorizationSigner, KmsEnvelopeVault
    from dnbot.adapters.aws.sessions import DynamoAuditTrail, DynamoSessionStore
    from dnbot.adapters.aws.ssm import SsmKillSwitch
    from dnbot.adapters.aws.starts import DynamoStartGuards
    from dnbot.adapters.balances import VenueBalances
    from dnbot.adapters.evm.arbitrum import ArbitrumClient
    from dnbot.adapters.hyperliquid.info import HyperliquidInfo
    from dnbot.adapters.hyperliquid.positions import AccountFunding
    from dnbot.adapters.privy.wallets import PrivyWallets
    from dnbot.adapters.solana.rpc import SolanaRpc
    from dnbot.adapters.solana.withdrawal import SolanaWithdrawals
    from dnbot.ports import (
        AccessTokenVerifier,
        AccountShortTrader,
        ActivityLog,
        AlertSink,
        BalanceReader,
        BridgeTransferStore,
        CapitalSource,
        Clock,
        ConnectionPusher,
        EvmTransactionSigner,
        FundingSource,
        HyperliquidAccountReads,
        IdentityProvider,
        LendingMarketSource,
        LongVenue,
        Notifier,
        PnlBook,
        PnlSnapshots,
        RiskReader,
        ShortVenue,
        StakePoolReader,
        UserWallets,
        VenueTruthReader,
        WalletProvisioner,
        WebhookSender,
        WebhookStore,
        WorkflowStarter,
        WorkQueue,
    )
    from dnbot.services.account import AccountService
    from dnbot.services.auth import AuthService
    from dnbot.services.bridge import BridgeService
    from dnbot.services.bridge_rebalance import BridgeRebalancing
    from dnbot.services.capital_balance import CapitalBalance
    from dnbot.services.charts import ChartsService
    from dnbot.services.control import ControlService
    from dnbot.services.deposits import DepositPlanner, DepositSweep
    from dnbot.services.idempotency import IdempotentStarts
    from dnbot.services.live_updates import LiveUpdates
    from dnbot.services.notifications import NotificationService
    from dnbot.services.portfolio import PortfolioService, PositionJournal
    from dnbot.services.position_steps import PositionSteps
    from dnbot.services.positions import PositionService
    from dnbot.services.rates import RatesService
    from dnbot.services.rebalance import PositionRebalancer
    from dnbot.services.reconciler import Reconciler
    from dnbot.services.tick import StrategyTick, TickWorker
    from dnbot.services.withdrawals import CodeSender, TransferExecutor, WithdrawalService
    from dnbot.settings import Settings


@dataclass(frozen=True)
class PrivyCredentials:
    app_id: str
    app_secret: str
    verification_key: str | None  # PEM of the app's ES256 public key (access tokens)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class _LazyEvmSigner:
    """An EvmTransactionSigner built at its first signature (the Privy EVM signer needs Privy's credentials, which
    a Lambda that never signs should not load at its start)."""

    def __init__(self, build: Callable[[], EvmTransactionSigner]) -> None:
        self._build = build

    def sign_transaction(self, user_id: str, transaction: dict[str, Any]) -> str:
        return self._build().sign_transaction(user_id, transaction)


class Runtime:
    def __init__(self, settings: Settings | None = None, *, clock: Clock | None = None,
                 boto_session: boto3.Session | None = None) -> None:
        # In Lambda neither is given: the settings (pydantic-settings) and the boto3 session are built on first
        # use, so importing a handler costs only its frameworks (docs/performance.md).
        self._kept: set[str] = set()  # parts given here or by override(): after_restore() keeps them
        if settings is not None:
            self.__dict__["settings"] = settings
        self.clock: Clock = clock or SystemClock()
        if boto_session is not None:
            self.__dict__["_session"] = boto_session
            self._kept.add("_session")

    @cached_property
    def settings(self) -> Settings:
        from dnbot.settings import load_settings

        return load_settings()

    @cached_property
    def _session(self) -> boto3.Session:
        import boto3

        return boto3.Session(region_name=self.settings.aws_region)

    def after_restore(self) -> None:
        """SnapStart: this copy resumes from a snapshot that other copies resume from too. What init made that
        must be unique or fresh is dropped and rebuilt on next use: boto3 credentials and connection pools, the
        venues' HTTP connections, cached Privy credentials and secrets, decrypted keys. The settings, the clock,
        parts given explicitly and botocore's parsed service models (the same for every copy) are kept."""
        stale_session = self.__dict__.get("_session") if "_session" not in self._kept else None
        for name in list(self.__dict__):
            if name not in self._kept and name != "settings" and \
                    isinstance(getattr(type(self), name, None), cached_property):
                del self.__dict__[name]
        if stale_session is not None:
            self.__dict__["_session"] = snapstart.fresh_boto3_session(stale_session)

    _SERVICES = ("rates", "auth", "positions", "control", "account", "tick", "steps", "live_updates", "portfolio",
                 "journal", "idempotent_starts", "reconciler", "charts", "withdrawals", "deposit_sweep",
                 "deposit_planner", "tick_worker")

    def override(self, **parts: Any) -> Runtime:
        """Replace lazily-built parts (tests, and `dnbot local` for its local-only adapters).

        Services already built are dropped, so they are rebuilt on the replaced parts at their next use.
        """
        for name, part in parts.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise AttributeError(f"Runtime has no part named {name!r}")
            self.__dict__[name] = part
            self._kept.add(name)
        for service in self._SERVICES:
            if service not in parts:
                self.__dict__.pop(service, None)
        return self

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.settings.aws_endpoint_url)  # type: ignore[call-overload]

    # --- AWS ----------------------------------------------------------------------------------------------

    @cached_property
    def store(self) -> DynamoStateStore:
        from dnbot.adapters.aws.dynamodb import DynamoStateStore

        return DynamoStateStore(self.state_table, self.clock.now,
                                timedelta(days=self.settings.rates_history_ttl_days))

    @cached_property
    def kill_switch(self) -> SsmKillSwitch:
        from dnbot.adapters.aws.ssm import SsmKillSwitch

        return SsmKillSwitch(self.client("ssm"), self.settings.kill_switch_parameter,
                             self.settings.kill_switch_cache_seconds)

    @cached_property
    def workflows(self) -> WorkflowStarter:
        from dnbot.adapters.aws.stepfunctions import StepFunctionsWorkflows

        return StepFunctionsWorkflows(self.client("stepfunctions"), self.settings.open_state_machine_arn,
                                      self.settings.close_state_machine_arn,
                                      self.settings.rebalance_state_machine_arn)

    @cached_property
    def pusher(self) -> ConnectionPusher:
        from dnbot.adapters.aws.websocket import ApiGatewayPusher

        if not self.settings.websocket_endpoint:
            raise RuntimeError("DNBOT_WEBSOCKET_ENDPOINT is not set: this deployment has no WebSocket API")
        management = self._session.client("apigatewaymanagementapi",
                                          endpoint_url=self.settings.websocket_endpoint)
        return ApiGatewayPusher(management)

    # --- venues --------------------------------------------------------------------------------------------

    @cached_property
    def asgard_client(self) -> AsgardClient:
        from dnbot.adapters.asgard.client import AsgardClient

        return AsgardClient(base_url=self.settings.asgard_base_url, api_key=self.settings.asgard_api_key)

    @cached_property
    def asgard(self) -> AsgardLongVenue:
        from dnbot.adapters.asgard.venue import AsgardLongVenue, wallet_from_directory

        # Solana's signature status resolves an Asgard submit whose answer was lost
        return AsgardLongVenue(self.asgard_client, self.privy_wallets, wallet_from_directory(self.store), self.store,
                               solana=self.solana_rpc)

    @cached_property
    def lending_markets(self) -> LendingMarketSource:
        from dnbot.adapters.asgard.markets import AsgardMarkets

        # the light read side: the poller ships without the Solana SDKs the trading venue needs
        return AsgardMarkets(self.asgard_client)

    @cached_property
    def hyperliquid(self) -> HyperliquidInfo:
        from dnbot.adapters.hyperliquid.info import HyperliquidInfo

        return HyperliquidInfo(self.settings.hyperliquid_base_url,
                               now_ms=lambda: int(self.clock.now().timestamp() * 1000))

    @cached_property
    def hyperliquid_accounts(self) -> HyperliquidAccountReads:
        """The account reads a withdrawal makes (`dnbot local`'s paper venues answer them without the venue)."""
        return self.hyperliquid

    @cached_property
    def funding_source(self) -> FundingSource:
        return self.hyperliquid

    @cached_property
    def long_venue(self) -> LongVenue:
        return self.asgard

    @cached_property
    def short_venue(self) -> ShortVenue:
        from dnbot.adapters.hyperliquid.trading import HyperliquidShortVenue

        return HyperliquidShortVenue(self.settings.hyperliquid_base_url, self.hyperliquid, self.agent_keys,
                                     self.evm_address_of, self.privy_wallets, self.store)

    @property
    def short_funding(self) -> AccountFunding | ShortVenue:
        """Each position's share of the short's hourly funding (the dashboard's figures, the hourly PnL snapshots).
        Hyperliquid's userFunding and userFills are public per address, so the production short's funding is read
        without building its trading adapter: no Privy credentials, KMS key or agent keys (pnl_snapshots holds none).
        A short venue given by override (`dnbot local`'s paper venues, tests) answers its own funding. Not cached:
        it follows whatever short venue and Hyperliquid reader the runtime has now."""
        if "short_venue" in self._kept:
            return self.short_venue
        from dnbot.adapters.hyperliquid.positions import AccountFunding

        return AccountFunding(self.hyperliquid, self.evm_address_of)

    def evm_address_of(self, user_id: str) -> str:
        """The user's EVM wallet: their Hyperliquid account."""
        user = self.store.get_user(user_id)
        if user is None or not user.evm_address:
            raise LookupError(f"user {user_id} has no EVM wallet")
        return user.evm_address

    @cached_property
    def venue_balances(self) -> VenueBalances:
        from dnbot.adapters.balances import VenueBalances
        from dnbot.adapters.evm.arbitrum import ArbitrumClient

        return VenueBalances(self.solana_rpc, ArbitrumClient(self.settings.arbitrum_rpc_url),
                             self.hyperliquid.account_value_usd, self.hyperliquid.withdrawable_usd)

    @cached_property
    def capital(self) -> CapitalSource:
        return self.venue_balances

    @cached_property
    def balances(self) -> BalanceReader:
        return self.venue_balances

    @cached_property
    def risk(self) -> RiskReader:
        from dnbot.adapters.asgard.health import AsgardHealth
        from dnbot.adapters.hyperliquid.positions import position_funding_usd
        from dnbot.adapters.risk import VenueRiskReader

        # reads only: the tick needs no signer, so no Privy credentials or KMS key
        return VenueRiskReader(AsgardHealth(self.asgard_client, self.store).health,
                               self.hyperliquid.clearinghouse_state, self.evm_address_of,
                               lambda: self.hyperliquid.sol_funding().oracle_price,
                               self.lending_markets.sol_price_usd,
                               funding_of=lambda p: position_funding_usd(
                                   self.hyperliquid, self.evm_address_of(p.user_id), p.position_id, p.created_at))

    # --- identity -----------------------------------------------------------------------------------------

    @cached_property
    def identity(self) -> IdentityProvider | None:
        """Server-run email codes exist only locally; in the cloud Privy runs the OTP in the browser."""
        return None

    @cached_property
    def token_verifier(self) -> AccessTokenVerifier | None:
        if self.settings.identity_provider != "privy":
            return None
        from dnbot.adapters.auth.privy_token import PrivyAccessTokenVerifier, privy_users_email_lookup

        credentials = self.privy_credentials
        if not credentials.verification_key:
            raise RuntimeError("the Privy verification key is not configured (Privy secret: verification_key)")
        return PrivyAccessTokenVerifier(credentials.app_id, verification_key=credentials.verification_key,
                                        email_lookup=privy_users_email_lookup(self.privy_client))

    # --- custody: Privy wallets, the KMS authorization key, the envelope vault ---------------------------

    @cached_property
    def privy_credentials(self) -> PrivyCredentials:
        """From the Secrets Manager secret in AWS (cached by Powertools), else from the settings (local)."""
        settings = self.settings
        if settings.privy_secret_arn:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = SecretsProvider(boto3_client=self.client("secretsmanager"))
            secret = provider.get(settings.privy_secret_arn, transform="json", max_age=300)
            if not isinstance(secret, dict):
                raise RuntimeError("the Privy secret must be JSON {app_id, app_secret, verification_key}")
            return PrivyCredentials(str(secret["app_id"]), str(secret["app_secret"]),
                                    secret.get("verification_key"))
        if not settings.privy_app_id or not settings.privy_app_secret:
            raise RuntimeError("Privy is not configured: set DNBOT_PRIVY_SECRET_ARN (or the app id and secret)")
        return PrivyCredentials(settings.privy_app_id, settings.privy_app_secret, settings.privy_verification_key)

    @cached_property
    def privy_client(self) -> Any:
        from privy import PrivyClient

        credentials = self.privy_credentials
        return PrivyClient(app_id=credentials.app_id, app_secret=credentials.app_secret,
                           base_url=self.settings.privy_base_url)

    @cached_property
    def authorization_signer(self) -> KmsAuthorizationSigner:
        from dnbot.adapters.aws.kms import KmsAuthorizationSigner

        return KmsAuthorizationSigner(self.client("kms"), self.settings.privy_authorization_key_id)

    @cached_property
    def privy_wallets(self) -> PrivyWallets:
        from dnbot.adapters.privy.wallets import PrivyWallets

        return PrivyWallets(self.privy_client, self.authorization_signer,
                            self.authorization_signer.public_key_base64(), self.store)

    @cached_property
    def wallets(self) -> WalletProvisioner:
        return self.privy_wallets

    @cached_property
    def agent_keys(self) -> KmsEnvelopeVault:
        from dnbot.adapters.aws.kms import KmsEnvelopeVault

        return KmsEnvelopeVault(self.client("kms"), self.settings.envelope_key_id, self.store)

    # --- services -----------------------------------------------------------------------------------------

    @cached_property
    def rates(self) -> RatesService:
        from dnbot.services.rates import RatesService

        return RatesService(self.lending_markets, self.funding_source, self.store, self.clock,
                            self.settings.market_source)

    @cached_property
    def auth(self) -> AuthService:
        from dnbot.services.auth import AuthService

        sessions = self.session_store
        return AuthService(self.store, sessions, sessions, sessions, self.wallets, self.clock,
                           identity=self.identity, token_verifier=self.token_verifier,
                           session_ttl=timedelta(hours=self.settings.session_ttl_hours),
                           remembered_session_ttl=timedelta(hours=self.settings.session_ttl_hours_remembered),
                           idle_timeout=timedelta(minutes=self.settings.session_idle_minutes), audit=self.audit)

    @cached_property
    def withdrawal_codes(self) -> CodeSender | None:
        """Who emails a withdrawal's confirmation code: SES from DNBOT_EMAIL_SENDER in AWS, `dnbot local` prints it;
        None: withdrawals answer 503."""
        if not self.settings.email_sender:
            return None
        from dnbot.adapters.aws.withdrawals import SesCodeSender

        return SesCodeSender(self.client("sesv2"), self.settings.email_sender)

    @cached_property
    def solana_withdrawals(self) -> SolanaWithdrawals:
        from dnbot.adapters.solana.withdrawal import SolanaWithdrawals

        return SolanaWithdrawals(self.solana_rpc, lambda: self.privy_wallets)

    @cached_property
    def withdrawals(self) -> WithdrawalService:
        from dnbot.adapters.aws.withdrawals import DynamoWithdrawalStore, StepFunctionsWithdrawals
        from dnbot.services.withdrawals import WithdrawalService

        arn = self.settings.withdraw_state_machine_arn
        starter = StepFunctionsWithdrawals(self.client("stepfunctions"), arn) if arn else None
        return WithdrawalService(DynamoWithdrawalStore(self.state_table), self.store,
                                 self.store, self.session_store, self.withdrawal_codes, starter,
                                 self.balances, self.solana_withdrawals, self.session_store, self.clock,
                                 audit=self.audit, activity=self.activity,
                                 hyperliquid_withdrawable=self.hyperliquid_accounts.withdrawable_usd,
                                 hyperliquid_margin=self.hyperliquid_accounts.short_margin, risk=self.risk,
                                 transfers=self.bridge_transfers)

    @cached_property
    def withdrawal_executors(self) -> dict[str, TransferExecutor]:
        """Who pays a confirmed withdrawal, by its source (the trading function only: they sign)."""
        from dnbot.adapters.hyperliquid.withdrawal import HyperliquidWithdrawals

        return {"solana": self.solana_withdrawals,
                "hyperliquid": HyperliquidWithdrawals(self.settings.hyperliquid_base_url, lambda: self.privy_wallets,
                                                      self.evm_address_of, self.store)}

    @cached_property
    def session_store(self) -> DynamoSessionStore:
        """The sessions table (sessions, codes, abuse counters): only the API and the WebSocket $connect use it."""
        from dnbot.adapters.aws.sessions import DynamoSessionStore

        return DynamoSessionStore(self.sessions_table, self.clock.now)

    @cached_property
    def audit(self) -> DynamoAuditTrail:
        from dnbot.adapters.aws.sessions import DynamoAuditTrail

        return DynamoAuditTrail(self.sessions_table, self.clock.now)

    @cached_property
    def sessions_table(self) -> Any:
        return self._dynamodb.Table(self.settings.sessions_table_name)

    @cached_property
    def origin_verify_secret(self) -> str | None:
        """The X-Origin-Verify value CloudFront sends (None: no origin check, e.g. `dnbot local`)."""
        settings = self.settings
        if settings.origin_verify_secret_arn:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            provider = SecretsProvider(boto3_client=self.client("secretsmanager"))
            return str(provider.get(settings.origin_verify_secret_arn, max_age=300))
        return settings.origin_verify_secret

    @cached_property
    def positions(self) -> PositionService:
        from dnbot.services.positions import PositionService

        return PositionService(self.store, self.store, self.store, self.workflows, self.clock,
                               guard=self.starts, users=self.store, capital=self.capital,
                               kill_switch=self.kill_switch)

    @cached_property
    def starts(self) -> DynamoStartGuards:
        """Idempotency-Key records, the per-user "open in flight" lock, the failed-open back-off."""
        from dnbot.adapters.aws.starts import DynamoStartGuards

        return DynamoStartGuards(self.state_table, self.clock.now)

    @cached_property
    def idempotent_starts(self) -> IdempotentStarts:
        from dnbot.services.idempotency import IdempotentStarts

        return IdempotentStarts(self.starts)

    @cached_property
    def control(self) -> ControlService:
        from dnbot.services.control import ControlService

        return ControlService(self.store, self.store, self.kill_switch, self.clock, self.settings.admin_emails,
                              guard=self.starts, activity=self.activity, snapshots=self.pnl_snapshots)

    @cached_property
    def account(self) -> AccountService:
        from dnbot.services.account import AccountService

        return AccountService(self.store, self.balances, activity=self.activity, positions=self.store,
                              transfers=self.bridge_transfers, clock=self.clock)

    @cached_property
    def live_updates(self) -> LiveUpdates:
        from dnbot.services.live_updates import LiveUpdates

        return LiveUpdates(self.store, self.pusher)

    @cached_property
    def solana_rpc(self) -> SolanaRpc:
        """One Solana JSON-RPC client (one connection pool) for every adapter that reads or sends on Solana."""
        from dnbot.adapters.solana.rpc import SolanaRpc

        return SolanaRpc(self.settings.solana_rpc_url)

    @cached_property
    def stake_pools(self) -> StakePoolReader | None:
        """jitoSOL's and jupSOL's stake pools on chain: the LST depeg check's fair rate (preflight and tick). None
        (`dnbot local`'s paper venues: no chain): the market-based reference alone. Its own client, not
        `solana_rpc`: a 5 s timeout, because the tick reads it once a minute and falls back to the market's
        reference when the node is slow, where a transaction's reads may wait the full 10 s."""
        from dnbot.adapters.solana.rpc import SolanaRpc
        from dnbot.adapters.solana.stake_pool import SolanaStakePools

        return SolanaStakePools(SolanaRpc(self.settings.solana_rpc_url, timeout_seconds=5.0))

    @cached_property
    def tick(self) -> StrategyTick:
        from dnbot.services.tick import StrategyTick

        return StrategyTick(self.store, self.funding_source, self.kill_switch, self.user_queue, self.clock,
                            stake_pools=self.stake_pools)

    @cached_property
    def tick_worker(self) -> TickWorker:
        from dnbot.services.tick import TickWorker

        # the worker only STARTS a rebalance (the rebalance workflow runs it in position_steps): it signs nothing
        return TickWorker(self.store, self.store, self.store, self.store, self.capital, self.risk, self.starts,
                          self.positions, self.user_queue, self.clock,
                          rebalances=self.workflows if self.rebalance_in_place else None, activity=self.activity,
                          transfers=self.bridge_transfers if self.rebalance_in_place else None)

    @cached_property
    def bridge_transfers(self) -> BridgeTransferStore:
        from dnbot.adapters.aws.bridge_transfers import DynamoBridgeTransferStore

        return DynamoBridgeTransferStore(self.state_table)

    @cached_property
    def rebalance_in_place(self) -> bool:
        """The production venues shrink both legs in place; `dnbot local`'s paper venues cannot (a Rebalance
        closes there): it overrides this, so the worker knows without building a trading adapter."""
        return True

    @cached_property
    def rebalancer(self) -> PositionRebalancer | None:
        """The rebalance workflow's steps through the production venues (position_steps); None with paper
        venues."""
        from dnbot.adapters.asgard.venue import AsgardLongVenue
        from dnbot.adapters.hyperliquid.trading import HyperliquidShortVenue
        from dnbot.services.rebalance import PositionRebalancer

        long, short = self.long_venue, self.short_venue
        if not isinstance(long, AsgardLongVenue) or not isinstance(short, HyperliquidShortVenue):
            return None
        # a failed rebalance asks the workers for its close through the fan-out queue (set in AWS and `dnbot local`)
        closes = self.user_queue if self.settings.user_queue_url else None
        return PositionRebalancer(self.store, long, short, self.clock, activity=self.activity, alerts=self.alerts,
                                  kill_switch=self.kill_switch, closes=closes,
                                  bridge=self.bridge_rebalancing if self.settings.bridge_rebalance else None)

    @cached_property
    def bridge(self) -> BridgeService:
        """USDC between the user's Solana and Arbitrum wallets over Circle's CCTP (services/bridge.py). Built
        without Privy credentials: the wallets are reached at the first signature."""
        from dnbot.adapters.evm.cctp import ArbitrumCctp
        from dnbot.adapters.iris import IrisClient
        from dnbot.adapters.privy.wallets import PrivyEvmTransactionSigner
        from dnbot.adapters.solana.cctp import SolanaCctp
        from dnbot.services.bridge import BridgeChains, BridgeService

        chains = BridgeChains(
            solana=SolanaCctp(self.solana_rpc, lambda: self.privy_wallets),
            arbitrum=ArbitrumCctp(self.arbitrum, _LazyEvmSigner(lambda: PrivyEvmTransactionSigner(self.privy_wallets))),
            iris=IrisClient(self.settings.iris_url))
        return BridgeService(self.bridge_transfers, chains, self._user_wallets, self.clock)

    def _user_wallets(self, user_id: str) -> UserWallets:
        from dnbot.ports import UserWallets

        record = self.privy_wallets.wallet_record(user_id)
        return UserWallets(record.solana_address, record.evm_address)

    @cached_property
    def bridge_rebalancing(self) -> BridgeRebalancing:
        from dnbot.adapters.asgard.venue import AsgardLongVenue
        from dnbot.adapters.hyperliquid.withdrawal import HyperliquidMarginOut
        from dnbot.services.bridge_rebalance import BridgeRebalancing

        long = self.long_venue
        assert isinstance(long, AsgardLongVenue)
        margin_out = HyperliquidMarginOut(self.settings.hyperliquid_base_url, lambda: self.privy_wallets,
                                          self.evm_address_of, self.hyperliquid)
        return BridgeRebalancing(self.bridge, self.store, long, margin_out,
                                 lambda user_id: self.arbitrum.usdc_balance(self.evm_address_of(user_id)),
                                 self.deposit_sweep.sweep_user, self.clock, activity=self.activity,
                                 alerts=self.alerts)

    @cached_property
    def user_queue(self) -> WorkQueue:
        from dnbot.adapters.aws.sqs import SqsWorkQueue

        if not self.settings.user_queue_url:
            raise RuntimeError("DNBOT_USER_QUEUE_URL is not set: the tick has no queue to fan out to")
        return SqsWorkQueue(self.client("sqs"), self.settings.user_queue_url)

    @cached_property
    def steps(self) -> PositionSteps:
        from dnbot.services.position_steps import PositionSteps, StepLimits

        limits = StepLimits(self.settings.rates_stale_after_seconds, self.settings.price_consensus_tolerance,
                            self.settings.fill_delta_tolerance)
        rebalancer = self.rebalancer
        bridging = rebalancer is not None and self.settings.bridge_rebalance
        return PositionSteps(self.store, self.store, self.store, self.kill_switch, self.funding_source,
                             self.long_venue, self.short_venue, self.clock, limits, journal=self.journal,
                             guard=self.starts, alerts=self.alerts, capital=self.capital, users=self.store,
                             rebalancer=rebalancer, capital_balance=self.capital_balance if bridging else None,
                             stake_pools=self.stake_pools)

    @cached_property
    def capital_balance(self) -> CapitalBalance:
        """After a close, the user's USDC split between the venues again over the bridge."""
        from dnbot.services.capital_balance import CapitalBalance

        return CapitalBalance(self.bridge, self.bridge_rebalancing.margin_out,
                              lambda user_id: self.solana_rpc.usdc_balance(self._user_wallets(user_id).solana_address),
                              self.deposit_sweep.sweep_user, self.clock, activity=self.activity,
                              positions=self.store, pnl_book=self.pnl_book)


    # --- history, activity, live figures (the dashboard) ------------------------------------------------------

    @cached_property
    def _dynamodb(self) -> Any:
        """One boto3 DynamoDB resource (and so one client) for every table: each resource() builds a client."""
        return self._session.resource("dynamodb", endpoint_url=self.settings.aws_endpoint_url)

    @cached_property
    def state_table(self) -> Any:
        return self._dynamodb.Table(self.settings.table_name)

    @cached_property
    def activity(self) -> ActivityLog:
        from dnbot.adapters.aws.activity import DynamoActivityLog

        days = self.settings.activity_ttl_days
        return DynamoActivityLog(self.state_table, self.clock.now, timedelta(days=days) if days else None)

    # --- deposits: Arbitrum USDC swept to Hyperliquid, the capital plan (services/deposits.py) ----------------

    @cached_property
    def arbitrum(self) -> ArbitrumClient:
        from dnbot.adapters.evm.arbitrum import ArbitrumClient

        return ArbitrumClient(self.settings.arbitrum_rpc_url)

    @cached_property
    def deposit_sweep(self) -> DepositSweep:
        from dnbot.adapters.aws.deposits import DynamoDepositLedger
        from dnbot.adapters.privy.wallets import PrivyEvmTransactionSigner
        from dnbot.services.deposits import BridgeBurnReservations, DepositSweep

        # the Privy signer is built at the first transfer: a run with nothing to move needs no Privy credentials;
        # USDC a bridge transfer is about to burn stays on the wallet
        return DepositSweep(DynamoDepositLedger(self.state_table), self.arbitrum,
                            lambda: PrivyEvmTransactionSigner(self.privy_wallets), self.hyperliquid.deposits_since,
                            self.activity, self.clock,
                            reservations=BridgeBurnReservations(self.bridge_transfers),
                            address_of=self.evm_address_of)

    @cached_property
    def deposit_planner(self) -> DepositPlanner:
        from dnbot.services.deposits import DepositPlanner

        return DepositPlanner(self.balances, self.arbitrum.eth_balance, self.hyperliquid_accounts.withdrawable_usd)

    @cached_property
    def pnl_book(self) -> PnlBook:
        from dnbot.adapters.aws.activity import DynamoPnlBook

        return DynamoPnlBook(self.state_table)

    @cached_property
    def portfolio(self) -> PortfolioService:
        from dnbot.services.portfolio import PortfolioService

        return PortfolioService(self.store, self.store, self.risk,
                                lambda p: self.short_funding.funding_usd(p.user_id, p.position_id, p.created_at),
                                self.pnl_book, self.clock, self.settings.position_figures_cache_seconds,
                                snapshots=self.pnl_snapshots,
                                funding_shares_of=lambda *query: self.short_funding.funding_shares(*query))

    @cached_property
    def journal(self) -> PositionJournal:
        from dnbot.services.portfolio import PositionJournal

        return PositionJournal(self.activity, self.pnl_book, self.store, self.clock, snapshots=self.pnl_snapshots)

    @cached_property
    def pnl_snapshots(self) -> PnlSnapshots:
        from dnbot.adapters.aws.activity import DynamoPnlSnapshots

        return DynamoPnlSnapshots(self.state_table)

    @cached_property
    def charts(self) -> ChartsService:
        from pathlib import Path

        from dnbot.services.charts import ChartsService

        data = self.settings.recorded_data_dir
        return ChartsService(self.funding_source, self.store, self.clock, Path(data) if data else None)

    # --- the operator's alerts and the reconciler ----------------------------------------------------------

    @cached_property
    def alerts(self) -> AlertSink:
        from dnbot.adapters.aws.alerts import LoggedAlerts, SnsAlerts

        if not self.settings.alerts_topic_arn:
            return LoggedAlerts()
        return SnsAlerts(self.client("sns"), self.settings.alerts_topic_arn, self.clock.now)

    @cached_property
    def venue_truth(self) -> VenueTruthReader:
        from dnbot.adapters.reconciliation import VenueTruthAdapter

        def solana_address_of(user_id: str) -> str | None:
            wallets = self.store.get_wallets(user_id)
            return wallets.solana_address if wallets else None

        return VenueTruthAdapter(self.hyperliquid, self.asgard_client, self.store.long_references,
                                 solana_address_of, self.evm_address_of)

    @cached_property
    def account_trader(self) -> AccountShortTrader:
        from dnbot.adapters.hyperliquid.trading import HyperliquidShortVenue
        from dnbot.adapters.reconciliation import HyperliquidAccountTrader

        venue = self.short_venue
        if not isinstance(venue, HyperliquidShortVenue):
            raise RuntimeError("the account trader needs the Hyperliquid short venue")
        return HyperliquidAccountTrader(venue, self.evm_address_of)

    @cached_property
    def reconciler(self) -> Reconciler:
        from dnbot.services.reconciler import Reconciler, ReconcilerLimits

        limits = ReconcilerLimits(timedelta(minutes=self.settings.reconciler_workflow_grace_minutes),
                                  timedelta(hours=self.settings.reconciler_lookback_hours))
        queue = None
        if self.settings.reconcile_queue_url:
            from dnbot.adapters.aws.sqs import SqsWorkQueue

            queue = SqsWorkQueue(self.client("sqs"), self.settings.reconcile_queue_url)
        # the production venues' users may have CCTP transfers a workflow gave up on: resumed here (not paper's)
        return Reconciler(self.store, self.store, self.venue_truth, self.long_venue, self.short_venue,
                          self.account_trader, self.alerts, self.clock, limits, queue=queue, lease=self.starts,
                          journal=self.journal, bridge=self.bridge if self.rebalance_in_place else None,
                          pnl_book=self.pnl_book)

    # --- user notifications (webhooks through a queue) -----------------------------------------------------

    @cached_property
    def webhooks(self) -> WebhookStore:
        from dnbot.adapters.notifications import DynamoWebhookStore

        return DynamoWebhookStore(self.state_table, self.clock.now)

    @cached_property
    def notifier(self) -> Notifier:
        from dnbot.adapters.notifications import SqsNotifier

        if not self.settings.notification_queue_url:
            raise RuntimeError("DNBOT_NOTIFICATION_QUEUE_URL is not set: this deployment has no notification queue")
        return SqsNotifier(self.client("sqs"), self.settings.notification_queue_url)

    @cached_property
    def webhook_sender(self) -> WebhookSender:
        from dnbot.adapters.notifications import HttpWebhookSender

        return HttpWebhookSender()

    @cached_property
    def notifications(self) -> NotificationService:
        from dnbot.adapters.notifications import resolve_host
        from dnbot.services.notifications import NotificationService, WebhookPolicy

        policy = WebhookPolicy(resolve_host, allow_loopback_http=self.settings.notifications_allow_loopback_http)
        return NotificationService(self.webhooks, self.notifier, self.webhook_sender, policy, self.clock)


_installed: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Make `runtime` the process-wide one (what `dnbot local` and the integration tests do)."""
    global _installed
    _installed = runtime


def lambda_runtime() -> Runtime:
    """The runtime every handler uses: the installed one, else one built from the environment, once."""
    global _installed
    if _installed is None:
        _installed = Runtime()
    return _installed


@snapstart.after_restore
def _refresh_after_restore() -> None:
    if _installed is not None:
        _installed.after_restore()

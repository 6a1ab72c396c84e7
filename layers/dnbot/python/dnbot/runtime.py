"""The composition root: the one place that turns Settings into a graph of adapters and services.

- In Lambda, `lambda_runtime()` builds it once per container from the environment (Settings).
- `dnbot local` builds it against its in-process AWS and installs it, so the very same handlers use it.
- Tests build it on moto and swap single parts with `override(...)`.

Parts are built lazily: the API and the poller never import the trading SDKs that only the steps need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3

from dnbot.settings import Settings, load_settings

if TYPE_CHECKING:
    from dnbot.adapters.asgard.client import AsgardClient
    from dnbot.adapters.asgard.venue import AsgardLongVenue
    from dnbot.adapters.aws.dynamodb import DynamoStateStore
    from dnbot.adapters.aws.kms import KmsAuthorizationSigner, KmsEnvelopeVault
    from dnbot.adapters.aws.ssm import SsmKillSwitch
    from dnbot.adapters.balances import VenueBalances
    from dnbot.adapters.hyperliquid.info import HyperliquidInfo
    from dnbot.adapters.privy.wallets import PrivyWallets
    from dnbot.ports import (
        AccessTokenVerifier,
        BalanceReader,
        CapitalSource,
        Clock,
        ConnectionPusher,
        FundingSource,
        IdentityProvider,
        LendingMarketSource,
        LongVenue,
        RiskReader,
        ShortVenue,
        WalletProvisioner,
        WorkflowStarter,
    )
    from dnbot.services.account import AccountService
    from dnbot.services.auth import AuthService
    from dnbot.services.control import ControlService
    from dnbot.services.live_updates import LiveUpdates
    from dnbot.services.position_steps import PositionSteps
    from dnbot.services.positions import PositionService
    from dnbot.services.rates import RatesService
    from dnbot.services.tick import StrategyTick


@dataclass(frozen=True)
class PrivyCredentials:
    app_id: str
    app_secret: str
    verification_key: str | None  # PEM of the app's ES256 public key (access tokens)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Runtime:
    def __init__(self, settings: Settings, *, clock: Clock | None = None,
                 boto_session: boto3.Session | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._session = boto_session or boto3.Session(region_name=settings.aws_region)

    _SERVICES = ("rates", "auth", "positions", "control", "account", "tick", "steps", "live_updates")

    def override(self, **parts: Any) -> Runtime:
        """Replace lazily-built parts (tests, and `dnbot local` for its local-only adapters).

        Services already built are dropped, so they are rebuilt on the replaced parts at their next use.
        """
        for name, part in parts.items():
            if not isinstance(getattr(type(self), name, None), cached_property):
                raise AttributeError(f"Runtime has no part named {name!r}")
            self.__dict__[name] = part
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

        dynamodb = self._session.resource("dynamodb", endpoint_url=self.settings.aws_endpoint_url)
        return DynamoStateStore(dynamodb.Table(self.settings.table_name), self.clock.now,
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
                                      self.settings.close_state_machine_arn)

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
        from dnbot.adapters.solana.rpc import SolanaRpc

        # Solana's signature status resolves an Asgard submit whose answer was lost
        return AsgardLongVenue(self.asgard_client, self.privy_wallets, wallet_from_directory(self.store), self.store,
                               solana=SolanaRpc(self.settings.solana_rpc_url))

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
        from dnbot.adapters.solana.rpc import SolanaRpc

        return VenueBalances(SolanaRpc(self.settings.solana_rpc_url), ArbitrumClient(self.settings.arbitrum_rpc_url),
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
        from dnbot.adapters.risk import VenueRiskReader

        # reads only: the tick needs no signer, so no Privy credentials or KMS key
        return VenueRiskReader(AsgardHealth(self.asgard_client, self.store).health,
                               self.hyperliquid.clearinghouse_state, self.evm_address_of,
                               lambda: self.hyperliquid.sol_funding().oracle_price,
                               self.lending_markets.sol_price_usd)

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

        return AuthService(self.store, self.store, self.store, self.wallets, self.clock,
                           identity=self.identity, token_verifier=self.token_verifier,
                           session_ttl=timedelta(hours=self.settings.session_ttl_hours),
                           remembered_session_ttl=timedelta(hours=self.settings.session_ttl_hours_remembered))

    @cached_property
    def positions(self) -> PositionService:
        from dnbot.services.positions import PositionService

        return PositionService(self.store, self.store, self.store, self.workflows, self.clock)

    @cached_property
    def control(self) -> ControlService:
        from dnbot.services.control import ControlService

        return ControlService(self.store, self.store, self.kill_switch, self.clock, self.settings.admin_emails)

    @cached_property
    def account(self) -> AccountService:
        from dnbot.services.account import AccountService

        return AccountService(self.store, self.balances)

    @cached_property
    def live_updates(self) -> LiveUpdates:
        from dnbot.services.live_updates import LiveUpdates

        return LiveUpdates(self.store, self.pusher)

    @cached_property
    def tick(self) -> StrategyTick:
        from dnbot.services.tick import StrategyTick

        return StrategyTick(self.store, self.store, self.store, self.funding_source, self.kill_switch,
                            self.capital, self.risk, self.positions, self.clock)

    @cached_property
    def steps(self) -> PositionSteps:
        from dnbot.services.position_steps import PositionSteps, StepLimits

        limits = StepLimits(self.settings.rates_stale_after_seconds, self.settings.price_consensus_tolerance,
                            self.settings.fill_delta_tolerance)
        return PositionSteps(self.store, self.store, self.store, self.kill_switch, self.funding_source,
                             self.long_venue, self.short_venue, self.clock, limits)


_installed: Runtime | None = None


def install(runtime: Runtime | None) -> None:
    """Make `runtime` the process-wide one (what `dnbot local` and the integration tests do)."""
    global _installed
    _installed = runtime


def lambda_runtime() -> Runtime:
    """The runtime every handler uses: the installed one, else one built from the environment, once."""
    global _installed
    if _installed is None:
        _installed = Runtime(load_settings())
    return _installed

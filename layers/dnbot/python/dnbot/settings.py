"""Configuration: the ONLY place that reads environment variables (prefix DNBOT_, see resources.ENV_*)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from dnbot import resources
from dnbot.cctp import IRIS_MAINNET_URL


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DNBOT_", extra="ignore", frozen=True)

    # Where we run: "aws" inside Lambda, "local" under `dnbot local`, "test" in the test suite.
    environment: Literal["aws", "local", "test"] = "aws"
    # None: boto3's own resolution (in Lambda, the function's region)
    aws_region: str | None = None
    # Set only for the local emulation (moto server); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None

    table_name: str = resources.STATE_TABLE.local_name
    sessions_table_name: str = resources.SESSIONS_TABLE.local_name
    kill_switch_parameter: str = resources.KILL_SWITCH_PARAMETER
    kill_switch_cache_seconds: int = 5
    envelope_key_id: str = resources.ENVELOPE_KEY_ALIAS
    privy_authorization_key_id: str = resources.PRIVY_AUTHORIZATION_KEY_ALIAS
    open_state_machine_arn: str = ""
    close_state_machine_arn: str = ""
    withdraw_state_machine_arn: str = ""
    rebalance_state_machine_arn: str = ""
    websocket_endpoint: str | None = None  # https management endpoint the broadcaster posts to
    user_queue_url: str = ""  # the tick's fan-out queue (SQS)
    notification_queue_url: str = ""  # user notifications (SQS), consumed by the notifier
    reconcile_queue_url: str = ""  # the reconciler's fan-out queue (SQS), consumed by the reconciler itself
    # Webhooks may be http://127.0.0.1 (a local listener) only under `dnbot local`; in AWS only public https.
    notifications_allow_loopback_http: bool = False
    websocket_url: str | None = None  # wss:// URL the dashboard connects to

    # Login
    identity_provider: Literal["local", "privy"] = "privy"
    privy_secret_arn: str | None = None  # Secrets Manager JSON {app_id, app_secret, verification_key} (AWS)
    privy_app_id: str | None = None
    privy_app_secret: str | None = None
    privy_verification_key: str | None = None  # PEM of the app's ES256 public key (Privy dashboard)
    session_ttl_hours: int = 24
    session_ttl_hours_remembered: int = 24 * 7
    session_idle_minutes: int = 120  # a session unused this long ends, whatever its absolute lifetime
    api_docs: bool | None = None  # /api/docs and /api/openapi.json; None: on everywhere but in AWS
    # Secrets Manager secret CloudFront sends as the X-Origin-Verify header; set, the API refuses requests without
    # it (API Gateway's own endpoint is then useless to a caller who bypasses CloudFront and its WAF).
    origin_verify_secret_arn: str | None = None
    origin_verify_secret: str | None = None  # the value itself (tests; AWS reads the ARN)
    email_sender: str | None = None  # SES-verified address withdrawal codes come from (AWS); None: no withdrawals
    cookie_secure: bool = True
    admin_emails: tuple[str, ...] = ()  # may flip the kill switch from the dashboard

    # Market data and venues
    # what the rates snapshot says it came from: the venues, the simulator (same adapters), or a direct replay
    market_source: Literal["venues", "sim", "replay"] = "venues"
    recorded_data_dir: str | None = None  # None: the vendored recordings
    hyperliquid_base_url: str = "https://api.hyperliquid.xyz"
    asgard_base_url: str = "https://v2-ultra-edge.asgard.finance/margin-trading"
    asgard_api_key: str | None = None
    solana_rpc_url: str = "https://api.mainnet-beta.solana.com"
    arbitrum_rpc_url: str = "https://arb1.arbitrum.io/rpc"
    privy_base_url: str = "https://api.privy.io"
    iris_url: str = IRIS_MAINNET_URL  # Circle CCTP attestation (DNBOT_IRIS_URL; testnet: https://iris-api-sandbox.circle.com)
    # An in-place rebalance moves USDC between the venues over CCTP when that restores the distance
    # (services/bridge_rebalance.py); off: every rebalance shrinks both legs (DNBOT_BRIDGE_REBALANCE=false).
    bridge_rebalance: bool = True

    # Rates
    rates_stale_after_seconds: int = 300
    rates_history_ttl_days: int = 7
    price_consensus_tolerance: Decimal = Decimal("0.005")  # 0.5% between venues' SOL prices
    fill_delta_tolerance: Decimal = Decimal("0.01")  # 1% notional mismatch between the legs

    # The operator's alerts (SNS topic ARN; None: alerts are ERROR log lines) and the reconciler
    alerts_topic_arn: str | None = None
    # a pending/closing position written this recently has its workflow running: the reconciler leaves the user
    reconciler_workflow_grace_minutes: int = 45  # over two Tasks' worst retry windows (~25 min) with no write
    reconciler_lookback_hours: int = 24  # failed and closed positions this recent are reconciled too

    # Dashboard: live position figures are read from the venues at most once per position per this many seconds;
    # activity events expire after this many days (0: kept)
    position_figures_cache_seconds: float = 15.0
    activity_ttl_days: int = 0


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    return Settings()

"""Configuration: the ONLY place that reads environment variables (prefix DNBOT_, see resources.ENV_*)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from dnbot import resources


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DNBOT_", extra="ignore", frozen=True)

    # Where we run: "aws" inside Lambda, "local" under `dnbot local`, "test" in the test suite.
    environment: Literal["aws", "local", "test"] = "aws"
    # None: boto3's own resolution (in Lambda, the function's region)
    aws_region: str | None = None
    # Set only for the local emulation (moto server); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None

    table_name: str = resources.STATE_TABLE.local_name
    kill_switch_parameter: str = resources.KILL_SWITCH_PARAMETER
    kill_switch_cache_seconds: int = 5
    envelope_key_id: str = resources.ENVELOPE_KEY_ALIAS
    privy_authorization_key_id: str = resources.PRIVY_AUTHORIZATION_KEY_ALIAS
    open_state_machine_arn: str = ""
    close_state_machine_arn: str = ""
    websocket_endpoint: str | None = None  # https management endpoint the broadcaster posts to
    websocket_url: str | None = None  # wss:// URL the dashboard connects to

    # Login
    identity_provider: Literal["local", "privy"] = "privy"
    privy_secret_arn: str | None = None  # Secrets Manager JSON {app_id, app_secret, verification_key} (AWS)
    privy_app_id: str | None = None
    privy_app_secret: str | None = None
    privy_verification_key: str | None = None  # PEM of the app's ES256 public key (Privy dashboard)
    session_ttl_hours: int = 24
    session_ttl_hours_remembered: int = 24 * 7
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

    # Rates
    rates_stale_after_seconds: int = 300
    rates_history_ttl_days: int = 7
    price_consensus_tolerance: Decimal = Decimal("0.005")  # 0.5% between venues' SOL prices
    fill_delta_tolerance: Decimal = Decimal("0.01")  # 1% notional mismatch between the legs


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    return Settings()

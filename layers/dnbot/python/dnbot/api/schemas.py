"""Every request and response body of the API. Decimals travel as strings (pydantic's JSON mode)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.positions import Job
from dnbot.domain.presets import ExitRules, Preset, UserSettings
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.strategy import Candidate
from dnbot.domain.withdrawals import Withdrawal
from dnbot.ports import UserRecord
from dnbot.services.account import AccountBalances, TransferOnItsWay
from dnbot.services.withdrawals import FreeFunds

# Digit limits of every numeric input (DynamoDB keeps 38 significant digits; nothing here needs more than these).
LEVERAGE_DIGITS, LEVERAGE_PLACES = 8, 4  # e.g. 3.2500
USD_DIGITS, USD_PLACES = 12, 2  # up to 9,999,999,999.99 in cents


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ----------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# --- config ----------------------------------------------------------------------------------------------


class ConfigResponse(BaseModel):
    identity_provider: Literal["local", "privy"]
    privy_app_id: str | None
    websocket_url: str | None
    environment: Literal["local", "aws", "test"]


# --- rates -----------------------------------------------------------------------------------------------


class FundingOut(BaseModel):
    coin: str = "SOL"
    funding_hourly: Decimal
    funding_apy: Decimal
    predicted_funding_hourly: Decimal | None
    mark_price: Decimal
    oracle_price: Decimal


class MarketOut(BaseModel):
    asset: str
    protocol: str
    supply_apy: Decimal
    usdc_borrow_apy: Decimal
    staking_apy: Decimal
    max_leverage: Decimal | None
    rebalances_in_place: bool  # False: Asgard cannot re-centre a long there (marginfi, Solend): it closes instead


class ComponentsOut(BaseModel):
    staking: Decimal
    supply: Decimal
    borrow: Decimal
    funding: Decimal


class OpportunityOut(BaseModel):
    asset: str
    protocol: str
    leverage: Decimal
    gross_apy: Decimal
    net_apy: Decimal
    components: ComponentsOut
    rebalances_in_place: bool  # False: the bot does not open there itself


class RatesResponse(BaseModel):
    at: datetime
    source: str
    sol_price_usd: Decimal
    hyperliquid: FundingOut
    asgard: list[MarketOut]
    opportunities: list[OpportunityOut]

    @classmethod
    def build(cls, snapshot: RatesSnapshot, rated: list[Candidate], leverage: Decimal) -> RatesResponse:
        funding = snapshot.funding
        return cls(
            at=snapshot.at, source=snapshot.source, sol_price_usd=snapshot.sol_price_usd,
            hyperliquid=FundingOut(
                funding_hourly=funding.funding_hourly, funding_apy=funding.funding_apy,
                predicted_funding_hourly=funding.predicted_funding_hourly, mark_price=funding.mark_price,
                oracle_price=funding.oracle_price),
            asgard=[MarketOut(asset=m.asset.value, protocol=m.protocol.label, supply_apy=m.supply_apy,
                              usdc_borrow_apy=m.usdc_borrow_apy, staking_apy=m.staking_apy,
                              max_leverage=m.max_leverage, rebalances_in_place=m.protocol.rebalances_in_place)
                    for m in snapshot.markets],
            opportunities=[OpportunityOut(
                asset=r.market.asset.value, protocol=r.market.protocol.label, leverage=leverage,
                gross_apy=r.components.gross, net_apy=r.net_apy,
                components=ComponentsOut(staking=r.components.staking, supply=r.components.supply,
                                         borrow=r.components.borrow, funding=r.components.funding),
                rebalances_in_place=r.market.protocol.rebalances_in_place)
                for r in rated],
        )


# --- auth ------------------------------------------------------------------------------------------------


class EmailStartRequest(Strict):
    email: EmailStr


class EmailVerifyRequest(Strict):
    email: EmailStr
    code: str = Field(pattern=r"^\d{6}$", description="the 6-digit code")
    remember: bool = False


class PrivyLoginRequest(Strict):
    access_token: str = Field(min_length=20, max_length=4096)
    remember: bool = False


class WithdrawalRequest(Strict):
    asset: Literal["USDC", "SOL"]
    amount: Decimal = Field(gt=0, le=Decimal(10_000_000), max_digits=16, decimal_places=9,
                            description="in the asset's units (USDC: 6 decimals, SOL: 9)")
    to: str | None = Field(default=None, min_length=32, max_length=44,
                           pattern=r"^([1-9A-HJ-NP-Za-km-z]{32,44}|0x[0-9a-fA-F]{40})$",
                           description="a Solana wallet address (base58); for Hyperliquid, an Arbitrum address "
                                       "(not the account's own EVM wallet: its deposit address)")
    source: Literal["solana", "hyperliquid"] = Field(
        default="solana", description="the user's Solana wallet, or their Hyperliquid account (USDC, paid on Arbitrum)")


class WithdrawalConfirm(Strict):
    code: str = Field(pattern=r"^\d{6}$", description="the 6-digit code from the email")


class WithdrawalOut(BaseModel):
    withdrawal_id: str
    status: str
    asset: str
    amount: Decimal
    to: str
    created_at: datetime
    signature: str | None = None
    error: str | None = None
    source: str = "solana"

    @classmethod
    def build(cls, w: Withdrawal) -> WithdrawalOut:
        return cls(withdrawal_id=w.withdrawal_id, status=w.status, asset=w.asset, amount=w.amount, to=w.to,
                   created_at=w.created_at, signature=w.signature, error=w.error, source=w.source)


class WithdrawalsResponse(BaseModel):
    withdrawals: list[WithdrawalOut]


class SolanaFreeOut(BaseModel):
    USDC: Decimal
    SOL: Decimal = Field(description="the balance less the SOL kept for transaction fees")


class HyperliquidFreeOut(BaseModel):
    USDC: Decimal
    limited_by: str | None = Field(description="what the rest of the withdrawable does, e.g. 'keeps your open "
                                               "short 21.6% from liquidation'; null when the venue's figure")


class FreeToWithdrawResponse(BaseModel):
    """What a withdrawal request from each source accepts now (the same rule it checks); a source that cannot be
    read is null, with its reason in `unavailable`."""

    solana: SolanaFreeOut | None
    hyperliquid: HyperliquidFreeOut | None
    unavailable: dict[str, str]

    @classmethod
    def build(cls, free: FreeFunds) -> FreeToWithdrawResponse:
        solana = (SolanaFreeOut(USDC=free.solana["USDC"].amount, SOL=free.solana["SOL"].amount)
                  if free.solana is not None else None)
        hyperliquid = (HyperliquidFreeOut(USDC=free.hyperliquid.amount, limited_by=free.hyperliquid.limited_by)
                       if free.hyperliquid is not None else None)
        return cls(solana=solana, hyperliquid=hyperliquid, unavailable={str(k): v for k, v in free.unavailable.items()})


class AuditEntryOut(BaseModel):
    at: datetime
    action: str
    user_id: str | None
    client: str
    detail: dict[str, str]


class AuditResponse(BaseModel):
    day: str
    entries: list[AuditEntryOut]


class LogoutRequest(Strict):
    everywhere: bool = Field(default=False, description="end every session of this account, on every device")


class WalletsOut(BaseModel):
    solana: str | None
    evm: str | None


class UserOut(BaseModel):
    user_id: str
    email: str
    is_new_user: bool
    wallets: WalletsOut
    bot_status: str

    @classmethod
    def build(cls, user: UserRecord, is_new_user: bool = False) -> UserOut:
        return cls(user_id=user.user_id, email=user.email, is_new_user=is_new_user,
                   wallets=WalletsOut(solana=user.solana_address, evm=user.evm_address),
                   bot_status=user.bot_status)


class SessionResponse(BaseModel):
    user: UserOut
    csrf_token: str


class StatusMessage(BaseModel):
    status: str


# --- positions -------------------------------------------------------------------------------------------


class OpenPositionRequest(Strict):
    asset: str
    protocol: str | None = None
    leverage: Decimal = Field(default=Decimal(3), ge=2, le=4, max_digits=LEVERAGE_DIGITS,
                              decimal_places=LEVERAGE_PLACES)
    size_usd: Decimal = Field(gt=0, le=Decimal(10_000_000), max_digits=USD_DIGITS, decimal_places=USD_PLACES,
                              description="capital: collateral + margin")

    @field_validator("asset")
    @classmethod
    def _known_asset(cls, value: str) -> str:
        return Asset.parse(value).value

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, value: str | None) -> str | None:
        return None if value in (None, "", "best") else Protocol.parse(value).label


class JobAccepted(BaseModel):
    job_id: str
    position_id: str
    status: str


class StageOut(BaseModel):
    name: str
    status: str
    at: datetime
    detail: str


class JobOut(BaseModel):
    job_id: str
    position_id: str
    kind: str
    status: str
    stages: list[StageOut]
    error: str | None

    @classmethod
    def build(cls, job: Job) -> JobOut:
        return cls(job_id=job.job_id, position_id=job.position_id, kind=job.kind.value, status=job.status.value,
                   stages=[StageOut(name=s.name, status=s.status.value, at=s.at, detail=s.detail)
                           for s in job.stages],
                   error=job.error)


# --- control ---------------------------------------------------------------------------------------------


class StatusResponse(BaseModel):
    bot_status: str
    kill_switch: str
    positions_open: int
    pnl_24h_usd: Decimal = Field(description=(
        "the account's PnL over the last 24 h: the realized PnL of the positions closed in it (opened before it: "
        "only what they earned inside it) + each open position's unrealized PnL change since the window's start "
        "(its whole unrealized PnL, open fees included, if it opened inside it). The unrealized figures are the "
        "positions' hourly PnL snapshots (taken every 30 min, no venue read): see pnl_24h_as_of"))
    pnl_24h_as_of: datetime | None = Field(default=None, description=(
        "the open positions' unrealized PnL is counted as of this time: the oldest of their latest snapshots "
        "(taken every 30 min: normally at most ~30 min old; a position with no snapshot yet counts 0 as of its open); "
        "null when no position is open (the figure is all realized, exact)"))
    failed_opens: int = 0  # failed automatic opens in a row
    open_backoff_until: datetime | None = None  # the bot opens nothing automatically before this
    operator: bool = False  # this user may set the kill switch


class KillSwitchBody(Strict):
    value: Literal["off", "no-new-positions", "close-all"]


# --- account ---------------------------------------------------------------------------------------------


class SettingsBody(Strict):
    """The whole settings, replaced at once: `preset` is required (a body with only a leverage used to reset the
    trader's preset to balanced without a word); a missing leverage or size takes the preset's default."""

    preset: Literal["conservative", "balanced", "aggressive"]
    leverage: Decimal | None = Field(default=None, ge=2, le=4, max_digits=LEVERAGE_DIGITS,
                                     decimal_places=LEVERAGE_PLACES)
    max_position_usd: Decimal | None = Field(default=None, gt=0, le=Decimal(10_000_000), max_digits=USD_DIGITS,
                                             decimal_places=USD_PLACES)


class SettingsOut(BaseModel):
    preset: str
    leverage: Decimal
    max_position_usd: Decimal
    min_net_apy: Decimal
    persistence_hours: int
    exits: dict[str, str]

    @classmethod
    def build(cls, settings: UserSettings) -> SettingsOut:
        return cls(preset=settings.preset.name.value, leverage=settings.leverage,
                   max_position_usd=settings.max_position_usd, min_net_apy=settings.preset.min_net_apy,
                   persistence_hours=settings.preset.persistence_hours,
                   exits=_exits_out(settings.exits))


def _exits_out(exits: ExitRules) -> dict[str, str]:
    return {name: str(getattr(exits, name)) for name in exits.__dataclass_fields__}


class PresetOut(BaseModel):
    """A risk preset as the settings page shows it (dnbot.domain.presets; docs/strategy.md): what picking it
    fills in, and the break-even rule's margins (enter when the expected carry pays 1 + margin_of_safety round
    trips; leave when staying costs 1 + exit_margin)."""

    name: str
    leverage: Decimal
    max_position_usd: Decimal
    margin_of_safety: Decimal
    exit_margin: Decimal
    persistence_hours: int
    expected_holding_hours: int
    margin_buffer: Decimal
    exits: dict[str, str]

    @classmethod
    def build(cls, preset: Preset) -> PresetOut:
        return cls(name=preset.name.value, leverage=preset.leverage, max_position_usd=preset.max_position_usd,
                   margin_of_safety=preset.margin_of_safety, exit_margin=preset.exit_margin,
                   persistence_hours=preset.persistence_hours, expected_holding_hours=preset.expected_holding_hours,
                   margin_buffer=preset.margin_buffer, exits=_exits_out(preset.exits))


class SolanaBalanceOut(BaseModel):
    address: str | None
    sol: Decimal | None
    usdc: Decimal | None


class EvmBalanceOut(BaseModel):
    address: str | None
    usdc: Decimal | None


class HyperliquidBalanceOut(BaseModel):
    account_value_usd: Decimal | None


class TransferOnItsWayOut(BaseModel):
    """USDC moving between the venues over CCTP (or stuck): gone from one balance, not yet in the other."""

    transfer_id: str
    direction: Literal["to_short", "to_long"]
    source: Literal["Solana wallet", "Hyperliquid"]
    destination: Literal["Solana wallet", "Hyperliquid"]
    amount_usd: Decimal = Field(description="USDC that left the source (the burn)")
    arriving_usd: Decimal = Field(description="what reaches the destination, less the Fast fee (at most its cap "
                                              "until attested)")
    state: Literal["burn_signed", "burned", "attested", "minted", "needs_attention"]
    stage: Literal["burn_signed", "burned", "attested", "minted"] = Field(
        description="the step its evidence proves; a minted transfer is already in the destination wallet")
    since: datetime = Field(description="the burn, else the transfer's record")
    overdue: bool = Field(description="not credited 30 min after its burn")
    operator_alerted: bool = Field(description="the operator was sent the bridge_overdue alert")

    @classmethod
    def build(cls, transfer: TransferOnItsWay) -> TransferOnItsWayOut:
        return cls.model_validate({
            "transfer_id": transfer.transfer_id, "direction": transfer.direction.value, "source": transfer.source,
            "destination": transfer.destination, "amount_usd": transfer.amount_usd,
            "arriving_usd": transfer.arriving_usd, "state": transfer.state.value, "stage": transfer.stage.value,
            "since": transfer.since, "overdue": transfer.overdue, "operator_alerted": transfer.operator_alerted})


class BalancesResponse(BaseModel):
    solana: SolanaBalanceOut
    evm: EvmBalanceOut
    hyperliquid: HyperliquidBalanceOut
    transfers: list[TransferOnItsWayOut] = Field(description="USDC on its way between the venues, oldest first")
    in_transit_usd: Decimal = Field(description="USDC in none of the balances above: the transfers not yet minted")

    @classmethod
    def build(cls, user: UserRecord, account: AccountBalances) -> BalancesResponse:
        balances = account.balances
        return cls(solana=SolanaBalanceOut(address=user.solana_address, sol=balances.solana_sol,
                                           usdc=balances.solana_usdc),
                   evm=EvmBalanceOut(address=user.evm_address, usdc=balances.evm_usdc),
                   hyperliquid=HyperliquidBalanceOut(account_value_usd=balances.hyperliquid_account_value_usd),
                   transfers=[TransferOnItsWayOut.build(t) for t in account.transfers],
                   in_transit_usd=account.in_transit_usd)

"""Risk presets and a user's settings: what the dashboard edits and the strategy tick reads.

Each preset fixes its risk: leverage, the margin of safety of the break-even entry and exit (how many round
trips the expected carry must pay), when to rebalance, and the breakers that close (Asgard health factor,
Hyperliquid margin ratio, drawdown, LST depeg, price divergence between venues, stale data). They differ in
risk, not in whether they ever trade. docs/strategy.md explains the numbers with walk-forward backtests.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum

MIN_LEVERAGE = Decimal(2)
MAX_LEVERAGE = Decimal(4)
DEFAULT_LEVERAGE = Decimal(3)
# Hyperliquid refuses orders under $10; a position under $50 a leg is mostly fees.
MIN_POSITION_USD = Decimal(50)


class PresetName(StrEnum):
    CONSERVATIVE = "conservative"
    BALANCED = "balanced"
    AGGRESSIVE = "aggressive"


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Any one of these closes a position; each names the reading it compares."""

    min_health_factor: Decimal  # Asgard: close when collateral x liq. threshold / debt falls below this
    rebalance_share: Decimal  # rebalance when the SOL move to the first liquidation is under this share of
    #                           what it was at the open; share x the open's distance stays above the 14.25%
    #                           one-hour drop of 2025-10-10 at the preset's leverage (docs/strategy.md)
    max_margin_ratio: Decimal  # Hyperliquid: maintenance margin / account value; 1.0 is liquidation
    max_drawdown: Decimal  # fraction of the position's peak equity
    max_depeg: Decimal  # LST below its fair SOL value by this fraction
    max_divergence: Decimal  # |long venue SOL price / Hyperliquid oracle - 1|
    max_data_age_seconds: int  # older rates than this: hold, do not act on them (except to protect)


@dataclass(frozen=True, slots=True)
class Preset:
    name: PresetName
    leverage: Decimal
    min_net_apy: Decimal  # the dashboard's opportunity bar (net APY over `expected_holding_hours`); not a gate
    persistence_hours: int  # the entry counts on the MEDIAN funding of this many recent hours (spike-proof)
    min_positive_share: Decimal  # shown with the opportunity list: share of recent hours that paid the short
    expected_holding_hours: int  # the fee amortization horizon of the opportunity list (display)
    max_position_usd: Decimal  # per position, capital (collateral + margin)
    margin_buffer: Decimal  # share of the capital kept aside as extra Hyperliquid margin
    exits: ExitRules
    # The break-even rule (docs/strategy.md): enter when the carry expected over the expected holding horizon
    # pays (1 + margin_of_safety) round trips; leave when staying through the expected negative spell costs
    # (1 + exit_margin) round trips; switch pair when the gain over min(horizon, switch_horizon_hours) pays
    # (1 + margin_of_safety) round trips. Horizon and funding are estimated from the last `lookback_hours`.
    margin_of_safety: Decimal = Decimal("0.1")
    exit_margin: Decimal = Decimal("0.25")
    lookback_hours: int = 1440
    switch_horizon_hours: int = 720

    @classmethod
    def parse(cls, name: str) -> Preset:
        """Accepts any case: 'Balanced', 'BALANCED'."""
        key = name.strip().lower()
        for preset_name, preset in PRESETS.items():
            if preset_name.value == key:
                return preset
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(p.value for p in PresetName)}")

    def to_dict(self) -> dict[str, object]:
        """Every threshold as JSON-ready values (decimals as strings), for the dashboard's settings page."""
        def plain(value: object) -> object:
            return str(value) if isinstance(value, Decimal) else value

        exits = {f.name: plain(getattr(self.exits, f.name)) for f in fields(self.exits)}
        own = {f.name: plain(getattr(self, f.name)) for f in fields(self) if f.name not in {"name", "exits"}}
        return {"name": self.name.value, **own, "exits": exits}


PRESETS: dict[PresetName, Preset] = {
    PresetName.CONSERVATIVE: Preset(
        name=PresetName.CONSERVATIVE,
        leverage=Decimal(2),
        min_net_apy=Decimal("0.08"),
        persistence_hours=48,
        min_positive_share=Decimal("0.8"),
        expected_holding_hours=24 * 14,
        max_position_usd=Decimal(25_000),
        margin_buffer=Decimal("0.10"),
        exits=ExitRules(
            min_health_factor=Decimal("1.10"),
            rebalance_share=Decimal("0.5"),
            max_margin_ratio=Decimal("0.50"),
            max_drawdown=Decimal("0.03"),
            max_depeg=Decimal("0.01"),
            max_divergence=Decimal("0.005"),
            max_data_age_seconds=180,
        ),
        margin_of_safety=Decimal("0.25"),
        exit_margin=Decimal("0"),
    ),
    PresetName.BALANCED: Preset(
        name=PresetName.BALANCED,
        leverage=Decimal(3),
        min_net_apy=Decimal("0.10"),
        persistence_hours=24,
        min_positive_share=Decimal("0.7"),
        expected_holding_hours=24 * 10,
        max_position_usd=Decimal(50_000),
        margin_buffer=Decimal("0.05"),
        exits=ExitRules(
            min_health_factor=Decimal("1.06"),
            rebalance_share=Decimal("0.7"),
            max_margin_ratio=Decimal("0.65"),
            max_drawdown=Decimal("0.05"),
            max_depeg=Decimal("0.02"),
            max_divergence=Decimal("0.01"),
            max_data_age_seconds=300,
        ),
        margin_of_safety=Decimal("0.1"),
        exit_margin=Decimal("0.25"),
    ),
    PresetName.AGGRESSIVE: Preset(
        name=PresetName.AGGRESSIVE,
        leverage=Decimal("3.5"),
        min_net_apy=Decimal("0.12"),
        persistence_hours=12,
        min_positive_share=Decimal("0.6"),
        expected_holding_hours=24 * 7,
        max_position_usd=Decimal(100_000),
        margin_buffer=Decimal("0.03"),
        exits=ExitRules(
            min_health_factor=Decimal("1.04"),
            rebalance_share=Decimal("0.9"),
            max_margin_ratio=Decimal("0.80"),
            max_drawdown=Decimal("0.08"),
            max_depeg=Decimal("0.03"),
            max_divergence=Decimal("0.015"),
            max_data_age_seconds=300,
        ),
        margin_of_safety=Decimal("0"),
        exit_margin=Decimal("0.5"),
    ),
}


def _decimal(value: object, what: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the float's shortest repr, not its binary expansion
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, got {value!r}")
    if int(result.as_tuple().exponent) > 0:
        result = result.quantize(Decimal(1))  # "1e3" is kept and shown as 1000, not 1E+3
    return result


@dataclass(frozen=True, slots=True)
class UserSettings:
    """A preset plus the user's overrides. Construct with `UserSettings.create(...)` to validate input."""

    preset: Preset
    leverage: Decimal
    max_position_usd: Decimal

    def __post_init__(self) -> None:
        if not MIN_LEVERAGE <= self.leverage <= MAX_LEVERAGE:
            raise ValueError(
                f"leverage must be between {MIN_LEVERAGE}x and {MAX_LEVERAGE}x, got {self.leverage}")
        if self.max_position_usd < MIN_POSITION_USD:
            raise ValueError(
                f"max position size must be at least ${MIN_POSITION_USD}, got {self.max_position_usd}")

    @classmethod
    def create(cls, preset: str | PresetName | Preset = PresetName.BALANCED, leverage: object | None = None,
               max_position_usd: object | None = None) -> UserSettings:
        chosen = preset if isinstance(preset, Preset) else Preset.parse(
            preset.value if isinstance(preset, PresetName) else preset)
        return cls(
            preset=chosen,
            leverage=chosen.leverage if leverage is None else _decimal(leverage, "leverage"),
            max_position_usd=(chosen.max_position_usd if max_position_usd is None
                              else _decimal(max_position_usd, "max position size")),
        )

    def with_overrides(self, leverage: object | None = None,
                       max_position_usd: object | None = None) -> UserSettings:
        return replace(
            self,
            leverage=self.leverage if leverage is None else _decimal(leverage, "leverage"),
            max_position_usd=(self.max_position_usd if max_position_usd is None
                              else _decimal(max_position_usd, "max position size")),
        )

    @property
    def exits(self) -> ExitRules:
        return self.preset.exits

    def to_dict(self) -> dict[str, str]:
        return {"preset": self.preset.name.value, "leverage": str(self.leverage),
                "max_position_usd": str(self.max_position_usd)}

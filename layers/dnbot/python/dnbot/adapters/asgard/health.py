"""Asgard's /refresh-positions reading of a long: its health factor, size and debt. Free of the Solana SDKs, so
the strategy tick can read risk without the trading stack."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.adapters.asgard.markets import _d
from dnbot.adapters.asgard.references import LongReferenceStore
from dnbot.domain.assets import USDC, Asset

# Asgard answers token quantities as JSON floats; on chain they are whole base units of the mint
_DECIMALS = {asset.token.mint: asset.token.decimals for asset in Asset} | {USDC.mint: USDC.decimals}


@dataclass(frozen=True, slots=True)
class LongHealth:
    """Asgard's /refresh-positions reading of one long."""

    drop_to_liquidation: Decimal  # Asgard's healthFactor / 100: the price drop the collateral can take
    health_factor: Decimal | None  # collateral x LT / debt (1 = liquidation); None without debt
    size: Decimal  # assetsQt of the long token
    debt_usdc: Decimal  # liabsQt of USDC
    liquidated: bool  # Asgard reports liquidation events for it
    value_usd: Decimal = Decimal(0)  # assetsUsd of the long token: size x Asgard's price of it now


class AsgardHealth:
    """Reads one position's long at Asgard through its stored reference."""

    def __init__(self, client: AsgardClient, references: LongReferenceStore) -> None:
        self.client = client
        self.references = references

    def health(self, user_id: str, position_id: str) -> LongHealth | None:
        reference = self.references.get_reference(user_id, position_id)
        if reference is None or not reference.pda:
            return None
        entry = self.client.refresh_positions([(reference.protocol, reference.pda)]).get("positions", {}).get(
            reference.pda)
        return None if entry is None else parse_health(entry)


def parse_health(entry: dict[str, Any]) -> LongHealth:
    summary = entry.get("summary", {})
    drop = _d(summary.get("healthFactor")) / 100
    size = debt = value = Decimal(0)
    for balance in summary.get("booksAndBalances", {}).get("balances", []):
        for item in balance.values():
            if item.get("mint") == USDC.mint:
                debt += _base_units(item.get("liabsQt"), USDC.mint)
            else:
                size += _base_units(item.get("assetsQt"), item.get("mint"))
                value += _d(item.get("assetsUsd"))
    ratio = (1 / (1 - drop)).quantize(Decimal("0.0001")) if debt > 0 and drop < 1 else None
    return LongHealth(drop, ratio, size, debt, bool(entry.get("liquidationEvents")), value)


def _base_units(amount: Any, mint: Any) -> Decimal:
    """A float quantity to the mint's base unit (`56.47141227416787` jitoSOL -> `56.471412274`); as it came for a
    mint this project does not know."""
    value = _d(amount)
    decimals = _DECIMALS.get(mint) if isinstance(mint, str) else None
    return value if decimals is None else value.quantize(Decimal(1).scaleb(-decimals))

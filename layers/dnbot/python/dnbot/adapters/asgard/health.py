"""Asgard's /refresh-positions reading of a long: its health factor, size and debt. Free of the Solana SDKs, so
the strategy tick can read risk without the trading stack."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.adapters.asgard.markets import _d
from dnbot.adapters.asgard.references import LongReferenceStore
from dnbot.domain.assets import USDC


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
                debt += _d(item.get("liabsQt"))
            else:
                size += _d(item.get("assetsQt"))
                value += _d(item.get("assetsUsd"))
    ratio = (1 / (1 - drop)).quantize(Decimal("0.0001")) if debt > 0 and drop < 1 else None
    return LongHealth(drop, ratio, size, debt, bool(entry.get("liquidationEvents")), value)

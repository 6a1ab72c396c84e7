"""Asgard's /markets and token prices as LendingMarkets: the read side, free of the Solana SDKs, so the light
functions (the rates poller) can use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from dnbot.adapters.asgard.client import AsgardClient
from dnbot.domain.assets import USDC, Asset
from dnbot.domain.assets import Protocol as LendingProtocol
from dnbot.domain.rates import LendingMarket
from dnbot.observability import logger


class AsgardMarkets:
    """Implements LendingMarketSource over Asgard's public endpoints."""

    def __init__(self, client: AsgardClient, staking_apy_of: Callable[[Asset], Decimal | None] | None = None) -> None:
        self.client = client
        self.staking_apy_of = staking_apy_of

    def lending_markets(self) -> list[LendingMarket]:
        markets = parse_markets(self.client.markets(), self.staking_apy_of)
        prices = self._prices()
        return [replace(m, price_usd=prices.get(m.asset.token.mint)) for m in markets]

    def _prices(self) -> dict[str, Decimal]:
        """Asgard's USD price of every token, by mint (an LST's against SOL's: the open's depeg check). Without
        them the markets still count: the check then cannot tell, it does not guess."""
        try:
            tokens = self.client.all_token_metadata().get("tokens", [])
        except Exception as error:  # the rates still matter more than the prices
            logger.warning("could not read Asgard's token prices: %s", error)
            return {}
        return {str(t["mint"]): _d(t["price"]) for t in tokens if t.get("mint") and t.get("price") is not None}

    def sol_price_usd(self) -> Decimal:
        return _d(self.client.token_metadata(Asset.SOL.token.mint)["price"])


def _d(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(default)


def _preferred_sources(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Main markets first: an asset may have several markets per protocol (Kamino's Jito market...)."""
    return sorted(sources, key=lambda s: 0 if str(s.get("marketKey", "")).lower().startswith("main") else 1)


def parse_markets(payload: dict[str, Any],
                  staking_apy_of: Callable[[Asset], Decimal | None] | None = None) -> list[LendingMarket]:
    """/markets -> one LendingMarket per (asset, protocol) the bot trades (main market preferred)."""
    by_mint = {asset.token.mint: asset for asset in Asset}
    markets: dict[tuple[Asset, LendingProtocol], LendingMarket] = {}
    for strategy in payload.get("strategies", {}).values():
        asset = by_mint.get(strategy.get("tokenAMint"))
        if asset is None or strategy.get("tokenBMint") != USDC.mint:
            continue
        for source in _preferred_sources(strategy.get("liquiditySources", [])):
            if not source.get("isActive", True):
                continue
            try:
                protocol = LendingProtocol(int(source["lendingProtocol"]))
            except (ValueError, KeyError):
                continue
            if (asset, protocol) in markets:
                continue
            staking = source.get("tokenAStakingApy")
            if staking is None and staking_apy_of is not None and asset.is_lst:
                staking = staking_apy_of(asset)
            capacity = source.get("tokenBMaxBorrowCapacity")
            markets[(asset, protocol)] = LendingMarket(
                asset=asset, protocol=protocol,
                supply_apy=_d(source.get("tokenALendingApyRate")),
                usdc_borrow_apy=_d(source.get("tokenBBorrowingApyRate")),
                staking_apy=_d(staking) if asset.is_lst else Decimal(0),
                max_leverage=_d(source["longMaxLeverage"]) if source.get("longMaxLeverage") else None,
                borrow_capacity_usd=_d(capacity) if capacity is not None else None,
            )
    return list(markets.values())


def markets_from_snapshots(rates: dict[str, Any], staking: dict[str, Any],
                           token_config: dict[str, Any]) -> list[LendingMarket]:
    """LendingMarkets from Asgard's recorded `current-rates` (percent), `current-staking-rates` (decimal) and
    `token_config` payloads: the shape of dnbot/data/recorded/asgard/snapshots_*/."""
    rate_by_bank = {(row["protocol"], str(row["address"])): row for row in rates.get("data", [])}
    staking_by_mint = {row["address"]: _d(row["apy"]) for row in staking.get("data", [])}
    entries = {entry.get("mint"): entry for entry in token_config.values() if isinstance(entry, dict)}
    usdc_banks = {(b["protocol"], b.get("market")): str(b["bank"]) for b in entries.get(USDC.mint, {}).get("banks", [])}
    markets = []
    for asset in Asset:
        seen: set[str] = set()
        for bank in entries.get(asset.token.mint, {}).get("banks", []):
            label, market_key = bank["protocol"], bank.get("market")
            usdc_bank = usdc_banks.get((label, market_key))
            if market_key != "Main Market" or usdc_bank is None or label in seen:
                continue
            asset_rates, usdc_rates = rate_by_bank.get((label, str(bank["bank"]))), rate_by_bank.get((label, usdc_bank))
            if usdc_rates is None:
                continue
            seen.add(label)
            limit = (bank.get("maxLeverage") or {}).get("long")
            markets.append(LendingMarket(
                asset=asset, protocol=LendingProtocol.parse(label),
                supply_apy=_d(asset_rates["lendingRate"]) / 100 if asset_rates else Decimal(0),
                usdc_borrow_apy=_d(usdc_rates["borrowingRate"]) / 100,
                staking_apy=staking_by_mint.get(asset.token.mint, Decimal(0)) if asset.is_lst else Decimal(0),
                max_leverage=_d(limit) if limit else None))
    return markets

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from dnbot.adapters.balances import VenueBalances
from dnbot.ports import TransientVenueError, UserRecord

USER = UserRecord("u1", "a@b.c", datetime(2026, 1, 1, tzinfo=UTC), "SoLaddr", "0xabc")


class Solana:
    def __init__(self, usdc: Decimal | None) -> None:
        self.usdc = usdc

    def sol_balance(self, owner: str) -> Decimal:
        return Decimal("0.5")

    def usdc_balance(self, owner: str) -> Decimal:
        if self.usdc is None:
            raise TransientVenueError("RPC down")
        return self.usdc


class Evm:
    def usdc_balance(self, address: str) -> Decimal:
        return Decimal(7)


def test_free_capital_is_twice_the_smaller_half() -> None:
    reader = VenueBalances(Solana(Decimal(3000)), Evm(), lambda a: Decimal(2500), lambda a: Decimal(2000))
    assert reader.free_capital_usd(USER) == Decimal(4000)
    balances = reader.balances(USER)
    assert (balances.solana_usdc, balances.evm_usdc, balances.hyperliquid_account_value_usd) == (
        Decimal(3000), Decimal(7), Decimal(2500))


def test_an_unreadable_venue_is_unknown_not_zero_and_opens_nothing() -> None:
    reader = VenueBalances(Solana(None), Evm(), lambda a: Decimal(2500), lambda a: Decimal(2000))
    assert reader.balances(USER).solana_usdc is None
    assert reader.free_capital_usd(USER) == 0

"""The deposit plan's arithmetic: how much USDC goes to Solana and to Hyperliquid (through Arbitrum), and SOL and
ETH for fees, at 2x, 3x and 4x, and that an open of the planned capital passes the free-capital check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dnbot.domain.deposit_plan import (
    ETH_FOR_SWEEPS,
    MIN_BRIDGE_DEPOSIT_USDC,
    SOL_FOR_FEES,
    plan_deposits,
    split_capital,
)
from dnbot.domain.sizing import size_position

D = Decimal
EMPTY = {"solana_usdc": D(0), "solana_sol": D(0), "hyperliquid_usdc": D(0), "arbitrum_usdc": D(0),
         "arbitrum_eth": D(0)}


@pytest.mark.parametrize(("leverage", "notional"), [(D(2), D(9_500)), (D(3), D(14_250)), (D(4), D(19_000))])
def test_ten_thousand_with_a_five_percent_buffer(leverage: Decimal, notional: Decimal) -> None:
    plan = plan_deposits(D(10_000), leverage, D("0.05"), **EMPTY)
    # half on each venue: an open of 10,000 is checked for 5,000 on each (was 4,750 + 5,250: the open refused);
    # the bot's own open levers 9,500 of it and leaves the 500 buffer free, 250 on each venue
    assert plan.solana_usdc.need == D(5_000)
    assert plan.hyperliquid_usdc.need == D(5_000)
    assert plan.notional_usd == notional
    assert plan.solana_usdc.need + plan.hyperliquid_usdc.need == D(10_000)
    assert plan.solana_sol.need == SOL_FOR_FEES and plan.arbitrum_eth.need == ETH_FOR_SWEEPS
    assert plan.send_to_arbitrum_usdc == D(5_000)
    assert not plan.complete


@pytest.mark.parametrize("leverage", [D(2), D(3), D(4)])
def test_the_plan_lets_an_open_of_that_capital_through(leverage: Decimal) -> None:
    capital, buffer, sol = D(12_345), D("0.1"), D(150)
    collateral, margin, notional = split_capital(capital, leverage, buffer)
    # what an open is checked for: 2 x the smaller venue (VenueBalances.free_capital_usd) covers the capital ...
    assert 2 * min(collateral, margin) >= capital and collateral + margin - capital <= D("0.01")
    # ... and covers what the bot's own sizing of that capital places on each leg (its notional, not more)
    sized = size_position(capital, leverage, sol, max_position_usd=D(1_000_000), margin_buffer=buffer)
    assert collateral >= sized.collateral_usd and margin >= sized.notional_usd / leverage
    assert notional >= sized.notional_usd and notional - sized.notional_usd < sol * D("0.01")


def test_what_is_there_and_what_is_missing() -> None:
    plan = plan_deposits(D(3_000), D(3), D("0.05"), solana_usdc=D(1_000), solana_sol=D("0.2"),
                         hyperliquid_usdc=D(500), arbitrum_usdc=D(300), arbitrum_eth=D("0.001"))
    assert plan.solana_usdc.need == D(1_500) and plan.solana_usdc.missing == D(500)
    assert plan.solana_sol.missing == D(0)
    # 1,500 margin: 500 there, 300 on Arbitrum on its way (the sweep moves it), 700 to send
    assert plan.hyperliquid_usdc.need == D(1_500) and plan.hyperliquid_usdc.missing == D(700)
    assert plan.send_to_arbitrum_usdc == D(700)
    assert not plan.out_of_proportion  # both venues short: not one funded and the other not


def test_under_the_bridge_minimum_is_not_on_its_way_and_never_asked_for() -> None:
    plan = plan_deposits(D(100), D(2), D(0), solana_usdc=D(50), solana_sol=D(1), hyperliquid_usdc=D(47),
                         arbitrum_usdc=D(4), arbitrum_eth=D(0))
    assert plan.hyperliquid_usdc.on_the_way == D(0)  # 4 USDC cannot be swept yet
    assert plan.hyperliquid_usdc.missing == D(3)
    assert plan.send_to_arbitrum_usdc == MIN_BRIDGE_DEPOSIT_USDC  # never less than the bridge credits
    assert plan.out_of_proportion  # Solana has its share, Hyperliquid not


def test_complete_when_every_address_holds_its_share() -> None:
    lopsided = plan_deposits(D(1_000), D(4), D("0.03"), solana_usdc=D(485), solana_sol=D("0.05"),
                             hyperliquid_usdc=D(515), arbitrum_usdc=D(0), arbitrum_eth=D(0))
    assert not lopsided.complete and lopsided.out_of_proportion  # an open of 1,000 sees 2 x 485 = 970 free
    plan = plan_deposits(D(1_000), D(4), D("0.03"), solana_usdc=D(500), solana_sol=D("0.05"),
                         hyperliquid_usdc=D(500), arbitrum_usdc=D(0), arbitrum_eth=D(0))
    assert plan.complete  # no ETH needed: nothing left to sweep
    assert plan.send_to_arbitrum_usdc == D(0)


def test_unknown_balances_leave_missing_unknown() -> None:
    plan = plan_deposits(D(1_000), D(2), D("0.1"), solana_usdc=None, solana_sol=None, hyperliquid_usdc=None,
                         arbitrum_usdc=None, arbitrum_eth=None)
    assert plan.solana_usdc.missing is None and plan.send_to_arbitrum_usdc is None
    assert not plan.complete and not plan.out_of_proportion


@pytest.mark.parametrize(("capital", "leverage", "buffer"), [(D(0), D(2), D(0)), (D(100), D(0), D(0)),
                                                             (D(100), D(2), D(1))])
def test_refuses_nonsense(capital: Decimal, leverage: Decimal, buffer: Decimal) -> None:
    with pytest.raises(ValueError):
        split_capital(capital, leverage, buffer)

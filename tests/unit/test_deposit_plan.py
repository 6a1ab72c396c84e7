"""The deposit plan's arithmetic: how much USDC goes to Solana and to Hyperliquid (through Arbitrum), and SOL and
ETH for fees, at 2x, 3x and 4x, and that it splits capital exactly as the sizing of a position does."""

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
    # buffer 500 stays on Hyperliquid; the other 9,500 halves: 4,750 collateral, 4,750 + 500 margin
    assert plan.solana_usdc.need == D(4_750)
    assert plan.hyperliquid_usdc.need == D(5_250)
    assert plan.notional_usd == notional
    assert plan.solana_usdc.need + plan.hyperliquid_usdc.need == D(10_000)
    assert plan.solana_sol.need == SOL_FOR_FEES and plan.arbitrum_eth.need == ETH_FOR_SWEEPS
    assert plan.send_to_arbitrum_usdc == D(5_250)
    assert not plan.complete


@pytest.mark.parametrize("leverage", [D(2), D(3), D(4)])
def test_the_plan_is_the_split_a_position_is_sized_with(leverage: Decimal) -> None:
    capital, buffer, sol = D(12_345), D("0.1"), D(150)
    collateral, margin, notional = split_capital(capital, leverage, buffer)
    sized = size_position(capital, leverage, sol, max_position_usd=D(1_000_000), margin_buffer=buffer)
    # sizing rounds the short down to 0.01 SOL; the plan asks for the unrounded split (never less)
    assert collateral >= sized.collateral_usd and collateral - sized.collateral_usd < sol * D("0.01") / leverage
    assert margin >= sized.margin_usd and notional >= sized.notional_usd


def test_what_is_there_and_what_is_missing() -> None:
    plan = plan_deposits(D(3_000), D(3), D("0.05"), solana_usdc=D(1_000), solana_sol=D("0.2"),
                         hyperliquid_usdc=D(500), arbitrum_usdc=D(300), arbitrum_eth=D("0.001"))
    assert plan.solana_usdc.need == D(1_425) and plan.solana_usdc.missing == D(425)
    assert plan.solana_sol.missing == D(0)
    # 1,575 margin: 500 there, 300 on Arbitrum on its way (the sweep moves it), 775 to send
    assert plan.hyperliquid_usdc.need == D(1_575) and plan.hyperliquid_usdc.missing == D(775)
    assert plan.send_to_arbitrum_usdc == D(775)
    assert not plan.out_of_proportion  # both venues short: not one funded and the other not


def test_under_the_bridge_minimum_is_not_on_its_way_and_never_asked_for() -> None:
    plan = plan_deposits(D(100), D(2), D(0), solana_usdc=D(50), solana_sol=D(1), hyperliquid_usdc=D(47),
                         arbitrum_usdc=D(4), arbitrum_eth=D(0))
    assert plan.hyperliquid_usdc.on_the_way == D(0)  # 4 USDC cannot be swept yet
    assert plan.hyperliquid_usdc.missing == D(3)
    assert plan.send_to_arbitrum_usdc == MIN_BRIDGE_DEPOSIT_USDC  # never less than the bridge credits
    assert plan.out_of_proportion  # Solana has its share, Hyperliquid not


def test_complete_when_every_address_holds_its_share() -> None:
    plan = plan_deposits(D(1_000), D(4), D("0.03"), solana_usdc=D(485), solana_sol=D("0.05"),
                         hyperliquid_usdc=D(515), arbitrum_usdc=D(0), arbitrum_eth=D(0))
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

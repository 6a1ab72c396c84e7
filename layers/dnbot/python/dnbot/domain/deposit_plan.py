"""Capital planning: for a chosen capital and leverage, how much to send to each of the user's addresses.

The capital is halved between the Solana wallet (the Asgard collateral) and Hyperliquid (the short's margin): an open
of capital C is checked against 2 x the smaller of the two (`VenueBalances.free_capital_usd`), and a manual open
puts C/2 on each leg. The bot's own opens size a capital as `domain.sizing.size_position` does: a share
`margin_buffer` is not levered, so each leg carries notional = (C - buffer) / 2 x leverage and the buffer stays
free, half on each venue (Hyperliquid's half is spare margin). Asking for the buffer on Hyperliquid alone (the
plan did: 9,500 + 10,500 for 20,000) left the Solana half short of C/2, and the open of that capital was refused.
Hyperliquid margin arrives through the user's Arbitrum address: USDC sent there is swept through Hyperliquid's
bridge (the bridge credits nothing under 5 USDC), and the sweep's transaction is paid in ETH from the same wallet.
The Solana wallet also needs a little SOL for transaction fees.

Pure: the caller passes what the venues hold (None: unknown just now).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")
MIN_BRIDGE_DEPOSIT_USDC = Decimal(5)  # Hyperliquid's bridge credits nothing smaller (the USDC is lost)
SOL_FOR_FEES = Decimal("0.05")  # an open, a close and a rebalance or two of Solana fees and Jito tips
ETH_FOR_SWEEPS = Decimal("0.0005")  # a few bridge transfers on Arbitrum (~65k gas each at ~0.01-0.1 gwei)


@dataclass(frozen=True, slots=True)
class Need:
    """One asset at one address: what the plan needs there, what is there, what is missing."""

    need: Decimal
    have: Decimal | None  # None: the venue could not be read
    on_the_way: Decimal = ZERO  # counted towards `need` (USDC on Arbitrum waiting for the sweep)

    @property
    def missing(self) -> Decimal | None:
        if self.have is None:
            return None
        return max(ZERO, self.need - self.have - self.on_the_way)


@dataclass(frozen=True, slots=True)
class DepositPlan:
    capital_usd: Decimal
    leverage: Decimal
    margin_buffer: Decimal
    notional_usd: Decimal  # each leg
    solana_usdc: Need  # the Asgard collateral
    solana_sol: Need  # fees
    hyperliquid_usdc: Need  # the short's margin and buffer (USDC on Arbitrum counts as on the way)
    arbitrum_eth: Need  # gas for the sweep of what is sent to Arbitrum

    @property
    def send_to_arbitrum_usdc(self) -> Decimal | None:
        """USDC to send to the Arbitrum address: the missing margin, never under the bridge's minimum."""
        missing = self.hyperliquid_usdc.missing
        if missing is None or missing == ZERO:
            return missing
        return max(missing, MIN_BRIDGE_DEPOSIT_USDC)

    @property
    def complete(self) -> bool:
        """Every address holds (or has on its way) what the plan needs."""
        return all(need.missing == ZERO for need in (self.solana_usdc, self.solana_sol, self.hyperliquid_usdc,
                                                      self.arbitrum_eth_if_needed))

    @property
    def arbitrum_eth_if_needed(self) -> Need:
        """ETH is needed only while USDC is still to be swept (sent, on the way, or missing)."""
        to_sweep = (self.hyperliquid_usdc.on_the_way or ZERO) + (self.hyperliquid_usdc.missing or ZERO)
        return self.arbitrum_eth if to_sweep > ZERO else Need(ZERO, self.arbitrum_eth.have)

    @property
    def out_of_proportion(self) -> bool:
        """One venue holds its share for the next open and the other does not: the open would be refused."""
        long_short = (self.solana_usdc.missing, self.hyperliquid_usdc.missing)
        if None in long_short:
            return False
        return (long_short[0] == ZERO) != (long_short[1] == ZERO)


def split_capital(capital_usd: Decimal, leverage: Decimal, margin_buffer: Decimal) -> tuple[Decimal, Decimal,
                                                                                              Decimal]:
    """(Solana USDC, Hyperliquid USDC, notional per leg of the bot's open), the halves rounded up to cents."""
    if capital_usd <= ZERO:
        raise ValueError("capital must be positive")
    if leverage <= ZERO:
        raise ValueError("leverage must be positive")
    if not ZERO <= margin_buffer < 1:
        raise ValueError("margin buffer must be in [0, 1)")
    half = (capital_usd / 2).quantize(CENT, ROUND_UP)  # what an open of this capital is checked for on each venue
    collateral = (capital_usd - capital_usd * margin_buffer) / 2
    return half, half, (collateral * leverage).quantize(CENT)


def plan_deposits(capital_usd: Decimal, leverage: Decimal, margin_buffer: Decimal, *,
                  solana_usdc: Decimal | None, solana_sol: Decimal | None, hyperliquid_usdc: Decimal | None,
                  arbitrum_usdc: Decimal | None, arbitrum_eth: Decimal | None) -> DepositPlan:
    collateral, margin, notional = split_capital(capital_usd, leverage, margin_buffer)
    # USDC on Arbitrum is on its way to Hyperliquid once the sweep can move it (5 USDC or more).
    sweepable = arbitrum_usdc if arbitrum_usdc is not None and arbitrum_usdc >= MIN_BRIDGE_DEPOSIT_USDC else ZERO
    return DepositPlan(
        capital_usd=capital_usd, leverage=leverage, margin_buffer=margin_buffer, notional_usd=notional,
        solana_usdc=Need(collateral, solana_usdc),
        solana_sol=Need(SOL_FOR_FEES, solana_sol),
        hyperliquid_usdc=Need(margin, hyperliquid_usdc, on_the_way=sweepable),
        arbitrum_eth=Need(ETH_FOR_SWEEPS, arbitrum_eth),
    )

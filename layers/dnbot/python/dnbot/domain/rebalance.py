"""How much an in-place rebalance shrinks both legs (pure; dnbot.services.rebalance trades it).

The short is on Hyperliquid CROSS margin (the adapter opens with `isCross: true`): its margin is the account's
whole value, so there is no isolated margin to top up and no USDC to move. The lever on both venues is therefore
the same: shrink both legs by the same SOL amount (delta unchanged):
- Asgard: deleverage the long (Asgard's /position/deleverage: sell part of the long to repay debt, the equity
  stays in the position) to `target_leverage`; when the sale would exceed the debt (a rally: the long is safe,
  the short is not), a partial close of the long instead (/position/partial-close: size and debt shrink
  together, that part's equity is paid to the wallet);
- Hyperliquid: a reduce-only buy-back of that many SOL of this position's short (the account value stays, the
  size shrinks, so the liquidation price moves up).

Long (Asgard): liquidated when value x LT x (1 - drop) = debt. Selling r USD of it to repay r of debt gives
drop' = 1 - (debt - r) / ((value - r) LT); drop' >= d needs r >= (debt - c value) / (1 - c), c = (1 - d) LT.
Short (Hyperliquid cross): liquidated at p* = (A + S P) / (S (1 + m)) (A account value, S the account's short,
m the maintenance rate); the rise p*/P - 1 >= d needs S' <= A / (P ((1 + d)(1 + m) - 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
SOL_STEP = Decimal("0.01")  # Hyperliquid SOL szDecimals = 2


@dataclass(frozen=True, slots=True)
class LegsNow:
    """Both legs as the venues report them now."""

    long_value_usd: Decimal  # the long's collateral value at Asgard's price
    long_debt_usd: Decimal  # its USDC debt
    long_liquidation_threshold: Decimal  # LT: value x LT = debt liquidates
    long_sol: Decimal  # the long's SOL exposure (its units x SOL per unit; units for SOL)
    account_value_usd: Decimal  # the Hyperliquid account's value (cross margin)
    account_short_sol: Decimal  # the account's whole short (every position's), positive
    maintenance_rate: Decimal  # Hyperliquid's maintenance margin per USD of notional
    sol_price_usd: Decimal  # Hyperliquid's price
    position_short_sol: Decimal  # this position's own short, positive

    @property
    def long_drop(self) -> Decimal:
        return long_drop(self.long_value_usd, self.long_debt_usd, self.long_liquidation_threshold)

    @property
    def short_rise(self) -> Decimal:
        return short_rise(self.account_value_usd, self.account_short_sol, self.sol_price_usd, self.maintenance_rate)


@dataclass(frozen=True, slots=True)
class RebalanceSize:
    reduce_sol: Decimal  # both legs shrink by this many SOL
    long_reduce_usd: Decimal  # the long's value sold
    target_leverage: Decimal  # the long's leverage after
    long_drop_after: Decimal
    short_rise_after: Decimal
    explanation: str
    # "deleverage": the sale repays debt, the equity stays in the long (its health improves);
    # "partial_close": the long shrinks by `close_percentage` with its debt, the equity of that part is paid out
    # (its health stays): when the sale is more than the debt (a rally: the long is safe, the short is not)
    method: str = "deleverage"
    close_percentage: Decimal | None = None


class CannotRebalance(Exception):
    """No in-place reduction restores the distance (it would take the whole position): close instead."""


def long_drop(value_usd: Decimal, debt_usd: Decimal, threshold: Decimal) -> Decimal:
    """The SOL drop (fraction) that liquidates a long of this value and debt; 1 without debt."""
    if debt_usd <= ZERO:
        return ONE
    if value_usd <= ZERO or threshold <= ZERO:
        return ZERO
    return max(ZERO, ONE - debt_usd / (value_usd * threshold))


def short_rise(account_value_usd: Decimal, short_sol: Decimal, price: Decimal, maintenance_rate: Decimal) -> Decimal:
    """The SOL rise (fraction) that liquidates a cross-margin account short `short_sol` at `price`."""
    if short_sol <= ZERO:
        return Decimal("Infinity")
    if price <= ZERO:
        raise ValueError("price must be positive")
    liquidation = (account_value_usd + short_sol * price) / (short_sol * (ONE + maintenance_rate))
    return max(ZERO, liquidation / price - ONE)


def maintenance_rate_from(account_value_usd: Decimal, short_sol: Decimal, price: Decimal,
                          liquidation_price: Decimal) -> Decimal:
    """The maintenance rate the venue applies, from its own liquidation price: p* S (1 + m) = A + S P."""
    if short_sol <= ZERO or liquidation_price <= ZERO:
        raise ValueError("a short and its liquidation price are needed")
    return max(ZERO, (account_value_usd + short_sol * price) / (short_sol * liquidation_price) - ONE)


def size_rebalance(legs: LegsNow, target_distance: Decimal, step: Decimal = SOL_STEP) -> RebalanceSize:
    """The smallest reduction (a multiple of `step` SOL, rounded up) after which BOTH legs are at least
    `target_distance` from liquidation. Raises CannotRebalance when that takes the whole short or more debt than
    the long has (a close is then the only exit)."""
    if not ZERO < target_distance < ONE:
        raise ValueError("the target distance is a fraction between 0 and 1")
    if legs.long_sol <= ZERO or legs.position_short_sol <= ZERO or legs.sol_price_usd <= ZERO:
        raise CannotRebalance("a leg is missing")
    usd_per_sol = legs.long_value_usd / legs.long_sol  # the long's USD per SOL of exposure
    c = (ONE - target_distance) * legs.long_liquidation_threshold
    long_usd = max(ZERO, (legs.long_debt_usd - c * legs.long_value_usd) / (ONE - c)) if c < ONE else ZERO
    long_sol = long_usd / usd_per_sol
    k = (ONE + target_distance) * (ONE + legs.maintenance_rate) - ONE
    short_allowed = legs.account_value_usd / (legs.sol_price_usd * k) if legs.account_value_usd > ZERO else ZERO
    short_sol = max(ZERO, legs.account_short_sol - short_allowed)
    reduce = max(long_sol, short_sol)
    if reduce <= ZERO:
        return RebalanceSize(ZERO, ZERO, _leverage(legs.long_value_usd, legs.long_debt_usd), legs.long_drop,
                             legs.short_rise, "both legs are already at the target distance")
    reduce = (reduce / step).to_integral_value(ROUND_UP) * step
    reduce_usd = reduce * usd_per_sol
    if reduce >= legs.position_short_sol or reduce >= legs.long_sol:
        raise CannotRebalance(f"restoring a {target_distance:.1%} distance takes {reduce} SOL of a "
                              f"{legs.position_short_sol} SOL short")
    method, percentage = "deleverage", None
    if reduce_usd <= legs.long_debt_usd:
        value_after, debt_after = legs.long_value_usd - reduce_usd, legs.long_debt_usd - reduce_usd
    elif legs.long_drop >= target_distance:  # the long is safe: shrink it with its debt
        fraction = reduce / legs.long_sol
        method, percentage = "partial_close", fraction * 100
        value_after, debt_after = legs.long_value_usd * (ONE - fraction), legs.long_debt_usd * (ONE - fraction)
    else:
        raise CannotRebalance(f"restoring a {target_distance:.1%} distance sells ${reduce_usd:.2f} of the long, "
                              f"more than its ${legs.long_debt_usd:.2f} debt, while the long itself is at risk")
    drop_after = long_drop(value_after, debt_after, legs.long_liquidation_threshold)
    rise_after = short_rise(legs.account_value_usd, legs.account_short_sol - reduce, legs.sol_price_usd,
                            legs.maintenance_rate)
    leverage = _leverage(value_after, debt_after)
    how = "deleverage to" if method == "deleverage" else f"partial close {percentage:.2f}% at"
    return RebalanceSize(reduce, reduce_usd, leverage, drop_after, rise_after,
                         f"both legs -{reduce} SOL (long: {how} {leverage:.3f}x): long {legs.long_drop:.1%} -> "
                         f"{drop_after:.1%} from liquidation, short {legs.short_rise:.1%} -> {rise_after:.1%}",
                         method, percentage)


def _leverage(value_usd: Decimal, debt_usd: Decimal) -> Decimal:
    equity = value_usd - debt_usd
    return value_usd / equity if equity > ZERO else Decimal("Infinity")

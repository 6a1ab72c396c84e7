"""How much an in-place rebalance shrinks both legs (pure; dnbot.services.rebalance trades it).

The short is on Hyperliquid CROSS margin (the adapter opens with `isCross: true`): its margin is the account's
whole value, so there is no isolated margin to top up. Without moving USDC between the venues (the bridge below:
`size_bridge_rebalance`, what a rebalance tries first) the lever on both venues is the same: shrink both legs by
the same SOL amount (delta unchanged):
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


# the distance a rebalance restores when the open's is unknown (a fraction of the SOL price)
DEFAULT_REBALANCE_DISTANCE = Decimal("0.3")


def rebalance_target(distance_at_open: Decimal | None) -> Decimal:
    """The liquidation distance a rebalance restores: the position's at its open, else the default. What the tick
    asks the rebalance for, and what a Hyperliquid withdrawal must leave the short."""
    return distance_at_open or DEFAULT_REBALANCE_DISTANCE


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


def spare_margin_usd(account_value_usd: Decimal, short_sol: Decimal, price: Decimal, maintenance_rate: Decimal,
                     distance: Decimal) -> Decimal:
    """What a cross-margin account can give up (a withdrawal) and still keep its short `distance` (a fraction of
    the price) from liquidation: the short needs A >= k P S, k = (1 + d)(1 + m) - 1 (then short_rise = d), so the
    spare is A - k P S, never negative (an account already nearer than that has nothing spare); without a short,
    the whole value."""
    if distance < ZERO:
        raise ValueError("the distance is a fraction of the price, not negative")
    if short_sol <= ZERO:
        return max(ZERO, account_value_usd)
    if price <= ZERO:
        raise ValueError("price must be positive")
    k = (ONE + distance) * (ONE + maintenance_rate) - ONE
    return max(ZERO, account_value_usd - k * price * short_sol)


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


# --- with a USDC bridge between the venues (Circle's CCTP: services/bridge_rebalance.py; docs/bridge.md) ------------

TO_LONG = "to_long"
TO_SHORT = "to_short"


@dataclass(frozen=True, slots=True)
class BridgeRebalance:
    """A rebalance that moves USDC between the venues, so that less (or nothing) is shrunk. It uses only what
    the venues offer: Asgard's repay-debt and partial-close (it has no "borrow more" on a live long, so
    the long's surplus after a rally can leave it only with a share of the long), Hyperliquid's withdraw3 and
    bridge deposit, and Circle's CCTP between Solana and Arbitrum (services/bridge_rebalance.py runs it).

    - TO_LONG, after a fall (the long is near liquidation, the short has margin to spare): `transfer_usd`
      leaves the Hyperliquid account and repays that much of the long's USDC debt (Asgard repay-debt). No trade:
      both legs keep their size.
    - TO_SHORT, after a rally (the short is near liquidation, the long is safe): the long closes
      `close_percentage` of itself (that share of its equity is paid to the wallet), the short buys back the
      same `reduce_sol`, and the paid equity is bridged into the Hyperliquid account. The short's margin grows
      while its size shrinks, so it needs a smaller reduction than a shrink alone.
    """

    direction: str  # TO_LONG | TO_SHORT
    transfer_usd: Decimal  # USDC that leaves the source venue (the fixed cost is paid out of it)
    reduce_sol: Decimal  # both legs shrink by this (TO_SHORT only)
    close_percentage: Decimal | None  # of the long (TO_SHORT only)
    long_drop_after: Decimal
    short_rise_after: Decimal
    explanation: str


def size_bridge_rebalance(legs: LegsNow, target_distance: Decimal, *, transfer_cost_usd: Decimal,
                          reduce_cost_rate: Decimal, step: Decimal = SOL_STEP) -> BridgeRebalance | None:
    """The bridge rebalance that puts the leg at risk back at `target_distance` from liquidation while the other
    leg stays at least that far: a transfer alone after a fall, a partial close whose equity is bridged to the
    short after a rally. None when no transfer can do it (both legs at risk, or the source cannot spare enough):
    the caller shrinks in place instead (`size_rebalance`).

    `transfer_cost_usd`: the fixed cost of one transfer (Hyperliquid's withdraw fee or Arbitrum gas, the
    bridge, a Solana transaction); `reduce_cost_rate`: the trading cost per USD of notional reduced (taker fee,
    swap, Asgard close fee).

    Math, with the names of `size_rebalance`: c = (1 - d) LT and k = (1 + d)(1 + m) - 1.
    Fall: the long needs debt - T' <= c value, T' = T - cost arriving; the short may give T while A - T >= k P S.
    Rally: closing r SOL of the long pays r (value - debt) / long_sol; the short needs
    A + r E/X - cost - rate r P >= k P (S - r), so r >= (k P S - A + cost) / (E/X + (k - rate) P).
    """
    if not ZERO < target_distance < ONE:
        raise ValueError("the target distance is a fraction between 0 and 1")
    if legs.long_sol <= ZERO or legs.position_short_sol <= ZERO or legs.sol_price_usd <= ZERO:
        return None
    price, threshold = legs.sol_price_usd, legs.long_liquidation_threshold
    c = (ONE - target_distance) * threshold
    k = (ONE + target_distance) * (ONE + legs.maintenance_rate) - ONE
    short_needs = k * price * legs.account_short_sol  # the account value at which the short is at the target
    long_at_risk, short_at_risk = legs.long_drop < target_distance, legs.short_rise < target_distance
    if long_at_risk and not short_at_risk:
        repay = legs.long_debt_usd - c * legs.long_value_usd
        transfer = repay + transfer_cost_usd
        if transfer > legs.account_value_usd - short_needs:
            return None
        debt_after = legs.long_debt_usd - repay
        drop_after = long_drop(legs.long_value_usd, debt_after, threshold)
        rise_after = short_rise(legs.account_value_usd - transfer, legs.account_short_sol, price,
                                legs.maintenance_rate)
        return BridgeRebalance(TO_LONG, transfer, ZERO, None, drop_after, rise_after,
                               f"${transfer:.2f} from Hyperliquid repays the long's debt: long "
                               f"{legs.long_drop:.1%} -> {drop_after:.1%} from liquidation, short "
                               f"{legs.short_rise:.1%} -> {rise_after:.1%}")
    if short_at_risk and not long_at_risk:
        equity_per_sol = (legs.long_value_usd - legs.long_debt_usd) / legs.long_sol
        gain_per_sol = equity_per_sol + (k - reduce_cost_rate) * price
        if gain_per_sol <= ZERO:
            return None
        reduce = (short_needs - legs.account_value_usd + transfer_cost_usd) / gain_per_sol
        reduce = (max(reduce, step) / step).to_integral_value(ROUND_UP) * step
        if reduce >= legs.position_short_sol or reduce >= legs.long_sol:
            return None
        released = reduce * equity_per_sol
        transfer = released - reduce_cost_rate * reduce * price
        rise_after = short_rise(legs.account_value_usd + transfer - transfer_cost_usd,
                                legs.account_short_sol - reduce, price, legs.maintenance_rate)
        percentage = reduce / legs.long_sol * 100
        return BridgeRebalance(TO_SHORT, transfer, reduce, percentage, legs.long_drop, rise_after,
                               f"both legs -{reduce} SOL (long: partial close {percentage:.2f}%), its "
                               f"${transfer:.2f} of equity bridged to Hyperliquid: short {legs.short_rise:.1%} -> "
                               f"{rise_after:.1%} from liquidation, long stays {legs.long_drop:.1%}")
    return None

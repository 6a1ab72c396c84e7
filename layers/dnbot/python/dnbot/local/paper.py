"""Market data and paper venues straight from the replayed recordings, with no wire protocol in between.

`dnbot local --venues replay` uses these; the default speaks to the venue simulator through the real adapters.
Tests use PaperVenues as a venue that behaves (fills at the replayed price, charges the documented fees,
reports legs by position id) and can be told to fail.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import HYPERLIQUID_TAKER_FEE_RATE
from dnbot.domain.pnl import FundingShare
from dnbot.domain.positions import Position
from dnbot.domain.rates import FundingQuote, LendingMarket
from dnbot.domain.risk import RiskReadings
from dnbot.marketdata.recorded import HOUR
from dnbot.ports import Balances, LongFill, LongOpenRequest, ShortFill, ShortMargin, UserRecord, VenueRejected
from dnbot.sim.world import SimWorld

CENT = Decimal("0.01")
FUNDING_QUANTUM = Decimal("0.000001")  # funding payments to the micro-dollar, as Hyperliquid reports them
ASGARD_FEE_RATE = Decimal("0.0005")


class ReplayMarkets:
    """Implements LendingMarketSource and FundingSource from the replayed recordings."""

    def __init__(self, world: SimWorld) -> None:
        self._world = world
        self._max_leverage = _max_leverage_by_bank(world)

    def lending_markets(self) -> list[LendingMarket]:
        now = self._world.clock.now()
        market = self._world.market
        markets: list[LendingMarket] = []
        for protocol in Protocol:
            usdc = market.lending(protocol, "usdc", now)
            sol = market.lending(protocol, "sol", now)
            if usdc is None or sol is None:
                continue  # no recording for this protocol (Solend): not offered
            markets.append(LendingMarket(Asset.SOL, protocol, sol.supply_apy, usdc.borrow_apy, Decimal(0),
                                         self._max_leverage.get((Asset.SOL, protocol))))
            for asset in (Asset.JITOSOL, Asset.JUPSOL, Asset.INF):
                staking = market.staking_apy(asset, now)
                if staking is not None and (asset, protocol) in self._max_leverage:
                    # No LST reserve rate is recorded: its supply APY is ~0 (its yield is staking).
                    markets.append(LendingMarket(asset, protocol, Decimal(0), usdc.borrow_apy, staking,
                                                 self._max_leverage[(asset, protocol)]))
        return markets

    def sol_price_usd(self) -> Decimal:
        return self._world.market.sol_price(self._world.clock.now())

    def funding_history_hourly(self, hours: int) -> list[Decimal]:
        now = self._world.clock.now()
        return [self._world.market.funding_hourly(now - back * HOUR) for back in range(hours, 0, -1)]

    def sol_funding(self) -> FundingQuote:
        now = self._world.clock.now()
        price = self._world.market.sol_price(now)
        premium = self._world.market.premium(now)
        return FundingQuote(
            funding_hourly=self._world.market.funding_hourly(now),
            predicted_funding_hourly=self._world.market.funding_hourly(now + HOUR),
            mark_price=(price * (1 + premium)).quantize(Decimal("0.001")),
            oracle_price=price,
        )


def _max_leverage_by_bank(world: SimWorld) -> dict[tuple[Asset, Protocol], Decimal | None]:
    """Which asset x protocol banks exist (recorded token config) and their max long leverage, if stated."""
    found: dict[tuple[Asset, Protocol], Decimal | None] = {}
    for symbol, entry in world.market.data.token_config.items():
        try:
            asset = Asset.parse(symbol)
        except ValueError:
            continue
        for bank in entry.get("banks", []):
            if bank.get("market") != "Main Market":
                continue
            try:
                protocol = Protocol.parse(bank["protocol"])
            except ValueError:
                continue
            long_max = bank.get("maxLeverage", {}).get("long")
            found[(asset, protocol)] = None if long_max is None else Decimal(str(long_max))
    return found


# Hyperliquid's SOL maintenance margin (half the initial margin at its 20x maximum) and the account's leverage
PAPER_MAINTENANCE_RATE = Decimal("0.025")
PAPER_ACCOUNT_LEVERAGE = Decimal(10)


@dataclass
class _PaperLong:
    fill: LongFill
    debt_usd: Decimal


class PaperVenues:
    """Implements LongVenue, ShortVenue, CapitalSource, BalanceReader and RiskReader: fills at the replayed SOL
    price (LSTs at par with SOL), with `paper_capital_usd` of capital per user.

    `fail_next(call, error)` makes the next call of that name raise `error` (tests of compensation).
    """

    def __init__(self, world: SimWorld, paper_capital_usd: Decimal = Decimal(10_000)) -> None:
        self._world = world
        self._paper_capital = paper_capital_usd
        self._longs: dict[tuple[str, str], _PaperLong] = {}
        self._shorts: dict[tuple[str, str], ShortFill] = {}
        self._closed_shorts: dict[tuple[str, str], ShortFill] = {}
        self._closing_fees: dict[tuple[str, str, str], Decimal] = {}  # (leg, user, position): what its close paid
        self._partial_fraction: Decimal | None = None
        self._failures: dict[str, Exception] = {}
        self._lock = threading.Lock()

    def fail_next(self, call: str, error: Exception) -> None:
        self._failures[call] = error

    def _maybe_fail(self, call: str) -> None:
        error = self._failures.pop(call, None)
        if error is not None:
            raise error

    def _price(self) -> Decimal:
        return self._world.market.sol_price(self._world.clock.now())

    # CapitalSource
    def free_capital_usd(self, user: UserRecord) -> Decimal:
        with self._lock:
            committed = sum((held.fill.notional_usd + held.fill.fees_usd - held.debt_usd
                             for key, held in self._longs.items() if key[0] == user.user_id), Decimal(0))
        return max(Decimal(0), self._paper_capital - 2 * committed)

    # BalanceReader: the paper capital, half as collateral on Solana and half as margin on Hyperliquid
    def balances(self, user: UserRecord) -> Balances:
        free_half = (self.free_capital_usd(user) / 2).quantize(CENT)
        return Balances(solana_sol=Decimal("0.05"), solana_usdc=free_half, evm_usdc=Decimal(0),
                        hyperliquid_account_value_usd=free_half)

    # RiskReader
    def readings(self, position: Position) -> RiskReadings:
        price = self._price()
        held = self._longs.get((position.user_id, position.position_id))
        return RiskReadings(oracle_price_usd=price, long_venue_sol_price_usd=price,
                            lst_depeg=Decimal(0), long_value_usd=held.fill.size * price if held else None,
                            long_debt_usd=held.debt_usd if held else None)

    # the Hyperliquid account (PaperHyperliquidAccounts)
    def account_margin(self, user_id: str | None) -> ShortMargin:
        """A user's paper Hyperliquid account: the free half of the paper capital, each live position's margin
        half (as much as its long's collateral) and its short's PnL; liquidated (cross margin) at
        (value + S P) / (S (1 + m)) with Hyperliquid's SOL maintenance rate."""
        price = self._price()
        value, short = self._paper_capital / 2, Decimal(0)
        if user_id is not None:
            value = self.free_capital_usd(UserRecord(user_id, "", self._world.clock.now())) / 2
            with self._lock:
                for (owner, position_id), held in self._longs.items():
                    if owner != user_id:
                        continue
                    value += held.fill.notional_usd + held.fill.fees_usd - held.debt_usd
                    fill = self._shorts.get((owner, position_id))
                    if fill is not None:
                        value += fill.size_sol * (fill.average_price_usd - price)
                        short += fill.size_sol
        liquidation = (value + short * price) / (short * (1 + PAPER_MAINTENANCE_RATE)) if short > 0 else None
        return ShortMargin(value, short, price, liquidation)

    def user_ids(self) -> set[str]:
        """The paper users holding a long."""
        with self._lock:
            return {owner for owner, _ in self._longs}

    # LongVenue
    def open_long(self, request: LongOpenRequest) -> LongFill:
        self._maybe_fail("open_long")
        if request.collateral_usd <= 0:
            raise VenueRejected("collateral must be positive")
        price = self._price()
        notional = (request.collateral_usd * request.leverage).quantize(CENT)
        fees = (notional * ASGARD_FEE_RATE).quantize(CENT)
        # as Asgard: the open fee comes out of what the notional buys, and the whole notional less the collateral
        # is borrowed (Position.long_collateral_usd = (what was bought + the fee) / leverage)
        fill = LongFill(reference=f"paper-long-{request.position_id}", size=((notional - fees) / price).quantize(
            Decimal("0.000000001")), entry_price_usd=price, notional_usd=notional - fees, fees_usd=fees)
        with self._lock:
            self._longs[(request.user_id, request.position_id)] = _PaperLong(fill, notional - request.collateral_usd)
        return fill

    def find_long(self, user_id: str, position_id: str) -> LongFill | None:
        held = self._longs.get((user_id, position_id))
        return None if held is None else held.fill

    def close_long(self, user_id: str, position_id: str) -> Decimal:
        self._maybe_fail("close_long")
        with self._lock:
            held = self._longs.pop((user_id, position_id), None)
        if held is None:
            return Decimal(0)
        value = held.fill.size * self._price()
        fee = value * ASGARD_FEE_RATE
        with self._lock:
            self._closing_fees[("long", user_id, position_id)] = fee.quantize(CENT)
        return (value - held.debt_usd - fee).quantize(CENT)

    def long_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        return self._closing_fees.get(("long", user_id, position_id), Decimal(0))

    # ShortVenue
    def open_short(self, user_id: str, position_id: str, size_sol: Decimal) -> ShortFill:
        self._maybe_fail("open_short")
        if size_sol <= 0:
            raise VenueRejected("order size must be positive")
        price = self._price()
        if self._partial_fraction is not None:
            size_sol = (size_sol * self._partial_fraction).quantize(Decimal("0.01"))
            self._partial_fraction = None
        fill = ShortFill(reference=f"paper-short-{position_id}", size_sol=size_sol, average_price_usd=price,
                         fees_usd=(size_sol * price * HYPERLIQUID_TAKER_FEE_RATE).quantize(CENT))
        with self._lock:
            self._shorts[(user_id, position_id)] = fill
        return fill

    def find_short(self, user_id: str, position_id: str) -> ShortFill | None:
        return self._shorts.get((user_id, position_id))

    def adjust_short(self, user_id: str, position_id: str, add_sol: Decimal) -> ShortFill:
        self._maybe_fail("adjust_short")
        with self._lock:
            held = self._shorts[(user_id, position_id)]
            price = self._price()
            size = held.size_sol + add_sol
            average = ((held.size_sol * held.average_price_usd + add_sol * price) / size).quantize(Decimal("0.0001"))
            fee = (abs(add_sol) * price * HYPERLIQUID_TAKER_FEE_RATE).quantize(CENT)
            self._shorts[(user_id, position_id)] = adjusted = ShortFill(held.reference, size, average,
                                                                        held.fees_usd + fee)
        return adjusted

    def fill_short_partially(self, fraction: Decimal) -> None:
        """The next open_short fills only `fraction` of its size (tests of the rebalance)."""
        self._partial_fraction = fraction

    def funding_usd(self, user_id: str, position_id: str, since: datetime) -> Decimal:
        """Each whole hour held: size x that hour's price x its rate (positive: the short receives)."""
        shares = self._funding_shares(user_id, position_id, since, None)
        return sum((share.share_usd for share in shares), Decimal(0)).quantize(CENT)

    def funding_shares(self, user_id: str, positions: Sequence[Position], since: datetime,
                       until: datetime | None = None) -> list[FundingShare]:
        """Paper shorts are not netted: each position's payment is its own (the account's payment = its share)."""
        shares = [share for position in positions
                  for share in self._funding_shares(user_id, position.position_id, position.created_at, until)
                  if share.at >= since]
        return sorted(shares, key=lambda share: (share.at, share.position_id))

    def _funding_shares(self, user_id: str, position_id: str, since: datetime,
                        until: datetime | None) -> list[FundingShare]:
        held = self._shorts.get((user_id, position_id)) or self._closed_shorts.get((user_id, position_id))
        if held is None:
            return []
        market, now = self._world.market, self._world.clock.now()
        end = min(now, until) if until is not None else now
        hour = since.replace(minute=0, second=0, microsecond=0) + HOUR
        shares: list[FundingShare] = []
        while hour <= end:
            rate = market.funding_hourly(hour - HOUR)
            paid = (held.size_sol * market.sol_price(hour) * rate).quantize(FUNDING_QUANTUM)
            shares.append(FundingShare(hour, position_id, paid, paid, held.size_sol, rate))
            hour += HOUR
        return shares

    def close_short(self, user_id: str, position_id: str, size_sol: Decimal) -> Decimal:
        """Buy back `size_sol` of this position's short (at most what it holds); the rest stays open."""
        self._maybe_fail("close_short")
        with self._lock:
            held = self._shorts.get((user_id, position_id))
            if held is None:
                return Decimal(0)
            bought = min(size_sol, held.size_sol)
            if bought >= held.size_sol:
                self._shorts.pop((user_id, position_id))
                self._closed_shorts[(user_id, position_id)] = held
            else:
                self._shorts[(user_id, position_id)] = ShortFill(held.reference, held.size_sol - bought,
                                                                 held.average_price_usd, held.fees_usd)
        price = self._price()
        pnl = (held.average_price_usd - price) * bought
        fee = bought * price * HYPERLIQUID_TAKER_FEE_RATE
        with self._lock:
            key = ("short", user_id, position_id)
            self._closing_fees[key] = self._closing_fees.get(key, Decimal(0)) + fee.quantize(CENT)
        return (pnl - fee).quantize(CENT)

    def short_closing_fees_usd(self, user_id: str, position_id: str) -> Decimal:
        return self._closing_fees.get(("short", user_id, position_id), Decimal(0))


class PaperHyperliquidAccounts:
    """The Hyperliquid account reads a withdrawal makes (`withdrawable_usd`, `short_margin`), by address, on the
    paper venues (`PaperVenues.account_margin`). `user_id_of` maps an EVM address to its paper user."""

    def __init__(self, paper: PaperVenues, user_id_of: Callable[[str], str | None]) -> None:
        self._paper = paper
        self._user_id_of = user_id_of

    def short_margin(self, address: str) -> ShortMargin:
        return self._paper.account_margin(self._user_id_of(address))

    def withdrawable_usd(self, address: str) -> Decimal:
        """What the venue would let go: the account less its shorts' initial margin at the account's 10x."""
        margin = self.short_margin(address)
        return max(Decimal(0), margin.account_value_usd - margin.short_sol * margin.price_usd / PAPER_ACCOUNT_LEVERAGE)

"""The carry of one delta-neutral position, exactly as ARCHITECTURE.md writes it, expressed on CAPITAL.

For a long of notional N at Asgard leverage L (collateral C = N / L, USDC debt D = N - C) and a short of
notional N on Hyperliquid posted with the same leverage (margin M = N / L), the capital tied up is
C + M = 2N / L. Per hour:

    carry = N * (staking_apy + supply_apy) / 8760     earned on the whole long
          - D * usdc_borrow_apy / 8760                 paid on the debt only
          + N * funding_hourly                         Hyperliquid: a POSITIVE hourly rate means longs pay
                                                       shorts, so the bot's short EARNS it, every hour

Divided by the capital and annualized (simple, x 8760) each term becomes an APY on capital:

    staking = staking_apy * L / 2        supply = supply_apy * L / 2
    borrow  = -usdc_borrow_apy * (L - 1) / 2
    funding = funding_hourly * 8760 * L / 2

Fees are paid once per round trip (open + close) and are amortized over the expected holding period, so a
trade that is expected to last a day must clear much more carry than one expected to last a month.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dnbot.domain.rates import HOURS_PER_YEAR, LendingMarket

ONE = Decimal(1)
TWO = Decimal(2)
ZERO = Decimal(0)

# Hyperliquid's base-tier taker fee: 0.045% of the order's notional, paid on the open and on the close.
HYPERLIQUID_TAKER_FEE_RATE = Decimal("0.00045")
# Hyperliquid caps the hourly funding rate at 4%/hour (either sign).
HYPERLIQUID_FUNDING_CAP_HOURLY = Decimal("0.04")
# A reference capital for fixed (per-transaction) fees when no capital is given, e.g. the opportunity list.
REFERENCE_CAPITAL_USD = Decimal(10_000)


def long_per_capital(leverage: Decimal) -> Decimal:
    """N / capital = L / 2: the notional of EACH leg per dollar of capital."""
    return leverage / TWO


def debt_per_capital(leverage: Decimal) -> Decimal:
    """D / capital = (L - 1) / 2: the USDC debt per dollar of capital."""
    return (leverage - ONE) / TWO


def notional_for_capital(capital_usd: Decimal, leverage: Decimal) -> Decimal:
    """N = capital x L / 2 on each leg (Asgard collateral = Hyperliquid margin = capital / 2)."""
    return capital_usd * leverage / TWO


@dataclass(frozen=True, slots=True)
class CarryComponents:
    """APYs on capital (simple, x 8760). `borrow` is negative (a cost); the others are signed as earned."""

    staking: Decimal
    supply: Decimal
    borrow: Decimal
    funding: Decimal

    @property
    def gross(self) -> Decimal:
        return self.staking + self.supply + self.borrow + self.funding

    def as_strings(self) -> dict[str, str]:
        return {"staking": str(self.staking), "supply": str(self.supply), "borrow": str(self.borrow),
                "funding": str(self.funding)}


def carry_components(market: LendingMarket, funding_hourly: Decimal, leverage: Decimal) -> CarryComponents:
    """The four carry sources of `market` at `leverage` with Hyperliquid's hourly rate `funding_hourly`."""
    if leverage < ONE:
        raise ValueError(f"leverage must be >= 1, got {leverage}")
    long_share = long_per_capital(leverage)
    return CarryComponents(
        staking=market.staking_apy * long_share,
        supply=market.supply_apy * long_share,
        borrow=-market.usdc_borrow_apy * debt_per_capital(leverage),
        funding=funding_hourly * HOURS_PER_YEAR * long_share,
    )


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """One round trip's costs. Rates are fractions of the leg's notional; `jito_tip_usd` is per transaction.

    The Asgard fee and slippage defaults are this project's planning assumptions (Asgard quotes its fee per
    position); pass the venue's quote when it is known.
    """

    hyperliquid_taker_rate: Decimal = HYPERLIQUID_TAKER_FEE_RATE  # per side: open and close
    asgard_open_rate: Decimal = Decimal("0.0005")
    asgard_close_rate: Decimal = Decimal("0.0005")
    swap_slippage_rate: Decimal = Decimal("0.0005")  # per swap; the long swaps USDC->asset and back
    jito_tip_usd: Decimal = Decimal("0.02")  # per Solana transaction; an open and a close are two
    # one USDC transfer between the venues: Hyperliquid's $1 withdraw3 fee only; CCTP's gas and rent are unmeasured
    # and not counted (docs/bridge.md section 4)
    bridge_usd: Decimal = Decimal("1")

    def round_trip_usd(self, notional_usd: Decimal) -> Decimal:
        """Everything paid to open and later close a position of `notional_usd` on each leg."""
        per_notional = (TWO * self.hyperliquid_taker_rate + self.asgard_open_rate + self.asgard_close_rate
                        + TWO * self.swap_slippage_rate)
        return notional_usd * per_notional + TWO * self.jito_tip_usd

    def open_usd(self, notional_usd: Decimal) -> Decimal:
        """The half paid at the open (taker on the short, Asgard open fee, one swap, one tip)."""
        return (notional_usd * (self.hyperliquid_taker_rate + self.asgard_open_rate + self.swap_slippage_rate)
                + self.jito_tip_usd)

    def close_usd(self, notional_usd: Decimal) -> Decimal:
        per_notional = self.hyperliquid_taker_rate + self.asgard_close_rate + self.swap_slippage_rate
        return notional_usd * per_notional + self.jito_tip_usd

    @property
    def reduce_rate(self) -> Decimal:
        """Per USD of notional shrunk in place: a reduce-only taker order on the short, a swap and the Asgard close
        fee on the long's part."""
        return self.hyperliquid_taker_rate + self.swap_slippage_rate + self.asgard_close_rate

    def reduce_usd(self, notional_change_usd: Decimal) -> Decimal:
        """Shrinking both legs by `notional_change_usd` in place (a rebalance): `reduce_rate` on it and one
        Solana transaction."""
        return abs(notional_change_usd) * self.reduce_rate + self.jito_tip_usd


DEFAULT_FEES = FeeSchedule()


def fee_drag_apy(fees: FeeSchedule, leverage: Decimal, holding_hours: Decimal | int,
                 capital_usd: Decimal = REFERENCE_CAPITAL_USD) -> Decimal:
    """The round trip's cost as an APY on capital, amortized over `holding_hours`."""
    hours = Decimal(holding_hours)
    if hours <= ZERO:
        raise ValueError("holding_hours must be positive")
    if capital_usd <= ZERO:
        raise ValueError("capital_usd must be positive")
    round_trip = fees.round_trip_usd(notional_for_capital(capital_usd, leverage))
    return round_trip / capital_usd * HOURS_PER_YEAR / hours


def net_apy(components: CarryComponents, fees: FeeSchedule, leverage: Decimal, holding_hours: Decimal | int,
            capital_usd: Decimal = REFERENCE_CAPITAL_USD) -> Decimal:
    """Gross carry on capital minus the round trip's fees amortized over the expected holding period."""
    return components.gross - fee_drag_apy(fees, leverage, holding_hours, capital_usd)


# --- how long a carry lasts: estimated from the funding history available at the hour, never the future ------

@dataclass(frozen=True, slots=True)
class CarryOutlook:
    """What the recorded funding says about the carry ahead. Built by `carry_outlook` from the hourly rates
    settled UP TO NOW (oldest first): appending later hours cannot change an outlook already computed.

    - `horizon_hours`: the expected holding period. A "carry-off episode" is a spell of at least
      `min_episode_hours` (two days) during which funding averaged over the previous day was negative (the
      short paid). With E such episodes in the T hours observed (at most `lookback_hours`), a position is
      expected to last (720 + T) / (720 / 655 + E) hours: the mean time between episodes, starting from the
      training span's one episode per 655 hours worth 720 hours of evidence (`PRIOR_*`). A spell still running
      counts once it is two days long. No history at all: 655 h; 60 quiet days: 1,965 h; 4 episodes in 60
      days: 423 h.
    - `negative_spell_hours`: the mean length of the spells of negative day-mean funding: how long staying in
      through one is expected to cost.
    - `expected_funding_hourly`: the rate an entry counts on: the lowest of the median of the last
      `recent_hours` (one hour's spike does not move it) and the mean of the last 72 hours (what a holder
      earned).
    - `recent_funding_hourly`: the mean of the last `exit_hours`: what the held position earns now.
    """

    lookback_hours: int
    horizon_hours: int
    carry_off_episodes: int
    negative_spell_hours: Decimal
    expected_funding_hourly: Decimal
    recent_funding_hourly: Decimal


SMOOTHING_HOURS = 24
# The funding an entry counts on is capped by what a holder earned over the last three days (a crash
# included). A week (the window before) held entries back for days after a negative regime had ended (May
# 2025); three days still spans a typical negative spell (12-43 h on the recording).
RECENT_MEAN_HOURS = 72
# What ends a carry: two days of negative day-mean funding. The bot stays through a negative day (it leaves only
# when a spell costs more than a round trip, `decide_for_user`), so a day-long dip does not end its position and
# counting one shortened the horizon below how long positions last: after April 2025's dips the balanced
# walk-forward waited until May 9 to enter. Chosen on the training months only (walk-forward 2025-04 .. 09, all
# three presets summed: a day 1,211.37, two days 1,247.56, three 1,259.19, four 1,118.59, five 1,023.59; from
# four days on the bot entered April's negative regime), in the middle of the plateau (docs/strategy.md).
MIN_EPISODE_HOURS = 48
# The horizon's prior. On the training span (Hyperliquid SOL funding 2025-01-01 .. 2025-09-30, 6,552 hours)
# a carry-off episode began every 655 hours on average (10 episodes). The estimate starts from that rate,
# worth one month of evidence, and the recorded lookback updates it (the posterior mean of a Gamma-Poisson
# rate): a fresh deployment or a short history gets the long-run 655 h instead of no horizon at all, and two
# quiet months no longer promise more than that rate allows (60 days without an episode: 1,965 h).
PRIOR_HOURS_PER_EPISODE = 655
PRIOR_WEIGHT_HOURS = 720


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / TWO


def carry_outlook(funding_history_hourly: list[Decimal] | tuple[Decimal, ...], *, lookback_hours: int = 1440,
                  recent_hours: int = 24, exit_hours: int = 6,
                  min_episode_hours: int = MIN_EPISODE_HOURS) -> CarryOutlook:
    """The outlook from `funding_history_hourly` (oldest first; POSITIVE = the short earned). Uses the last
    `lookback_hours` day means (so lookback + 23 hours); shorter histories give shorter horizons."""
    if lookback_hours <= 0 or recent_hours <= 0 or exit_hours <= 0:
        raise ValueError("windows must be positive")
    history = list(funding_history_hourly[-(lookback_hours + SMOOTHING_HOURS - 1):])
    if not history:
        return CarryOutlook(0, 0, 0, ZERO, ZERO, ZERO)
    # day sums: sums[i + 24] - sums[i] is the sum of the 24 hours ending at i + 23; its sign is the day mean's
    sums = [ZERO]
    total = ZERO
    for rate in history:
        total += rate
        sums.append(total)
    span = min(SMOOTHING_HOURS, len(history))
    episodes = 0
    spells = 0
    negative_hours = 0
    run = 0
    observed = 0
    for end in range(span, len(sums)):
        observed += 1
        if sums[end] < sums[end - span]:
            run += 1
            negative_hours += 1
            continue
        if run:
            spells += 1
            if run >= min_episode_hours:
                episodes += 1
        run = 0
    if run >= min_episode_hours:
        episodes += 1  # the running spell counts once it is long enough: the carry is off now
    if run:
        spells += 1
    # (prior hours + observed) / (prior episodes + episodes), the prior's episodes being 720 / 655: in integers
    horizon = ((PRIOR_WEIGHT_HOURS + observed) * PRIOR_HOURS_PER_EPISODE
               // (PRIOR_WEIGHT_HOURS + episodes * PRIOR_HOURS_PER_EPISODE))
    spell = Decimal(negative_hours) / spells if spells else ONE
    recent = history[-recent_hours:]
    held = history[-RECENT_MEAN_HOURS:]
    expected = min(_median(recent), sum(held, ZERO) / len(held))
    last = history[-exit_hours:]
    return CarryOutlook(lookback_hours=observed, horizon_hours=horizon, carry_off_episodes=episodes,
                        negative_spell_hours=spell, expected_funding_hourly=expected,
                        recent_funding_hourly=sum(last, ZERO) / len(last))


def expected_carry_usd(components: CarryComponents, capital_usd: Decimal, hours: Decimal | int) -> Decimal:
    """The carry (APY on capital) earned by `capital_usd` over `hours`."""
    return capital_usd * components.gross * Decimal(hours) / HOURS_PER_YEAR


# --- what a market's rates have been: the lookback's mean, the reading a decision counts on ------------------

def mean_markets(hours: Iterable[Sequence[LendingMarket]]) -> tuple[LendingMarket, ...]:
    """Each market's mean supply, USDC borrow and staking APY over the snapshots in `hours` (one sequence of
    markets per hour, e.g. the lookback's hourly snapshots), over the hours it was recorded."""
    sums: dict[tuple[object, object], list[Decimal]] = {}
    first: dict[tuple[object, object], LendingMarket] = {}
    for markets in hours:
        for market in markets:
            key = (market.asset, market.protocol)
            if key not in sums:
                sums[key] = [ZERO, ZERO, ZERO, ZERO]
                first[key] = market
            total = sums[key]
            total[0] += market.supply_apy
            total[1] += market.usdc_borrow_apy
            total[2] += market.staking_apy
            total[3] += ONE
    return tuple(LendingMarket(first[k].asset, first[k].protocol, t[0] / t[3], t[1] / t[3], t[2] / t[3])
                 for k, t in sums.items())


def expected_market(now: LendingMarket, mean: LendingMarket | None) -> LendingMarket:
    """The rates a decision counts on over its horizon: the market's mean over the lookback, with NOW's
    leverage cap and capacities. On the training months a pair's mean over the last 60 days ranked the pairs
    by what they then earned over the next 30 days with a regret of 0.10%/yr on capital; the lower of now
    and the week's mean (the reading before) was off by 0.67%/yr (docs/strategy.md). One hour's spike moves
    a 60-day mean by 1/1440 of itself, so it can neither open nor switch a position."""
    if mean is None:
        return now
    return LendingMarket(now.asset, now.protocol, mean.supply_apy, mean.usdc_borrow_apy, mean.staking_apy,
                         now.max_leverage, now.borrow_capacity_usd, now.deposit_capacity_usd)

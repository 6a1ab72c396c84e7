"""`make bench`: how fast the backtester and one user's tick evaluation are, on the vendored recorded data, and
every Lambda's cold start against its framework floor (bench/cold_start.py).

Prints wall-clock AND process CPU time: the machine this runs on may be shared, and CPU time is the figure
that does not count other processes' turns. Each figure is the best of several repeats (the least disturbed).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from dnbot.backtest.engine import BacktestConfig, Backtester
from dnbot.backtest.history import MarketHistory
from dnbot.backtest.scan import scan_always
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import CarryOutlook, carry_outlook, mean_markets
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.positions import Position, PositionStatus
from dnbot.domain.presets import Preset, UserSettings
from dnbot.domain.rates import LendingMarket
from dnbot.domain.risk import RiskReadings
from dnbot.domain.strategy import LivePosition, decide_for_user
from dnbot.marketdata.recorded import RecordedData
from dnbot.services.rates import MARKET_MEAN_HOURS, STRATEGY_HISTORY_HOURS

LEVERAGES = (Decimal(2), Decimal(3), Decimal(4))


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float


def measure(action: Callable[[], object], repeats: int = 1) -> tuple[Timing, object]:
    best: Timing | None = None
    result: object = None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()
        timing = Timing(time.perf_counter() - wall, time.process_time() - cpu)
        if best is None or timing.cpu < best.cpu:
            best = timing
    assert best is not None
    return best, result


def line(label: str, timing: Timing, note: str = "") -> None:
    print(f"  {label:58} {timing.wall * 1000:9.1f} ms wall {timing.cpu * 1000:9.1f} ms cpu  {note}")


def main() -> int:
    print("dnbot bench (vendored recorded data: dnbot/data/recorded)")
    load, history = measure(lambda: _load())
    assert isinstance(history, MarketHistory)
    span = history.candles_between(min(history.candles), max(history.candles))
    print(f"  data: {len(span)} hourly SOL candles {span[0][0]:%Y-%m-%d} .. {span[-1][0]:%Y-%m-%d}, "
          f"{len(history.funding_hourly)} funding hours")
    line("load + parse every series (Decimal)", load)

    # 1. the grid: 4 assets x 4 protocols x 3 leverages over the recorded year, `always` policy
    cold, rows = measure(lambda: scan_always(history, leverages=LEVERAGES))
    assert isinstance(rows, list)
    pairs = len({(r.asset, r.protocol) for r in rows})
    hours = sum(r.hours for r in rows)
    held = sum(r.hours_in_market for r in rows)
    note = (f"{len(rows)} of 48 combinations have data ({pairs} pairs): {hours} hours replayed, "
            f"{held} with a position on")
    line("grid scan 4x4x3, cold (builds per-hour series once)", cold, note)
    warm, _ = measure(lambda: scan_always(history, leverages=LEVERAGES), repeats=5)
    line("grid scan 4x4x3, warm (series cached)", warm, "target < 1000 ms")

    backtester = Backtester(history)

    def engine_grid() -> int:
        runs = 0
        for asset in Asset:
            for protocol in Protocol:
                if history.first_hour_of(asset, protocol) is None:
                    continue
                for leverage in LEVERAGES:
                    backtester.run(BacktestConfig(policy="always", asset=asset, protocol=protocol,
                                                  leverage=leverage, record_series=False))
                    runs += 1
        return runs

    decimal_grid, runs = measure(engine_grid, repeats=2)
    line("same grid, hour-by-hour Decimal engine (the reference)", decimal_grid, f"{runs} runs")

    # worst case: no position ever ends early (liquidation switched off), every hour accrues
    never = {"liquidation_ltv": Decimal(1000), "maintenance_margin_rate": Decimal("-0.99")}
    held, rows = measure(lambda: scan_always(history, leverages=LEVERAGES, **never), repeats=5)
    assert isinstance(rows, list)
    line("grid scan, every position held to the end", held,
         f"{sum(r.hours_in_market for r in rows)} hours with a position on")

    def engine_grid_held() -> int:
        runs = 0
        for asset in Asset:
            for protocol in Protocol:
                if history.first_hour_of(asset, protocol) is None:
                    continue
                for leverage in LEVERAGES:
                    backtester.run(BacktestConfig(policy="always", asset=asset, protocol=protocol,
                                                  leverage=leverage, record_series=False, **never))
                    runs += 1
        return runs

    timing, _ = measure(engine_grid_held, repeats=2)
    line("same, hour-by-hour Decimal engine", timing)

    # 2. the bot's own policy: decide_for_user every hour, per preset
    for name in ("conservative", "balanced", "aggressive"):
        config = BacktestConfig(preset=Preset.parse(name), record_series=False)
        timing, result = measure(lambda config=config: backtester.run(config), repeats=2)
        hours = getattr(result, "hours", 0)
        line(f"dnbot policy, {name}, every hour", timing,
             f"{hours} h, {timing.cpu / max(hours, 1) * 1e6:.0f} us/h")

    # 3. one user's tick: the strategy_tick's per-user work
    # the latest hour at which every recorded pair has data: the most markets a tick ranks
    widest = max(len(history.markets_at(hour)) for hour, _ in span[-24 * 60:])
    at = next(hour for hour, _ in reversed(span) if len(history.markets_at(hour)) == widest)
    snapshot = history.snapshot_at(at)
    assert snapshot is not None
    settings = UserSettings.create("balanced")
    preset = settings.preset
    history_48h = history.funding_history(at, 48)
    lookback = history.funding_history(at, STRATEGY_HISTORY_HOURS)
    means_span = [history.markets_at(hour) for hour, _ in span if at - timedelta(hours=MARKET_MEAN_HOURS) < hour <= at]

    def once_per_tick() -> tuple[CarryOutlook, tuple[LendingMarket, ...]]:
        return (carry_outlook(lookback, lookback_hours=preset.lookback_hours, recent_hours=preset.persistence_hours),
                mean_markets(means_span))

    timing, _ = measure(once_per_tick, repeats=5)
    outlook, means = once_per_tick()
    line(f"tick, once per tick: outlook of {len(lookback)} h + market means of {len(means_span)} h", timing,
         f"horizon {outlook.horizon_hours} h")
    held = LivePosition(
        Position("p1", "u1", Asset.JITOSOL, Protocol.KAMINO, Decimal(3), Decimal(15_000), PositionStatus.OPEN,
                 at, at),
        RiskReadings(health_factor=Decimal("1.21"), margin_ratio=Decimal("0.09"),
                     short_liquidation_price=snapshot.funding.oracle_price * Decimal("1.28"),
                     oracle_price_usd=snapshot.funding.oracle_price, equity_usd=Decimal(10_050),
                     peak_equity_usd=Decimal(10_080), liquidation_distance_at_open=Decimal("0.21")),
    )
    calls = 5000
    for label, positions, capital in (("flat user: rank every market and size an entry", [], Decimal(10_000)),
                                      ("user with a live position: every breaker", [held], Decimal(0))):
        def tick(positions: list[LivePosition] = positions, capital: Decimal = capital) -> None:
            for _ in range(calls):
                decide_for_user(snapshot=snapshot, funding_history_hourly=history_48h, positions=positions,
                                free_capital_usd=capital, settings=settings, kill_switch=KillSwitch.OFF, now=at,
                                outlook=outlook, market_means=means)

        timing, _ = measure(tick, repeats=3)
        per_call = Timing(timing.wall / calls, timing.cpu / calls)
        print(f"  tick, {label:50} {per_call.wall * 1e3:7.4f} ms wall {per_call.cpu * 1e3:7.4f} ms cpu"
              f"  per user ({len(snapshot.markets)} markets; target < 0.2 ms)")

    # 3b. the tick's fan-out for 10,000 users: each invocation against its own function's timeout
    import fanout

    fanout.run(history, users=10_000)

    # 4. every Lambda's cold start against its framework floor (bench/cold_start.py)
    import cold_start

    return cold_start.main()


def _load() -> MarketHistory:
    history = MarketHistory(RecordedData())
    _ = history.funding_hourly, history.candles
    return history


if __name__ == "__main__":
    sys.exit(main())

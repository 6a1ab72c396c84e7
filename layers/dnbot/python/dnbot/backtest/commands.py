"""`dnbot opportunities` (the carry at one recorded hour) and `dnbot backtest` (a replay of the strategy)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dnbot.cli import UsageError
from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.presets import MAX_LEVERAGE, MIN_LEVERAGE, Preset
from dnbot.marketdata.recorded import RecordedData, default_data_dir, hour_floor

if TYPE_CHECKING:
    from dnbot.backtest.history import MarketHistory


def register(subparsers: Any) -> None:
    opportunities = subparsers.add_parser(
        "opportunities", help="carry of every asset x protocol x leverage at one recorded hour",
        description="Net APY on capital of every pair with recorded data at the hour containing --at.")
    data_help = "recorded data directory (default: the vendored copy)"
    opportunities.add_argument("--data", default=None, help=data_help)
    opportunities.add_argument("--at", required=True, help="ISO time, e.g. 2025-08-01T12:00:00Z")
    opportunities.add_argument("--leverage", default=None, help="2 to 4 (default: 2, 3 and 4)")
    opportunities.add_argument("--preset", default="balanced",
                               help="whose expected holding period amortizes the fees (default: balanced)")
    opportunities.add_argument("--json", action="store_true", help="JSON on stdout")
    opportunities.set_defaults(func=run_opportunities)

    backtest = subparsers.add_parser(
        "backtest", help="replay recorded data through the strategy",
        description="Simulate both legs hour by hour on recorded data with the tick's own strategy code.")
    backtest.add_argument("--data", default=None, help=data_help)
    backtest.add_argument("--start", default=None, help="ISO time (default: the first hour with data)")
    backtest.add_argument("--end", default=None, help="ISO time (default: the last recorded hour)")
    backtest.add_argument("--capital", default="10000", help="USD (default 10000)")
    backtest.add_argument("--preset", default="balanced", help="conservative | balanced | aggressive")
    backtest.add_argument("--policy", default="dnbot",
                          help="dnbot (the bot's strategy) | always (open and hold)")
    backtest.add_argument("--asset", default=None, help="SOL | jitoSOL | jupSOL | INF")
    backtest.add_argument("--protocol", default=None, help="marginfi | kamino | solend | drift")
    backtest.add_argument("--leverage", default=None, help="2 to 4 (default: the preset's)")
    backtest.add_argument("--chart", default="backtest.png", help="PNG path when --json is absent")
    backtest.add_argument("--json", action="store_true", help="JSON on stdout")
    backtest.add_argument("--rebalance", default="bridge",
                          help="bridge (what the live workflow does: USDC moved between the venues over CCTP, "
                               "else both legs shrink) | shrink (the workflow with bridging off)")
    backtest.add_argument("--walk-forward", action="store_true",
                          help="trade each calendar month from flat with only the past; compare with always-on "
                               "holds of each pair and the hindsight-optimal schedule (capture ratio)")
    backtest.add_argument("--held-out-months", default="2",
                          help="with --walk-forward: the last N months reported apart (default 2)")
    backtest.set_defaults(func=run_backtest)


# --- input parsing: every failure is one line and exit 2 ------------------------------------------------

def _time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not an ISO time (e.g. 2025-08-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without a zone is read as UTC, as the data is
    return moment.astimezone(UTC)


def _leverage(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip().lower().removesuffix("x"))
    except InvalidOperation:
        raise UsageError(f"--leverage {text!r} is not a number") from None
    if not value.is_finite() or not MIN_LEVERAGE <= value <= MAX_LEVERAGE:
        raise UsageError(f"--leverage must be between {MIN_LEVERAGE} and {MAX_LEVERAGE}, got {text}")
    return value


def _history(path: str | None) -> MarketHistory:
    """Load every series the commands use, so that a malformed file is reported as bad input, once."""
    from dnbot.backtest.history import MarketHistory

    root = Path(path) if path else default_data_dir()
    if not root.is_dir():
        raise UsageError(f"--data {root} is not a directory")
    data = RecordedData(root)
    try:
        history = MarketHistory(data)
    except (ValueError, KeyError, TypeError, ArithmeticError, OSError) as broken:
        raise UsageError(f"--data {root}: unreadable recorded data ({type(broken).__name__}: {broken})") from None
    if not history.funding_hourly:
        raise UsageError(f"--data {root} has no hyperliquid/sol_funding_hourly.json(.gz)")
    if not history.candles:
        raise UsageError(f"--data {root} has no binance/SOLUSDT_1h.csv(.gz)")
    return history


def _parse(kind: type[Asset] | type[Protocol] | type[Preset], text: str, option: str) -> Any:
    try:
        return kind.parse(text)
    except ValueError as bad:
        raise UsageError(f"{option}: {bad}") from None


def _emit(payload: dict[str, Any]) -> None:
    json.dump(payload, sys.stdout, indent=2)
    sys.stdout.write("\n")


# --- commands -----------------------------------------------------------------------------------------

def run_opportunities(args: argparse.Namespace) -> int:
    from dnbot.backtest.opportunities import LEVERAGES, opportunities_at
    from dnbot.backtest.report import opportunities_table

    at = hour_floor(_time(args.at, "--at"))
    leverage = _leverage(args.leverage)
    preset = _parse(Preset, args.preset, "--preset")
    history = _history(args.data)
    found = opportunities_at(history, at, LEVERAGES if leverage is None else (leverage,),
                             holding_hours=preset.expected_holding_hours)
    stamp = at.isoformat().replace("+00:00", "Z")
    if args.json:
        _emit({"at": stamp, "opportunities": [o.to_json() for o in found]})
    else:
        print(opportunities_table(stamp, found))
    return 0


def run_backtest(args: argparse.Namespace) -> int:
    from dnbot.backtest.engine import POLICIES, REBALANCE_MODELS, BacktestConfig, Backtester
    from dnbot.backtest.report import backtest_chart, backtest_table

    policy = args.policy.strip().lower()
    if policy not in POLICIES:
        raise UsageError(f"--policy must be one of {', '.join(POLICIES)}, got {args.policy!r}")
    rebalance = args.rebalance.strip().lower()
    if rebalance not in REBALANCE_MODELS:
        raise UsageError(f"--rebalance must be one of {', '.join(REBALANCE_MODELS)}, got {args.rebalance!r}")
    preset = _parse(Preset, args.preset, "--preset")
    asset = None if args.asset is None else _parse(Asset, args.asset, "--asset")
    protocol = None if args.protocol is None else _parse(Protocol, args.protocol, "--protocol")
    leverage = _leverage(args.leverage)
    try:
        capital = Decimal(args.capital.strip().replace(",", "").removeprefix("$"))
    except InvalidOperation:
        raise UsageError(f"--capital {args.capital!r} is not a number") from None
    if not capital.is_finite() or capital <= 0:
        raise UsageError(f"--capital must be a positive number of USD, got {args.capital}")
    start = None if args.start is None else hour_floor(_time(args.start, "--start"))
    end = None if args.end is None else hour_floor(_time(args.end, "--end"))
    if start is not None and end is not None and end < start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    if policy == "always" and (asset is None or protocol is None):
        raise UsageError("--policy always needs --asset and --protocol")

    if args.walk_forward:
        return _walk_forward(args, preset, leverage, capital, policy, asset, protocol, start, end, rebalance)
    history = _history(args.data)
    if asset is not None and protocol is not None and history.first_hour_of(asset, protocol) is None:
        raise UsageError(f"no recorded data for {asset.value}/{protocol.label} in {history.data.root}")
    config = BacktestConfig(capital_usd=capital, policy=policy, preset=preset, asset=asset, protocol=protocol,
                            leverage=leverage, start=start, end=end, record_series=not args.json,
                            rebalance=rebalance)
    result = Backtester(history).run(config)
    if result.hours == 0:
        raise UsageError("no recorded hour with a SOL price in the requested span")
    if args.json:
        _emit(result.to_json())
        return 0
    print(backtest_table(result))
    chart = backtest_chart(result, Path(args.chart))
    print(f"  chart: {chart}")
    return 0


def _walk_forward(args: argparse.Namespace, preset: Preset, leverage: Decimal | None, capital: Decimal,
                  policy: str, asset: Asset | None, protocol: Protocol | None, start: datetime | None,
                  end: datetime | None, rebalance: str) -> int:
    from dnbot.backtest.report import walk_forward_table
    from dnbot.backtest.walkforward import walk_forward

    if policy != "dnbot" or asset is not None or protocol is not None or start is not None or end is not None:
        raise UsageError("--walk-forward covers the whole recorded span with the bot's policy: "
                         "drop --policy, --asset, --protocol, --start and --end")
    try:
        held_out = int(args.held_out_months.strip())
    except ValueError:
        raise UsageError(f"--held-out-months {args.held_out_months!r} is not a whole number") from None
    if held_out < 0:
        raise UsageError(f"--held-out-months must be 0 or more, got {held_out}")
    history = _history(args.data)
    try:
        result = walk_forward(history, preset, leverage=leverage, capital_usd=capital, held_out_months=held_out,
                              rebalance=rebalance)
    except ValueError as error:
        raise UsageError(f"--walk-forward: {error}") from None
    if args.json:
        _emit(result.to_json())
    else:
        print(walk_forward_table(result))
    return 0

"""Human-readable output of the backtester: a table and a PNG chart (matplotlib, Agg backend: no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dnbot.backtest.engine import BacktestResult
from dnbot.backtest.opportunities import Opportunity
from dnbot.domain.pnl import SOURCES


def _pct(value: object) -> str:
    return f"{float(str(value)) * 100:7.2f}%"


def opportunities_table(at: str, found: Sequence[Opportunity]) -> str:
    lines = [f"Opportunities at {at} (APY on capital; net after round-trip fees)",
             f"{'asset':8} {'protocol':9} {'lev':>4} {'staking':>8} {'supply':>8} {'borrow':>8} "
             f"{'funding':>8} {'gross':>8} {'net':>8}"]
    for o in found:
        c = o.components
        lines.append(f"{o.asset.value:8} {o.protocol.label:9} {o.leverage!s:>4} {_pct(c.staking)} "
                     f"{_pct(c.supply)} {_pct(c.borrow)} {_pct(c.funding)} {_pct(o.gross_apy)} "
                     f"{_pct(o.net_apy)}")
    if not found:
        lines.append("(no pair has recorded data at this hour)")
    return "\n".join(lines)


def backtest_table(result: BacktestResult) -> str:
    data = result.to_json()
    pnl = data["pnl"]
    assert isinstance(pnl, dict)
    config = result.config
    pair = "any recorded pair" if config.asset is None else f"{config.asset.value}/" + (
        config.protocol.label if config.protocol else "any")
    lines = [
        f"Backtest: policy {config.policy}, preset {config.preset.name.value}, "
        f"leverage {config.leverage or config.preset.leverage}x, {pair}",
        f"  span            {data['start']} .. {data['end']} ({data['hours']} h simulated, "
        f"{result.skipped_hours} h skipped without a price, "
        f"{result.carried_hours} h of rates carried forward)",
        f"  capital         ${data['capital']}",
        f"  final equity    ${data['final_equity']}",
        f"  total PnL       ${data['total_pnl']}",
        f"  net APY         {_pct(data['net_apy']).strip()}",
        f"  max drawdown    {_pct(data['max_drawdown']).strip()}",
        f"  trades          {data['trades']} "
        f"({result.rebalances} rebalances, {result.liquidations} liquidations)",
        f"  hours in market {data['hours_in_market']}",
        "  PnL by source:",
    ]
    lines.extend(f"    {name:8} ${pnl[name]:>12}" for name in SOURCES)
    if result.trades:
        lines.append("  trades:")
        for trade in result.trades:
            closed = "-" if trade.closed_at is None else trade.closed_at.strftime("%Y-%m-%d %H:%M")
            lines.append(f"    {trade.opened_at:%Y-%m-%d %H:%M} -> {closed}  {trade.asset.value}/"
                         f"{trade.protocol.label} {trade.leverage}x  PnL ${trade.pnl_usd:.2f}  "
                         f"({trade.close_reason})")
    return "\n".join(lines)


def backtest_chart(result: BacktestResult, path: Path) -> Path:
    """Equity, and cumulative PnL by source, over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = [point.at for point in result.series]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    top.plot(times, [float(point.equity) for point in result.series], color="black", linewidth=1.2)
    top.set_ylabel("equity (USD)")
    top.set_title(f"dnbot backtest: {result.config.policy} / {result.config.preset.name.value}")
    top.grid(alpha=0.3)
    for name in SOURCES:
        values = [float(getattr(point.pnl, name)) for point in result.series]
        bottom.plot(times, values, label=name, linewidth=1)
    bottom.axhline(0, color="grey", linewidth=0.6)
    bottom.set_ylabel("cumulative PnL (USD)")
    bottom.legend(loc="upper left", ncols=3, fontsize=8)
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

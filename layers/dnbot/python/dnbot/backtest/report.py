"""Human-readable output of the backtester: a table and a PNG chart (matplotlib, Agg backend: no display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dnbot.backtest.engine import BacktestResult
from dnbot.backtest.opportunities import Opportunity
from dnbot.backtest.walkforward import Summary, WalkForward
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
                     f"{_pct(o.net_apy)}" + ("" if o.protocol.rebalances_in_place else "  no in-place rebalance"))
    if not found:
        lines.append("(no pair has recorded data at this hour)")
    elif not all(o.protocol.rebalances_in_place for o in found):
        lines.append("no in-place rebalance: Asgard cannot re-centre a long there; the bot does not open it itself")
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
        f"leverage {config.leverage or config.preset.leverage}x, {pair}, rebalance {config.rebalance}",
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


def _capture(value: object) -> str:
    return "    -" if value is None else f"{float(str(value)) * 100:5.0f}%"


def walk_forward_table(result: WalkForward) -> str:
    """One line per month (bot, best and worst always-on hold, hindsight optimum, capture), then the totals."""
    lines = [f"Walk-forward: preset {result.preset.name.value}, {result.leverage}x, ${result.capital_usd:.0f}, "
             f"rebalance {result.rebalance}, each month from flat with only the past (USD PnL)",
             f"{'month':8} {'bot':>9} {'trades':>6} {'rebal':>5} {'best hold':>24} {'worst hold':>10} "
             f"{'hindsight':>9} {'capture':>7} {'horizon':>7}"]
    for w in result.windows:
        best = max(w.holds_usd.items(), key=lambda item: item[1]) if w.holds_usd else None
        worst = min(w.holds_usd.values()) if w.holds_usd else None
        best_text = "-" if best is None else f"{best[0]} {best[1]:.2f}"
        worst_text = "-" if worst is None else f"{worst:.2f}"
        mark = "*" if w.held_out else " "
        lines.append(f"{w.start:%Y-%m}{mark} {w.bot_usd:9.2f} {w.trades:6} {w.rebalances:5} {best_text:>24} "
                     f"{worst_text:>10} {w.hindsight_usd:9.2f} {_capture(w.capture):>7} "
                     f"{w.fit.horizon_hours:6}h")

    def total(label: str, summary: Summary) -> str:
        best = summary.best_hold
        best_text = "-" if best is None else f"{best[0]} {best[1]:.2f}"
        return (f"{label:8} {summary.bot_usd:9.2f} {'':6} {'':5} {best_text:>24} {'':>10} "
                f"{summary.hindsight_usd:9.2f} {_capture(summary.capture):>7}")

    lines.append(total("training", result.summary(held_out=False)))
    lines.append(total("held-out", result.summary(held_out=True)))
    lines.append(total("total", result.summary(held_out=None)))
    lines.append("  * held-out month (not used to choose parameters; docs/strategy.md says what had been seen). "
                 "Holds are summed per pair over the "
                 "windows; hindsight: the perfect-foresight carry schedule net of fees (no price PnL, "
                 "rebalancing or liquidation).")
    return "\n".join(lines)

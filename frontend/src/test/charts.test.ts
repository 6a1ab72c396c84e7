import { describe, expect, it } from "vitest";
import { equitySeries, FundingHistory, fundingMarkers, fundingSeries, PnlPoint, stackedSeries, toTime } from "../charts/data";

const point = (at: string, parts: Partial<Record<string, string>>) => PnlPoint.parse({
  at, total_usd: "0", funding_usd: "0", staking_usd: "0", lending_usd: "0", borrow_usd: "0", fees_usd: "0", price_usd: "0", ...parts,
});

describe("chart data", () => {
  it("stacks the sources so the last band is the total", () => {
    const points = [
      point("2026-11-25T07:00:00Z", { funding_usd: "1.50", fees_usd: "-1.00", borrow_usd: "-0.25", price_usd: "0.10", total_usd: "0.35" }),
      point("2026-11-25T06:00:00Z", { funding_usd: "0.50", fees_usd: "-1.00", total_usd: "-0.50" }),
    ];
    const stacked = stackedSeries(points);
    expect(stacked.map((s) => s.key)).toEqual(["funding_usd", "staking_usd", "lending_usd", "borrow_usd", "fees_usd", "price_usd"]);
    const total = stacked[stacked.length - 1]!.data;
    expect(total.map((p) => p.time)).toEqual([toTime("2026-11-25T06:00:00Z"), toTime("2026-11-25T07:00:00Z")]); // time order
    expect(total[0]!.value).toBeCloseTo(-0.5);
    expect(total[1]!.value).toBeCloseTo(0.35);
    expect(stacked[0]!.data[1]!.value).toBeCloseTo(1.5);
  });

  it("annualizes funding and puts entries below and exits above on their hour", () => {
    const history = FundingHistory.parse({
      points: [{ at: "2026-11-25T06:00:00Z", funding_hourly: "0.0000125" }, { at: "2026-11-25T07:00:00Z", funding_hourly: "-0.00001" }],
      markers: [
        { at: "2026-11-25T07:40:00Z", kind: "exit", position_id: "p", text: "close SOL" },
        { at: "2026-11-25T06:10:00Z", kind: "entry", position_id: "p", text: "open SOL" },
      ],
    });
    expect(fundingSeries(history).map((p) => Number(p.value.toFixed(3)))).toEqual([10.95, -8.76]);
    const markers = fundingMarkers(history);
    expect(markers.map((m) => [m.time, m.position, m.shape])).toEqual([
      [toTime("2026-11-25T06:00:00Z"), "belowBar", "arrowUp"],
      [toTime("2026-11-25T07:00:00Z"), "aboveBar", "arrowDown"],
    ]);
  });

  it("draws the backtest's equity by day", () => {
    const series = equitySeries({ hours: 48, capital: "10000", final_equity: "10010", total_pnl: "10", net_apy: "0.01", max_drawdown: "0", trades: 1, pnl: {},
      series: [{ at: "2025-07-02T00:00:00Z", equity_usd: "10010" }, { at: "2025-07-01T00:00:00Z", equity_usd: "10000" }] });
    expect(series.map((p) => p.value)).toEqual([10000, 10010]);
  });
});

// Chart data shaping (pure, tested): API points with decimal strings -> lightweight-charts' {time, value}.
import type { UTCTimestamp } from "lightweight-charts";
import { z } from "zod";
import { Dec, Pnl } from "../api/schemas";

export const PnlPoint = z.object({ at: z.string(), ...Pnl.shape });
export type PnlPoint = z.infer<typeof PnlPoint>;
export const PnlSeries = z.object({ points: z.array(PnlPoint) });

export const FundingHistory = z.object({
  points: z.array(z.object({ at: z.string(), funding_hourly: Dec })),
  markers: z.array(z.object({ at: z.string(), kind: z.enum(["entry", "exit"]), position_id: z.string(), text: z.string() })),
});
export type FundingHistory = z.infer<typeof FundingHistory>;

export const Backtest = z.looseObject({
  hours: z.number(),
  capital: Dec,
  final_equity: Dec,
  total_pnl: Dec,
  net_apy: Dec,
  max_drawdown: Dec,
  trades: z.number(),
  pnl: z.record(z.string(), Dec),
  series: z.array(z.object({ at: z.string(), equity_usd: Dec })),
});
export type Backtest = z.infer<typeof Backtest>;

export interface Point {
  time: UTCTimestamp;
  value: number;
}

export const SOURCE_ORDER = ["funding_usd", "staking_usd", "lending_usd", "borrow_usd", "fees_usd", "price_usd"] as const;
export const SOURCE_LABELS: Record<(typeof SOURCE_ORDER)[number], string> = {
  funding_usd: "Funding",
  staking_usd: "Staking",
  lending_usd: "Lending",
  borrow_usd: "Borrow",
  fees_usd: "Fees",
  price_usd: "Price",
};

export function toTime(iso: string): UTCTimestamp {
  return Math.floor(Date.parse(iso) / 1000) as UTCTimestamp;
}

/** One point per second at most (the chart refuses duplicate times), in time order. */
function ordered(points: Point[]): Point[] {
  const byTime = new Map<number, Point>();
  for (const p of points) byTime.set(p.time, p);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/** Stacked PnL by source: series i is the sum of sources 0..i, so the last one is the total. */
export function stackedSeries(points: PnlPoint[]): { key: (typeof SOURCE_ORDER)[number]; data: Point[] }[] {
  return SOURCE_ORDER.map((key, i) => ({
    key,
    data: ordered(points.map((p) => ({
      time: toTime(p.at),
      value: SOURCE_ORDER.slice(0, i + 1).reduce((sum, k) => sum + Number(p[k]), 0),
    }))),
  }));
}

/** Hourly funding as an annualized percentage (hourly x 8760 x 100). */
export function fundingSeries(history: FundingHistory): Point[] {
  return ordered(history.points.map((p) => ({ time: toTime(p.at), value: Number(p.funding_hourly) * 8760 * 100 })));
}

export interface Marker {
  time: UTCTimestamp;
  position: "aboveBar" | "belowBar";
  shape: "arrowUp" | "arrowDown";
  color: string;
  text: string;
}

/** Entries below the line (arrow up, green), exits above it (arrow down, red), on the hour they fall in. */
export function fundingMarkers(history: FundingHistory): Marker[] {
  const first = history.points[0] ? toTime(history.points[0].at) : null;
  return history.markers
    .map((m) => {
      const hour = (Math.floor(toTime(m.at) / 3600) * 3600) as UTCTimestamp;
      return {
        time: first !== null && hour < first ? first : hour,
        position: m.kind === "entry" ? ("belowBar" as const) : ("aboveBar" as const),
        shape: m.kind === "entry" ? ("arrowUp" as const) : ("arrowDown" as const),
        color: m.kind === "entry" ? "#1a9c5b" : "#d64545",
        text: m.text,
      };
    })
    .sort((a, b) => a.time - b.time);
}

export function equitySeries(result: Backtest): Point[] {
  return ordered(result.series.map((p) => ({ time: toTime(p.at), value: Number(p.equity_usd) })));
}

import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Position as PositionSchema, type Position } from "../api/schemas";
import { ClosePositionModal, HistoryTable, PositionsTable } from "../components/Positions";
import { mockApi, renderWithClient } from "./utils";

const OPEN: Position = PositionSchema.parse({
  position_id: "pos-1", asset: "jitoSOL", protocol: "kamino", leverage: "3", status: "open", notional_usd: "1500.00",
  long: { size: "7.655623515", entry_price: "195.9344", notional_usd: "1500.00", value_usd: "1510.20", debt_usd: "1000.00" },
  short: { size: "7.64", entry_price: "195.9344", notional_usd: "1496.94", value_usd: "1507.00" },
  created_at: "2026-11-25T06:48:30Z", pnl_usd: "-1.25",
  // HF 1.8731 at SOL $197.25: Asgard liquidates the long 46.61% lower, at $105.31, before the short's $291.50 (+47.8%)
  health_factor: "1.8731", margin_ratio: "0.0412", liquidation_price_usd: "105.31", sol_price_usd: "197.25",
  liquidation_distance_pct: "46.61", long_liquidation_price_usd: "105.31", short_liquidation_price_usd: "291.50",
  first_liquidation: "long", unreadable: [], stale_since: null, pnl_kind: "unrealized",
  pnl: { total_usd: "-1.25", funding_usd: "0.84", staking_usd: "0.12", lending_usd: "0.00", borrow_usd: "-0.31",
         fees_usd: "-1.42", price_usd: "-0.48" },
});

const ASGARD_DOWN: Position = {
  ...OPEN, position_id: "pos-4", health_factor: null, unreadable: ["asgard"], stale_since: "2026-11-25T07:00:00Z",
  long_liquidation_price_usd: null, first_liquidation: "short", liquidation_price_usd: "291.50", liquidation_distance_pct: "47.78",
};

describe("PositionsTable", () => {
  it("lists active positions with a close button and hides closed ones", () => {
    const onClose = vi.fn();
    renderWithClient(
      <PositionsTable
        positions={[OPEN, { ...OPEN, position_id: "pos-2", status: "closed" }, { ...OPEN, position_id: "pos-3", status: "pending", long: null, short: null, pnl_usd: null }]}
        onClose={onClose}
      />,
    );
    const rows = within(screen.getByRole("table", { name: "Active positions" })).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("Kamino");
    expect(rows[0]).toHaveTextContent("$1,500.00");
    expect(rows[0]).toHaveTextContent("-$1.25");
    expect(rows[1]).toHaveTextContent("pending");
    expect(within(rows[1]!).queryByRole("button")).toBeNull(); // a pending position cannot be closed yet
    fireEvent.click(within(rows[0]!).getByRole("button", { name: "Close jitoSOL position" }));
    expect(onClose).toHaveBeenCalledWith(OPEN);
  });

  it("labels every cell with its column, so a phone can show each position as a card", () => {
    renderWithClient(<PositionsTable positions={[OPEN]} onClose={() => {}} />);
    const table = screen.getByRole("table", { name: "Active positions" });
    expect(table).toHaveClass("table-cards");
    const headers = within(table).getAllByRole("columnheader").map((th) => th.textContent ?? "");
    const cells = within(table).getAllByRole("row")[1]!.querySelectorAll("td");
    expect(cells).toHaveLength(headers.length);
    cells.forEach((td, i) => {
      // the actions cell has no header text and no label; every other cell carries its header as its card label
      expect(td.getAttribute("data-label") ?? "").toBe(headers[i]);
    });
    expect(within(table).getByRole("button", { name: "Close jitoSOL position" }).closest("td")).toHaveClass("card-actions");
  });

  it("derives no per-SOL price from a cached value and a rebalanced size; SOL's price comes from the reading", () => {
    // just rebalanced: the ledger's size shrank (7.66 -> 6.69) while the cached venue value is the open's
    const rebalanced: Position = { ...OPEN, long: { ...OPEN.long!, size: "6.6915" }, sol_price_usd: "183.46", figures_at: "2026-11-25T06:49:00Z" };
    renderWithClient(<PositionsTable positions={[rebalanced]} onClose={() => {}} />);
    const row = within(screen.getByRole("table", { name: "Active positions" })).getAllByRole("row")[1]!;
    expect(row).toHaveTextContent("now $1,510.20");
    expect(row).not.toHaveTextContent(/per (jitoSOL|SOL)/); // $1,510.20 / 6.6915 = $225.69 "per jitoSOL" was shown
    expect(within(row).getByTestId("sol-price")).toHaveTextContent(/^\$183\.46$/);
  });

  it("shows the live risk and the PnL split by source, and says when a venue could not be read", () => {
    renderWithClient(
      <PositionsTable positions={[OPEN, ASGARD_DOWN]} onClose={() => {}} />,
    );
    const rows = within(screen.getByRole("table", { name: "Active positions" })).getAllByRole("row").slice(1);
    expect(within(rows[0]!).getByTestId("health-factor")).toHaveTextContent("1.87");
    expect(within(rows[0]!).getByTestId("margin-ratio")).toHaveTextContent("4.1%");
    expect(within(rows[0]!).getByTestId("liquidation-price")).toHaveTextContent(/^↓ \$105\.31 · ↑ \$291\.50$/);
    expect(within(rows[0]!).getByTestId("liquidation-distance")).toHaveTextContent(/^46\.6% \(long\)$/);
    expect(within(rows[0]!).getByTestId("pnl-funding_usd")).toHaveTextContent("+$0.84");
    expect(within(rows[0]!).getByTestId("pnl-fees_usd")).toHaveTextContent("-$1.42");
    expect(rows[0]).toHaveTextContent("now $1,510.20");
    expect(within(rows[1]!).getByTestId("health-factor")).toHaveTextContent("—");
    expect(rows[1]).toHaveTextContent(/Could not read asgard since/);
  });

  it("shows both legs' liquidation prices, the nearer one emphasised, and names the leg of the distance", () => {
    renderWithClient(<PositionsTable positions={[OPEN, ASGARD_DOWN, { ...ASGARD_DOWN, position_id: "pos-5", short_liquidation_price_usd: null, liquidation_price_usd: null, liquidation_distance_pct: null, first_liquidation: null }]} onClose={() => {}} />);
    const rows = within(screen.getByRole("table", { name: "Active positions" })).getAllByRole("row").slice(1);
    const long = within(rows[0]!).getByTestId("liquidation-long");
    const short = within(rows[0]!).getByTestId("liquidation-short");
    expect(long.tagName).toBe("STRONG"); // the long is the nearer liquidation here
    expect(long).toHaveAttribute("title", "Asgard liquidates the jitoSOL long if SOL falls to this price: the nearer liquidation");
    expect(short.tagName).not.toBe("STRONG");
    expect(short).toHaveAttribute("title", "Hyperliquid liquidates the SOL-PERP short if SOL rises to this price");
    expect(within(rows[0]!).getByTestId("liquidation-distance").parentElement).toHaveAttribute("title", "SOL drop to the nearer liquidation: Asgard's of the long");
    // Asgard unreadable: the long's price is unknown and the short's is the nearer one known
    expect(within(rows[1]!).getByTestId("liquidation-price")).toHaveTextContent(/^↓ — · ↑ \$291\.50$/);
    expect(within(rows[1]!).getByTestId("liquidation-short").tagName).toBe("STRONG");
    expect(within(rows[1]!).getByTestId("liquidation-distance")).toHaveTextContent(/^47\.8% \(short\)$/);
    // neither venue read: no price and no leg named
    expect(within(rows[2]!).getByTestId("liquidation-price")).toHaveTextContent(/^—$/);
    expect(within(rows[2]!).getByTestId("liquidation-distance")).toHaveTextContent(/^—$/);
  });

  it("keeps closed positions in the history with their realized PnL and the reason", () => {
    const closed = { ...OPEN, status: "closed" as const, pnl_kind: "realized" as const, closed_at: "2026-11-26T06:00:00Z", close_reason: "funding flipped", pnl_usd: "12.40" };
    renderWithClient(<HistoryTable positions={[closed]} />);
    const row = within(screen.getByRole("table", { name: "Position history" })).getAllByRole("row")[1]!;
    expect(row).toHaveTextContent("funding flipped");
    expect(within(row).getByTestId("realized-total")).toHaveTextContent("+$12.40");
    expect(within(row).getByLabelText("PnL by source (realized)")).toBeInTheDocument();
    // a phone shows the row as a card: every cell is labelled with its column
    const headers = within(screen.getByRole("table", { name: "Position history" })).getAllByRole("columnheader").map((th) => th.textContent);
    expect(Array.from(row.querySelectorAll("td")).map((td) => td.getAttribute("data-label"))).toEqual(headers);
  });

  it("says so when there is nothing open", () => {
    renderWithClient(<PositionsTable positions={[]} onClose={() => {}} />);
    expect(screen.getByText(/No active positions/)).toBeInTheDocument();
  });
});

describe("ClosePositionModal", () => {
  it("confirms, posts the close and follows the close job", async () => {
    const { calls } = mockApi({
      "POST /positions/pos-1/close": { status: 202, body: { job_id: "job-c", position_id: "pos-1", status: "closing" } },
      "GET /positions/jobs/job-c": {
        status: 200,
        body: {
          job_id: "job-c", position_id: "pos-1", kind: "close", status: "succeeded", error: null,
          stages: [
            { name: "close_preflight", status: "done", at: "2026-11-25T07:00:00Z", detail: "" },
            { name: "close_short", status: "done", at: "2026-11-25T07:00:01Z", detail: "" },
            { name: "close_long", status: "done", at: "2026-11-25T07:00:02Z", detail: "" },
            { name: "closed", status: "done", at: "2026-11-25T07:00:03Z", detail: "realized $12.40" },
          ],
        },
      },
    });
    renderWithClient(<ClosePositionModal position={OPEN} onDone={() => {}} />);
    // $1,500.00 is each leg's notional, not the position's size ($500 of capital at 3x): said as such
    const ask = screen.getByText(/Close both legs/);
    expect(ask).toHaveTextContent("this jitoSOL position ($1,500.00 per leg: the Kamino long and the Hyperliquid short)");
    expect(ask).not.toHaveTextContent("this $1,500.00 position");
    fireEvent.click(screen.getByRole("button", { name: "Close position" }));
    expect(await screen.findByText("Position closed.")).toBeInTheDocument();
    expect(screen.getByText("realized $12.40")).toBeInTheDocument();
    expect(screen.getByText("Close short on Hyperliquid")).toBeInTheDocument();
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(1));
  });
});

import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Position } from "../api/schemas";
import { ClosePositionModal, PositionsTable } from "../components/Positions";
import { mockApi, renderWithClient } from "./utils";

const OPEN: Position = {
  position_id: "pos-1", asset: "jitoSOL", protocol: "kamino", leverage: "3", status: "open", notional_usd: "1500.00",
  long: { size: "7.655623515", entry_price: "195.9344", notional_usd: "1500.00" },
  short: { size: "7.64", entry_price: "195.9344", notional_usd: "1496.94" },
  created_at: "2026-11-25T06:48:30Z", pnl_usd: "-1.25",
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
    expect(rows[0]).toHaveTextContent("−$1.25");
    expect(rows[1]).toHaveTextContent("pending");
    expect(within(rows[1]!).queryByRole("button")).toBeNull(); // a pending position cannot be closed yet
    fireEvent.click(within(rows[0]!).getByRole("button", { name: "Close jitoSOL position" }));
    expect(onClose).toHaveBeenCalledWith(OPEN);
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
    fireEvent.click(screen.getByRole("button", { name: "Close position" }));
    expect(await screen.findByText("Position closed.")).toBeInTheDocument();
    expect(screen.getByText("realized $12.40")).toBeInTheDocument();
    expect(screen.getByText("Close short on Hyperliquid")).toBeInTheDocument();
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(1));
  });
});

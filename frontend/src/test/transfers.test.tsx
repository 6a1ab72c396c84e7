import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Balances } from "../api/schemas";
import { BalancesCard, sinceText, TransfersOnTheirWay } from "../components/StatusCards";
import { mockApi, renderWithClient } from "./utils";

// local times, so the expected "since 14:02" holds in any time zone
const AT_1402 = new Date(2026, 11, 1, 14, 2).toISOString();
const AT_1331 = new Date(2026, 11, 1, 13, 31).toISOString();
const NOW = new Date(2026, 11, 1, 14, 10).getTime();

const HELD = {
  solana: { address: "S", sol: "0.1", usdc: "4700" }, evm: { address: "E", usdc: "0" },
  hyperliquid: { account_value_usd: "4950" },
};
const MOVING = {
  transfer_id: "p1:3:to_short", direction: "to_short", source: "Solana wallet", destination: "Hyperliquid",
  amount_usd: "300.000000", arriving_usd: "299.950000", state: "attested", stage: "attested", since: AT_1402,
  overdue: false, operator_alerted: false,
};
const STUCK = {
  transfer_id: "p2:0:to_long", direction: "to_long", source: "Hyperliquid", destination: "Solana wallet",
  amount_usd: "1250.5", arriving_usd: "1249.25", state: "needs_attention", stage: "burned", since: AT_1331,
  overdue: true, operator_alerted: true,
};

function balances(transfers: unknown[], inTransit: string): Balances {
  return Balances.parse({ ...HELD, transfers, in_transit_usd: inTransit });
}

describe("USDC on its way between the venues", () => {
  it("says how much moves, from where to where and since when", () => {
    renderWithClient(<TransfersOnTheirWay balances={balances([MOVING], "300")} now={NOW} />);
    const line = screen.getByTestId("transfer-on-its-way");
    expect(line).toHaveTextContent("USDC on its way: $300.00 Solana wallet → Hyperliquid (since 14:02): being minted on Arbitrum");
    expect(line).not.toHaveClass("warning");
    expect(line).not.toHaveTextContent(/longer than usual/);
    expect(line.getAttribute("title")).toBe("$299.95 arrives after Circle's fee");
    expect(screen.queryByTestId("in-transit-total")).not.toBeInTheDocument(); // one transfer: its amount says it
  });

  it("warns when a transfer is overdue and the operator was alerted, and gives the total in transit", () => {
    renderWithClient(<TransfersOnTheirWay balances={balances([STUCK, MOVING], "1550.5")} now={NOW} />);
    const [stuck, moving] = screen.getAllByTestId("transfer-on-its-way");
    expect(stuck).toHaveClass("warning");
    expect(stuck).toHaveAttribute("role", "alert");
    expect(stuck).toHaveTextContent("USDC on its way: $1,250.50 Hyperliquid → Solana wallet (since 13:31)");
    expect(stuck).toHaveTextContent("Taking longer than usual: the operator has been alerted.");
    expect(moving).not.toHaveClass("warning");
    expect(screen.getByTestId("in-transit-total")).toHaveTextContent("In transit, in none of the balances below: $1,550.50");
  });

  it("does not claim an alert that was not sent yet", () => {
    renderWithClient(<TransfersOnTheirWay balances={balances([{ ...MOVING, overdue: true }], "300")} now={NOW} />);
    const line = screen.getByTestId("transfer-on-its-way");
    expect(line).toHaveClass("warning");
    expect(line).toHaveTextContent("Taking longer than usual: the bot keeps trying and alerts the operator if it stays stuck.");
    expect(line).not.toHaveTextContent("has been alerted");
  });

  it("says where a minted transfer sits: in the destination wallet, being credited", () => {
    const minted = { ...MOVING, state: "minted", stage: "minted" };
    renderWithClient(<TransfersOnTheirWay balances={balances([minted], "0")} now={NOW} />);
    expect(screen.getByTestId("transfer-on-its-way")).toHaveTextContent("arrived in your Arbitrum wallet, being deposited to Hyperliquid");
  });

  it("shows nothing when no USDC is on its way, and accepts an older API without transfers", () => {
    const old = Balances.parse(HELD);
    expect(old.transfers).toEqual([]);
    expect(old.in_transit_usd).toBe("0");
    mockApi({ "GET /deposit-plan?capital_usd=9650.00": { status: 200, body: { out_of_proportion: false } } });
    renderWithClient(<BalancesCard balances={old} error={null} loading={false} />);
    expect(screen.getByRole("table", { name: "Wallet balances" })).toBeInTheDocument();
    expect(screen.queryByTestId("transfers-on-their-way")).not.toBeInTheDocument();
  });

  it("is shown in the wallet balances card", () => {
    mockApi({ "GET /deposit-plan?capital_usd=9650.00": { status: 200, body: { out_of_proportion: false } } });
    renderWithClient(<BalancesCard balances={balances([STUCK], "1250.5")} error={null} loading={false} />);
    const card = screen.getByRole("region", { name: "Wallet balances" });
    expect(within(card).getByTestId("transfer-on-its-way")).toHaveTextContent("Hyperliquid → Solana wallet");
  });

  it("dates a transfer from another day", () => {
    expect(sinceText(AT_1402, NOW)).toBe("14:02");
    expect(sinceText(AT_1402, NOW + 24 * 3600 * 1000)).toBe("Dec 1, 14:02");
  });

  it("refuses a transfer payload it does not know", () => {
    expect(() => balances([{ ...MOVING, state: "planned" }], "0")).toThrow();
  });
});

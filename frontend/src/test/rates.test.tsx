import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { fundingSignText, FundingPanel, AsgardRatesTable, netApyTitle, OpportunitiesTable } from "../components/Rates";
import { Rates as RatesSchema } from "../api/schemas";
import { HomePage } from "../pages/HomePage";
import { mockApi, RATES, renderWithClient } from "./utils";

describe("funding sign", () => {
  it("says the short earns when funding is positive (longs pay shorts)", () => {
    expect(fundingSignText("0.0000125")).toMatch(/longs pay shorts.*short EARNS/);
  });
  it("says the short pays when funding is negative", () => {
    expect(fundingSignText("-0.00002")).toMatch(/shorts pay longs.*short PAYS/);
  });
  it("handles zero", () => {
    expect(fundingSignText("0")).toMatch(/zero/);
  });
});

describe("FundingPanel", () => {
  it("shows hourly and annualized funding with their sign", () => {
    renderWithClient(<FundingPanel funding={{ ...RATES.hyperliquid }} at={RATES.at} source="sim" solPrice="142.35" />);
    expect(screen.getByTestId("funding-hourly")).toHaveTextContent("+0.0013%");
    expect(screen.getByTestId("funding-apy")).toHaveTextContent("+10.95%");
    expect(screen.getByTestId("funding-sign")).toHaveTextContent("longs pay shorts");
    expect(screen.getByTestId("funding-apy")).toHaveClass("pos");
  });
  it("marks negative funding as a cost", () => {
    renderWithClient(
      <FundingPanel funding={{ ...RATES.hyperliquid, funding_hourly: "-0.00003", funding_apy: "-0.2628" }} at={RATES.at} source="sim" solPrice="142" />,
    );
    expect(screen.getByTestId("funding-apy")).toHaveTextContent("-26.28%");
    expect(screen.getByTestId("funding-apy")).toHaveClass("neg");
    expect(screen.getByTestId("funding-sign")).toHaveTextContent("short PAYS");
  });
});

describe("AsgardRatesTable", () => {
  it("renders one row per asset x protocol with percentages", () => {
    renderWithClient(<AsgardRatesTable markets={RATES.asgard.map((m) => ({ ...m }))} />);
    const table = screen.getByRole("table", { name: "Asgard rates" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(3);
    // Sorted by asset then protocol: jitoSOL/drift, jitoSOL/kamino, SOL/marginfi.
    expect(rows[0]).toHaveTextContent(/jitoSOL\s*Drift/);
    expect(rows[0]).toHaveTextContent("—");
    expect(rows[1]).toHaveTextContent("Kamino");
    expect(rows[1]).toHaveTextContent("7.80%");
    expect(rows[1]).toHaveTextContent("8.50%");
    expect(rows[1]).toHaveTextContent("4x");
    expect(rows[2]).toHaveTextContent(/SOL\s*marginfi/);
  });

  it("marks the protocols where Asgard cannot rebalance a long in place, and says what that means", () => {
    renderWithClient(<AsgardRatesTable markets={RATES.asgard.map((m) => ({ ...m }))} />);
    const rows = within(screen.getByRole("table", { name: "Asgard rates" })).getAllByRole("row").slice(1);
    expect(within(rows[0]!).queryByText("no rebalance")).toBeNull();
    expect(within(rows[1]!).queryByText("no rebalance")).toBeNull();
    const chip = within(rows[2]!).getByText("no rebalance");
    expect(chip).toHaveAttribute("title", expect.stringMatching(/closes instead of rebalancing, so the bot does not open here itself/));
  });
});

describe("OpportunitiesTable", () => {
  it("disables every row's Open while the kill switch halts trading, and says why", () => {
    const { opportunities } = RatesSchema.parse(RATES);
    const halted = "The operator halted trading: nothing new opens.";
    const { rerender } = renderWithClient(<OpportunitiesTable opportunities={opportunities} onOpen={() => {}} openBlocked={halted} />);
    const buttons = within(screen.getByRole("table", { name: "Opportunities" })).getAllByRole("button", { name: /^Open / });
    expect(buttons).toHaveLength(opportunities.length);
    buttons.forEach((b) => { expect(b).toBeDisabled(); expect(b).toHaveAttribute("title", halted); });
    rerender(<OpportunitiesTable opportunities={opportunities} onOpen={() => {}} />);
    screen.getAllByRole("button", { name: /^Open / }).forEach((b) => expect(b).toBeEnabled());
  });

  it("keeps asset, protocol, net APY and Open for a phone; the net APY's title tells the hidden components", () => {
    const { opportunities } = RatesSchema.parse(RATES);
    renderWithClient(<OpportunitiesTable opportunities={opportunities} onOpen={() => {}} />);
    const table = screen.getByRole("table", { name: "Opportunities" });
    const shown = within(table).getAllByRole("columnheader").filter((th) => !th.classList.contains("hide-phone")).map((th) => th.textContent);
    expect(shown).toEqual(["Asset", "Protocol", "Net APY", ""]);
    const o = opportunities[0]!;
    const net = within(within(table).getAllByRole("row")[1]!).getByText(/^\+\d+\.\d{2}%$/, { selector: "td.strong" });
    expect(net).toHaveAttribute("title", netApyTitle(o));
    expect(netApyTitle(o)).toMatch(/^at \d+(\.\d+)?x: staking [+-]?\d+\.\d{2}% · supply .* · borrow -\d+\.\d{2}% · funding .* = gross .*; net [+-]?\d+\.\d{2}% after the round trip's fees$/);
  });
});

describe("HomePage rates", () => {
  it("loads rates, shows funding, Asgard table and opportunities, and refetches on leverage change", async () => {
    const { calls } = mockApi({
      "GET /rates?leverage=3": { status: 200, body: RATES },
      "GET /rates?leverage=4": {
        status: 200,
        body: { ...RATES, opportunities: [{ ...RATES.opportunities[0], leverage: "4", net_apy: "0.5200" }] },
      },
    });
    renderWithClient(<HomePage user={null} onConnect={() => {}} onDeposit={() => {}} />);
    expect(await screen.findByTestId("funding-apy")).toHaveTextContent("+10.95%");
    expect(screen.getByRole("table", { name: "Asgard rates" })).toBeInTheDocument();
    const opps = screen.getByRole("table", { name: "Opportunities" });
    expect(within(opps).getAllByRole("row")).toHaveLength(3);
    expect(opps).toHaveTextContent("+41.10%");

    fireEvent.change(screen.getByLabelText("Leverage"), { target: { value: "4" } }); // index 4 = 4x
    await waitFor(() => expect(calls.some((c) => c.path === "/rates?leverage=4")).toBe(true));
    await waitFor(() => expect(screen.getByRole("table", { name: "Opportunities" })).toHaveTextContent("+52.00%"));
    // Not logged in: no private endpoint is called.
    expect(calls.every((c) => c.path.startsWith("/rates"))).toBe(true);
  });

  it("shows the waiting state before the first rates poll", async () => {
    mockApi({ "GET /rates?leverage=3": { status: 404, body: { error: { code: "no_rates_yet", message: "No rates yet" } } } });
    renderWithClient(<HomePage user={null} onConnect={() => {}} onDeposit={() => {}} />);
    const waiting = await screen.findAllByText("Waiting for the first rates poll...");
    expect(waiting.length).toBeGreaterThanOrEqual(2);
  });

  it("shows an error when the payload is malformed", async () => {
    mockApi({ "GET /rates?leverage=3": { status: 200, body: { ...RATES, hyperliquid: { coin: "SOL" } } } });
    renderWithClient(<HomePage user={null} onConnect={() => {}} onDeposit={() => {}} />);
    const errors = await screen.findAllByText(/Unexpected response from \/rates/);
    expect(errors.length).toBeGreaterThan(0);
  });
});

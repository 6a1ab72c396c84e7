import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Status } from "../api/schemas";
import { pnl24hTitle, TradeStatusCard } from "../components/StatusCards";
import { renderWithClient } from "./utils";

const OPEN = Status.parse({
  bot_status: "running", kill_switch: "off", positions_open: 1, pnl_24h_usd: "-1.80",
  pnl_24h_as_of: "2026-12-01T18:30:00Z",
});

describe("Trade status: PnL 24h", () => {
  it("shows the 24 h PnL with open positions' unrealized change and says as of when", () => {
    renderWithClient(<TradeStatusCard status={OPEN} error={null} loading={false} />);
    const figure = screen.getByTestId("pnl-24h");
    expect(figure).toHaveTextContent("PnL 24h-$1.80");
    expect(figure.getAttribute("title")).toMatch(/^Realized PnL of the positions closed in the last 24 h \+ the change of the open positions' unrealized PnL/);
    expect(figure.getAttribute("title")).toMatch(/the unrealized part as of .+ \(hourly PnL snapshot, taken every 30 min\)\.$/);
  });

  it("says how old the open positions' part is, and that a figure with no open position is all realized", () => {
    const now = Date.parse("2026-12-01T18:42:00Z");
    expect(pnl24hTitle("2026-12-01T18:30:00Z", now)).toContain("the unrealized part as of 12 min ago");
    expect(pnl24hTitle(null, now)).toContain("No position is open: every figure is realized.");
  });

  it("accepts a status without pnl_24h_as_of (an older API): no as-of claimed", () => {
    const old = Status.parse({ bot_status: "standby", kill_switch: "off", positions_open: 0, pnl_24h_usd: "-3.29" });
    expect(old.pnl_24h_as_of).toBeNull();
    renderWithClient(<TradeStatusCard status={old} error={null} loading={false} />);
    expect(screen.getByTestId("pnl-24h")).toHaveTextContent("-$3.29");
    expect(screen.getByTestId("pnl-24h").getAttribute("title")).not.toContain("as of");
  });
});

import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { setCsrfToken } from "../api/client";
import { settingRow, SettingsPage, validateSettings } from "../pages/SettingsPage";
import { mockApi, renderWithClient } from "./utils";

// GET /presets as the server answers it (dnbot.domain.presets through PresetOut)
const exits = (drawdown: string) => ({ min_health_factor: "1.06", max_drawdown: drawdown, max_data_age_seconds: "300" });
const PRESETS = [
  { name: "conservative", leverage: "2", max_position_usd: "25000", margin_of_safety: "0.25", exit_margin: "0",
    persistence_hours: 48, expected_holding_hours: 336, margin_buffer: "0.10", exits: exits("0.03") },
  { name: "balanced", leverage: "3", max_position_usd: "50000", margin_of_safety: "0.1", exit_margin: "0.25",
    persistence_hours: 24, expected_holding_hours: 240, margin_buffer: "0.05", exits: exits("0.05") },
  { name: "aggressive", leverage: "3.5", max_position_usd: "100000", margin_of_safety: "0", exit_margin: "0.5",
    persistence_hours: 12, expected_holding_hours: 168, margin_buffer: "0.03", exits: exits("0.08") },
];

describe("validateSettings", () => {
  it("accepts the presets' values and rejects out-of-range input", () => {
    expect(validateSettings({ preset: "balanced", leverage: "3", max_position_usd: "50000" })).toEqual({});
    expect(validateSettings({ preset: "balanced", leverage: "2", max_position_usd: "50" })).toEqual({});
    expect(validateSettings({ preset: "balanced", leverage: "4.5", max_position_usd: "50000" }).leverage).toMatch(/between 2x and 4x/);
    expect(validateSettings({ preset: "balanced", leverage: "1.9", max_position_usd: "50000" }).leverage).toBeDefined();
    expect(validateSettings({ preset: "balanced", leverage: "abc", max_position_usd: "50000" }).leverage).toBeDefined();
    expect(validateSettings({ preset: "balanced", leverage: "3", max_position_usd: "49.99" }).max_position_usd).toMatch(/at least \$50/);
    expect(validateSettings({ preset: "balanced", leverage: "3", max_position_usd: "-5" }).max_position_usd).toBeDefined();
    expect(validateSettings({ preset: "balanced", leverage: "3", max_position_usd: "1e5" }).max_position_usd).toBeDefined();
  });
});

describe("settingRow", () => {
  it("says what each rule does with its figure in its unit, not a raw fraction", () => {
    expect(settingRow("exits.max_drawdown", "0.05")).toEqual(["Close once the position is this far down from its peak", "5%"]);
    expect(settingRow("exits.max_margin_ratio", "0.65")[1]).toBe("65%");
    expect(settingRow("exits.max_divergence", "0.015")[1]).toBe("1.5%");
    expect(settingRow("exits.min_health_factor", "1.06")).toEqual(["Close when the Asgard health factor falls under", "1.06"]);
    expect(settingRow("exits.max_data_age_seconds", "300")[1]).toBe("5 min");
    expect(settingRow("exits.max_data_age_seconds", "90")[1]).toBe("90 s");
    expect(settingRow("min_net_apy", "0.10")).toEqual(["Opportunity bar: net APY at least", "10% a year"]);
    expect(settingRow("persistence_hours", "24")[1]).toBe("24 h");
    // a field the page does not know yet is still shown, as the server names it
    expect(settingRow("exits.max_funding_gap", "0.3")).toEqual(["Exits: max funding gap", "0.3"]);
  });
});

describe("SettingsPage", () => {
  it("loads, shows inline errors, fills a preset's values, saves with the CSRF token, and resets", async () => {
    setCsrfToken("tok-1");
    const { calls } = mockApi({
      "GET /notifications": { status: 200, body: { webhook_url: null } },
      "GET /presets": { status: 200, body: PRESETS },
      "GET /settings": { status: 200, body: { preset: "balanced", leverage: "3", max_position_usd: "50000", min_net_apy: "0.10" } },
      "POST /settings": (call) => ({ status: 200, body: { ...(call.body as object), min_net_apy: "0.08" } }),
      "POST /settings/reset": { status: 200, body: { preset: "balanced", leverage: "3", max_position_usd: "50000" } },
    });
    renderWithClient(<SettingsPage />);
    const leverage = await screen.findByLabelText("Leverage, exact (x)");
    expect(leverage).toHaveValue("3");
    expect(screen.getByLabelText(/Balanced/)).toBeChecked();

    fireEvent.change(leverage, { target: { value: "6" } });
    fireEvent.change(screen.getByLabelText("Max position size (USD)"), { target: { value: "20" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const alerts = await screen.findAllByRole("alert");
    expect(alerts.map((a) => a.textContent)).toEqual(["Leverage must be between 2x and 4x.", "The maximum position must be at least $50.00."]);
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);

    // the blurbs are the server's figures, not a copy in the page
    expect(await screen.findByText("3.5x, enters when the expected carry pays the round trip's costs (no margin of safety), on the median funding of the last 12 h; closes once 8% down from its peak; up to $100,000.00 a position.")).toBeInTheDocument();
    expect(screen.getByText(/^2x, .*plus a 25% margin of safety, on the median funding of the last 48 h; closes once 3% down/)).toBeInTheDocument();
    expect(screen.getByText(/^3x, .*plus a 10% margin of safety, .* last 24 h/)).toBeInTheDocument();
    expect(screen.getByRole("group", { name: "Risk preset" }).textContent).not.toMatch(/\b4x|net APY/); // the stale copy
    fireEvent.click(screen.getByLabelText(/^Aggressive/));
    expect(screen.getByLabelText("Leverage, exact (x)")).toHaveValue("3.5");
    expect(screen.getByLabelText("Max position size (USD)")).toHaveValue("100000");

    fireEvent.click(screen.getByLabelText(/Conservative/));
    expect(screen.getByLabelText("Leverage, exact (x)")).toHaveValue("2");
    expect(screen.getByLabelText("Max position size (USD)")).toHaveValue("25000");
    expect(screen.queryAllByRole("alert")).toHaveLength(0);
    fireEvent.change(screen.getByLabelText("Leverage"), { target: { value: "1" } }); // slider step 1 = 2.5x
    expect(screen.getByLabelText("Leverage, exact (x)")).toHaveValue("2.5");
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Settings saved.")).toBeInTheDocument();
    const save = calls.find((c) => c.method === "POST" && c.path === "/settings");
    expect(save?.body).toEqual({ preset: "conservative", leverage: "2.5", max_position_usd: "25000" });
    expect(save?.headers["X-CSRF-Token"]).toBe("tok-1");

    const confirm = vi.spyOn(window, "confirm").mockReturnValue(true);
    fireEvent.click(screen.getByRole("button", { name: "Reset" }));
    expect(confirm).toHaveBeenCalled();
    await waitFor(() => expect(screen.getByLabelText("Leverage, exact (x)")).toHaveValue("3"));
    expect(screen.getByLabelText(/Balanced/)).toBeChecked();
    expect(calls.some((c) => c.path === "/settings/reset")).toBe(true);
  });

  it("shows the server's refusal", async () => {
    mockApi({
      "GET /notifications": { status: 200, body: { webhook_url: null } },
      "GET /presets": { status: 200, body: PRESETS },
      "GET /settings": { status: 200, body: { preset: "balanced", leverage: "3", max_position_usd: "50000" } },
      "POST /settings": { status: 422, body: { error: { code: "invalid_settings", message: "max position size must be at least $50" } } },
    });
    renderWithClient(<SettingsPage />);
    await screen.findByLabelText("Leverage, exact (x)");
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("max position size must be at least $50");
  });
});

import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Balances } from "../api/schemas";
import { freeText, maxAmount, validateWithdrawal, WithdrawModal } from "../components/WithdrawModal";
import { mockApi, renderWithClient } from "./utils";

const TO = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
const OWN_EVM = "0xc6775b5206f3f887E027ebef437a8Ae6Be0dc35b";
const PAYEE = "0xabababababababababababababababababababab";
const BALANCES = {
  solana: { address: "So1", sol: "1", usdc: "5000" },
  evm: { address: OWN_EVM, usdc: "100" },
  hyperliquid: { account_value_usd: "5000" },
} as unknown as Balances;
const FREE = { solana: { USDC: "5000", SOL: "0.99" }, hyperliquid: { USDC: "5000", limited_by: null }, unavailable: {} };
const CREATED = { withdrawal_id: "w1", status: "confirm_by_email", asset: "USDC", amount: "25", to: TO,
  created_at: "2026-12-01T10:00:00Z", signature: null, error: null, source: "solana" };

describe("validateWithdrawal", () => {
  it("catches the obvious mistakes before a code is sent", () => {
    expect(validateWithdrawal("solana", "-1", TO, "10")).toMatch(/positive amount/);
    expect(validateWithdrawal("solana", "11", TO, "10")).toMatch(/Only 10/);
    expect(validateWithdrawal("solana", "5", "0xnotsolana", "10")).toMatch(/Solana wallet address/);
    expect(validateWithdrawal("hyperliquid", "1", "", "10")).toMatch(/1 USDC fee/);
    expect(validateWithdrawal("solana", "1.0000001", TO, "10")).toMatch(/6 decimals/);
    expect(validateWithdrawal("solana", "0.0000001", TO, "10", "SOL")).toBeNull();
    expect(validateWithdrawal("hyperliquid", "5", TO, "10")).toMatch(/Arbitrum address/);
    expect(validateWithdrawal("hyperliquid", "5", OWN_EVM.toLowerCase(), "10", "USDC", OWN_EVM)).toMatch(/deposit address/);
    expect(validateWithdrawal("hyperliquid", "5", PAYEE, "10", "USDC", OWN_EVM)).toBeNull();
    expect(validateWithdrawal("solana", "5", TO, "10")).toBeNull();
  });
});

describe("freeText", () => {
  it("groups and rounds a free balance down, never showing more than is there", () => {
    expect(freeText("4998.210548", "USDC")).toBe("4,998.21 USDC");
    expect(freeText("4998.219999", "USDC")).toBe("4,998.21 USDC"); // not 4,998.22: that much is not there
    expect(freeText("0.99987654", "SOL")).toBe("0.9998 SOL");
    expect(freeText("10", "USDC")).toBe("10.00 USDC");
    expect(validateWithdrawal("solana", "5000", TO, "4998.210548")).toBe("Only 4,998.21 USDC is free to withdraw.");
  });

  it("shows the free balance formatted and Max fills the exact amount", async () => {
    mockApi({ "GET /withdrawals/free": { status: 200, body: { ...FREE, solana: { USDC: "4998.210548", SOL: "0.99" } } } });
    renderWithClient(<WithdrawModal balances={BALANCES} onClose={() => {}} />);
    await waitFor(() => expect(screen.getByTestId("withdraw-free")).toHaveTextContent("Free to withdraw: 4,998.21 USDC"));
    expect(screen.getByTestId("withdraw-free")).not.toHaveTextContent("4998.210548");
    fireEvent.click(screen.getByRole("button", { name: "Max" }));
    expect(screen.getByLabelText("Amount (USDC)")).toHaveValue("4998.210548");
  });
});

describe("maxAmount", () => {
  it("cuts the free figure down to the units the asset moves in", () => {
    expect(maxAmount("852.12", "USDC")).toBe("852.12");
    expect(maxAmount("1200.123456789", "USDC")).toBe("1200.123456"); // never rounded up past what is free
    expect(maxAmount("0.9900000001", "SOL")).toBe("0.99");
    expect(maxAmount("40", "USDC")).toBe("40");
  });
});

describe("what is free to withdraw", () => {
  it("shows Hyperliquid's figure the request accepts, not the account value, and why the rest stays", async () => {
    mockApi({ "GET /withdrawals/free": { status: 200, body: { ...FREE,
      hyperliquid: { USDC: "852.12", limited_by: "keeps your open short 21.6% from liquidation" } } } });
    renderWithClient(<WithdrawModal balances={BALANCES} onClose={() => {}} />);
    fireEvent.change(screen.getByRole("combobox", { name: "From" }), { target: { value: "hyperliquid" } });
    await waitFor(() => expect(screen.getByTestId("withdraw-free")).toHaveTextContent(
      "Free to withdraw: 852.12 USDC Max The rest keeps your open short 21.6% from liquidation."));
    expect(screen.getByTestId("withdraw-free")).not.toHaveTextContent("5,000");
    fireEvent.click(screen.getByRole("button", { name: "Max" }));
    expect(screen.getByLabelText("Amount (USDC)")).toHaveValue("852.12");
    fireEvent.change(screen.getByRole("textbox", { name: /Amount/ }), { target: { value: "852.13" } });
    fireEvent.change(screen.getByRole("textbox", { name: /To/ }), { target: { value: PAYEE } });
    fireEvent.click(screen.getByRole("button", { name: "Email me a code" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Only 852.12 USDC is free to withdraw.");
  });

  it("says why a source cannot be read, with no Max, while the other source still answers", async () => {
    mockApi({ "GET /withdrawals/free": { status: 200, body: { ...FREE, hyperliquid: null,
      unavailable: { hyperliquid: "Hyperliquid's margin cannot be read just now; try again in a minute." } } } });
    renderWithClient(<WithdrawModal balances={BALANCES} onClose={() => {}} />);
    await waitFor(() => expect(screen.getByTestId("withdraw-free")).toHaveTextContent("Free to withdraw: 5,000.00 USDC"));
    fireEvent.change(screen.getByRole("combobox", { name: "From" }), { target: { value: "hyperliquid" } });
    expect(screen.getByTestId("withdraw-free")).toHaveTextContent("Hyperliquid's margin cannot be read just now");
    expect(screen.queryByRole("button", { name: "Max" })).toBeNull();
  });
});

describe("WithdrawModal", () => {
  it("requests, confirms with the emailed code, and shows the payment", async () => {
    const { calls } = mockApi({
      "GET /withdrawals/free": { status: 200, body: FREE },
      "POST /withdrawals": { status: 202, body: CREATED },
      "POST /withdrawals/w1/confirm": [
        { status: 401, body: { error: { code: "invalid_code", message: "That code is wrong." } } },
        { status: 202, body: { ...CREATED, status: "approved" } },
      ],
      "GET /withdrawals/w1": [{ status: 200, body: { ...CREATED, status: "sending" } },
        { status: 200, body: { ...CREATED, status: "sent", signature: "5sig" } }],
    });
    renderWithClient(<WithdrawModal balances={BALANCES} onClose={() => {}} />);
    fireEvent.change(screen.getByRole("textbox", { name: /Amount/ }), { target: { value: "25" } });
    fireEvent.change(screen.getByRole("textbox", { name: /To/ }), { target: { value: TO } });
    fireEvent.click(screen.getByRole("button", { name: "Email me a code" }));
    expect(await screen.findByText(/We emailed you a code/)).toBeInTheDocument();
    expect(calls.find((c) => c.path === "/withdrawals")?.body).toEqual({ asset: "USDC", amount: "25", source: "solana", to: TO });

    fireEvent.change(screen.getByRole("textbox", { name: "Code" }), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Confirm withdrawal" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That code is wrong.");
    fireEvent.click(screen.getByRole("button", { name: "Confirm withdrawal" }));
    await waitFor(() => expect(screen.getByText(/Sent 25 USDC/)).toBeInTheDocument(), { timeout: 4000 });
    expect(screen.getByText("5sig")).toBeInTheDocument();
  });

  it("withdraws from Hyperliquid to an Arbitrum address the user gives, never their deposit wallet", async () => {
    const { calls } = mockApi({ "GET /withdrawals/free": { status: 200, body: FREE }, "POST /withdrawals": { status: 400, body: { error: { code: "insufficient_funds", message: "Only 10 USDC is free to withdraw from Hyperliquid." } } } });
    renderWithClient(<WithdrawModal balances={BALANCES} onClose={() => {}} />);
    fireEvent.change(screen.getByRole("combobox", { name: "From" }), { target: { value: "hyperliquid" } });
    fireEvent.change(screen.getByRole("textbox", { name: /Amount/ }), { target: { value: "50" } });
    fireEvent.change(screen.getByRole("textbox", { name: /To/ }), { target: { value: OWN_EVM } });
    fireEvent.click(screen.getByRole("button", { name: "Email me a code" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("deposit address");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);
    fireEvent.change(screen.getByRole("textbox", { name: /To/ }), { target: { value: PAYEE } });
    fireEvent.click(screen.getByRole("button", { name: "Email me a code" }));
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("Only 10 USDC"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ asset: "USDC", amount: "50", source: "hyperliquid", to: PAYEE });
  });
});

import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { holdsNothing } from "../App";
import { DepositModal } from "../components/DepositModal";
import { BalancesCard, deployableUsd } from "../components/StatusCards";
import { mockApi, renderWithClient, USER } from "./utils";

const need = (n: string, have: string | null, missing: string | null, onTheWay = "0") =>
  ({ need: n, have, on_the_way: onTheWay, missing });
export const PLAN = {
  capital_usd: "1000", leverage: "3", margin_buffer: "0.05", notional_usd: "1425.00",
  solana: { address: USER.wallets.solana, usdc: need("475.00", "100", "375.00"), sol: need("0.05", "0", "0.05") },
  arbitrum: { address: USER.wallets.evm, send_usdc: "5", minimum_usdc: "5", eth: need("0.0005", "0", "0.0005") },
  hyperliquid: need("525.00", "520", "5", "0"),
  complete: false, out_of_proportion: false,
  note: "dnbot does not move USDC between Solana and Hyperliquid for you: send each share to its address.",
};

describe("DepositModal", () => {
  it("shows both addresses in full with QR codes, copies them, and closes with Go to dashboard", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const onClose = vi.fn();
    mockApi({ "GET /deposit-plan?capital_usd=1000": { status: 200, body: PLAN } });
    renderWithClient(<DepositModal user={USER as never} welcome onClose={onClose} />);

    expect(screen.getByTestId("address-solana")).toHaveTextContent(USER.wallets.solana);
    expect(screen.getByTestId("address-evm")).toHaveTextContent(USER.wallets.evm);
    expect(screen.getByText("Arbitrum One")).toBeInTheDocument();

    await waitFor(() => expect(screen.getAllByRole("img", { name: /QR code for/ })).toHaveLength(2));
    const qrs = screen.getAllByRole("img", { name: /QR code for/ });
    expect(qrs[0]?.getAttribute("src")).toMatch(/^data:image\/png;base64,/);

    fireEvent.click(screen.getByRole("button", { name: "Copy EVM address" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(USER.wallets.evm));
    expect(await screen.findByText("Copied ✓")).toBeInTheDocument();
    fireEvent.click(screen.getByRole("button", { name: "Copy Solana address" }));
    await waitFor(() => expect(writeText).toHaveBeenCalledWith(USER.wallets.solana));

    fireEvent.click(screen.getByRole("button", { name: "Go to dashboard" }));
    expect(onClose).toHaveBeenCalled();
  });

  it("says how much to send to each address for the capital chosen, and warns when out of proportion", async () => {
    const { calls } = mockApi({
      "GET /deposit-plan?capital_usd=1000": { status: 200, body: PLAN },
      "GET /deposit-plan?capital_usd=4000": { status: 200, body: { ...PLAN, capital_usd: "4000", out_of_proportion: true } },
    });
    renderWithClient(<DepositModal user={USER as never} onClose={() => {}} />);
    expect(await screen.findByTestId("plan-solana-usdc")).toHaveTextContent("send 375 USDC");
    expect(screen.getByTestId("plan-solana-sol")).toHaveTextContent("send 0.05 SOL");
    // under the bridge minimum the plan asks for the minimum, never less
    expect(screen.getByTestId("plan-arbitrum-usdc")).toHaveTextContent("send 5 USDC");
    expect(screen.getByTestId("plan-arbitrum-eth")).toHaveTextContent("send 0.0005 ETH");
    expect(screen.getByText(/does not move USDC between Solana and Hyperliquid/)).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();

    fireEvent.change(screen.getByLabelText("Capital to deploy (USD)"), { target: { value: "4000" } });
    expect(await screen.findByRole("alert")).toHaveTextContent(/out of proportion/);
    fireEvent.change(screen.getByLabelText("Capital to deploy (USD)"), { target: { value: "-3" } });
    expect(screen.getByText(/Enter an amount in dollars/)).toBeInTheDocument();
    expect(calls.filter((c) => c.path.includes("-3"))).toHaveLength(0);  // nonsense is never sent
  });

  it("says the wallet is being created when an address is missing", () => {
    mockApi({ "GET /deposit-plan?capital_usd=1000": { status: 200, body: PLAN } });
    renderWithClient(<DepositModal user={{ ...USER, wallets: { solana: null, evm: USER.wallets.evm } } as never} onClose={() => {}} />);
    expect(screen.getByText(/Solana wallet is being created/)).toBeInTheDocument();
    expect(screen.queryByTestId("address-solana")).not.toBeInTheDocument();
  });
});

describe("holdsNothing (who sees the deposit dialog at login)", () => {
  const balances = (usdc: string | null, sol: string, evm: string, hl: string) => ({
    solana: { address: "S", sol, usdc }, evm: { address: "E", usdc: evm }, hyperliquid: { account_value_usd: hl },
    transfers: [], in_transit_usd: "0",
  });
  it("is true only when every venue was read and holds zero", () => {
    expect(holdsNothing(balances("0", "0", "0", "0"))).toBe(true);
    expect(holdsNothing(balances("0", "0", "4.5", "0"))).toBe(false); // USDC waiting on Arbitrum
    expect(holdsNothing(balances("0", "0.01", "0", "0"))).toBe(false);
    expect(holdsNothing(balances(null, "0", "0", "0"))).toBe(false); // unknown is not zero
  });
});

describe("BalancesCard's proportion warning", () => {
  const balances = {
    solana: { address: "S", sol: "0.1", usdc: "5000" }, evm: { address: "E", usdc: "0" },
    hyperliquid: { account_value_usd: "0" }, transfers: [], in_transit_usd: "0",
  };
  it("asks for the plan of the money held and warns when the venues are out of proportion", async () => {
    const { calls } = mockApi({
      "GET /deposit-plan?capital_usd=5000.00": { status: 200, body: { ...PLAN, out_of_proportion: true } },
    });
    renderWithClient(<BalancesCard balances={balances} error={null} loading={false} />);
    expect(await screen.findByTestId("proportion-warning")).toHaveTextContent(/out of proportion/);
    expect(calls.map((c) => c.path)).toContain("/deposit-plan?capital_usd=5000.00");
  });
  it("says nothing when they are in proportion, or when a venue is unread", async () => {
    const { calls } = mockApi({ "GET /deposit-plan?capital_usd=5000.00": { status: 200, body: PLAN } });
    renderWithClient(<BalancesCard balances={balances} error={null} loading={false} />);
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(screen.queryByTestId("proportion-warning")).not.toBeInTheDocument();
    expect(deployableUsd({ ...balances, hyperliquid: { account_value_usd: null } })).toBeNull();
  });
  it("says nothing while a position holds the capital (the Hyperliquid account is the short's margin)", async () => {
    const { calls } = mockApi({
      "GET /deposit-plan?capital_usd=5000.00": { status: 200, body: { ...PLAN, out_of_proportion: true } },
    });
    renderWithClient(<BalancesCard balances={balances} error={null} loading={false} positionLive />);
    expect(await screen.findByRole("table", { name: "Wallet balances" })).toBeInTheDocument();
    expect(screen.queryByTestId("proportion-warning")).not.toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });
});

import { fireEvent, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { DepositModal } from "../components/DepositModal";
import { renderWithClient, USER } from "./utils";

describe("DepositModal", () => {
  it("shows both addresses in full with QR codes, copies them, and closes with Go to dashboard", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const onClose = vi.fn();
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

  it("says the wallet is being created when an address is missing", () => {
    renderWithClient(<DepositModal user={{ ...USER, wallets: { solana: null, evm: USER.wallets.evm } } as never} onClose={() => {}} />);
    expect(screen.getByText(/Solana wallet is being created/)).toBeInTheDocument();
    expect(screen.queryByTestId("address-solana")).not.toBeInTheDocument();
  });
});

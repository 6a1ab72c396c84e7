// The cloud login path: Privy's headless email OTP behind the same EmailLogin interface. The Privy SDK itself is
// replaced by a fake (it would call auth.privy.io); what is checked is our side of the exchange.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/AuthProvider";
import { useEmailLogin } from "../auth/types";
import { LoginModal } from "../components/LoginModal";
import { mockApi, USER } from "./utils";

const privy = vi.hoisted(() => ({
  sendCode: vi.fn(),
  loginWithCode: vi.fn(),
  getAccessToken: vi.fn(),
  logout: vi.fn(),
  appIds: [] as string[],
}));

vi.mock("@privy-io/react-auth", () => ({
  PrivyProvider: ({ appId, children }: { appId: string; children: ReactNode }) => {
    privy.appIds.push(appId);
    return <>{children}</>;
  },
  useLoginWithEmail: () => ({ sendCode: privy.sendCode, loginWithCode: privy.loginWithCode, state: { status: "initial" } }),
  usePrivy: () => ({ getAccessToken: privy.getAccessToken, logout: privy.logout }),
}));

function Kind() {
  const login = useEmailLogin();
  return <span data-testid="kind">{login?.kind ?? "none"}</span>;
}

function renderApp(ui: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider>{ui}</AuthProvider>
    </QueryClientProvider>,
  );
}

const SESSION = { user: { ...USER, is_new_user: false }, csrf_token: "csrf-privy" };

beforeEach(() => {
  privy.sendCode.mockReset().mockResolvedValue(undefined);
  privy.loginWithCode.mockReset();
  privy.getAccessToken.mockReset().mockResolvedValue("privy-access-token");
  privy.logout.mockReset().mockResolvedValue(undefined);
  privy.appIds.length = 0;
});

describe("AuthProvider", () => {
  it("uses the local identity provider when the server says local, without loading Privy", async () => {
    mockApi({ "GET /config": { status: 200, body: { identity_provider: "local", privy_app_id: null, websocket_url: null, environment: "local" } } });
    renderApp(<Kind />);
    await waitFor(() => expect(screen.getByTestId("kind")).toHaveTextContent("local"));
    expect(privy.appIds).toEqual([]);
  });

  it("loads Privy with the server's app id when the server says privy", async () => {
    mockApi({ "GET /config": { status: 200, body: { identity_provider: "privy", privy_app_id: "app-123", websocket_url: null, environment: "aws" } } });
    renderApp(<Kind />);
    await waitFor(() => expect(screen.getByTestId("kind")).toHaveTextContent("privy"));
    expect(privy.appIds).toContain("app-123");
  });
});

describe("Privy email login", () => {
  it("sends the code through Privy, then exchanges Privy's access token for the dnbot session", async () => {
    privy.loginWithCode.mockRejectedValueOnce(new Error("Invalid code")).mockResolvedValue(undefined);
    const { calls } = mockApi({
      "GET /config": { status: 200, body: { identity_provider: "privy", privy_app_id: "app-123", websocket_url: null, environment: "aws" } },
      "POST /auth/privy": { status: 200, body: SESSION },
    });
    const onLoggedIn = vi.fn();
    renderApp(<><Kind /><LoginModal onClose={() => {}} onLoggedIn={onLoggedIn} /></>);
    await waitFor(() => expect(screen.getByTestId("kind")).toHaveTextContent("privy"));

    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "trader@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Send code" }));
    const code = await screen.findByLabelText("6-digit code");
    expect(privy.sendCode).toHaveBeenCalledWith({ email: "trader@example.com" });
    expect(calls.some((c) => c.path.startsWith("/auth/email"))).toBe(false);

    fireEvent.change(code, { target: { value: "111111" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That code is not right");
    expect(calls.some((c) => c.path === "/auth/privy")).toBe(false);

    fireEvent.change(screen.getByLabelText("6-digit code"), { target: { value: "222222" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    await waitFor(() => expect(onLoggedIn).toHaveBeenCalledWith(SESSION));
    expect(privy.loginWithCode).toHaveBeenLastCalledWith({ code: "222222" });
    expect(calls.find((c) => c.path === "/auth/privy")?.body).toEqual({ access_token: "privy-access-token", remember: false });
  });
});

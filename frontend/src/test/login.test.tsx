import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import { getCsrfToken } from "../api/client";
import { initialLoginState, loginReducer, type LoginState } from "../auth/loginMachine";
import { LoginModal } from "../components/LoginModal";
import { mockApi, renderWithClient, USER } from "./utils";

describe("loginReducer", () => {
  it("walks email -> code -> done", () => {
    let s: LoginState = loginReducer(initialLoginState, { type: "EDIT_EMAIL", email: " a@b.co " });
    s = loginReducer(s, { type: "SUBMIT_EMAIL" });
    expect(s).toMatchObject({ step: "email", busy: true, email: "a@b.co" });
    expect(loginReducer(s, { type: "SUBMIT_EMAIL" })).toBe(s); // busy: a double submit is ignored
    s = loginReducer(s, { type: "CODE_SENT" });
    expect(s).toMatchObject({ step: "code", email: "a@b.co", code: "" });
    s = loginReducer(s, { type: "EDIT_CODE", code: "12a34567" });
    expect(s).toMatchObject({ code: "123456" });
    s = loginReducer(s, { type: "SUBMIT_CODE" });
    expect(s).toMatchObject({ busy: true });
    s = loginReducer(s, { type: "VERIFIED" });
    expect(s).toEqual({ step: "done", email: "a@b.co" });
  });

  it("rejects a malformed email and a short code without calling the server", () => {
    const bad = loginReducer(loginReducer(initialLoginState, { type: "EDIT_EMAIL", email: "nope" }), { type: "SUBMIT_EMAIL" });
    expect(bad).toMatchObject({ step: "email", busy: false, error: "Enter a valid email address.", errorCount: 1 });
    const code: LoginState = { step: "code", email: "a@b.co", code: "123", busy: false, error: null, errorCount: 0, notice: null };
    expect(loginReducer(code, { type: "SUBMIT_CODE" })).toMatchObject({ busy: false, error: "Enter the 6-digit code." });
  });

  it("a failed code clears the field, keeps the step and counts the error", () => {
    const code: LoginState = { step: "code", email: "a@b.co", code: "999999", busy: true, error: null, errorCount: 0, notice: null };
    expect(loginReducer(code, { type: "FAILED", message: "wrong" })).toMatchObject({ step: "code", code: "", busy: false, error: "wrong", errorCount: 1 });
  });
});

const SESSION = { user: USER, csrf_token: "csrf-abc" };

describe("LoginModal with the local identity provider", () => {
  it("sends the code, rejects a wrong code with an inline error and shake, then logs in", async () => {
    const { calls } = mockApi({
      "POST /auth/email/start": { status: 202, body: { status: "code_sent" } },
      "POST /auth/email/verify": (call) =>
        (call.body as { code: string }).code === "123456"
          ? { status: 200, body: SESSION }
          : { status: 401, body: { error: { code: "invalid_code", message: "Invalid code" } } },
    });
    const onLoggedIn = vi.fn();
    renderWithClient(<LoginModal onClose={() => {}} onLoggedIn={onLoggedIn} />);

    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "trader@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Send code" }));
    const codeInput = await screen.findByLabelText("6-digit code");
    expect(calls[0]).toMatchObject({ method: "POST", path: "/auth/email/start", body: { email: "trader@example.com" } });
    expect(screen.getByText("trader@example.com")).toBeInTheDocument();

    fireEvent.change(codeInput, { target: { value: "000000" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That code is not right");
    expect(screen.getByRole("dialog")).toHaveClass("shake");
    expect(onLoggedIn).not.toHaveBeenCalled();
    expect(screen.getByLabelText("6-digit code")).toHaveValue("");

    fireEvent.change(screen.getByLabelText("6-digit code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));
    await waitFor(() => expect(onLoggedIn).toHaveBeenCalledWith(SESSION));
    expect(calls.filter((c) => c.path === "/auth/email/verify")).toHaveLength(2);
  });

  it("shows the server's message inline when the email is refused", async () => {
    mockApi({
      "POST /auth/email/start": { status: 429, body: { error: { code: "too_many_attempts", message: "Too many attempts; try again in 15 minutes." } } },
    });
    renderWithClient(<LoginModal onClose={() => {}} onLoggedIn={() => {}} />);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "trader@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Send code" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many attempts; try again in 15 minutes.");
    expect(screen.getByLabelText("Email")).toBeInTheDocument();
  });

  it("catches a malformed email before calling the server", async () => {
    const { calls } = mockApi({});
    renderWithClient(<LoginModal onClose={() => {}} onLoggedIn={() => {}} />);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "not-an-email" } });
    fireEvent.click(screen.getByRole("button", { name: "Send code" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Enter a valid email address.");
    expect(calls).toHaveLength(0);
  });
});

describe("App login flow", () => {
  it("Connect -> email -> code -> deposit modal for a new user -> header shows Deposit and the account menu", async () => {
    let loggedIn = false;
    const { calls } = mockApi({
      "GET /config": { status: 200, body: { identity_provider: "local", privy_app_id: null, websocket_url: null, environment: "local" } },
      "GET /auth/me": () => (loggedIn ? { status: 200, body: SESSION } : { status: 401, body: { error: { code: "not_logged_in", message: "Log in" } } }),
      "GET /rates?leverage=3": { status: 404, body: { error: { code: "no_rates_yet", message: "none" } } },
      "POST /auth/email/start": { status: 202, body: { status: "code_sent" } },
      "POST /auth/email/verify": () => {
        loggedIn = true;
        return { status: 200, body: SESSION };
      },
      "GET /positions": { status: 200, body: { positions: [] } },
      "GET /status": { status: 200, body: { bot_status: "standby", kill_switch: "off", positions_open: 0, pnl_24h_usd: "0" } },
      "GET /balances": { status: 200, body: { solana: { address: USER.wallets.solana, sol: "0", usdc: "0" }, evm: { address: USER.wallets.evm, usdc: "0" }, hyperliquid: { account_value_usd: "0" } } },
      "GET /settings": { status: 200, body: { preset: "balanced", leverage: "3", max_position_usd: "50000" } },
      "POST /auth/logout": { status: 204 },
    });
    renderWithClient(<App />);
    const connect = await within(screen.getByRole("banner")).findByRole("button", { name: "Connect" });
    await waitFor(() => expect(connect).toBeEnabled());
    fireEvent.click(connect);
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "trader@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Send code" }));
    fireEvent.change(await screen.findByLabelText("6-digit code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Verify" }));

    expect(await screen.findByRole("dialog", { name: /fund your wallets/i })).toBeInTheDocument();
    expect(getCsrfToken()).toBe("csrf-abc");
    fireEvent.click(screen.getByRole("button", { name: "Go to dashboard" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Deposit" })).toBeInTheDocument();
    expect(await screen.findByTestId("bot-status")).toHaveTextContent("standby");

    fireEvent.click(screen.getByRole("button", { name: "Account menu" }));
    expect(screen.getByRole("menuitem", { name: "View profile" })).toBeInTheDocument();
    expect(screen.getByRole("menuitem", { name: "Settings" })).toBeInTheDocument();
    fireEvent.click(screen.getByRole("menuitem", { name: "Disconnect" }));
    await waitFor(() => expect(within(screen.getByRole("banner")).getByRole("button", { name: "Connect" })).toBeInTheDocument());
    const logout = calls.find((c) => c.path === "/auth/logout");
    expect(logout?.headers["X-CSRF-Token"]).toBe("csrf-abc");
    expect(getCsrfToken()).toBeNull();
  });
});

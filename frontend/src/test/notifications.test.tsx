import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { setCsrfToken } from "../api/client";
import { NotificationSettings, validateWebhookUrl } from "../components/NotificationSettings";
import { mockApi } from "./utils";

describe("validateWebhookUrl", () => {
  it("wants a URL with http(s); the server does the SSRF checks", () => {
    expect(validateWebhookUrl("https://hooks.slack.com/services/T/B/x")).toBeNull();
    expect(validateWebhookUrl("  ")).toMatch(/Enter the webhook URL/);
    expect(validateWebhookUrl("hooks.slack.com")).toMatch(/not a URL/);
    expect(validateWebhookUrl("ftp://example.com/x")).toMatch(/https/);
  });
});

describe("NotificationSettings", () => {
  it("saves the webhook with the CSRF token, sends a test message, shows the server's refusal, removes it", async () => {
    setCsrfToken("tok-9");
    const hook = "https://hooks.slack.com/services/T0/B0/abc";
    const { calls } = mockApi({
      "GET /notifications": { status: 200, body: { webhook_url: null } },
      "POST /notifications": [
        { status: 422, body: { error: { code: "invalid_webhook", message: "webhook_url host 'x' resolves to a private or local address (10.0.0.1)" } } },
        (call) => ({ status: 200, body: call.body }),
      ],
      "POST /notifications/test": { status: 202, body: { status: "queued" } },
      "DELETE /notifications": { status: 204, body: undefined },
    });
    render(<NotificationSettings />);
    const input = await screen.findByLabelText("Webhook URL");
    expect(screen.getByRole("button", { name: "Send a test message" })).toBeDisabled();

    fireEvent.change(input, { target: { value: "not a url" } });
    fireEvent.click(screen.getByRole("button", { name: "Save webhook" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("That is not a URL.");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);

    fireEvent.change(input, { target: { value: "https://x/" } });
    fireEvent.click(screen.getByRole("button", { name: "Save webhook" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(/private or local address/);

    fireEvent.change(input, { target: { value: ` ${hook} ` } });
    fireEvent.click(screen.getByRole("button", { name: "Save webhook" }));
    expect(await screen.findByText(/Webhook saved/)).toBeInTheDocument();
    const save = calls.filter((c) => c.method === "POST" && c.path === "/notifications").at(-1);
    expect(save?.body).toEqual({ webhook_url: hook });
    expect(save?.headers["X-CSRF-Token"]).toBe("tok-9");

    fireEvent.click(screen.getByRole("button", { name: "Send a test message" }));
    expect(await screen.findByText(/Test message sent/)).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST" && c.path === "/notifications/test")).toBe(true);

    fireEvent.click(screen.getByRole("button", { name: "Remove" }));
    expect(await screen.findByText("Notifications turned off.")).toBeInTheDocument();
    expect(input).toHaveValue("");
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/notifications")).toBe(true);
  });
});

// The one way the dashboard talks to the API: same-origin fetch under /api/v1, the session cookie travels by
// itself, mutating calls carry the CSRF token, and every response body is validated with zod.
import { z } from "zod";
import * as S from "./schemas";
import * as C from "../charts/data";

export const API_BASE = "/api/v1";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** What to show for a failed call: the server's own message, else the caller's fallback. */
export function errorText(error: unknown, fallback: string): string {
  return error instanceof ApiError ? error.message : fallback;
}

let csrfToken: string | null = null;
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}
export function getCsrfToken(): string | null {
  return csrfToken;
}

type Method = "GET" | "POST" | "DELETE";

async function request<T extends z.ZodType>(method: Method, path: string, schema: T, body?: unknown,
  extraHeaders: Record<string, string> = {})
  : Promise<z.infer<T>> {
  const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the dnbot server. Is it running?");
  }
  const text = await response.text();
  let payload: unknown = null;
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, "bad_response", `The server sent something that is not JSON (HTTP ${response.status}).`);
    }
  }
  if (!response.ok) {
    const envelope = S.ErrorEnvelope.safeParse(payload);
    if (envelope.success) throw new ApiError(response.status, envelope.data.error.code, envelope.data.error.message);
    // FastAPI's own 422 body ({"detail": [...]}) if a route ever lets one through.
    throw new ApiError(response.status, `http_${response.status}`, `Request failed (HTTP ${response.status}).`);
  }
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const where = parsed.error.issues[0]?.path.join(".") || "body";
    throw new ApiError(response.status, "bad_response", `Unexpected response from ${path} (${where}).`);
  }
  return parsed.data;
}

const Anything = z.unknown();
const Nothing = z.null();
const Webhook = z.object({ webhook_url: z.string().nullable() });

export interface OpenPositionRequest {
  asset: string;
  protocol: string | null;
  leverage: string;
  size_usd: string;
}

export interface SettingsUpdate {
  preset: S.PresetName;
  leverage: string;
  max_position_usd: string;
}

export const api = {
  config: () => request("GET", "/config", S.Config),
  rates: (leverage: string) => request("GET", `/rates?leverage=${encodeURIComponent(leverage)}`, S.Rates),
  me: () => request("GET", "/auth/me", S.Session),
  emailStart: (email: string) => request("POST", "/auth/email/start", S.EmailStarted, { email }),
  emailVerify: (email: string, code: string, remember = false) =>
    request("POST", "/auth/email/verify", S.Session, { email, code, remember }),
  privyLogin: (accessToken: string, remember = false) =>
    request("POST", "/auth/privy", S.Session, { access_token: accessToken, remember }),
  logout: () => request("POST", "/auth/logout", Nothing.or(Anything)),
  // A fresh Idempotency-Key per click: a retried request is answered once, a second click is a new request.
  openPosition: (body: OpenPositionRequest, idempotencyKey: string = crypto.randomUUID()) =>
    request("POST", "/positions/open", S.JobAccepted, body, { "Idempotency-Key": idempotencyKey }),
  closePosition: (positionId: string, idempotencyKey: string = crypto.randomUUID()) =>
    request("POST", `/positions/${encodeURIComponent(positionId)}/close`, S.JobAccepted, undefined,
      { "Idempotency-Key": idempotencyKey }),
  job: (jobId: string) => request("GET", `/positions/jobs/${encodeURIComponent(jobId)}`, S.Job),
  positions: (view: "all" | "active" | "history" = "all", cursor: string | null = null, limit = 50) =>
    request("GET", `/positions?view=${view}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, S.Positions),
  activity: (cursor: string | null = null, limit = 20) =>
    request("GET", `/activity?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, S.Activity),
  accountChart: () => request("GET", "/charts/account", C.PnlSeries),
  positionChart: (positionId: string) => request("GET", `/charts/positions/${encodeURIComponent(positionId)}`, C.PnlSeries),
  fundingChart: (hours: number) => request("GET", `/charts/funding?hours=${hours}`, C.FundingHistory),
  backtest: (preset: string, leverage: string | null, capital: string) =>
    request("GET", `/backtest?preset=${encodeURIComponent(preset)}&capital=${encodeURIComponent(capital)}${leverage ? `&leverage=${encodeURIComponent(leverage)}` : ""}`, C.Backtest),
  setKillSwitch: (value: "off" | "no-new-positions" | "close-all") =>
    request("POST", "/control/kill-switch", S.Status, { value }),
  status: () => request("GET", "/status", S.Status),
  control: (action: "start" | "pause" | "stop") => request("POST", `/control/${action}`, Anything),
  balances: () => request("GET", "/balances", S.Balances),
  depositPlan: (capital: string) =>
    request("GET", `/deposit-plan?capital_usd=${encodeURIComponent(capital)}`, S.DepositPlan),
  presets: () => request("GET", "/presets", S.Presets),
  settings: () => request("GET", "/settings", S.UserSettings),
  saveSettings: (body: SettingsUpdate) => request("POST", "/settings", S.UserSettings, body),
  resetSettings: () => request("POST", "/settings/reset", S.UserSettings),
  notifications: () => request("GET", "/notifications", Webhook),
  saveNotifications: (webhookUrl: string) => request("POST", "/notifications", Webhook, { webhook_url: webhookUrl }),
  deleteNotifications: () => request("DELETE", "/notifications", Nothing.or(Anything)),
  testNotification: () => request("POST", "/notifications/test", Anything),
  requestWithdrawal: (body: { asset: string; amount: string; source: string; to?: string }) =>
    request("POST", "/withdrawals", S.Withdrawal, body),
  confirmWithdrawal: (withdrawalId: string, code: string) =>
    request("POST", `/withdrawals/${encodeURIComponent(withdrawalId)}/confirm`, S.Withdrawal, { code }),
  freeToWithdraw: () => request("GET", "/withdrawals/free", S.FreeToWithdraw),
  withdrawal: (withdrawalId: string) => request("GET", `/withdrawals/${encodeURIComponent(withdrawalId)}`, S.Withdrawal),
};

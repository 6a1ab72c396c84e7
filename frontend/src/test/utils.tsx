import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { vi } from "vitest";
import { localEmailLogin } from "../auth/local";
import { EmailLoginContext, type EmailLogin } from "../auth/types";

export interface Call {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Reply = { status: number; body?: unknown } | ((call: Call) => { status: number; body?: unknown });

/**
 * Replaces global fetch with a router over "METHOD /path" keys (the query string is part of the path).
 * An array of replies is consumed in order, the last one repeating. Unknown routes answer 404 so a test
 * that forgets a route fails loudly instead of hanging.
 */
export function mockApi(routes: Record<string, Reply | Reply[]>) {
  const calls: Call[] = [];
  const counters = new Map<string, number>();
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://localhost");
    const method = (init?.method ?? "GET").toUpperCase();
    const path = url.pathname.replace(/^\/api\/v1/, "") + url.search;
    const headers = Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>));
    const call: Call = { method, path, body: init?.body ? JSON.parse(String(init.body)) : undefined, headers };
    calls.push(call);
    const key = `${method} ${path}`;
    const route = routes[key] ?? routes[`${method} ${url.pathname.replace(/^\/api\/v1/, "")}`];
    if (!route) {
      return new Response(JSON.stringify({ error: { code: "not_found", message: `no mock for ${key}` } }), { status: 404 });
    }
    let reply: Reply;
    if (Array.isArray(route)) {
      const n = counters.get(key) ?? 0;
      counters.set(key, n + 1);
      reply = route[Math.min(n, route.length - 1)] as Reply;
    } else {
      reply = route;
    }
    const { status, body } = typeof reply === "function" ? reply(call) : reply;
    return new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock };
}

export function renderWithClient(ui: ReactElement, login: EmailLogin | null = localEmailLogin) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <QueryClientProvider client={client}>
      <EmailLoginContext.Provider value={login}>{ui}</EmailLoginContext.Provider>
    </QueryClientProvider>,
  );
  return { ...result, client };
}

export const RATES = {
  at: "2026-11-25T06:00:00Z",
  source: "sim",
  sol_price_usd: "142.35",
  hyperliquid: {
    coin: "SOL",
    funding_hourly: "0.0000125",
    funding_apy: "0.1095",
    predicted_funding_hourly: "0.0000110",
    mark_price: "142.40",
    oracle_price: "142.33",
  },
  asgard: [
    { asset: "jitoSOL", protocol: "kamino", supply_apy: "0.0012", usdc_borrow_apy: "0.0850", staking_apy: "0.0780", max_leverage: "4", rebalances_in_place: true },
    { asset: "jitoSOL", protocol: "drift", supply_apy: "0.0009", usdc_borrow_apy: "0.0910", staking_apy: "0.0780", max_leverage: null, rebalances_in_place: true },
    { asset: "SOL", protocol: "marginfi", supply_apy: "0.0450", usdc_borrow_apy: "0.0700", staking_apy: "0", max_leverage: "5", rebalances_in_place: false },
  ],
  opportunities: [
    { asset: "jitoSOL", protocol: "kamino", leverage: "3", gross_apy: "0.5820", net_apy: "0.4110", components: { staking: "0.2340", supply: "0.0036", borrow: "-0.1700", funding: "0.3285" }, rebalances_in_place: true },
    { asset: "SOL", protocol: "marginfi", leverage: "3", gross_apy: "0.4635", net_apy: "0.3050", components: { staking: "0", supply: "0.1350", borrow: "-0.1400", funding: "0.3285" }, rebalances_in_place: false },
  ],
};

export const USER = {
  user_id: "u_123",
  email: "trader@example.com",
  is_new_user: true,
  wallets: { solana: "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU", evm: "0x52908400098527886E0F7030069857D2E4169EE7" },
  bot_status: "standby",
};

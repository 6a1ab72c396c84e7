import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { applyLiveMessage, resolveSocketUrl } from "../api/live";

function client() {
  const c = new QueryClient();
  const spy = vi.spyOn(c, "invalidateQueries");
  return { c, keysInvalidated: () => spy.mock.calls.map((call) => JSON.stringify(call[0]?.queryKey)) };
}

describe("live updates", () => {
  it("refetches the queries a message is about", () => {
    const rates = client();
    expect(applyLiveMessage(rates.c, JSON.stringify({ type: "rates", data: {} }))).toBe(true);
    expect(rates.keysInvalidated()).toEqual(['["rates"]']);

    const job = client();
    applyLiveMessage(job.c, JSON.stringify({ type: "job", data: { job_id: "j-9", status: "running" } }));
    expect(job.keysInvalidated()).toEqual(['["job","j-9"]', '["positions"]']);

    const position = client();
    applyLiveMessage(position.c, JSON.stringify({ type: "position", data: { position_id: "p" } }));
    expect(position.keysInvalidated()).toEqual(['["positions"]', '["status"]', '["balances"]']);

    const activity = client();
    applyLiveMessage(activity.c, JSON.stringify({ type: "activity", data: { kind: "position_opened" } }));
    expect(activity.keysInvalidated()).toEqual(['["activity"]']);
  });

  it("connects to the same origin for a relative URL, and keeps a full one", () => {
    expect(resolveSocketUrl("/live", { protocol: "http:", host: "127.0.0.1:8080" })).toBe("ws://127.0.0.1:8080/live");
    expect(resolveSocketUrl("/live", { protocol: "https:", host: "dnbot.example" })).toBe("wss://dnbot.example/live");
    expect(resolveSocketUrl("wss://ws.example/prod", { protocol: "https:", host: "x" })).toBe("wss://ws.example/prod");
  });

  it("ignores what it does not understand", () => {
    const ignored = client();
    expect(applyLiveMessage(ignored.c, "not json")).toBe(false);
    expect(applyLiveMessage(ignored.c, JSON.stringify({ type: "gossip" }))).toBe(false);
    expect(ignored.keysInvalidated()).toEqual([]);
  });
});

// Live updates over a WebSocket: API Gateway's in the cloud, `dnbot local`'s own `/live` locally (same protocol).
// A message does not carry state the dashboard trusts on its own; it only tells react-query which queries to
// refetch now instead of at the next poll, so a missed message costs at most one polling interval. While the
// socket is down the dashboard polls as before; the header shows which of the two is happening.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { z } from "zod";
import { keys } from "./hooks";

const LiveMessage = z.object({
  type: z.enum(["rates", "position", "job", "activity", "hello"]),
  data: z.unknown().optional(),
});
const JobRef = z.object({ job_id: z.string() });

export type LiveState = "off" | "connecting" | "live" | "polling";
let liveState: LiveState = "off";
const listeners = new Set<() => void>();
function setLiveState(next: LiveState): void {
  if (next === liveState) return;
  liveState = next;
  listeners.forEach((listener) => listener());
}
export function useLiveState(): LiveState {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => liveState,
  );
}

/** "/live" (same origin) or a full ws(s):// URL. */
export function resolveSocketUrl(url: string, location: Pick<Location, "protocol" | "host"> = window.location): string {
  if (/^wss?:\/\//.test(url)) return url;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${url.startsWith("/") ? url : `/${url}`}`;
}

export function applyLiveMessage(client: QueryClient, raw: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return false;
  }
  const message = LiveMessage.safeParse(parsed);
  if (!message.success) return false;
  switch (message.data.type) {
    case "rates":
      void client.invalidateQueries({ queryKey: ["rates"] });
      break;
    case "position":
      void client.invalidateQueries({ queryKey: keys.positions });
      void client.invalidateQueries({ queryKey: keys.status });
      void client.invalidateQueries({ queryKey: keys.balances });
      break;
    case "job": {
      const ref = JobRef.safeParse(message.data.data);
      void client.invalidateQueries({ queryKey: ref.success ? keys.job(ref.data.job_id) : ["job"] });
      void client.invalidateQueries({ queryKey: keys.positions });
      break;
    }
    case "activity":
      void client.invalidateQueries({ queryKey: keys.activity });
      break;
    case "hello":
      break;
  }
  return true;
}

/** Keeps one WebSocket open while logged in, reconnecting with capped backoff. */
export function useLiveUpdates(url: string | null, enabled: boolean): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!url || !enabled || typeof WebSocket === "undefined") {
      setLiveState("off");
      return;
    }
    let socket: WebSocket | null = null;
    let attempts = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      setLiveState(attempts === 0 ? "connecting" : "polling");
      socket = new WebSocket(resolveSocketUrl(url));
      socket.onopen = () => {
        attempts = 0;
        setLiveState("live");
        // what changed while the socket was down is fetched once now
        void client.invalidateQueries();
      };
      socket.onmessage = (event) => {
        if (typeof event.data === "string") applyLiveMessage(client, event.data);
      };
      socket.onerror = () => {
        // onclose follows: reconnect from there
      };
      socket.onclose = () => {
        if (stopped) return;
        setLiveState("polling");
        attempts += 1;
        timer = setTimeout(connect, Math.min(30_000, 1_000 * 2 ** Math.min(attempts, 5)));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
      setLiveState("off");
    };
  }, [client, url, enabled]);
}

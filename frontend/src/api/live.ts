// Live updates over the API Gateway WebSocket (cloud only: `websocket_url` is null in `dnbot local`). A message
// does not carry state the dashboard trusts on its own; it only tells react-query which queries to refetch now
// instead of at the next poll, so a missed message costs at most one polling interval.
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { z } from "zod";
import { keys } from "./hooks";

const LiveMessage = z.object({
  type: z.enum(["rates", "position", "job"]),
  data: z.unknown().optional(),
});
const JobRef = z.object({ job_id: z.string() });

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
      break;
    case "job": {
      const ref = JobRef.safeParse(message.data.data);
      void client.invalidateQueries({ queryKey: ref.success ? keys.job(ref.data.job_id) : ["job"] });
      void client.invalidateQueries({ queryKey: keys.positions });
      break;
    }
  }
  return true;
}

/** Keeps one WebSocket open while logged in, reconnecting with capped backoff. */
export function useLiveUpdates(url: string | null, enabled: boolean): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!url || !enabled || typeof WebSocket === "undefined") return;
    let socket: WebSocket | null = null;
    let attempts = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const connect = () => {
      socket = new WebSocket(url);
      socket.onopen = () => {
        attempts = 0;
      };
      socket.onmessage = (event) => {
        if (typeof event.data === "string") applyLiveMessage(client, event.data);
      };
      socket.onclose = () => {
        if (stopped) return;
        attempts += 1;
        timer = setTimeout(connect, Math.min(30_000, 1_000 * 2 ** Math.min(attempts, 5)));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      socket?.close();
    };
  }, [client, url, enabled]);
}

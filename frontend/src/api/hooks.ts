// react-query hooks: one per resource, with the polling cadence the product asks for.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, setCsrfToken, type OpenPositionRequest, type SettingsUpdate } from "./client";
import type { Session } from "./schemas";

export const RATES_POLL_MS = 15_000;
export const POSITIONS_POLL_MS = 5_000;
export const JOB_POLL_MS = 1_000;
export const STATUS_POLL_MS = 5_000;
export const BALANCES_POLL_MS = 30_000;
export const TRANSFERS_POLL_MS = 10_000; // balances while USDC is on its way between the venues (seconds to ~20 min)
export const ACTIVITY_POLL_MS = 15_000;

export const keys = {
  config: ["config"] as const,
  session: ["session"] as const,
  rates: (leverage: string) => ["rates", leverage] as const,
  positions: ["positions"] as const,
  positionsView: (view: string, cursor: string | null) => ["positions", view, cursor ?? ""] as const,
  activity: ["activity"] as const,
  activityPage: (cursor: string | null) => ["activity", cursor ?? ""] as const,
  job: (id: string) => ["job", id] as const,
  status: ["status"] as const,
  balances: ["balances"] as const,
  depositPlan: (capital: string) => ["deposit-plan", capital] as const,
  settings: ["settings"] as const,
  presets: ["presets"] as const,
  freeToWithdraw: ["withdrawals", "free"] as const,
};

/** Do not hammer the server with retries for answers that will not change (401, 404 no_rates_yet, 4xx). */
function retryTransient(failureCount: number, error: unknown): boolean {
  if (error instanceof ApiError && ((error.status >= 400 && error.status < 500) || error.code === "bad_response")) return false;
  return failureCount < 2;
}

export function useConfig() {
  return useQuery({ queryKey: keys.config, queryFn: api.config, staleTime: Infinity, retry: retryTransient });
}

/** The logged-in session, or null when the server says 401. */
export function useSession() {
  return useQuery<Session | null>({
    queryKey: keys.session,
    queryFn: async () => {
      try {
        const session = await api.me();
        setCsrfToken(session.csrf_token);
        return session;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          setCsrfToken(null);
          return null;
        }
        throw error;
      }
    },
    staleTime: 60_000,
    retry: retryTransient,
  });
}

export function useRates(leverage: string) {
  return useQuery({
    queryKey: keys.rates(leverage),
    queryFn: () => api.rates(leverage),
    refetchInterval: RATES_POLL_MS,
    // Keep showing the previous leverage's table while the new one loads: no flash of empty state.
    placeholderData: (previous) => previous,
    retry: retryTransient,
  });
}

/** Active positions with their live figures (the server reads the venues at most every ~15 s). */
export function usePositions(enabled: boolean) {
  return useQuery({
    queryKey: keys.positionsView("active", null),
    queryFn: () => api.positions("active"),
    refetchInterval: POSITIONS_POLL_MS,
    enabled,
    retry: retryTransient,
  });
}

/** Closed and failed positions, a page at a time (newest first). */
export function useHistory(enabled: boolean, cursor: string | null) {
  return useQuery({
    queryKey: keys.positionsView("history", cursor),
    queryFn: () => api.positions("history", cursor, 10),
    enabled,
    placeholderData: (previous) => previous,
    retry: retryTransient,
  });
}

export function useActivity(enabled: boolean, cursor: string | null) {
  return useQuery({
    queryKey: keys.activityPage(cursor),
    queryFn: () => api.activity(cursor, 15),
    refetchInterval: ACTIVITY_POLL_MS,
    enabled,
    placeholderData: (previous) => previous,
    retry: retryTransient,
  });
}

export function useSetKillSwitch() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: api.setKillSwitch,
    onSettled: () => client.invalidateQueries({ queryKey: keys.status }),
  });
}

export function useStatus(enabled: boolean) {
  return useQuery({ queryKey: keys.status, queryFn: api.status, refetchInterval: STATUS_POLL_MS, enabled, retry: retryTransient });
}

export function useBalances(enabled: boolean) {
  return useQuery({ queryKey: keys.balances, queryFn: api.balances, enabled, retry: retryTransient,
    refetchInterval: (query) => (query.state.data?.transfers.length ? TRANSFERS_POLL_MS : BALANCES_POLL_MS) });
}

/** What each source lets a withdrawal take now; re-read while the dialog is open (a short's spare margin moves
 * with SOL's price). */
export function useFreeToWithdraw(enabled: boolean) {
  return useQuery({ queryKey: keys.freeToWithdraw, queryFn: api.freeToWithdraw, refetchInterval: RATES_POLL_MS,
    staleTime: 0, enabled, retry: retryTransient });
}

export function useDepositPlan(capital: string, enabled: boolean) {
  return useQuery({ queryKey: keys.depositPlan(capital), queryFn: () => api.depositPlan(capital), enabled,
    refetchInterval: BALANCES_POLL_MS, retry: retryTransient });
}

export function useSettings(enabled: boolean) {
  return useQuery({ queryKey: keys.settings, queryFn: api.settings, enabled, retry: retryTransient });
}

/** The risk presets: fixed by the server's release, so read once. */
export function usePresets() {
  return useQuery({ queryKey: keys.presets, queryFn: api.presets, staleTime: Infinity, retry: retryTransient });
}

/** Polls a job every second while it runs; stops once it succeeded or failed. */
export function useJob(jobId: string | null) {
  return useQuery({
    queryKey: keys.job(jobId ?? "none"),
    queryFn: () => api.job(jobId as string),
    enabled: jobId !== null,
    refetchInterval: (query) => (query.state.data && query.state.data.status !== "running" ? false : JOB_POLL_MS),
    retry: retryTransient,
  });
}

export function useOpenPosition() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: OpenPositionRequest) => api.openPosition(body),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.positions }),
  });
}

export function useClosePosition() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (positionId: string) => api.closePosition(positionId),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.positions }),
  });
}

export function useControl() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: "start" | "pause" | "stop") => api.control(action),
    onSettled: () => {
      void client.invalidateQueries({ queryKey: keys.status });
      void client.invalidateQueries({ queryKey: keys.session });
    },
  });
}

export function useSaveSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SettingsUpdate) => api.saveSettings(body),
    onSuccess: (data) => client.setQueryData(keys.settings, data),
  });
}

export function useResetSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: api.resetSettings,
    onSuccess: (data) => client.setQueryData(keys.settings, data),
  });
}

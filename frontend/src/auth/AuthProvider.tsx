import { lazy, Suspense, type ReactNode } from "react";
import { useConfig } from "../api/hooks";
import { localEmailLogin } from "./local";
import { EmailLoginContext } from "./types";

const PrivyEmailLoginProvider = lazy(() => import("./privy"));

/** Picks the identity provider from the server's config; the dashboard renders meanwhile without login. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const config = useConfig();
  if (config.data?.identity_provider === "privy") {
    const appId = config.data.privy_app_id;
    if (!appId) {
      // Misconfigured server: show the dashboard, login reports the problem when tried.
      return <EmailLoginContext.Provider value={null}>{children}</EmailLoginContext.Provider>;
    }
    return (
      <Suspense fallback={<EmailLoginContext.Provider value={null}>{children}</EmailLoginContext.Provider>}>
        <PrivyEmailLoginProvider appId={appId}>{children}</PrivyEmailLoginProvider>
      </Suspense>
    );
  }
  const value = config.data?.identity_provider === "local" ? localEmailLogin : null;
  return <EmailLoginContext.Provider value={value}>{children}</EmailLoginContext.Provider>;
}

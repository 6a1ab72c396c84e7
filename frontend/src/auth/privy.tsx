// Privy's headless email OTP, behind the EmailLogin interface. This module is only ever loaded with a dynamic
// import (see AuthProvider), so `dnbot local` never downloads the Privy SDK.
import { PrivyProvider, useLoginWithEmail, usePrivy } from "@privy-io/react-auth";
import { useMemo, useRef, type ReactNode } from "react";
import { api, ApiError } from "../api/client";
import { EmailLoginContext, type EmailLogin } from "./types";

function message(error: unknown, fallback: string): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return fallback;
}

function PrivyBridge({ children }: { children: ReactNode }) {
  const { sendCode, loginWithCode } = useLoginWithEmail();
  const { getAccessToken, logout } = usePrivy();
  // The hooks' functions change identity between renders; the interface object must not.
  const latest = useRef({ sendCode, loginWithCode, getAccessToken, logout });
  latest.current = { sendCode, loginWithCode, getAccessToken, logout };

  const login = useMemo<EmailLogin>(() => ({
    kind: "privy",
    async sendCode(email) {
      try {
        await latest.current.sendCode({ email });
      } catch (error) {
        throw new Error(message(error, "Could not send the code. Check the address and try again."));
      }
    },
    async verifyCode(_email, code, remember = false) {
      try {
        await latest.current.loginWithCode({ code });
      } catch (error) {
        throw new ApiError(401, "invalid_code", message(error, "That code is not valid. Check it and try again."));
      }
      const token = await latest.current.getAccessToken();
      if (!token) throw new ApiError(401, "no_token", "Privy did not return an access token. Try again.");
      return api.privyLogin(token, remember);
    },
    async signOut() {
      await latest.current.logout();
    },
  }), []);

  return <EmailLoginContext.Provider value={login}>{children}</EmailLoginContext.Provider>;
}

export default function PrivyEmailLoginProvider({ appId, children }: { appId: string; children: ReactNode }) {
  return (
    <PrivyProvider appId={appId} config={{ loginMethods: ["email"] }}>
      <PrivyBridge>{children}</PrivyBridge>
    </PrivyProvider>
  );
}

// The one small interface the login modals talk to. Two implementations sit behind it: the local identity
// provider of `dnbot local` (the server prints the code) and Privy's headless email OTP in the cloud.
// Which one runs is decided at run time from GET /api/v1/config's identity_provider.
import { createContext, useContext } from "react";
import type { Session } from "../api/schemas";

export interface EmailLogin {
  readonly kind: "local" | "privy";
  /** Sends a 6-digit code to the address. Throws ApiError / Error with a human message. */
  sendCode(email: string): Promise<void>;
  /** Checks the code and returns the dnbot session (the HTTP-only cookie is set by the server). */
  verifyCode(email: string, code: string, remember?: boolean): Promise<Session>;
  /** Ends the identity provider's own session (dnbot's is ended by POST /auth/logout). */
  signOut(): Promise<void>;
}

export const EmailLoginContext = createContext<EmailLogin | null>(null);

export function useEmailLogin(): EmailLogin | null {
  return useContext(EmailLoginContext);
}

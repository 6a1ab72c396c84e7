import { api } from "../api/client";
import type { EmailLogin } from "./types";

/** `dnbot local`: the server generates the code and prints it in its terminal. */
export const localEmailLogin: EmailLogin = {
  kind: "local",
  async sendCode(email) {
    await api.emailStart(email);
  },
  verifyCode(email, code, remember = false) {
    return api.emailVerify(email, code, remember);
  },
  async signOut() {
    // The local identity provider keeps no browser-side session: the dnbot cookie is all there is.
  },
};

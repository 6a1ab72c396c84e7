import { useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import type { Session } from "../api/schemas";
import { initialLoginState, loginReducer, type LoginEvent, type LoginState } from "../auth/loginMachine";
import { useEmailLogin } from "../auth/types";
import { Modal } from "./Modal";
import { Spinner } from "./Spinner";

function errorText(error: unknown, fallback: string): string {
  if (error instanceof ApiError) {
    if (error.code === "invalid_code") return "That code is not right. Check the latest code and try again.";
    if (error.status === 429) return error.message || "Too many attempts. Wait a few minutes and try again.";
    return error.message || fallback;
  }
  if (error instanceof Error && error.message) return error.message;
  return fallback;
}

const isBusy = (s: LoginState): boolean => s.step !== "done" && s.busy;

interface LoginModalProps {
  onClose: () => void;
  onLoggedIn: (session: Session) => void;
}

export function LoginModal({ onClose, onLoggedIn }: LoginModalProps) {
  const login = useEmailLogin();
  const [state, setState] = useState<LoginState>(initialLoginState);
  const [remember, setRemember] = useState(false);
  // Async callbacks must see the state as it is now, not as it was when they were created.
  const current = useRef(state);
  const send = (event: LoginEvent): LoginState => {
    const next = loginReducer(current.current, event);
    current.current = next;
    setState(next);
    return next;
  };

  const requestCode = async (email: string) => {
    if (!login) {
      send({ type: "FAILED", message: "Login is not available: the server's identity provider is not configured." });
      return;
    }
    try {
      await login.sendCode(email);
      send({ type: "CODE_SENT" });
    } catch (error) {
      send({ type: "FAILED", message: errorText(error, "Could not send the code. Try again.") });
    }
  };

  const submitEmail = (event: FormEvent) => {
    event.preventDefault();
    const before = current.current;
    const next = send({ type: "SUBMIT_EMAIL" });
    if (next.step === "email" && next.busy && !isBusy(before)) void requestCode(next.email);
  };

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    const before = current.current;
    const next = send({ type: "SUBMIT_CODE" });
    if (next.step !== "code" || !next.busy || isBusy(before) || !login) return;
    try {
      const session = await login.verifyCode(next.email, next.code, remember);
      send({ type: "VERIFIED" });
      onLoggedIn(session);
    } catch (error) {
      send({ type: "FAILED", message: errorText(error, "Could not check the code. Try again.") });
    }
  };

  const resend = () => {
    const before = current.current;
    const next = send({ type: "RESEND" });
    if (next.step === "code" && next.busy && !isBusy(before)) void requestCode(next.email);
  };

  // Re-keying the shake class on every new error replays the animation.
  const shakeClass = state.step !== "done" && state.errorCount > 0 ? `shake shake-${state.errorCount % 2}` : "";

  if (state.step === "done") return null;

  return (
    <Modal title={state.step === "email" ? "Connect with email" : "Enter your code"} onClose={onClose} panelClassName={shakeClass}>
      {state.step === "email" ? (
        <form onSubmit={submitEmail} noValidate>
          <p className="muted">
            We will send a 6-digit code to your inbox.
            {login?.kind === "local" && " (Running locally: the code is printed in the terminal running dnbot local.)"}
          </p>
          <label className="field">
            <span>Email</span>
            <input
              type="email"
              name="email"
              autoComplete="email"
              placeholder="you@example.com"
              value={state.email}
              aria-invalid={state.error ? true : undefined}
              aria-describedby={state.error ? "login-error" : undefined}
              onChange={(e) => send({ type: "EDIT_EMAIL", email: e.target.value })}
            />
          </label>
          {state.error && <p id="login-error" className="field-error" role="alert">{state.error}</p>}
          <button type="submit" className="btn btn-primary btn-block" disabled={state.busy}>
            {state.busy ? <><Spinner label="Sending" /> Sending code…</> : "Send code"}
          </button>
        </form>
      ) : (
        <form onSubmit={submitCode} noValidate>
          <p className="muted">
            Enter the code sent to <strong>{state.email}</strong>.
          </p>
          <label className="field">
            <span>6-digit code</span>
            <input
              className="code-input"
              name="code"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="\d{6}"
              maxLength={6}
              placeholder="••••••"
              value={state.code}
              aria-invalid={state.error ? true : undefined}
              aria-describedby={state.error ? "login-error" : undefined}
              onChange={(e) => send({ type: "EDIT_CODE", code: e.target.value })}
            />
          </label>
          <label className="check">
            <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
            <span>Stay logged in on this device for 7 days</span>
          </label>
          {state.error && <p id="login-error" className="field-error" role="alert">{state.error}</p>}
          {state.notice && <p className="field-ok" role="status">{state.notice}</p>}
          <button type="submit" className="btn btn-primary btn-block" disabled={state.busy}>
            {state.busy ? <><Spinner label="Checking" /> Checking…</> : "Verify"}
          </button>
          <div className="row-between small">
            <button type="button" className="link" onClick={() => send({ type: "BACK" })} disabled={state.busy}>
              Use a different email
            </button>
            <button type="button" className="link" onClick={resend} disabled={state.busy}>
              Resend code
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}

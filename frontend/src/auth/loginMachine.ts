// The login flow as a reducer: email -> code -> done, with inline errors. Kept pure so it is easy to test
// and so a double click cannot send two requests (a busy state ignores further submits).

export type LoginState =
  | { step: "email"; email: string; busy: boolean; error: string | null; errorCount: number }
  | { step: "code"; email: string; code: string; busy: boolean; error: string | null; errorCount: number; notice: string | null }
  | { step: "done"; email: string };

export type LoginEvent =
  | { type: "EDIT_EMAIL"; email: string }
  | { type: "SUBMIT_EMAIL" }
  | { type: "CODE_SENT" }
  | { type: "EDIT_CODE"; code: string }
  | { type: "SUBMIT_CODE" }
  | { type: "VERIFIED" }
  | { type: "FAILED"; message: string }
  | { type: "RESEND" }
  | { type: "BACK" };

export const initialLoginState: LoginState = { step: "email", email: "", busy: false, error: null, errorCount: 0 };

// Deliberately loose: the server has the final word (it answers 422 with a message); this only catches typos.
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const CODE_RE = /^\d{6}$/;

export function loginReducer(state: LoginState, event: LoginEvent): LoginState {
  switch (state.step) {
    case "email":
      switch (event.type) {
        case "EDIT_EMAIL":
          return { ...state, email: event.email, error: null };
        case "SUBMIT_EMAIL": {
          if (state.busy) return state;
          const email = state.email.trim();
          if (!EMAIL_RE.test(email)) {
            return { ...state, error: "Enter a valid email address.", errorCount: state.errorCount + 1 };
          }
          return { ...state, email, busy: true, error: null };
        }
        case "CODE_SENT":
          return { step: "code", email: state.email, code: "", busy: false, error: null, errorCount: 0, notice: null };
        case "FAILED":
          return { ...state, busy: false, error: event.message, errorCount: state.errorCount + 1 };
        default:
          return state;
      }
    case "code":
      switch (event.type) {
        case "EDIT_CODE":
          return { ...state, code: event.code.replace(/\D/g, "").slice(0, 6), error: null };
        case "SUBMIT_CODE":
          if (state.busy) return state;
          if (!CODE_RE.test(state.code)) {
            return { ...state, error: "Enter the 6-digit code.", errorCount: state.errorCount + 1 };
          }
          return { ...state, busy: true, error: null, notice: null };
        case "VERIFIED":
          return { step: "done", email: state.email };
        case "FAILED":
          return { ...state, busy: false, code: "", error: event.message, errorCount: state.errorCount + 1 };
        case "RESEND":
          if (state.busy) return state;
          return { ...state, busy: true, error: null, notice: null };
        case "CODE_SENT":
          return { ...state, busy: false, code: "", notice: `A new code was sent to ${state.email}.` };
        case "BACK":
          return { step: "email", email: state.email, busy: false, error: null, errorCount: 0 };
        default:
          return state;
      }
    case "done":
      return state;
  }
}

import { useEffect, useState, type FormEvent } from "react";
import { api, errorText } from "../api/client";
import { Notice } from "./Spinner";

/** The user's notification webhook (Slack, Discord, or anything that accepts {"text": ...}): save, remove,
 * and send a test message. The server refuses non-https and private addresses (dnbot local allows 127.0.0.1). */
export function validateWebhookUrl(url: string): string | null {
  const trimmed = url.trim();
  if (!trimmed) return "Enter the webhook URL from Slack or Discord.";
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return "That is not a URL.";
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return "The webhook URL must start with https://.";
  return null;
}

export function NotificationSettings() {
  const [saved, setSaved] = useState<string | null | undefined>(undefined); // undefined: loading
  const [url, setUrl] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.notifications().then(
      (reply) => { setSaved(reply.webhook_url); setUrl(reply.webhook_url ?? ""); },
      (e: unknown) => { setSaved(null); setError(errorText(e, "Could not load the notification settings.")); },
    );
  }, []);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      await action();
    } catch (e) {
      setError(errorText(e, "Something went wrong."));
    } finally {
      setBusy(false);
    }
  };

  const save = (event: FormEvent) => {
    event.preventDefault();
    const problem = validateWebhookUrl(url);
    if (problem) {
      setError(problem);
      return;
    }
    void run(async () => {
      const reply = await api.saveNotifications(url.trim());
      setSaved(reply.webhook_url);
      setStatus("Webhook saved. Opens, closes, unwinds and alerts will be posted there.");
    });
  };

  if (saved === undefined) return <Notice kind="loading">Loading notification settings…</Notice>;
  return (
    <form onSubmit={save} noValidate aria-labelledby="notifications-title">
      <p className="muted small">
        Get a message in Slack or Discord when a position opens, closes, is unwound, needs attention, or a
        liquidation warning or withdrawal happens. Paste an incoming-webhook URL.
      </p>
      <label className="field">
        <span>Webhook URL</span>
        <input name="webhook_url" type="url" placeholder="https://hooks.slack.com/services/…" value={url}
          aria-invalid={error ? true : undefined} onChange={(e) => { setUrl(e.target.value); setError(null); setStatus(null); }} />
      </label>
      {error && <p className="field-error" role="alert">{error}</p>}
      {status && <p className="field-ok" role="status">{status}</p>}
      <div className="row gap">
        <button type="submit" className="btn btn-primary" disabled={busy}>Save webhook</button>
        <button type="button" className="btn" disabled={busy || !saved}
          onClick={() => void run(async () => { await api.testNotification(); setStatus("Test message sent; it should arrive within seconds."); })}>
          Send a test message
        </button>
        <button type="button" className="btn" disabled={busy || !saved}
          onClick={() => void run(async () => { await api.deleteNotifications(); setSaved(null); setUrl(""); setStatus("Notifications turned off."); })}>
          Remove
        </button>
      </div>
    </form>
  );
}

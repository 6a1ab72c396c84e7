import { useState, type ReactNode } from "react";
import { errorText } from "../api/client";
import { useControl, useSetKillSwitch } from "../api/hooks";
import type { Balances, Rates, Status, UserSettings } from "../api/schemas";
import { leverageText, protocolName, signedPct, timeAgo, usd } from "../format";
import { Modal } from "./Modal";

export const RATES_STALE_MS = 5 * 60_000;

/** Why the trader cannot open anything right now, or null. */
export function haltReason(status: Status | undefined): string | null {
  if (!status || status.kill_switch === "off") return null;
  return status.kill_switch === "close-all"
    ? "The operator halted trading: every position is being closed and nothing new opens."
    : "The operator paused new positions: open ones are kept and protected, nothing new opens.";
}

/** On every page while the kill switch is not off. */
export function KillSwitchBanner({ status }: { status: Status | undefined }) {
  const reason = haltReason(status);
  if (!reason) return null;
  return (
    <div className="banner banner-error" role="alert" data-testid="kill-switch-banner">
      <strong>Kill switch: {status?.kill_switch}.</strong> {reason}
    </div>
  );
}

export function ConfirmModal({ title, children, confirm, danger, busy, error, onConfirm, onCancel }: {
  title: string; children: ReactNode; confirm: string; danger?: boolean; busy?: boolean; error?: string | null;
  onConfirm: () => void; onCancel: () => void;
}) {
  return (
    <Modal title={title} onClose={onCancel}>
      {children}
      {error && <p className="field-error" role="alert">{error}</p>}
      <button type="button" className={`btn btn-block ${danger ? "btn-danger" : "btn-primary"}`} disabled={busy} onClick={onConfirm}>
        {busy ? "Working…" : confirm}
      </button>
      <button type="button" className="btn btn-block" onClick={onCancel}>Cancel</button>
    </Modal>
  );
}

/** Operators only: stop everything, and set trading back on. */
export function OperatorControls({ status }: { status: Status | undefined }) {
  const [asking, setAsking] = useState<null | "close-all" | "off">(null);
  const setSwitch = useSetKillSwitch();
  if (!status?.operator) return null;
  const halted = status.kill_switch !== "off";
  const target = halted ? "off" : "close-all";
  return (
    <>
      <button type="button" className={halted ? "btn" : "btn btn-danger"} onClick={() => { setSwitch.reset(); setAsking(target); }}>
        {halted ? "Resume trading" : "Emergency stop"}
      </button>
      {asking && (
        <ConfirmModal
          title={asking === "close-all" ? "Emergency stop" : "Resume trading"}
          confirm={asking === "close-all" ? "Stop everything" : "Set the kill switch off"}
          danger={asking === "close-all"}
          busy={setSwitch.isPending}
          error={setSwitch.error ? errorText(setSwitch.error, "Could not change the kill switch. Try again.") : null}
          onCancel={() => setAsking(null)}
          onConfirm={() => setSwitch.mutate(asking, { onSuccess: () => setAsking(null) })}
        >
          <p>
            {asking === "close-all"
              ? <>This sets the kill switch to <strong>close-all</strong> for every user: nothing new opens and every open position is closed.</>
              : <>This sets the kill switch back to <strong>off</strong>: bots that are running may open positions again.</>}
          </p>
        </ConfirmModal>
      )}
    </>
  );
}

function freeCapital(balances: Balances | undefined): number | null {
  if (!balances) return null;
  const solana = balances.solana.usdc === null ? null : Number(balances.solana.usdc);
  const hyperliquid = balances.hyperliquid.account_value_usd === null ? null : Number(balances.hyperliquid.account_value_usd);
  if (solana === null || hyperliquid === null) return null;
  return solana + hyperliquid;
}

/** "Launch strategy": what the bot will do, with what, and what it would earn now; confirm to go live. */
export function LaunchReviewModal({ settings, rates, balances, status, onClose }: {
  settings: UserSettings | undefined; rates: Rates | undefined; balances: Balances | undefined;
  status: Status | undefined; onClose: () => void;
}) {
  const control = useControl();
  const best = rates?.opportunities[0];
  const leverage = settings?.leverage ?? "3";
  const maxSize = settings ? Number(settings.max_position_usd) : null;
  const free = freeCapital(balances);
  const stale = rates ? Date.now() - Date.parse(rates.at) > RATES_STALE_MS : true;
  const halted = haltReason(status);
  // Round trip: both legs' taker fees in and out (0.05 % Asgard + 0.045 % Hyperliquid, each way) on the notional.
  const sizeUsd = maxSize !== null && free !== null ? Math.min(maxSize, free) : maxSize;
  const notional = sizeUsd !== null ? (sizeUsd * Number(leverage)) / 2 : null;
  const fees = notional !== null ? notional * 2 * (0.0005 + 0.00045) : null;
  const dailyEarn = best && sizeUsd !== null ? (Number(best.net_apy) * sizeUsd) / 365 : null;
  const breakEvenDays = fees !== null && dailyEarn !== null && dailyEarn > 0 ? fees / dailyEarn : null;
  const warnings: string[] = [];
  if (halted) warnings.push(halted);
  if (free === null) warnings.push("Your balances could not be read just now; the bot checks them again before each open.");
  else if (free < 50) warnings.push(`Only ${usd(String(free))} is free at the venues: deposit USDC before the bot can open anything.`);
  if (stale) warnings.push(rates ? `The rates are stale (last poll ${timeAgo(rates.at)}); the bot waits for fresh ones.` : "No rates yet.");
  return (
    <Modal title="Launch strategy" onClose={onClose}>
      <dl className="review" aria-label="Launch review">
        <div><dt>Preset</dt><dd data-testid="review-preset">{settings?.preset ?? "balanced"}</dd></div>
        <div><dt>Leverage</dt><dd>{leverageText(leverage)}</dd></div>
        <div><dt>Max size per position</dt><dd>{settings ? usd(settings.max_position_usd) : "—"} of capital</dd></div>
        <div><dt>Free at the venues</dt><dd>{free === null ? "unknown" : usd(String(free))}</dd></div>
        <div>
          <dt>Best opportunity now</dt>
          <dd data-testid="review-best">
            {best ? <>{best.asset} on {protocolName(best.protocol)}: {signedPct(best.net_apy)} net a year at {leverageText(best.leverage)}</> : "none yet"}
          </dd>
        </div>
        <div><dt>Fees in and out</dt><dd>{fees === null ? "—" : usd(fees.toFixed(2))}</dd></div>
        <div><dt>Break-even</dt><dd data-testid="review-break-even">{breakEvenDays === null ? "—" : `${breakEvenDays.toFixed(1)} days`}</dd></div>
      </dl>
      <p className="muted small">
        Next: every minute the bot checks the rates; when an opportunity beats your preset's minimum for long enough it opens
        one position within your max size, and it closes it when funding turns or a risk limit is hit.
      </p>
      {warnings.map((w) => <p key={w} className="warning small" role="status">{w}</p>)}
      {control.error && <p className="field-error" role="alert">{errorText(control.error, "Could not launch. Try again.")}</p>}
      <button type="button" className="btn btn-primary btn-block" disabled={control.isPending || halted !== null}
        onClick={() => control.mutate("start", { onSuccess: onClose })}>
        {control.isPending ? "Launching…" : "Confirm launch"}
      </button>
      <button type="button" className="btn btn-block" onClick={onClose}>Cancel</button>
    </Modal>
  );
}

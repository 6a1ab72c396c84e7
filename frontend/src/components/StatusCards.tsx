import { useState } from "react";
import { errorText } from "../api/client";
import { useControl, useDepositPlan } from "../api/hooks";
import type { Balances, Status, TransferOnItsWay } from "../api/schemas";
import { num, signClass, signedUsd, timeAgo, usd } from "../format";
import { ConfirmModal } from "./Controls";
import { Notice } from "./Spinner";
import { WithdrawButton } from "./WithdrawModal";

function errorMessage(error: unknown, what: string): string {
  return errorText(error, `Could not load ${what}. Check your connection; it retries on its own.`);
}

/** A venue that could not be read just now: say so, never break the card. */
function orUnread(value: string | null, format: (v: string) => string) {
  return value === null ? <span className="muted" title="This venue could not be read just now; it is retried shortly.">unavailable</span> : format(value);
}

/** What "PnL 24h" counts, and as of when the open positions' part was read (their hourly PnL snapshot). */
export function pnl24hTitle(asOf: string | null, now: number = Date.now()): string {
  const what = "Realized PnL of the positions closed in the last 24 h + the change of the open positions' unrealized PnL over those 24 h (open fees included)";
  return asOf === null
    ? `${what}. No position is open: every figure is realized.`
    : `${what}, the unrealized part as of ${timeAgo(asOf, now)} (hourly PnL snapshot, taken every 30 min).`;
}

function BotControls({ status }: { status: Status }) {
  const control = useControl();
  const [stopping, setStopping] = useState(false);
  return (
    <>
      <div className="bot-controls">
        {status.bot_status === "running" && (
          <button type="button" className="btn btn-small" disabled={control.isPending} onClick={() => control.mutate("pause")}>Pause</button>
        )}
        {status.bot_status !== "standby" && (
          <button type="button" className="btn btn-small" disabled={control.isPending} onClick={() => setStopping(true)}>Stop</button>
        )}
      </div>
      {stopping && (
        <ConfirmModal title="Stop the strategy" confirm="Stop" danger busy={control.isPending}
          error={control.error ? errorText(control.error, "Could not stop. Try again.") : null}
          onCancel={() => setStopping(false)} onConfirm={() => control.mutate("stop", { onSuccess: () => setStopping(false) })}>
          <p>The bot goes on standby: it opens nothing on its own. Open positions stay open until you close them.</p>
        </ConfirmModal>
      )}
      {control.error && !stopping && (
        <p className="field-error" role="alert">{errorText(control.error, "Could not change the bot's status. Try again.")}</p>
      )}
    </>
  );
}

export function TradeStatusCard({ status, error, loading }: { status: Status | undefined; error: unknown; loading: boolean }) {
  return (
    <section className="card" aria-labelledby="status-title">
      <div className="card-head"><h2 id="status-title">Trade status</h2></div>
      {status ? (
        <>
          <div className="stat-grid">
            <div className="figure">
              <span className="figure-label">Bot</span>
              <span className={`badge badge-${status.bot_status}`} data-testid="bot-status">{status.bot_status}</span>
            </div>
            <div className="figure">
              <span className="figure-label">Positions</span>
              <span className="figure-value" data-testid="positions-open">{status.positions_open}</span>
            </div>
            <div className="figure" title={pnl24hTitle(status.pnl_24h_as_of)} data-testid="pnl-24h">
              <span className="figure-label">PnL 24h</span>
              <span className={`figure-value ${signClass(status.pnl_24h_usd)}`}>{signedUsd(status.pnl_24h_usd)}</span>
            </div>
          </div>
          <p className="muted small">
            {status.bot_status === "running"
              ? "The bot opens and closes positions on its own within your settings."
              : status.bot_status === "paused"
                ? "Paused: open positions are kept and protected, no new ones open."
                : "Standby: nothing opens on its own. Launch the strategy or open a position by hand."}
          </p>
          {status.kill_switch !== "off" && (
            <p className="warning small" role="status" data-testid="halted">
              The operator halted trading (kill switch <strong>{status.kill_switch}</strong>)
              {status.kill_switch === "close-all" ? ": every position is being closed." : ": no new positions open."}
            </p>
          )}
          <BotControls status={status} />
        </>
      ) : loading ? (
        <Notice kind="loading">Loading status…</Notice>
      ) : (
        <Notice kind="error">{errorMessage(error, "the bot status")}</Notice>
      )}
    </section>
  );
}

/** The USDC held across the venues (Arbitrum counts: it is swept to Hyperliquid), or null if a venue is unread. */
export function deployableUsd(b: Balances): string | null {
  const parts = [b.solana.usdc, b.evm.usdc, b.hyperliquid.account_value_usd];
  if (parts.some((v) => v === null)) return null;
  const total = parts.reduce((sum, v) => sum + Number(v), 0);
  return total >= 10 ? total.toFixed(2) : null;
}

/** Warns when one venue holds its share of the user's money and the other not: the next open would be refused. */
function ProportionWarning({ balances }: { balances: Balances }) {
  const capital = deployableUsd(balances);
  const plan = useDepositPlan(capital ?? "0", capital !== null);
  if (!plan.data?.out_of_proportion) return null;
  return (
    <p className="warning small" role="alert" data-testid="proportion-warning">
      Your USDC is out of proportion between Solana and Hyperliquid for the next open: Deposit shows how much to
      send to each address.
    </p>
  );
}

/** "14:02" (local time) today, else "Dec 1, 14:02". */
export function sinceText(iso: string, now: number = Date.now()): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  const time = t.toLocaleTimeString("en-US", { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (t.toDateString() === new Date(now).toDateString()) return time;
  return `${t.toLocaleDateString("en-US", { month: "short", day: "numeric" })}, ${time}`;
}

/** Where a transfer stands, in the trader's words (a to_short one mints on Arbitrum, a to_long one on Solana). */
function transferStep(t: TransferOnItsWay): string {
  const chain = t.direction === "to_short" ? "Arbitrum" : "Solana";
  switch (t.stage) {
    case "burn_signed": return "being sent";
    case "burned": return "waiting for Circle's attestation";
    case "attested": return `being minted on ${chain}`;
    case "minted": return t.direction === "to_short"
      ? "arrived in your Arbitrum wallet, being deposited to Hyperliquid"
      : "arrived in your Solana wallet, being credited";
  }
}

/** A warning sentence for a transfer overdue or needing a retry, else null. */
function transferWarning(t: TransferOnItsWay): string | null {
  if (t.overdue) {
    return t.operator_alerted
      ? "Taking longer than usual: the operator has been alerted."
      : "Taking longer than usual: the bot keeps trying and alerts the operator if it stays stuck.";
  }
  if (t.state === "needs_attention") return "A step failed: the bot retries it on its own.";
  return null;
}

/** USDC moving between the venues (CCTP): gone from one balance and not yet in the other, so say where it is. */
export function TransfersOnTheirWay({ balances, now }: { balances: Balances; now?: number }) {
  const transfers = balances.transfers;
  if (transfers.length === 0) return null;
  return (
    <div className="transfers" data-testid="transfers-on-their-way">
      {transfers.map((t) => {
        const warning = transferWarning(t);
        return (
          <p key={t.transfer_id} className={warning ? "warning small" : "transfer small"} role={warning ? "alert" : "status"}
            data-testid="transfer-on-its-way" title={`${usd(t.arriving_usd)} arrives after Circle's fee`}>
            USDC on its way: <strong>{usd(t.amount_usd)}</strong> {t.source} → {t.destination} (since {sinceText(t.since, now)})
            <span className="muted">: {transferStep(t)}</span>
            {warning && <>. <strong>{warning}</strong></>}
          </p>
        );
      })}
      {transfers.length > 1 && (
        <p className="muted small" data-testid="in-transit-total">
          In transit, in none of the balances below: {usd(balances.in_transit_usd)}
        </p>
      )}
    </div>
  );
}

/** `positionLive`: the user's capital is in a position, so the balances are not the next open's split (the
 * Hyperliquid account holds the short's margin): no proportion warning then. */
export function BalancesCard({ balances, error, loading, positionLive = false }: {
  balances: Balances | undefined; error: unknown; loading: boolean; positionLive?: boolean;
}) {
  return (
    <section className="card" aria-labelledby="balances-title">
      <div className="card-head"><h2 id="balances-title">Wallet balances</h2>{balances && <WithdrawButton balances={balances} />}</div>
      {balances && !positionLive && <ProportionWarning balances={balances} />}
      {balances && <TransfersOnTheirWay balances={balances} />}
      {balances ? (
        <table className="table compact" aria-label="Wallet balances">
          <tbody>
            <tr><th scope="row">Solana USDC</th><td className="num">{orUnread(balances.solana.usdc, usd)}</td></tr>
            <tr><th scope="row">Solana SOL</th><td className="num">{orUnread(balances.solana.sol, (v) => `${num(v, 4)} SOL`)}</td></tr>
            <tr><th scope="row">Arbitrum USDC</th><td className="num">{orUnread(balances.evm.usdc, usd)}</td></tr>
            <tr><th scope="row">Hyperliquid account</th><td className="num">{orUnread(balances.hyperliquid.account_value_usd, usd)}</td></tr>
          </tbody>
        </table>
      ) : loading ? (
        <Notice kind="loading">Loading balances…</Notice>
      ) : (
        <Notice kind="error">{errorMessage(error, "balances")}</Notice>
      )}
    </section>
  );
}

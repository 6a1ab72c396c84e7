import { useState } from "react";
import { errorText } from "../api/client";
import { useClosePosition } from "../api/hooks";
import type { Pnl, Position } from "../api/schemas";
import { leverageText, num, pct, percentText, protocolName, ratio, signClass, signedUsd, timeAgo, usd } from "../format";
import { JobProgress } from "./JobProgress";
import { Modal } from "./Modal";
import { Notice } from "./Spinner";

const CLOSABLE: Position["status"][] = ["open", "needs_attention"];
const ACTIVE: Position["status"][] = ["pending", "open", "closing", "needs_attention"];
const SOURCES: { key: keyof Pnl; label: string }[] = [
  { key: "funding_usd", label: "Funding" },
  { key: "staking_usd", label: "Staking" },
  { key: "lending_usd", label: "Lending" },
  { key: "borrow_usd", label: "Borrow" },
  { key: "fees_usd", label: "Fees" },
  { key: "price_usd", label: "Price" },
];

function Leg({ leg, unit }: { leg: Position["long"]; unit: string }) {
  if (!leg) return <span className="muted">—</span>;
  return (
    <span title={`entry ${usd(leg.entry_price)}`}>
      {num(leg.size, 4)} {unit} @ {usd(leg.entry_price)}
      {leg.value_usd !== null && (
        // no price per unit derived from value / size: the value is a venue reading (cached for seconds) and the size
        // the ledger's, so right after a rebalance they disagree (it showed SOL at $224 with SOL at $183)
        <span className="muted small block">now {usd(leg.value_usd)}</span>
      )}
      {leg.debt_usd !== null && <span className="muted small block">debt {usd(leg.debt_usd)}</span>}
    </span>
  );
}

/** The PnL split by source: what earned and what cost. */
function PnlBreakdown({ pnl, kind }: { pnl: Pnl; kind: Position["pnl_kind"] }) {
  return (
    <dl className="pnl-sources" aria-label={`PnL by source (${kind ?? "unknown"})`}>
      {SOURCES.map(({ key, label }) => (
        <div key={key} className="pnl-source">
          <dt>{label}</dt>
          <dd className={signClass(pnl[key])} data-testid={`pnl-${key}`}>{signedUsd(pnl[key])}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A position's total PnL (unrealized while open, realized once closed) over its split by source. */
function PnlCell({ p, testId, label }: { p: Position; testId: string; label: string }) {
  return (
    <td className="num" data-label={label}>
      <div>
        <span className={signClass(p.pnl_usd)} data-testid={testId}>{signedUsd(p.pnl_usd)}</span>
        {p.pnl && <PnlBreakdown pnl={p.pnl} kind={p.pnl_kind} />}
      </div>
    </td>
  );
}

type LegName = "long" | "short";
const LIQUIDATED_BY: Record<LegName, { arrow: string; price: (p: Position) => string | null; says: (p: Position) => string }> = {
  long: {
    arrow: "↓",
    price: (p) => p.long_liquidation_price_usd,
    says: (p) => `Asgard liquidates the ${p.asset} long if SOL falls to this price`,
  },
  short: {
    arrow: "↑",
    price: (p) => p.short_liquidation_price_usd,
    says: () => "Hyperliquid liquidates the SOL-PERP short if SOL rises to this price",
  },
};

/** One leg's liquidation SOL price, emphasised when it is the nearer one (the leg the distance refers to). */
function LegLiquidation({ p, leg }: { p: Position; leg: LegName }) {
  const { arrow, price, says } = LIQUIDATED_BY[leg];
  const nearer = p.first_liquidation === leg;
  const text = `${arrow} ${usd(price(p))}`;
  const title = nearer ? `${says(p)}: the nearer liquidation` : says(p);
  return nearer
    ? <strong data-testid={`liquidation-${leg}`} title={title}>{text}</strong>
    : <span data-testid={`liquidation-${leg}`} className="muted" title={title}>{text}</span>;
}

const DISTANCE_TITLE: Record<LegName, string> = {
  long: "SOL drop to the nearer liquidation: Asgard's of the long",
  short: "SOL rise to the nearer liquidation: Hyperliquid's of the short",
};

function Risk({ p }: { p: Position }) {
  if (p.status === "pending") return <span className="muted">opening…</span>;
  const stale = p.stale_since ? `Could not read ${p.unreadable.join(", ") || "a venue"} since ${timeAgo(p.stale_since)}` : null;
  return (
    <div className="risk">
      {p.sol_price_usd !== null && (
        <span title={`SOL price the liquidation prices and distance are measured from${p.figures_at ? `, read ${timeAgo(p.figures_at)}` : ""}`}>
          SOL <strong data-testid="sol-price">{usd(p.sol_price_usd)}</strong>
        </span>
      )}
      <span title="Asgard health factor: 1.00 = liquidation">HF <strong data-testid="health-factor">{ratio(p.health_factor)}</strong></span>
      <span title="Hyperliquid maintenance margin / account value">Margin <strong data-testid="margin-ratio">{pct(p.margin_ratio, 1)}</strong></span>
      <span className="liquidations">
        Liq.{" "}
        <span data-testid="liquidation-price">
          {p.long_liquidation_price_usd === null && p.short_liquidation_price_usd === null
            ? "—"
            : <><LegLiquidation p={p} leg="long" /> · <LegLiquidation p={p} leg="short" /></>}
        </span>
      </span>
      <span title={p.first_liquidation ? DISTANCE_TITLE[p.first_liquidation] : "SOL move to the nearer liquidation"}>
        Distance <strong data-testid="liquidation-distance">{percentText(p.liquidation_distance_pct)}{p.first_liquidation ? ` (${p.first_liquidation})` : ""}</strong>
      </span>
      {stale && <span className="warning small" role="status">{stale}</span>}
    </div>
  );
}

export function PositionsTable({ positions, onClose }: { positions: Position[]; onClose: (p: Position) => void }) {
  const active = positions.filter((p) => ACTIVE.includes(p.status));
  if (active.length === 0) return <Notice kind="empty">No active positions. Open one from an opportunity above.</Notice>;
  return (
    <div className="table-wrap">
      <table className="table table-cards" aria-label="Active positions">
        <thead>
          <tr>
            <th>Asset</th>
            <th>Protocol</th>
            <th className="num">Per leg</th>
            <th>Long (Asgard)</th>
            <th>Short SOL-PERP</th>
            <th>Risk</th>
            <th className="num">PnL (unrealized)</th>
            <th>Status</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {active.map((p) => (
            <tr key={p.position_id} data-position-id={p.position_id}>
              <td data-label="Asset"><strong>{p.asset}</strong></td>
              <td data-label="Protocol"><div>{protocolName(p.protocol)}<span className="muted small block">{leverageText(p.leverage)}</span></div></td>
              <td className="num" data-label="Per leg">{usd(p.notional_usd)}</td>
              <td data-label="Long (Asgard)"><Leg leg={p.long} unit={p.asset} /></td>
              <td data-label="Short SOL-PERP"><Leg leg={p.short} unit="SOL" /></td>
              <td data-label="Risk"><Risk p={p} /></td>
              <PnlCell p={p} testId="pnl-total" label="PnL (unrealized)" />
              <td data-label="Status">
                <div>
                  <span className={`badge badge-${p.status}`}>{p.status.replace("_", " ")}</span>
                  <span className="muted small block" title={p.created_at}>opened {timeAgo(p.created_at)}</span>
                </div>
              </td>
              <td className="num card-actions">
                {CLOSABLE.includes(p.status) && (
                  <button type="button" className="btn btn-small btn-danger-ghost" onClick={() => onClose(p)} aria-label={`Close ${p.asset} position`}>
                    Close
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Closed and failed positions with their realized PnL by source and why they ended. */
export function HistoryTable({ positions }: { positions: Position[] }) {
  if (positions.length === 0) return <Notice kind="empty">No closed positions yet.</Notice>;
  return (
    <div className="table-wrap">
      <table className="table table-cards" aria-label="Position history">
        <thead>
          <tr>
            <th>Asset</th>
            <th>Protocol</th>
            <th className="num">Leverage</th>
            <th className="num">Per leg</th>
            <th>Status</th>
            <th>Opened</th>
            <th>Ended</th>
            <th>Reason</th>
            <th className="num">Realized PnL</th>
          </tr>
        </thead>
        <tbody>
          {positions.map((p) => (
            <tr key={p.position_id} data-position-id={p.position_id}>
              <td data-label="Asset"><strong>{p.asset}</strong></td>
              <td data-label="Protocol">{protocolName(p.protocol)}</td>
              <td className="num" data-label="Leverage">{leverageText(p.leverage)}</td>
              <td className="num" data-label="Per leg">{usd(p.notional_usd)}</td>
              <td data-label="Status"><span className={`badge badge-${p.status}`}>{p.status}</span></td>
              <td className="muted small" data-label="Opened" title={p.created_at}>{new Date(p.created_at).toLocaleString()}</td>
              <td className="muted small" data-label="Ended">{p.closed_at ? new Date(p.closed_at).toLocaleString() : "—"}</td>
              <td className="small reason" data-label="Reason">{p.status === "failed" ? p.failure ?? "the open failed" : p.close_reason ?? "—"}</td>
              <PnlCell p={p} testId="realized-total" label="Realized PnL" />
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Confirm, then follow the close job's stages. */
export function ClosePositionModal({ position, onDone }: { position: Position; onDone: () => void }) {
  const close = useClosePosition();
  const [jobId, setJobId] = useState<string | null>(null);
  return (
    <Modal title={`Close ${position.asset} ${leverageText(position.leverage)}`} onClose={onDone}>
      {jobId ? (
        <JobProgress jobId={jobId} />
      ) : (
        <>
          <p>
            Close both legs of this {position.asset} position ({usd(position.notional_usd)} per leg: the {protocolName(position.protocol)} long
            and the Hyperliquid short)? The bot closes them in the safer order.
            {position.pnl_usd !== null && <> Unrealized PnL now: <strong>{signedUsd(position.pnl_usd)}</strong>.</>}
          </p>
          {close.error && <p className="field-error" role="alert">{errorText(close.error, "Could not close. Check your connection and try again.")}</p>}
          <button
            type="button"
            className="btn btn-danger btn-block"
            disabled={close.isPending}
            onClick={() => close.mutate(position.position_id, { onSuccess: (a) => setJobId(a.job_id) })}
          >
            {close.isPending ? "Submitting…" : "Close position"}
          </button>
        </>
      )}
      <button type="button" className="btn btn-block" onClick={onDone}>
        {jobId ? "Done" : "Cancel"}
      </button>
    </Modal>
  );
}

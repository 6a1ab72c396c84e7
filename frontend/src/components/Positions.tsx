import { useState } from "react";
import { ApiError } from "../api/client";
import { useClosePosition } from "../api/hooks";
import type { Position } from "../api/schemas";
import { leverageText, num, protocolName, signClass, signedUsd, timeAgo, usd } from "../format";
import { JobProgress } from "./JobProgress";
import { Modal } from "./Modal";
import { Notice } from "./Spinner";

const CLOSABLE: Position["status"][] = ["open", "needs_attention"];
const ACTIVE: Position["status"][] = ["pending", "open", "closing", "needs_attention"];

function Leg({ leg }: { leg: Position["long"] }) {
  if (!leg) return <span className="muted">—</span>;
  return <span title={`entry ${usd(leg.entry_price)}`}>{num(leg.size, 4)} @ {usd(leg.entry_price)}</span>;
}

export function PositionsTable({ positions, onClose }: { positions: Position[]; onClose: (p: Position) => void }) {
  const active = positions.filter((p) => ACTIVE.includes(p.status));
  if (active.length === 0) return <Notice kind="empty">No active positions. Open one from an opportunity above.</Notice>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Active positions">
        <thead>
          <tr>
            <th>Asset</th>
            <th>Protocol</th>
            <th className="num">Leverage</th>
            <th className="num">Notional</th>
            <th>Long</th>
            <th>Short SOL-PERP</th>
            <th className="num">PnL</th>
            <th>Status</th>
            <th>Opened</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {active.map((p) => (
            <tr key={p.position_id} data-position-id={p.position_id}>
              <td><strong>{p.asset}</strong></td>
              <td>{protocolName(p.protocol)}</td>
              <td className="num">{leverageText(p.leverage)}</td>
              <td className="num">{usd(p.notional_usd)}</td>
              <td><Leg leg={p.long} /></td>
              <td><Leg leg={p.short} /></td>
              <td className={`num ${signClass(p.pnl_usd)}`}>{signedUsd(p.pnl_usd)}</td>
              <td><span className={`badge badge-${p.status}`}>{p.status.replace("_", " ")}</span></td>
              <td className="muted small" title={p.created_at}>{timeAgo(p.created_at)}</td>
              <td className="num">
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
            Close both legs of this {usd(position.notional_usd)} position ({protocolName(position.protocol)} long, Hyperliquid
            short)? The bot closes them in the safer order.
          </p>
          {close.error && <p className="field-error" role="alert">{close.error instanceof ApiError ? close.error.message : "Could not close."}</p>}
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

import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useOpenPosition } from "../api/hooks";
import type { Rates } from "../api/schemas";
import { protocolName, signedPct, usd } from "../format";
import { JobProgress } from "./JobProgress";
import { Modal } from "./Modal";
import { LeverageSlider } from "./Rates";
import { Spinner } from "./Spinner";

const FALLBACK_ASSETS = ["SOL", "jitoSOL", "jupSOL", "INF"];
export const MIN_SIZE_USD = 50;
const DECIMAL_INPUT_RE = /^\d+(\.\d{1,2})?$/;

export interface OpenDefaults {
  asset?: string;
  protocol?: string | null;
  leverage?: string;
}

interface OpenPositionModalProps {
  rates: Rates | undefined;
  defaults: OpenDefaults;
  maxPositionUsd: string | null;
  onClose: () => void;
}

// Only the obvious mistakes are caught here; the server checks the size against balances and risk limits.
export function validateSize(size: string): string | null {
  const trimmed = size.trim();
  if (!DECIMAL_INPUT_RE.test(trimmed)) return "Enter an amount in USD, like 1000 or 1250.50.";
  if (Number(trimmed) < MIN_SIZE_USD) return `The minimum size is ${usd(String(MIN_SIZE_USD))}.`;
  return null;
}

export function OpenPositionModal({ rates, defaults, maxPositionUsd, onClose }: OpenPositionModalProps) {
  const assets = rates && rates.asgard.length > 0 ? [...new Set(rates.asgard.map((m) => m.asset))] : FALLBACK_ASSETS;
  const [asset, setAsset] = useState(defaults.asset && assets.includes(defaults.asset) ? defaults.asset : assets[0] ?? "SOL");
  const [protocol, setProtocol] = useState<string>(defaults.protocol ?? "");
  const [leverage, setLeverage] = useState(defaults.leverage ?? "3");
  const [size, setSize] = useState("1000");
  const [sizeError, setSizeError] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const open = useOpenPosition();

  const protocols = rates ? [...new Set(rates.asgard.filter((m) => m.asset === asset).map((m) => m.protocol))] : [];
  const estimate = rates?.opportunities.find(
    (o) => o.asset === asset && (protocol === "" || o.protocol === protocol) && Number(o.leverage) === Number(leverage),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problem = validateSize(size);
    setSizeError(problem);
    if (problem || open.isPending) return;
    open.mutate(
      { asset, protocol: protocol === "" ? null : protocol, leverage, size_usd: size.trim() },
      { onSuccess: (accepted) => setJobId(accepted.job_id) },
    );
  };

  if (jobId) {
    return (
      <Modal title={`Opening ${asset} ${leverage}x · ${usd(size)}`} onClose={onClose}>
        <JobProgress jobId={jobId} />
        <button type="button" className="btn btn-block" onClick={onClose}>
          Close
        </button>
      </Modal>
    );
  }

  const serverError = open.error instanceof ApiError ? open.error.message : open.error ? "Could not open the position." : null;

  return (
    <Modal title="Open position" onClose={onClose}>
      <form onSubmit={submit} noValidate className="form">
        <label className="field">
          <span>Asset (long on Asgard)</span>
          <select name="asset" value={asset} onChange={(e) => { setAsset(e.target.value); setProtocol(""); }}>
            {assets.map((a) => <option key={a} value={a}>{a}</option>)}
          </select>
        </label>
        <label className="field">
          <span>Protocol</span>
          <select name="protocol" value={protocol} onChange={(e) => setProtocol(e.target.value)}>
            <option value="">Best available</option>
            {protocols.map((p) => <option key={p} value={p}>{protocolName(p)}</option>)}
          </select>
        </label>
        <LeverageSlider id="open-leverage" label="Leverage" value={leverage} onChange={setLeverage} />
        <label className="field">
          <span>Size (USD)</span>
          <input
            name="size_usd"
            inputMode="decimal"
            value={size}
            aria-invalid={sizeError ? true : undefined}
            onChange={(e) => { setSize(e.target.value); setSizeError(null); }}
          />
        </label>
        {sizeError && <p className="field-error" role="alert">{sizeError}</p>}
        {maxPositionUsd && <p className="muted small">Your settings cap one position at {usd(maxPositionUsd)}.</p>}
        <p className="muted small">
          {estimate
            ? <>Expected net APY now: <strong>{signedPct(estimate.net_apy)}</strong> ({protocolName(estimate.protocol)}).</>
            : "The short on Hyperliquid is sized to the long's actual fill."}
        </p>
        {serverError && <p className="field-error" role="alert">{serverError}</p>}
        <button type="submit" className="btn btn-primary btn-block" disabled={open.isPending}>
          {open.isPending ? <><Spinner label="Submitting" /> Submitting…</> : "Open position"}
        </button>
      </form>
    </Modal>
  );
}

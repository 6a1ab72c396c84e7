import { useState, type FormEvent } from "react";
import { errorText } from "../api/client";
import { useOpenPosition } from "../api/hooks";
import type { Balances, Rates } from "../api/schemas";
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
  balances?: Balances | undefined;
  onClose: () => void;
}

// Opening fees per leg (taker): Asgard 0.05 %, Hyperliquid 0.045 % of the notional.
const ASGARD_FEE = 0.0005;
const HYPERLIQUID_FEE = 0.00045;

/** What `size` capital at `leverage` puts on each venue: half as Asgard collateral, half as Hyperliquid margin. */
export function previewLegs(size: number, leverage: number) {
  const notional = (size * leverage) / 2;
  const collateral = size / 2;
  return {
    notional,
    collateral,
    debt: notional - collateral,
    margin: size / 2,
    fees: notional * (ASGARD_FEE + HYPERLIQUID_FEE),
  };
}

export function validateAgainstLimits(size: string, maxPositionUsd: string | null, balances: Balances | undefined): string | null {
  const n = Number(size.trim());
  if (maxPositionUsd !== null && n > Number(maxPositionUsd)) {
    return `That is more than your maximum position size of ${usd(maxPositionUsd)}: lower the size, or raise the maximum in Settings.`;
  }
  const solana = balances?.solana.usdc ?? null;
  const hyperliquid = balances?.hyperliquid.account_value_usd ?? null;
  if (solana !== null && Number(solana) < n / 2) {
    return `Asgard needs ${usd(String(n / 2))} of collateral but your Solana wallet has ${usd(solana)}: deposit USDC or lower the size.`;
  }
  if (hyperliquid !== null && Number(hyperliquid) < n / 2) {
    return `Hyperliquid needs ${usd(String(n / 2))} of margin but your account has ${usd(hyperliquid)}: deposit USDC or lower the size.`;
  }
  return null;
}

// Only the obvious mistakes are caught here; the server checks the size against balances and risk limits.
export function validateSize(size: string): string | null {
  const trimmed = size.trim();
  if (!DECIMAL_INPUT_RE.test(trimmed)) return "Enter an amount in USD, like 1000 or 1250.50.";
  if (Number(trimmed) < MIN_SIZE_USD) return `The minimum size is ${usd(String(MIN_SIZE_USD))}.`;
  return null;
}

export function OpenPositionModal({ rates, defaults, maxPositionUsd, balances, onClose }: OpenPositionModalProps) {
  const assets = rates && rates.asgard.length > 0 ? [...new Set(rates.asgard.map((m) => m.asset))] : FALLBACK_ASSETS;
  const [asset, setAsset] = useState(defaults.asset && assets.includes(defaults.asset) ? defaults.asset : assets[0] ?? "SOL");
  const [protocol, setProtocol] = useState<string>(defaults.protocol ?? "");
  const [leverage, setLeverage] = useState(defaults.leverage ?? "3");
  const [size, setSize] = useState("1000");
  const [sizeError, setSizeError] = useState<string | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);
  const open = useOpenPosition();

  const markets = rates ? rates.asgard.filter((m) => m.asset === asset) : [];
  const protocols = [...new Set(markets.map((m) => m.protocol))];
  const noRebalance = new Set(markets.filter((m) => !m.rebalances_in_place).map((m) => m.protocol));
  const offered = rates?.opportunities.filter(
    (o) => o.asset === asset && (protocol === "" || o.protocol === protocol) && Number(o.leverage) === Number(leverage),
  ) ?? [];
  // "Best available" is what the server picks: the best protocol where Asgard can rebalance the long in place
  const estimate = (protocol === "" ? offered.find((o) => o.rebalances_in_place) : undefined) ?? offered[0];

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problem = validateSize(size) ?? validateAgainstLimits(size, maxPositionUsd, balances);
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

  const serverError = open.error ? errorText(open.error, "Could not open the position.") : null;

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
            {protocols.map((p) => (
              <option key={p} value={p}>{protocolName(p)}{noRebalance.has(p) ? " (closes instead of rebalancing)" : ""}</option>
            ))}
          </select>
        </label>
        {noRebalance.has(protocol) && (
          <p className="muted small" role="note">
            Asgard cannot re-centre a long on {protocolName(protocol)}: if this position drifts toward liquidation,
            the bot closes it instead of rebalancing it.
          </p>
        )}
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
        <p className="muted small">Size is the capital you commit: half is Asgard collateral, half is Hyperliquid margin.</p>
        {sizeError && <p className="field-error" role="alert">{sizeError}</p>}
        {maxPositionUsd && <p className="muted small">Your settings cap one position at {usd(maxPositionUsd)}.</p>}
        {validateSize(size) === null && (() => {
          const legs = previewLegs(Number(size), Number(leverage));
          return (
            <table className="table compact" aria-label="Order preview">
              <tbody>
                <tr><th scope="row">Each leg's notional</th><td className="num">{usd(legs.notional.toFixed(2))}</td></tr>
                <tr><th scope="row">Asgard collateral / USDC debt</th><td className="num">{usd(legs.collateral.toFixed(2))} / {usd(legs.debt.toFixed(2))}</td></tr>
                <tr><th scope="row">Hyperliquid margin</th><td className="num">{usd(legs.margin.toFixed(2))}</td></tr>
                <tr><th scope="row">Opening fees (both legs)</th><td className="num">{usd(legs.fees.toFixed(2))}</td></tr>
                <tr><th scope="row">Free: Solana USDC / Hyperliquid</th><td className="num">{usd(balances?.solana.usdc)} / {usd(balances?.hyperliquid.account_value_usd)}</td></tr>
              </tbody>
            </table>
          );
        })()}
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

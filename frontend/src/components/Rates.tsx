import { ApiError } from "../api/client";
import type { Funding, Market, Opportunity, Rates } from "../api/schemas";
import { leverageText, pct, protocolName, signClass, signedPct, timeAgo, toNumber, usd } from "../format";
import { Notice } from "./Spinner";

/** What the sign of Hyperliquid's funding means for the bot, which is always SHORT the perp. */
export function fundingSignText(fundingHourly: string): string {
  const n = toNumber(fundingHourly) ?? 0;
  if (n > 0) return "Positive funding: longs pay shorts, so the bot's short EARNS this every hour.";
  if (n < 0) return "Negative funding: shorts pay longs, so the bot's short PAYS this every hour.";
  return "Funding is zero: neither side pays this hour.";
}

function ratesErrorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "no_rates_yet") return "Waiting for the first rates poll...";
    if (error.status === 401) return "Connect to see live rates.";
    return error.message;
  }
  return "Could not load rates.";
}

/** Why there are no rates to show: a first poll still to come is a wait, anything else an error. */
export function RatesErrorNotice({ error }: { error: unknown }) {
  return <Notice kind={error instanceof ApiError && error.code === "no_rates_yet" ? "loading" : "error"}>{ratesErrorText(error)}</Notice>;
}

export function FundingPanel({ funding, at, source, solPrice }: { funding: Funding; at: string; source: string; solPrice: string }) {
  return (
    <section className="card funding" aria-labelledby="funding-title">
      <div className="card-head">
        <h2 id="funding-title">Hyperliquid {funding.coin} funding</h2>
        <span className="muted small" title={at}>{source} · {timeAgo(at)}</span>
      </div>
      <div className="funding-figures">
        <div className="figure">
          <span className="figure-label">Hourly</span>
          <span className={`figure-value ${signClass(funding.funding_hourly)}`} data-testid="funding-hourly">
            {signedPct(funding.funding_hourly, 4)}
          </span>
        </div>
        <div className="figure">
          <span className="figure-label">Annualized</span>
          <span className={`figure-value ${signClass(funding.funding_apy)}`} data-testid="funding-apy">
            {signedPct(funding.funding_apy, 2)}
          </span>
        </div>
        <div className="figure">
          <span className="figure-label">Predicted next hour</span>
          <span className={`figure-value small-figure ${signClass(funding.predicted_funding_hourly)}`}>
            {funding.predicted_funding_hourly === null ? "—" : signedPct(funding.predicted_funding_hourly, 4)}
          </span>
        </div>
      </div>
      <p className={`funding-sign ${signClass(funding.funding_hourly)}`} data-testid="funding-sign">
        {fundingSignText(funding.funding_hourly)}
      </p>
      <dl className="kv kv-inline small">
        <dt>Mark</dt><dd>{usd(funding.mark_price)}</dd>
        <dt>Oracle</dt><dd>{usd(funding.oracle_price)}</dd>
        <dt>SOL</dt><dd>{usd(solPrice)}</dd>
      </dl>
    </section>
  );
}

const NO_REBALANCE_TITLE = "Asgard cannot re-centre a long on this protocol: a position that drifts toward liquidation "
  + "closes instead of rebalancing, so the bot does not open here itself.";

/** A protocol's name, marked when Asgard cannot rebalance a long there in place. */
function ProtocolCell({ protocol, inPlace }: { protocol: string; inPlace: boolean }) {
  return (
    <td>
      {protocolName(protocol)}
      {/* a phone keeps the row narrow: the open dialog still says it */}
      {!inPlace && <span className="chip chip-muted hide-phone" title={NO_REBALANCE_TITLE}>no rebalance</span>}
    </td>
  );
}

export function AsgardRatesTable({ markets }: { markets: Market[] }) {
  if (markets.length === 0) return <Notice kind="empty">Asgard reported no markets in the last poll.</Notice>;
  const rows = [...markets].sort((a, b) => a.asset.localeCompare(b.asset) || a.protocol.localeCompare(b.protocol));
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Asgard rates">
        <thead>
          <tr>
            <th>Asset</th>
            <th>Protocol</th>
            <th className="num">Staking APY</th>
            <th className="num">Supply APY</th>
            <th className="num">USDC borrow APY</th>
            <th className="num">Max leverage</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <tr key={`${m.asset}-${m.protocol}`}>
              <td><strong>{m.asset}</strong></td>
              <ProtocolCell protocol={m.protocol} inPlace={m.rebalances_in_place} />
              <td className="num">{pct(m.staking_apy)}</td>
              <td className="num">{pct(m.supply_apy)}</td>
              <td className="num">{pct(m.usdc_borrow_apy)}</td>
              <td className="num">{m.max_leverage === null ? "—" : leverageText(m.max_leverage)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The net APY's parts in one line (a phone hides their columns; a tap or hover still tells them). */
export function netApyTitle(o: Opportunity): string {
  const c = o.components;
  return `at ${leverageText(o.leverage)}: staking ${signedPct(c.staking)} · supply ${signedPct(c.supply)} · borrow ${signedPct(c.borrow)} · `
    + `funding ${signedPct(c.funding)} = gross ${signedPct(o.gross_apy)}; net ${signedPct(o.net_apy)} after the round trip's fees`;
}

/** `openBlocked`: why nothing can be opened now (the kill switch), shown on the disabled Open buttons. */
export function OpportunitiesTable({ opportunities, onOpen, openBlocked = null }: {
  opportunities: Opportunity[]; onOpen?: (o: Opportunity) => void; openBlocked?: string | null;
}) {
  if (opportunities.length === 0) return <Notice kind="empty">No opportunities at this leverage.</Notice>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Opportunities">
        <thead>
          <tr>
            <th className="hide-phone">#</th>
            <th>Asset</th>
            <th>Protocol</th>
            <th className="num hide-phone">Leverage</th>
            <th className="num hide-phone" title="Staking yield on the long">Staking</th>
            <th className="num hide-phone" title="Lending supply yield on the long">Supply</th>
            <th className="num hide-phone" title="USDC borrow cost on the long's debt">Borrow</th>
            <th className="num hide-phone" title="Hyperliquid funding earned (or paid) by the short">Funding</th>
            <th className="num hide-phone">Gross APY</th>
            <th className="num">Net APY</th>
            {onOpen && <th aria-label="Actions" />}
          </tr>
        </thead>
        <tbody>
          {opportunities.map((o, i) => (
            <tr key={`${o.asset}-${o.protocol}-${o.leverage}`} className={i === 0 ? "best" : undefined}>
              <td className="muted hide-phone">{i + 1}</td>
              <td><strong>{o.asset}</strong>{i === 0 && <span className="chip chip-good">best</span>}</td>
              <ProtocolCell protocol={o.protocol} inPlace={o.rebalances_in_place} />
              <td className="num hide-phone">{leverageText(o.leverage)}</td>
              <td className={`num hide-phone ${signClass(o.components.staking)}`}>{signedPct(o.components.staking)}</td>
              <td className={`num hide-phone ${signClass(o.components.supply)}`}>{signedPct(o.components.supply)}</td>
              <td className={`num hide-phone ${signClass(o.components.borrow)}`}>{signedPct(o.components.borrow)}</td>
              <td className={`num hide-phone ${signClass(o.components.funding)}`}>{signedPct(o.components.funding)}</td>
              <td className={`num hide-phone ${signClass(o.gross_apy)}`}>{signedPct(o.gross_apy)}</td>
              <td className={`num strong ${signClass(o.net_apy)}`} title={netApyTitle(o)}>{signedPct(o.net_apy)}</td>
              {onOpen && (
                <td className="num">
                  <button type="button" className="btn btn-small" onClick={() => onOpen(o)} aria-label={`Open ${o.asset} on ${protocolName(o.protocol)}`}
                    disabled={openBlocked !== null} title={openBlocked ?? undefined}>
                    Open
                  </button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const LEVERAGE_STEPS = ["2", "2.5", "3", "3.5", "4"] as const;

export function LeverageSlider({ value, onChange, label = "Leverage", id = "leverage" }: { value: string; onChange: (v: string) => void; label?: string; id?: string }) {
  // A value between steps (typed in a text field) shows at the nearest step.
  const wanted = Number(value);
  let index = 0;
  LEVERAGE_STEPS.forEach((step, i) => {
    if (Math.abs(Number(step) - wanted) < Math.abs(Number(LEVERAGE_STEPS[index]) - wanted)) index = i;
  });
  return (
    <div className="slider">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="range"
        min={0}
        max={LEVERAGE_STEPS.length - 1}
        step={1}
        value={index}
        aria-valuetext={`${LEVERAGE_STEPS[index]}x`}
        onChange={(e) => onChange(LEVERAGE_STEPS[Number(e.target.value)] ?? "3")}
      />
      <output htmlFor={id} className="slider-value">{LEVERAGE_STEPS[index]}x</output>
    </div>
  );
}

interface RatesSectionProps {
  rates: Rates | undefined;
  error: unknown;
  loading: boolean;
  fetching: boolean;
  leverage: string;
  onLeverage: (v: string) => void;
  onOpen?: (o: Opportunity) => void;
  openBlocked?: string | null;
}

/** Asgard rates and the ranked opportunities at the chosen leverage. */
export function MarketsSection({ rates, error, loading, fetching, leverage, onLeverage, onOpen, openBlocked = null }: RatesSectionProps) {
  return (
    <>
      <section className="card" aria-labelledby="opps-title">
        <div className="card-head">
          <h2 id="opps-title">Opportunities</h2>
          <div className="row gap">
            {fetching && !loading && <span className="muted small">updating…</span>}
            <LeverageSlider value={leverage} onChange={onLeverage} />
          </div>
        </div>
        <p className="muted small">
          Annualized carry of one position: a leveraged long on Asgard at the chosen leverage and an
          equal-notional SOL short on Hyperliquid. Every component is a yearly % of the capital committed at that
          leverage (the Asgard table below is per unit of each asset). Sorted by net APY.
        </p>
        {rates ? (
          <OpportunitiesTable opportunities={rates.opportunities} onOpen={onOpen} openBlocked={openBlocked} />
        ) : loading ? (
          <Notice kind="loading">Loading opportunities…</Notice>
        ) : (
          <RatesErrorNotice error={error} />
        )}
      </section>
      <section className="card" aria-labelledby="asgard-title">
        <div className="card-head">
          <h2 id="asgard-title">Asgard rates</h2>
          <span className="muted small">per asset × protocol, yearly % of the asset (not of capital)</span>
        </div>
        {rates ? (
          <AsgardRatesTable markets={rates.asgard} />
        ) : loading ? (
          <Notice kind="loading">Loading Asgard rates…</Notice>
        ) : (
          <RatesErrorNotice error={error} />
        )}
      </section>
    </>
  );
}

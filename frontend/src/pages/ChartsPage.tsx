import { useQuery } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { api, errorText } from "../api/client";
import { Notice } from "../components/Spinner";
import { equitySeries, fundingMarkers, fundingSeries, SOURCE_LABELS, stackedSeries, type PnlPoint } from "../charts/data";
import { TimeChart, type SeriesSpec } from "../charts/TimeChart";
import { leverageText, pct, signedPct, signedUsd, usd } from "../format";

const COLORS: Record<string, string> = {
  funding_usd: "#3b82f6", staking_usd: "#8b5cf6", lending_usd: "#14b8a6", borrow_usd: "#f59e0b", fees_usd: "#ef4444", price_usd: "#94a3b8",
};

/** Stacked: the topmost line is the total; drawn from the total down so each band shows its source. */
function pnlSpecs(points: PnlPoint[]): SeriesSpec[] {
  return stackedSeries(points)
    .map((s, i, all) => ({ label: i === all.length - 1 ? `Total (+ ${SOURCE_LABELS[s.key]})` : `+ ${SOURCE_LABELS[s.key]}`, color: COLORS[s.key] ?? "#999", data: s.data, area: true }))
    .reverse();
}

function PnlChart({ title, points, empty }: { title: string; points: PnlPoint[]; empty: string }) {
  const specs = useMemo(() => pnlSpecs(points), [points]);
  if (points.length === 0) return <Notice kind="empty">{empty}</Notice>;
  const last = points[points.length - 1]!;
  return (
    <>
      <p className="muted small">Now: <strong>{signedUsd(last.total_usd)}</strong> · {Object.entries(SOURCE_LABELS).map(([k, label]) => `${label} ${signedUsd(last[k as keyof PnlPoint])}`).join(" · ")}</p>
      <TimeChart label={title} series={specs} />
    </>
  );
}

export function ChartsPage() {
  const account = useQuery({ queryKey: ["charts", "account"], queryFn: api.accountChart, refetchInterval: 60_000 });
  const positions = useQuery({ queryKey: ["positions", "all", ""], queryFn: () => api.positions("all", null, 50) });
  const [positionId, setPositionId] = useState<string>("");
  const chosen = positionId || positions.data?.positions[0]?.position_id || "";
  const position = useQuery({ queryKey: ["charts", "position", chosen], queryFn: () => api.positionChart(chosen), enabled: chosen !== "" });
  const funding = useQuery({ queryKey: ["charts", "funding"], queryFn: () => api.fundingChart(168), refetchInterval: 300_000 });
  const fundingSpecs = useMemo(() => (funding.data ? [{ label: "SOL funding, annualized %", color: "#3b82f6", data: fundingSeries(funding.data) }] : []), [funding.data]);
  const markers = useMemo(() => (funding.data ? fundingMarkers(funding.data) : []), [funding.data]);

  return (
    <div className="page">
      <section className="card" aria-labelledby="account-chart">
        <div className="card-head"><h2 id="account-chart">Account PnL by source</h2><span className="muted small">hourly snapshots, last 30 days</span></div>
        {account.data ? <PnlChart title="Account PnL by source" points={account.data.points} empty="No snapshots yet: they are taken every hour while a position is open." />
          : account.isLoading ? <Notice kind="loading">Loading…</Notice> : <Notice kind="error">{errorText(account.error, "Could not load the chart. Reload the page.")}</Notice>}
      </section>

      <section className="card" aria-labelledby="position-chart">
        <div className="card-head">
          <h2 id="position-chart">Position PnL by source</h2>
          <label className="field-inline small">
            <span>Position</span>
            <select value={chosen} onChange={(e) => setPositionId(e.target.value)}>
              {(positions.data?.positions ?? []).map((p) => (
                <option key={p.position_id} value={p.position_id}>{p.asset} {leverageText(p.leverage)} · {p.status} · {new Date(p.created_at).toLocaleDateString()}</option>
              ))}
            </select>
          </label>
        </div>
        {chosen === "" ? <Notice kind="empty">No positions yet.</Notice>
          : position.data ? <PnlChart title="Position PnL by source" points={position.data.points} empty="No snapshot of this position yet." />
          : position.isLoading ? <Notice kind="loading">Loading…</Notice> : <Notice kind="error">{errorText(position.error, "Could not load the chart.")}</Notice>}
      </section>

      <section className="card" aria-labelledby="funding-chart">
        <div className="card-head"><h2 id="funding-chart">Hyperliquid SOL funding, 7 days</h2><span className="muted small">▲ entries · ▼ exits of your positions</span></div>
        {funding.data ? <TimeChart label="Hyperliquid funding history" series={fundingSpecs} markers={markers} />
          : funding.isLoading ? <Notice kind="loading">Loading…</Notice> : <Notice kind="error">{errorText(funding.error, "Could not load the funding history.")}</Notice>}
      </section>

      <BacktestSection />
    </div>
  );
}

function BacktestSection() {
  const [form, setForm] = useState({ preset: "balanced", leverage: "", capital: "10000" });
  const [asked, setAsked] = useState<typeof form | null>(null);
  const result = useQuery({
    queryKey: ["backtest", asked],
    queryFn: () => api.backtest(asked!.preset, asked!.leverage || null, asked!.capital),
    enabled: asked !== null,
    staleTime: Infinity,
  });
  const specs = useMemo(() => (result.data ? [{ label: "Equity (USD)", color: "#1a9c5b", data: equitySeries(result.data), area: true }] : []), [result.data]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setAsked({ ...form });
  };
  return (
    <section className="card" aria-labelledby="backtest-title">
      <div className="card-head"><h2 id="backtest-title">Backtest: what would this preset have earned?</h2><span className="muted small">the same engine as <code>dnbot backtest</code>, over the recorded data</span></div>
      <form className="row gap" onSubmit={submit}>
        <label className="field-inline"><span>Preset</span>
          <select value={form.preset} onChange={(e) => setForm({ ...form, preset: e.target.value })}>
            <option value="conservative">conservative</option><option value="balanced">balanced</option><option value="aggressive">aggressive</option>
          </select>
        </label>
        <label className="field-inline"><span>Leverage</span>
          <select value={form.leverage} onChange={(e) => setForm({ ...form, leverage: e.target.value })}>
            <option value="">preset's</option>{["2", "2.5", "3", "3.5", "4"].map((l) => <option key={l} value={l}>{l}x</option>)}
          </select>
        </label>
        <label className="field-inline"><span>Capital (USD)</span>
          <input value={form.capital} inputMode="decimal" onChange={(e) => setForm({ ...form, capital: e.target.value })} />
        </label>
        <button type="submit" className="btn btn-primary" disabled={result.isFetching}>{result.isFetching ? "Running…" : "Run backtest"}</button>
      </form>
      {result.error && <p className="field-error" role="alert">{errorText(result.error, "The backtest failed. Check the inputs and try again.")}</p>}
      {result.data && (
        <>
          <p className="small" data-testid="backtest-summary">
            {usd(result.data.capital)} → <strong>{usd(result.data.final_equity)}</strong> ({signedUsd(result.data.total_pnl)}, {signedPct(result.data.net_apy)} a year) over {Math.round(result.data.hours / 24)} days ·
            {" "}{result.data.trades} trades · max drawdown {pct(result.data.max_drawdown)} · by source: {Object.entries(result.data.pnl).map(([k, v]) => `${k} ${signedUsd(v)}`).join(", ")}
          </p>
          <TimeChart label="Backtest equity" series={specs} />
        </>
      )}
    </section>
  );
}



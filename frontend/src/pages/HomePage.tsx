import { useState } from "react";
import { errorText } from "../api/client";
import { useBalances, useControl, usePositions, useRates, useSettings, useStatus } from "../api/hooks";
import type { Opportunity, Position, User } from "../api/schemas";
import { OpenPositionModal, type OpenDefaults } from "../components/OpenPositionModal";
import { ClosePositionModal, PositionsTable } from "../components/Positions";
import { FundingPanel, MarketsSection, RatesErrorNotice } from "../components/Rates";
import { Notice } from "../components/Spinner";
import { BalancesCard, TradeStatusCard } from "../components/StatusCards";
import { ActivityPanel, HistoryPanel } from "../components/Activity";
import { ConfirmModal, haltReason, LaunchReviewModal, OperatorControls } from "../components/Controls";

interface HomePageProps {
  user: User | null;
  onConnect: () => void;
  onDeposit: () => void;
}

function ConnectPrompt({ what, onConnect }: { what: string; onConnect: () => void }) {
  return (
    <div className="notice notice-empty">
      <span>Connect to see {what}.</span>
      <button type="button" className="btn btn-small" onClick={onConnect}>Connect</button>
    </div>
  );
}

export function HomePage({ user, onConnect, onDeposit }: HomePageProps) {
  const loggedIn = user !== null;
  const [leverage, setLeverage] = useState("3");
  const rates = useRates(leverage);
  const positions = usePositions(loggedIn);
  const status = useStatus(loggedIn);
  const balances = useBalances(loggedIn);
  const settings = useSettings(loggedIn);
  const control = useControl();
  const [openDefaults, setOpenDefaults] = useState<OpenDefaults | null>(null);
  const [closing, setClosing] = useState<Position | null>(null);
  const [reviewing, setReviewing] = useState(false);
  const [pausing, setPausing] = useState(false);
  const [tab, setTab] = useState<"active" | "history" | "activity">("active");
  const halted = haltReason(status.data);

  const botStatus = status.data?.bot_status ?? user?.bot_status ?? "standby";
  const running = botStatus === "running";

  const startOpen = (defaults: OpenDefaults) => (loggedIn ? setOpenDefaults({ leverage: settings.data?.leverage ?? leverage, ...defaults }) : onConnect());
  const fromOpportunity = (o: Opportunity) => startOpen({ asset: o.asset, protocol: o.protocol, leverage: leverage });

  return (
    <div className="page">
      <div className="actions-bar">
        <div className="row gap">
          <button type="button" className="btn btn-big" onClick={loggedIn ? onDeposit : onConnect}>FUND WALLETS</button>
          <button
            type="button"
            className={`btn btn-big ${running ? "" : "btn-primary"}`}
            disabled={control.isPending || (!running && halted !== null)}
            title={!running && halted ? halted : undefined}
            onClick={() => (loggedIn ? (running ? setPausing(true) : setReviewing(true)) : onConnect())}
          >
            {running ? "PAUSE STRATEGY" : "LAUNCH STRATEGY"}
          </button>
          <button type="button" className="btn btn-big" disabled={halted !== null} title={halted ?? undefined}
            onClick={() => startOpen({})}>Open position</button>
        </div>
        {loggedIn && <OperatorControls status={status.data} />}
      </div>
      {halted && loggedIn && <p className="warning small" role="status">Launch and Open are disabled: {halted}</p>}
      {control.error && (
        <p className="field-error" role="alert">{errorText(control.error, "Could not change the bot's status. Try again in a moment.")}</p>
      )}

      <div className="grid-3">
        {loggedIn ? (
          <TradeStatusCard status={status.data} error={status.error} loading={status.isLoading} />
        ) : (
          <section className="card"><div className="card-head"><h2>Trade status</h2></div><ConnectPrompt what="your bot" onConnect={onConnect} /></section>
        )}
        {loggedIn ? (
          <BalancesCard balances={balances.data} error={balances.error} loading={balances.isLoading}
            positionLive={(status.data?.positions_open ?? 0) > 0} />
        ) : (
          <section className="card"><div className="card-head"><h2>Wallet balances</h2></div><ConnectPrompt what="your balances" onConnect={onConnect} /></section>
        )}
        {rates.data ? (
          <FundingPanel funding={rates.data.hyperliquid} at={rates.data.at} source={rates.data.source} solPrice={rates.data.sol_price_usd} />
        ) : (
          <section className="card">
            <div className="card-head"><h2>Hyperliquid SOL funding</h2></div>
            {rates.isLoading ? <Notice kind="loading">Loading funding…</Notice> : (
              <RatesErrorNotice error={rates.error} />
            )}
          </section>
        )}
      </div>

      <MarketsSection
        rates={rates.data}
        error={rates.error}
        loading={rates.isLoading}
        fetching={rates.isFetching}
        leverage={leverage}
        onLeverage={setLeverage}
        onOpen={fromOpportunity}
        openBlocked={loggedIn ? halted : null}
      />

      <section className="card" aria-labelledby="positions-title">
        <div className="card-head">
          <h2 id="positions-title" className="sr-only">Positions</h2>
          <div className="tabs" role="tablist" aria-label="Positions">
            {(["active", "history", "activity"] as const).map((t) => (
              <button key={t} type="button" role="tab" aria-selected={tab === t} className={tab === t ? "tab active" : "tab"} onClick={() => setTab(t)}>
                {t === "active" ? "Active positions" : t === "history" ? "History" : "Activity"}
              </button>
            ))}
          </div>
          {loggedIn && tab === "active" && <button type="button" className="btn btn-small" disabled={halted !== null} onClick={() => startOpen({})}>+ Open position</button>}
        </div>
        {!loggedIn ? (
          <ConnectPrompt what="your positions" onConnect={onConnect} />
        ) : tab === "history" ? (
          <HistoryPanel />
        ) : tab === "activity" ? (
          <ActivityPanel />
        ) : positions.data ? (
          <PositionsTable positions={positions.data.positions} onClose={setClosing} />
        ) : positions.isLoading ? (
          <Notice kind="loading">Loading positions…</Notice>
        ) : (
          <Notice kind="error">{errorText(positions.error, "Could not load positions. Reload the page.")}</Notice>
        )}
      </section>
      {reviewing && (
        <LaunchReviewModal settings={settings.data} rates={rates.data} balances={balances.data} status={status.data}
          onClose={() => setReviewing(false)} />
      )}
      {pausing && (
        <ConfirmModal title="Pause the strategy" confirm="Pause" busy={control.isPending}
          error={control.error ? errorText(control.error, "Could not pause. Try again.") : null}
          onCancel={() => setPausing(false)} onConfirm={() => control.mutate("pause", { onSuccess: () => setPausing(false) })}>
          <p>Open positions are kept and protected; the bot opens nothing new until you launch it again.</p>
        </ConfirmModal>
      )}

      {openDefaults && (
        <OpenPositionModal
          rates={rates.data}
          defaults={openDefaults}
          maxPositionUsd={settings.data?.max_position_usd ?? null}
          balances={balances.data}
          onClose={() => setOpenDefaults(null)}
        />
      )}
      {closing && <ClosePositionModal position={closing} onDone={() => setClosing(null)} />}
    </div>
  );
}

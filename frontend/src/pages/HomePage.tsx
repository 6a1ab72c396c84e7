import { useState } from "react";
import { ApiError } from "../api/client";
import { useBalances, useControl, usePositions, useRates, useSettings, useStatus } from "../api/hooks";
import type { Opportunity, Position, User } from "../api/schemas";
import { OpenPositionModal, type OpenDefaults } from "../components/OpenPositionModal";
import { ClosePositionModal, PositionsTable } from "../components/Positions";
import { FundingPanel, MarketsSection, ratesErrorText } from "../components/Rates";
import { Notice } from "../components/Spinner";
import { BalancesCard, EmergencyStopButton, TradeStatusCard } from "../components/StatusCards";

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

  const botStatus = status.data?.bot_status ?? user?.bot_status ?? "standby";
  const running = botStatus === "running";

  const startOpen = (defaults: OpenDefaults) => (loggedIn ? setOpenDefaults(defaults) : onConnect());
  const fromOpportunity = (o: Opportunity) => startOpen({ asset: o.asset, protocol: o.protocol, leverage: leverage });

  return (
    <div className="page">
      <div className="actions-bar">
        <div className="row gap">
          <button type="button" className="btn btn-big" onClick={loggedIn ? onDeposit : onConnect}>FUND WALLETS</button>
          <button
            type="button"
            className={`btn btn-big ${running ? "" : "btn-primary"}`}
            disabled={control.isPending}
            onClick={() => (loggedIn ? control.mutate(running ? "pause" : "start") : onConnect())}
          >
            {running ? "PAUSE STRATEGY" : "LAUNCH STRATEGY"}
          </button>
          <button type="button" className="btn btn-big" onClick={() => startOpen({ leverage })}>Open position</button>
        </div>
        {loggedIn && <EmergencyStopButton />}
      </div>
      {control.error && (
        <p className="field-error" role="alert">{control.error instanceof ApiError ? control.error.message : "Could not change the bot's status."}</p>
      )}

      <div className="grid-3">
        {loggedIn ? (
          <TradeStatusCard status={status.data} error={status.error} loading={status.isLoading} />
        ) : (
          <section className="card"><div className="card-head"><h2>Trade status</h2></div><ConnectPrompt what="your bot" onConnect={onConnect} /></section>
        )}
        {loggedIn ? (
          <BalancesCard balances={balances.data} error={balances.error} loading={balances.isLoading} />
        ) : (
          <section className="card"><div className="card-head"><h2>Wallet balances</h2></div><ConnectPrompt what="your balances" onConnect={onConnect} /></section>
        )}
        {rates.data ? (
          <FundingPanel funding={rates.data.hyperliquid} at={rates.data.at} source={rates.data.source} solPrice={rates.data.sol_price_usd} />
        ) : (
          <section className="card">
            <div className="card-head"><h2>Hyperliquid SOL funding</h2></div>
            {rates.isLoading ? <Notice kind="loading">Loading funding…</Notice> : (
              <Notice kind={rates.error instanceof ApiError && rates.error.code === "no_rates_yet" ? "loading" : "error"}>{ratesErrorText(rates.error)}</Notice>
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
      />

      <section className="card" aria-labelledby="positions-title">
        <div className="card-head">
          <h2 id="positions-title">Active positions</h2>
          {loggedIn && <button type="button" className="btn btn-small" onClick={() => startOpen({ leverage })}>+ Open position</button>}
        </div>
        {!loggedIn ? (
          <ConnectPrompt what="your positions" onConnect={onConnect} />
        ) : positions.data ? (
          <PositionsTable positions={positions.data.positions} onClose={setClosing} />
        ) : positions.isLoading ? (
          <Notice kind="loading">Loading positions…</Notice>
        ) : (
          <Notice kind="error">{positions.error instanceof ApiError ? positions.error.message : "Could not load positions."}</Notice>
        )}
      </section>

      {openDefaults && (
        <OpenPositionModal
          rates={rates.data}
          defaults={openDefaults}
          maxPositionUsd={settings.data?.max_position_usd ?? null}
          onClose={() => setOpenDefaults(null)}
        />
      )}
      {closing && <ClosePositionModal position={closing} onDone={() => setClosing(null)} />}
    </div>
  );
}

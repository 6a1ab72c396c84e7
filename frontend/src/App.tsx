import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, setCsrfToken } from "./api/client";
import { keys, useConfig, useSession, useStatus } from "./api/hooks";
import { useLiveState, useLiveUpdates } from "./api/live";
import { KillSwitchBanner } from "./components/Controls";
import type { Balances, Session } from "./api/schemas";
import { useEmailLogin } from "./auth/types";
import { DepositModal } from "./components/DepositModal";
import { Header, type Page } from "./components/Header";
import { LoginModal } from "./components/LoginModal";
import { ProfileModal } from "./components/ProfileModal";
import { HomePage } from "./pages/HomePage";
import { ChartsPage } from "./pages/ChartsPage";
import { SettingsPage } from "./pages/SettingsPage";

type Dialog = null | "login" | "deposit" | "welcome" | "profile";

/** Every venue read, and zero everywhere (a venue that could not be read is not taken for zero). */
export function holdsNothing(b: Balances): boolean {
  const values = [b.solana.usdc, b.solana.sol, b.evm.usdc, b.hyperliquid.account_value_usd];
  return values.every((v) => v !== null && Number(v) === 0);
}

export function App() {
  const client = useQueryClient();
  const config = useConfig();
  const session = useSession();
  const login = useEmailLogin();
  const [page, setPage] = useState<Page>("home");
  const [dialog, setDialog] = useState<Dialog>(null);
  const user = session.data?.user ?? null;
  useLiveUpdates(config.data?.websocket_url ?? null, user !== null);
  const live = useLiveState();
  const status = useStatus(user !== null);

  const onLoggedIn = (next: Session) => {
    setCsrfToken(next.csrf_token);
    client.setQueryData(keys.session, next);
    setDialog(next.user.is_new_user ? "welcome" : null);
    if (!next.user.is_new_user) {
      // The seed's rule: whoever has nothing anywhere is shown where to deposit, new account or not.
      api.balances().then((balances) => {
        if (holdsNothing(balances)) setDialog((open) => open ?? "welcome");
      }).catch(() => {
        // balances unavailable: the dashboard's cards say so; no dialog
      });
    }
  };

  const disconnect = async () => {
    try {
      await api.logout();
    } catch {
      // Already logged out server-side (401) or offline: the local state is cleared either way.
    }
    try {
      await login?.signOut();
    } catch {
      // Privy's own logout failing must not keep the dnbot session on screen.
    }
    setCsrfToken(null);
    client.setQueryData(keys.session, null);
    client.removeQueries({ queryKey: keys.positions });
    client.removeQueries({ queryKey: keys.activity });
    client.removeQueries({ queryKey: keys.status });
    client.removeQueries({ queryKey: keys.balances });
    client.removeQueries({ queryKey: keys.settings });
    setPage("home");
  };

  return (
    <div className="app">
      <Header
        user={user}
        sessionLoading={session.isLoading}
        page={page}
        onNavigate={setPage}
        onConnect={() => setDialog("login")}
        onDeposit={() => setDialog("deposit")}
        onProfile={() => setDialog("profile")}
        onDisconnect={() => void disconnect()}
        environment={config.data?.environment ?? null}
        live={live}
      />
      {user && <KillSwitchBanner status={status.data} />}
      {config.error ? (
        <div className="banner banner-error" role="alert">
          Cannot reach the dnbot API ({config.error instanceof Error ? config.error.message : "unknown error"}). Retrying…
        </div>
      ) : null}
      <main>
        {page === "settings" && user ? (
          <SettingsPage />
        ) : page === "charts" && user ? (
          <ChartsPage />
        ) : (
          <HomePage user={user} onConnect={() => setDialog("login")} onDeposit={() => setDialog("deposit")} />
        )}
      </main>
      <footer className="footer muted small">
        dnbot · delta-neutral: leveraged long on Asgard + equal SOL-PERP short on Hyperliquid. Funding is paid hourly.
      </footer>
      {dialog === "login" && <LoginModal onClose={() => setDialog(null)} onLoggedIn={onLoggedIn} />}
      {(dialog === "deposit" || dialog === "welcome") && user && (
        <DepositModal user={user} welcome={dialog === "welcome"} onClose={() => setDialog(null)} />
      )}
      {dialog === "profile" && user && <ProfileModal user={user} onClose={() => setDialog(null)} />}
    </div>
  );
}

import { useEffect, useRef, useState } from "react";
import type { LiveState } from "../api/live";
import type { User } from "../api/schemas";

const LIVE_TEXT: Record<LiveState, string> = {
  off: "",
  connecting: "connecting…",
  live: "live",
  polling: "reconnecting · polling",
};

export type Page = "home" | "settings" | "charts";

interface HeaderProps {
  user: User | null;
  sessionLoading: boolean;
  page: Page;
  onNavigate: (page: Page) => void;
  onConnect: () => void;
  onDeposit: () => void;
  onProfile: () => void;
  onDisconnect: () => void;
  environment: string | null;
  live?: LiveState;
}

export function Header(props: HeaderProps) {
  const { user, page, onNavigate } = props;
  const [menuOpen, setMenuOpen] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!menuOpen) return;
    const onDown = (event: MouseEvent) => {
      if (!menuRef.current?.contains(event.target as Node)) setMenuOpen(false);
    };
    const onKey = (event: KeyboardEvent) => event.key === "Escape" && setMenuOpen(false);
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [menuOpen]);

  const choose = (action: () => void) => () => {
    setMenuOpen(false);
    action();
  };

  return (
    <header className="topbar">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true">◆</span>
        <span className="brand-name">dnbot</span>
        {props.environment === "local" && <span className="chip chip-muted">local</span>}
        {user && props.live && props.live !== "off" && (
          <span className={`chip live-${props.live}`} data-testid="live-state" role="status"
            title={props.live === "live" ? "Updates are pushed as they happen" : "Live updates are down: the dashboard polls every few seconds"}>
            <span className="live-dot" aria-hidden="true" />{LIVE_TEXT[props.live]}
          </span>
        )}
      </div>
      <nav className="tabs" aria-label="Main">
        <button type="button" className={page === "home" ? "tab active" : "tab"} aria-current={page === "home" ? "page" : undefined} onClick={() => onNavigate("home")}>
          Dashboard
        </button>
        {user && (
          <button type="button" className={page === "charts" ? "tab active" : "tab"} aria-current={page === "charts" ? "page" : undefined} onClick={() => onNavigate("charts")}>
            Charts
          </button>
        )}
        {user && (
          <button type="button" className={page === "settings" ? "tab active" : "tab"} aria-current={page === "settings" ? "page" : undefined} onClick={() => onNavigate("settings")}>
            Settings
          </button>
        )}
      </nav>
      <div className="topbar-actions">
        {user ? (
          <>
            <button type="button" className="btn btn-primary" onClick={props.onDeposit}>
              Deposit
            </button>
            <div className="menu" ref={menuRef}>
              <button
                type="button"
                className="btn btn-ghost menu-trigger"
                aria-haspopup="menu"
                aria-expanded={menuOpen}
                aria-label="Account menu"
                onClick={() => setMenuOpen((open) => !open)}
              >
                <span className="avatar" aria-hidden="true">{user.email.charAt(0).toUpperCase()}</span>
                <span className="menu-email">{user.email}</span>
                <span aria-hidden="true">▾</span>
              </button>
              {menuOpen && (
                <div className="menu-list" role="menu">
                  <button type="button" role="menuitem" onClick={choose(props.onProfile)}>View profile</button>
                  <button type="button" role="menuitem" onClick={choose(() => onNavigate("settings"))}>Settings</button>
                  <button type="button" role="menuitem" className="danger" onClick={choose(props.onDisconnect)}>Disconnect</button>
                </div>
              )}
            </div>
          </>
        ) : (
          <button type="button" className="btn btn-primary" onClick={props.onConnect} disabled={props.sessionLoading}>
            Connect
          </button>
        )}
      </div>
    </header>
  );
}

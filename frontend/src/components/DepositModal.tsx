import { useState } from "react";
import { useDepositPlan } from "../api/hooks";
import type { DepositPlan, Need, User } from "../api/schemas";
import { num, usd } from "../format";
import { CopyButton } from "./CopyButton";
import { Modal } from "./Modal";
import { QrCode } from "./QrCode";

interface WalletBlockProps {
  title: string;
  network: string;
  address: string | null;
  what: string;
}

function WalletBlock({ title, network, address, what }: WalletBlockProps) {
  return (
    <section className="deposit-wallet" aria-label={`${title} deposit address`}>
      <div className="deposit-head">
        <h3>{title}</h3>
        <span className="chip">{network}</span>
      </div>
      <p className="muted small">{what}</p>
      {address ? (
        <div className="deposit-body">
          <QrCode value={address} label={`${title} address`} />
          <div className="deposit-address">
            <code className="address" data-testid={`address-${title.toLowerCase()}`}>{address}</code>
            <CopyButton text={address} label={`${title} address`} />
          </div>
        </div>
      ) : (
        <p className="notice notice-empty">Your {title} wallet is being created. It appears here in a moment.</p>
      )}
    </section>
  );
}

const CAPITAL_RE = /^\d{1,8}(\.\d{1,2})?$/;
export const DEFAULT_CAPITAL = "1000";

function haveText(need: Need, unit: string, digits: number): string {
  const have = need.have === null ? "unknown just now" : `${num(need.have, digits)} ${unit} there`;
  const onTheWay = Number(need.on_the_way) > 0 ? `, ${num(need.on_the_way, digits)} ${unit} on the way` : "";
  return `${have}${onTheWay}`;
}

function missingText(need: Need, unit: string, digits: number): string {
  if (need.missing === null) return "—";
  return Number(need.missing) > 0 ? `send ${num(need.missing, digits)} ${unit}` : "enough ✓";
}

/** What to send where for a chosen capital (GET /deposit-plan). */
export function DepositPlanView({ plan }: { plan: DepositPlan }) {
  const send = plan.arbitrum.send_usdc;
  return (
    <div className="deposit-plan" data-testid="deposit-plan">
      <p className="muted small">
        {usd(plan.capital_usd)} at {num(plan.leverage, 2)}x: {usd(plan.notional_usd)} on each leg.
      </p>
      <div className="table-wrap">
      <table className="table table-wrapping" aria-label="Deposit plan">
        <thead>
          <tr><th>Where</th><th>Needs</th><th>Now</th><th>To do</th></tr>
        </thead>
        <tbody>
          <tr data-testid="plan-solana-usdc">
            <td>Solana: USDC (Asgard collateral)</td>
            <td>{num(plan.solana.usdc.need, 2)} USDC</td>
            <td>{haveText(plan.solana.usdc, "USDC", 2)}</td>
            <td>{missingText(plan.solana.usdc, "USDC", 2)}</td>
          </tr>
          <tr data-testid="plan-solana-sol">
            <td>Solana: SOL (fees)</td>
            <td>{num(plan.solana.sol.need, 3)} SOL</td>
            <td>{haveText(plan.solana.sol, "SOL", 3)}</td>
            <td>{missingText(plan.solana.sol, "SOL", 3)}</td>
          </tr>
          <tr data-testid="plan-arbitrum-usdc">
            <td>Arbitrum: USDC (Hyperliquid margin)</td>
            <td>{num(plan.hyperliquid.need, 2)} USDC</td>
            <td>{haveText(plan.hyperliquid, "USDC", 2)}</td>
            <td>{send === null ? "—" : Number(send) > 0 ? `send ${num(send, 2)} USDC` : "enough ✓"}</td>
          </tr>
          <tr data-testid="plan-arbitrum-eth">
            <td>Arbitrum: ETH (gas of the transfer)</td>
            <td>{num(plan.arbitrum.eth.need, 4)} ETH</td>
            <td>{haveText(plan.arbitrum.eth, "ETH", 5)}</td>
            <td>{missingText(plan.arbitrum.eth, "ETH", 5)}</td>
          </tr>
        </tbody>
      </table>
      </div>
      <p className="muted small">
        USDC on Arbitrum moves to Hyperliquid by itself within a few minutes, at least {num(plan.arbitrum.minimum_usdc, 0)} USDC
        at a time (smaller amounts wait until more arrives); your Arbitrum wallet pays the gas, so keep a little ETH there.
      </p>
      {plan.out_of_proportion && (
        <p className="warning small" role="alert">
          Your Solana and Hyperliquid balances are out of proportion for this capital: the next open would be refused
          until both hold their share.
        </p>
      )}
      {plan.complete && <p className="notice small">Both venues hold what this capital needs.</p>}
      <p className="muted small">{plan.note}</p>
    </div>
  );
}

function PlanSection() {
  const [capital, setCapital] = useState(DEFAULT_CAPITAL);
  const valid = CAPITAL_RE.test(capital) && Number(capital) > 0;
  const plan = useDepositPlan(capital, valid);
  return (
    <section className="deposit-plan-section" aria-label="How much to send">
      <label className="field">
        <span>Capital to deploy (USD)</span>
        <input inputMode="decimal" value={capital} onChange={(e) => setCapital(e.target.value.trim())}
          aria-invalid={!valid} aria-label="Capital to deploy (USD)" />
      </label>
      {!valid && <p className="warning small">Enter an amount in dollars, like 1000 or 2500.50.</p>}
      {valid && plan.isLoading && <p className="muted small">Working out the plan…</p>}
      {valid && plan.isError && <p className="warning small">{String((plan.error as Error).message)}</p>}
      {valid && plan.data && <DepositPlanView plan={plan.data} />}
    </section>
  );
}

export function DepositModal({ user, onClose, welcome }: { user: User; onClose: () => void; welcome?: boolean }) {
  return (
    <Modal title={welcome ? "Welcome — fund your wallets" : "Deposit"} onClose={onClose} wide>
      <p className="muted">
        The bot trades from two wallets created for you. Send USDC to both: the Solana side funds the leveraged long
        on Asgard, the Arbitrum side funds the short on Hyperliquid. Keep a little SOL on Solana for fees.
      </p>
      <div className="deposit-grid">
        <WalletBlock
          title="Solana"
          network="Solana mainnet"
          address={user.wallets.solana}
          what="USDC (SPL) for the long leg, plus ~0.05 SOL for transaction fees."
        />
        <WalletBlock
          title="EVM"
          network="Arbitrum One"
          address={user.wallets.evm}
          what="USDC on Arbitrum (at least 5 at a time) and a little ETH for gas: bridged to Hyperliquid as margin for the short."
        />
      </div>
      <PlanSection />
      <p className="warning small">Only send on the networks shown. Tokens sent on another network may be lost.</p>
      <button type="button" className="btn btn-primary btn-block" onClick={onClose}>
        Go to dashboard
      </button>
    </Modal>
  );
}

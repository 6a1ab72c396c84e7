import type { User } from "../api/schemas";
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
          what="USDC on Arbitrum: bridged to Hyperliquid as margin for the short."
        />
      </div>
      <p className="warning small">Only send on the networks shown. Tokens sent on another network may be lost.</p>
      <button type="button" className="btn btn-primary btn-block" onClick={onClose}>
        Go to dashboard
      </button>
    </Modal>
  );
}

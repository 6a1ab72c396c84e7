import type { User } from "../api/schemas";
import { CopyButton } from "./CopyButton";
import { Modal } from "./Modal";

export function ProfileModal({ user, onClose }: { user: User; onClose: () => void }) {
  return (
    <Modal title="Profile" onClose={onClose}>
      <dl className="kv">
        <dt>Email</dt>
        <dd>{user.email}</dd>
        <dt>User id</dt>
        <dd><code>{user.user_id}</code></dd>
        <dt>Bot</dt>
        <dd><span className={`badge badge-${user.bot_status}`}>{user.bot_status}</span></dd>
        <dt>Solana wallet</dt>
        <dd className="kv-address">
          {user.wallets.solana ? <><code className="address">{user.wallets.solana}</code><CopyButton text={user.wallets.solana} label="Solana address" /></> : "not created yet"}
        </dd>
        <dt>EVM wallet</dt>
        <dd className="kv-address">
          {user.wallets.evm ? <><code className="address">{user.wallets.evm}</code><CopyButton text={user.wallets.evm} label="EVM address" /></> : "not created yet"}
        </dd>
      </dl>
    </Modal>
  );
}

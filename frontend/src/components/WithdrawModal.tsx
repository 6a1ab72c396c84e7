import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { api, errorText } from "../api/client";
import { keys, useFreeToWithdraw } from "../api/hooks";
import type { Balances, FreeToWithdraw, Withdrawal } from "../api/schemas";
import { Modal } from "./Modal";
import { Spinner } from "./Spinner";

type Source = "solana" | "hyperliquid";
const AMOUNT_RE = /^\d+(\.\d{1,9})?$/;
const SOLANA_ADDRESS_RE = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;
const EVM_ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
const CODE_RE = /^\d{6}$/;
const DONE = new Set(["sent", "failed", "expired"]);

/** A free balance as a trader reads it: grouped, rounded DOWN (never more than is there) to cents, or 4 decimals
 * of SOL, with its unit ("4998.210548" USDC -> "4,998.21 USDC"). */
export function freeText(free: string, unit: string): string {
  const digits = unit === "SOL" ? 4 : 2;
  const scale = 10 ** digits;
  const floored = Math.floor(Number(free) * scale + 1e-9) / scale;
  return `${floored.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits })} ${unit}`;
}

/** The obvious mistakes, caught before a code is emailed; the server checks free funds and the address. */
export function validateWithdrawal(source: Source, amount: string, to: string, free: string | null, unit = "USDC",
  ownEvm: string | null = null): string | null {
  const trimmed = amount.trim();
  if (!AMOUNT_RE.test(trimmed) || Number(trimmed) <= 0) return "Enter a positive amount, like 25 or 0.5.";
  if (unit === "USDC" && /\.\d{7,}$/.test(trimmed)) return "USDC has 6 decimals: use at most 6.";
  if (source === "hyperliquid" && Number(trimmed) <= 1) return "Hyperliquid keeps a 1 USDC fee: withdraw more than 1 USDC.";
  if (free !== null && Number(trimmed) > Number(free)) return `Only ${freeText(free, unit)} is free to withdraw.`;
  if (source === "solana" && !SOLANA_ADDRESS_RE.test(to.trim())) return "Enter a Solana wallet address (base58).";
  if (source === "hyperliquid" && !EVM_ADDRESS_RE.test(to.trim())) return "Enter an Arbitrum address (0x...).";
  // the account's own EVM wallet is its deposit address: the sweep would send the USDC back to Hyperliquid
  if (source === "hyperliquid" && ownEvm && to.trim().toLowerCase() === ownEvm.toLowerCase()) {
    return "That is your dnbot deposit address: USDC there goes back to Hyperliquid. Enter an address of yours.";
  }
  return null;
}

/** What the chosen source lets a withdrawal take (the server's figure, by the rule the request is checked against),
 * why part of it is kept, or why it cannot be read. */
function freeOf(free: FreeToWithdraw | undefined, source: Source, asset: string):
  { amount: string | null; limitedBy: string | null; unavailable: string | null } {
  const none = { amount: null, limitedBy: null };
  if (!free) return { ...none, unavailable: null };
  if (source === "hyperliquid") {
    if (!free.hyperliquid) return { ...none, unavailable: free.unavailable.hyperliquid ?? "Hyperliquid cannot be read just now." };
    return { amount: free.hyperliquid.USDC, limitedBy: free.hyperliquid.limited_by, unavailable: null };
  }
  if (!free.solana) return { ...none, unavailable: free.unavailable.solana ?? "The wallet cannot be read just now." };
  return { amount: asset === "SOL" ? free.solana.SOL : free.solana.USDC, limitedBy: null, unavailable: null };
}

/** The amount Max fills: the free figure cut DOWN to the units the asset moves in (USDC 6 decimals, SOL 9). */
export function maxAmount(free: string, unit: string): string {
  const decimals = unit === "SOL" ? 9 : 6;
  if (/e/i.test(free)) return (Math.floor(Number(free) * 10 ** decimals) / 10 ** decimals).toFixed(decimals).replace(/\.?0+$/, "");
  const [whole, fraction = ""] = free.split(".");
  const cut = fraction.slice(0, decimals).replace(/0+$/, "");
  return cut ? `${whole}.${cut}` : (whole ?? "0");
}

/** A step's error line and its submit button, busy while the call runs. */
function FormEnd({ error, pending, busy, idle }: { error: string | null; pending: boolean; busy: string; idle: string }) {
  return (
    <>
      {error && <p className="field-error" role="alert">{error}</p>}
      <button type="submit" className="btn btn-primary btn-block" disabled={pending}>
        {pending ? <><Spinner label={busy} /> {busy}…</> : idle}
      </button>
    </>
  );
}

export function WithdrawModal({ balances, onClose }: { balances: Balances | undefined; onClose: () => void }) {
  const [source, setSource] = useState<Source>("solana");
  const [asset, setAsset] = useState("USDC");
  const [amount, setAmount] = useState("");
  const [to, setTo] = useState("");
  const [code, setCode] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [withdrawal, setWithdrawal] = useState<Withdrawal | null>(null);
  const [confirmed, setConfirmed] = useState(false);
  const queryClient = useQueryClient();
  const freeRead = useFreeToWithdraw(withdrawal === null);
  const unit = source === "hyperliquid" ? "USDC" : asset; // Hyperliquid pays out USDC only

  const request = useMutation({
    mutationFn: () => api.requestWithdrawal({
      asset: unit, amount: amount.trim(), source, to: to.trim(),
    }),
    onSuccess: (created) => setWithdrawal(created),
  });
  const confirm = useMutation({
    mutationFn: () => api.confirmWithdrawal(withdrawal?.withdrawal_id ?? "", code.trim()),
    onSuccess: () => setConfirmed(true),
  });
  const progress = useQuery({
    queryKey: ["withdrawal", withdrawal?.withdrawal_id],
    queryFn: () => api.withdrawal(withdrawal?.withdrawal_id ?? ""),
    enabled: confirmed && withdrawal !== null,
    refetchInterval: (query) => (query.state.data && DONE.has(query.state.data.status) ? false : 1000),
  });
  const finished = progress.data && DONE.has(progress.data.status) ? progress.data : null;
  const finishedStatus = finished?.status;
  useEffect(() => {
    if (!finishedStatus) return;
    void queryClient.invalidateQueries({ queryKey: keys.balances });
    void queryClient.invalidateQueries({ queryKey: keys.freeToWithdraw });
  }, [finishedStatus, queryClient]);

  const errorOf = (error: unknown) => (error ? errorText(error, "Something went wrong.") : null);

  if (confirmed && withdrawal) {
    return (
      <Modal title="Withdrawal" onClose={onClose}>
        {finished?.status === "sent" ? (
          <p className="field-ok" role="status">
            Sent {finished.amount} {finished.asset} to <code>{finished.to}</code>.
            {finished.signature && <><br /><span className="muted small">Reference: <code>{finished.signature}</code></span></>}
          </p>
        ) : finished ? (
          <p className="field-error" role="alert">The withdrawal {finished.status}: {finished.error ?? "nothing was sent."}</p>
        ) : (
          <p role="status"><Spinner label="Sending" /> Sending {withdrawal.amount} {withdrawal.asset}…</p>
        )}
        <button type="button" className="btn btn-block" onClick={onClose}>Close</button>
      </Modal>
    );
  }

  if (withdrawal) {
    const submitCode = (event: FormEvent) => {
      event.preventDefault();
      if (!CODE_RE.test(code.trim())) { setProblem("Enter the 6-digit code from the email."); return; }
      setProblem(null);
      confirm.mutate();
    };
    return (
      <Modal title="Confirm the withdrawal" onClose={onClose}>
        <form onSubmit={submitCode} noValidate className="form">
          <p>
            We emailed you a code. It confirms sending <strong>{withdrawal.amount} {withdrawal.asset}</strong> to{" "}
            <code>{withdrawal.to}</code>, and nothing else.
          </p>
          <label className="field">
            <span>Code</span>
            <input name="code" inputMode="numeric" autoComplete="one-time-code" value={code}
              onChange={(e) => { setCode(e.target.value); setProblem(null); }} />
          </label>
          <FormEnd error={problem ?? errorOf(confirm.error)} pending={confirm.isPending} busy="Confirming" idle="Confirm withdrawal" />
        </form>
      </Modal>
    );
  }

  const { amount: free, limitedBy, unavailable } = freeOf(freeRead.data, source, asset);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = validateWithdrawal(source, amount, to, free, unit, balances?.evm.address ?? null);
    setProblem(found);
    if (!found && !request.isPending) request.mutate();
  };
  return (
    <Modal title="Withdraw" onClose={onClose}>
      <form onSubmit={submit} noValidate className="form">
        <label className="field">
          <span>From</span>
          <select name="source" value={source} onChange={(e) => { setSource(e.target.value as Source); setProblem(null); }}>
            <option value="solana">Solana wallet</option>
            <option value="hyperliquid">Hyperliquid account (to an Arbitrum address)</option>
          </select>
        </label>
        {source === "solana" && (
          <label className="field">
            <span>Asset</span>
            <select name="asset" value={asset} onChange={(e) => setAsset(e.target.value)}>
              <option value="USDC">USDC</option>
              <option value="SOL">SOL</option>
            </select>
          </label>
        )}
        <label className="field">
          <span>Amount ({unit})</span>
          <input name="amount" inputMode="decimal" value={amount} onChange={(e) => { setAmount(e.target.value); setProblem(null); }} />
        </label>
        {free !== null ? (
          <p className="muted small" data-testid="withdraw-free">
            Free to withdraw: {freeText(free, unit)}{" "}
            <button type="button" className="btn btn-small" onClick={() => { setAmount(maxAmount(free, unit)); setProblem(null); }}>Max</button>
            {" "}{limitedBy ? `The rest ${limitedBy}.` : "Funds of a live position stay where they are."}
          </p>
        ) : (
          <p className="muted small" data-testid="withdraw-free">
            {unavailable ?? (freeRead.isError ? errorText(freeRead.error, "What is free cannot be read just now.")
              : <><Spinner label="Reading" /> Reading what is free to withdraw…</>)}
          </p>
        )}
        <label className="field">
          <span>To ({source === "solana" ? "Solana address" : "Arbitrum address, 0x..."})</span>
          <input name="to" value={to} spellCheck={false} onChange={(e) => { setTo(e.target.value); setProblem(null); }} />
        </label>
        {source === "hyperliquid" && (
          <p className="muted small">Hyperliquid pays out USDC on Arbitrum, less its 1 USDC fee. Not to your dnbot EVM
            wallet: that is your deposit address, and USDC there goes back to Hyperliquid.</p>
        )}
        <FormEnd error={problem ?? errorOf(request.error)} pending={request.isPending} busy="Requesting" idle="Email me a code" />
      </form>
    </Modal>
  );
}

export function WithdrawButton({ balances }: { balances: Balances | undefined }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="btn btn-small" onClick={() => setOpen(true)}>Withdraw</button>
      {open && <WithdrawModal balances={balances} onClose={() => setOpen(false)} />}
    </>
  );
}

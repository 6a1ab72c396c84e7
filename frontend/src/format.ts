// Display formatting. Values arrive as exact decimal strings; converting to a JS number here is only for
// rendering a rounded figure (2-4 significant decimals), never for arithmetic that feeds back to the server.

export function toNumber(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** "0.1095" -> "10.95%" (a fraction, shown as a percentage). */
export function pct(value: string | null | undefined, digits = 2): string {
  const n = toNumber(value);
  if (n === null) return "—";
  return `${(n * 100).toFixed(digits)}%`;
}

/** Signed percentage: "+10.95%" / "-3.20%" so the direction of a rate is never ambiguous. */
export function signedPct(value: string | null | undefined, digits = 2): string {
  const n = toNumber(value);
  if (n === null) return "—";
  const text = `${Math.abs(n * 100).toFixed(digits)}%`;
  if (n > 0) return `+${text}`;
  if (n < 0) return `-${text}`;
  return text;
}

const usdFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function usd(value: string | null | undefined): string {
  const n = toNumber(value);
  if (n === null) return "—";
  return usdFormat.format(n);
}

export function signedUsd(value: string | null | undefined): string {
  const n = toNumber(value);
  if (n === null) return "—";
  if (n > 0) return `+${usdFormat.format(n)}`;
  if (n < 0) return `-${usdFormat.format(-n)}`;
  return usdFormat.format(0);
}

export function num(value: string | null | undefined, digits = 4): string {
  const n = toNumber(value);
  if (n === null) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function leverageText(value: string | null | undefined): string {
  const n = toNumber(value);
  return n === null ? "—" : `${Number(n.toFixed(2))}x`;
}

export function signClass(value: string | null | undefined): string {
  const n = toNumber(value);
  if (n === null || n === 0) return "";
  return n > 0 ? "pos" : "neg";
}

export function timeAgo(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return new Date(t).toLocaleString();
}

const PROTOCOL_NAMES: Record<string, string> = {
  kamino: "Kamino",
  drift: "Drift",
  marginfi: "marginfi", // the protocol writes itself in lower case (as domain.assets.Protocol.display_name)
  solend: "Solend",
};
export function protocolName(p: string | null | undefined): string {
  if (!p) return "Best available";
  return PROTOCOL_NAMES[p.toLowerCase()] ?? p;
}

/** "open_short" / "OpenShort" -> "Open short". */
export function humanize(name: string): string {
  const spaced = name
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .trim()
    .toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** A plain ratio with `digits` decimals ("1.8734" -> "1.87"). */
export function ratio(value: string | null | undefined, digits = 2): string {
  const n = toNumber(value);
  return n === null ? "—" : n.toFixed(digits);
}

/** A figure already in percent ("12.5" -> "12.5%"). */
export function percentText(value: string | null | undefined, digits = 1): string {
  const n = toNumber(value);
  return n === null ? "—" : `${n.toFixed(digits)}%`;
}

import { useEffect, useState, type FormEvent } from "react";
import { errorText, type SettingsUpdate } from "../api/client";
import { usePresets, useResetSettings, useSaveSettings, useSettings } from "../api/hooks";
import { PresetName, type Preset, type UserSettings } from "../api/schemas";
import { humanize, leverageText, pct, ratio, usd } from "../format";
import { LeverageSlider } from "../components/Rates";
import { Notice } from "../components/Spinner";
import { NotificationSettings } from "../components/NotificationSettings";

/** One line per preset, from the server's figures (GET /presets): never a copy that goes stale. */
export function presetBlurb(preset: Preset): string {
  const safety = Number(preset.margin_of_safety) > 0
    ? `the round trip's costs plus a ${pct(preset.margin_of_safety, 0)} margin of safety`
    : "the round trip's costs (no margin of safety)";
  const drawdown = preset.exits.max_drawdown ? `; closes once ${pct(preset.exits.max_drawdown, 0)} down from its peak` : "";
  return `${leverageText(preset.leverage)}, enters when the expected carry pays ${safety}, on the median funding `
    + `of the last ${preset.persistence_hours} h${drawdown}; up to ${usd(preset.max_position_usd)} a position.`;
}

export const MIN_LEVERAGE = 2;
export const MAX_LEVERAGE = 4;
export const MIN_POSITION_USD = 50;

export interface SettingsErrors {
  leverage?: string;
  max_position_usd?: string;
}

export function validateSettings(form: SettingsUpdate): SettingsErrors {
  const errors: SettingsErrors = {};
  const leverage = Number(form.leverage);
  if (!/^\d+(\.\d+)?$/.test(form.leverage.trim()) || leverage < MIN_LEVERAGE || leverage > MAX_LEVERAGE) {
    errors.leverage = `Leverage must be between ${MIN_LEVERAGE}x and ${MAX_LEVERAGE}x.`;
  }
  const max = form.max_position_usd.trim();
  if (!/^\d+(\.\d{1,2})?$/.test(max)) {
    errors.max_position_usd = "Enter an amount in USD, like 25000.";
  } else if (Number(max) < MIN_POSITION_USD) {
    errors.max_position_usd = `The maximum position must be at least ${usd(String(MIN_POSITION_USD))}.`;
  }
  return errors;
}

function toForm(settings: UserSettings): SettingsUpdate {
  return { preset: settings.preset, leverage: String(Number(settings.leverage)), max_position_usd: String(Number(settings.max_position_usd)) };
}

/** "0.05" -> "5%", "0.065" -> "6.5%": a fraction as the percentage it means, without trailing zeros. */
const fractionPct = (v: string) => `${Number((Number(v) * 100).toFixed(4))}%`;
/** The fields a trader reads: what each one does, in words, with its figure in its unit (not "max drawdown 0.05"). */
const KNOWN_FIELDS: Record<string, [string, (v: string) => string]> = {
  min_net_apy: ["Opportunity bar: net APY at least", (v) => `${fractionPct(v)} a year`],
  persistence_hours: ["Entry counts on the median funding of the last", (v) => `${v} h`],
  min_positive_share: ["Entry: share of recent hours that paid the short, at least", fractionPct],
  expected_holding_hours: ["Fees spread over an expected holding of", (v) => `${v} h`],
  "exits.min_health_factor": ["Close when the Asgard health factor falls under", (v) => ratio(v)],
  "exits.rebalance_share": ["Rebalance when the SOL move to liquidation shrinks under this share of the open's", fractionPct],
  "exits.max_margin_ratio": ["Close when the Hyperliquid margin ratio (maintenance / account value) exceeds", fractionPct],
  "exits.max_drawdown": ["Close once the position is this far down from its peak", fractionPct],
  "exits.max_depeg": ["Close when the LST trades under its SOL value by", fractionPct],
  "exits.max_divergence": ["Hold when the venues' SOL prices differ by more than", fractionPct],
  "exits.max_data_age_seconds": ["Hold on rates older than", (v) => (Number(v) % 60 === 0 ? `${Number(v) / 60} min` : `${v} s`)],
};

/** One server field as a row: a known one in words and its unit, any other one as the server named it. */
export function settingRow(path: string, value: string): [string, string] {
  const known = KNOWN_FIELDS[path];
  if (known) return [known[0], known[1](value)];
  const [outer, inner] = path.split(".");
  return [inner === undefined ? humanize(outer ?? path) : `${humanize(outer ?? "")}: ${humanize(inner).toLowerCase()}`, value];
}

/** The server's other fields (entry thresholds, exit rules), flattened one level for a read-only list. */
function extraFields(settings: UserSettings): [string, string][] {
  const out: [string, string][] = [];
  const scalar = (v: unknown) => typeof v === "string" || typeof v === "number" || typeof v === "boolean";
  for (const [key, value] of Object.entries(settings)) {
    if (["preset", "leverage", "max_position_usd"].includes(key)) continue;
    if (scalar(value)) out.push(settingRow(key, String(value)));
    else if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [inner, v] of Object.entries(value as Record<string, unknown>)) {
        if (scalar(v)) out.push(settingRow(`${key}.${inner}`, String(v)));
      }
    }
  }
  return out;
}

export function SettingsForm({ settings }: { settings: UserSettings }) {
  const [form, setForm] = useState<SettingsUpdate>(() => toForm(settings));
  const presets = usePresets();
  const presetOf = (name: PresetName) => presets.data?.find((p) => p.name === name);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [saved, setSaved] = useState<string | null>(null);
  const save = useSaveSettings();
  const reset = useResetSettings();

  useEffect(() => setForm(toForm(settings)), [settings]);

  const update = (patch: Partial<SettingsUpdate>) => {
    setForm((f) => ({ ...f, ...patch }));
    setErrors({});
    setSaved(null);
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problems = validateSettings(form);
    setErrors(problems);
    if (Object.keys(problems).length > 0) return;
    save.mutate(
      { preset: form.preset, leverage: form.leverage.trim(), max_position_usd: form.max_position_usd.trim() },
      { onSuccess: () => setSaved("Settings saved.") },
    );
  };

  const serverError = save.error ?? reset.error;

  return (
    <form onSubmit={submit} noValidate className="form settings-form">
      <fieldset className="presets">
        <legend>Risk preset</legend>
        {PresetName.options.map((name) => {
          const preset = presetOf(name);
          return (
            <label key={name} className={`preset ${form.preset === name ? "selected" : ""}`}>
              <input
                type="radio"
                name="preset"
                value={name}
                checked={form.preset === name}
                onChange={() => update(preset
                  ? { preset: name, leverage: String(Number(preset.leverage)), max_position_usd: String(Number(preset.max_position_usd)) }
                  : { preset: name })}
              />
              <span className="preset-name">{humanize(name)}</span>
              {preset && <span className="muted small">{presetBlurb(preset)}</span>}
            </label>
          );
        })}
      </fieldset>
      <LeverageSlider id="settings-leverage" label="Leverage" value={form.leverage} onChange={(leverage) => update({ leverage })} />
      <label className="field">
        <span>Leverage, exact (x)</span>
        <input name="leverage" inputMode="decimal" value={form.leverage} aria-invalid={errors.leverage ? true : undefined} onChange={(e) => update({ leverage: e.target.value })} />
      </label>
      {errors.leverage && <p className="field-error" role="alert">{errors.leverage}</p>}
      <label className="field">
        <span>Max position size (USD)</span>
        <input name="max_position_usd" inputMode="decimal" value={form.max_position_usd} aria-invalid={errors.max_position_usd ? true : undefined} onChange={(e) => update({ max_position_usd: e.target.value })} />
      </label>
      {errors.max_position_usd && <p className="field-error" role="alert">{errors.max_position_usd}</p>}
      {serverError && <p className="field-error" role="alert">{errorText(serverError, "Could not save.")}</p>}
      {saved && <p className="field-ok" role="status">{saved}</p>}
      <div className="row gap">
        <button type="submit" className="btn btn-primary" disabled={save.isPending}>{save.isPending ? "Saving…" : "Save"}</button>
        <button
          type="button"
          className="btn"
          disabled={reset.isPending}
          onClick={() => {
            if (!window.confirm("Reset your settings to the balanced preset's defaults?")) return;
            reset.mutate(undefined, { onSuccess: () => { setErrors({}); setSaved("Settings reset to the preset's defaults."); } });
          }}
        >
          Reset
        </button>
      </div>
      {extraFields(settings).length > 0 && (
        <details className="small">
          <summary>Everything the bot uses</summary>
          <dl className="kv kv-rules">{extraFields(settings).map(([k, v]) => <div key={k} className="kv-row"><dt>{k}</dt><dd>{v}</dd></div>)}</dl>
        </details>
      )}
    </form>
  );
}

export function SettingsPage() {
  const settings = useSettings(true);
  return (
    <div className="page narrow">
      <section className="card" aria-labelledby="settings-title">
        <div className="card-head"><h2 id="settings-title">Strategy settings</h2></div>
        {settings.data ? (
          <SettingsForm settings={settings.data} />
        ) : settings.isLoading ? (
          <Notice kind="loading">Loading settings…</Notice>
        ) : (
          <Notice kind="error">{errorText(settings.error, "Could not load settings.")}</Notice>
        )}
      </section>
      <section className="card" aria-labelledby="notifications-title">
        <div className="card-head"><h2 id="notifications-title">Notifications</h2></div>
        <NotificationSettings />
      </section>
    </div>
  );
}

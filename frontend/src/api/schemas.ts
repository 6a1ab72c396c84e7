// Zod schemas for every payload the API returns: the dashboard never trusts a shape it has not checked.
// Money and rates travel as decimal strings (see the API contract); they stay strings here and are only turned
// into numbers at the last moment, for display, by format.ts.
import { z } from "zod";

const DECIMAL_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A decimal string ("0.1095", "-12.5", "1E-7"). A JSON number is accepted too and normalised to a string. */
export const Dec = z
  .union([z.string(), z.number()])
  .transform((v) => (typeof v === "number" ? String(v) : v.trim()))
  .refine((v) => DECIMAL_RE.test(v), { message: "expected a decimal string" });
export type Dec = z.infer<typeof Dec>;

export const ErrorEnvelope = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

export const Config = z.object({
  identity_provider: z.enum(["local", "privy"]),
  privy_app_id: z.string().nullable().optional().default(null),
  websocket_url: z.string().nullable().optional().default(null),
  environment: z.string(),
});
export type Config = z.infer<typeof Config>;

export const Funding = z.object({
  coin: z.string(),
  funding_hourly: Dec,
  funding_apy: Dec,
  predicted_funding_hourly: Dec.nullable().optional().default(null),
  mark_price: Dec,
  oracle_price: Dec,
});
export type Funding = z.infer<typeof Funding>;

export const Market = z.object({
  asset: z.string(),
  protocol: z.string(),
  supply_apy: Dec,
  usdc_borrow_apy: Dec,
  staking_apy: Dec,
  max_leverage: Dec.nullable().optional().default(null),
  /** false on marginfi and Solend: Asgard cannot re-centre a long there, so it closes instead of rebalancing */
  rebalances_in_place: z.boolean(),
});
export type Market = z.infer<typeof Market>;

export const Opportunity = z.object({
  asset: z.string(),
  protocol: z.string(),
  leverage: Dec,
  gross_apy: Dec,
  net_apy: Dec,
  components: z.object({ staking: Dec, supply: Dec, borrow: Dec, funding: Dec }),
  rebalances_in_place: z.boolean(),
});
export type Opportunity = z.infer<typeof Opportunity>;

export const Rates = z.object({
  at: z.string(),
  source: z.string(),
  sol_price_usd: Dec,
  hyperliquid: Funding,
  asgard: z.array(Market),
  opportunities: z.array(Opportunity),
});
export type Rates = z.infer<typeof Rates>;

export const BotStatus = z.enum(["standby", "running", "paused"]);
export type BotStatus = z.infer<typeof BotStatus>;

export const User = z.object({
  user_id: z.string(),
  email: z.string(),
  is_new_user: z.boolean(),
  wallets: z.object({ solana: z.string().nullable(), evm: z.string().nullable() }),
  bot_status: BotStatus,
});
export type User = z.infer<typeof User>;

export const Session = z.object({ user: User, csrf_token: z.string() });
export type Session = z.infer<typeof Session>;

export const EmailStarted = z.object({ status: z.string() });

export const JobAccepted = z.object({
  job_id: z.string(),
  position_id: z.string(),
  status: z.string(),
});
export type JobAccepted = z.infer<typeof JobAccepted>;

export const StageStatus = z.enum(["running", "done", "failed", "skipped"]);
export type StageStatus = z.infer<typeof StageStatus>;

export const Stage = z.object({
  name: z.string(),
  status: StageStatus,
  at: z.string().nullable().optional(),
  detail: z.string().nullable().optional(),
});
export type Stage = z.infer<typeof Stage>;

export const Job = z.object({
  job_id: z.string(),
  position_id: z.string(),
  kind: z.enum(["open", "close"]),
  status: z.enum(["running", "succeeded", "failed"]),
  stages: z.array(Stage),
  error: z.string().nullable().optional().default(null),
});
export type Job = z.infer<typeof Job>;

export const Leg = z.object({
  size: Dec,
  entry_price: Dec,
  notional_usd: Dec,
  fees_usd: Dec.nullable().optional().default(null),
  value_usd: Dec.nullable().optional().default(null),
  debt_usd: Dec.nullable().optional().default(null),
});
export type Leg = z.infer<typeof Leg>;

/** PnL by source in USD (cents); the parts sum to total_usd. */
export const Pnl = z.object({
  total_usd: Dec,
  funding_usd: Dec,
  staking_usd: Dec,
  lending_usd: Dec,
  borrow_usd: Dec,
  fees_usd: Dec,
  price_usd: Dec,
});
export type Pnl = z.infer<typeof Pnl>;

export const PositionStatus = z.enum(["pending", "open", "closing", "closed", "failed", "needs_attention"]);
export type PositionStatus = z.infer<typeof PositionStatus>;

export const Position = z.object({
  position_id: z.string(),
  asset: z.string(),
  protocol: z.string(),
  leverage: Dec,
  status: PositionStatus,
  notional_usd: Dec,
  long: Leg.nullable(),
  short: Leg.nullable(),
  created_at: z.string(),
  pnl_usd: Dec.nullable(),
  closed_at: z.string().nullable().optional().default(null),
  close_reason: z.string().nullable().optional().default(null),
  failure: z.string().nullable().optional().default(null),
  health_factor: Dec.nullable().optional().default(null),
  margin_ratio: Dec.nullable().optional().default(null),
  /** The NEARER liquidation's SOL price (the leg in first_liquidation); older APIs sent the short's here. */
  liquidation_price_usd: Dec.nullable().optional().default(null),
  sol_price_usd: Dec.nullable().optional().default(null),
  liquidation_distance_pct: Dec.nullable().optional().default(null),
  /** SOL falls to it: Asgard liquidates the long. */
  long_liquidation_price_usd: Dec.nullable().optional().default(null),
  /** SOL rises to it: Hyperliquid liquidates the short. */
  short_liquidation_price_usd: Dec.nullable().optional().default(null),
  /** The leg liquidation_distance_pct refers to. */
  first_liquidation: z.enum(["long", "short"]).nullable().optional().default(null),
  figures_at: z.string().nullable().optional().default(null),
  stale_since: z.string().nullable().optional().default(null),
  unreadable: z.array(z.string()).optional().default([]),
  pnl: Pnl.nullable().optional().default(null),
  pnl_kind: z.enum(["unrealized", "realized"]).nullable().optional().default(null),
});
export type Position = z.infer<typeof Position>;

export const Positions = z.object({
  positions: z.array(Position),
  total: z.number().int().optional(),
  next_cursor: z.string().nullable().optional().default(null),
});
export type PositionsPage = z.infer<typeof Positions>;

export const ActivityEvent = z.object({
  at: z.string(),
  kind: z.string(),
  message: z.string(),
  position_id: z.string().nullable().optional().default(null),
});
export type ActivityEvent = z.infer<typeof ActivityEvent>;
export const Activity = z.object({
  events: z.array(ActivityEvent),
  next_cursor: z.string().nullable().optional().default(null),
});
export type Activity = z.infer<typeof Activity>;

export const KillSwitch = z.enum(["off", "no-new-positions", "close-all"]);
export const Status = z.object({
  bot_status: BotStatus,
  kill_switch: KillSwitch,
  positions_open: z.number().int(),
  pnl_24h_usd: Dec,
  // The open positions' unrealized PnL is counted as of this time (their latest hourly snapshot); null: none open.
  pnl_24h_as_of: z.string().nullable().optional().default(null),
  operator: z.boolean().optional().default(false),
});
export type Status = z.infer<typeof Status>;

// A venue that could not be read just now is null: the card says so instead of failing.
// USDC moving between the venues over CCTP (or stuck): gone from one balance, not yet in the other.
const Venue = z.enum(["Solana wallet", "Hyperliquid"]);
export const TransferOnItsWay = z.object({
  transfer_id: z.string(),
  direction: z.enum(["to_short", "to_long"]),
  source: Venue,
  destination: Venue,
  amount_usd: Dec, // left the source (the burn)
  arriving_usd: Dec, // reaches the destination, less the Fast fee
  state: z.enum(["burn_signed", "burned", "attested", "minted", "needs_attention"]),
  stage: z.enum(["burn_signed", "burned", "attested", "minted"]), // minted: already in the destination wallet
  since: z.string(), // the burn, else the transfer's record (ISO 8601)
  overdue: z.boolean(), // not credited 30 min after its burn
  operator_alerted: z.boolean(),
});
export type TransferOnItsWay = z.infer<typeof TransferOnItsWay>;
export const Balances = z.object({
  solana: z.object({ address: z.string().nullable(), sol: Dec.nullable(), usdc: Dec.nullable() }),
  evm: z.object({ address: z.string().nullable(), usdc: Dec.nullable() }),
  hyperliquid: z.object({ account_value_usd: Dec.nullable() }),
  // an older API sends neither: nothing on its way
  transfers: z.array(TransferOnItsWay).optional().default([]),
  in_transit_usd: Dec.optional().default("0"), // in none of the balances: the transfers not yet minted
});
export type Balances = z.infer<typeof Balances>;

// GET /deposit-plan: for a capital, what each address needs, holds, has on its way and still misses.
const Need = z.object({ need: Dec, have: Dec.nullable(), on_the_way: Dec, missing: Dec.nullable() });
export type Need = z.infer<typeof Need>;
export const DepositPlan = z.object({
  capital_usd: Dec,
  leverage: Dec,
  margin_buffer: Dec,
  notional_usd: Dec,
  solana: z.object({ address: z.string().nullable(), usdc: Need, sol: Need }),
  arbitrum: z.object({ address: z.string().nullable(), send_usdc: Dec.nullable(), minimum_usdc: Dec, eth: Need }),
  hyperliquid: Need,
  complete: z.boolean(),
  out_of_proportion: z.boolean(),
  note: z.string(),
});
export type DepositPlan = z.infer<typeof DepositPlan>;

// POST /withdrawals, POST /withdrawals/{id}/confirm, GET /withdrawals/{id}.
export const Withdrawal = z.object({
  withdrawal_id: z.string(),
  status: z.string(),
  asset: z.string(),
  amount: z.string(),
  to: z.string(),
  created_at: z.string(),
  signature: z.string().nullable().optional(),
  error: z.string().nullable().optional(),
  source: z.string().optional(),
});
export type Withdrawal = z.infer<typeof Withdrawal>;

// GET /withdrawals/free: what a withdrawal request from each source accepts now, by the rule the request is checked
// against; a source that cannot be read is null, with its reason in `unavailable`.
export const FreeToWithdraw = z.object({
  solana: z.object({ USDC: Dec, SOL: Dec }).nullable(),
  hyperliquid: z.object({ USDC: Dec, limited_by: z.string().nullable() }).nullable(),
  unavailable: z.record(z.string(), z.string()),
});
export type FreeToWithdraw = z.infer<typeof FreeToWithdraw>;

export const PresetName = z.enum(["conservative", "balanced", "aggressive"]);
export type PresetName = z.infer<typeof PresetName>;

// The server may add fields (exit rules, thresholds); keep them so they can be shown, but only the three
// below are edited here.
export const UserSettings = z.looseObject({
  preset: PresetName,
  leverage: Dec,
  max_position_usd: Dec,
});
export type UserSettings = z.infer<typeof UserSettings>;

// GET /presets: the risk presets (dnbot.domain.presets), in order of risk: what picking one fills in, and the
// break-even rule's margin of safety (enter when the expected carry pays 1 + margin_of_safety round trips).
export const Preset = z.looseObject({
  name: PresetName,
  leverage: Dec,
  max_position_usd: Dec,
  margin_of_safety: Dec,
  exit_margin: Dec,
  persistence_hours: z.number().int(),
  exits: z.record(z.string(), z.string()),
});
export type Preset = z.infer<typeof Preset>;
export const Presets = z.array(Preset);

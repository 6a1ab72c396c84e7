"""The one description of the AWS resources dnbot runs on.

The CDK stack (infra/) deploys exactly these, and `dnbot local` creates the same ones in its in-process AWS
(moto), so the handlers cannot tell the two apart. Change a resource here and both follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dnbot.domain.kill_switch import KillSwitch as KillSwitch  # re-exported: the parameter's values


@dataclass(frozen=True, slots=True)
class IndexSpec:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    """Single-table design: every item is keyed (pk, sk); see docs/architecture.md for the item types."""

    logical_id: str
    local_name: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    ttl_attribute: str = "expires_at"
    indexes: tuple[IndexSpec, ...] = ()
    stream: bool = True


STATE_TABLE = TableSpec(
    logical_id="StateTable",
    local_name="dnbot-state",
    indexes=(IndexSpec("gsi1", "gsi1pk", "gsi1sk"),),
)


# Sessions, one-time codes, abuse counters, single-use token marks: only the API and the WebSocket $connect
# may touch it (least privilege: the poller, tick, steps and broadcaster cannot read a session).
SESSIONS_TABLE = TableSpec(
    logical_id="SessionsTable",
    local_name="dnbot-sessions",
    indexes=(IndexSpec("gsi1", "gsi1pk", "gsi1sk"),),
    stream=False,
)


KILL_SWITCH_PARAMETER = "/dnbot/kill-switch"
KILL_SWITCH_DEFAULT = KillSwitch.OFF

# Symmetric key: envelope encryption of agent-wallet keys (data keys, AES-256-GCM, encryption context).
ENVELOPE_KEY_ALIAS = "alias/dnbot-envelope"
# ECC_NIST_P256 SIGN_VERIFY key: Privy authorization signatures. The private half never leaves KMS.
PRIVY_AUTHORIZATION_KEY_ALIAS = "alias/dnbot-privy-authorization"

LayerName = Literal["api", "trading"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A Lambda under functions/<name>/handler.py."""

    name: str
    layer: LayerName  # "api": light deps only; "trading": also solana, solders, hyperliquid SDK, eth-account
    memory_mb: int
    timeout_seconds: int
    description: str
    schedule_minutes: int | None = None  # EventBridge rate, driven by the local scheduler in `dnbot local`


FUNCTIONS: tuple[FunctionSpec, ...] = (
    # The API creates a new user's Privy wallets at first login (privy-client), so it ships the trading layer;
    # its imports stay lazy, so a cold start still loads only the light set (tests/unit/test_cold_imports.py).
    FunctionSpec("api", "trading", 512, 29, "HTTP API: FastAPI wrapped by Mangum"),
    FunctionSpec("rates_poller", "api", 256, 50, "Polls venue rates into a snapshot", schedule_minutes=1),
    # The tick reads each user's balances and risk at the venues (Solana RPC through solders): trading layer,
    # lazily imported like the API's.
    FunctionSpec("strategy_tick", "trading", 512, 50, "Risk checks and entries for every running user",
                 schedule_minutes=1),
    FunctionSpec("position_steps", "trading", 512, 120, "Steps of the open, close and rebalance state machines"),
    # The tick's fan-out: one SQS message per running user (or per position under close-all); reads that user's
    # balances and risk at the venues and starts workflows (open, close, rebalance; it signs nothing): trading
    # layer for the venues' read adapters, lazily imported.
    FunctionSpec("strategy_worker", "trading", 512, 120, "Decides for one user per message (the tick's fan-out)"),
    # The reconciler reads both venues for every user with live positions and trades the repairs (orphan legs,
    # a lost hedge) through the same adapters as the steps: trading layer.
    FunctionSpec("reconciler", "trading", 512, 110, "Compares venue truth with the ledger; repairs drift; alerts",
                 schedule_minutes=2),
    # Reads each open position's figures at both venues (the short's funding through the trading adapter); one
    # snapshot per position and hour (a second run in the same hour replaces it), so every hour has one.
    FunctionSpec("pnl_snapshots", "trading", 512, 120, "Hourly PnL-by-source snapshots of open positions",
                 schedule_minutes=30),
    FunctionSpec("ws_connections", "api", 256, 10, "WebSocket $connect / $disconnect"),
    FunctionSpec("ws_broadcast", "api", 256, 30, "Pushes state-table changes to WebSocket clients"),
    # Moves the USDC on each user's Arbitrum address to Hyperliquid through the bridge, signed by the user's Privy
    # EVM wallet (privy-client, eth-account): trading layer, lazily imported.
    FunctionSpec("deposit_sweep", "trading", 512, 60, "Sweeps Arbitrum USDC deposits to Hyperliquid (the bridge)",
                 schedule_minutes=1),
    # Consumes the notification queue: one webhook POST per message (5 s timeout each, ten a batch).
    FunctionSpec("notifier", "api", 256, 60, "Posts user notifications to their saved webhooks"),
)


def function(name: str) -> FunctionSpec:
    for spec in FUNCTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)


@dataclass(frozen=True, slots=True)
class StateMachineSpec:
    name: str
    local_name: str
    # placeholder in the definition -> the function it stands for
    substitutions: dict[str, str] = field(default_factory=dict)


STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec("open_position", "dnbot-open-position", {"PositionStepsFunctionArn": "position_steps"}),
    StateMachineSpec("close_position", "dnbot-close-position", {"PositionStepsFunctionArn": "position_steps"}),
    # Shrinks both legs of an open position in place (services/rebalance.py): started by the strategy worker, run
    # by the trading function, so the worker holds no signing grant.
    StateMachineSpec("rebalance_position", "dnbot-rebalance-position",
                     {"PositionStepsFunctionArn": "position_steps"}),
    # Pays a confirmed withdrawal in the trading function (the only one that may sign): one step, retried.
    StateMachineSpec("withdraw", "dnbot-withdraw", {"PositionStepsFunctionArn": "position_steps"}),
)

# Environment variables the CDK stack sets on every function; the Settings object reads them (nothing else does).
ENV_TABLE_NAME = "DNBOT_TABLE_NAME"
ENV_SESSIONS_TABLE_NAME = "DNBOT_SESSIONS_TABLE_NAME"
ENV_KILL_SWITCH_PARAMETER = "DNBOT_KILL_SWITCH_PARAMETER"
ENV_ENVELOPE_KEY_ID = "DNBOT_ENVELOPE_KEY_ID"
ENV_PRIVY_AUTHORIZATION_KEY_ID = "DNBOT_PRIVY_AUTHORIZATION_KEY_ID"
ENV_OPEN_STATE_MACHINE_ARN = "DNBOT_OPEN_STATE_MACHINE_ARN"
ENV_CLOSE_STATE_MACHINE_ARN = "DNBOT_CLOSE_STATE_MACHINE_ARN"
ENV_WITHDRAW_STATE_MACHINE_ARN = "DNBOT_WITHDRAW_STATE_MACHINE_ARN"
ENV_REBALANCE_STATE_MACHINE_ARN = "DNBOT_REBALANCE_STATE_MACHINE_ARN"
ENV_WEBSOCKET_ENDPOINT = "DNBOT_WEBSOCKET_ENDPOINT"  # https management endpoint (post_to_connection)
ENV_WEBSOCKET_URL = "DNBOT_WEBSOCKET_URL"  # wss:// URL the browser connects to
ENV_PRIVY_SECRET_ARN = "DNBOT_PRIVY_SECRET_ARN"  # Secrets Manager JSON {app_id, app_secret, verification_key}
ENV_ADMIN_EMAILS = "DNBOT_ADMIN_EMAILS"
ENV_ALERTS_TOPIC_ARN = "DNBOT_ALERTS_TOPIC_ARN"  # the operator's SNS topic (functions that alert)
ENV_USER_QUEUE_URL = "DNBOT_USER_QUEUE_URL"  # the tick's fan-out queue (strategy_tick and strategy_worker send)
ENV_NOTIFICATION_QUEUE_URL = "DNBOT_NOTIFICATION_QUEUE_URL"  # user notifications (ws_broadcast and api send)
ENV_RECONCILE_QUEUE_URL = "DNBOT_RECONCILE_QUEUE_URL"  # the reconciler's fan-out queue (the reconciler sends)


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """An SQS queue, its dead-letter queue, and the function that consumes it (partial batch failures)."""

    logical_id: str
    local_name: str
    consumer: str  # FunctionSpec.name
    batch_size: int = 10
    max_receives: int = 5  # deliveries of one message before the dead-letter queue
    # SQS's advice: at least 6 x the consumer's timeout, so a slow batch is not delivered twice meanwhile
    visibility_timeout_seconds: int = 720


USER_QUEUE = QueueSpec("UserQueue", "dnbot-user-queue", consumer="strategy_worker")
# User notifications: ws_broadcast (from the stream's activity items) and the API (test message) send; the
# notifier POSTs each to the user's webhook. A failing webhook is retried on redelivery, 30 s apart.
NOTIFICATION_QUEUE = QueueSpec("NotificationQueue", "dnbot-notifications", consumer="notifier",
                               visibility_timeout_seconds=360)
# The reconciler's fan-out: the scheduled run enqueues one message per user to reconcile; the same function,
# through this queue, reconciles one user per message (five a batch: a user's repairs may take ~20 s). One
# delivery only: the next round, two minutes later, is the retry, so a redelivered message never races the next
# round's for the same user; a user whose reconciliation raised is parked on the DLQ (alarmed).
RECONCILE_QUEUE = QueueSpec("ReconcileQueue", "dnbot-reconcile", consumer="reconciler", batch_size=5,
                            max_receives=1)
QUEUES: tuple[QueueSpec, ...] = (USER_QUEUE, NOTIFICATION_QUEUE, RECONCILE_QUEUE)

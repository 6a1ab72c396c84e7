"""The strategy tick (EventBridge, every minute) and its fan-out: protect what is open, then open what clears the
bar, for every running user, with a bounded amount of work per Lambda invocation however many users there are.

- The tick reads the kill switch, the rates snapshot and the funding history ONCE, and enqueues two messages with
  that context (and each LST's fair SOL rate, the open preflight's peg reference: its stake pool's redemption
  rate read on chain, else the market's; a user's message leaves out the LSTs depegged past that user's
  `max_depeg`): the first page of running users, and the first page of open
  positions (their users' positions are protected even when the bot is paused or stopped: the risk breakers and
  rebalances, not the carry). Under the kill
  switch's close-all it enqueues the first page of open positions instead (close-all reaches paused users too).
- A worker (functions/strategy_worker, SQS, partial batch failures, a dead-letter queue) takes each message:
  a page message reads one page (USERS_PER_PAGE), enqueues one message per user or position (SendMessageBatch,
  ten a call) and the next page; a protect message decides for a user whose bot is not running
  (`decide_for_user(strategy_on=False)`: risk exits only; a running user's come with the users' page); a user
  message runs `dnbot.domain.strategy.decide_for_user` (the same function
  the backtester replays) for that one user and turns its decisions into workflows (a Rebalance starts the
  rebalance workflow, which shrinks both legs in place: services/rebalance.py, run by position_steps); a close
  message closes one position (close-all, or the close a failed rebalance asks for).
Every message is safe to deliver twice: an open takes the user's "open in flight" lock (one conditional write),
a close execution is named after its position, a rebalance execution after its position and number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dnbot.domain.assets import Asset
from dnbot.domain.bridge import MOVING
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.lst_peg import PegReference, depegged_lsts
from dnbot.domain.positions import Position, PositionStatus, reserved_capital_usd
from dnbot.domain.presets import UserSettings
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.rebalance import rebalance_target
from dnbot.domain.risk import RiskReadings
from dnbot.domain.risk_warnings import RISK_WARNING, assess_warnings, decode_warned, encode_warned
from dnbot.domain.strategy import Close, Hold, LivePosition, Open, Rebalance, decide_for_user
from dnbot.ports import (
    ActivityLog,
    BridgeTransferStore,
    CapitalSource,
    Clock,
    FanOutReads,
    FundingSource,
    KillSwitchReader,
    OpenGuard,
    PositionConflict,
    PositionStore,
    RatesStore,
    RiskReader,
    StakePoolReader,
    UserStore,
    WorkflowStarter,
    WorkQueue,
)
from dnbot.services.positions import OpenInFlight, PositionService
from dnbot.services.preflight_checks import lst_fair_references
from dnbot.services.rates import (
    STRATEGY_HISTORY_HOURS,
    StrategyHistory,
    history_of,
    markets_from_json,
    markets_to_json,
    outlook_from_json,
    outlook_to_json,
)

logger = logging.getLogger(__name__)

# the venue's settled hourly rates: up to 20 days in one /info call (Hyperliquid answers 500 rows at most); the
# poller's hourly store (rates.strategy_history) holds the strategy's full 60-day lookback once it has run that long
FUNDING_HISTORY_HOURS = 480
USERS_PER_PAGE = 100  # per page message: one query and ten SendMessageBatch calls
TRANSIT_WAIT = timedelta(hours=1)  # an open waits this long at most for USDC moving between the venues
CLOSE_ALL_REASON = "operator kill switch: close-all"
PEAK_WRITE_STEP = Decimal("0.001")  # the stored peak equity moves by at least 0.1 % a write

Message = dict[str, Any]


@dataclass
class TickReport:
    kill_switch: str
    enqueued: int = 0  # page messages handed to the workers
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerOutcome:
    """What one message did (logged; the tests and the benchmark read it)."""

    kind: str
    user_id: str | None = None
    enqueued: int = 0
    opened: list[str] = field(default_factory=list)  # job ids
    closed: list[str] = field(default_factory=list)
    held: str | None = None  # why nothing opened
    left_out: dict[str, str] = field(default_factory=dict)  # LST -> why the user may not open it (its depeg)
    rebalanced: dict[str, str] = field(default_factory=dict)  # position id -> the rebalance execution started


class StrategyTick:
    """O(1) per invocation: a few reads and two messages."""

    def __init__(self, rates: RatesStore, funding: FundingSource, kill_switch: KillSwitchReader, queue: WorkQueue,
                 clock: Clock, stake_pools: StakePoolReader | None = None) -> None:
        """`stake_pools`: the LSTs' redemption rates on chain, the peg reference (None: the market's only)."""
        self._stake_pools = stake_pools
        self._rates = rates
        self._funding = funding
        self._kill_switch = kill_switch
        self._queue = queue
        self._clock = clock

    def run(self) -> TickReport:
        switch = self._kill_switch.kill_switch()
        report = TickReport(kill_switch=switch.value)
        if switch is KillSwitch.CLOSE_ALL:
            self._queue.send_batch([{"kind": "close_page", "cursor": None}])
            report.enqueued = 1
            return report
        snapshot = self._rates.latest_snapshot()
        if snapshot is None:
            report.errors["*"] = "no rates snapshot yet"
            return report
        try:
            history = self._funding.funding_history_hourly(FUNDING_HISTORY_HOURS)
        except Exception as error:  # risk exits must still run: without history nothing opens, exits still do
            logger.exception("funding history unavailable")
            report.errors["funding_history"] = f"{type(error).__name__}: {error}"
            history = []
        hourly = None  # the stored hourly snapshots, read once for the strategy history and the peg reference
        try:
            hourly = self._rates.hourly_snapshots(self._clock.now() - timedelta(hours=STRATEGY_HISTORY_HOURS))
            stored = history_of(hourly)
        except Exception as error:  # the venue's 20 days still give the strategy a (shorter) horizon
            logger.exception("stored rates history unavailable")
            report.errors["rates_history"] = f"{type(error).__name__}: {error}"
            stored = StrategyHistory([], ())
        references: dict[Asset, PegReference] = {}
        try:
            fair, references = lst_fair_references(self._rates, snapshot, hourly, self._stake_pools)
        except Exception as error:  # the open's preflight still refuses a depegged LST
            logger.exception("LST peg reference unavailable")
            report.errors["lst_peg"] = f"{type(error).__name__}: {error}"
            fair = {}
        context = tick_context(switch, snapshot, history, self._clock.now(), stored, fair, references)
        self._queue.send_batch([{"kind": "users_page", "cursor": None, "context": context},
                                {"kind": "protect_page", "cursor": None, "context": context}])
        report.enqueued = 2
        return report


def tick_context(switch: KillSwitch, snapshot: RatesSnapshot, history: list[Decimal], now: datetime,
                 stored: StrategyHistory | None = None,
                 lst_fair_rates: dict[Asset, Decimal] | None = None,
                 lst_references: dict[Asset, PegReference] | None = None) -> Message:
    """What the tick read once, handed to every user's message: the strategy's outlook per preset window
    (computed here once, from the longer of the stored and the venue's funding history), each market's
    mean over the lookback and each LST's fair SOL rate and its reference (`lst_fair_references`); the last two
    days of funding ride along for the record."""
    longer = stored.funding_history_hourly if stored and len(stored.funding_history_hourly) > len(history) \
        else history
    both = StrategyHistory(longer, stored.market_means if stored else ())
    return {"kill_switch": switch.value, "snapshot_at": snapshot.at.isoformat(),
            "funding_history_hourly": [str(rate) for rate in history[-48:]], "tick_at": now.isoformat(),
            "outlooks": {str(hours): outlook_to_json(o) for hours, o in both.outlooks().items()},
            "market_means": markets_to_json(both.market_means),
            "lst_fair_sol_rates": {asset.value: str(rate) for asset, rate in (lst_fair_rates or {}).items()},
            "lst_fair_sol_references": {asset.value: ref.value for asset, ref in (lst_references or {}).items()}}


class TickWorker:
    """One message of the fan-out: a page of users or positions, one user's decision, or one close."""

    def __init__(self, users: UserStore, positions: PositionStore, pages: FanOutReads, rates: RatesStore,
                 capital: CapitalSource, risk: RiskReader, guard: OpenGuard, position_service: PositionService,
                 queue: WorkQueue, clock: Clock, rebalances: WorkflowStarter | None = None,
                 activity: ActivityLog | None = None, transfers: BridgeTransferStore | None = None) -> None:
        """`rebalances`: a Rebalance decision starts the rebalance workflow (both legs shrink in place); without
        it the position closes (the next tick re-enters if the carry still clears the bar). `activity`: a risk
        reading crossing its warning level is recorded there once (`risk_warning`). `transfers`: the user's
        bridge transfers; an open waits while one is in flight (the close's capital split: services/
        capital_balance.py), so that it is sized on the capital where it lands."""
        self._transfers = transfers
        self._rebalances = rebalances
        self._activity = activity
        self._users = users
        self._positions = positions
        self._pages = pages
        self._rates = rates
        self._capital = capital
        self._risk = risk
        self._guard = guard
        self._position_service = position_service
        self._queue = queue
        self._clock = clock
        self._snapshot: RatesSnapshot | None = None  # one read per tick per worker container

    def handle(self, message: Message) -> WorkerOutcome:
        kind = message["kind"]
        if kind == "users_page":
            ids, cursor = self._pages.running_users_page(message.get("cursor"), USERS_PER_PAGE)
            context = message["context"]
            follow: list[Message] = [{"kind": "user", "user_id": user_id, "context": context} for user_id in ids]
            if cursor is not None:
                follow.append({"kind": "users_page", "cursor": cursor, "context": context})
            self._queue.send_batch(follow)
            return WorkerOutcome(kind, enqueued=len(follow))
        if kind == "protect_page":  # every open position's user; only those whose bot is not running act
            positions, cursor = self._pages.positions_with_status_page(
                PositionStatus.OPEN, message.get("cursor"), USERS_PER_PAGE)
            context = message["context"]
            users = dict.fromkeys(p.user_id for p in positions)  # one message per user, in page order
            follow = [{"kind": "protect", "user_id": user_id, "context": context} for user_id in users]
            if cursor is not None:
                follow.append({"kind": "protect_page", "cursor": cursor, "context": context})
            self._queue.send_batch(follow)
            return WorkerOutcome(kind, enqueued=len(follow))
        if kind == "close_page":
            positions, cursor = self._pages.positions_with_status_page(
                PositionStatus.OPEN, message.get("cursor"), USERS_PER_PAGE)
            follow = [{"kind": "close", "user_id": p.user_id, "position_id": p.position_id} for p in positions]
            if cursor is not None:
                follow.append({"kind": "close_page", "cursor": cursor})
            self._queue.send_batch(follow)
            return WorkerOutcome(kind, enqueued=len(follow))
        if kind == "close":  # close-all's, or the close a failed rebalance asks for (its reason)
            job = self._position_service.request_close(message["user_id"], message["position_id"],
                                                       message.get("reason") or CLOSE_ALL_REASON)
            return WorkerOutcome(kind, user_id=message["user_id"], closed=[job.job_id])
        if kind in ("user", "protect"):
            return self._decide(message["user_id"], message["context"], protect_only=kind == "protect")
        raise ValueError(f"unknown fan-out message kind {kind!r}")

    def _latest_snapshot(self, at: str) -> RatesSnapshot | None:
        if self._snapshot is None or self._snapshot.at.isoformat() != at:
            self._snapshot = self._rates.latest_snapshot()
        return self._snapshot

    def _decide(self, user_id: str, context: Message, *, protect_only: bool = False) -> WorkerOutcome:
        """A running user's whole decision (a user message), or a paused or stopped user's protection (a protect
        message): each user is decided by exactly one of the two each tick."""
        outcome = WorkerOutcome("protect" if protect_only else "user", user_id=user_id)
        user = self._users.get_user(user_id)
        snapshot = self._latest_snapshot(context["snapshot_at"])
        if user is None or snapshot is None:
            outcome.held = "no such user" if snapshot is not None else "no rates snapshot"
            return outcome
        running = user.bot_status == "running"
        if running == protect_only:
            outcome.held = "bot running: decided from the users' page" if running else "bot not running"
            return outcome
        settings = UserSettings.create(**user.settings) if user.settings else UserSettings.create()
        positions = self._positions.list_positions(user_id)
        live = [LivePosition(p, self._watch(p, self._risk.readings(p), settings) if p.status is PositionStatus.OPEN
                             else RiskReadings()) for p in positions if p.status.is_live]
        now = self._clock.now()
        # the capital running opens reserved is not free, even where the venues' balances still show it
        free = self._capital.free_capital_usd(user) - reserved_capital_usd(positions) if running else Decimal(0)
        outlook = context.get("outlooks", {}).get(str(settings.preset.persistence_hours))
        snapshot = self._open_markets(user_id, snapshot, context, settings, live, outcome)
        decision = decide_for_user(
            snapshot=snapshot, funding_history_hourly=[Decimal(r) for r in context["funding_history_hourly"]],
            positions=live, free_capital_usd=max(free, Decimal(0)), settings=settings,
            kill_switch=KillSwitch(context["kill_switch"]), now=now,
            outlook=None if outlook is None else outlook_from_json(outlook),
            market_means=markets_from_json(context.get("market_means", [])), strategy_on=running)
        readings = {held.position.position_id: held.readings for held in live}
        by_id = {held.position.position_id: held.position for held in live}
        for item in decision.decisions:
            position_id = getattr(item, "position_id", None)
            in_flight = position_id in by_id and by_id[position_id].rebalancing is not None
            if isinstance(item, Close | Rebalance) and in_flight:
                # its rebalance workflow is trading: a close now would buy back the short the rebalance is
                # resizing; the next tick decides again on the legs it leaves
                outcome.rebalanced[item.position_id] = "in_flight"
            elif isinstance(item, Rebalance) and self._rebalances is not None:
                # the rebalance workflow shrinks both legs in place; if it cannot (no reduction restores the
                # distance, a venue refused), it asks for the close through this queue
                target = rebalance_target(readings[item.position_id].liquidation_distance_at_open)
                outcome.rebalanced[item.position_id] = self._rebalances.start_rebalance(
                    by_id[item.position_id], item.reason, target)
            elif isinstance(item, Close | Rebalance):
                # no rebalance workflow here (paper venues cannot shrink legs in place): a rebalance is a close,
                # and the next tick re-enters at the current price if the carry still clears the bar
                reason = item.reason if isinstance(item, Close) else f"rebalance: {item.reason}"
                outcome.closed.append(self._position_service.request_close(user_id, item.position_id, reason).job_id)
            elif isinstance(item, Open):
                held = self._backing_off(user_id, now) or self._usdc_in_transit(user_id)
                if held is not None:
                    outcome.held = held
                    continue
                try:
                    job = self._position_service.start_open(user_id, item.asset, item.protocol, item.leverage,
                                                            item.notional_usd, item.reason)
                except OpenInFlight as error:  # another tick's open for this user won the lock
                    outcome.held = str(error)
                    continue
                outcome.opened.append(job.job_id)
            elif isinstance(item, Hold) and item.position_id is None:
                outcome.held = item.reason
        if outcome.held is not None and outcome.left_out:
            outcome.held += " (left out: " + "; ".join(outcome.left_out.values()) + ")"
        return outcome

    def _usdc_in_transit(self, user_id: str) -> str | None:
        """Why an open waits: a bridge transfer of the user's is moving (its USDC is between the venues). One stuck
        past TRANSIT_WAIT, or left to an operator, no longer holds opens back: the next is sized on what is free."""
        if self._transfers is None:
            return None
        now = self._clock.now()
        moving = [t for t in self._transfers.list_for_user(user_id)
                  if t.state in MOVING and now - t.updated_at < TRANSIT_WAIT]
        if not moving:
            return None
        return (f"waiting for {len(moving)} USDC transfer(s) between the venues to land ({moving[0].transfer_id}) "
                "before opening")

    def _open_markets(self, user_id: str, snapshot: RatesSnapshot, context: Message, settings: UserSettings,
                      live: list[LivePosition], outcome: WorkerOutcome) -> RatesSnapshot:
        """The snapshot without the markets of an LST depegged past the user's `max_depeg` (against the tick's
        fair rates, the open preflight's reference), so the strategy picks the best healthy pair instead of one
        the preflight would refuse. A user with a live position opens nothing (one position per user): their
        snapshot stays whole, for the exits (a held LST's own breaker closes it on a depeg)."""
        if live:
            return snapshot
        fair = {Asset.parse(asset): Decimal(rate) for asset, rate in context.get("lst_fair_sol_rates", {}).items()}
        references = {Asset.parse(asset): PegReference(ref)
                      for asset, ref in context.get("lst_fair_sol_references", {}).items()}
        depegged = depegged_lsts(snapshot, fair, settings.exits.max_depeg, references)
        if not depegged:
            return snapshot
        outcome.left_out = {asset.value: reason for asset, reason in depegged.items()}
        for reason in depegged.values():
            logger.info("user %s: left out of the open choice: %s", user_id, reason)
        return replace(snapshot, markets=tuple(m for m in snapshot.markets if m.asset not in depegged))

    def _watch(self, position: Position, readings: RiskReadings, settings: UserSettings) -> RiskReadings:
        """Keep the peak equity, then tell the trader once when a reading crosses its warning level."""
        position, readings = self._peak(position, readings)
        self._warn(position, readings, settings)
        return readings

    def _peak(self, position: Position, readings: RiskReadings) -> tuple[Position, RiskReadings]:
        """Drawdown is measured from the position's peak equity: a higher reading than the stored peak is kept on
        the position (one conditional write; a writer that got there first wins, the next tick tries again)."""
        equity, peak = readings.equity_usd, readings.peak_equity_usd
        if equity is None or (peak is not None and equity <= peak):
            return position, readings
        stored = position.peak_equity_usd
        if stored is not None and equity <= stored * (1 + PEAK_WRITE_STEP):
            return position, replace(readings, peak_equity_usd=equity)  # a new high by a hair: not worth a write
        try:
            position = self._positions.save_position(replace(position, peak_equity_usd=equity))
        except PositionConflict:
            logger.info("peak equity of %s not kept: the position changed", position.position_id)
        return position, replace(readings, peak_equity_usd=equity)

    def _warn(self, position: Position, readings: RiskReadings, settings: UserSettings) -> None:
        """One `risk_warning` per crossing: the warned checks are kept on the position by a conditional write, and
        only the writer that won records the event (a message delivered twice, or two workers, warn once)."""
        if self._activity is None:
            return
        state = assess_warnings(readings, settings.exits, decode_warned(position.risk_warned),
                                rebalances_in_place=position.protocol.rebalances_in_place)
        stored = encode_warned(state.warned)
        if stored == position.risk_warned:
            return
        try:
            self._positions.save_position(replace(position, risk_warned=stored))
        except PositionConflict:
            logger.info("risk warning state of %s not kept: the position changed", position.position_id)
            return
        if state.new:
            detail = {w.check.value: format(w.reading, "f") for w in state.new}
            self._activity.record(
                position.user_id, RISK_WARNING,
                f"Liquidation warning on {position.asset.value}: "
                + "; ".join(w.explanation for w in state.new) + ". The bot keeps watching and acts at the exit level.",
                position.position_id, **detail)

    def _backing_off(self, user_id: str, now: datetime) -> str | None:
        backoff = self._guard.open_backoff(user_id)
        if backoff is None or backoff.until <= now:
            return None
        return (f"backing off after {backoff.failures} failed open(s): no automatic open before "
                f"{backoff.until.isoformat(timespec='seconds')}")

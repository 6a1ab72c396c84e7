"""The strategy tick (EventBridge, every minute): protect what is open, then open what clears the bar.

For each running user it gathers the inputs of `dnbot.domain.strategy.decide_for_user` (the same function the
backtester replays) and turns its decisions into workflows. The kill switch's close-all also reaches users
whose bot is paused: every open position is closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from dnbot.domain.positions import PositionStatus
from dnbot.domain.presets import UserSettings
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.risk import RiskReadings
from dnbot.domain.strategy import Close, Hold, LivePosition, Open, Rebalance, decide_for_user
from dnbot.ports import (
    CapitalSource,
    Clock,
    FundingSource,
    KillSwitchReader,
    PositionStore,
    RatesStore,
    RiskReader,
    UserRecord,
    UserStore,
)
from dnbot.resources import KillSwitch
from dnbot.services.positions import PositionService

logger = logging.getLogger(__name__)

FUNDING_HISTORY_HOURS = 48  # covers every preset's persistence window


@dataclass
class TickReport:
    kill_switch: str
    users: int = 0
    opened: list[str] = field(default_factory=list)  # job ids
    closed: list[str] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # user id -> why nothing opened
    errors: dict[str, str] = field(default_factory=dict)


class StrategyTick:
    def __init__(self, users: UserStore, positions: PositionStore, rates: RatesStore, funding: FundingSource,
                 kill_switch: KillSwitchReader, capital: CapitalSource, risk: RiskReader,
                 position_service: PositionService, clock: Clock) -> None:
        self._users = users
        self._positions = positions
        self._rates = rates
        self._funding = funding
        self._kill_switch = kill_switch
        self._capital = capital
        self._risk = risk
        self._position_service = position_service
        self._clock = clock

    def run(self) -> TickReport:
        switch = self._kill_switch.kill_switch()
        report = TickReport(kill_switch=switch.value)
        if switch is KillSwitch.CLOSE_ALL:
            for position in self._positions.positions_with_status(PositionStatus.OPEN):
                job = self._position_service.request_close(position.user_id, position.position_id,
                                                           "operator kill switch: close-all")
                report.closed.append(job.job_id)
            return report
        snapshot = self._rates.latest_snapshot()
        if snapshot is None:
            report.errors["*"] = "no rates snapshot yet"
            return report
        try:
            history = self._funding.funding_history_hourly(FUNDING_HISTORY_HOURS)
        except Exception as error:  # no history: rate-based exits and opens wait, the risk exits still act
            logger.warning("funding history unavailable this tick: %s", error)
            report.errors["funding_history"] = f"{type(error).__name__}: {error}"
            history = []
        for user_id in self._users.running_user_ids():
            user = self._users.get_user(user_id)
            if user is None:
                continue
            report.users += 1
            try:
                self._tick_user(user, snapshot, history, switch, report)
            except Exception as error:  # one user's failure must not starve the others
                logger.exception("tick failed for user %s", user_id)
                report.errors[user_id] = f"{type(error).__name__}: {error}"
        return report

    def _tick_user(self, user: UserRecord, snapshot: RatesSnapshot, history: list[Decimal], switch: KillSwitch,
                   report: TickReport) -> None:
        settings = UserSettings.create(**user.settings) if user.settings else UserSettings.create()
        live = [LivePosition(p, self._risk.readings(p) if p.status is PositionStatus.OPEN else RiskReadings())
                for p in self._positions.list_positions(user.user_id) if p.status.is_live]
        decision = decide_for_user(
            snapshot=snapshot, funding_history_hourly=history, positions=live,
            free_capital_usd=self._capital.free_capital_usd(user), settings=settings, kill_switch=switch,
            now=self._clock.now())
        for item in decision.decisions:
            if isinstance(item, Close | Rebalance):
                # A rebalance re-centres both legs; until a dedicated workflow exists it is a close, and the
                # next tick re-enters at the current price if the carry still clears the bar.
                reason = item.reason if isinstance(item, Close) else f"rebalance: {item.reason}"
                job = self._position_service.request_close(user.user_id, item.position_id, reason)
                report.closed.append(job.job_id)
            elif isinstance(item, Open):
                job = self._position_service.start_open(user.user_id, item.asset, item.protocol, item.leverage,
                                                        item.notional_usd, item.reason)
                report.opened.append(job.job_id)
            elif isinstance(item, Hold) and item.position_id is None:
                report.held[user.user_id] = item.reason

"""Opening and closing positions on a user's request: validate, record, and hand over to the workflow."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.pnl import CENT
from dnbot.domain.positions import (
    Job,
    JobKind,
    JobStatus,
    Position,
    PositionStatus,
    StageStatus,
    capital_of,
    reserved_capital_usd,
)
from dnbot.domain.presets import Preset, UserSettings
from dnbot.domain.strategy import rank_markets
from dnbot.ports import (
    CapitalSource,
    Clock,
    JobStore,
    KillSwitchReader,
    OpenGuard,
    PositionStore,
    RatesStore,
    UserStore,
    WorkflowStarter,
)
from dnbot.services.errors import Conflict, NotFound, ServiceError, Unavailable

MIN_LEVERAGE = Decimal(2)
MAX_LEVERAGE = Decimal(4)
MIN_NOTIONAL_USD = Decimal(10)  # Hyperliquid's minimum order value
# How long an open may hold the user's "open in flight" lock if its workflow never reaches MarkOpen/MarkFailed
# (every Task times out, retries are bounded: an open ends well within this).
OPEN_LOCK_HOLD = timedelta(minutes=30)


class OpenInFlight(Conflict):
    code = "open_in_flight"


class InsufficientCapital(ServiceError):
    code = "insufficient_capital"


class PositionService:
    def __init__(self, positions: PositionStore, jobs: JobStore, rates: RatesStore, workflows: WorkflowStarter,
                 clock: Clock, *, guard: OpenGuard, users: UserStore, capital: CapitalSource,
                 kill_switch: KillSwitchReader | None = None) -> None:
        self._kill_switch = kill_switch
        self._positions = positions
        self._jobs = jobs
        self._rates = rates
        self._workflows = workflows
        self._clock = clock
        self._guard = guard
        self._users = users
        self._capital = capital

    def request_open(self, user_id: str, asset: Asset, protocol: Protocol | None, leverage: Decimal,
                     size_usd: Decimal) -> Job:
        """`size_usd` is the capital committed (Asgard collateral + Hyperliquid margin); notional = size x L / 2."""
        if not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE:
            raise ServiceError(f"Leverage must be between {MIN_LEVERAGE}x and {MAX_LEVERAGE}x.",
                               code="invalid_leverage")
        notional = size_usd * leverage / 2
        if notional < MIN_NOTIONAL_USD:
            raise ServiceError(f"Each leg must be at least ${MIN_NOTIONAL_USD} (Hyperliquid's minimum); "
                               f"${size_usd} at {leverage}x gives ${notional:.2f}.", code="size_too_small")
        self._check_max_size(user_id, size_usd)
        self._refuse_if_killed()
        snapshot = self._rates.latest_snapshot()
        if snapshot is None:
            raise Unavailable("No rates yet; try again in a minute.", code="no_rates_yet")
        offered = [m for m in snapshot.markets if m.asset is asset and (protocol is None or m.protocol is protocol)]
        where = f" on {protocol.display_name}" if protocol else ""
        if not offered:
            raise ServiceError(f"{asset.value}{where} is not offered by Asgard right now.", code="no_market")
        # "best" prefers a protocol where Asgard can re-centre the long in place (Kamino, Drift); a protocol the
        # user names is theirs to choose, and the reason says what it means
        in_place = [m for m in offered if m.protocol.rebalances_in_place]
        ranked = rank_markets(in_place if protocol is None and in_place else offered,
                              snapshot.funding.funding_hourly, leverage, DEFAULT_FEES,
                              Preset.parse("balanced").expected_holding_hours, size_usd)
        if not ranked:
            caps = ", ".join(f"{m.protocol.display_name} {m.max_leverage}x" for m in offered if m.max_leverage)
            raise ServiceError(f"{asset.value}{where} cannot take {leverage}x at ${size_usd}"
                               + (f" (max leverage: {caps})" if caps else " (capacity)"), code="over_market_limits")
        chosen = ranked[0].market.protocol
        reason = "requested by user"
        if not chosen.rebalances_in_place:
            reason += (f" (on {chosen.display_name} Asgard cannot re-centre the long in place: if it drifts toward "
                       "liquidation the bot closes it instead of rebalancing)")
        return self.start_open(user_id, asset, chosen, leverage, notional, reason)

    def _refuse_if_killed(self) -> None:
        """The operator's kill switch refuses a user's open here, before anything is recorded (the open's
        Preflight reads it again, fresh: a switch flipped after this check still stops the open)."""
        switch = self._kill_switch.kill_switch() if self._kill_switch is not None else KillSwitch.OFF
        if switch is not KillSwitch.OFF:
            raise Conflict(f"The operator's kill switch is {switch.value}: no new positions open until it is off; "
                           "open positions are still protected.", code="kill_switch")

    def start_open(self, user_id: str, asset: Asset, protocol: Protocol, leverage: Decimal,
                   notional_usd: Decimal, reason: str) -> Job:
        """Take the user's "open in flight" lock (one conditional write: a second open while one runs is
        refused, however the two were started), check the capital still free of what running opens reserved,
        record the position (pending) and its job, then start the open workflow. MarkOpen / MarkFailed release
        the lock."""
        now = self._clock.now()
        position = Position(
            position_id=uuid.uuid4().hex, user_id=user_id, asset=asset, protocol=protocol,
            leverage=leverage, target_notional_usd=notional_usd.quantize(CENT),
            status=PositionStatus.PENDING, created_at=now, updated_at=now,
        )
        holder = self._guard.acquire_open(user_id, position.position_id, OPEN_LOCK_HOLD)
        if holder is not None:
            raise OpenInFlight(f"An open is already in flight for this account (position {holder}); "
                               "wait for it to finish.")
        try:
            self._check_capital(user_id, position)
            job = Job(job_id=uuid.uuid4().hex, user_id=user_id, position_id=position.position_id,
                      kind=JobKind.OPEN, status=JobStatus.RUNNING, created_at=now, updated_at=now,
                      ).with_stage("queued", StageStatus.DONE, now, reason)
            self._positions.create_position(position)
            self._jobs.put_job(job)
        except Exception:
            self._guard.release_open(user_id, position.position_id)
            raise
        try:
            self._workflows.start_open(position, job.job_id)
        except Exception as error:  # nothing was placed: the position fails here, and the lock goes
            failure = f"the open workflow did not start: {type(error).__name__}: {error}"
            self._positions.save_position(position.moved_to(PositionStatus.FAILED, self._clock.now(),
                                                            failure=failure))
            self._jobs.put_job(job.finished(JobStatus.FAILED, self._clock.now(), failure))
            self._guard.release_open(user_id, position.position_id)
            raise
        return job

    def _check_max_size(self, user_id: str, size_usd: Decimal) -> None:
        """The user's own cap on one position's capital (Settings); the dashboard checks the same number."""
        user = self._users.get_user(user_id)
        if user is None:
            raise NotFound("No such user.", code="unknown_user")
        cap = (UserSettings.create(**user.settings) if user.settings else UserSettings.create()).max_position_usd
        if size_usd > cap:
            raise ServiceError(f"That is more than your maximum position size of ${cap:,.2f}: lower the size, or "
                               "raise the maximum in Settings.", code="over_max_position")

    def _check_capital(self, user_id: str, position: Position) -> None:
        """Free capital at the venues minus what running opens reserved must cover this position."""
        user = self._users.get_user(user_id)
        if user is None:
            raise NotFound("No such user.", code="unknown_user")
        reserved = reserved_capital_usd(self._positions.list_positions(user_id))
        available = self._capital.free_capital_usd(user) - reserved
        needed = capital_of(position)
        if needed > available:
            raise InsufficientCapital(f"${needed:.2f} needed but ${max(available, Decimal(0)):.2f} is free "
                                      f"(${reserved:.2f} reserved by opens in flight; each venue holds half): "
                                      "deposit USDC or lower the size.")

    def request_close(self, user_id: str, position_id: str, reason: str = "requested by user") -> Job:
        """Start the close, or join the one already running: the execution is named after the position, so a
        duplicate (a double click, two ticks, close-all twice) returns the running close's job."""
        position = self.get(user_id, position_id)
        if position.status not in {PositionStatus.OPEN, PositionStatus.NEEDS_ATTENTION, PositionStatus.CLOSING}:
            raise Conflict(f"Position is {position.status.value}; only an open position can be closed.",
                           code="not_open")
        now = self._clock.now()
        job = Job(job_id=uuid.uuid4().hex, user_id=user_id, position_id=position_id, kind=JobKind.CLOSE,
                  status=JobStatus.RUNNING, created_at=now, updated_at=now,
                  ).with_stage("queued", StageStatus.DONE, now, reason)
        self._jobs.put_job(job)
        running = self._workflows.start_close(position, job.job_id, reason)
        if running == job.job_id:
            return job
        self._jobs.put_job(job.finished(JobStatus.FAILED, self._clock.now(),
                                        f"a close of this position is already running (job {running})"))
        existing = self._jobs.get_job(running)
        if existing is None:
            raise Unavailable("The close already running has no job record yet; retry shortly.",
                              code="close_starting")
        return existing

    def get(self, user_id: str, position_id: str) -> Position:
        position = self._positions.get_position(user_id, position_id)
        if position is None:
            raise NotFound("No such position.", code="position_not_found")
        return position

    def list(self, user_id: str) -> list[Position]:
        return self._positions.list_positions(user_id)

    def job(self, user_id: str, job_id: str) -> Job:
        job = self._jobs.get_job(job_id)
        if job is None or job.user_id != user_id:  # another user's job is as good as absent
            raise NotFound("No such job.", code="job_not_found")
        return job

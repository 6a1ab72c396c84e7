"""Opening and closing positions on a user's request: validate, record, and hand over to the workflow."""

from __future__ import annotations

import uuid
from decimal import Decimal

from dnbot.domain.assets import Asset, Protocol
from dnbot.domain.carry import DEFAULT_FEES
from dnbot.domain.positions import Job, JobKind, JobStatus, Position, PositionStatus, StageStatus
from dnbot.domain.presets import Preset
from dnbot.domain.strategy import rank_markets
from dnbot.ports import Clock, JobStore, PositionStore, RatesStore, WorkflowStarter
from dnbot.services.errors import Conflict, NotFound, ServiceError, Unavailable

MIN_LEVERAGE = Decimal(2)
MAX_LEVERAGE = Decimal(4)
MIN_NOTIONAL_USD = Decimal(10)  # Hyperliquid's minimum order value


class PositionService:
    def __init__(self, positions: PositionStore, jobs: JobStore, rates: RatesStore, workflows: WorkflowStarter,
                 clock: Clock) -> None:
        self._positions = positions
        self._jobs = jobs
        self._rates = rates
        self._workflows = workflows
        self._clock = clock

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
        snapshot = self._rates.latest_snapshot()
        if snapshot is None:
            raise Unavailable("No rates yet; try again in a minute.", code="no_rates_yet")
        offered = [m for m in snapshot.markets if m.asset is asset and (protocol is None or m.protocol is protocol)]
        where = f" on {protocol.label}" if protocol else ""
        if not offered:
            raise ServiceError(f"{asset.value}{where} is not offered by Asgard right now.", code="no_market")
        ranked = rank_markets(offered, snapshot.funding.funding_hourly, leverage, DEFAULT_FEES,
                              Preset.parse("balanced").expected_holding_hours, size_usd)
        if not ranked:
            caps = ", ".join(f"{m.protocol.label} {m.max_leverage}x" for m in offered if m.max_leverage)
            raise ServiceError(f"{asset.value}{where} cannot take {leverage}x at ${size_usd}"
                               + (f" (max leverage: {caps})" if caps else " (capacity)"), code="over_market_limits")
        return self.start_open(user_id, asset, ranked[0].market.protocol, leverage, notional, "requested by user")

    def start_open(self, user_id: str, asset: Asset, protocol: Protocol, leverage: Decimal,
                   notional_usd: Decimal, reason: str) -> Job:
        """Record the position (pending) and its job, then start the open workflow."""
        now = self._clock.now()
        position = Position(
            position_id=uuid.uuid4().hex, user_id=user_id, asset=asset, protocol=protocol,
            leverage=leverage, target_notional_usd=notional_usd.quantize(Decimal("0.01")),
            status=PositionStatus.PENDING, created_at=now, updated_at=now,
        )
        job = Job(job_id=uuid.uuid4().hex, user_id=user_id, position_id=position.position_id,
                  kind=JobKind.OPEN, status=JobStatus.RUNNING, created_at=now, updated_at=now,
                  ).with_stage("queued", StageStatus.DONE, now, reason)
        self._positions.create_position(position)
        self._jobs.put_job(job)
        self._workflows.start_open(position, job.job_id)
        return job

    def request_close(self, user_id: str, position_id: str, reason: str = "requested by user") -> Job:
        position = self.get(user_id, position_id)
        if position.status is not PositionStatus.OPEN and position.status is not PositionStatus.NEEDS_ATTENTION:
            raise Conflict(f"Position is {position.status.value}; only an open position can be closed.",
                           code="not_open")
        now = self._clock.now()
        job = Job(job_id=uuid.uuid4().hex, user_id=user_id, position_id=position_id, kind=JobKind.CLOSE,
                  status=JobStatus.RUNNING, created_at=now, updated_at=now,
                  ).with_stage("queued", StageStatus.DONE, now, reason)
        self._jobs.put_job(job)
        self._workflows.start_close(position, job.job_id, reason)
        return job

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

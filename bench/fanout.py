"""`make bench`, the tick's fan-out: the strategy tick for N simulated users (10,000 by default), through the
production services (StrategyTick, TickWorker, PositionService) on in-memory ports, delivered as SQS would
(batches of ten messages per worker invocation).

Prints the time of the invocation nearest its function's own Lambda timeout (the tick itself against
strategy_tick's, or one worker batch against strategy_worker's, as dnbot.resources deploys them) and the total, and
the AWS/venue calls of the busiest invocation (the in-memory ports are free; a real call is not, so each is also
priced at CALL_MS to show where the timeout would bite).
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dnbot.backtest.history import MarketHistory
from dnbot.domain.kill_switch import KillSwitch
from dnbot.domain.lst_peg import PegQuote
from dnbot.domain.positions import Job, Position, PositionStatus
from dnbot.domain.rates import RatesSnapshot
from dnbot.domain.risk import RiskReadings
from dnbot.ports import OpenBackoff, UserRecord
from dnbot.resources import USER_QUEUE, function
from dnbot.services.positions import PositionService
from dnbot.services.tick import StrategyTick, TickWorker

RICH_FUNDING_HOURLY = Decimal("0.0003")
CALL_MS = 20.0  # a typical DynamoDB / SQS / Step Functions / venue round trip from Lambda, for the estimate
TICK, WORKER = "strategy_tick", "strategy_worker"  # the functions whose invocations this benchmark times


def timeout_seconds(function_name: str) -> int:
    """The function's own Lambda timeout as deployed (dnbot.resources.FUNCTIONS): the limit each of its invocations
    must fit in (the tick's is not the worker's)."""
    return function(function_name).timeout_seconds


def against_timeout(function_name: str, seconds: float) -> str:
    """`seconds` of one invocation of `function_name` against that function's timeout, as the report prints it."""
    limit = timeout_seconds(function_name)
    return f"timeout {limit} s ({function_name}): {'OK' if seconds < limit else 'OVER'}"


@dataclass
class Memory:
    """Every port the tick and its workers use, in memory, counting each call as the I/O it stands for."""

    snapshot: RatesSnapshot
    history: list[Decimal]
    users: dict[str, UserRecord] = field(default_factory=dict)
    positions: dict[str, dict[str, Position]] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    calls: Counter[str] = field(default_factory=Counter)

    # Clock, RatesStore, FundingSource, KillSwitchReader
    def _io(self, kind: str) -> None:
        self.calls[kind] += 1

    def latest_snapshot(self) -> RatesSnapshot:
        self._io("dynamodb")
        return self.snapshot

    def put_snapshot(self, snapshot: RatesSnapshot) -> None:
        self.snapshot = snapshot

    def hourly_snapshots(self, since: datetime) -> list[RatesSnapshot]:
        self._io("dynamodb")
        return []  # no stored history: the strategy's horizon comes from the venue's funding history

    def peg_quotes(self, since: datetime) -> list[PegQuote]:
        self._io("dynamodb")
        return []  # no stored LST rates: the latest snapshot is its own peg reference

    def funding_history_hourly(self, hours: int) -> list[Decimal]:
        self._io("venue")
        return self.history[-hours:]

    def sol_funding(self) -> Any:
        return self.snapshot.funding

    def kill_switch(self, *, fresh: bool = False) -> KillSwitch:
        self._io("ssm")
        return KillSwitch.OFF

    # WorkQueue (SendMessageBatch: one call per ten)
    def send_batch(self, messages: list[dict[str, Any]]) -> None:
        self.calls["sqs"] += (len(messages) + 9) // 10
        self.queue.extend(json.dumps(m) for m in messages)

    # FanOutReads
    def running_users_page(self, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        self._io("dynamodb")
        ids = sorted(self.users)
        start = int(cursor or 0)
        end = start + limit
        return ids[start:end], (str(end) if end < len(ids) else None)

    def positions_with_status_page(self, status: PositionStatus, cursor: str | None,
                                   limit: int) -> tuple[list[Position], str | None]:
        self._io("dynamodb")
        every = [p for held in self.positions.values() for p in held.values() if p.status is status]
        start = int(cursor or 0)
        return every[start:start + limit], (str(start + limit) if start + limit < len(every) else None)

    # UserStore, PositionStore, JobStore
    def get_user(self, user_id: str) -> UserRecord | None:
        self._io("dynamodb")
        return self.users.get(user_id)

    def find_user_by_email(self, email: str) -> UserRecord | None:
        raise AssertionError("not used by the tick")

    def put_user(self, user: UserRecord) -> None:
        self.users[user.user_id] = user

    def running_user_ids(self) -> list[str]:
        raise AssertionError("the fan-out reads running users a page at a time")

    def positions_with_status(self, status: PositionStatus) -> list[Position]:
        raise AssertionError("close-all reads positions a page at a time")

    def list_positions(self, user_id: str) -> list[Position]:
        self._io("dynamodb")
        return list(self.positions.get(user_id, {}).values())

    def create_position(self, position: Position) -> None:
        self._io("dynamodb")
        self.positions.setdefault(position.user_id, {})[position.position_id] = position

    def get_position(self, user_id: str, position_id: str) -> Position | None:
        self._io("dynamodb")
        return self.positions.get(user_id, {}).get(position_id)

    def save_position(self, position: Position, *, expected_updated_at: datetime | None = None) -> Position:
        self._io("dynamodb")
        self.positions[position.user_id][position.position_id] = position
        return position

    def put_job(self, job: Job) -> None:
        self._io("dynamodb")
        self.jobs[job.job_id] = job

    def get_job(self, job_id: str) -> Job | None:
        self._io("dynamodb")
        return self.jobs.get(job_id)

    # CapitalSource, RiskReader (venue reads)
    def free_capital_usd(self, user: UserRecord) -> Decimal:
        self._io("venue")
        return Decimal(10_000)

    def readings(self, position: Position) -> RiskReadings:
        self._io("venue")
        return RiskReadings(oracle_price_usd=self.snapshot.funding.oracle_price)

    # OpenGuard
    def acquire_open(self, user_id: str, position_id: str, hold: timedelta) -> str | None:
        self._io("dynamodb")
        return None if self.locks.setdefault(user_id, position_id) == position_id else self.locks[user_id]

    def release_open(self, user_id: str, position_id: str) -> None:
        self.locks.pop(user_id, None)

    def open_backoff(self, user_id: str) -> OpenBackoff | None:
        self._io("dynamodb")
        return None

    def record_open_failure(self, user_id: str, base: timedelta, cap: timedelta) -> OpenBackoff:
        raise AssertionError("no open fails in the benchmark")

    def clear_open_failures(self, user_id: str) -> None:
        pass

    # WorkflowStarter
    def start_open(self, position: Position, job_id: str) -> str:
        self._io("stepfunctions")
        return f"open-{position.position_id}"

    def start_close(self, position: Position, job_id: str, reason: str) -> str:
        self._io("stepfunctions")
        return job_id

    def start_rebalance(self, position: Position, reason: str, target_distance: Decimal) -> str:
        self._io("stepfunctions")
        return f"rebalance-{position.position_id}-{position.rebalances + 1}"

    def now(self) -> datetime:
        return self.snapshot.at + timedelta(seconds=30)  # the tick runs just after the poll


def run(history: MarketHistory, users: int = 10_000) -> None:
    span = history.candles_between(min(history.candles), max(history.candles))
    at = next(hour for hour, _ in reversed(span) if history.snapshot_at(hour) is not None)
    recorded = history.snapshot_at(at)
    assert recorded is not None
    # the worst case for one invocation: funding rich enough that every user's decision is an open
    snapshot = replace(recorded, funding=replace(recorded.funding, funding_hourly=RICH_FUNDING_HOURLY,
                                                 predicted_funding_hourly=RICH_FUNDING_HOURLY))
    memory = Memory(snapshot, [RICH_FUNDING_HOURLY] * 480)
    created = at - timedelta(days=30)
    for n in range(users):
        memory.users[f"u{n:05d}"] = UserRecord(f"u{n:05d}", f"u{n}@example.com", created, "So1", "0x1", "running")
    service = PositionService(memory, memory, memory, memory, memory, guard=memory, users=memory, capital=memory)
    tick = StrategyTick(memory, memory, memory, memory, memory)
    worker = TickWorker(memory, memory, memory, memory, memory, memory, memory, service, memory, memory)

    invocations: list[tuple[str, str, float, Counter[str]]] = []  # label, function, seconds, calls
    started = time.perf_counter()
    memory.calls.clear()
    report = tick.run()
    invocations.append(("tick", TICK, time.perf_counter() - started, memory.calls.copy()))
    kinds: Counter[str] = Counter()
    while memory.queue:  # one worker invocation per SQS batch
        batch = [json.loads(memory.queue.popleft()) for _ in range(min(USER_QUEUE.batch_size, len(memory.queue)))]
        memory.calls.clear()
        began = time.perf_counter()
        for message in batch:
            outcome = worker.handle(message)
            kinds[outcome.kind] += 1
            kinds["opened"] += len(outcome.opened)
        invocations.append(("worker batch", WORKER, time.perf_counter() - began, memory.calls.copy()))
    total = time.perf_counter() - started
    assert report.enqueued == 2 and kinds["user"] == users, (report, kinds)  # the users' and positions' pages
    tick_time = invocations[0][2]
    largest = max(invocations, key=lambda entry: entry[2] / timeout_seconds(entry[1]))  # nearest its own timeout
    most_io = max(invocations, key=lambda entry: sum(entry[3].values()))
    io = sum(most_io[3].values())
    print(f"  fan-out tick, {users} running users: {len(invocations) - 1} worker invocations "
          f"({kinds['users_page'] + kinds['protect_page']} page messages, {kinds['user']} user messages), "
          f"{kinds['opened']} opens started")
    print(f"  {'the tick itself (kill switch + snapshot + history, 2 messages)':58} {tick_time * 1000:9.1f} ms"
          f"  calls {dict(invocations[0][3])}")
    print(f"  {'nearest its timeout (' + largest[0] + ')':58} {largest[2] * 1000:9.1f} ms"
          f"  {against_timeout(largest[1], largest[2])}")
    print(f"  {'most calls in one invocation (' + most_io[0] + ')':58} {io:9d} calls"
          f"  ~{io * CALL_MS / 1000:.2f} s at {CALL_MS:.0f} ms a call {dict(most_io[3])}")
    print(f"  {'total, every invocation back to back (Lambda runs them in parallel)':58} {total * 1000:9.1f} ms")

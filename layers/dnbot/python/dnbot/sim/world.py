"""The simulator's shared world: one clock, one replayed market, one fault injector, one set of balances.

Every venue app (Hyperliquid, Asgard, Solana, Privy, Arbitrum) reads the same world, so a price move or a
clock jump is seen by all venues at once, as on real markets.

Time mapping: the simulator's clock starts at the wall-clock time it was created (`start`), running `speed`
times faster than the wall clock, and can be moved forward by the control API. Recorded hour `anchor` plays
at `start`; hour h of the recording plays at `start + (h - anchor)`. The anchor defaults to 30 days after the
replay's first hour (the first hour every venue series
covers), so a fresh simulator already has 30 days of history behind it. Past the recording's
end the replay wraps to its start (a loop), so a long demo never runs out of market.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum

from dnbot.domain.assets import Asset, Protocol
from dnbot.marketdata.recorded import HOUR, Candle, LendingPoint, RecordedData, hour_floor


class SimClock:
    """Thread-safe simulated time: wall time x speed, plus manual advances."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0,
                 wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._wall_at_start = wall()
        self.start = (start or datetime.fromtimestamp(self._wall_at_start, tz=UTC)).astimezone(UTC)
        self.speed = speed
        self._advanced = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (self._wall() - self._wall_at_start) * self.speed
            return self.start + timedelta(seconds=elapsed) + self._advanced

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)

    def set_speed(self, speed: float) -> datetime:
        """Run the clock at `speed` from now on (0 holds it still: every price the replay serves stays put); the
        time it reads does not jump."""
        if speed < 0:
            raise ValueError("the simulator's clock only moves forward")
        with self._lock:
            now = self.start + timedelta(seconds=(self._wall() - self._wall_at_start) * self.speed)
            self.start, self._wall_at_start, self.speed = now, self._wall(), speed
        return self.now()

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the simulator's clock only moves forward")
        with self._lock:
            self._advanced += delta
        return self.now()


class FaultKind(str, Enum):
    REJECT = "reject"  # the venue refuses (4xx with its error body)
    SERVER_ERROR = "5xx"  # 500/502/503
    TIMEOUT = "timeout"  # no answer until the client gives up
    DELAY = "delay"  # answers late (delay_seconds), but answers
    PARTIAL_FILL = "partial_fill"  # an order fills only `fill_fraction` of its size
    LOSE_RESPONSE = "lose_response"  # the venue ACTS, then the response is lost (an ambiguous outcome)


@dataclass(frozen=True, slots=True)
class Fault:
    venue: str  # "hyperliquid" | "asgard" | "solana" | "privy" | "arbitrum"
    call: str  # the venue's operation name, e.g. "order", "create-position", "getBalance", "*" for any
    kind: FaultKind
    times: int = 1  # how many matching calls it affects
    delay_seconds: float = 0.0
    fill_fraction: Decimal = Decimal("0.5")
    message: str = "injected fault"


class FaultInjector:
    """Faults queued by tests and demos through `/sim/faults`; each venue asks `take` on every call."""

    def __init__(self) -> None:
        self._faults: list[list[Fault | int]] = []
        self._lock = threading.Lock()

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append([fault, fault.times])

    def take(self, venue: str, call: str) -> Fault | None:
        """The first pending fault matching this call, consuming one of its uses."""
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                assert isinstance(fault, Fault) and isinstance(remaining, int)
                if fault.venue == venue and fault.call in (call, "*") and remaining > 0:
                    entry[1] = remaining - 1
                    return fault
            self._faults = [e for e in self._faults if isinstance(e[1], int) and e[1] > 0]
            return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return [e[0] for e in self._faults if isinstance(e[0], Fault) and isinstance(e[1], int) and e[1] > 0]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


@dataclass
class MarketReplay:
    """Recorded market state at any simulated instant (hour buckets; gaps carry the last recorded value)."""

    data: RecordedData
    clock: SimClock
    anchor: datetime | None = None
    # A market move on top of the recording (POST /sim/market): every venue's SOL price is the replayed one times
    # this factor, so a rally or a crash reaches Hyperliquid and Asgard alike (1 = the recording as it was).
    sol_price_factor: Decimal = Decimal(1)
    _hours: list[datetime] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        # Replay only the span where every recorded venue series has begun, so no venue is blank.
        firsts = [min(self.data.lending_hourly(p, "usdc")) for p in self.data.recorded_protocols("usdc")]
        replay_from = max(firsts) if firsts else datetime.min.replace(tzinfo=UTC)
        self._hours = [h for h in sorted(self.data.funding_hourly) if h >= replay_from]
        if not self._hours:
            raise ValueError(f"no funding history in {self.data.root}")
        if self.anchor is None:
            self.anchor = self._hours[0] + timedelta(days=30)
        self._sim_start_hour = hour_floor(self.clock.start)

    @property
    def recorded_span(self) -> tuple[datetime, datetime]:
        return self._hours[0], self._hours[-1]

    def recorded_hour(self, sim_time: datetime) -> datetime:
        """The recorded hour that plays at this simulated instant (wrapping past the recording's end)."""
        assert self.anchor is not None
        first, last = self.recorded_span
        span_hours = int((last - first) / HOUR) + 1
        offset_hours = int((hour_floor(sim_time) - self._sim_start_hour) / HOUR)
        index = (int((self.anchor - first) / HOUR) + offset_hours) % span_hours
        return first + index * HOUR

    def sim_hour(self, recorded: datetime) -> datetime:
        """Inverse of recorded_hour for the current loop: where a recorded hour sits on the simulated clock."""
        assert self.anchor is not None
        return self._sim_start_hour + (hour_floor(recorded) - self.anchor)

    @staticmethod
    def _carry_back(series: dict[datetime, Decimal] | dict[datetime, Candle] | dict[datetime, LendingPoint],
                    at: datetime, max_hours: int = 72) -> object | None:
        for back in range(max_hours + 1):
            value = series.get(at - back * HOUR)
            if value is not None:
                return value
        return None

    def funding_hourly(self, sim_time: datetime) -> Decimal:
        value = self._carry_back(self.data.funding_hourly, self.recorded_hour(sim_time))
        return value if isinstance(value, Decimal) else Decimal(0)

    def premium(self, sim_time: datetime) -> Decimal:
        value = self._carry_back(self.data.funding_premium, self.recorded_hour(sim_time))
        return value if isinstance(value, Decimal) else Decimal(0)

    def candle(self, sim_time: datetime) -> Candle:
        value = self._carry_back(self.data.sol_hourly_candles, self.recorded_hour(sim_time))
        if not isinstance(value, Candle):
            raise LookupError(f"no SOL price recorded near {self.recorded_hour(sim_time)}")
        return value

    def sol_price(self, sim_time: datetime) -> Decimal:
        """Linear interpolation inside the hour from its open to its close: a continuous path, no jumps."""
        candle = self.candle(sim_time)
        fraction = Decimal(sim_time.minute * 60 + sim_time.second) / Decimal(3600)
        return ((candle.open + (candle.close - candle.open) * fraction) * self.sol_price_factor).quantize(
            Decimal("0.0001"))

    def lending(self, protocol: Protocol, reserve: str, sim_time: datetime) -> LendingPoint | None:
        value = self._carry_back(self.data.lending_hourly(protocol, reserve), self.recorded_hour(sim_time))
        return value if isinstance(value, LendingPoint) else None

    def staking_apy(self, asset: Asset, sim_time: datetime) -> Decimal | None:
        hourly = self.data.staking_hourly(asset)
        if hourly:
            value = self._carry_back(hourly, self.recorded_hour(sim_time))
            if isinstance(value, Decimal):
                return value
        return self.data.staking_snapshot.get(asset)


BridgeDepositListener = Callable[[str, Decimal], None]


@dataclass
class SimWorld:
    clock: SimClock
    market: MarketReplay
    faults: FaultInjector = field(default_factory=FaultInjector)
    # Cross-venue money movement: the Arbitrum bridge credits Hyperliquid. The Hyperliquid venue subscribes.
    bridge_deposit_listeners: list[BridgeDepositListener] = field(default_factory=list)

    def bridge_deposit(self, evm_address: str, usdc: Decimal) -> None:
        """USDC sent to Hyperliquid's bridge on Arbitrum arrives as margin on Hyperliquid for the same address."""
        for listener in self.bridge_deposit_listeners:
            listener(evm_address.lower(), usdc)

    @classmethod
    def create(cls, data: RecordedData | None = None, speed: float = 1.0,
               start: datetime | None = None) -> SimWorld:
        clock = SimClock(start=start, speed=speed)
        return cls(clock=clock, market=MarketReplay(data or RecordedData(), clock))

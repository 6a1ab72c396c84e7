"""What the fault scenarios driving one embedded `dnbot local` (the `system` fixture) share: a logged-in user with
their ledger and venue reads, a fault armed at the simulator."""

from __future__ import annotations

from typing import Any

import httpx

from dnbot.domain.positions import Position
from dnbot.local.system import LocalSystem
from dnbot.ports import UserRecord
from tests.faults.invariant import InvariantReport, assert_invariant, record_figure, venue_truth
from tests.integration.helpers import Client, Terminal, log_in


class SimUser:
    """One user of the running system: an API client, their ledger, and their venues as the simulator holds them."""

    def __init__(self, system: LocalSystem, terminal: Terminal, email: str) -> None:
        assert system.runtime is not None and system.sim is not None
        self.system, self.runtime, self.sim = system, system.runtime, system.sim.base_url
        self.terminal, self.email = terminal, email
        self.client: Client = log_in(system, terminal, email)
        self.user_id: str = self.client.get("/api/v1/auth/me").json()["user"]["user_id"]

    def user(self) -> UserRecord:
        found = self.runtime.store.get_user(self.user_id)
        assert found is not None
        return found

    def positions(self) -> list[Position]:
        return self.runtime.store.list_positions(self.user_id)

    def position(self, position_id: str) -> Position:
        found = self.runtime.store.get_position(self.user_id, position_id)
        assert found is not None
        return found

    def invariant(self, scenario: str) -> InvariantReport:
        """The invariant from venue truth + ledger (it must hold); the scenario's figure recorded."""
        report = assert_invariant(venue_truth(self.sim, self.user()), self.positions())
        record_figure(scenario, report)
        return report

    def user_fills(self) -> list[dict[str, Any]]:
        """Every Hyperliquid fill of this user (each order the bot places fills at once: IOC)."""
        evm_address = self.user().evm_address
        assert evm_address
        return list(httpx.post(f"{self.sim}/hyperliquid/info", json={"type": "userFills", "user": evm_address}).json())

    def asgard_records(self) -> list[dict[str, Any]]:
        """The simulator's Asgard positions owned by this user's Solana wallet."""
        owner = self.user().solana_address
        return [r for r in httpx.get(f"{self.sim}/sim/asgard/positions").json() if r.get("ownerAddress") == owner]


def fault(system: LocalSystem, venue: str, call: str, kind: str, times: int = 1, **extra: Any) -> None:
    """Arm one fault at the simulator (`times` calls of `venue`'s `call` answer `kind`)."""
    assert system.sim is not None
    body = {"venue": venue, "call": call, "kind": kind, "times": times, **extra}
    assert httpx.post(f"{system.sim.base_url}/sim/faults", json=body).status_code == 201

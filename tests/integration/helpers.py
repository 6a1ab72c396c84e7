"""Helpers for driving the embedded system: the terminal it prints to, and a logged-in API client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx

from dnbot.local.system import LocalSystem


@dataclass
class Terminal:
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)

    def login_code(self, email: str) -> str:
        for line in reversed(self.lines):
            if line.startswith(f"dnbot local: login code for {email}: "):
                return line.rsplit(" ", 1)[-1]
        raise AssertionError(f"no login code printed for {email}")


@contextmanager
def embedded_system(state_dir: Path, terminal: Terminal, venues: Literal["sim", "paper", "live"],
                    **options: Any) -> Iterator[LocalSystem]:
    """One `dnbot local` for a test module (no schedules: tests run them). `dnbot local` turns moto's ASL executor
    on process-wide, so the setting is put back for the modules that run after it in the same worker."""
    from moto.core.config import default_user_config

    before = default_user_config.get("stepfunctions")
    local = LocalSystem(port=0, state_dir=state_dir, scheduled=False, say=terminal.say, venues=venues, **options)
    local.start()
    try:
        yield local
    finally:
        local.stop()
        if before is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = before


@dataclass
class Client:
    """An API client with a logged-in user's cookie and CSRF token."""

    http: httpx.Client
    csrf: str = ""

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def wait_job(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(f"/api/v1/positions/jobs/{job_id}").json()
            if job["status"] != "running":
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} still running after {timeout} s: {job}")


def log_in(system: LocalSystem, terminal: Terminal, email: str) -> Client:
    http = httpx.Client(base_url=system.url, timeout=10)
    assert http.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202
    reply = http.post("/api/v1/auth/email/verify", json={"email": email, "code": terminal.login_code(email)})
    assert reply.status_code == 200, reply.text
    return Client(http, reply.json()["csrf_token"])


class SteadyFunding:
    """Hyperliquid's own quote (prices; the adapter or the replayed markets it wraps) with funding held at one rate."""

    def __init__(self, inner: Any, rate_hourly: Decimal) -> None:
        self._inner, self._rate = inner, rate_hourly

    def sol_funding(self) -> Any:
        return replace(self._inner.sol_funding(), funding_hourly=self._rate, predicted_funding_hourly=self._rate)

    def funding_history_hourly(self, hours: int) -> list[Decimal]:
        return [self._rate] * hours

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextmanager
def sim_with_privy_wallets(app_id: str, app_secret: str) -> Iterator[tuple[Any, Any, Any]]:
    """The simulator on a still clock (a test moves it) with a Privy app registered whose authorization key signs
    here: (the running sim, the Privy client, the user's PrivyWallets with an in-memory wallet directory)."""
    from privy import PrivyClient

    from dnbot.adapters.privy.authorization import LocalAuthorizationSigner
    from dnbot.adapters.privy.wallets import InMemoryWalletDirectory, PrivyWallets
    from dnbot.sim.server import start_in_thread

    sim = start_in_thread(speed=0)
    try:
        signer = LocalAuthorizationSigner.generate()
        registered = httpx.post(f"{sim.base_url}/sim/privy/apps", json={
            "app_id": app_id, "app_secret": app_secret, "authorization_public_key": signer.public_key_base64()})
        assert registered.status_code == 200, registered.text
        client = PrivyClient(app_id=app_id, app_secret=app_secret, base_url=f"{sim.base_url}/privy")
        try:
            yield sim, client, PrivyWallets(client, signer, signer.public_key_base64(), InMemoryWalletDirectory())
        finally:
            client.close()
    finally:
        sim.stop()

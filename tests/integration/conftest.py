"""One embedded system per test module: moto server, the shared ASL executed with in-process handlers, the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

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


@pytest.fixture(scope="module")
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    local = LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("state"), scheduled=False, say=terminal.say,
                        admin_emails=("operator@example.com",))
    local.start()
    yield local
    local.stop()


def log_in(system: LocalSystem, terminal: Terminal, email: str) -> Client:
    http = httpx.Client(base_url=system.url, timeout=10)
    assert http.post("/api/v1/auth/email/start", json={"email": email}).status_code == 202
    reply = http.post("/api/v1/auth/email/verify", json={"email": email, "code": terminal.login_code(email)})
    assert reply.status_code == 200, reply.text
    return Client(http, reply.json()["csrf_token"])

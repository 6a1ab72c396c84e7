"""The API in process (ASGI) on the embedded system: moto, paper venues, the local email codes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from dnbot.api.app import create_app
from dnbot.local.system import LocalSystem
from tests.integration.conftest import system, terminal  # noqa: F401  (module-scoped fixtures: one embedded system)


@pytest.fixture(scope="module")
def app(system: LocalSystem) -> FastAPI:  # noqa: F811  (the imported fixture, requested by name)
    assert system.runtime is not None
    return create_app(system.runtime)

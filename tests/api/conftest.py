"""The API in process (ASGI) on the embedded system: moto, paper venues, the local email codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from dnbot.api.app import create_app
from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal, embedded_system


@pytest.fixture(scope="module")
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "paper",
                         admin_emails=("operator@example.com",)) as local:
        yield local


@pytest.fixture(scope="module")
def app(system: LocalSystem) -> FastAPI:
    assert system.runtime is not None
    return create_app(system.runtime)

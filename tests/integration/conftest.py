"""One embedded system per test module: moto server, the shared ASL executed with in-process handlers, the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal


@pytest.fixture(scope="module")
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    local = LocalSystem(port=0, state_dir=tmp_path_factory.mktemp("state"), scheduled=False, say=terminal.say,
                        venues="paper",
                        admin_emails=("operator@example.com",))
    local.start()
    yield local
    local.stop()

"""One embedded system per test module: moto server, the shared ASL executed with in-process handlers, the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnbot.local.system import LocalSystem
from tests.integration.helpers import Terminal, embedded_system


@pytest.fixture(scope="module")
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    """Paper venues: the kind ones, for flows that are not about the venues' wire formats."""
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "paper",
                         admin_emails=("operator@example.com",)) as local:
        yield local


@pytest.fixture(scope="module")
def sim_system(tmp_path_factory: pytest.TempPathFactory, terminal: Terminal) -> Iterator[LocalSystem]:
    """Every venue through its production adapter against the simulator."""
    with embedded_system(tmp_path_factory.mktemp("state"), terminal, "sim") as local:
        yield local

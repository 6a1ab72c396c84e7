"""The layers' import rules, read from the source (ast): the domain imports only the standard library and itself;
an adapter never imports a use case (dnbot.services): the data both share lives in the domain."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import dnbot

PACKAGE = Path(dnbot.__file__).parent
# Shared error types an adapter raises for the API to map to 4xx; not a use case. Known exception, kept explicit.
ADAPTER_MAY_IMPORT = {"dnbot.services.errors"}


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("adapters"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_an_adapter_imports_no_service(path: Path) -> None:
    services = {m for m in _imports(path) if m == "dnbot.services" or m.startswith("dnbot.services.")}
    allowed = {m for m in services if any(m == a or m.startswith(a + ".") for a in ADAPTER_MAY_IMPORT)}
    assert services - allowed == set()


@pytest.mark.parametrize("path", _modules("domain"), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    outside = {m for m in _imports(path)
               if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith("dnbot.domain")}
    assert outside == set()


def test_the_withdrawal_types_live_in_the_domain() -> None:
    from dnbot.domain import withdrawals

    assert withdrawals.Withdrawal.__module__ == "dnbot.domain.withdrawals"
    assert set(withdrawals.WithdrawalStatus.__args__) == {  # type: ignore[attr-defined]
        "confirm_by_email", "approved", "sending", "sent", "failed", "expired"}

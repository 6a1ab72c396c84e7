"""A protocol has two names: the lowercase one the API and CLI speak, and its own spelling in sentences."""

from __future__ import annotations

import pytest

from dnbot.domain.assets import Protocol


def test_each_protocol_reads_as_it_spells_itself_and_parses_from_its_api_name() -> None:
    assert [p.display_name for p in Protocol] == ["marginfi", "Kamino", "Solend", "Drift"]
    assert all(Protocol.parse(p.label) is p for p in Protocol)
    with pytest.raises(ValueError, match="expected one of marginfi, kamino, solend, drift"):
        Protocol.parse("aave")

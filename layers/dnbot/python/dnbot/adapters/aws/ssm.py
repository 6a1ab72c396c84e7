"""The operator's kill switch: one SSM String parameter, read through Powertools' cached SSM provider."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from dnbot.domain.kill_switch import KillSwitch


class SsmKillSwitch:
    """Implements KillSwitchReader and KillSwitchWriter.

    Reads are cached for `cache_seconds` (every tick and every workflow Preflight reads it); an unreadable or
    unknown value fails SAFE: it is treated as `no-new-positions`, never as `off`.
    """

    def __init__(self, ssm_client: Any, parameter_name: str, cache_seconds: int = 5) -> None:
        self._client = ssm_client
        self._provider = SSMProvider(boto3_client=ssm_client)
        self._name = parameter_name
        self._cache_seconds = cache_seconds

    def kill_switch(self, *, fresh: bool = False) -> KillSwitch:
        try:
            raw = self._provider.get(self._name, max_age=self._cache_seconds, force_fetch=fresh)
        except Exception:  # a missing parameter or an SSM outage must not open new positions
            return KillSwitch.NO_NEW_POSITIONS
        try:
            return KillSwitch(str(raw).strip())
        except ValueError:
            return KillSwitch.NO_NEW_POSITIONS

    def set_kill_switch(self, value: KillSwitch) -> None:
        self._client.put_parameter(Name=self._name, Value=value.value, Type="String", Overwrite=True)
        self._provider.clear_cache()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated

"""SnapStart: copies restored from one snapshot must not share what init made unique.

Lambda initializes a SnapStart function once and resumes every new execution environment from that memory image.
Here a runtime is initialized once (credentials resolved, clients and HTTP connections built, `random` seeded),
then two processes are forked from it, the way two copies are restored from one snapshot, and each runs the
after-restore hooks Lambda would run. Without the hooks (the control) the copies share the snapshot's state.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dnbot import runtime as runtime_module
from dnbot import snapstart
from dnbot.runtime import Runtime
from dnbot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Parts holding connections, clients or cached credentials that init builds.
PARTS = ("store", "kill_switch", "hyperliquid", "asgard_client", "privy_credentials")
_SNAPSHOT_RANDOM_STATE = random.getstate()


@pytest.fixture
def initialized(monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A runtime as it stands in the snapshot: every part built, credentials resolved, then installed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "init-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "init-secret")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    runtime = Runtime(Settings(environment="test", aws_region="us-east-1", privy_app_id="app",
                               privy_app_secret="secret"))
    for part in PARTS:
        getattr(runtime, part)
    credentials = runtime._session.get_credentials()
    assert credentials is not None and credentials.access_key == "init-key"
    runtime_module.install(runtime)
    global _SNAPSHOT_RANDOM_STATE
    _SNAPSHOT_RANDOM_STATE = random.getstate()
    try:
        yield runtime
    finally:
        runtime_module.install(None)


def _in_restored_copy(probe: Callable[[], dict[str, Any]], *, run_hooks: bool) -> dict[str, Any]:
    """Fork (a copy resumes from the snapshot's memory), set what Lambda hands a restored copy (its own
    credentials), optionally run the after-restore hooks, and return what `probe` saw there."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the restored copy
        code = 1
        try:
            os.close(read_end)
            os.environ["AWS_ACCESS_KEY_ID"] = f"restored-{os.getpid()}"
            # os.fork() reseeds `random` in the child by itself (an at-fork hook); a snapshot restore does not:
            # put back the state the snapshot holds.
            random.setstate(_SNAPSHOT_RANDOM_STATE)
            if run_hooks:
                snapstart.run_after_restore()
            with os.fdopen(write_end, "w") as out:
                json.dump(probe(), out)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as received:
        text = received.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and text, "the restored copy failed"
    result: dict[str, Any] = json.loads(text)
    return result


def _probe(runtime: Runtime) -> Callable[[], dict[str, Any]]:
    before = {part: id(runtime.__dict__[part]) for part in PARTS}
    loader = id(runtime._session._session.get_component("data_loader"))
    settings = id(runtime.settings)

    def probe() -> dict[str, Any]:
        credentials = runtime._session.get_credentials()
        return {
            "random": random.random(),
            "access_key": credentials.access_key if credentials else None,
            # fork keeps addresses: the same id here means the very object init built
            "inherited": sorted(part for part in PARTS if id(getattr(runtime, part)) == before[part]),
            "models_shared": id(runtime._session._session.get_component("data_loader")) == loader,
            "settings_kept": id(runtime.settings) == settings,
        }

    return probe


def test_two_restored_copies_share_no_entropy_connection_or_credentials(initialized: Runtime) -> None:
    probe = _probe(initialized)
    first = _in_restored_copy(probe, run_hooks=True)
    second = _in_restored_copy(probe, run_hooks=True)
    assert first["random"] != second["random"]
    assert first["access_key"] != second["access_key"]
    for copy in (first, second):
        assert copy["access_key"].startswith("restored-"), "the snapshot's cached credentials were kept"
        assert copy["inherited"] == [], f"built at init and still used after restore: {copy['inherited']}"
        assert copy["models_shared"] and copy["settings_kept"]  # what is the same for every copy stays


def test_without_the_hooks_restored_copies_would_share_them(initialized: Runtime) -> None:
    # The control: the same two copies without the hooks share the snapshot's random state, its cached
    # credentials and every connection init made (so the test above can fail).
    probe = _probe(initialized)
    first = _in_restored_copy(probe, run_hooks=False)
    second = _in_restored_copy(probe, run_hooks=False)
    assert first["random"] == second["random"]
    assert first["access_key"] == second["access_key"] == "init-key"
    assert first["inherited"] == sorted(PARTS)


def test_parts_given_explicitly_survive_a_restore(initialized: Runtime) -> None:
    sentinel = object()
    initialized.override(hyperliquid=sentinel)
    initialized.after_restore()
    assert initialized.hyperliquid is sentinel
    assert "store" not in initialized.__dict__


def test_hooks_reach_lambdas_registry_when_the_runtime_provides_it() -> None:
    import snapshot_restore_py as registry  # Lambda's runtime library, a dev dependency here: never skipped
    registered = [entry[0] for entry in registry.get_after_restore()]
    assert runtime_module._refresh_after_restore in registered
    assert snapstart._reseed_random in registered


PRIME_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler
from dnbot import snapstart
from dnbot.runtime import lambda_runtime
before = "pydantic_settings" in sys.modules
snapstart.run_before_snapshot()
print(json.dumps({"settings_before": before, "settings_after": "settings" in vars(lambda_runtime()),
                  "modules": sorted(m for m in sys.modules if m.startswith("dnbot.services."))}))
"""


@pytest.mark.parametrize("name", ["api", "position_steps"])
def test_snapstart_functions_prime_their_snapshot_without_the_network(name: str) -> None:
    # No credentials and no metadata endpoint: priming that tried AWS or a venue would fail here.
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_LAMBDA_FUNCTION_NAME": f"dnbot-{name}", "DNBOT_ENVIRONMENT": "aws"}
    result = subprocess.run([sys.executable, "-c", PRIME_PROBE, str(ROOT / "functions" / name)], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["settings_after"] is True
    if name != "api":  # the API reads them building its app (tests/unit/test_cold_imports.py)
        assert seen["settings_before"] is False
    assert seen["modules"], "nothing was imported into the snapshot"

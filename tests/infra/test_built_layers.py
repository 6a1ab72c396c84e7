"""Each Lambda's entry point imports with exactly what Lambda will give it: its directory, its dependency layer
and the dnbot library layer, on a bare interpreter (`python -S`: no site-packages, so nothing from this
virtualenv can paper over a dependency missing from a layer).

Needs the real layers (`make layers`, which downloads wheels); skipped with that instruction when they are not
built, so the offline suite stays offline.
"""

from __future__ import annotations

import os
import subprocess
import sys

import build_layers  # infra/ is on sys.path (conftest)
import pytest

from dnbot import resources
from tests.infra.conftest import REPO_ROOT

TRADING_MODULES = ("solana", "solders", "hyperliquid", "eth_account", "privy")

PROBE = f"""
import importlib, sys
import handler
assert callable(handler.handler)
print(",".join(m for m in {TRADING_MODULES!r} if m in sys.modules))
for module in sys.argv[1:]:  # what the function imports lazily, when it trades
    importlib.import_module(module)
"""


def _built(name: str) -> bool:
    try:
        build_layers.check_layer(name)
    except ValueError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_handler_imports_from_its_layers_alone(spec: resources.FunctionSpec) -> None:
    if not _built(spec.layer):
        pytest.skip(f"layer {spec.layer!r} not built (or stale): run `make layers`")
    function_dir = REPO_ROOT / "functions" / spec.name
    if not (function_dir / "handler.py").is_file():
        pytest.fail(f"{function_dir}/handler.py is missing")
    path = [function_dir, build_layers.layer_dir(spec.layer) / "python", REPO_ROOT / "layers" / "dnbot" / "python"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(map(str, path)),
        "PYTHONDONTWRITEBYTECODE": "1",
        # What Lambda sets; no credentials, so nothing can reach AWS at import time.
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    lazy = list(TRADING_MODULES) if spec.layer == "trading" else []
    result = subprocess.run([sys.executable, "-S", "-c", PROBE, *lazy], cwd=function_dir, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = [m for m in result.stdout.strip().split(",") if m]
    if spec.layer == "api":
        # The light functions must start fast: the trading SDKs are not even on their path.
        assert loaded == [], f"{spec.name} imported {loaded}"

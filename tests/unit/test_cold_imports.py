"""The API, poller, tick and WebSocket functions start without the trading SDKs (solana, solders, the
Hyperliquid SDK, eth-account): those load only in position_steps, the one function that trades."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dnbot.resources import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("solders", "solana", "hyperliquid", "eth_account", "privy")
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("name", [spec.name for spec in FUNCTIONS if spec.name != "position_steps"])
def test_light_functions_do_not_import_the_trading_sdks(name: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "DNBOT_ENVIRONMENT": "aws",
           "DNBOT_IDENTITY_PROVIDER": "privy", "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "functions" / name / "handler.py")],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), f"{name} imports {sorted(loaded & set(HEAVY))} at cold start"

"""The light functions (every one but position_steps: the API, the poller, the tick and its workers, the
WebSocket functions, the reconciler) start without the trading SDKs (solana, solders, the Hyperliquid SDK,
eth-account): those load only in position_steps, the one function that trades. Nor do they load the X-Ray SDK
(Powertools' Tracer, ~350 ms: Lambda's active tracing records them) or pydantic-settings (the settings are read
at first use). Imported as Lambda would: its variables set, tracing not disabled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dnbot.resources import FUNCTIONS

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("solders", "solana", "hyperliquid", "eth_account", "privy", "aws_xray_sdk", "pydantic_settings")
# The API builds its FastAPI app at init, and the app's shape (docs on or off) comes from the settings; its init
# is what SnapStart snapshots, so reading them there costs no restored copy anything.
READS_SETTINGS_AT_INIT = {"api"}
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("name", [spec.name for spec in FUNCTIONS if spec.name != "position_steps"])
def test_light_functions_do_not_import_the_trading_sdks(name: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
           "AWS_LAMBDA_FUNCTION_NAME": f"dnbot-{name}", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
           "AWS_EC2_METADATA_DISABLED": "true", "DNBOT_ENVIRONMENT": "aws", "DNBOT_IDENTITY_PROVIDER": "privy",
           "POWERTOOLS_SERVICE_NAME": "dnbot"}
    result = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "functions" / name / "handler.py")],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    heavy = set(HEAVY) - ({"pydantic_settings"} if name in READS_SETTINGS_AT_INIT else set())
    assert not loaded & heavy, f"{name} imports {sorted(loaded & heavy)} at cold start"


def test_the_probe_sees_the_tracing_sdk_when_a_handler_loads_it(tmp_path: Path) -> None:
    # The check above can fail: a handler that builds Powertools' Tracer shows aws_xray_sdk in sys.modules.
    handler = tmp_path / "handler.py"
    handler.write_text("from dnbot.observability import tracer\n")
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": "probe"}
    result = subprocess.run([sys.executable, "-c", PROBE, str(handler)], capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "aws_xray_sdk" in json.loads(result.stdout.strip().splitlines()[-1])

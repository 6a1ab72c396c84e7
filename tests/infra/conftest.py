"""Shared set-up for the CDK tests: the infra/ modules on sys.path, quiet jsii, one synthesis per module."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# Read by the jsii node process when aws_cdk is first imported: Debian's nodejs 20 is past its end of life.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
if str(INFRA_DIR) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR))


def load_infra_app() -> ModuleType:
    """infra/app.py under a name that cannot clash with any other `app` module."""
    spec = importlib.util.spec_from_file_location("dnbot_infra_app", INFRA_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

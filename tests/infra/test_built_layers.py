"""Each Lambda's entry point imports with exactly what Lambda will give it: its directory, its dependency layer
and the dnbot library layer, on a bare interpreter (`python -S`: no site-packages, so nothing from this
virtualenv can paper over a dependency missing from a layer).

The layers hold the functions' Python (3.12) wheels. When this machine runs another Python, the packages with
version-specific extension modules (pydantic-core, ...) cannot load here: the probe then sees the layer through a
view where only those packages come from this virtualenv (the same versions, built for this interpreter), after
checking that the layer has them. Every pure-Python module, the dnbot library and the function still come from
the layer alone.

Needs the real layers (`make layers`, which downloads wheels); skipped with that instruction when they are not
built, so the offline suite stays offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


HOST_ABI = f"cpython-{sys.version_info.major}{sys.version_info.minor}"


def _host_view(layer_python: Path, view: Path) -> Path:
    """The layer as this interpreter can load it (module docstring); the layer itself when it already can."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == build_layers.LAMBDA_PYTHON_VERSION:
        return layer_python
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    view.mkdir(parents=True, exist_ok=True)
    for entry in layer_python.iterdir():
        source, name = entry, entry.name
        if entry.is_dir() and any(entry.rglob("*.cpython-3*.so")):  # a package with compiled modules
            source = site_packages / entry.name
            assert source.is_dir() and any(source.rglob(f"*.{HOST_ABI}-*.so")), (
                f"{entry.name}: built for Lambda's Python only, and not in this virtualenv to probe with")
        elif ".cpython-3" in entry.name and entry.suffix == ".so":  # a top-level extension module
            matches = sorted(site_packages.glob(f"{entry.name.split('.')[0]}.{HOST_ABI}-*.so"))
            assert matches, f"{entry.name}: not in this virtualenv to probe with"
            source, name = matches[0], matches[0].name
        (view / name).symlink_to(source, target_is_directory=source.is_dir())
    return view


def _built(name: str) -> bool:
    try:
        build_layers.check_layer(name)
    except ValueError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_handler_imports_from_its_layers_alone(spec: resources.FunctionSpec, tmp_path: Path) -> None:
    if not _built(spec.layer):
        pytest.skip(f"layer {spec.layer!r} not built (or stale): run `make layers`")
    function_dir = REPO_ROOT / "functions" / spec.name
    if not (function_dir / "handler.py").is_file():
        pytest.fail(f"{function_dir}/handler.py is missing")
    layer = _host_view(build_layers.layer_dir(spec.layer) / "python", tmp_path / "layer")
    path = [function_dir, layer, REPO_ROOT / "layers" / "dnbot" / "python"]
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


@pytest.mark.slow
@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_function_and_its_layers_fit_lambdas_unzipped_limit(spec: resources.FunctionSpec) -> None:
    if not _built(spec.layer):
        pytest.skip(f"layer {spec.layer!r} not built (or stale): run `make layers`")
    parts = {
        "code": REPO_ROOT / "functions" / spec.name,
        f"{spec.layer} layer": build_layers.layer_dir(spec.layer) / "python",
        "dnbot layer": REPO_ROOT / "layers" / "dnbot" / "python",
    }
    sizes = {name: build_layers.tree_bytes(path) for name, path in parts.items()}
    assert sizes[f"{spec.layer} layer"] > 1_000_000, "the dependency layer looks empty"
    total = sum(sizes.values())
    detail = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items())
    assert total < build_layers.UNZIPPED_LIMIT_BYTES, f"{spec.name}: {total / 1e6:.1f} MB unzipped ({detail})"


def test_layers_are_built_for_the_functions_python(tmp_path: Path) -> None:
    """The built layer holds cp312 extension modules (what the python3.12 runtime loads), not this machine's."""
    if not _built("trading"):
        pytest.skip("layer 'trading' not built (or stale): run `make layers`")
    python_dir = build_layers.layer_dir("trading") / "python"
    abi_tags = {so.name.split(".")[-2] for so in python_dir.rglob("*.cpython-*.so")}
    assert abi_tags, "no compiled extension in the trading layer"
    expected = "cpython-" + build_layers.LAMBDA_PYTHON_VERSION.replace(".", "")
    assert all(tag.startswith(expected) for tag in abi_tags), abi_tags

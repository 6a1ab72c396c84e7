"""Build the Lambda dependency layers without Docker: `make layers`.

pip can install wheels for a platform other than this machine's (`--platform ... --only-binary=:all:`), so the
layers are assembled from the manylinux wheels PyPI already publishes, the same bytes a Docker build would
fetch, with no container engine. Each layer lands in build/layers/<name>/python (the layout Lambda mounts at
/opt/python) beside a stamp holding the digest of the requirements it was built from, so the CDK app can refuse
to package a missing or stale layer.

    .venv/bin/python infra/build_layers.py            # both layers
    .venv/bin/python infra/build_layers.py trading    # one
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Lambda's architecture and the wheel platform must agree: a layer of x86_64 wheels on an arm64 function
# fails at import time, not at deploy time. manylinux2014 (glibc 2.17) wheels load on the python3.12 runtime's
# Amazon Linux 2023 (glibc 2.34). Python 3.12: the functions' runtime (SnapStart needs 3.12 or later), so the
# cp312 wheels, whatever interpreter runs this script.
LAMBDA_ARCHITECTURE = "x86_64"
PIP_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON_VERSION = "3.12"
# Lambda's quota "Deployment package (.zip file archive) size: 250 MB (unzipped)", a function's code plus all its
# layers (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). The MB there are MiB:
# GetAccountSettings reports AccountLimit.CodeSizeUnzipped = 262,144,000 bytes = 250 * 1024 * 1024
# (https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html; botocore's GetAccountSettings example).
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024

BUILD_DIR = REPO_ROOT / "build" / "layers"
STAMP_NAME = ".requirements.sha256"


@dataclass(frozen=True, slots=True)
class LayerSource:
    name: str  # a resources.LayerName: the value of FunctionSpec.layer
    requirements: Path


LAYER_SOURCES: tuple[LayerSource, ...] = (
    LayerSource("api", REPO_ROOT / "layers" / "deps-api" / "requirements.txt"),
    LayerSource("trading", REPO_ROOT / "layers" / "deps-trading" / "requirements.txt"),
)


def layer_source(name: str) -> LayerSource:
    for source in LAYER_SOURCES:
        if source.name == name:
            return source
    raise KeyError(name)


def _requirement_lines(path: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    """The requirement lines of a file with its `-r` includes expanded (comments and blanks dropped)."""
    path = path.resolve()
    if path in seen:
        raise ValueError(f"requirements include cycle at {path}")
    lines: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(("-r ", "--requirement ")):
            included = (path.parent / line.split(None, 1)[1]).resolve()
            lines.extend(_requirement_lines(included, seen | {path}))
        else:
            lines.append(line)
    return lines


def requirement_lines(name: str) -> list[str]:
    return _requirement_lines(layer_source(name).requirements)


def requirements_digest(name: str) -> str:
    """Digest of what a layer is built from: its expanded requirements and the target platform."""
    text = "\n".join([PIP_PLATFORM, LAMBDA_PYTHON_VERSION, *requirement_lines(name)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def layer_dir(name: str, root: Path = BUILD_DIR) -> Path:
    """The layer asset directory (it contains python/)."""
    return root / name


def pip_command(name: str, target: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-cache-dir",
        # pip's post-install conflict check compares the target against THIS virtualenv's packages, which a
        # layer never meets; the resolver itself still makes the layer's own set consistent.
        "--no-warn-conflicts",
        "--platform", PIP_PLATFORM,
        "--implementation", "cp",
        "--python-version", LAMBDA_PYTHON_VERSION,
        "--only-binary=:all:",
        "--target", str(target),
        "--requirement", str(layer_source(name).requirements),
    ]


def _prune(python_dir: Path) -> None:
    # Bytecode compiled here would be for this interpreter, not Lambda's; Lambda compiles its own.
    for cache in python_dir.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    # pip --target copies console scripts; a layer has no use for them.
    shutil.rmtree(python_dir / "bin", ignore_errors=True)


def tree_bytes(path: Path) -> int:
    """Bytes of every file under path as it ships (bytecode caches are excluded from the assets), unzipped."""
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def _size_mb(path: Path) -> float:
    return tree_bytes(path) / 1_000_000


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[bytes]"]


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(list(cmd), check=False)


def build_layer(name: str, root: Path = BUILD_DIR, runner: Runner = _run) -> Path:
    """Build one layer from scratch into root/<name>/python and stamp it; returns the layer directory."""
    out = layer_dir(name, root)
    python_dir = out / "python"
    # From scratch: pip --target does not remove what an older requirements file put there.
    shutil.rmtree(out, ignore_errors=True)
    python_dir.mkdir(parents=True)
    result = runner(pip_command(name, python_dir))
    if result.returncode != 0:
        shutil.rmtree(out, ignore_errors=True)
        raise RuntimeError(
            f"pip could not build the {name!r} layer (exit {result.returncode}); a requirement may lack a "
            f"{PIP_PLATFORM} wheel for Python {LAMBDA_PYTHON_VERSION}"
        )
    _prune(python_dir)
    (out / STAMP_NAME).write_text(requirements_digest(name) + "\n", encoding="utf-8")
    return out


def check_layer(name: str, root: Path = BUILD_DIR) -> Path:
    """The built layer directory, or a ValueError that tells the operator to run `make layers`."""
    out = layer_dir(name, root)
    if not (out / "python").is_dir():
        raise ValueError(f"Lambda layer {name!r} is not built ({out / 'python'} is missing): run `make layers`")
    stamp = out / STAMP_NAME
    built_from = stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else ""
    if built_from != requirements_digest(name):
        raise ValueError(
            f"Lambda layer {name!r} in {out} was built from other requirements than "
            f"{layer_source(name).requirements.relative_to(REPO_ROOT)}: run `make layers`"
        )
    return out


def _is_fresh(name: str, root: Path) -> bool:
    try:
        check_layer(name, root)
    except ValueError:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    known = [s.name for s in LAYER_SOURCES]
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"layers to build: {', '.join(known)} (default: all)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output root (default: build/layers)")
    parser.add_argument("--if-stale", action="store_true",
                        help="build only layers that are missing or built from other requirements (make synth)")
    args = parser.parse_args(argv)
    names: list[str] = list(args.names) or known
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown layer {unknown[0]!r} (known: {', '.join(known)})")
    for name in names:
        if args.if_stale and _is_fresh(name, args.out):
            continue
        started = time.monotonic()
        try:
            out = build_layer(name, args.out)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"layer {name}: {out / 'python'} {_size_mb(out / 'python'):.1f} MB "
              f"({PIP_PLATFORM}, Python {LAMBDA_PYTHON_VERSION}) in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

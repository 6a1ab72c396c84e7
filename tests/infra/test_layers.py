"""The dependency layers: what they are built from, how (no Docker), and the CLI pin for `npx cdk deploy`."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from collections.abc import Sequence
from pathlib import Path

import build_layers
import pytest

from tests.infra.conftest import REPO_ROOT


def _normalize(requirement: str) -> str:
    """Compare requirements by content, not spelling: lower-case name, no spaces."""
    name_end = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name_end is not None, requirement
    return requirement[: name_end.end()].lower().replace("_", "-") + requirement[name_end.end():].replace(" ", "")


def _pyproject() -> dict[str, object]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_api_layer_is_pyproject_base_dependencies() -> None:
    base = _pyproject()["project"]["dependencies"]  # type: ignore[index]
    assert sorted(map(_normalize, build_layers.requirement_lines("api"))) == sorted(map(_normalize, base))


def test_trading_layer_is_base_plus_trading_extra() -> None:
    project = _pyproject()["project"]
    expected = [*project["dependencies"], *project["optional-dependencies"]["trading"]]  # type: ignore[index]
    assert sorted(map(_normalize, build_layers.requirement_lines("trading"))) == sorted(map(_normalize, expected))


def test_the_library_is_not_in_the_dependency_layers() -> None:
    for source in build_layers.LAYER_SOURCES:
        assert not any(_normalize(line).startswith("dnbot") for line in build_layers.requirement_lines(source.name))


def test_pip_command_targets_lambda_without_docker(tmp_path: Path) -> None:
    cmd = build_layers.pip_command("trading", tmp_path)
    joined = " ".join(cmd)
    assert f"--platform {build_layers.PIP_PLATFORM}" in joined
    assert build_layers.PIP_PLATFORM.startswith("manylinux2014_")
    assert "--only-binary=:all:" in cmd
    # the functions' runtime (SnapStart needs 3.12+), not this interpreter's version
    assert build_layers.LAMBDA_PYTHON_VERSION == "3.12"
    assert "--python-version 3.12" in joined and "--implementation cp" in joined
    assert f"--target {tmp_path}" in joined
    assert str(build_layers.layer_source("trading").requirements) in cmd
    assert "docker" not in joined.lower()


class _FakePip:
    """Stands in for pip: records the command and drops one module into --target."""

    def __init__(self, returncode: int = 0) -> None:
        self.returncode = returncode
        self.commands: list[list[str]] = []

    def __call__(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        self.commands.append(list(cmd))
        target = Path(cmd[cmd.index("--target") + 1])
        (target / "somepkg").mkdir(parents=True)
        (target / "somepkg" / "__init__.py").write_text("")
        (target / "somepkg" / "__pycache__").mkdir()
        (target / "bin").mkdir()
        return subprocess.CompletedProcess(list(cmd), self.returncode)


def test_build_layer_lays_out_python_dir_and_stamps_it(tmp_path: Path) -> None:
    stale = tmp_path / "api" / "python" / "left_over_from_an_older_build"
    stale.mkdir(parents=True)
    pip = _FakePip()
    out = build_layers.build_layer("api", tmp_path, runner=pip)
    assert out == tmp_path / "api"
    assert (out / "python" / "somepkg" / "__init__.py").is_file()
    assert not (out / "python" / "somepkg" / "__pycache__").exists()
    assert not (out / "python" / "bin").exists()
    assert not stale.exists(), "a rebuild starts from scratch"
    assert build_layers.check_layer("api", tmp_path) == out
    assert len(pip.commands) == 1


def test_failed_pip_leaves_no_half_built_layer(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=build_layers.PIP_PLATFORM):
        build_layers.build_layer("trading", tmp_path, runner=_FakePip(returncode=1))
    assert not (tmp_path / "trading").exists()
    with pytest.raises(ValueError, match="make layers"):
        build_layers.check_layer("trading", tmp_path)


def test_digest_changes_with_the_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = build_layers.requirements_digest("api")
    changed = tmp_path / "requirements.txt"
    changed.write_text(build_layers.layer_source("api").requirements.read_text() + "\nextra-package>=1\n")
    monkeypatch.setattr(build_layers, "LAYER_SOURCES", (build_layers.LayerSource("api", changed),))
    assert build_layers.requirements_digest("api") != before


def test_cli_rejects_an_unknown_layer(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_layers.main(["nope"])
    assert exc.value.code == 2
    assert "unknown layer 'nope'" in capsys.readouterr().err


def test_cdk_cli_is_pinned_to_v2_with_a_lockfile() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.\d+\.\d+", version), version
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version


def test_cdk_json_runs_the_python_app() -> None:
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    # `npx cdk synth|deploy` first builds what the app packages (stale layers, the dashboard), then runs it.
    prepare, run = cdk_json["app"].split(" && ")
    assert prepare.split()[:4] == ["make", "--no-print-directory", "-s", "cdk-inputs"]
    assert run.split() == [".venv/bin/python", "infra/app.py"]


def test_if_stale_skips_fresh_layers_and_builds_missing_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    fresh = tmp_path / "api"
    (fresh / "python").mkdir(parents=True)
    (fresh / build_layers.STAMP_NAME).write_text(build_layers.requirements_digest("api"))
    built: list[str] = []

    def fake_build(name: str, root: Path = build_layers.BUILD_DIR, runner: object = None) -> Path:
        built.append(name)
        (root / name / "python").mkdir(parents=True, exist_ok=True)
        return root / name

    monkeypatch.setattr(build_layers, "build_layer", fake_build)
    assert build_layers.main(["--if-stale", "--out", str(tmp_path)]) == 0
    assert built == ["trading"]  # api is fresh; trading is missing
    assert build_layers.main(["--out", str(tmp_path), "api"]) == 0
    assert built == ["trading", "api"]  # without --if-stale a layer is always rebuilt

"""Offline builds and checks: sam build without Docker or python3.13, bytecode the runtime can use, sam validate,
checkov."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sandbox.functions import PROJECT_ROOT, rotation_functions
from sandbox.sam_build import BUILD_DIR, artifact_sizes, build, tool

RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    result = build(build_dir)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return build_dir


def test_every_function_and_the_layer_are_built(built: Path) -> None:
    sizes = artifact_sizes(built)
    for logical_id in rotation_functions():
        assert (built / logical_id / "app.py").is_file(), logical_id
        assert sizes[logical_id] < 40 * 2**20, f"{logical_id} is {sizes[logical_id]} bytes"
    assert (built / "SharedLayer" / "python" / "rotator" / "core" / "engine.py").is_file()
    assert (built / "SharedLayer" / "python" / "aws_lambda_powertools").is_dir()
    # Bytecode only for the runtime's python3.13 (when the build machine has one), none for this machine's.
    assert all(path.name.endswith(".cpython-313.pyc") for path in built.rglob("*.pyc"))
    if _python313_on_path():
        assert (
            built / "SharedLayer" / "python" / "rotator" / "core" / "__pycache__" / "engine.cpython-313.pyc"
        ).is_file()
        assert (built / "PostgresFunction" / "__pycache__" / "app.cpython-313.pyc").is_file()


def test_no_runtime_packages_and_no_wheels_for_another_python(built: Path) -> None:
    for package in RUNTIME_PACKAGES:
        assert not list(built.glob(f"*/{package}")), package
        assert not list(built.glob(f"*/python/{package}")), package
    extensions = list(built.rglob("*.so"))
    assert extensions, "expected compiled extensions (psycopg-binary, cryptography)"
    for extension in extensions:
        version = re.search(r"cpython-3(\d+)", extension.name)
        assert version is None or version.group(1) == "13", extension.name
    for wheel in built.rglob("*.dist-info/WHEEL"):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        assert any(re.match(r"(py3|py2\.py3)-none-|cp313-cp313-|cp3\d+-abi3-", tag) for tag in tags), (
            f"{wheel.parent.name}: {tags}"
        )
        assert all("x86_64" in tag or tag.endswith("-any") for tag in tags), f"{wheel.parent.name}: {tags}"


def _python313_on_path() -> bool:
    """Whether the build compiles bytecode: a python3.13 or python3 on the PATH that runs and is 3.13."""
    check = "import sys; sys.exit(sys.version_info[:2] != (3, 13))"
    return any(
        shutil.which(name) and subprocess.run([name, "-c", check], capture_output=True, check=False).returncode == 0
        for name in ("python3.13", "python3")
    )


def _python313() -> str | None:
    found = shutil.which("python3.13")
    if found and subprocess.run([found, "-V"], capture_output=True, check=False).returncode == 0:
        return found
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    return candidates[-1] if candidates else None


def test_built_handlers_import_under_the_target_python(built: Path, tmp_path: Path) -> None:
    python = _python313()
    if python is None:
        pytest.skip("no python3.13 interpreter on this machine (the issue asks for this check when one is available)")
    runtime = tmp_path / "runtime"  # what the Lambda runtime provides: boto3 and its dependencies
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--platform", "manylinux2014_x86_64", "--python-version", "3.13", "--implementation", "cp",
         "--target", str(runtime), "boto3"],
        check=True,
    )  # fmt: skip
    for logical_id in rotation_functions():
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(
                [str(built / logical_id), str(built / "SharedLayer" / "python"), str(runtime)]
            ),
            "AWS_DEFAULT_REGION": "us-east-1",
            "ROTATION_KEYRING_BUCKET": "keyring",
            "ROTATION_KEYRING_KEY": "jwks.json",
        }
        result = subprocess.run(
            [python, "-c", "import app, sys; assert callable(app.lambda_handler); print(sys.version_info[:2])"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"{logical_id}: {result.stderr[-2000:]}"
        assert "(3, 13)" in result.stdout


def _build_layer(into: Path, bytecode_python: str | None = None, path: str | None = None) -> str:
    """Build the layer into ``into`` (bytecode by ``bytecode_python``, else lambda.mk's own look-up on ``path``);
    what the build said on stderr."""
    chosen = [] if bytecode_python is None else [f"BYTECODE_PYTHON={bytecode_python}"]
    result = subprocess.run(
        ["make", "-s", "-f", str(PROJECT_ROOT / "shared" / "Makefile"), "build-SharedLayer", f"ARTIFACTS_DIR={into}",
         f"PYTHON={sys.executable}", *chosen],
        capture_output=True, text=True, check=True, env={**os.environ, "PATH": path or os.environ.get("PATH", "")},
    )  # fmt: skip
    return result.stderr


def _loaded_from_source(layer: Path, function: Path) -> list[str]:
    """The layer's modules a cold start of the postgres handler compiles from source instead of loading bytecode
    (``python -v`` names the file each code object came from), the code read-only as on Lambda."""
    function.mkdir()
    shutil.copy(PROJECT_ROOT / "functions" / "postgres" / "app.py", function / "app.py")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{function}{os.pathsep}{layer}",
           "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-v", "-c", "import app"], cwd=function, env=env, capture_output=True, text=True, check=True
    )
    loaded = re.findall(r"^# code object from '?([^']+?)'?$", result.stderr, re.MULTILINE)
    assert any(path.startswith(str(layer)) for path in loaded), "the layer was not imported"
    return [path for path in loaded if path.startswith(str(layer)) and path.endswith(".py")]


def _as_zipped(sources: list[Path]) -> None:
    for source in sources:
        os.utime(source, (315532800, 315532800))  # 1980-01-01, what SAM's zip records for every file


def test_the_layer_ships_bytecode_that_survives_sams_zip(tmp_path: Path) -> None:
    """Lambda cannot write bytecode, and SAM's zip dates every file 1980-01-01 (``make_zip``), which makes a
    timestamp-checked .pyc stale: the build's unchecked-hash .pyc are used all the same, timestamped ones are not.
    This interpreter stands in for the runtime's python3.13."""
    artifacts = tmp_path / "layer"
    _build_layer(artifacts, sys.executable)
    layer = artifacts / "python"
    zipped = tmp_path / "layer.zip"
    subprocess.run(
        [str(tool("sam").with_name("python")), "-c",
         "import sys; from samcli.lib.package.utils import make_zip; make_zip(sys.argv[1], sys.argv[2])",
         str(zipped.with_suffix("")), str(artifacts)],
        check=True, capture_output=True,
    )  # fmt: skip
    with zipfile.ZipFile(zipped) as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    sources = list(layer.rglob("*.py"))
    _as_zipped(sources)
    pycs = list(layer.rglob(f"*.{sys.implementation.cache_tag}.pyc"))
    assert len(pycs) == len(sources)
    assert {int.from_bytes(pyc.read_bytes()[4:8], "little") for pyc in pycs} == {0b01}  # hash-based, unchecked
    assert _loaded_from_source(layer, tmp_path / "unchecked") == []

    for source in sources:
        os.utime(source)  # as built, then zipped: timestamped .pyc record the build's times
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", str(layer)], check=True, capture_output=True)
    _as_zipped(sources)
    stale = _loaded_from_source(layer, tmp_path / "timestamped")
    assert str(layer / "rotator" / "core" / "engine.py") in stale


def test_a_build_without_python313_ships_no_bytecode_and_says_so(tmp_path: Path) -> None:
    """Found on the PATH: a python3.13 that does not run (a pyenv shim of a version not selected), and a
    python3 that is not 3.13. Neither compiles."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "python3.13").write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    (tools / "python3.13").chmod(0o755)
    (tools / "python3").symlink_to(sys.executable)
    said = _build_layer(tmp_path / "layer", path=f"{tools}{os.pathsep}/usr/bin:/bin")
    if sys.version_info[:2] == (3, 13):  # this machine's python3 is the runtime's
        assert list((tmp_path / "layer").rglob("*.cpython-313.pyc"))
        return
    assert "no python3.13 found" in said
    assert "ships without bytecode" in said
    assert not list((tmp_path / "layer").rglob("*.pyc"))


def test_make_build_leaves_the_build_where_sam_deploy_reads_it() -> None:
    """SAM CLI's own default for the built template, asked from the SAM CLI that ``make test`` installs."""
    sam_python = tool("sam").with_name("python")
    asked = subprocess.run(
        [str(sam_python), "-c", "from samcli.commands._utils import constants as c; print(c.DEFAULT_BUILD_DIR)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert PROJECT_ROOT / asked.stdout.strip() == BUILD_DIR


def test_sam_validate_lint_is_clean() -> None:
    result = subprocess.run(
        [str(tool("sam")), "validate", "--lint", "--template-file", "template.yaml", "--region", "us-east-1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_with_every_skip_explained() -> None:
    result = subprocess.run(
        [str(tool("checkov")), "-f", "template.yaml", "--framework", "cloudformation", "--skip-download", "--compact",
         "--quiet"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    text = (PROJECT_ROOT / "template.yaml").read_text()
    skips = text.count("- id: CKV_")
    assert skips == text.count("comment: "), "every skipped check needs a comment saying why"

"""Offline builds and checks: sam build without Docker or python3.13, sam validate, checkov."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
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
    assert (built / "SharedLayer" / "python" / "rotator" / "engine.py").is_file()
    assert (built / "SharedLayer" / "python" / "aws_lambda_powertools").is_dir()
    assert not list(built.rglob("__pycache__"))


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

"""``sam local invoke`` against the sandbox, as docs/deployment.md gives it.

Without Docker, SAM CLI's own Python API (from the SAM tool environment ``make test``
installs) resolves each function's environment from the template and the file
``serve --sam-local`` writes, and each kind's four sample events then run, in that
environment and as the ARN SAM's emulator reports, through the template's handler
path. With a Docker engine, the documented lines run.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from sandbox.functions import PROJECT_ROOT, freshness_function, refresh_function, rotation_functions
from sandbox.sam_build import tool
from sandbox.sam_local import declared_variables, invoked_arn, sample_events
from tests.helpers import start_serve, stop_serve
from tests.leak_canary import register_output

PARAMETERS = {"Environment": "sandbox", "AppName": "amply"}

_RESOLVE = """
import json, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
template, env_file, region = sys.argv[1:4]
overrides = dict(pair.split("=", 1) for pair in sys.argv[4:])
stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides=overrides)
provider = SamFunctionProvider(stacks)
with open(env_file) as handle:
    runner = LocalLambdaRunner(None, provider, ".", ".", aws_region=region, env_vars_values=json.load(handle))
print(json.dumps({f.name: runner._make_env_vars(f).resolve() for f in provider.get_all()}))
"""

_INVOKE = """
import json, sys
from dataclasses import dataclass
from sandbox.functions import load_handler, rotation_functions
from sandbox.sam_local import invoked_arn
import os

@dataclass
class Context:
    invoked_function_arn: str
    aws_request_id: str = "local"
    function_name: str = ""

spec = rotation_functions()[sys.argv[1]]
handler = load_handler(spec)
context = Context(invoked_arn(os.environ["AWS_LAMBDA_FUNCTION_NAME"]))
for path in sys.argv[2:]:
    with open(path) as handle:
        handler(json.load(handle), context)
"""


SHARED = PROJECT_ROOT / "shared" / "rotator"


def _environment_names() -> dict[str, str]:
    """Every ``ENV_*`` name the layer defines, and the variable it names: only its ``settings`` modules do."""
    names: dict[str, str] = {}
    for module in SHARED.rglob("settings.py"):
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)
                              and t.id.startswith("ENV_")})  # fmt: skip
    return names


def _owner(module: Path) -> str:
    """Which function reads what ``module`` reads: its kind's, the refresh or freshness function, or every one
    (``*``)."""
    parts = module.relative_to(SHARED).parts
    if parts[0] == "kinds" and len(parts) > 2:
        return parts[1]
    if parts == ("freshness.py",):
        return "freshness"
    return "refresh" if parts == ("consumers", "refresh.py") else "*"


def _variables_read() -> dict[str, set[str]]:
    """Per kind (None: every kind), the ``ROTATION_*`` names the layer's modules read (not merely define)."""
    names = _environment_names()
    read: dict[str, set[str]] = {}
    for module in SHARED.rglob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        owner = _owner(module)
        read.setdefault(owner, set()).update(names[n] for n in used & set(names) if names[n].startswith("ROTATION_"))
    return read


def test_every_variable_a_handler_reads_is_declared_for_its_function() -> None:
    read = _variables_read()
    everything = set(_environment_names().values())
    assert set().union(*read.values()) == {name for name in everything if name.startswith("ROTATION_")}
    declared = declared_variables()
    for logical_id, spec in rotation_functions().items():
        wanted = read["*"] | read.get(spec.kind, set())
        assert wanted - declared[logical_id] == set(), logical_id
        assert {n for n in declared[logical_id] if n.startswith("ROTATION_")} <= wanted, f"{logical_id}: unread"


def test_no_module_names_a_variable_outside_the_settings() -> None:
    for module in (PROJECT_ROOT / "shared").rglob("*.py"):
        if module.name == "settings.py":
            continue
        strings = [
            node.value for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]  # fmt: skip
        assert not [s for s in strings if s.startswith("ROTATION_") and s != "ROTATION_"], module


@contextmanager
def _serving(folder: Path, *options: str) -> Iterator[dict[str, Any]]:
    """``python -m sandbox serve --sam-local <folder>/env.json`` with ``options``, until the block ends."""
    env_file = folder / "env.json"
    process, endpoint = start_serve(folder / "serve.log", "serve", "--sam-local", str(env_file), *options)
    try:
        yield {"env_file": env_file, "endpoint": endpoint, "folder": folder}
    finally:
        stop_serve(process)
        register_output("serve --sam-local output", (folder / "serve.log").read_text())


@pytest.fixture(scope="module")
def sam_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Advertised as ``localhost``: a host name (as a container's is) that this machine resolves."""
    with _serving(tmp_path_factory.mktemp("sam-local"), "--bind", "127.0.0.1", "--advertise", "localhost") as sandbox:
        yield sandbox


def _resolved(env_file: Path) -> dict[str, dict[str, str]]:
    sam_python = tool("sam").with_name("python")
    overrides = [f"{key}={value}" for key, value in PARAMETERS.items()]
    done = subprocess.run(
        [str(sam_python), "-c", _RESOLVE, str(PROJECT_ROOT / "template.yaml"), str(env_file), "us-east-1", *overrides],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT, timeout=120,
    )  # fmt: skip
    resolved: dict[str, dict[str, str]] = json.loads(done.stdout)
    return resolved


def test_sam_passes_every_generated_variable_to_each_function(sam_sandbox: dict[str, Any]) -> None:
    written = json.loads(sam_sandbox["env_file"].read_text())
    resolved = _resolved(sam_sandbox["env_file"])
    others = {refresh_function().logical_id, freshness_function().logical_id}
    assert set(written) == set(rotation_functions()) == set(resolved) - others
    for logical_id, variables in written.items():
        assert variables, logical_id
        assert variables["ROTATION_ENDPOINT_URL"].startswith("http://localhost:")
        for name, value in variables.items():
            assert resolved[logical_id].get(name) == value, f"{logical_id}: {name} does not reach the function"


def test_each_kind_rotates_through_its_sample_events_as_sam_runs_them(sam_sandbox: dict[str, Any]) -> None:
    """The four events in SAM's resolved environment (no AWS_ENDPOINT_URL: the template's variable points the
    functions at the sandbox), as SAM's emulator's ARN: each event's token ends AWSCURRENT."""
    resolved = _resolved(sam_sandbox["env_file"])
    sm = boto3.client(
        "secretsmanager", endpoint_url=sam_sandbox["endpoint"], region_name="us-east-1",
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
    )  # fmt: skip
    by_kind: dict[str, list[tuple[Path, dict[str, str]]]] = {}
    for kind, path, event in sample_events():
        by_kind.setdefault(kind, []).append((path, event))
    steps = ["createSecret", "setSecret", "testSecret", "finishSecret"]
    for logical_id, spec in rotation_functions().items():
        events = sorted(by_kind[spec.kind], key=lambda item: steps.index(item[1]["Step"]))
        (secret_id,), (token,) = {e["SecretId"] for _, e in events}, {e["ClientRequestToken"] for _, e in events}
        description = sm.describe_secret(SecretId=secret_id)
        assert description["RotationLambdaARN"] == invoked_arn(resolved[logical_id]["AWS_LAMBDA_FUNCTION_NAME"])
        assert description["VersionIdsToStages"][token] == ["AWSPENDING"]
        keep = ("ROTATION_", "POWERTOOLS_", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME")
        env = {name: value for name, value in resolved[logical_id].items() if name.startswith(keep)}
        env.update(
            PATH=os.environ["PATH"], PYTHONPATH=f"{PROJECT_ROOT / 'shared'}{os.pathsep}{PROJECT_ROOT}",
            AWS_ACCESS_KEY_ID="sandbox", AWS_SECRET_ACCESS_KEY="sandbox", AWS_CONFIG_FILE=os.devnull,
            HOME=str(sam_sandbox["folder"]),
        )  # fmt: skip
        run = subprocess.run(
            [sys.executable, "-c", _INVOKE, logical_id, *(str(path) for path, _ in events)],
            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120, check=False,
        )  # fmt: skip
        register_output(f"{logical_id} local invoke", run.stdout + run.stderr)
        assert run.returncode == 0, run.stderr[-3000:]
        after = sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
        assert sorted(after[token]) == ["AWSCURRENT", "AWSPENDING", "VERIFIED"], logical_id  # testSecret proved it


def _docker() -> str | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True, check=False, timeout=60).returncode == 0:
        return docker
    return None


@pytest.mark.skipif(_docker() is None, reason="no Docker engine here: `sam local invoke` needs one")
def test_the_readme_lines_run_with_docker(tmp_path: Path) -> None:
    """docs/deployment.md: serve --sam-local, sam build, then each function's four events through sam local invoke."""
    sam = str(tool("sam"))
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
    with _serving(tmp_path) as sandbox:
        built = subprocess.run([sam, "build"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        assert built.returncode == 0, built.stderr[-3000:]
        for logical_id, spec in rotation_functions().items():  # the documented lines, for every function
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                invoked = subprocess.run(
                    [sam, "local", "invoke", logical_id, "-e", f"events/{spec.kind}/{step}.json",
                     "--env-vars", str(sandbox["env_file"]),
                     "--parameter-overrides", "Environment=sandbox AppName=amply",
                     "--region", "us-east-1", "--add-host", "host.docker.internal:host-gateway"],
                    cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=600,
                )  # fmt: skip
                register_output(f"sam local invoke {logical_id} {step}", invoked.stdout + invoked.stderr)
                assert invoked.returncode == 0, invoked.stderr[-3000:]
                assert '"errorType"' not in invoked.stdout, f"{logical_id} {step}"


def test_an_empty_declared_variable_means_the_default() -> None:
    """The template declares every variable with "" where it sets none: "" must behave as unset, everywhere."""
    from dataclasses import is_dataclass

    from rotator.kinds import kind_class, names
    from rotator.kinds.signing_key.settings import ENV_KEYRING_BUCKET, ENV_KEYRING_KEY
    from rotator.settings import Settings

    def settings_of(made: object) -> dict[str, object]:
        """The configuration objects (dataclasses) a kind holds, itself or in the adapters and paths it holds."""
        found = {}
        for name, value in vars(made).items():
            if is_dataclass(value):
                found[name] = value
            elif hasattr(value, "__dict__"):
                found.update({f"{name}.{k}": v for k, v in vars(value).items() if is_dataclass(v)})
        return found

    required = {ENV_KEYRING_BUCKET: "keyring", ENV_KEYRING_KEY: "jwks.json"}
    every = {value: "" for value in _environment_names().values()}
    empty, unset = Settings.from_env({**every, **required}), Settings.from_env(required)
    assert empty == unset
    for kind in names():
        made = [settings_of(kind_class(kind)(settings)) for settings in (empty, unset)]
        assert len(made[1]) > 1, kind  # the shared settings and the kind's own
        assert made[0] == made[1], kind

"""``python -m sandbox serve`` as an operator runs it: port checks, quiet output, clean exit on a closed terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tests.helpers import start_serve
from tests.leak_canary import register_output


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_an_impossible_port_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "serve", "--port", "99999"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "'99999' is not a TCP port" in result.stderr
    assert "READY" not in result.stdout


def test_a_closed_terminal_removes_every_server_and_temp_folder(tmp_path: Path) -> None:
    """SIGHUP after a rotation: no server process, no temp folder left; --verbose shows no request lines."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop("XDG_RUNTIME_DIR", None)
    log = tmp_path / "serve.log"
    process, endpoint = start_serve(log, "--verbose", "serve", env=env)
    try:
        servers = _descendants(process.pid)
        assert servers, "PostgreSQL and Redis run as child processes"
        assert any(temp.iterdir()), "the servers keep their data under TMPDIR"
        sm = boto3.client(
            "secretsmanager", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="sandbox", aws_secret_access_key="sandbox",
        )  # fmt: skip
        token = sm.rotate_secret(SecretId="amply/sandbox/redis-url")["VersionId"]
        deadline = time.monotonic() + 60
        while "AWSCURRENT" not in sm.describe_secret(SecretId="amply/sandbox/redis-url")["VersionIdsToStages"].get(
            token, []
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        process.send_signal(signal.SIGHUP)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text()
    register_output("sandbox serve --verbose output", output)
    assert "rotation step done" in output  # --verbose shows the handlers' lines ...
    assert "HTTP/1.1" not in output  # ... and not the emulator's request lines
    assert "XDG_RUNTIME_DIR" not in output
    assert "Traceback" not in output
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in servers if _alive(pid)]
    assert not list(temp.iterdir())

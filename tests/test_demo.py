"""``make demo``: the sandbox rotation the README promises, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys

from tests.leak_canary import register_output

EXPECTED = {
    "amply/sandbox/session-secret": "session_secret",
    "amply/sandbox/api-encryption-key": "session_secret",
    "amply/sandbox/database-url": "postgres",
    "amply/sandbox/reporting-database-url": "postgres",
    "amply/sandbox/redis-url": "redis",
    "amply/sandbox/checkpoint-signing-key": "signing_key",
}


def test_demo_rotates_every_sandbox_secret_and_proves_it() -> None:
    result = subprocess.run([sys.executable, "-m", "sandbox"], capture_output=True, text=True, timeout=300, check=False)
    register_output("make demo stdout", result.stdout)
    register_output("make demo stderr", result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("amply/sandbox/")}
    assert set(rows) == set(EXPECTED)
    for name, kind in EXPECTED.items():
        row = rows[name]
        assert row.split()[1] == kind
        assert "AWSPREVIOUS" in row
        assert "AWSCURRENT+AWSPENDING" in row
        assert "FAILED" not in row
    assert (
        "AWSCURRENT (amply_reporting_clone) and AWSPREVIOUS (amply_reporting) both log in"
        in rows["amply/sandbox/reporting-database-url"]
    )
    assert "0 of 2 new password(s) found in clear" in result.stdout

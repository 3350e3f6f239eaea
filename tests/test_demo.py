"""``make demo``: the sandbox rotation the README promises, run as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys

from rotation_cli.table import WIDTH
from rotator import kinds
from sandbox.__main__ import DEMO
from sandbox.functions import PROJECT_ROOT
from sandbox.harness import by_label
from tests.helpers import table_rows
from tests.leak_canary import register_output

EXPECTED = {name: by_label(label).kind for name, label in DEMO}


def test_the_demo_rotates_a_secret_of_every_kind() -> None:
    assert set(EXPECTED.values()) == set(kinds.names())


def test_demo_rotates_every_sandbox_secret_and_proves_it() -> None:
    result = subprocess.run([sys.executable, "-m", "sandbox"], capture_output=True, text=True, timeout=300, check=False)
    register_output("make demo stdout", result.stdout)
    register_output("make demo stderr", result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert max(map(len, result.stdout.splitlines())) <= WIDTH
    rows = table_rows(result.stdout, "amply/sandbox/")
    assert set(rows) == set(EXPECTED)
    for name, kind in EXPECTED.items():
        row = rows[name]
        assert row[1] == kind
        assert "AWSPREVIOUS" in " ".join(row)
        assert "AWSCURRENT+AWSPENDING" in " ".join(row)
    sample = (PROJECT_ROOT / "README.md").read_text().split("<!-- demo-output -->")[1].split("<!-- /demo-output -->")[0]
    documented = table_rows(sample, "amply/sandbox/")
    assert [(name, row[1]) for name, row in documented.items()] == [(name, row[1]) for name, row in rows.items()], (
        "the README's sample output no longer lists what the demo rotates: paste a new run"
    )
    words = " ".join(result.stdout.split())
    assert "FAILED" not in words
    for name in ("reporting-database-url", "reporting-replica-url"):  # the second on the read replica
        assert re.search(
            name + r": AWSCURRENT \((amply_reporting_\w+)_clone\) and AWSPREVIOUS \(\1\) both log in", words
        ), name
    assert "0 of 3 new password(s) found in clear" in result.stdout
    consumers = table_rows(result.stdout.split("\nECS consumers", 1)[1], "amply-sandbox/")
    assert len(consumers) == 2, "a consumer service per ECS-consumed secret"
    for service, (_, redeployed, logins, refused) in consumers.items():
        assert redeployed == "yes", service
        assert int(logins) > 0, service
        assert refused == "0", service

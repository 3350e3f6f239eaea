"""Zero downtime under load: applications keep sending requests while rotations run.

Application processes read the secret through the client helper (``rotation_client``: the seeds' 300 s TTL
cache, one refresh on an authentication failure): SQLAlchemy + asyncpg against PostgreSQL, redis-py against
Redis, every request a new login, across rotations each followed by ``revoke-previous``; requests, failed
requests and refreshes per path. ECS-style consumers read the secret once, at task start: their refused logins
over the same rotations with the consumer refresh, and without it (the suite before it). Measures and prints;
asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotation_cli.table import print_table  # noqa: E402
from sandbox.load import run_app_load, run_ecs_consumers  # noqa: E402
from sandbox.session import quiet_handlers  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every strategy and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="application processes per path")
    parser.add_argument("--workers", type=int, default=4, help="workers per application process")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--ttl", type=float, default=300.0, help="the applications' cache TTL in seconds")
    parser.add_argument("--ecs-rotations", type=int, default=3, help="rotations under ECS-style consumers")
    args = parser.parse_args(argv)
    quiet_handlers()

    from sandbox.harness import HARNESSES
    from sandbox.session import running_sandbox

    rows = []
    with running_sandbox() as servers:
        targets = servers.targets
        for harness in (h for h in HARNESSES if h.under_load):
            name = "amply/load/" + "".join(ch if ch.isalnum() else "-" for ch in harness.label.lower()).strip("-")
            targets.client.create_secret(Name=name, SecretString=harness.seed(targets))
            servers.emulator.enable_rotation(name, harness.kind)
            load = run_app_load(
                servers.emulator, name, harness.kind, processes=args.processes, workers=args.workers,
                rotations=args.rotations, ttl=args.ttl,
            )  # fmt: skip
            errors = ", ".join(f"{kind} {count}" for kind, count in load.errors.items()) or "-"
            rows.append([harness.label, str(load.rotations), str(load.requests), str(load.failed), errors,
                         str(load.refreshes)])  # fmt: skip
        ecs_rows = []
        # Single-user PostgreSQL is refused with consumers (every task holds the one password): not measured.
        for harness in (h for h in HARNESSES if h.under_load and h.label != "postgres (single user)"):
            for refresh in (True, False):
                service = run_ecs_consumers(servers, harness, rotations=args.ecs_rotations, refresh=refresh)
                ecs_rows.append([harness.label, "yes" if refresh else "no", str(service.rollouts),
                                 str(service.logins), str(service.refused)])  # fmt: skip
    print(
        f"Applications using the client helper: {args.processes} processes x {args.workers} workers per path, "
        f"every request a new login, cache TTL {args.ttl:g} s; each rotation followed by revoke-previous"
    )
    print_table(["path", "rotations", "requests", "failed", "failures", "refreshes"], rows)
    print(f"\nECS-style consumers (secret read at start only): 2 tasks, {args.ecs_rotations} rotations")
    print_table(["strategy", "refresh", "redeployments", "logins attempted", "refused"], ecs_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

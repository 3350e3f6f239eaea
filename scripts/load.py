"""Zero downtime under load: clients keep logging in while rotations run.

SDK-cache clients cache the secret (a TTL) and re-read it on an authentication
failure before counting a failed login: logins attempted, failed, and the
longest failure window per strategy. ECS-style consumers read the secret once,
at task start: their refused logins over the same rotations with the consumer
refresh, and without it (the suite before it). Measures and prints; asserts
nothing.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotation_cli.table import print_table  # noqa: E402
from sandbox.load import run_ecs_consumers, run_load  # noqa: E402
from sandbox.session import quiet_handlers  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every strategy and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rotations", type=int, default=10)
    parser.add_argument("--ttl", type=float, default=1.0, help="client cache TTL in seconds")
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
            stats = run_load(
                servers.emulator, name, functools.partial(harness.works, targets),
                workers=args.workers, rotations=args.rotations, ttl=args.ttl,
            )  # fmt: skip
            rows.append([harness.label, str(stats.attempts), str(stats.failures), f"{stats.longest_window_ms:.0f} ms"])
        ecs_rows = []
        # Single-user PostgreSQL is refused with consumers (every task holds the one password): not measured.
        for harness in (h for h in HARNESSES if h.under_load and h.label != "postgres (single user)"):
            for refresh in (True, False):
                service = run_ecs_consumers(servers, harness, rotations=args.ecs_rotations, refresh=refresh)
                ecs_rows.append([harness.label, "yes" if refresh else "no", str(service.rollouts),
                                 str(service.logins), str(service.refused)])  # fmt: skip
    print(f"SDK-cache clients: {args.workers} workers, {args.rotations} rotations, cache TTL {args.ttl:g} s")
    print_table(["strategy", "logins attempted", "failed", "longest failure window"], rows)
    print(f"\nECS-style consumers (secret read at start only): 2 tasks, {args.ecs_rotations} rotations")
    print_table(["strategy", "refresh", "redeployments", "logins attempted", "refused"], ecs_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

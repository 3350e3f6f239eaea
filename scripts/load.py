"""Zero downtime under load: clients keep logging in with whatever AWSCURRENT holds while rotations run.

Each worker caches the secret like our users do (a TTL cache) and re-reads it
on an authentication failure before counting a failed login. Prints logins
attempted, failed, and the longest failure window per strategy. Measures and
prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.load import run_load  # noqa: E402
from sandbox.session import quiet_handlers  # noqa: E402
from sandbox.table import print_table  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every strategy and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rotations", type=int, default=10)
    parser.add_argument("--ttl", type=float, default=1.0, help="client cache TTL in seconds")
    args = parser.parse_args(argv)
    quiet_handlers()

    from sandbox.probes import postgres_logs_in, redis_logs_in
    from sandbox.seed import seed_postgres_role, seed_redis_user
    from sandbox.session import running_sandbox

    rows = []
    with running_sandbox() as servers:
        postgres_url, master = servers.sandbox.postgres_url, servers.sandbox.master_arn
        cases: list[tuple[str, str, str, Callable[[str], bool]]] = [
            ("postgres alternating users", "postgres", seed_postgres_role(postgres_url, "load_alt", masterarn=master),
             postgres_logs_in),
            ("postgres single user", "postgres", seed_postgres_role(postgres_url, "load_single"), postgres_logs_in),
            ("redis ACL user (overlap)", "redis", seed_redis_user(*servers.sandbox.redis, "load_app"), redis_logs_in),
        ]  # fmt: skip
        for label, kind, seed, logs_in in cases:
            name = f"load/{label.replace(' ', '-')}"
            servers.sandbox.client.create_secret(Name=name, SecretString=seed)
            servers.emulator.enable_rotation(name, kind)
            stats = run_load(
                servers.emulator, name, logs_in, workers=args.workers, rotations=args.rotations, ttl=args.ttl
            )
            rows.append([label, str(stats.attempts), str(stats.failures), f"{stats.longest_window_ms:.0f} ms"])
    print(f"{args.workers} workers, {args.rotations} rotations, client cache TTL {args.ttl:g} s")
    print_table(["strategy", "logins attempted", "failed", "longest failure window"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

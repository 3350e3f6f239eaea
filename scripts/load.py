"""Zero downtime under load: clients keep logging in with whatever AWSCURRENT holds while rotations run.

Each worker caches the secret like our users do (a TTL cache) and re-reads it
on an authentication failure before counting a failed login. Prints logins
attempted, failed, and the longest failure window per strategy. Measures and
prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.load import run_load  # noqa: E402
from sandbox.table import print_table  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every strategy and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rotations", type=int, default=10)
    parser.add_argument("--ttl", type=float, default=1.0, help="client cache TTL in seconds")
    args = parser.parse_args(argv)
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    import boto3

    from sandbox.functions import load_handler, rotation_functions
    from sandbox.moto_server import MotoServer, sandbox_environment
    from sandbox.postgres_server import PostgresServer
    from sandbox.probes import postgres_logs_in, redis_logs_in
    from sandbox.redis_server import RedisServer
    from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
    from sandbox.seed import seed_postgres_role, seed_redis_user

    rows = []
    env = {"ROTATION_POSTGRES_SSLMODE": "disable"}
    redis_password = secrets.token_urlsafe(24)
    with (
        MotoServer() as server,
        sandbox_environment(server.endpoint, env),
        PostgresServer() as postgres,
        RedisServer({"admin": ("on ~* &* +@all", redis_password)}) as redis_server,
    ):
        client = boto3.client("secretsmanager")
        specs = {spec.kind: spec for spec in rotation_functions().values()}
        emulator = RotateSecretEmulator(
            {lambda_arn(kind): load_handler(spec) for kind, spec in specs.items() if kind in ("postgres", "redis")}
        )
        master = str(client.create_secret(Name="load/master", SecretString=postgres.superuser_url)["ARN"])
        cases: list[tuple[str, str, Callable[[str], bool]]] = [
            ("postgres alternating users", seed_postgres_role(postgres.superuser_url, "load_alt", masterarn=master),
             postgres_logs_in),
            ("postgres single user", seed_postgres_role(postgres.superuser_url, "load_single"), postgres_logs_in),
            ("redis ACL user (overlap)",
             seed_redis_user(redis_server.host, redis_server.port, redis_password, "load_app"), redis_logs_in),
        ]  # fmt: skip
        for label, seed, logs_in in cases:
            name = f"load/{label.replace(' ', '-')}"
            client.create_secret(Name=name, SecretString=seed)
            emulator.enable_rotation(name, "redis" if label.startswith("redis") else "postgres")
            reader: Any = boto3.client("secretsmanager")

            def read(name: str = name, reader: Any = reader) -> str:
                return str(reader.get_secret_value(SecretId=name)["SecretString"])

            def rotate(name: str = name) -> bool:
                return emulator.rotate(name).ok

            stats = run_load(read, logs_in, rotate, workers=args.workers, rotations=args.rotations, ttl=args.ttl)
            rows.append([label, str(stats.attempts), str(stats.failures), f"{stats.longest_window_ms:.0f} ms"])
    print(f"{args.workers} workers, {args.rotations} rotations, client cache TTL {args.ttl:g} s")
    print_table(["strategy", "logins attempted", "failed", "longest failure window"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

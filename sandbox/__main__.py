"""``make demo``: rotate the sandbox secrets through the real handlers, as Secrets Manager would.

Starts moto in server mode on a loopback port, seeds the secrets, stages an
empty AWSPENDING version for each and invokes the handler declared in
template.yaml for the four steps, then prints what happened.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Sequence

from sandbox.harness import KindHarness, by_label
from sandbox.session import Servers, quiet_handlers, running_sandbox
from sandbox.table import print_table

__all__ = ["main"]


# The sandbox's secrets, as our users name them, and the harness entry each one is seeded and proven with.
DEMO: tuple[tuple[str, str], ...] = (
    ("amply/sandbox/session-secret", "session_secret (key)"),
    ("amply/sandbox/api-encryption-key", "session_secret (JSON keyring)"),
    ("amply/sandbox/database-url", "postgres (single user)"),
    ("amply/sandbox/reporting-database-url", "postgres (alternating users)"),
    ("amply/sandbox/redis-url", "redis (ACL user via admin)"),
    ("amply/sandbox/checkpoint-signing-key", "signing_key (RSA-3072)"),
    ("amply/sandbox/stripe-secret-key", "stripe (staged secret key)"),
)


def _seed(servers: Servers, name: str, harness: KindHarness) -> None:
    servers.targets.client.create_secret(Name=name, SecretString=harness.seed(servers.targets))
    servers.emulator.enable_rotation(name, harness.kind)


def demo() -> int:
    """Seed and rotate every sandbox secret once; print what happened."""
    with running_sandbox() as servers:
        server, postgres, emulator, targets = servers.moto, servers.postgres, servers.emulator, servers.targets
        print(f"Secrets Manager emulator (moto server) on {server.endpoint}")
        print(f"PostgreSQL {postgres.host}:{postgres.port} (SCRAM-SHA-256, every statement logged)")
        print(f"Redis {servers.redis.host}:{servers.redis.port} (ACL file)")
        rows, failures, passwords = [], 0, []
        for name, label in DEMO:
            harness = by_label(label)
            _seed(servers, name, harness)
            harness.before_rotation(targets, name)
            before = server.log.calls.copy()
            started = time.perf_counter()
            result = emulator.rotate(name)
            elapsed = time.perf_counter() - started
            calls = sum((server.log.calls - before).values())
            stages = emulator.stages(name)
            if result.ok:
                proof = harness.prove(targets, name)
                if harness.kind == "postgres":  # the server-log check below is PostgreSQL's own
                    from rotator.kinds.postgres import PostgresSecret

                    passwords.append(PostgresSecret.parse(targets.value(name, "AWSCURRENT")).password)
                after = ", ".join(f"{vid[:8]}={'+'.join(sorted(s))}" for vid, s in stages.items() if s)
            else:
                failures += 1
                proof = f"FAILED at {result.failed_step}: {type(result.error).__name__}: {result.error}"
                after = "unchanged"
            old_new = f"{(result.old_version or '-')[:8]} -> {result.token[:8]}"
            rows.append([name, harness.kind, old_new, after, f"{elapsed * 1000:.0f} ms", str(calls), proof])
        print()
        print_table(["secret", "kind", "old -> new version", "stages after", "duration", "SM calls", "check"], rows)
        log = postgres.log_text()
        leaked = sum(1 for password in passwords if password in log)
        print()
        print(
            f"PostgreSQL server log: {log.count('SCRAM-SHA-256$')} SCRAM verifier(s) sent, "
            f"{leaked} of {len(passwords)} new password(s) found in clear"
        )
    return 1 if failures or leaked else 0


def serve(port: int) -> int:
    """Keep a seeded sandbox running for the operator tool: RotateSecret works over the API, logs land in CloudWatch."""
    import signal
    import threading

    from sandbox.lambda_logs import ship_handler_logs

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_sandbox(port) as servers:
        servers.moto.log.rotate_secret = servers.emulator.handle_api
        ship_handler_logs(servers.moto.endpoint)
        for name, label in DEMO:
            harness = by_label(label)
            if harness.kind == "stripe":
                # An operator stages keys by hand here: any key starting sk_test_sandbx is in the sandbox account.
                servers.targets.client.create_secret(Name=name, SecretString="sk_test_sandbx" + secrets.token_hex(12))
                servers.emulator.enable_rotation(name, harness.kind)
            else:
                _seed(servers, name, harness)
        print(f"export AWS_ENDPOINT_URL={servers.moto.endpoint}")
        print(f"export ROTATION_STRIPE_API_BASE={servers.stripe.base_url}")
        print("export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_DEFAULT_REGION=us-east-1")
        print(f"READY {servers.moto.endpoint}", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sandbox`` runs the demo; ``python -m sandbox serve`` keeps a sandbox up for ``rotation``."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs and metrics")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="keep a seeded sandbox running for the rotation command")
    serve_parser.add_argument("--port", type=int, default=0, help="moto server port (default: any free port)")
    args = parser.parse_args(argv)
    if not args.verbose:
        quiet_handlers("INFO" if args.command == "serve" else "ERROR")  # serve ships INFO lines to CloudWatch Logs
    if args.command == "serve":
        return serve(args.port)
    return demo()


if __name__ == "__main__":
    sys.exit(main())

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.probes import postgres_logs_in, redis_logs_in
from sandbox.seed import seed_redis_user
from sandbox.session import KEYRING, Sandbox, quiet_handlers, running_sandbox
from sandbox.table import print_table

__all__ = ["main"]


@dataclass(frozen=True)
class SandboxSecret:
    """One secret the sandbox seeds and rotates."""

    name: str
    kind: str
    seed: Callable[[Sandbox], str]
    prove: Callable[[Sandbox, str], str]


def _value(sandbox: Sandbox, name: str, stage: str) -> str:
    return str(sandbox.client.get_secret_value(SecretId=name, VersionStage=stage)["SecretString"])


def _prove_postgres(sandbox: Sandbox, name: str) -> str:
    from rotator.kinds.postgres import PostgresSecret

    current, previous = _value(sandbox, name, "AWSCURRENT"), _value(sandbox, name, "AWSPREVIOUS")
    user = PostgresSecret.parse(current).username
    if not postgres_logs_in(current):
        raise SystemExit(f"{name}: AWSCURRENT does not log in")
    if postgres_logs_in(previous):
        return f"AWSCURRENT ({user}) and AWSPREVIOUS ({PostgresSecret.parse(previous).username}) both log in"
    return f"AWSCURRENT ({user}) logs in; old password refused"


def _prove_session(sandbox: Sandbox, name: str) -> str:
    current, previous = _value(sandbox, name, "AWSCURRENT"), _value(sandbox, name, "AWSPREVIOUS")
    if current == previous:
        raise SystemExit(f"{name}: AWSCURRENT equals AWSPREVIOUS")
    if current.startswith("{"):
        import json

        doc, old = json.loads(current), json.loads(previous)
        if doc["previous"][:1] != [old["current"]]:
            raise SystemExit(f"{name}: keyring does not retain the old key")
        return f"new key; old key kept in 'previous' ({len(doc['previous'])})"
    return f"new {len(current)}-char key, same encoding"


REDIS_APP_RULES = ("on", "~app:*", "&*", "-@all", "+@read", "+@write", "+@connection", "+acl|whoami")


def _seed_redis(sandbox: Sandbox) -> str:
    # An application user without ACL permissions: the admin secret changes its password.
    return seed_redis_user(*sandbox.redis, "amply_app", rules=REDIS_APP_RULES)


def _prove_redis(sandbox: Sandbox, name: str) -> str:
    current, previous = _value(sandbox, name, "AWSCURRENT"), _value(sandbox, name, "AWSPREVIOUS")
    if not (redis_logs_in(current) and redis_logs_in(previous)):
        raise SystemExit(f"{name}: both passwords must work during the overlap")
    return "AWSCURRENT and AWSPREVIOUS passwords both accepted (overlap)"


STRIPE_KEY = "amply/sandbox/stripe-secret-key"


def _prove_signing_key(sandbox: Sandbox, name: str) -> str:
    from datetime import timedelta

    import boto3

    from rotator.keyring import Keyring
    from rotator.kinds.signing_key import SigningKeySecret
    from rotator.signatures import sign

    old = SigningKeySecret.parse(_value(sandbox, name, "AWSPREVIOUS"))
    new = SigningKeySecret.parse(_value(sandbox, name, "AWSCURRENT"))
    checkpoint = b"ledger checkpoint signed before the rotation"
    signature = sign(old.private_key, old.algorithm, checkpoint)
    keyring = Keyring.from_s3(*KEYRING, client=boto3.client("s3"))
    keyring.verify(old.key_id, checkpoint, signature, signed_at=old.valid_from + timedelta(days=1))
    return f"keyring holds {', '.join(keyring.keys)}; old checkpoint still verifies ({new.key_id} is current)"


def _secrets() -> list[SandboxSecret]:
    from sandbox.seed import seed_keyring, seed_postgres_role, seed_signing_key, seed_value

    return [
        SandboxSecret(
            "amply/sandbox/session-secret", "session_secret", lambda _: seed_value("session_secret"), _prove_session
        ),
        SandboxSecret("amply/sandbox/api-encryption-key", "session_secret", lambda _: seed_keyring(), _prove_session),
        SandboxSecret(
            "amply/sandbox/database-url",
            "postgres",
            lambda sandbox: seed_postgres_role(sandbox.postgres_url, "amply_app"),
            _prove_postgres,
        ),
        SandboxSecret(
            "amply/sandbox/reporting-database-url",
            "postgres",
            lambda sandbox: seed_postgres_role(sandbox.postgres_url, "amply_reporting", masterarn=sandbox.master_arn),
            _prove_postgres,
        ),
        SandboxSecret("amply/sandbox/redis-url", "redis", _seed_redis, _prove_redis),
        SandboxSecret(
            "amply/sandbox/checkpoint-signing-key",
            "signing_key",
            lambda _: seed_signing_key("RS256"),
            _prove_signing_key,
        ),
    ]


def demo() -> int:
    """Seed and rotate every sandbox secret once; print what happened."""
    with running_sandbox() as servers:
        server, postgres, emulator, sandbox = servers.moto, servers.postgres, servers.emulator, servers.sandbox
        print(f"Secrets Manager emulator (moto server) on {server.endpoint}")
        print(f"PostgreSQL {postgres.host}:{postgres.port} (SCRAM-SHA-256, every statement logged)")
        print(f"Redis {servers.redis.host}:{servers.redis.port} (ACL file)")
        rows, failures, passwords = [], 0, []
        for secret in _secrets():
            sandbox.client.create_secret(Name=secret.name, SecretString=secret.seed(sandbox))
            emulator.enable_rotation(secret.name, secret.kind)
            before = server.log.calls.copy()
            started = time.perf_counter()
            result = emulator.rotate(secret.name)
            elapsed = time.perf_counter() - started
            calls = sum((server.log.calls - before).values())
            stages = emulator.stages(secret.name)
            if result.ok:
                proof = secret.prove(sandbox, secret.name)
                if secret.kind == "postgres":
                    from rotator.kinds.postgres import PostgresSecret

                    passwords.append(PostgresSecret.parse(_value(sandbox, secret.name, "AWSCURRENT")).password)
                after = ", ".join(f"{vid[:8]}={'+'.join(sorted(s))}" for vid, s in stages.items() if s)
            else:
                failures += 1
                proof = f"FAILED at {result.failed_step}: {type(result.error).__name__}: {result.error}"
                after = "unchanged"
            rows.append(
                [
                    secret.name,
                    secret.kind,
                    f"{(result.old_version or '-')[:8]} -> {result.token[:8]}",
                    after,
                    f"{elapsed * 1000:.0f} ms",
                    str(calls),
                    proof,
                ]
            )
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
        for secret in _secrets():
            servers.sandbox.client.create_secret(Name=secret.name, SecretString=secret.seed(servers.sandbox))
            servers.emulator.enable_rotation(secret.name, secret.kind)
        stripe_key = "sk_test_sandbx" + secrets.token_hex(12)
        servers.sandbox.client.create_secret(Name=STRIPE_KEY, SecretString=stripe_key)
        servers.emulator.enable_rotation(STRIPE_KEY, "stripe")
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

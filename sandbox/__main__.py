"""``make demo``: rotate the sandbox secrets through the real handlers, as Secrets Manager would.

Starts moto in server mode on a loopback port, seeds the secrets, stages an
empty AWSPENDING version for each and invokes the handler declared in
template.yaml for the four steps, then prints what happened.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rotation_cli.table import WIDTH, print_table
from sandbox.functions import schedules_by_kind
from sandbox.harness import KindHarness, by_label
from sandbox.sam_local import local_invoke_arns, prepare_sam_local
from sandbox.session import Servers, quiet_handlers, quiet_servers, running_sandbox

__all__ = ["main"]


# The sandbox's secrets, as our users name them, and the harness entry each one is seeded and proven with.
DEMO: tuple[tuple[str, str], ...] = (
    ("amply/sandbox/session-secret", "session_secret (key)"),
    ("amply/sandbox/api-encryption-key", "session_secret (JSON keyring)"),
    ("amply/sandbox/database-url", "postgres (single user)"),
    ("amply/sandbox/reporting-database-url", "postgres (alternating users, RDS-managed master)"),
    ("amply/sandbox/reporting-replica-url", "postgres (alternating users, read replica)"),
    ("amply/sandbox/redis-url", "redis (ACL user via admin)"),
    ("amply/sandbox/elasticache-url", "redis (ElastiCache RBAC user)"),
    ("amply/sandbox/elasticache-auth-token", "redis (ElastiCache AUTH token)"),
    ("amply/sandbox/memorydb-url", "redis (MemoryDB user)"),
    ("amply/sandbox/checkpoint-signing-key", "signing_key (RSA-3072)"),
    ("amply/sandbox/stripe-secret-key", "stripe (staged secret key)"),
)

# Secrets injected into ECS consumer services (real processes that read the value once, at launch).
ECS_CONSUMED = ("amply/sandbox/reporting-database-url", "amply/sandbox/redis-url")


def _seed(
    servers: Servers, name: str, harness: KindHarness, value: str | None = None, *, arn: str | None = None
) -> None:
    """Create the secret and configure its rotation as template.yaml does (its kind's schedule, or none)."""
    servers.targets.client.create_secret(
        Name=name, SecretString=value or harness.seed(servers.targets),
        Tags=[{"Key": "rotation:kind", "Value": harness.kind}],
    )  # fmt: skip
    servers.emulator.enable_rotation(name, harness.kind, schedule=schedules_by_kind().get(harness.kind), arn=arn)


def _report_consumers(consumers: list[Any]) -> int:
    """Wait for each consumer service's redeployment after its secret rotated; print it; the failures."""
    deadline, failed = time.monotonic() + 60, 0
    while any(service.rollouts == 0 for service in consumers) and time.monotonic() < deadline:
        time.sleep(0.2)
    print("\nECS consumers (secret read once, at task start), redeployed by the refresh function:")
    rows = []
    for service in consumers:
        with service.lock:
            logins, refused = service.logins, service.refused
        failed += service.rollouts == 0 or refused > 0
        rows.append([service.key, "yes" if service.rollouts else "NO", str(logins), str(refused)])
    print_table(["service", "redeployed", "logins", "refused"], rows)
    return failed


def demo() -> int:
    """Seed and rotate every sandbox secret once; print what happened."""
    with running_sandbox() as servers:
        server, postgres, emulator, targets = servers.moto, servers.postgres, servers.emulator, servers.targets
        print(f"Secrets Manager emulator (moto server) on {server.endpoint}")
        print(f"PostgreSQL {postgres.host}:{postgres.port} (SCRAM-SHA-256, every statement logged)")
        print(f"Redis {servers.redis.host}:{servers.redis.port} (ACL file)")
        rows, checks, failures, passwords, consumers = [], [], 0, [], []
        for name, label in DEMO:
            harness = by_label(label)
            _seed(servers, name, harness)
            if name in ECS_CONSUMED:
                arn = targets.client.describe_secret(SecretId=name)["ARN"]
                consumers.append(servers.ecs.run_service(arn, label))
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
                    from rotator.kinds.postgres.secret import PostgresSecret

                    passwords.append(PostgresSecret.parse(targets.value(name, "AWSCURRENT")).password)
                after = ", ".join(f"{vid[:8]}={'+'.join(sorted(s))}" for vid, s in stages.items() if s)
            else:
                failures += 1
                proof = f"FAILED at {result.failed_step}: {type(result.error).__name__}: {result.error}"
                after = "unchanged"
            rows.append([name, harness.kind, after, f"{elapsed * 1000:.0f} ms", str(calls)])
            checks.append(f"{name}: {proof}")
        print()
        print_table(["secret", "kind", "versions after (old, new)", "took", "SM calls"], rows)
        print("\nchecked after each rotation:")
        for check in checks:
            print(textwrap.fill(check, WIDTH, initial_indent="  ", subsequent_indent="      "))
        failures += _report_consumers(consumers)
        log = postgres.log_text()
        leaked = sum(1 for password in passwords if password in log)
        print()
        print(
            f"PostgreSQL server log: {log.count('SCRAM-SHA-256$')} SCRAM verifier(s) sent, "
            f"{leaked} of {len(passwords)} new password(s) found in clear"
        )
    return 1 if failures or leaked else 0


def _sandbx_key() -> str:
    """A Stripe test key of the sandbox account: the stand-in reads the account from the six characters after
    the mode, and a staged key must belong to the current key's account."""
    return "sk_test_sandbx" + secrets.token_hex(12)


def serve(
    port: int, *, bind: str = "127.0.0.1", advertise: str | None = None, sam_local: Path | None = None,
    scenarios: Sequence[str] = (), consumers: bool = True,
) -> int:  # fmt: skip
    """Keep a seeded sandbox running for the operator tool: RotateSecret works over the API, logs land in CloudWatch,
    and the ECS consumer services of the demo run (real processes that read their secret at launch). Each of
    ``scenarios`` (``sandbox.scenarios``) then puts it into a named trouble state to practise on.

    With ``sam_local``, also get ready for ``sam local invoke``: secrets name the functions as SAM's emulator
    invokes them, each sample event's token is staged, and the functions' ``--env-vars`` file is written.
    """
    import signal
    import threading

    from sandbox.lambda_logs import ship_handler_logs

    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal too: servers and temp files are removed
        signal.signal(number, lambda *_: stop.set())
    with running_sandbox(port, bind=bind, advertise=advertise) as servers:
        servers.moto.log.rotate_secret = servers.emulator.handle_api
        servers.moto.log.invoke_function = servers.emulator.invoke_function
        servers.moto.log.function_configuration = servers.emulator.function_configuration
        ship_handler_logs(servers.moto.endpoint)
        arns = local_invoke_arns(servers.emulator) if sam_local else {}
        for name, label in DEMO:
            harness = by_label(label)
            value = _sandbx_key() if harness.kind == "stripe" else None  # Stripe keys are staged by hand here
            _seed(servers, name, harness, value, arn=arns.get(harness.kind))
        for name in ECS_CONSUMED if consumers else ():
            service = servers.ecs.run_service(servers.targets.client.describe_secret(SecretId=name)["ARN"],
                                              dict(DEMO)[name])  # fmt: skip
            print(f"ECS consumer service {service.key} injects {name}")
        for scenario in scenarios:
            from sandbox.scenarios import apply_scenario

            print(f"scenario {scenario}: {apply_scenario(servers, scenario)}")
        if sam_local:
            prepare_sam_local(servers, sam_local, advertise or "127.0.0.1", {n: by_label(label) for n, label in DEMO})
            print(f"sam local invoke: --env-vars {sam_local} written; each sample event's token is staged")
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


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535; 0 picks a free one)")
    return int(text)


def _clean_up_on_hangup() -> None:
    """SIGHUP/SIGTERM end the run through Python's exit path, so every server and temp folder is removed."""
    import signal

    def leave(number: int, _: object) -> None:
        raise SystemExit(128 + number)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, leave)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sandbox`` runs the demo; ``python -m sandbox serve`` keeps a sandbox up for ``rotation``."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs and metrics")
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="keep a seeded sandbox running for the rotation command")
    serve_parser.add_argument("--port", type=_port, default=0, help="moto server port (default: any free port)")
    serve_parser.add_argument(
        "--sam-local", type=Path, metavar="ENV_VARS_FILE",
        help="get ready for `sam local invoke`: write its --env-vars file here, stage each sample event's token; "
        "implies --bind 0.0.0.0 --advertise host.docker.internal unless given",
    )  # fmt: skip
    serve_parser.add_argument("--bind", help="address the servers listen on (default 127.0.0.1)")
    serve_parser.add_argument("--advertise", help="host name secrets and the env-vars file give for the servers")
    serve_parser.add_argument(
        "--no-consumers", action="store_true",
        help="start no ECS consumer services (by default those of the demo run, so the consumer guard applies)",
    )  # fmt: skip
    from sandbox.scenarios import SCENARIOS

    serve_parser.add_argument(
        "--scenario", action="append", default=[], choices=sorted(SCENARIOS),
        help="put the sandbox into a trouble state to practise on (repeatable): "
        "stuck, failing-target, stale-consumer, overdue (see sandbox/scenarios.py)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    _clean_up_on_hangup()
    if args.verbose:
        quiet_servers()  # the handlers' lines and metrics, not the emulator's request lines
    else:
        quiet_handlers("INFO" if args.command == "serve" else "ERROR")  # serve ships INFO lines to CloudWatch Logs
    if args.command == "serve":
        containers = args.sam_local is not None
        bind = args.bind or ("0.0.0.0" if containers else "127.0.0.1")  # noqa: S104 - containers reach the host
        advertise = args.advertise or ("host.docker.internal" if containers else None)
        return serve(args.port, bind=bind, advertise=advertise, sam_local=args.sam_local, scenarios=args.scenario,
                     consumers=not args.no_consumers)  # fmt: skip
    return demo()


if __name__ == "__main__":
    sys.exit(main())

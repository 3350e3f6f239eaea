"""The sandbox's servers, started together: moto, PostgreSQL, Redis (self-managed, and ElastiCache and MemoryDB
emulated over real servers) and the Stripe stand-in.

``running_sandbox()`` starts them (PostgreSQL with a streaming replica, the RDS
API describing both) on loopback ports, points the AWS SDK and the
kinds' settings at them, seeds what several secrets share (the PostgreSQL
master secret, the Redis admin secret, the signing keyring bucket), and loads
the handlers ``template.yaml`` declares into a RotateSecret emulator. The demo,
``serve``, the benchmark and the load script all run on it.

PostgreSQL is reached through its TLS front: the master secret says
``verify-full`` against the sandbox CA, with SCRAM channel binding, exactly as
the functions insist on in production; application secrets there say
``sslmode=disable`` (the front relays them untouched).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from sandbox.harness import Targets

__all__ = [
    "CLUSTER",
    "KEYRING",
    "MASTER",
    "REDIS_ADMIN",
    "Servers",
    "quiet_handlers",
    "quiet_servers",
    "running_sandbox",
]

MASTER = "amply/sandbox/database-master"
CLUSTER = "amply-sandbox"  # the ECS cluster of the sandbox's consumer services
REDIS_ADMIN = "amply/sandbox/redis-admin"
KEYRING = ("amply-sandbox-keyring", "checkpoint-signing-key/jwks.json")


def quiet_handlers(level: str = "ERROR") -> None:
    """Keep the handlers' JSON logs (below ``level``) and metrics off the console; call before they load."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", level)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    quiet_servers()


def quiet_servers() -> None:
    """The emulator's own noise stays off the console: request lines, and a warning about a missing runtime dir."""
    import warnings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


@dataclass
class Servers:
    """Everything a sandbox run has started, plus the emulator wired to the template's handlers."""

    moto: Any
    postgres: Any
    redis: Any
    stripe: Any
    emulator: Any
    targets: Targets
    ecs: Any  # sandbox.ecs_agent.EcsAgent: consumer services in CLUSTER
    replica: Any  # sandbox.postgres_server.PostgresServer: the streaming replica of ``postgres``
    rds: Any  # sandbox.rds.RdsDatabases: the RDS API over ``postgres`` (its managed master rotates)


@contextmanager
def running_sandbox(port: int = 0, *, bind: str = "127.0.0.1", advertise: str | None = None) -> Iterator[Servers]:
    """Start moto, PostgreSQL, Redis and the Stripe stand-in; load the handlers; seed the shared secrets.

    ``bind`` is the address the servers a rotation function reaches listen on (0.0.0.0 for containers);
    ``advertise`` the host name secrets give for them (one a container resolves), else 127.0.0.1.
    """
    import boto3

    from sandbox.ecs_agent import EcsAgent
    from sandbox.ecs_world import add_container_host
    from sandbox.functions import load_handler, refresh_function, rotation_functions
    from sandbox.managed_redis import ManagedRedis
    from sandbox.moto_server import MotoServer, environment, sandbox_environment
    from sandbox.postgres_server import PostgresServer
    from sandbox.rds import RdsDatabases
    from sandbox.redis_server import RedisServer
    from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
    from sandbox.stripe_server import StripeServer

    redis_admin_password = secrets.token_urlsafe(24)
    redis_users = {"admin": ("on ~* &* +@all", redis_admin_password), "default": ("off", redis_admin_password)}
    with (
        MotoServer(port, bind=bind) as server,
        StripeServer(open_registration=True, bind=bind) as stripe_server,
        # The sandbox databases run without TLS on loopback; real secrets keep verify-full.
        sandbox_environment(
            server.endpoint,
            {
                "ROTATION_POSTGRES_SSLMODE": "disable",
                "ROTATION_KEYRING_BUCKET": KEYRING[0],
                "ROTATION_KEYRING_KEY": KEYRING[1],
                "ROTATION_STRIPE_API_BASE": stripe_server.base_url,
                "ROTATION_REDIS_MANAGED_POLL_SECONDS": "0.1",  # the sandbox's services modify for 0.3 s
                # Its rotations follow each other in seconds: no minimum overlap unless the operator exports one
                # (production's default is an hour, template.yaml MinimumOverlapSeconds).
                "ROTATION_MIN_OVERLAP_SECONDS": os.environ.get("ROTATION_MIN_OVERLAP_SECONDS", "0"),
            },
        ),
        PostgresServer() as postgres,
        RedisServer(redis_users, bind=bind) as redis_server,
        ManagedRedis(host=advertise or "127.0.0.1", bind=bind) as managed,
        ExitStack() as stack,
    ):
        server.log.emulated.append(managed.answer)
        postgres.start_front(bind=bind, advertise=advertise)
        replica = postgres.start_replica(bind=bind, advertise=advertise)
        stack.callback(replica.cleanup)
        client = boto3.client("secretsmanager")
        redis_host = advertise or redis_server.host
        redis_place = (redis_host, redis_server.port, redis_admin_password)
        master_arn = str(client.create_secret(Name=MASTER, SecretString=postgres.master_url)["ARN"])
        rds = RdsDatabases(postgres.front_url, advertise or postgres.front.host, postgres.front.port)
        rds_master_arn = rds.add_database(client, "amply-sandbox-reporting")
        rds.add_reader("amply-sandbox-reporting", "amply-sandbox-reporting-replica", replica.front.host,
                       replica.front.port)  # fmt: skip
        admin_url = f"redis://admin:{redis_admin_password}@{redis_host}:{redis_server.port}/0"
        admin_arn = str(client.create_secret(Name=REDIS_ADMIN, SecretString=admin_url)["ARN"])
        boto3.client("s3").create_bucket(Bucket=KEYRING[0])
        add_container_host(boto3.client("ecs"), boto3.client("ec2"), CLUSTER)
        topic = boto3.client("sns").create_topic(Name="amply-sandbox-rotation-alarms")["TopicArn"]
        targets = Targets(
            client,
            postgres.front_url,
            master_arn,
            redis_place,
            admin_arn,
            stripe_server,
            KEYRING,
            managed,
            rds_master_arn,
            (replica.front.host, replica.front.port),
        )
        # As the template passes them: the CA to verify PostgreSQL with, the masters and admins secrets may name
        # (no default admin: a Redis secret without ``adminarn`` rotates itself).
        configured = {
            "ROTATION_POSTGRES_SSLROOTCERT": str(postgres.ca_path),
            "ROTATION_POSTGRES_MASTER_SECRET_ARNS": f"{master_arn},{rds_master_arn}",
            "ROTATION_REDIS_ADMIN_SECRET_ARNS": admin_arn,
            "ROTATION_CONSUMER_CLUSTERS": CLUSTER,
            "ROTATION_ALARM_TOPIC_ARN": topic,
        }
        with environment(configured):
            handlers = {lambda_arn(spec.kind): load_handler(spec) for spec in rotation_functions().values()}
            emulator = RotateSecretEmulator(handlers)
            agent = EcsAgent(server, CLUSTER)
            # EventBridge's two rules: a succeeded rotation and a failed ECS deployment reach the refresh function.
            refresh = load_handler(refresh_function())
            emulator.on_success.append(refresh)
            agent.on_event.append(lambda event: refresh(event, None))
            try:
                yield Servers(server, postgres, redis_server, stripe_server, emulator, targets, agent, replica, rds)
            finally:
                agent.close()

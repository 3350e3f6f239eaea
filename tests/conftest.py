"""Shared fixtures: a moto server on loopback, a boto3 client, the RotateSecret emulator."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from rotator.codecs import ConnectionUrl
from sandbox.functions import load_handler, rotation_functions
from sandbox.harness import Targets
from sandbox.managed_redis import ManagedRedis
from sandbox.moto_server import MotoServer, environment, sandbox_environment
from sandbox.postgres_server import PostgresServer
from sandbox.rds import RdsDatabases
from sandbox.redis_server import RedisServer
from sandbox.rotate_secret import RotateSecretEmulator, lambda_arn
from sandbox.stripe_server import StripeServer
from tests.helpers import KEYRING_BUCKET, PostgresTarget, RedisTarget
from tests.leak_canary import LOG_LINES, register_output, register_secret, secret_parts


@pytest.fixture(scope="session")
def stripe_api() -> Iterator[StripeServer]:
    """The local Stripe stand-in; ROTATION_STRIPE_API_BASE points the kind at it."""
    with StripeServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_server(stripe_api: StripeServer) -> Iterator[MotoServer]:
    with (
        MotoServer() as server,
        sandbox_environment(
            server.endpoint,
            {
                "POWERTOOLS_METRICS_NAMESPACE": "SecretRotationTests",
                "ROTATION_SM_READ_TIMEOUT": "5",
                # The test server has no TLS unless a test starts one; secrets may still ask for it.
                "ROTATION_POSTGRES_SSLMODE": "disable",
                "ROTATION_POSTGRES_CONNECT_TIMEOUT": "3",
                "ROTATION_KEYRING_BUCKET": KEYRING_BUCKET,
                "ROTATION_KEYRING_KEY": "checkpoint-signing-key/jwks.json",
                "ROTATION_SIGNING_RSA_BITS": "2048",  # generation speed; one test keeps the 3072 default
                "ROTATION_STRIPE_API_BASE": stripe_api.base_url,
                "ROTATION_REDIS_MANAGED_POLL_SECONDS": "0.05",  # the sandbox's services modify for 0.3 s
                "ROTATION_MIN_OVERLAP_SECONDS": "0",  # rotations follow each other in seconds; test_overlap.py waits
            },
        ),
    ):
        yield server


@pytest.fixture(scope="session")
def postgres(moto_server: MotoServer) -> Iterator[PostgresTarget]:
    """A PostgreSQL server for the session (or ROTATION_TEST_POSTGRES_URL, a superuser URL, to use an existing one)."""
    existing = os.environ.get("ROTATION_TEST_POSTGRES_URL")
    client = boto3.client("secretsmanager", endpoint_url=moto_server.endpoint)
    if existing:
        log = os.environ.get("ROTATION_TEST_POSTGRES_LOG")  # the server's log file, for the no-password-in-log test
        arn = str(client.create_secret(Name="amply/test/postgres-master", SecretString=existing)["ARN"])
        with environment({"ROTATION_POSTGRES_MASTER_SECRET_ARNS": arn}):
            yield PostgresTarget(existing, None, Path(log) if log else None, existing, arn)
        return
    server = PostgresServer().start()
    try:
        server.start_front()
        register_secret(server.superuser_password)
        arn = str(client.create_secret(Name="amply/test/postgres-master", SecretString=server.master_url)["ARN"])
        with environment(
            {"ROTATION_POSTGRES_SSLROOTCERT": str(server.ca_path), "ROTATION_POSTGRES_MASTER_SECRET_ARNS": arn}
        ):
            yield PostgresTarget(server.front_url, server, server.log_path, server.master_url, arn)
    finally:
        register_output("postgres server log", server.log_text())
        server.cleanup()


@pytest.fixture
def admin(postgres: PostgresTarget) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the test PostgreSQL server."""
    with psycopg.connect(postgres.superuser_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def place(postgres: PostgresTarget) -> tuple[str, int]:
    """Where application secrets point: the server's TLS front, the master secret's own host and port."""
    url = ConnectionUrl.parse(postgres.superuser_url)
    return url.host, url.port or 5432


@pytest.fixture(scope="session")
def redis_primary(moto_server: MotoServer) -> Iterator[RedisTarget]:
    """A redis-server for the session with an ``admin`` user (or ROTATION_TEST_REDIS_URL, an admin URL).

    Its admin secret is allowed by ROTATION_REDIS_ADMIN_SECRET_ARNS, as the template configures one.
    """
    client = boto3.client("secretsmanager", endpoint_url=moto_server.endpoint)

    def admin_secret(target: RedisTarget) -> str:
        url = f"redis://admin:{target.admin_password}@{target.host}:{target.port}/0"
        return str(client.create_secret(Name="amply/test/redis-admin", SecretString=url)["ARN"])

    existing = os.environ.get("ROTATION_TEST_REDIS_URL")
    if existing:
        url = ConnectionUrl.parse(existing)
        target = RedisTarget(url.host, url.port or 6379, url.password or "")
        arn = admin_secret(target)
        with environment({"ROTATION_REDIS_ADMIN_SECRET_ARNS": arn}):
            yield RedisTarget(target.host, target.port, target.admin_password, arn)
        return
    password = secrets.token_urlsafe(24)
    register_secret(password)
    with RedisServer({"admin": ("on ~* &* +@all", password), "default": ("off", password)}) as server:
        target = RedisTarget(server.host, server.port, password)
        arn = admin_secret(target)
        with _redis_watch(target), environment({"ROTATION_REDIS_ADMIN_SECRET_ARNS": arn}):
            yield RedisTarget(server.host, server.port, password, arn)


@pytest.fixture(scope="session")
def postgres_replica(postgres: PostgresTarget) -> Iterator[PostgresServer]:
    """A streaming replica of the session's PostgreSQL; its TLS front listens on READER_HOST, the same port."""
    assert postgres.server is not None, "a replica needs the server the suite started"
    replica = postgres.server.start_replica()
    try:
        yield replica
    finally:
        register_output("postgres replica log", replica.log_text())
        replica.cleanup()


@pytest.fixture(scope="session")
def rds(moto_server: MotoServer, postgres: PostgresTarget, postgres_replica: PostgresServer) -> Iterator[RdsDatabases]:
    """RDS databases over the session's PostgreSQL, each with an RDS-managed master secret the template allows:
    the instance ``amply-ledger`` (its master secret under its own KMS key) with the read replica
    ``amply-ledger-replica``, and the Aurora cluster ``amply-reports`` whose reader endpoint and reader
    ``amply-reports-reader-1`` lead to the replica."""
    url = ConnectionUrl.parse(postgres.superuser_url)
    databases = RdsDatabases(postgres.superuser_url, url.host, url.port or 5432)
    client = boto3.client("secretsmanager", endpoint_url=moto_server.endpoint)
    # The instance's master secret is encrypted with its own key (RDS's MasterUserSecretKmsKeyId).
    master_key = boto3.client("kms", endpoint_url=moto_server.endpoint).create_key()["KeyMetadata"]["Arn"]
    masters = [
        databases.add_database(client, "amply-ledger", kms_key=master_key),
        databases.add_database(client, "amply-reports", cluster=True),
    ]
    reader = (postgres_replica.front.host, postgres_replica.front.port)
    databases.add_reader("amply-ledger", "amply-ledger-replica", *reader)
    databases.add_reader("amply-reports", "amply-reports-reader-1", *reader)
    allowed = ",".join([os.environ["ROTATION_POSTGRES_MASTER_SECRET_ARNS"], *masters])
    with environment({"ROTATION_POSTGRES_MASTER_SECRET_ARNS": allowed}):
        yield databases


@pytest.fixture(scope="session")
def managed_redis(moto_server: MotoServer) -> Iterator[ManagedRedis]:
    """ElastiCache and MemoryDB over real redis-servers, answering their API through the moto server."""
    with ManagedRedis() as managed:
        moto_server.log.emulated.append(managed.answer)
        try:
            yield managed
        finally:
            moto_server.log.emulated.remove(managed.answer)


@contextlib.contextmanager
def _redis_watch(target: RedisTarget) -> Iterator[None]:
    """Record what Redis itself exposes (MONITOR, SLOWLOG) for the leak scan."""
    import redis

    admin = redis.Redis(host=target.host, port=target.port, username="admin", password=target.admin_password)
    admin.config_set("slowlog-log-slower-than", 0)
    admin.config_set("slowlog-max-len", 100_000)
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        try:
            with redis.Redis(
                host=target.host, port=target.port, username="admin", password=target.admin_password
            ).monitor() as monitor:
                for command in monitor.listen():
                    seen.append(str(command.get("command", "")))
                    if stop.is_set():
                        return
        except redis.RedisError:
            return  # the server went away first

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for _ in range(100):  # MONITOR is listening once it has seen a command
        if seen:
            break
        admin.ping()
        time.sleep(0.05)
    try:
        yield
    finally:
        stop.set()
        admin.ping()  # wakes the monitor so it sees the stop
        watcher.join(timeout=5)
        assert seen, "MONITOR recorded nothing: the leak scan would be blind"
        slowlog = admin.slowlog_get(100_000)
        register_output("redis MONITOR", "\n".join(seen))
        register_output("redis SLOWLOG", "\n".join(" ".join(map(str, entry["command"].split())) for entry in slowlog))
        admin.close()


@pytest.fixture
def s3_client(moto_server: MotoServer) -> Any:
    client = boto3.client("s3", endpoint_url=moto_server.endpoint)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=KEYRING_BUCKET)
    return client


@pytest.fixture
def targets(
    sm_client: Any,
    s3_client: Any,
    postgres: PostgresTarget,
    redis_primary: RedisTarget,
    stripe_api: StripeServer,
    managed_redis: ManagedRedis,
    rds: RdsDatabases,
    postgres_replica: PostgresServer,
) -> Targets:
    """The session's servers as the per-kind harness (sandbox.harness) seeds and checks against them."""
    redis = (redis_primary.host, redis_primary.port, redis_primary.admin_password)
    keyring = (KEYRING_BUCKET, os.environ["ROTATION_KEYRING_KEY"])
    return Targets(
        sm_client,
        postgres.superuser_url,
        postgres.master_arn,
        redis,
        redis_primary.admin_arn,
        stripe_api,
        keyring,
        managed_redis,
        rds.databases["amply-ledger"].secret_arn,
        (postgres_replica.front.host, postgres_replica.front.port),
    )


@pytest.fixture
def sm_client(moto_server: MotoServer) -> Any:
    return boto3.client("secretsmanager", endpoint_url=moto_server.endpoint)


@pytest.fixture(scope="session")
def template_handlers(
    moto_server: MotoServer, postgres: PostgresTarget, redis_primary: RedisTarget, rds: RdsDatabases
) -> dict[str, Callable[..., Any]]:
    """Every function of template.yaml, loaded through its CodeUri + Handler, by kind (after the session's
    master and admin secrets are configured, as the template configures them)."""
    return {spec.kind: load_handler(spec) for spec in rotation_functions().values()}


@pytest.fixture
def emulator(template_handlers: dict[str, Callable[..., Any]]) -> RotateSecretEmulator:
    return RotateSecretEmulator({lambda_arn(kind): handler for kind, handler in template_handlers.items()})


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    def make(name: str) -> str:
        return f"amply/test-{uuid.uuid4().hex[:8]}/{name}"

    return make


@pytest.fixture
def fault_free(moto_server: MotoServer) -> Iterator[None]:
    moto_server.log.clear_faults()
    yield
    moto_server.log.clear_faults()


@pytest.fixture
def log_lines(request: pytest.FixtureRequest) -> Callable[[], list[dict[str, Any]]]:
    """The rotation log lines (parsed JSON) written so far by the running test."""

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for nodeid, line in LOG_LINES if nodeid == request.node.nodeid]

    return lines


@pytest.fixture
def make_secret(sm_client: Any, emulator: RotateSecretEmulator) -> Callable[..., str]:
    """Create a secret with rotation enabled for ``kind``; returns its ARN."""

    def make(name: str, value: str, kind: str = "session_secret", *, rotation: bool = True) -> str:
        register_secret(*secret_parts(value))
        arn = str(sm_client.create_secret(Name=name, SecretString=value)["ARN"])
        if rotation:
            emulator.enable_rotation(arn, kind)
        return arn

    return make

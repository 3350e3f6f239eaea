"""The client helper (``clients/python``) against the session's real servers, while real rotations run.

Each adapter is driven into the moment a rotation breaks a cached credential (a single user's password changed
at setSecret; a previous password revoked; a Stripe key expired; a key published after the keyring was read)
and must answer the application's call anyway, refreshing Secrets Manager once.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.pool import NullPool

from rotation_client import CredentialsRejectedError, SecretCache, SecretFormatError, SecretUnavailableError
from rotation_client.for_keyring import PublishedKeyring
from rotation_client.for_redis import redis_client
from rotation_client.for_sqlalchemy import create_async_engine, create_engine
from rotation_client.for_stripe import StripeKey
from rotation_client.logins import Login
from rotator.constants import Action, Stage, Step
from rotator.kinds.signing_key.keyring import UnknownKeyError
from rotator.kinds.signing_key.secret import SigningKeySecret
from rotator.kinds.signing_key.signatures import sign
from sandbox.harness import HARNESSES, Targets, by_label
from sandbox.load import run_app_load
from sandbox.rotate_secret import LambdaContext, RotateSecretEmulator, lambda_arn
from tests.helpers import version_with

MakeSecret = Callable[..., str]


def _seeded(targets: Targets, make_secret: MakeSecret, unique_name: Callable[[str], str], label: str) -> str:
    harness = by_label(label)
    return make_secret(unique_name(harness.kind), harness.seed(targets), harness.kind)


def _revoke_previous(targets: Targets, handlers: dict[str, Any], arn: str, kind: str) -> None:
    current = version_with(targets.client, arn, Stage.CURRENT)
    event = {"Step": Action.REVOKE_PREVIOUS.value, "SecretId": arn, "ClientRequestToken": current}
    handlers[kind](event, LambdaContext(lambda_arn(kind)))


async def _current_user(engine: Any) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(text("SELECT current_user"))).scalar_one())


def test_an_async_engine_logs_in_between_set_secret_and_finish_secret(
    targets: Targets, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    """Single user, the seeds' ``postgresql+asyncpg://`` URL: setSecret changed the password while AWSCURRENT
    still holds the old one. The cached login is refused; the helper reads AWSCURRENT (the same, refused) and
    AWSPENDING (accepted) and the query succeeds: the application never sees the rotation."""
    arn = _seeded(targets, make_secret, unique_name, "postgres (single user)")
    cache = SecretCache(targets.client)
    engine = create_async_engine(cache, arn, poolclass=NullPool)  # every query logs in anew
    role = Login.from_secret(targets.value(arn, Stage.CURRENT)).username

    async def scenario() -> list[str]:
        users = [await _current_user(engine)]
        token = emulator.begin(arn)
        emulator.invoke(arn, token, Step.CREATE)
        emulator.invoke(arn, token, Step.SET)  # the old password stops working here
        users.append(await _current_user(engine))
        emulator.invoke(arn, token, Step.TEST)
        emulator.invoke(arn, token, Step.FINISH)
        users.append(await _current_user(engine))
        await engine.dispose()
        return users

    assert asyncio.run(scenario()) == [role, role, role]
    assert cache.stats.refreshes == 1
    assert cache.get(arn) == targets.value(arn, Stage.CURRENT)  # the accepted AWSPENDING is now AWSCURRENT


def test_a_psycopg_engine_follows_alternating_users_after_revoke_previous(
    targets: Targets, emulator: RotateSecretEmulator, template_handlers: dict[str, Any], make_secret: MakeSecret,
    unique_name: Callable[[str], str],
) -> None:  # fmt: skip
    arn = _seeded(targets, make_secret, unique_name, "postgres (alternating users)")
    cache = SecretCache(targets.client)
    engine = create_engine(cache, arn, poolclass=NullPool)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT current_user")).scalar_one()
    assert emulator.rotate(arn).ok
    _revoke_previous(targets, template_handlers, arn, "postgres")  # the cached user's password is gone
    with engine.connect() as conn:
        second = conn.execute(text("SELECT current_user")).scalar_one()
    assert second == Login.from_secret(targets.value(arn, Stage.CURRENT)).username != first
    assert cache.stats.refreshes == 1


@pytest.mark.parametrize("label", ["redis (ACL user via admin)", "redis (ElastiCache RBAC user)"])
def test_a_redis_client_reauthenticates_after_its_password_is_revoked(
    targets: Targets, emulator: RotateSecretEmulator, template_handlers: dict[str, Any], make_secret: MakeSecret,
    unique_name: Callable[[str], str], label: str,
) -> None:  # fmt: skip
    arn = _seeded(targets, make_secret, unique_name, label)
    cache = SecretCache(targets.client)
    client = redis_client(cache, arn, socket_timeout=5)
    key = f"app:{secrets.token_hex(4)}"
    client.set(key, "1")
    assert emulator.rotate(arn).ok
    _revoke_previous(targets, template_handlers, arn, "redis")
    client.connection_pool.disconnect()  # the next command opens a connection, as a restarted worker would
    assert client.incr(key) == 2
    assert cache.stats.refreshes == 1
    assert cache.get(arn) == targets.value(arn, Stage.CURRENT)


def test_a_stripe_call_is_retried_with_the_new_key_once_the_old_one_expired(
    targets: Targets, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    harness = by_label("stripe (staged secret key)")
    arn = _seeded(targets, make_secret, unique_name, harness.label)
    cache = SecretCache(targets.client)
    stripe_key = StripeKey(cache, arn, base_addresses={"api": targets.stripe.base_url}, max_network_retries=0)
    account = stripe_key.call(lambda client: client.v1.accounts.retrieve_current().id)
    old = targets.value(arn, Stage.CURRENT)
    harness.before_rotation(targets, arn)  # type: ignore[misc]
    assert emulator.rotate(arn).ok
    del targets.stripe.state.keys[old]  # the rolled key's expiry passed
    assert stripe_key.call(lambda client: client.v1.accounts.retrieve_current().id) == account
    assert cache.stats.refreshes == 1


def test_the_keyring_is_read_again_for_a_key_published_since(
    targets: Targets, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = _seeded(targets, make_secret, unique_name, "signing_key (Ed25519)")
    assert emulator.rotate(arn).ok  # the first rotation publishes the keyring
    bucket, key = targets.keyring
    now = [0.0]
    keyring = PublishedKeyring(bucket, key, client=_s3(targets), clock=lambda: now[0])

    def signed_now() -> tuple[str, bytes, bytes]:
        current = SigningKeySecret.parse(targets.value(arn, Stage.CURRENT))
        probe = secrets.token_bytes(16)
        return current.key_id, probe, sign(current.private_key, current.algorithm, probe)

    kid, probe, signature = signed_now()
    keyring.verify(kid, probe, signature, signed_at=datetime.now(UTC))
    assert emulator.rotate(arn).ok  # a new key, published after the keyring was read
    now[0] += 1.0  # the refresh interval
    kid, probe, signature = signed_now()
    assert keyring.verify(kid, probe, signature, signed_at=datetime.now(UTC)).kid == kid
    assert keyring.reads == 2
    with pytest.raises(UnknownKeyError):
        keyring.verify("no-such-kid", probe, signature, signed_at=datetime.now(UTC))
    assert keyring.reads == 2  # read again at most once per refresh interval


def _s3(targets: Targets) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=targets.client.meta.endpoint_url)


def test_a_password_changed_behind_secrets_manager_is_a_typed_error_without_the_secret(
    targets: Targets, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = _seeded(targets, make_secret, unique_name, "postgres (single user)")
    login = Login.from_secret(targets.value(arn, Stage.CURRENT))
    with psycopg.connect(targets.postgres_url, autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{login.username}" PASSWORD NULL')
    engine = create_engine(SecretCache(targets.client), arn, poolclass=NullPool)
    with pytest.raises(CredentialsRejectedError) as refused:
        engine.connect()
    assert arn in str(refused.value)
    assert login.password not in str(refused.value)


def test_a_missing_secret_and_a_malformed_one_are_typed_errors(
    targets: Targets, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    cache = SecretCache(targets.client)
    with pytest.raises(SecretUnavailableError, match="ResourceNotFoundException"):
        cache.get(unique_name("missing"))
    password = secrets.token_urlsafe(12)
    arn = make_secret(unique_name("database-url"), json.dumps({"username": "app", "pass": password}), rotation=False)
    with pytest.raises(SecretFormatError) as malformed:
        create_engine(cache, arn)
    assert password not in str(malformed.value)


def test_the_cache_reads_once_per_ttl_and_once_per_burst_of_refusals(
    targets: Targets, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    now = [0.0]
    arn = make_secret(unique_name("session-secret"), secrets.token_hex(16), rotation=False)
    cache = SecretCache(targets.client, ttl=300, clock=lambda: now[0])
    value = cache.get(arn)
    now[0] = 299.0
    assert cache.get(arn) == value
    assert cache.stats.reads == 1
    now[0] = 300.0
    cache.get(arn)
    assert cache.stats.reads == 2
    offered: list[list[str]] = []
    workers = [threading.Thread(target=lambda: offered.append(cache.after_rejection(arn, "refused"))) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert cache.stats.refreshes == 1  # eight callers refused at once: one refresh
    assert offered == [[value]] * 8


@pytest.mark.timeout(240)
@pytest.mark.parametrize("label", [harness.label for harness in HARNESSES if harness.under_load])
def test_applications_using_the_helper_see_no_failed_request_across_rotations(
    targets: Targets, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str],
    label: str,
) -> None:  # fmt: skip
    """#28's load scenario, bounded: an application process (SQLAlchemy + asyncpg, or redis-py; every request a new
    login) runs without pause across three rotations, each followed by revoke-previous. It refreshes (the cached
    credential was changed or revoked) and not one request fails, single-user PostgreSQL included."""
    arn = _seeded(targets, make_secret, unique_name, label)
    load = run_app_load(emulator, arn, by_label(label).kind, processes=1, workers=2, rotations=3)
    assert load.rotations == 3
    assert load.requests > 30
    assert (load.failed, dict(load.errors)) == (0, {})
    assert load.refreshes >= 1

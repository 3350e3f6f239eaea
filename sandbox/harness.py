"""One conformance harness per kind and strategy: how to seed a working secret, and how to tell it works.

The fault matrix, the demo, the benchmark and the load script iterate over
``HARNESSES``; a test fails when a kind of ``rotator.kinds`` has no entry here
(or no events, or no function in template.yaml). Adding a kind means adding
its entries, not editing each of those programs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sandbox.probes import postgres_logs_in, redis_logs_in
from sandbox.seed import seed_keyring, seed_postgres_role, seed_redis_user, seed_signing_key, seed_value

__all__ = ["HARNESSES", "MANAGED_ACCESS_STRING", "REDIS_APP_RULES", "KindHarness", "Targets", "by_label", "for_kind"]

# A least-privilege application user, as users write them (no ACL command at all, not even WHOAMI): the admin
# secret changes its password.
REDIS_APP_RULES = ("on", "~app:*", "&*", "+@all", "-@admin", "-@dangerous")
# A managed user's access string (ElastiCache and MemoryDB take it at creation; a rotation never sends one).
MANAGED_ACCESS_STRING = "on ~app:* &* -@all +@read +@write +@connection"


@dataclass(frozen=True)
class Targets:
    """The servers a sandbox or a test session started, as seeds and proofs need them."""

    client: Any  # Secrets Manager
    postgres_url: str  # the superuser through the TLS front, without TLS
    master_arn: str  # the PostgreSQL master secret (verify-full), allowed for masterarn
    redis: tuple[str, int, str]  # host, port and the admin user's password
    redis_admin_arn: str  # the Redis admin secret, allowed for adminarn
    stripe: Any  # the Stripe stand-in (sandbox.stripe_server.StripeServer)
    keyring: tuple[str, str]  # the signing keyring's bucket (existing) and key
    managed: Any  # ElastiCache and MemoryDB over real servers (sandbox.managed_redis.ManagedRedis)
    rds_master_arn: str = ""  # an RDS-managed master secret (``rds!db-…``, no host), allowed for masterarn
    postgres_replica: tuple[str, int] | None = None  # the TLS front of a streaming replica of the PostgreSQL server

    def value(self, secret_id: str, stage: str) -> str:
        return str(self.client.get_secret_value(SecretId=secret_id, VersionStage=stage)["SecretString"])


@dataclass(frozen=True)
class KindHarness:
    """One kind (and strategy) as every cross-kind test and tool exercises it."""

    label: str
    kind: str
    path: str  # the kind's Strategy (rotation path) this entry's secrets take
    seed: Callable[[Targets], str]  # a fresh starting value whose credentials work
    works: Callable[[Targets, str], bool]  # does this value work against its target?
    prove: Callable[[Targets, str], str]  # after one rotation of the named secret: what holds (raises if not)
    before_rotation: Callable[[Targets, str], None] = lambda *_: None  # e.g. stage a Stripe key
    under_load: bool = False  # a credential that clients keep logging in with (the load measurement)


def _unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


# session_secret -------------------------------------------------------------------


def _session_works(_: Targets, text: str) -> bool:
    from rotator.errors import SecretFormatError
    from rotator.kinds.session_secret.kind import MIN_ENTROPY_BITS
    from rotator.kinds.session_secret.secret import SessionSecret

    try:
        return SessionSecret.parse(text).shape.entropy_bits >= MIN_ENTROPY_BITS
    except SecretFormatError:
        return False


def _prove_session(targets: Targets, name: str) -> str:
    current, previous = targets.value(name, "AWSCURRENT"), targets.value(name, "AWSPREVIOUS")
    if current == previous:
        raise SystemExit(f"{name}: AWSCURRENT equals AWSPREVIOUS")
    if current.startswith("{"):
        doc, old = json.loads(current), json.loads(previous)
        if doc["previous"][:1] != [old["current"]]:
            raise SystemExit(f"{name}: keyring does not retain the old key")
        return f"new key; old key kept in 'previous' ({len(doc['previous'])})"
    return f"new {len(current)}-char key, same encoding"


# postgres ---------------------------------------------------------------------------


def _postgres_works(_: Targets, text: str) -> bool:
    return postgres_logs_in(text)


def _seed_on_replica(targets: Targets) -> str:
    """A pair on the RDS-managed master's database whose secret points at its read replica."""
    if targets.postgres_replica is None:
        raise SystemExit("this sandbox has no streaming replica of its PostgreSQL server")
    role = _unique("amply_reporting")
    return seed_postgres_role(targets.postgres_url, role, masterarn=targets.rds_master_arn,
                              replica=targets.postgres_replica)  # fmt: skip


def _prove_postgres(targets: Targets, name: str) -> str:
    from rotator.kinds.postgres.secret import PostgresSecret

    current, previous = targets.value(name, "AWSCURRENT"), targets.value(name, "AWSPREVIOUS")
    user = PostgresSecret.parse(current).username
    if not postgres_logs_in(current):
        raise SystemExit(f"{name}: AWSCURRENT does not log in")
    if postgres_logs_in(previous):
        return f"AWSCURRENT ({user}) and AWSPREVIOUS ({PostgresSecret.parse(previous).username}) both log in"
    return f"AWSCURRENT ({user}) logs in; old password refused"


# redis ------------------------------------------------------------------------------


def _seed_redis(targets: Targets) -> str:
    url = seed_redis_user(*targets.redis, _unique("amply_app"), rules=REDIS_APP_RULES)
    from rotator.codecs import ConnectionUrl

    parsed = ConnectionUrl.parse(url)
    return json.dumps(
        {"host": parsed.host, "port": parsed.port, "username": parsed.username, "password": parsed.password,
         "ssl": False, "db": 0, "adminarn": targets.redis_admin_arn}
    )  # fmt: skip


def _managed_password() -> str:
    """A password ElastiCache and MemoryDB accept (AUTH tokens too): 32 letters and digits."""
    return secrets.token_hex(16)


def _managed_secret(node: tuple[str, int], password: str, service: str, **fields: str) -> str:
    """A managed Redis secret as users write one (JSON); the sandbox's host needs ``managed_by``."""
    host, port = node
    return json.dumps({"host": host, "port": port, "password": password, "ssl": False, "managed_by": service, **fields})


def _seed_elasticache_user(targets: Targets) -> str:
    user_id = _unique("amply-app").replace("_", "-")
    name = user_id.replace("-", "_")  # the user id and the name differ, as ElastiCache allows
    password = _managed_password()
    arn = targets.managed.add_user("elasticache", user_id, name, password, MANAGED_ACCESS_STRING)
    primary, _ = targets.managed.add_rbac_group("amply-cache")
    return _managed_secret(primary, password, "elasticache", username=name, user_arn=arn,
                           replication_group_id="amply-cache")  # fmt: skip


def _seed_elasticache_token(targets: Targets) -> str:
    group = _unique("amply-sessions").replace("_", "-")
    token = _managed_password()
    primary, _ = targets.managed.add_auth_group(group, token)
    return _managed_secret(primary, token, "elasticache", replication_group_id=group)


def _seed_memorydb_user(targets: Targets) -> str:
    name = _unique("amply-ledger").replace("_", "-")
    password = _managed_password()
    arn = targets.managed.add_user("memorydb", name, name, password, MANAGED_ACCESS_STRING)
    return _managed_secret(targets.managed.nodes()[0], password, "memorydb", username=name, user_arn=arn)


def _redis_works(_: Targets, text: str) -> bool:
    return redis_logs_in(text)


def _prove_redis(targets: Targets, name: str) -> str:
    current, previous = targets.value(name, "AWSCURRENT"), targets.value(name, "AWSPREVIOUS")
    if not (redis_logs_in(current) and redis_logs_in(previous)):
        raise SystemExit(f"{name}: both passwords must work during the overlap")
    return "AWSCURRENT and AWSPREVIOUS passwords both accepted (overlap)"


# signing_key ------------------------------------------------------------------------


def _seed_signing_key(algorithm: str) -> Callable[[Targets], str]:
    return lambda _: seed_signing_key(algorithm, key_id=f"amply-checkpoint-{secrets.token_hex(3)}-2025")


def _signing_works(targets: Targets, text: str) -> bool:
    from rotator.errors import RotationError
    from rotator.kinds.signing_key.keyring import Keyring
    from rotator.kinds.signing_key.secret import SigningKeySecret
    from rotator.kinds.signing_key.signatures import sign

    try:
        secret = SigningKeySecret.parse(text)
        keyring = Keyring.from_s3(*targets.keyring)
        probe = secrets.token_bytes(16)
        signature = sign(secret.private_key, secret.algorithm, probe)
        keyring.verify(secret.key_id, probe, signature, signed_at=secret.valid_from + timedelta(seconds=1))
    except (RotationError, KeyError):
        return False
    return True


def _prove_signing_key(targets: Targets, name: str) -> str:
    from rotator.kinds.signing_key.keyring import Keyring
    from rotator.kinds.signing_key.secret import SigningKeySecret
    from rotator.kinds.signing_key.signatures import sign

    old = SigningKeySecret.parse(targets.value(name, "AWSPREVIOUS"))
    new = SigningKeySecret.parse(targets.value(name, "AWSCURRENT"))
    checkpoint = b"ledger checkpoint signed before the rotation"
    signature = sign(old.private_key, old.algorithm, checkpoint)
    keyring = Keyring.from_s3(*targets.keyring)
    keyring.verify(old.key_id, checkpoint, signature, signed_at=old.valid_from + timedelta(days=1))
    kept = [kid for kid in keyring.keys if kid in (old.key_id, new.key_id)]
    return f"keyring holds {', '.join(kept)}; old checkpoint still verifies ({new.key_id} is current)"


# stripe -----------------------------------------------------------------------------


def _stripe_key(targets: Targets, account: str) -> str:
    key = "sk_test_" + secrets.token_hex(16)
    targets.stripe.add_key(key, account)
    return key


def _seed_stripe(targets: Targets) -> str:
    return _stripe_key(targets, "acct_" + secrets.token_hex(4))


def _stage_stripe(targets: Targets, arn: str) -> None:
    from rotator.core.staging import STAGED_LABEL

    account = targets.stripe.account_of(targets.value(arn, "AWSCURRENT"))
    staged = _stripe_key(targets, account)
    targets.client.put_secret_value(SecretId=arn, SecretString=staged, VersionStages=[STAGED_LABEL])


def _stripe_works(targets: Targets, text: str) -> bool:
    return text in targets.stripe.state.keys


def _prove_stripe(targets: Targets, name: str) -> str:
    current, previous = targets.value(name, "AWSCURRENT"), targets.value(name, "AWSPREVIOUS")
    keys = targets.stripe.state.keys
    if keys[current].account != keys[previous].account:
        raise SystemExit(f"{name}: the new key belongs to another account")
    return "staged key proven against Stripe and promoted; old key is AWSPREVIOUS"


HARNESSES: tuple[KindHarness, ...] = (
    KindHarness("session_secret (key)", "session_secret", "SessionSecretStrategy",
                lambda _: seed_value("session_secret"), _session_works, _prove_session),
    KindHarness("session_secret (JSON keyring)", "session_secret", "SessionSecretStrategy",
                lambda _: seed_keyring(), _session_works, _prove_session),
    KindHarness("postgres (single user)", "postgres", "SingleUserStrategy",
                lambda t: seed_postgres_role(t.postgres_url, _unique("amply_app")), _postgres_works, _prove_postgres,
                under_load=True),
    KindHarness("postgres (alternating users)", "postgres", "AlternatingUsersStrategy",
                lambda t: seed_postgres_role(t.postgres_url, _unique("amply_reporting"), masterarn=t.master_arn),
                _postgres_works, _prove_postgres, under_load=True),
    KindHarness("postgres (alternating users, RDS-managed master)", "postgres", "AlternatingUsersStrategy",
                lambda t: seed_postgres_role(t.postgres_url, _unique("amply_reporting"), masterarn=t.rds_master_arn),
                _postgres_works, _prove_postgres),
    KindHarness("postgres (alternating users, read replica)", "postgres", "AlternatingUsersStrategy",
                _seed_on_replica, _postgres_works, _prove_postgres),
    KindHarness("redis (ACL user via admin)", "redis", "AclAdminStrategy",
                _seed_redis, _redis_works, _prove_redis, under_load=True),
    KindHarness("redis (ACL user, self)", "redis", "AclSelfStrategy",
                lambda t: seed_redis_user(*t.redis, _unique("amply_worker")), _redis_works, _prove_redis),
    KindHarness("redis (ElastiCache RBAC user)", "redis", "ManagedUserStrategy",
                _seed_elasticache_user, _redis_works, _prove_redis, under_load=True),
    KindHarness("redis (ElastiCache AUTH token)", "redis", "AuthTokenStrategy",
                _seed_elasticache_token, _redis_works, _prove_redis),
    KindHarness("redis (MemoryDB user)", "redis", "ManagedUserStrategy",
                _seed_memorydb_user, _redis_works, _prove_redis),
    KindHarness("signing_key (RSA-3072)", "signing_key", "SigningKeyStrategy",
                _seed_signing_key("RS256"), _signing_works, _prove_signing_key),
    KindHarness("signing_key (Ed25519)", "signing_key", "SigningKeyStrategy",
                _seed_signing_key("EdDSA"), _signing_works, _prove_signing_key),
    KindHarness("stripe (staged secret key)", "stripe", "StripeStrategy",
                _seed_stripe, _stripe_works, _prove_stripe, before_rotation=_stage_stripe),
)  # fmt: skip


def for_kind(kind: str) -> list[KindHarness]:
    """The harness entries of one kind."""
    return [harness for harness in HARNESSES if harness.kind == kind]


def by_label(label: str) -> KindHarness:
    """The harness entry with this label."""
    return next(harness for harness in HARNESSES if harness.label == label)

"""Redis ACL users: two live passwords during the overlap, every node, persisted.

Secrets are a URL (``redis://app:<pw>@host:6379/0``, ``rediss://`` for TLS,
``redis://:<pw>@host`` for the ``default`` user) or JSON (``host``, ``port``,
``username``, ``password``, ``ssl``, ``db``, optional ``nodes`` and
``adminarn``; every other field kept).

setSecret makes the user accept exactly the current and the pending
passwords, in one ``ACL SETUSER <user> resetpass #<sha256> #<sha256>`` per
node: the change carries only hashes, the previous password stops working, the
user's other rules are untouched, and clients holding the current password
keep working for the whole rotation period. Redis does not replicate ACL
changes, so every node (the secret's host plus ``nodes``) is updated and a
node that cannot be is an error before anything is promoted. The change is
persisted where the server keeps ACLs (``ACL SAVE`` with an ACL file,
``CONFIG REWRITE`` with a config file).

With an admin secret, the rotation first proves it owns the user by logging
in as it (AWSCURRENT, else AWSPREVIOUS or the pending value of the same user
and endpoints); the admin password goes only to the admin secret's own
endpoints (its host and ``nodes``, plus ``ROTATION_REDIS_NODES``), with the
admin secret's own TLS settings; the admin's own user and users that hold the
``acl`` command or the whole ``@admin`` category are never changed.

ElastiCache and MemoryDB refuse ACL commands: a secret whose host is theirs, or
that says ``managed_by``, ``user_arn``, ``user_id`` or ``replication_group_id``,
rotates through their API instead (``rotator.managed_redis``), and such an
endpoint is never sent ``ACL`` or ``CONFIG``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rotator import constants as c
from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.codecs.text import check_host
from rotator.consumer_guard import Revokes
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    ForbiddenTargetError,
    PolicyError,
    SecretFormatError,
    TargetRejectedError,
    TargetUnreachableError,
    VerificationError,
)
from rotator.generation import generate_password, meets_policy
from rotator.managed_redis import Endpoint, ManagedApi, ManagedRotation, ManagedSettings, ManagedTarget, managed_target
from rotator.observability import logger
from rotator.settings import PasswordPolicy, Settings, env_arns, env_float, env_int, permitted_arn
from rotator.strategy import ApplyRequest, GenerateRequest, RevokeRequest, Strategy, VerifyRequest
from rotator.timings import timed
from rotator.versions import VersionReader

if TYPE_CHECKING:  # redis-py is imported by the steps that reach a server, not at cold start
    import redis

__all__ = [
    "DEFAULT_PORT",
    "KIND",
    "RedisSecret",
    "RedisSettings",
    "RedisStrategy",
    "SCHEMES",
    "STRATEGY",
]

KIND = "redis"
SCHEMES = frozenset({"redis", "rediss"})
DEFAULT_PORT = 6379
Node = tuple[str, int]
# ACL subcommands that read or change users; whoami, cat, genpass, help and dryrun reveal nothing.
_ACL_WRITERS = ("setuser", "deluser", "getuser", "list", "users", "save", "load", "log")


def _parse_node(text: str, source: str) -> Node:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SecretFormatError(f"{source} has a node that is not host:port")
    return check_host(host.strip("[]"), what=f"{source} node host").lower(), int(port)


@dataclass(frozen=True)
class RedisSettings:
    """The redis kind's configuration."""

    admin_arn: str | None = None
    allowed_admin_arns: frozenset[str] = frozenset()
    nodes: tuple[Node, ...] = ()
    test_key: str | None = None
    ca_bundle: str | None = None
    timeout: int = 5
    managed: ManagedSettings = field(default_factory=ManagedSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RedisSettings:
        """Read and validate the ``ROTATION_REDIS_*`` variables."""
        raw_nodes = environ.get(c.ENV_REDIS_NODES, "")
        try:
            nodes = tuple(_parse_node(node, c.ENV_REDIS_NODES) for node in raw_nodes.split(",") if node.strip())
        except SecretFormatError as exc:
            raise ConfigurationError(str(exc)) from None
        return cls(
            admin_arn=environ.get(c.ENV_REDIS_ADMIN_SECRET_ARN) or None,
            allowed_admin_arns=env_arns(environ, c.ENV_REDIS_ADMIN_SECRET_ARN, c.ENV_REDIS_ADMIN_SECRET_ARNS),
            nodes=nodes,
            test_key=environ.get(c.ENV_REDIS_TEST_KEY) or None,
            ca_bundle=environ.get(c.ENV_REDIS_CA_BUNDLE) or None,
            timeout=env_int(environ, c.ENV_REDIS_TIMEOUT, 5, low=1, high=60),
            managed=ManagedSettings(
                wait=env_float(environ, c.ENV_REDIS_MANAGED_WAIT_SECONDS, 40.0, low=0.0, high=840.0),
                poll=env_float(environ, c.ENV_REDIS_MANAGED_POLL_SECONDS, 2.0, low=0.05, high=60.0),
            ),
        )


@dataclass(frozen=True)
class RedisSecret(LoginSecret):
    """A Redis login and where it applies."""

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> RedisSecret:
        """Parse a URL or JSON; a password is required, a missing user means ``default``."""
        connection = ConnectionSecret.parse(text, schemes=SCHEMES, default_port=DEFAULT_PORT, what=what)
        if not connection.password:
            raise SecretFormatError(f"{what} has no password")
        secret = cls(connection)
        secret.nodes  # noqa: B018 - validate the node list and the managed fields now, with a typed error
        secret.managed  # noqa: B018
        return secret

    def __repr__(self) -> str:
        return f"RedisSecret(user={self.username!r}, host={self.host!r}, port={self.port}, tls={self.tls})"

    @property
    def username(self) -> str:
        return self.connection.username or "default"

    @property
    def tls(self) -> bool:
        if self.connection.is_json:
            return str(self.connection.options.get("ssl", "false")).lower() == "true"
        return self.connection.with_credentials().startswith("rediss://")

    @property
    def ca_certs(self) -> str | None:
        return self.connection.options.get("ssl_ca_certs")

    @property
    def admin_arn(self) -> str | None:
        value = self.connection.field("adminarn")
        return value if isinstance(value, str) and value else None

    @property
    def nodes(self) -> tuple[Node, ...]:
        raw = self.connection.field("nodes")
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(node, str) for node in raw):
            raise SecretFormatError("JSON secret field 'nodes' must be a list of 'host:port' strings")
        return tuple(_parse_node(node, "JSON secret field 'nodes'") for node in raw)

    @property
    def managed(self) -> ManagedTarget | None:
        """The ElastiCache or MemoryDB user or AUTH token this secret names, or None (a self-managed server)."""
        get = self.connection.field
        return managed_target(
            host=self.host, username=self.username, managed_by=get("managed_by"), user_arn=get("user_arn"),
            user_id=get("user_id"), replication_group_id=get("replication_group_id"),
        )  # fmt: skip

    @property
    def endpoints(self) -> tuple[Node, ...]:
        """The host and every node, in order, host names lower-cased."""
        found: list[Node] = [(self.host.lower(), self.port)]
        found.extend(node for node in self.nodes if node not in found)
        return tuple(found)

    def with_password(self, password: str) -> str:
        return self.connection.with_credentials(password=password)


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _error_code(exc: redis.exceptions.ResponseError) -> str:
    """The error code Redis puts first in its reply (NOPERM, ERR, WRONGPASS…), never the rest."""
    import redis

    if isinstance(exc, redis.exceptions.NoPermissionError):
        return "NOPERM"  # redis-py strips the code and signals it by class
    first = str(exc).split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else "ERR"


class RedisStrategy(Strategy[RedisSecret]):
    """Overlapping passwords on Redis ACL users, on every node."""

    KIND = KIND
    SECRET = RedisSecret

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.redis = RedisSettings.from_env(settings.environ)

    def generate(self, request: GenerateRequest[RedisSecret]) -> str:
        current = request.current
        return current.with_password(generate_password(self._policy(current)))

    def apply(self, request: ApplyRequest[RedisSecret]) -> None:
        versions, pending, current = request.versions, request.pending, request.current
        if (pending.username, pending.endpoints, pending.managed) != (
            current.username, current.endpoints, current.managed,
        ):  # fmt: skip
            raise SecretFormatError("pending secret names another user, host or managed credential than current")
        if not meets_policy(pending.password, self._policy(current)):
            raise PolicyError("pending password does not meet the generation policy: createSecret did not make it")
        managed = self._managed(current)
        if managed is not None:
            managed.apply(current, pending, self._own_logins(current, pending, versions), versions.pending_created)
            return
        self._change_passwords(current, pending, versions, keep=(current, pending))
        logger.info("passwords set on every node", extra={"redis_user": current.username})

    def _policy(self, current: RedisSecret) -> PasswordPolicy:
        managed = current.managed
        policy = self.settings.password_policy
        return policy if managed is None else managed.password_policy(policy)

    def _managed(self, current: RedisSecret) -> ManagedRotation | None:
        target = current.managed
        if target is None:
            return None
        return ManagedRotation(ManagedApi(target, self.redis.managed), self._try_login)

    def _try_login(self, node: Node, login: RedisSecret) -> None:
        with self._login(node, login, tls_from=login):
            return

    def revokes(self, request: ApplyRequest[RedisSecret]) -> Revokes:
        """setSecret keeps the current and pending passwords: AWSPREVIOUS's stops working."""
        return Revokes.PREVIOUS

    def revoke_previous(self, request: RevokeRequest[RedisSecret]) -> str:
        """Only AWSCURRENT's password stays: the overlap ends early."""
        current, versions = request.current, request.versions
        managed = self._managed(current)
        if managed is not None:
            previous = versions.previous_secret()
            return managed.revoke(
                current, previous if previous is not None and previous.managed == current.managed else None
            )
        self._change_passwords(current, current, versions, keep=(current,))
        return f"{current.username} accepts only the current password on every node"

    def _change_passwords(
        self,
        current: RedisSecret,
        pending: RedisSecret,
        versions: VersionReader[RedisSecret],
        *,
        keep: tuple[RedisSecret, ...],
    ) -> None:
        """The user accepts exactly the passwords of ``keep`` on every node, as itself or through the admin."""
        admin_arn = self._admin_arn(current)
        if admin_arn is None:
            for node in self._with_configured(current.endpoints):
                with self._first_login(node, self._own_logins(current, pending, versions)) as client:
                    self._set_passwords(client, node, current.username, keep)
            return
        admin = RedisSecret.parse(versions.other(admin_arn).text, what="admin secret")
        nodes = self._admin_nodes(admin, current)
        self._prove_ownership(current, self._own_logins(current, pending, versions))
        for node in nodes:
            with self._login(node, admin, tls_from=admin) as client:
                self._set_passwords(client, node, current.username, keep, admin=admin)

    def _set_passwords(
        self,
        client: redis.Redis,
        node: Node,
        user: str,
        keep: Iterable[RedisSecret],
        *,
        admin: RedisSecret | None = None,
    ) -> None:
        reply = self._run(client, node, "ACL GETUSER", "ACL", "GETUSER", user)
        # ACL SETUSER would create a missing user: refuse instead of inventing one.
        if reply is None:
            raise TargetRejectedError(f"user {user} does not exist on {node[0]}:{node[1]}")
        if admin is not None:
            self._refuse_privileged(client, node, user, reply)
        self._run(
            client, node, "ACL SETUSER",
            "ACL", "SETUSER", user, "resetpass", *dict.fromkeys(_hash(login.password) for login in keep),
        )  # fmt: skip
        self._persist(client, node)

    def _admin_nodes(self, admin: RedisSecret, current: RedisSecret) -> list[Node]:
        """Where the admin password may go: its own endpoints and the configured nodes, never elsewhere."""
        if current.username == admin.username:
            raise ForbiddenTargetError(
                f"{current.username} is the admin secret's own user: never changed by a rotation"
            )
        allowed = list(self._with_configured(admin.endpoints))
        outside = [node for node in current.endpoints if node not in allowed]
        if outside:
            host, port = outside[0]
            raise ForbiddenTargetError(
                f"the secret names {host}:{port}, which is not an endpoint of its admin secret (host, nodes) or "
                f"{c.ENV_REDIS_NODES}: the admin password is used only there"
            )
        return sorted(allowed, key=lambda node: node not in current.endpoints)

    def _prove_ownership(self, current: RedisSecret, logins: Iterable[RedisSecret]) -> None:
        """Log in as the user before the admin acts: the secret must hold one of the user's working passwords."""
        node = current.endpoints[0]
        for login in logins:
            try:
                with self._login(node, login, tls_from=login):
                    return
            except AuthenticationError:
                continue
        raise TargetRejectedError(
            f"cannot prove the secret owns {current.username}: none of its current, previous or pending passwords "
            f"logs in to {node[0]}:{node[1]}; the admin secret was not used"
        )

    def _refuse_privileged(self, client: redis.Redis, node: Node, user: str, reply: object) -> None:
        """Never change a user that can change users (``acl``) or holds the whole ``@admin`` category."""
        categories: dict[str, set[str]] = {}

        def members(category: str) -> set[str]:
            if category not in categories:
                listed = self._run(client, node, "ACL CAT", "ACL", "CAT", category)
                categories[category] = {_text(name).lower() for name in listed} if isinstance(listed, list) else set()
            return categories[category]

        for rules in _command_rules(reply):
            acl = any(_permits(rules, "acl", sub, members) for sub in _ACL_WRITERS)
            admin = bool(members("admin")) and all(_permits(rules, *_split(name), members) for name in members("admin"))
            if acl or admin:
                held = "the acl command" if acl else "the @admin category"
                raise ForbiddenTargetError(
                    f"user {user} on {node[0]}:{node[1]} holds {held}: a rotation never changes it through the admin"
                )

    def verify(self, request: VerifyRequest[RedisSecret]) -> None:
        pending = request.pending
        managed = self._managed(pending)
        if managed is None:
            endpoints = [Endpoint(node) for node in self._with_configured(pending.endpoints)]
        else:
            endpoints = managed.endpoints(pending)
        write = self.redis.test_key is not None and not request.is_configuration_test  # that test changes nothing
        for endpoint in endpoints:
            # A managed endpoint answers no ACL command; there the accepted AUTH is the proof of the user.
            self._verify_node(endpoint.node, pending, whoami=managed is None, write=write and not endpoint.reader)

    def _verify_node(self, node: Node, pending: RedisSecret, *, whoami: bool, write: bool) -> None:
        try:
            with self._login(node, pending, tls_from=pending) as client:
                if whoami and _text(self._run(client, node, "ACL WHOAMI", "ACL", "WHOAMI")) != pending.username:
                    raise VerificationError(f"pending login on {node[0]}:{node[1]} is another user")
                key = self.redis.test_key
                if write and key:
                    probe = secrets.token_hex(8)
                    self._run(client, node, "SET on the test key", "SET", key, probe, "EX", "60")
                    if _text(self._run(client, node, "GET on the test key", "GET", key)) != probe:
                        raise VerificationError(f"read-back of the test key failed on {node[0]}:{node[1]}")
                    self._run(client, node, "DEL on the test key", "DEL", key)
        except AuthenticationError as exc:
            raise VerificationError(
                f"pending password of {pending.username} is refused on {node[0]}:{node[1]}"
            ) from exc
        except TargetRejectedError as exc:
            raise VerificationError(f"test commands failed on {node[0]}:{node[1]}: {exc}") from exc

    # helpers ----------------------------------------------------------------------

    def _admin_arn(self, current: RedisSecret) -> str | None:
        return permitted_arn(
            current.admin_arn, self.redis.admin_arn, self.redis.allowed_admin_arns, field="adminarn",
            role="an admin secret", variable=c.ENV_REDIS_ADMIN_SECRET_ARNS, parameter="RedisAdminSecretArns",
        )  # fmt: skip

    def _with_configured(self, endpoints: Iterable[Node]) -> list[Node]:
        """``endpoints`` plus ``ROTATION_REDIS_NODES``, each once."""
        nodes: list[Node] = []
        for node in (*endpoints, *self.redis.nodes):
            if node not in nodes:
                nodes.append(node)
        return nodes

    @staticmethod
    def _own_logins(
        current: RedisSecret, pending: RedisSecret, versions: VersionReader[RedisSecret]
    ) -> Iterator[RedisSecret]:
        """AWSCURRENT, then AWSPREVIOUS and the pending value (a node an earlier attempt updated), each only
        for the same user and endpoints: a fallback password never goes to another host or user. AWSPREVIOUS
        is read only when AWSCURRENT was refused."""
        yield current
        before = versions.previous_secret()
        if before is not None and (before.username, before.endpoints) == (current.username, current.endpoints):
            yield before
        yield pending

    @contextmanager
    def _first_login(self, node: Node, logins: Iterable[RedisSecret]) -> Iterator[redis.Redis]:
        """A session with the first of the user's known passwords the node accepts."""
        user = "?"
        for login in logins:
            user = login.username
            try:
                client = self._open(node, login, tls_from=login)
            except AuthenticationError:
                continue
            with self._session(client, node, login):
                yield client
            return
        raise TargetRejectedError(
            f"no known password of {user} logs in to {node[0]}:{node[1]} (current, previous, pending)"
        )

    @contextmanager
    def _login(self, node: Node, login: RedisSecret, *, tls_from: RedisSecret) -> Iterator[redis.Redis]:
        client = self._open(node, login, tls_from=tls_from)
        with self._session(client, node, login):
            yield client

    def _open(self, node: Node, login: RedisSecret, *, tls_from: RedisSecret) -> redis.Redis:
        """A connected, authenticated client; typed errors for refusal and unreachability."""
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        host, port = node
        tls = tls_from.tls
        options: dict[str, object] = {}
        if tls:
            options = {
                "ssl": True,
                "ssl_cert_reqs": "required",
                "ssl_check_hostname": True,
                "ssl_ca_certs": tls_from.ca_certs or self.redis.ca_bundle,
            }
        client = redis.Redis(
            host=host,
            port=port,
            username=login.connection.username or None,  # no user: plain AUTH <password> (an AUTH token)
            password=login.password,
            socket_connect_timeout=self.redis.timeout,
            socket_timeout=self.redis.timeout,
            # redis-py retries ConnectionError, which includes a refused password; one attempt is the truth.
            retry=Retry(NoBackoff(), 0),
            **options,  # type: ignore[arg-type]
        )
        # The raw ACL GETUSER reply: redis-py's parser splits the command rules and loses their order.
        client.set_response_callback("ACL GETUSER", _raw_reply)
        where = _where(node, login, tls)
        try:
            with timed("redis", "connect, AUTH, PING"):
                client.ping()
        except redis.exceptions.AuthenticationError as exc:
            client.close()
            raise AuthenticationError(f"Redis at {where} refused the password") from exc
        except redis.exceptions.ResponseError as exc:
            client.close()
            if _error_code(exc) in ("WRONGPASS", "NOAUTH"):
                raise AuthenticationError(f"Redis at {where} refused the password") from exc
            raise TargetRejectedError(f"Redis at {where} refused PING: {_error_code(exc)}") from exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            client.close()
            raise TargetUnreachableError(f"cannot reach Redis at {where}: connection, timeout or TLS failed") from exc
        return client

    @staticmethod
    @contextmanager
    def _session(client: redis.Redis, node: Node, login: RedisSecret) -> Iterator[None]:
        import redis

        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise TargetUnreachableError(f"lost the connection to Redis at {_where(node, login, None)}") from exc
        finally:
            client.close()

    @staticmethod
    def _run(client: redis.Redis, node: Node, command: str, *args: str) -> object:
        import redis

        try:
            with timed("redis", command):
                return client.execute_command(*args)
        except redis.exceptions.ResponseError as exc:
            code = _error_code(exc)
            message = f"Redis at {node[0]}:{node[1]} refused {command}: {code}"
            if args[0] in ("ACL", "CONFIG"):
                hint = (
                    "the login lacks this permission: configure an admin secret"
                    if code == "NOPERM"
                    else "ElastiCache and MemoryDB forbid ACL commands: give the secret 'managed_by' so the "
                    "rotation uses their API"
                )
                message += f" ({hint})"
            raise TargetRejectedError(message) from exc

    def _persist(self, client: redis.Redis, node: Node) -> None:
        config = self._run(client, node, "CONFIG GET aclfile", "CONFIG", "GET", "aclfile")
        values = [_text(item) for item in config] if isinstance(config, list) else []
        if isinstance(config, dict):
            values = [_text(k) for kv in config.items() for k in kv]
        if len(values) >= 2 and values[1]:
            self._run(client, node, "ACL SAVE", "ACL", "SAVE")
            logger.info("ACL saved to the ACL file", extra={"redis_node": f"{node[0]}:{node[1]}"})
            return
        with timed("redis", "INFO server"):
            info = client.info("server")
        if isinstance(info, dict) and info.get("config_file"):
            self._run(client, node, "CONFIG REWRITE", "CONFIG", "REWRITE")
            logger.info("ACL persisted with CONFIG REWRITE", extra={"redis_node": f"{node[0]}:{node[1]}"})
            return
        logger.warning(
            "server has neither an ACL file nor a config file: the new passwords last until it restarts",
            extra={"redis_node": f"{node[0]}:{node[1]}"},
        )


def _where(node: Node, login: RedisSecret, tls: bool | None) -> str:
    where = f"{node[0]}:{node[1]} as {login.username}"
    return where if tls is None else f"{where} (tls={'on' if tls else 'off'})"


def _raw_reply(response: object, **_: object) -> object:
    return response


def _split(name: str) -> tuple[str, str | None]:
    """``acl|setuser`` → (``acl``, ``setuser``); ``config`` → (``config``, None)."""
    command, _, sub = name.partition("|")
    return command, sub or None


def _pairs(reply: object) -> dict[str, object]:
    """A flat ``[key, value, ...]`` reply (or a RESP3 map) as a dict with text keys."""
    if isinstance(reply, dict):
        return {_text(key): value for key, value in reply.items()}
    items = list(reply) if isinstance(reply, list) else []
    return {_text(key): value for key, value in zip(items[::2], items[1::2], strict=False)}


def _command_rules(reply: object) -> list[list[str]]:
    """The command rules of an ``ACL GETUSER`` reply, in order: the user's own and each selector's."""
    data = _pairs(reply)
    flags = [_text(flag) for flag in _list(data.get("flags"))]
    own = _text(data.get("commands") or "").split()
    rules = [["+@all", *own] if "allcommands" in flags else own]
    for selector in _list(data.get("selectors")):
        rules.append(_text(_pairs(selector).get("commands") or "").split())
    return rules


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _permits(rules: list[str], command: str, sub: str | None, members: Callable[[str], set[str]]) -> bool:
    """Whether ACL rules, applied in order as Redis does, allow ``command`` (``sub``command)."""
    full = f"{command}|{sub}" if sub else command
    allowed = False
    for rule in rules:
        if rule in ("allcommands", "nocommands"):
            allowed = rule == "allcommands"
            continue
        sign, name = rule[:1], rule[1:].lower()
        if sign not in ("+", "-"):
            continue
        if name.startswith("@"):
            listed = members(name[1:]) if name != "@all" else None
            if listed is None or command in listed or full in listed:
                allowed = sign == "+"
        elif name in (command, full):
            allowed = sign == "+"
    return allowed


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


STRATEGY = RedisStrategy

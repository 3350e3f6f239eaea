"""Redis ACL users: two live passwords during the overlap, every node, persisted.

Secrets are a URL (``redis://app:<pw>@host:6379/0``, ``rediss://`` for TLS,
``redis://:<pw>@host`` for the ``default`` user) or JSON (``host``, ``port``,
``username``, ``password``, ``ssl``, ``db``, optional ``nodes`` and
``adminarn``; every other field kept).

setSecret makes the user accept exactly the current and the pending
passwords, in one ``ACL SETUSER <user> resetpass #<sha256> #<sha256>`` per
node: only hashes cross the wire, the previous password stops working, the
user's other rules are untouched, and clients holding the current password
keep working for the whole rotation period. Redis does not replicate ACL
changes, so every node (the secret's host plus ``nodes``) is updated and a
node that cannot be is an error before anything is promoted. The change is
persisted where the server keeps ACLs (``ACL SAVE`` with an ACL file,
``CONFIG REWRITE`` with a config file).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rotator import constants as c
from rotator.codecs import ConnectionSecret, LoginSecret
from rotator.errors import (
    AuthenticationError,
    ConfigurationError,
    SecretFormatError,
    TargetRejectedError,
    TargetUnreachableError,
    VerificationError,
)
from rotator.generation import generate_password
from rotator.observability import logger
from rotator.settings import Settings, env_int
from rotator.strategy import ApplyRequest, GenerateRequest, Strategy, VerifyRequest, VersionReader

__all__ = ["KIND", "STRATEGY", "RedisSecret", "RedisSettings", "RedisStrategy"]

KIND = "redis"
SCHEMES = frozenset({"redis", "rediss"})
DEFAULT_PORT = 6379
Node = tuple[str, int]


def _parse_node(text: str, source: str) -> Node:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SecretFormatError(f"{source} has a node that is not host:port")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class RedisSettings:
    """The redis kind's configuration."""

    admin_arn: str | None = None
    nodes: tuple[Node, ...] = ()
    test_key: str | None = None
    ca_bundle: str | None = None
    timeout: int = 5

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
            nodes=nodes,
            test_key=environ.get(c.ENV_REDIS_TEST_KEY) or None,
            ca_bundle=environ.get(c.ENV_REDIS_CA_BUNDLE) or None,
            timeout=env_int(environ, c.ENV_REDIS_TIMEOUT, 5, low=1, high=60),
        )


@dataclass(frozen=True)
class RedisSecret(LoginSecret):
    """A Redis login and where it applies."""

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> RedisSecret:
        """Parse a URL or JSON; a password is required, a missing user means ``default``."""
        connection = ConnectionSecret.parse(text, schemes=SCHEMES, default_port=DEFAULT_PORT)
        if not connection.password:
            raise SecretFormatError(f"{what} has no password")
        secret = cls(connection)
        secret.nodes  # noqa: B018 - validate the node list now, with a typed error
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

    def with_password(self, password: str) -> str:
        return self.connection.with_credentials(password=password)


def _hash(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def _error_code(exc: redis.exceptions.ResponseError) -> str:
    """The error code Redis puts first in its reply (NOPERM, ERR, WRONGPASS…), never the rest."""
    if isinstance(exc, redis.exceptions.NoPermissionError):
        return "NOPERM"  # redis-py strips the code and signals it by class
    first = str(exc).split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else "ERR"


class RedisStrategy(Strategy):
    """Overlapping passwords on Redis ACL users, on every node."""

    KIND = KIND

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.redis = RedisSettings.from_env(settings.environ)

    def generate(self, request: GenerateRequest) -> str:
        current = RedisSecret.parse(request.current.text, what="current secret")
        return current.with_password(generate_password(self.settings.password_policy))

    def apply(self, request: ApplyRequest) -> None:
        versions = request.versions
        pending = RedisSecret.parse(versions.pending().text, what="pending secret")
        current = RedisSecret.parse(versions.current().text, what="current secret")
        if (pending.username, pending.host, pending.port) != (current.username, current.host, current.port):
            raise SecretFormatError("pending secret names another user or host than current")
        admin_arn = current.admin_arn or self.redis.admin_arn
        admin = RedisSecret.parse(versions.other(admin_arn).text, what="admin secret") if admin_arn else None
        logins = [admin] if admin is not None else self._own_logins(current, pending, versions)
        for node in self._nodes(current):
            with self._first_login(node, logins, tls_from=current) as client:
                # ACL SETUSER would create a missing user: refuse instead of inventing one.
                if self._run(client, node, "ACL GETUSER", "ACL", "GETUSER", current.username) is None:
                    raise TargetRejectedError(f"user {current.username} does not exist on {node[0]}:{node[1]}")
                self._run(
                    client, node, "ACL SETUSER",
                    "ACL", "SETUSER", current.username, "resetpass", _hash(current.password), _hash(pending.password),
                )  # fmt: skip
                self._persist(client, node)
        logger.info("passwords set on every node", extra={"redis_user": current.username})

    def verify(self, request: VerifyRequest) -> None:
        pending = RedisSecret.parse(request.versions.pending().text, what="pending secret")
        for node in self._nodes(pending):
            try:
                with self._login(node, pending, tls_from=pending) as client:
                    whoami = self._run(client, node, "ACL WHOAMI", "ACL", "WHOAMI")
                    if _text(whoami) != pending.username:
                        raise VerificationError(f"pending login on {node[0]}:{node[1]} is another user")
                    key = self.redis.test_key
                    if key:
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

    def secret_parts(self, text: str) -> Iterable[str]:
        try:
            return (RedisSecret.parse(text).password,)
        except SecretFormatError:
            return ()

    # helpers ----------------------------------------------------------------------

    def _nodes(self, secret: RedisSecret) -> list[Node]:
        nodes: list[Node] = [(secret.host, secret.port)]
        for node in (*secret.nodes, *self.redis.nodes):
            if node not in nodes:
                nodes.append(node)
        return nodes

    @staticmethod
    def _own_logins(current: RedisSecret, pending: RedisSecret, versions: VersionReader) -> list[RedisSecret]:
        logins = [current]
        previous = versions.previous()
        if previous is not None:
            logins.append(RedisSecret.parse(previous.text, what="previous secret"))
        logins.append(pending)  # a node already updated by an earlier, crashed attempt
        return logins

    @contextmanager
    def _first_login(self, node: Node, logins: list[RedisSecret], *, tls_from: RedisSecret) -> Iterator[redis.Redis]:
        """A session with the first login the node accepts (admin, or the user's known passwords)."""
        for login in logins:
            try:
                client = self._open(node, login, tls_from=tls_from)
            except AuthenticationError:
                continue
            with self._session(client, node, login):
                yield client
            return
        raise TargetRejectedError(
            f"no known password of {logins[0].username} logs in to {node[0]}:{node[1]} (current, previous, pending)"
        )

    @contextmanager
    def _login(self, node: Node, login: RedisSecret, *, tls_from: RedisSecret) -> Iterator[redis.Redis]:
        client = self._open(node, login, tls_from=tls_from)
        with self._session(client, node, login):
            yield client

    def _open(self, node: Node, login: RedisSecret, *, tls_from: RedisSecret) -> redis.Redis:
        """A connected, authenticated client; typed errors for refusal and unreachability."""
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
            username=login.username,
            password=login.password,
            socket_connect_timeout=self.redis.timeout,
            socket_timeout=self.redis.timeout,
            # redis-py retries ConnectionError, which includes a refused password; one attempt is the truth.
            retry=Retry(NoBackoff(), 0),
            **options,  # type: ignore[arg-type]
        )
        where = _where(node, login, tls)
        try:
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
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise TargetUnreachableError(f"lost the connection to Redis at {_where(node, login, None)}") from exc
        finally:
            client.close()

    @staticmethod
    def _run(client: redis.Redis, node: Node, command: str, *args: str) -> object:
        try:
            return client.execute_command(*args)
        except redis.exceptions.ResponseError as exc:
            code = _error_code(exc)
            message = f"Redis at {node[0]}:{node[1]} refused {command}: {code}"
            if args[0] in ("ACL", "CONFIG"):
                hint = (
                    "the login lacks this permission: configure an admin secret"
                    if code == "NOPERM"
                    else "managed services such as ElastiCache forbid ACL commands; this function cannot rotate there"
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


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


STRATEGY = RedisStrategy

"""The Redis node adapter: log in (TLS verified), read and change an ACL user, persist it, prove a login.

No rotation policy lives here. Passwords reach a node only as SHA-256 hashes (``#<hex>``) in
``ACL SETUSER <user> resetpass``, which leaves the user's other rules untouched; the change is persisted where
the server keeps ACLs (``ACL SAVE`` with an ACL file, ``CONFIG REWRITE`` with a config file). Every redis-py
error becomes a typed error here, and only here: the messages carry Redis's error code, never its text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rotator.errors import AuthenticationError, TargetRejectedError, TargetUnreachableError
from rotator.kinds.redis.acl_rules import text, user_admin_right
from rotator.kinds.redis.secret import RedisSecret
from rotator.kinds.redis.settings import Node, RedisSettings
from rotator.observability import logger
from rotator.schemes.target import TargetClient

if TYPE_CHECKING:  # redis-py is imported by the steps that reach a server, not at cold start
    import redis

__all__ = ["RedisNodes", "RedisSession"]

_CONNECT = "connect, AUTH, PING"


class RedisNodes:
    """Opens sessions on Redis nodes with the kind's timeouts and CA bundle."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings

    @contextmanager
    def session(self, node: Node, login: RedisSecret, *, tls_from: RedisSecret | None = None) -> Iterator[RedisSession]:
        """A session as ``login`` on ``node`` (TLS as ``tls_from`` says, default the login's own secret)."""
        session = RedisSession(node, login, tls_from or login, self.settings)
        session.open()
        try:
            yield session
        finally:
            session.close()

    def log_in(self, node: Node, login: RedisSecret) -> None:
        """Open and close a session: AuthenticationError when the node refuses the password."""
        with self.session(node, login):
            return


class RedisSession(TargetClient):
    """One authenticated connection to one node; each method is one timed command."""

    SERVICE = "redis"

    def __init__(self, node: Node, login: RedisSecret, tls_from: RedisSecret, settings: RedisSettings) -> None:
        self.node = node
        self.login = login
        self._tls = tls_from.tls
        self._ca = tls_from.ca_certs or settings.ca_bundle
        self._timeout = settings.timeout
        self._client: redis.Redis | None = None

    @property
    def where(self) -> str:
        return f"{self.node[0]}:{self.node[1]}"

    def open(self) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        options: dict[str, object] = {}
        if self._tls:
            options = {"ssl": True, "ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": self._ca}
        client = redis.Redis(
            host=self.node[0],
            port=self.node[1],
            username=self.login.connection.username or None,  # no user: plain AUTH <password> (an AUTH token)
            password=self.login.password,
            socket_connect_timeout=self._timeout,
            socket_timeout=self._timeout,
            # redis-py retries ConnectionError, which includes a refused password; one attempt is the truth.
            retry=Retry(NoBackoff(), 0),
            **options,  # type: ignore[arg-type]
        )
        # The raw ACL GETUSER reply: redis-py's parser splits the command rules and loses their order.
        client.set_response_callback("ACL GETUSER", lambda response, **_: response)
        try:
            with self.call(_CONNECT):
                client.ping()
        except BaseException:
            client.close()
            raise
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def typed_error(self, exc: Exception, operation: str) -> Exception | None:
        import redis

        login = f"{self.where} as {self.login.username}"
        if operation == _CONNECT:
            if isinstance(exc, redis.exceptions.AuthenticationError) or (
                isinstance(exc, redis.exceptions.ResponseError) and _code(exc) in ("WRONGPASS", "NOAUTH")
            ):
                return AuthenticationError(
                    f"Redis at {login} (tls={'on' if self._tls else 'off'}) refused the password"
                )
            if isinstance(exc, redis.exceptions.ResponseError):
                return TargetRejectedError(f"Redis at {login} (tls={'on' if self._tls else 'off'}) refused PING: "
                                           f"{_code(exc)}")  # fmt: skip
            if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
                return TargetUnreachableError(
                    f"cannot reach Redis at {login} (tls={'on' if self._tls else 'off'}): connection, timeout or TLS "
                    "failed"
                )
            return None
        if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return TargetUnreachableError(f"lost the connection to Redis at {login}")
        if isinstance(exc, redis.exceptions.ResponseError):
            code = _code(exc)
            message = f"Redis at {self.where} refused {operation}: {code}"
            if operation.split()[0] in ("ACL", "CONFIG"):
                hint = (
                    "the login lacks this permission: configure an admin secret"
                    if code == "NOPERM"
                    else "ElastiCache and MemoryDB forbid ACL commands: give the secret 'managed_by' so the "
                    "rotation uses their API"
                )
                message += f" ({hint})"
            return TargetRejectedError(message)
        return None

    def run(self, command: str, *args: str) -> Any:
        """One command (``command`` names it in timings and errors)."""
        assert self._client is not None
        with self.call(command):
            return self._client.execute_command(*args)

    # ACL users --------------------------------------------------------------------

    def user_rules(self, user: str) -> object:
        """``ACL GETUSER``; TargetRejectedError for a missing user (``ACL SETUSER`` would create it)."""
        reply = self.run("ACL GETUSER", "ACL", "GETUSER", user)
        if reply is None:
            raise TargetRejectedError(f"user {user} does not exist on {self.where}")
        return reply

    def user_admin_right(self, rules: object) -> str | None:
        """What in ``rules`` (``user_rules``) lets that user change users, or None."""
        categories: dict[str, set[str]] = {}

        def members(category: str) -> set[str]:
            if category not in categories:
                listed = self.run("ACL CAT", "ACL", "CAT", category)
                categories[category] = {text(name).lower() for name in listed} if isinstance(listed, list) else set()
            return categories[category]

        return user_admin_right(rules, members)

    def set_passwords(self, user: str, passwords: Iterable[str]) -> None:
        """The user accepts exactly ``passwords`` (sent as hashes), then the change is persisted."""
        hashes = dict.fromkeys("#" + hashlib.sha256(password.encode()).hexdigest() for password in passwords)
        self.run("ACL SETUSER", "ACL", "SETUSER", user, "resetpass", *hashes)
        self._persist()

    def _persist(self) -> None:
        config = self.run("CONFIG GET aclfile", "CONFIG", "GET", "aclfile")
        values = [text(item) for item in config] if isinstance(config, list) else []
        if isinstance(config, dict):
            values = [text(k) for kv in config.items() for k in kv]
        if len(values) >= 2 and values[1]:
            self.run("ACL SAVE", "ACL", "SAVE")
            logger.info("ACL saved to the ACL file", extra={"redis_node": self.where})
            return
        assert self._client is not None
        with self.call("INFO server"):
            info = self._client.info("server")
        if isinstance(info, dict) and info.get("config_file"):
            self.run("CONFIG REWRITE", "CONFIG", "REWRITE")
            logger.info("ACL persisted with CONFIG REWRITE", extra={"redis_node": self.where})
            return
        logger.warning(
            "server has neither an ACL file nor a config file: the new passwords last until it restarts",
            extra={"redis_node": self.where},
        )


def _code(exc: Exception) -> str:
    """The error code Redis puts first in its reply (NOPERM, ERR, WRONGPASS…), never the rest."""
    import redis

    if isinstance(exc, redis.exceptions.NoPermissionError):
        return "NOPERM"  # redis-py strips the code and signals it by class
    first = str(exc).split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else "ERR"

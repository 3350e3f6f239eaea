"""What every Redis path shares: the password policy, the checks of a pending value, and testSecret, which logs
in with the pending password on every endpoint (and, with ``ROTATION_REDIS_TEST_KEY``, writes and reads back a
probe key on every writable one). The login is ``AUTH <username> <password>`` (redis-py sends the username it is
given), which authenticates as that user or fails: no ``ACL WHOAMI``, which a least-privilege user (``-@all
+@read +@write``, or ``+@all -@admin -@dangerous``) may not run and a managed endpoint may refuse."""

from __future__ import annotations

import secrets
from abc import abstractmethod
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from rotator.core.strategy import ApplyRequest, GenerateRequest, RevokeRequest, Strategy, VerifyRequest
from rotator.errors import AuthenticationError, SecretFormatError, TargetRejectedError, VerificationError
from rotator.kinds.redis.acl_rules import text
from rotator.kinds.redis.node import RedisNodes, RedisSession
from rotator.kinds.redis.secret import RedisSecret
from rotator.kinds.redis.settings import Node
from rotator.schemes.overlap import Logins
from rotator.schemes.ownership import prove, proven
from rotator.schemes.passwords import Passwords

__all__ = ["Endpoint", "RedisPath"]


@dataclass(frozen=True)
class Endpoint:
    """Where testSecret logs in; a reader endpoint takes no write probe."""

    node: Node
    reader: bool = False


class RedisPath(Strategy[RedisSecret]):
    """A path over Redis endpoints: the user, its endpoints and its managed credential never change."""

    def __init__(self, nodes: RedisNodes, passwords: Passwords) -> None:
        self.nodes = nodes
        self._passwords = passwords

    @property
    def passwords(self) -> Passwords:
        """The passwords this path makes (a managed path narrows their policy to what its service accepts)."""
        return self._passwords

    @abstractmethod
    def endpoints(self, secret: RedisSecret) -> list[Endpoint]:
        """Where the secret's credential must work."""

    def generate(self, request: GenerateRequest[RedisSecret]) -> str:
        return request.current.with_password(self.passwords.new(request.secret))

    def check_pending(self, request: ApplyRequest[RedisSecret]) -> None:
        """The pending value names the current user, endpoints and managed credential, with a password we made."""
        pending, current = request.pending, request.current
        if not self.same_credential(pending, current):
            raise SecretFormatError("pending secret names another user, host or managed credential than current")
        self.passwords.check(pending.password, request.secret, what="pending")

    def check_kept(self, request: RevokeRequest[RedisSecret]) -> None:
        """With a password key, AWSCURRENT's password (the one revokePrevious keeps) must be one it made."""
        self.passwords.check(request.current.password, request.secret, what="AWSCURRENT", shape=False)

    @staticmethod
    def same_credential(login: RedisSecret, current: RedisSecret) -> bool:
        """Whether ``login`` is for the same user, endpoints and managed credential as ``current``."""
        return (login.username, login.endpoints, login.managed) == (
            current.username,
            current.endpoints,
            current.managed,
        )

    def verify(self, request: VerifyRequest[RedisSecret]) -> None:
        pending = request.pending
        key = self.nodes.settings.test_key
        write = key is not None and not request.is_configuration_test  # that test changes nothing
        for endpoint in self.endpoints(pending):
            self._verify_node(endpoint.node, pending, key if write and not endpoint.reader else None)

    def _verify_node(self, node: Node, pending: RedisSecret, key: str | None) -> None:
        where = f"{node[0]}:{node[1]}"
        try:
            with self.nodes.session(node, pending) as session:
                if key:
                    probe = secrets.token_hex(8)
                    session.run("SET on the test key", "SET", key, probe, "EX", "60")
                    if text(session.run("GET on the test key", "GET", key)) != probe:
                        raise VerificationError(f"read-back of the test key failed on {where}")
                    session.run("DEL on the test key", "DEL", key)
        except AuthenticationError as exc:
            raise VerificationError(f"pending password of {pending.username} is refused on {where}") from exc
        except TargetRejectedError as exc:
            raise VerificationError(f"test commands failed on {where}: {exc}") from exc

    def owner_session(
        self, node: Node, owned: Logins[RedisSecret], user: str
    ) -> AbstractContextManager[tuple[RedisSecret, RedisSession]]:
        """A session on ``node`` as the user, with the first of its passwords the secret holds that the node takes."""

        def refused() -> TargetRejectedError:
            return TargetRejectedError(
                f"no known password of {user} logs in to {node[0]}:{node[1]} (current, previous, pending)"
            )

        return proven(owned(), lambda login: self.nodes.session(node, login), refused)

    def prove_owner(
        self, current: RedisSecret, owned: Logins[RedisSecret], credential: str, untouched: str
    ) -> RedisSecret:
        """The first password the secret holds that logs in where it points; before one does, ``untouched`` is
        not used (an admin secret, a service's API)."""
        node = current.endpoints[0]

        def refused() -> TargetRejectedError:
            return TargetRejectedError(
                f"cannot prove the secret owns {credential}: none of its current, previous or pending passwords "
                f"logs in to {node[0]}:{node[1]}; {untouched} was not used"
            )

        return prove(owned(), lambda login: self.nodes.log_in(node, login), refused)

    def with_configured(self, endpoints: Iterable[Node]) -> list[Node]:
        """``endpoints`` plus ``ROTATION_REDIS_NODES``, each once."""
        nodes: list[Node] = []
        for node in (*endpoints, *self.nodes.settings.nodes):
            if node not in nodes:
                nodes.append(node)
        return nodes

"""redis-py clients that authenticate with the secret's current login (its ``CredentialProvider``).

::

    client = redis_client(SecretCache(ttl=300), "amply/prod/redis-url")

Each new connection asks the provider for its username and password. When the server refuses them, the
client's ``Retry`` tells the provider, which takes the next value Secrets Manager holds (AWSCURRENT read again,
then AWSPENDING while a rotation is in progress), and the connection is retried: the application never sees an
AUTH failure a rotation caused. The secret is a ``redis://``/``rediss://`` URL, a JSON login, or a bare AUTH token.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError
from redis.retry import Retry

from rotation_client.cache import SecretCache
from rotation_client.errors import CredentialsRejectedError
from rotation_client.logins import Login

__all__ = ["RefreshingRetry", "SecretCredentialProvider", "redis_client"]


class SecretCredentialProvider(redis.CredentialProvider):
    """The secret's login for each new connection; ``rejected`` moves to the next value Secrets Manager holds."""

    def __init__(self, cache: SecretCache, secret_id: str) -> None:
        self.cache, self.secret_id = cache, secret_id
        self._served: str | None = None
        self._lock = threading.Lock()

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        text = self.cache.get(self.secret_id)
        with self._lock:
            self._served = text
        login = Login.from_secret(text)
        return (login.username, login.password) if login.username else (login.password,)

    def rejected(self) -> None:
        """The server refused the login last served: the cache serves the next candidate from now on."""
        with self._lock:
            served = self._served
        if served is None:
            return
        candidates = self.cache.after_rejection(self.secret_id, served)
        if not candidates:
            raise CredentialsRejectedError(
                f"Redis refused every value of {self.secret_id} (AWSCURRENT, and AWSPENDING if a rotation is in "
                "progress)"
            )
        self.cache.accepted(self.secret_id, candidates[0])


class RefreshingRetry(Retry):
    """redis-py's Retry that tells the provider about an AUTH failure before the connection is retried."""

    def __init__(self, provider: SecretCredentialProvider, retries: int = 3) -> None:
        super().__init__(NoBackoff(), retries)
        self.provider = provider

    def __deepcopy__(self, memo: dict[int, Any]) -> RefreshingRetry:
        """redis-py gives each connection a deep copy of its Retry: the copies share the one provider."""
        return RefreshingRetry(self.provider, self._retries)

    def call_with_retry(self, do: Any, fail: Any, is_retryable: Any = None, with_failure_count: bool = False) -> Any:
        def failed(error: Exception, *count: int) -> Any:
            if isinstance(error, AuthenticationError):  # WRONGPASS and a refused AUTH alike
                self.provider.rejected()
            return fail(error, *count)

        return super().call_with_retry(do, failed, is_retryable, with_failure_count)


def redis_client(cache: SecretCache, secret_id: str, **kwargs: Any) -> redis.Redis:
    """A ``redis.Redis`` for the secret's server (URL host, port, database and TLS), authenticating through it."""
    from redis.connection import ConnectionPool, parse_url

    login = Login.from_secret(cache.get(secret_id))
    options: dict[str, Any] = {}
    if login.host:
        scheme = "rediss" if login.tls else "redis"
        url = f"{scheme}://{login.host}:{login.port or 6379}/{login.database or 0}"
        options = parse_url(url)  # type: ignore[no-untyped-call]
    provider = SecretCredentialProvider(cache, secret_id)
    options.update(kwargs)
    options.update(credential_provider=provider, retry=RefreshingRetry(provider))
    return redis.Redis(connection_pool=ConnectionPool(**options))

"""A TTL cache of each secret's AWSCURRENT, read through boto3, and what to try after a refused credential.

``get`` is the seeds' ``get_secret_cached``: one GetSecretValue per secret per ``ttl`` seconds.
``after_rejection`` is asked when a target refused a value: it reads AWSCURRENT again and, while a rotation is
in progress, AWSPENDING (a single-user password is changed at setSecret, before AWSPENDING becomes AWSCURRENT),
at most once per ``refresh_interval`` per secret however many callers fail at once (sooner only when every
value it found has been refused since), and never offers a value refused within that interval. ``retrying``
runs one attempt with the cached value and, on a refusal, with each value offered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rotation_client.errors import CredentialsRejectedError, SecretUnavailableError

__all__ = ["CacheStats", "SecretCache"]

_T = TypeVar("_T")
_MIN_GAP = 0.05
log = logging.getLogger("rotation_client")


@dataclass
class CacheStats:
    """What the cache did: Secrets Manager reads and refreshes after a refusal (for load reports)."""

    reads: int = 0
    refreshes: int = 0


@dataclass
class _Entry:
    value: str = field(repr=False)
    until: float
    refreshed_at: float = float("-inf")
    offered: tuple[str, ...] = field(default=(), repr=False)
    rejected: dict[str, float] = field(default_factory=dict, repr=False)


class SecretCache:
    """AWSCURRENT of each secret for ``ttl`` seconds (300, the seeds' TTL); safe to share between threads."""

    def __init__(
        self, client: Any = None, *, ttl: float = 300.0, refresh_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._client = client
        self.ttl = ttl
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.stats = CacheStats()

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def get(self, secret_id: str) -> str:
        """The cached AWSCURRENT value (read again once ``ttl`` has passed)."""
        with self._lock(secret_id):
            entry = self._entries.get(secret_id)
            now = self._clock()
            if entry is None or now >= entry.until:
                value = self._read(secret_id, "AWSCURRENT")
                if value is None:
                    raise SecretUnavailableError(f"secret {secret_id} has no AWSCURRENT value")
                entry = self._entries[secret_id] = _Entry(value, now + self.ttl, *self._kept(entry))
            return entry.value

    def after_rejection(self, secret_id: str, rejected: str) -> list[str]:
        """The values to try after the target refused ``rejected``: AWSCURRENT read again, then AWSPENDING while a
        rotation is in progress, without any value refused within ``refresh_interval``. Empty when none is left."""
        with self._lock(secret_id):
            now = self._clock()
            entry = self._entries.get(secret_id) or _Entry(rejected, now)
            self._entries[secret_id] = entry
            entry.rejected = {value: at for value, at in entry.rejected.items() if now - at < self.refresh_interval}
            entry.rejected[rejected] = now
            remaining = [value for value in entry.offered if value not in entry.rejected]
            since = now - entry.refreshed_at
            # Once per interval for a burst of refusals; sooner when every value the last read found is refused
            # (a rotation since then changed it again), but never more often than every _MIN_GAP seconds.
            if since >= self.refresh_interval or (not remaining and since >= _MIN_GAP):
                self.stats.refreshes += 1
                log.info("a credential of %s was refused: reading AWSCURRENT and AWSPENDING again", secret_id)
                found = (self._read(secret_id, "AWSCURRENT"), self._read(secret_id, "AWSPENDING"))
                entry.offered = tuple(dict.fromkeys(value for value in found if value is not None))
                entry.refreshed_at = now
            return [value for value in entry.offered if value not in entry.rejected]

    def accepted(self, secret_id: str, value: str) -> None:
        """The target accepted ``value``: serve it for the next ``ttl`` seconds."""
        with self._lock(secret_id):
            entry = self._entries.get(secret_id)
            self._entries[secret_id] = _Entry(value, self._clock() + self.ttl, *self._kept(entry))

    def retrying(
        self, secret_id: str, attempt: Callable[[str], _T], refused: Callable[[BaseException], bool], *, target: str
    ) -> _T:
        """``attempt(value)`` with the cached value; when ``refused`` says the target refused it, with each value
        ``after_rejection`` offers. ``CredentialsRejectedError`` when every one is refused."""
        value = self.get(secret_id)
        tried = [value]
        while True:
            try:
                result = attempt(value)
            except Exception as exc:
                if not refused(exc):
                    raise
                candidates = [other for other in self.after_rejection(secret_id, value) if other not in tried]
                if not candidates:
                    raise CredentialsRejectedError(
                        f"{target} refused every value of {secret_id} (AWSCURRENT, and AWSPENDING if a rotation is "
                        f"in progress): {type(exc).__name__}"
                    ) from None
                value = candidates[0]
                tried.append(value)
                continue
            if len(tried) > 1:
                self.accepted(secret_id, value)
            return result

    def _read(self, secret_id: str, stage: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.stats.reads += 1
        try:
            response = self.client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code == "ResourceNotFoundException" and stage != "AWSCURRENT":
                return None  # no rotation in progress (or its value is not stored yet)
            raise SecretUnavailableError(f"cannot read {stage} of {secret_id}: {code}") from None
        except BotoCoreError as exc:
            raise SecretUnavailableError(f"cannot read {stage} of {secret_id}: {type(exc).__name__}") from None
        if "SecretString" not in response:
            raise SecretUnavailableError(f"{stage} of {secret_id} is binary; this helper reads string secrets")
        return str(response["SecretString"])

    def _kept(self, entry: _Entry | None) -> tuple[float, tuple[str, ...], dict[str, float]]:
        """What a new value keeps of the last refresh (so a burst of refusals still reads only once)."""
        return (entry.refreshed_at, entry.offered, entry.rejected) if entry else (float("-inf"), (), {})

    def _lock(self, secret_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(secret_id, threading.Lock())

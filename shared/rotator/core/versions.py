"""The versions one invocation reads, each read once, registered for redaction and parsed by the kind."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from rotator.aws.secrets_manager import SecretDescription, SecretsManager, SecretValue
from rotator.codecs.parsed import ParsedSecret
from rotator.constants import Stage
from rotator.errors import SecretFormatError, SecretNotFoundError, ValueNotFoundError
from rotator.observability import Redactor, fallback_secret_parts

__all__ = ["Parser", "VersionReader"]

_S = TypeVar("_S", bound=ParsedSecret)
_S_co = TypeVar("_S_co", bound=ParsedSecret, covariant=True)


class Parser(Protocol[_S_co]):
    """The kind's parser (``Kind.parse``): a value's text, and what to call it in an error."""

    def __call__(self, text: str, *, what: str) -> _S_co: ...


class VersionReader(Generic[_S]):
    """Reads the versions a step needs, once each, and registers every value and its secret parts for redaction."""

    def __init__(
        self, sm: SecretsManager, description: SecretDescription, token: str, redactor: Redactor, parse: Parser[_S]
    ) -> None:
        self._sm = sm
        self._description = description
        self._token = token
        self._redactor = redactor
        self._parse = parse
        self._parsed: dict[tuple[str, str], _S | None] = {}
        self._created: dict[str, datetime] | None = None

    @property
    def description(self) -> SecretDescription:
        """The DescribeSecret result of this invocation."""
        return self._description

    def pending_stored(self) -> bool:
        """Whether the pending version holds a value, without parsing it (finishSecret needs no more)."""
        try:
            value = self._sm.get_value(self._description.arn, version_id=self._token)
        except ValueNotFoundError:
            return False
        self._redactor.add(value.text, *fallback_secret_parts(value.text))
        return True

    def pending(self) -> SecretValue:
        """The AWSPENDING value of this rotation (ValueNotFoundError until createSecret stored it)."""
        return self._read(self._description.arn, version_id=self._token)

    def current(self) -> SecretValue:
        """The AWSCURRENT value."""
        return self._read(self._description.arn, version_id=self._description.version_with(Stage.CURRENT))

    def previous(self) -> SecretValue | None:
        """The AWSPREVIOUS value, or None when the secret has never rotated."""
        version_id = self._description.version_with(Stage.PREVIOUS)
        if version_id is None:
            return None
        try:
            return self._read(self._description.arn, version_id=version_id)
        except ValueNotFoundError:
            return None

    def labelled(self, label: str) -> SecretValue | None:
        """The value of the version holding a custom label (``STAGED``), or None."""
        version_id = self._description.version_with(label)
        if version_id is None:
            return None
        return self._read(self._description.arn, version_id=version_id)

    def created_dates(self) -> dict[str, datetime]:
        """Every version's creation time, those without a label too (ListSecretVersionIds, read once)."""
        if self._created is None:
            self._created = self._sm.created_dates(self._description.arn)
        return self._created

    def pending_created(self) -> datetime | None:
        """When createSecret stored the pending value, or None if unknown."""
        return self.created_dates().get(self._token)

    def version(self, version_id: str) -> SecretValue | None:
        """Any version's value, labelled or not; None when Secrets Manager no longer holds it."""
        try:
            return self._read(self._description.arn, version_id=version_id)
        except ValueNotFoundError:
            return None

    def describe_other(self, secret_id: str) -> SecretDescription:
        """DescribeSecret of another secret (an RDS-managed master's system tags)."""
        return self._sm.describe(secret_id)

    def other(self, secret_id: str) -> SecretValue:
        """The AWSCURRENT value of another secret (a master or admin credential)."""
        try:
            return self._read(secret_id, stage=Stage.CURRENT)
        except ValueNotFoundError as exc:
            # AWSCURRENT always has a value, so the secret itself is missing (or invisible to us).
            raise SecretNotFoundError(exc.operation, exc.code, secret_id) from exc

    def parsed(self, value: SecretValue, *, what: str) -> _S:
        """``value`` in the kind's format (parsed once per version); a SecretFormatError naming ``what``."""
        cached = self._parsed.get((self._description.arn, value.version_id))
        return cached if cached is not None else self._parse(value.text, what=what)

    def pending_secret(self) -> _S:
        """The parsed AWSPENDING value: a malformed one is a SecretFormatError in every kind."""
        return self.parsed(self.pending(), what="pending secret")

    def current_secret(self) -> _S:
        """The parsed AWSCURRENT value."""
        return self.parsed(self.current(), what="current secret")

    def previous_secret(self) -> _S | None:
        """The parsed AWSPREVIOUS value, or None."""
        value = self.previous()
        return None if value is None else self.parsed(value, what="previous secret")

    def _read(self, secret_id: str, *, version_id: str | None = None, stage: Stage | None = None) -> SecretValue:
        value = self._sm.get_value(secret_id, version_id=version_id, stage=stage)
        self._redactor.add(value.text, *self._parts(secret_id, value))
        return value

    def _parts(self, secret_id: str, value: SecretValue) -> Iterable[str]:
        """The secret parts of a value: from its parsed form, or a best effort when it does not parse."""
        key = (secret_id, value.version_id)
        if key not in self._parsed:
            try:
                self._parsed[key] = self._parse(value.text, what="secret")
            except SecretFormatError:
                self._parsed[key] = None
        parsed = self._parsed[key]
        return fallback_secret_parts(value.text) if parsed is None else parsed.secret_parts()

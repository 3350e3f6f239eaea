"""The one place that calls the Secrets Manager API.

The endpoint comes from the standard AWS configuration (``AWS_ENDPOINT_URL``,
profiles, region), so the same code talks to AWS or to an emulator. Every
``ClientError`` becomes a typed error carrying the operation and AWS code only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rotator.aws.clients import aws_client
from rotator.constants import Stage
from rotator.errors import (
    SecretFormatError,
    SecretNotFoundError,
    SecretsManagerError,
    SecretsManagerUnavailableError,
    ThrottledError,
    ValueNotFoundError,
)
from rotator.timings import timed

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["MAX_SECRET_BYTES", "SecretDescription", "SecretValue", "SecretsManager", "check_size"]

# Secrets Manager's limit on a SecretString (the API's SecretStringType: at most 65536 bytes).
MAX_SECRET_BYTES = 65536

_THROTTLING = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "Throttling"}
# Version values never change once written, so a small cache keyed by version id
# is always correct; it saves re-reading the same versions in later steps of a
# rotation handled by the same warm container.
_CACHE_SIZE = 16


@dataclass(frozen=True)
class SecretValue:
    """One version's value. The text is never part of the repr."""

    version_id: str
    text: str = field(repr=False)
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretDescription:
    """What DescribeSecret says about a secret, reduced to what rotation needs."""

    arn: str
    name: str
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]]
    rotation_lambda_arn: str | None = None
    rotation_rules: Mapping[str, Any] = field(default_factory=dict)
    last_rotated: datetime | None = None
    next_rotation: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def version_with(self, stage: Stage | str) -> str | None:
        """The version id holding ``stage``, or None when no version holds it."""
        for version_id, stages in self.versions.items():
            if stage in stages:
                return version_id
        return None

    @property
    def stuck_pending(self) -> str | None:
        """The version holding AWSPENDING without AWSCURRENT (an unfinished rotation)."""
        version_id = self.version_with(Stage.PENDING)
        if version_id is not None and Stage.CURRENT not in self.versions[version_id]:
            return version_id
        return None


class SecretsManager:
    """Typed, cached access to Secrets Manager. The client is built on first use."""

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_attempts: int = 6,
    ) -> None:
        self._client = client
        self._client_options = (connect_timeout, read_timeout, max_attempts)
        self._values: OrderedDict[tuple[str, str], SecretValue] = OrderedDict()
        self._values_lock = threading.Lock()  # the sandbox runs rotations of several secrets at once

    @property
    def client(self) -> SecretsManagerClient:
        """The boto3 client (created lazily so importing a handler stays cheap)."""
        if self._client is None:
            connect, read, attempts = self._client_options
            self._client = aws_client(
                "secretsmanager", connect_timeout=connect, read_timeout=read, max_attempts=attempts
            )
        return self._client

    def describe(self, secret_id: str) -> SecretDescription:
        """DescribeSecret."""
        response = self._call("DescribeSecret", secret_id, SecretId=secret_id)
        return _description(response)

    def get_value(self, secret_id: str, *, version_id: str | None = None, stage: str | None = None) -> SecretValue:
        """GetSecretValue; raises ValueNotFoundError when the version holds no value."""
        if version_id is not None:
            with self._values_lock:
                cached = self._values.get((secret_id, version_id))
                if cached is not None:
                    self._values.move_to_end((secret_id, version_id))
                    return cached
        kwargs: dict[str, Any] = {"SecretId": secret_id}
        if version_id is not None:
            kwargs["VersionId"] = version_id
        if stage is not None:
            kwargs["VersionStage"] = stage
        response = self._call("GetSecretValue", secret_id, not_found=ValueNotFoundError, **kwargs)
        if "SecretString" not in response:
            raise SecretFormatError(f"secret {secret_id} holds a binary value; only string secrets rotate")
        value = SecretValue(response["VersionId"], response["SecretString"], tuple(response.get("VersionStages", ())))
        self._remember(secret_id, value)
        return value

    def put_pending(self, secret_id: str, token: str, text: str, rotation_token: str | None = None) -> None:
        """PutSecretValue into the version ``token`` with the AWSPENDING label."""
        check_size(text, what=f"the new value of {secret_id}")
        kwargs: dict[str, Any] = {
            "SecretId": secret_id,
            "ClientRequestToken": token,
            "SecretString": text,
            "VersionStages": [Stage.PENDING.value],
        }
        if rotation_token:
            kwargs["RotationToken"] = rotation_token
        self._call("PutSecretValue", secret_id, **kwargs)
        self._remember(secret_id, SecretValue(token, text, (Stage.PENDING.value,)))

    def put_staged(self, secret_id: str, text: str, label: str) -> str:
        """PutSecretValue as a new version carrying only ``label`` (moved from any older version)."""
        check_size(text, what=f"the value staged for {secret_id}")
        response = self._call("PutSecretValue", secret_id, SecretId=secret_id, SecretString=text, VersionStages=[label])
        return str(response.get("VersionId", ""))

    def move_stage(self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None) -> None:
        """UpdateSecretVersionStage: move (or attach, or remove) one label."""
        kwargs: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
        if to_version is not None:
            kwargs["MoveToVersionId"] = to_version
        if from_version is not None:
            kwargs["RemoveFromVersionId"] = from_version
        self._call("UpdateSecretVersionStage", secret_id, **kwargs)

    def rotate(self, secret_id: str, *, token: str | None = None) -> str:
        """RotateSecret now, with the rotation configuration already on the secret; returns the new version id."""
        kwargs: dict[str, Any] = {"SecretId": secret_id, "RotateImmediately": True}
        if token is not None:
            kwargs["ClientRequestToken"] = token
        response = self._call("RotateSecret", secret_id, **kwargs)
        return str(response.get("VersionId", ""))

    def tag(self, secret_id: str, key: str, value: str) -> None:
        """TagResource: set one tag (tags change no version and no value)."""
        self._call("TagResource", secret_id, SecretId=secret_id, Tags=[{"Key": key, "Value": value}])

    def created_dates(self, secret_id: str) -> dict[str, datetime]:
        """Each version's creation time (ListSecretVersionIds, every page), by version id: versions without a
        staging label too ("deprecated", which Secrets Manager deletes only beyond 100 versions)."""
        dates: dict[str, datetime] = {}
        options: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": True}
        while True:  # botocore has no paginator for this operation
            page = self._call("ListSecretVersionIds", secret_id, **options)
            for version in page.get("Versions", []):
                created = _as_datetime(version.get("CreatedDate"))
                if created is not None:
                    dates[str(version["VersionId"])] = created
            if not page.get("NextToken"):
                return dates
            options["NextToken"] = page["NextToken"]

    def list_secrets(self, prefix: str | None = None) -> Iterator[SecretDescription]:
        """ListSecrets, optionally filtered by a name prefix (paginated)."""
        kwargs: dict[str, Any] = {}
        if prefix:
            kwargs["Filters"] = [{"Key": "name", "Values": [prefix]}]
        token: str | None = None
        while True:
            page_kwargs = dict(kwargs)
            if token:
                page_kwargs["NextToken"] = token
            response = self._call("ListSecrets", prefix or "*", **page_kwargs)
            for entry in response.get("SecretList", []):
                if prefix and not entry["Name"].startswith(prefix):
                    continue
                entry = dict(entry)
                entry.setdefault("VersionIdsToStages", entry.get("SecretVersionsToStages", {}))
                yield _description(entry)
            token = response.get("NextToken")
            if not token:
                return

    def _remember(self, secret_id: str, value: SecretValue) -> None:
        with self._values_lock:
            self._values[(secret_id, value.version_id)] = value
            while len(self._values) > _CACHE_SIZE:
                self._values.popitem(last=False)

    def _call(
        self,
        operation: str,
        secret_id: str,
        *,
        not_found: type[SecretsManagerError] = SecretNotFoundError,
        **kwargs: Any,
    ) -> dict[str, Any]:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            ConnectTimeoutError,
            ReadTimeoutError,
        )

        method = getattr(self.client, _snake(operation))
        try:
            with timed("secretsmanager", operation):
                return dict(method(**kwargs))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            raise _error_for(code, not_found)(operation, code, secret_id) from exc
        except (ConnectTimeoutError, ReadTimeoutError, ConnectionError) as exc:
            raise SecretsManagerUnavailableError(operation, type(exc).__name__, secret_id) from exc
        except BotoCoreError as exc:
            raise SecretsManagerError(operation, type(exc).__name__, secret_id) from exc


def check_size(text: str, *, what: str) -> None:
    """Refuse at once (``SecretFormatError``) a value Secrets Manager would refuse for its size."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_SECRET_BYTES:
        raise SecretFormatError(f"{what} is {size} bytes: over Secrets Manager's limit of {MAX_SECRET_BYTES}")


def _error_for(code: str, not_found: type[SecretsManagerError]) -> type[SecretsManagerError]:
    if code == "ResourceNotFoundException":
        return not_found
    if code in _THROTTLING:
        return ThrottledError
    return SecretsManagerError


def _snake(operation: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in operation).lstrip("_")


def _description(response: Mapping[str, Any]) -> SecretDescription:
    versions = {version: tuple(stages) for version, stages in (response.get("VersionIdsToStages") or {}).items()}
    return SecretDescription(
        arn=response["ARN"],
        name=response["Name"],
        rotation_enabled=bool(response.get("RotationEnabled", False)),
        versions=versions,
        rotation_lambda_arn=response.get("RotationLambdaARN") or None,
        rotation_rules=dict(response.get("RotationRules") or {}),
        last_rotated=_as_datetime(response.get("LastRotatedDate")),
        next_rotation=_as_datetime(response.get("NextRotationDate")),
        tags={tag["Key"]: tag["Value"] for tag in response.get("Tags") or []},
    )


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None

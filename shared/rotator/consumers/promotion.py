"""When AWSCURRENT's value became current, recorded by finishSecret as a tag on the secret.

No Secrets Manager API tells when a label moved: a version's ``CreatedDate`` is createSecret's time, before
setSecret and testSecret ran, and a consumer task launched between createSecret and finishSecret read the
*older* value. So finishSecret records the moment after it moved AWSCURRENT, as the tag
``rotation:current-since`` = ``<version id> <UTC time>``. Where the record is missing or names another version
(a value put by hand, a promotion before consumers were configured, a tag write that failed), the moment is
unknown; the guard then records *now*, which is later than the real promotion, so every task launched before it
counts as stale (one redeployment too many, never a revoked credential a task still holds).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rotator.aws.secrets_manager import SecretDescription, SecretsManager
from rotator.constants import Stage

__all__ = ["CURRENT_SINCE_TAG", "record_promotion", "recorded_since"]

CURRENT_SINCE_TAG = "rotation:current-since"


def recorded_since(description: SecretDescription) -> datetime | None:
    """The recorded promotion time of AWSCURRENT's version, or None when no record names that version."""
    version, moment = _record(description)
    return moment if version is not None and version == description.version_with(Stage.CURRENT) else None


def record_promotion(sm: SecretsManager, description: SecretDescription, version: str) -> datetime:
    """Record that ``version`` became current now (an earlier record of it is kept); the moment recorded.
    ``SecretsManagerError`` when the tag cannot be written."""
    recorded, moment = _record(description)
    if recorded == version and moment is not None:
        return moment
    now = datetime.now(UTC)
    sm.tag(description.arn, CURRENT_SINCE_TAG, f"{version} {now.isoformat()}")
    return now


def _record(description: SecretDescription) -> tuple[str | None, datetime | None]:
    version, _, moment = description.tags.get(CURRENT_SINCE_TAG, "").partition(" ")
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return version or None, None
    return version or None, parsed if parsed.tzinfo is not None else None

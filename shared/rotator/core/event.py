"""The rotation event Secrets Manager sends, parsed and validated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rotator.codecs.text import has_control
from rotator.constants import Action, Step
from rotator.errors import EventError

__all__ = ["RotationEvent"]

_TOKEN = re.compile(r"[A-Za-z0-9\-]{32,64}")
_MAX_SECRET_ID = 2048


@dataclass(frozen=True)
class RotationEvent:
    """``Step``, ``SecretId``, ``ClientRequestToken`` and the optional, sensitive ``RotationToken``.

    ``Step`` is one of the protocol's four, or an operator's ``Action`` (``revokePrevious``, whose token is
    AWSCURRENT's version).
    """

    step: Step | Action
    arn: str
    token: str
    rotation_token: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, event: Any) -> RotationEvent:
        """Validate an invocation event; raises EventError naming the offending key."""
        if not isinstance(event, Mapping):
            raise EventError("event must be a JSON object")
        step = _string(event, "Step")
        steps = {member.value: member for member in (*Step, *Action)}
        if step not in steps:
            raise EventError("event key 'Step' is not one of " + ", ".join(steps))
        arn = _string(event, "SecretId")
        if len(arn) > _MAX_SECRET_ID or has_control(arn):
            raise EventError("event key 'SecretId' is too long or contains control characters")
        token = _string(event, "ClientRequestToken")
        if not _TOKEN.fullmatch(token):
            raise EventError("event key 'ClientRequestToken' must be 32-64 letters, digits or hyphens")
        rotation_token = event.get("RotationToken")
        if rotation_token is not None and (not isinstance(rotation_token, str) or not rotation_token):
            raise EventError("event key 'RotationToken' must be a non-empty string")
        return cls(steps[step], arn, token, rotation_token)


def _string(event: Mapping[str, Any], key: str) -> str:
    if key not in event:
        raise EventError(f"event lacks the key {key!r}")
    value = event[key]
    if not isinstance(value, str) or not value:
        raise EventError(f"event key {key!r} must be a non-empty string")
    return value

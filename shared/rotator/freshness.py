"""The freshness check (EventBridge, hourly): every secret of the stack that should rotate has rotated in time.

A secret under ``ROTATION_SECRET_PREFIX`` (the stack's ``<app>/<env>/``) with a rotation function configured needs
attention when its rotation is off (a disabled rotation, a deleted schedule) or it is overdue: its rotation window
closed without a successful rotation (``rotator.aws.schedule``, the rule ``rotation status`` applies too), which
also catches a rotation function that never runs. Each is logged by name with the reason
(never a value: the check reads no value); their number is the ``SecretsNeedingRotation`` metric, on which the
template's alarm notifies the alarm topic (missing data breaches, so a check that stops running alarms as well).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from rotator.aws.schedule import needs_rotation
from rotator.aws.secrets_manager import SecretsManager
from rotator.core.boundary import lambda_log_keys
from rotator.errors import ConfigurationError
from rotator.observability import logger, metrics
from rotator.settings import ENV_SECRET_PREFIX

__all__ = ["FreshnessCheck", "freshness_handler"]

METRIC = "SecretsNeedingRotation"


class FreshnessCheck:
    """The Lambda handler: the stack's secrets that have not rotated as they should, logged and counted."""

    def __init__(self, sm: SecretsManager, prefix: str) -> None:
        self.sm, self.prefix = sm, prefix

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        with lambda_log_keys(context):
            now = datetime.now(UTC)
            checked, attention = 0, {}
            for description in self.sm.list_secrets(self.prefix):
                if description.rotation_lambda_arn is None:
                    continue  # never set up to rotate: not this check's to judge
                checked += 1
                reason = needs_rotation(description, now)
                if reason is not None:
                    attention[description.name] = reason
                    logger.warning("secret needs rotation", extra={"secret": description.name, "reason": reason})
            metrics.clear_metrics()
            metrics.add_dimension(name="function", value="freshness")
            metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=len(attention))
            metrics.flush_metrics()
            logger.info("freshness checked", extra={"checked": checked, "needing_rotation": len(attention)})
            return {"checked": checked, "needing_rotation": attention}


def freshness_handler(environ: Mapping[str, str] | None = None) -> FreshnessCheck:
    """The freshness check, configured from the environment once, at cold start."""
    env = os.environ if environ is None else environ
    prefix = env.get(ENV_SECRET_PREFIX, "")
    if not prefix.endswith("/") or len(prefix) < 2:
        raise ConfigurationError(f"{ENV_SECRET_PREFIX} must name the stack's secrets, e.g. amply/prod/")
    return FreshnessCheck(SecretsManager(), prefix)

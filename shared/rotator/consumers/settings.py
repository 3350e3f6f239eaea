"""Where the consumer feature looks for consumers, and the environment and tag names it reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotator.settings import env_bool

__all__ = [
    "CONSUMERS_TAG",
    "ENV_ACCEPT_CONSUMER_OUTAGE",
    "ENV_ALARM_TOPIC_ARN",
    "ENV_CONSUMER_CLUSTERS",
    "NOT_CONSUMERS_TAG",
    "ConsumerSettings",
]

# The clusters searched for services that inject a secret, and the single-user opt-in.
ENV_CONSUMER_CLUSTERS = "ROTATION_CONSUMER_CLUSTERS"
ENV_ACCEPT_CONSUMER_OUTAGE = "ROTATION_ACCEPT_CONSUMER_OUTAGE"
# The refresh function sends its failures to the stack's alarm topic.
ENV_ALARM_TOPIC_ARN = "ROTATION_ALARM_TOPIC_ARN"
# Secret tags naming consumers ("cluster/service, ...") beyond those found, and services that are not.
CONSUMERS_TAG = "rotation:consumers"
NOT_CONSUMERS_TAG = "rotation:not-consumers"


@dataclass(frozen=True)
class ConsumerSettings:
    """Where consumers are searched, and whether single-user rotation may cut them off."""

    clusters: tuple[str, ...] = ()
    accept_outage: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerSettings:
        clusters = tuple(name.strip() for name in environ.get(ENV_CONSUMER_CLUSTERS, "").split(",") if name.strip())
        return cls(clusters, env_bool(environ, ENV_ACCEPT_CONSUMER_OUTAGE, False))

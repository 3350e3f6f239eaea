"""Where the consumer feature looks for consumers, and the environment and tag names it reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rotator.settings import env_bool, env_float

__all__ = [
    "CONSUMERS_TAG",
    "ENV_ACCEPT_CONSUMER_OUTAGE",
    "ENV_ALARM_TOPIC_ARN",
    "ENV_CONSUMER_CLUSTERS",
    "ENV_MIN_OVERLAP_SECONDS",
    "NOT_CONSUMERS_TAG",
    "ConsumerSettings",
]

# The clusters searched for services that inject a secret, and the single-user opt-in.
ENV_CONSUMER_CLUSTERS = "ROTATION_CONSUMER_CLUSTERS"
ENV_ACCEPT_CONSUMER_OUTAGE = "ROTATION_ACCEPT_CONSUMER_OUTAGE"
# Nothing is revoked sooner than this after the version that replaced it became current: a client that caches the
# secret may hold the older value that long. The default is the AWS caching library's ("secret_refresh_interval
# … The default is 3600", Secrets Manager User Guide, SecretCacheConfig); a week at most.
ENV_MIN_OVERLAP_SECONDS = "ROTATION_MIN_OVERLAP_SECONDS"
DEFAULT_MIN_OVERLAP_SECONDS = 3600.0
# The refresh function sends its failures to the stack's alarm topic.
ENV_ALARM_TOPIC_ARN = "ROTATION_ALARM_TOPIC_ARN"
# Secret tags naming consumers ("cluster/service, ...") beyond those found, and services that are not.
CONSUMERS_TAG = "rotation:consumers"
NOT_CONSUMERS_TAG = "rotation:not-consumers"


@dataclass(frozen=True)
class ConsumerSettings:
    """Where consumers are searched, whether single-user rotation may cut them off, and the minimum overlap."""

    clusters: tuple[str, ...] = ()
    accept_outage: bool = False
    min_overlap: float = 0.0  # seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ConsumerSettings:
        clusters = tuple(name.strip() for name in environ.get(ENV_CONSUMER_CLUSTERS, "").split(",") if name.strip())
        overlap = env_float(environ, ENV_MIN_OVERLAP_SECONDS, DEFAULT_MIN_OVERLAP_SECONDS, low=0.0, high=604800.0)
        return cls(clusters, env_bool(environ, ENV_ACCEPT_CONSUMER_OUTAGE, False), overlap)

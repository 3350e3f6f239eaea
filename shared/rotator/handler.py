"""Build a Lambda handler for a kind: ``lambda_handler = handler_for("postgres")``."""

from __future__ import annotations

from rotator.aws.secrets_manager import SecretsManager
from rotator.consumers.guard import ConsumerGuard
from rotator.consumers.settings import ConsumerSettings
from rotator.core.engine import Engine
from rotator.kinds import kind_class
from rotator.settings import Settings

__all__ = ["handler_for"]


def handler_for(kind: str, settings: Settings | None = None, sm: SecretsManager | None = None) -> Engine:
    """The engine for ``kind``, configured from the environment once, at cold start."""
    settings = settings or Settings.from_env()
    sm = sm or SecretsManager(
        connect_timeout=settings.sm_connect_timeout,
        read_timeout=settings.sm_read_timeout,
        max_attempts=settings.sm_max_attempts,
    )
    guard = ConsumerGuard(ConsumerSettings.from_env(settings.environ))
    return Engine(kind_class(kind)(settings), sm, guard)

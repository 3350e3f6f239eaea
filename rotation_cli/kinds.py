"""The kind behind a secret, as the commands need it: built from this process's environment."""

from __future__ import annotations

from typing import Any

from rotation_cli.aws import kind_of
from rotator.aws.secrets_manager import SecretDescription
from rotator.core.strategy import Kind, Stageable
from rotator.kinds import kind_class
from rotator.settings import Settings

__all__ = ["kind_for", "stageable"]


def stageable(description: SecretDescription) -> Stageable[Any] | None:
    """The secret's kind when an operator may stage its values (``rotation stage``), else None.

    Kinds that are not stageable are never built: their configuration (a keyring bucket, say) is the function's.
    """
    kind = kind_of(description)
    if kind is None or not issubclass(kind_class(kind), Stageable):
        return None
    built = kind_for(kind)
    return built if isinstance(built, Stageable) else None


def kind_for(kind: str) -> Kind[Any]:
    """The kind, configured from this process's environment."""
    return kind_class(kind)(Settings.from_env())

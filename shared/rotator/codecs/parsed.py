"""The base of every kind's parsed secret value."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Self

__all__ = ["ParsedSecret"]


class ParsedSecret(ABC):
    """A secret value in its kind's format. Implementations keep secret fields out of their repr."""

    @classmethod
    @abstractmethod
    def parse(cls, text: str, *, what: str = "secret") -> Self:
        """Parse ``text``; a ``SecretFormatError`` naming ``what`` (never quoting the text) otherwise."""

    @abstractmethod
    def secret_parts(self) -> Iterable[str]:
        """The substrings that are secret on their own (a password inside a URL), so they are redacted too."""

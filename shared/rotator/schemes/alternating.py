"""The alternating pair: two users of a target take turns, so the previous credential keeps working for a
whole rotation period while the next one is set (AWS's "alternating users" strategy).

The pair is a base user and its clone (``app`` and ``app_clone``); each rotation moves the secret to the other
user, with a new password. A privileged secret (a master) changes the user the secret does not use now; the
kind proves first that the secret owns the pair (``rotator.schemes.ownership``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rotator.errors import SecretFormatError

__all__ = ["AlternatingPair"]


@dataclass(frozen=True)
class AlternatingPair:
    """The naming of a pair: ``<base>`` and ``<base><suffix>``; names up to ``max_bytes`` bytes."""

    suffix: str
    max_bytes: int

    def base(self, username: str) -> str:
        """The pair's base user (the name without the suffix)."""
        suffix = self.suffix
        return username[: -len(suffix)] if username.endswith(suffix) and len(username) > len(suffix) else username

    def users(self, username: str) -> tuple[str, str]:
        """Both users of the pair ``username`` belongs to: the base user, then its clone."""
        base = self.base(username)
        return base, base + self.suffix

    def partner(self, username: str) -> str:
        """The other user of the pair: the one the next rotation moves to."""
        base, clone = self.users(username)
        partner = base if username != base else clone
        if len(partner.encode()) > self.max_bytes:
            raise SecretFormatError(f"alternate user name for {base} would exceed {self.max_bytes} bytes")
        return partner

    def same_pair(self, username: str, other: str) -> bool:
        """Whether both users belong to one pair."""
        return self.base(username) == self.base(other)

"""Random symmetric secrets: session keys, encryption keys.

Two shapes are rotated:

* a plain string key (hex, base64, base64url or alphanumeric, detected), which
  rotates to a new key of the same encoding and length, never below 256 bits;
* a JSON keyring ``{"current": "<key>", "previous": ["<older>", ...], ...}``,
  which rotates ``current`` and keeps the ``ROTATION_RETAINED_KEYS`` newest old
  keys (default 1) in ``previous`` so consumers can still verify sessions and
  decrypt data made with them. Every other field is preserved.

There is no target system: setSecret does nothing, testSecret checks the value.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rotator.codecs import JsonDocument, KeyEncoding, ParsedSecret, detect_key_encoding, looks_like_json
from rotator.codecs.key_encoding import KeyShape
from rotator.errors import SecretFormatError, VerificationError
from rotator.strategy import ApplyRequest, GenerateRequest, Strategy, VerifyRequest

__all__ = [
    "KIND",
    "MIN_ENTROPY_BITS",
    "STRATEGY",
    "SessionSecret",
    "SessionSecretStrategy",
]

KIND = "session_secret"
MIN_ENTROPY_BITS = 256
_CURRENT = "current"
_PREVIOUS = "previous"
# A uniformly random key's observed symbol entropy sits close to its maximum;
# a key far below it ("aaaa…", "abab…") is not random whatever its length.
_MIN_OBSERVED_ENTROPY_RATIO = 0.7


@dataclass(frozen=True)
class SessionSecret(ParsedSecret):
    """A key, optionally inside a JSON keyring. Values never appear in the repr."""

    key: str
    retained: tuple[str, ...]
    document: JsonDocument | None

    @classmethod
    def parse(cls, text: str, *, what: str = "secret") -> SessionSecret:
        """Parse a plain key or a JSON keyring; typed error naming the bad field. The key's format is checked."""
        if looks_like_json(text):
            document = JsonDocument.parse(text)
            key = document.require_str(_CURRENT)
            previous = document.fields.get(_PREVIOUS, [])
            if not isinstance(previous, list) or not all(isinstance(item, str) for item in previous):
                raise SecretFormatError(f"{what}: JSON keyring field {_PREVIOUS!r} must be a list of strings")
            secret = cls(key, tuple(previous), document)
        else:
            secret = cls(text, (), None)
        try:
            secret.shape  # noqa: B018 - the key must be in a known encoding
        except SecretFormatError as exc:
            raise SecretFormatError(f"{what}: {exc}") from None
        return secret

    def secret_parts(self) -> Iterable[str]:
        return self.all_keys()

    def __repr__(self) -> str:
        return f"SessionSecret(keyring={self.document is not None}, retained={len(self.retained)})"

    @property
    def shape(self) -> KeyShape:
        """The encoding and length of the key."""
        return detect_key_encoding(self.key)

    def all_keys(self) -> tuple[str, ...]:
        """The key and every retained key."""
        return (self.key, *self.retained)

    def rotated(self, new_key: str, retained_keys: int) -> str:
        """The rotated value's text: a new key, old keys shifted into ``previous``."""
        if self.document is None:
            return new_key
        retained = list(self.all_keys())[:retained_keys]
        return self.document.replace(**{_CURRENT: new_key, _PREVIOUS: retained}).render()


class SessionSecretStrategy(Strategy[SessionSecret]):
    """Generates and checks random keys; there is nothing to apply."""

    KIND = KIND
    SECRET = SessionSecret

    def generate(self, request: GenerateRequest[SessionSecret]) -> str:
        current = request.current
        shape = current.shape.at_least(MIN_ENTROPY_BITS)
        while True:
            key = shape.generate()
            if key not in current.all_keys():
                return current.rotated(key, self.settings.retained_keys)

    def rollback_note(self, current: SessionSecret, previous: SessionSecret) -> str | None:
        return "sessions and data made with the newer key will no longer verify or decrypt"

    def apply(self, request: ApplyRequest[SessionSecret]) -> None:
        return None

    def verify(self, request: VerifyRequest[SessionSecret]) -> None:
        pending, current = request.pending, request.current
        if request.is_configuration_test:
            return  # the current key parsed in a known encoding: createSecret can rotate it (to ≥ 256 bits)
        expected = current.shape.at_least(MIN_ENTROPY_BITS)
        if (pending.document is None) != (current.document is None):
            raise VerificationError("pending secret changed between plain key and JSON keyring")
        if not expected.matches(pending.key):
            raise VerificationError(
                f"pending key is not {expected.encoding} of length {expected.length} like the current key"
            )
        if expected.entropy_bits < MIN_ENTROPY_BITS:
            raise VerificationError(f"pending key carries fewer than {MIN_ENTROPY_BITS} bits of entropy")
        if _observed_entropy_ratio(pending.key, expected) < _MIN_OBSERVED_ENTROPY_RATIO:
            raise VerificationError("pending key does not look random (too few distinct symbols)")
        if pending.key in current.all_keys() or pending.key in pending.retained:
            raise VerificationError("pending key repeats the current or a retained key")
        if pending.document is not None:
            wanted = list(current.all_keys())[: self.settings.retained_keys]
            if list(pending.retained) != wanted:
                raise VerificationError(f"pending keyring does not retain the {len(wanted)} newest old key(s)")


def _observed_entropy_ratio(key: str, shape: KeyShape) -> float:
    """Observed Shannon entropy per symbol over the most this key's length and alphabet allow."""
    symbols = key.rstrip("=")
    counts = Counter(symbols)
    total = len(symbols)
    observed = -sum(n / total * math.log2(n / total) for n in counts.values())
    alphabet = {KeyEncoding.HEX: 16, KeyEncoding.ALPHANUMERIC: 62}.get(shape.encoding, 64)
    ceiling = math.log2(min(alphabet, total))
    return observed / ceiling if ceiling else 0.0


STRATEGY = SessionSecretStrategy

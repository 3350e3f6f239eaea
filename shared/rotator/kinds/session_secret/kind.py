"""The session_secret kind: its one path."""

from __future__ import annotations

import math
from collections import Counter

from rotator.codecs import KeyEncoding
from rotator.codecs.key_encoding import KeyShape
from rotator.core.strategy import ApplyRequest, GenerateRequest, Kind, StepRequest, Strategy, VerifyRequest
from rotator.errors import VerificationError
from rotator.kinds.session_secret.secret import SessionSecret
from rotator.kinds.session_secret.settings import SessionSecretSettings
from rotator.settings import Settings

__all__ = ["KIND", "KIND_CLASS", "MIN_ENTROPY_BITS", "SessionSecretKind", "SessionSecretStrategy"]

KIND = "session_secret"
MIN_ENTROPY_BITS = 256
# A uniformly random key's observed symbol entropy sits close to its maximum;
# a key far below it ("aaaa…", "abab…") is not random whatever its length.
_MIN_OBSERVED_ENTROPY_RATIO = 0.7


class SessionSecretStrategy(Strategy[SessionSecret]):
    """Generates and checks random keys; there is nothing to apply."""

    def __init__(self, settings: SessionSecretSettings) -> None:
        self.settings = settings

    def generate(self, request: GenerateRequest[SessionSecret]) -> str:
        current = request.current
        shape = current.shape.at_least(MIN_ENTROPY_BITS)
        while True:
            key = shape.generate()
            if key not in current.all_keys():
                return current.rotated(key, self.settings.retained_keys)

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


class SessionSecretKind(Kind[SessionSecret]):
    """Session keys and keyrings: one path."""

    KIND = KIND
    SECRET = SessionSecret

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.strategy = SessionSecretStrategy(SessionSecretSettings.from_env(settings.environ))

    def path_for(self, request: StepRequest[SessionSecret]) -> Strategy[SessionSecret]:
        return self.strategy

    def rollback_note(self, current: SessionSecret, previous: SessionSecret) -> str | None:
        return "sessions and data made with the newer key will no longer verify or decrypt"


KIND_CLASS = SessionSecretKind

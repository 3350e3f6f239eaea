"""The signing_key kind: its one path."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from rotator.codecs.instants import format_instant
from rotator.core.strategy import ApplyRequest, GenerateRequest, Kind, StepRequest, Strategy, VerifyRequest
from rotator.errors import SecretFormatError, VerificationError
from rotator.kinds.signing_key.keyring_store import KeyringStore
from rotator.kinds.signing_key.secret import SigningKeySecret, next_key_id
from rotator.kinds.signing_key.settings import SigningKeySettings
from rotator.settings import Settings

__all__ = ["KIND", "KIND_CLASS", "SigningKeyKind", "SigningKeyStrategy"]

KIND = "signing_key"


class SigningKeyStrategy(Strategy[SigningKeySecret]):
    """New key pairs, published before use, verified through the published keyring."""

    def __init__(self, settings: Settings) -> None:
        self.signing = SigningKeySettings.from_env(settings.environ)
        self.store = KeyringStore(
            self.signing.bucket,
            self.signing.key,
            connect_timeout=settings.sm_connect_timeout,
            read_timeout=settings.sm_read_timeout,
            max_attempts=settings.sm_max_attempts,
        )

    def generate(self, request: GenerateRequest[SigningKeySecret]) -> str:
        from rotator.codecs.keys import generate_key, private_pem, public_pem

        current = request.current
        algorithm = self.signing.algorithm or current.algorithm
        key = generate_key(algorithm, rsa_bits=self.signing.rsa_bits)
        keyring, _ = self.store.read()
        taken = set(keyring.keys) if keyring else set()
        now = datetime.now(UTC)
        fields = {
            "private_key": private_pem(key, current.pem_format),
            "public_key": public_pem(key),
            "key_id": next_key_id(current.key_id, now, taken | {current.key_id}),
            "algorithm": algorithm.value,
            "valid_from": format_instant(now, current.style),
            "valid_until": format_instant(now + self.signing.validity + self.signing.grace, current.style),
        }
        return current.document.replace(**fields).render()

    def apply(self, request: ApplyRequest[SigningKeySecret]) -> None:
        pending, current = request.pending, request.current
        if pending.key_id == current.key_id:
            raise SecretFormatError("pending key_id equals the current one")
        # Nothing reaches the public keyring that createSecret could not have made.
        self._check_policy(pending)
        # The current key goes in first: on a first rotation it was never published.
        self.store.publish(current.published(), pending.published())

    def verify(self, request: VerifyRequest[SigningKeySecret]) -> None:
        from rotator.kinds.signing_key.signatures import sign, verify

        pending, current = request.pending, request.current
        if request.is_configuration_test:
            # The current key parsed (PEM, public_key, algorithm, validity window) and signs what its public
            # half verifies. The keyring is not read or written: it may not exist before the first rotation.
            probe = secrets.token_bytes(32)
            try:
                verify(current.private_key.public_key(), current.algorithm, probe,
                       sign(current.private_key, current.algorithm, probe))  # fmt: skip
            except Exception as exc:
                raise VerificationError("the current key does not verify its own signature") from exc
            return
        self._check_policy(pending)
        keyring, _ = self.store.read()
        if keyring is None:
            reason = "GetObject is denied (403)" if self.store.read_denied else "it does not exist"
            raise VerificationError(
                f"keyring {self.store.where} cannot be read: {reason}; the new key was not published"
            )
        for needed in (current, pending):
            if needed.key_id not in keyring:
                raise VerificationError(f"keyring {self.store.where} lacks kid {needed.key_id!r}")
        published = keyring.keys[pending.key_id]
        if not published.same_material(pending.published()):
            raise VerificationError(f"keyring entry {pending.key_id!r} is not the pending key's public half")
        probe = secrets.token_bytes(32)
        signature = sign(pending.private_key, pending.algorithm, probe)
        try:
            keyring.verify(pending.key_id, probe, signature, signed_at=max(pending.valid_from, datetime.now(UTC)))
        except VerificationError as exc:
            raise VerificationError(f"probe signed by the pending key does not verify from the keyring: {exc}") from exc

    def _check_policy(self, pending: SigningKeySecret) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        from rotator.codecs.keys import load_public_key, same_public_key

        key = pending.private_key
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size < self.signing.rsa_bits:
            raise VerificationError(f"pending RSA key has {key.key_size} bits; policy requires {self.signing.rsa_bits}")
        public_text = pending.document.get_str("public_key", required=False)
        if public_text is None or not same_public_key(key, load_public_key(public_text)):
            raise VerificationError("pending public_key does not match its private key")


class SigningKeyKind(Kind[SigningKeySecret]):
    """Signing keys: one path."""

    KIND = KIND
    SECRET = SigningKeySecret

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.strategy = SigningKeyStrategy(settings)

    def path_for(self, request: StepRequest[SigningKeySecret]) -> Strategy[SigningKeySecret]:
        return self.strategy


KIND_CLASS = SigningKeyKind

"""The passwords a path makes, and the only pending passwords it applies.

Without a key, createSecret draws a random password within the policy, and setSecret applies a pending password
only if it is shaped like one (length, alphabet, classes): that stops a badly shaped staged value, not a
well-shaped one written by somebody who may also invoke the function.

With a KMS HMAC key (``ROTATION_PASSWORD_MAC_KEY_ARN``), createSecret derives the password from
``GenerateMac(key, <secret ARN> <version id> <purpose>)`` (``rotator.aws.kms``), and setSecret and revokePrevious
recompute it before anything reaches the target: a value nobody but this function could have made is the only one
applied, however well shaped another is. One KMS call in createSecret, one in setSecret.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace

from rotator.aws.kms import MacKey
from rotator.core.strategy import SecretRef
from rotator.errors import PolicyError
from rotator.generation import check_made, derive_password, generate_password
from rotator.settings import PasswordPolicy

__all__ = ["PASSWORD", "Passwords", "passwords_for"]

# What a derived password is for; a kind that derives two secrets for one version names each.
PASSWORD = "password"


@dataclass(frozen=True)
class Passwords:
    """The policy passwords follow and, when configured, the key they are derived with."""

    policy: PasswordPolicy
    key: MacKey | None = None

    def within(self, policy: PasswordPolicy) -> Passwords:
        """The same key under a narrower policy (what a managed service accepts)."""
        return replace(self, policy=policy)

    def new(self, secret: SecretRef, purpose: str = PASSWORD) -> str:
        """The password for version ``secret.token`` of the secret: derived with the key, else random."""
        if self.key is None:
            return generate_password(self.policy)
        return self._derived(secret, purpose)

    def check(
        self, password: str, secret: SecretRef, *, what: str, shape: bool = True, purpose: str = PASSWORD
    ) -> None:
        """Refuse (``PolicyError``) a password this function did not make for version ``secret.token``.

        Without a key only its shape can be checked (``shape=False``: not even that).
        """
        if self.key is None:
            if shape:
                check_made(password, self.policy)
            return
        if not hmac.compare_digest(password.encode(), self._derived(secret, purpose).encode()):
            raise PolicyError(
                f"the {what} password of version {secret.token} was not made with the password key: createSecret "
                "did not make it, and nothing was changed"
            )

    def _derived(self, secret: SecretRef, purpose: str) -> str:
        assert self.key is not None
        message = "\n".join((secret.arn, secret.token, purpose)).encode()
        return derive_password(self.key.mac(message), self.policy)


def passwords_for(policy: PasswordPolicy, key_arn: str | None) -> Passwords:
    """Passwords under ``policy``, derived with the KMS key ``key_arn`` when one is configured."""
    return Passwords(policy, None if key_arn is None else MacKey(key_arn))

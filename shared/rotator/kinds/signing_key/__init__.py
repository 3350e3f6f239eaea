"""Asymmetric signing keys with a published public keyring.

The secret (JSON; every other field kept)::

    {"private_key": "-----BEGIN RSA PRIVATE KEY-----\\n...", "key_id": "amply-checkpoint-key-2025",
     "valid_from": "2025-01-01", "valid_until": "2026-01-01"}

gains ``public_key`` (PEM) and ``algorithm`` (RS256, PS256, ES256 or EdDSA)
when it lacks them. createSecret makes a new key pair of the same algorithm
(unless ``ROTATION_SIGNING_ALGORITHM`` says otherwise) and PEM wrapping, the
next ``key_id`` and a fresh validity window written like the current one.
setSecret publishes the current and the new public key to the JWKS keyring in
S3 **before** the new key can sign anything; testSecret signs a probe with the
pending private key and verifies it with the key as read back from the
keyring. Old public keys stay in the keyring forever, so signatures from every
generation remain verifiable (``keyring``, which applications use to verify).
"""

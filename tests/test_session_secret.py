"""session_secret: same encoding and length, 256-bit floor, JSON keyring retention, strict testSecret."""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Callable
from typing import Any

import pytest

from rotator.codecs import detect_key_encoding
from rotator.constants import Stage, Step
from rotator.errors import RotationError, SecretFormatError, VerificationError
from sandbox.rotate_secret import RotateSecretEmulator
from tests.helpers import emulator_for, engine_for, snapshot, stage_value
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


KEYS = {
    "hex": lambda: secrets.token_hex(32),
    "HEX": lambda: secrets.token_hex(32).upper(),
    "base64": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
    "base64-unpadded": lambda: base64.b64encode(secrets.token_bytes(32)).decode().rstrip("="),
    "base64url": lambda: "-_" + secrets.token_urlsafe(32)[2:],
    "alphanumeric": lambda: _alnum(64),
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_plain_key_keeps_encoding_and_length(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    name: str,
) -> None:
    old = KEYS[name]()
    arn = make_secret(unique_name("session-secret"), old)
    assert emulator.rotate(arn).ok
    new = stage_value(sm_client, arn, Stage.CURRENT)
    shape = detect_key_encoding(old).at_least(256)
    assert shape.matches(new)
    assert len(new) == len(old)
    assert new != old


def test_short_key_grows_to_256_bits(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), secrets.token_hex(16))
    assert emulator.rotate(arn).ok
    new = stage_value(sm_client, arn, Stage.CURRENT)
    assert len(new) == 64
    assert detect_key_encoding(new).entropy_bits >= 256


def _keyring(current: str, previous: list[str], **extra: Any) -> str:
    return json.dumps({"current": current, "previous": previous, **extra})


@pytest.mark.parametrize("retained", [0, 1, 3])
def test_json_keyring_retains_the_newest_old_keys(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], retained: int
) -> None:
    emulator = emulator_for(engine_for("session_secret", ROTATION_RETAINED_KEYS=str(retained)))
    arn = make_secret(
        unique_name("api-encryption-key"),
        _keyring(secrets.token_hex(32), [], algorithm="AES-256-GCM", note="kept"),
    )
    history = [json.loads(stage_value(sm_client, arn, Stage.CURRENT))["current"]]
    for _ in range(4):
        assert emulator.rotate(arn).ok
        doc = json.loads(stage_value(sm_client, arn, Stage.CURRENT))
        assert list(doc) == ["current", "previous", "algorithm", "note"]
        assert doc["algorithm"] == "AES-256-GCM"
        assert doc["note"] == "kept"
        assert doc["current"] not in history
        assert doc["previous"] == list(reversed(history))[:retained]
        history.append(doc["current"])


def test_keyring_layout_is_preserved(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    text = json.dumps({"current": secrets.token_hex(32), "previous": [], "v": 1}, indent=2)
    arn = make_secret(unique_name("api-encryption-key"), text)
    assert emulator.rotate(arn).ok
    new = stage_value(sm_client, arn, Stage.CURRENT)
    assert new.startswith('{\n  "current": "')
    assert new.endswith('\n  ],\n  "v": 1\n}')


def _pending_check(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    arn: str,
    pending: str,
    error: type[RotationError] = VerificationError,
) -> pytest.ExceptionInfo[RotationError]:
    register_secret(pending)
    token = emulator.begin(arn)
    sm_client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=pending, VersionStages=["AWSPENDING"]
    )
    before = snapshot(sm_client, arn)
    with pytest.raises(error) as excinfo:
        emulator.invoke(arn, token, Step.TEST)
    assert snapshot(sm_client, arn) == before
    assert pending not in str(excinfo.value)
    return excinfo


def test_verify_rejects_a_key_equal_to_current(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    # A value identical to AWSCURRENT is Secrets Manager's configuration test (tests/test_configuration_test.py);
    # a new value that keeps the current key is refused.
    key = secrets.token_hex(32)
    arn = make_secret(unique_name("session-secret"), _keyring(key, []))
    excinfo = _pending_check(sm_client, emulator, arn, _keyring(key, [key]))
    assert "repeats the current" in str(excinfo.value)


@pytest.mark.parametrize(
    ("pending", "problem"),
    [
        (lambda: secrets.token_hex(31), "is not hex of length 64"),
        (lambda: base64.b64encode(secrets.token_bytes(32)).decode(), "is not hex"),
        (lambda: "ab" * 32, "does not look random"),
        (lambda: _keyring(secrets.token_hex(32), []), "changed between plain key and JSON keyring"),
    ],
)
def test_verify_rejects_wrong_pending_values(
    sm_client: Any,
    emulator: RotateSecretEmulator,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    pending: Callable[[], str],
    problem: str,
) -> None:
    arn = make_secret(unique_name("session-secret"), secrets.token_hex(32))
    excinfo = _pending_check(sm_client, emulator, arn, pending())
    assert problem in str(excinfo.value)


def test_a_malformed_pending_value_is_a_format_error_like_in_every_kind(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("session-secret"), secrets.token_hex(32))
    excinfo = _pending_check(sm_client, emulator, arn, "not json at all {", SecretFormatError)
    assert "pending secret: key is not hex" in str(excinfo.value)


def test_verify_rejects_a_keyring_that_drops_the_current_key(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    arn = make_secret(unique_name("api-encryption-key"), _keyring(secrets.token_hex(32), []))
    excinfo = _pending_check(sm_client, emulator, arn, _keyring(secrets.token_hex(32), []))
    assert "does not retain" in str(excinfo.value)


def test_verify_rejects_a_keyring_reusing_a_retained_key(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    old = secrets.token_hex(32)
    arn = make_secret(unique_name("api-encryption-key"), _keyring(secrets.token_hex(32), [old]))
    excinfo = _pending_check(sm_client, emulator, arn, _keyring(old, []))
    assert "repeats the current or a retained key" in str(excinfo.value)


def test_a_rotation_keeps_every_number_and_byte_it_does_not_rotate(
    sm_client: Any, emulator: RotateSecretEmulator, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    old = secrets.token_hex(32)
    text = '{\n  "current": "' + old + '",\n  "previous": [],\n  "rounds": 1e3,\n  "ratio": 1.50,\n'
    text += '  "id": 123456789012345678901234,\n  "max": 1e400\n}\n'
    arn = make_secret(unique_name("api-encryption-key"), text)
    assert emulator.rotate(arn).ok
    rotated = stage_value(sm_client, arn, Stage.CURRENT)
    new = json.loads(rotated, parse_float=str, parse_constant=str)["current"]
    assert rotated == text.replace(old, new).replace('"previous": []', f'"previous": [\n    "{old}"\n  ]')


def test_a_new_value_over_secrets_managers_limit_is_refused_at_once(
    sm_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str]
) -> None:
    """A keyring whose rotated value (a new key beside the kept one) would exceed 65536 bytes: a typed error before
    PutSecretValue, nothing stored."""
    key = secrets.token_hex(17_000)  # 34000 hex characters: the keyring fits, the rotated one (two keys) does not
    register_secret(key)
    current = json.dumps({"current": key, "previous": []})
    arn = make_secret(unique_name("session-keyring"), current)
    emulator = emulator_for(engine_for("session_secret"))
    token = emulator.begin(arn)
    before = snapshot(sm_client, arn)
    with pytest.raises(SecretFormatError, match=r"is \d+ bytes: over Secrets Manager's limit of 65536"):
        emulator.invoke(arn, token, Step.CREATE)
    assert snapshot(sm_client, arn) == before

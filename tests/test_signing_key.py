"""signing_key: new key pairs, a published JWKS keyring, every generation still verifiable."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rotator.codecs.keys import Algorithm, load_private_key
from rotator.constants import Stage, Step
from rotator.errors import SecretFormatError, TargetRejectedError, VerificationError
from rotator.kinds.signing_key.keyring import BadSignatureError, Keyring, OutsideValidityError, UnknownKeyError
from rotator.kinds.signing_key.keyring_store import KeyringStore
from rotator.kinds.signing_key.secret import SigningKeySecret
from rotator.kinds.signing_key.signatures import sign
from sandbox.moto_server import MotoServer
from sandbox.rotate_secret import RotateSecretEmulator
from sandbox.seed import seed_signing_key
from tests.helpers import KEYRING_BUCKET, emulator_for, engine_for, expect_failure, snapshot, stage_value
from tests.leak_canary import register_secret

MakeSecret = Callable[..., str]


@pytest.fixture
def keyring_key() -> str:
    return f"test-{uuid.uuid4().hex[:8]}/jwks.json"


def read_keyring(s3_client: Any, key: str) -> Keyring:
    return Keyring.from_s3(KEYRING_BUCKET, key, client=s3_client)


def seeded(make_secret: MakeSecret, unique_name: Callable[[str], str], text: str) -> str:
    register_secret(json.loads(text)["private_key"])
    return make_secret(unique_name("checkpoint-signing-key"), text, "signing_key")


@pytest.mark.parametrize(
    ("algorithm", "pkcs8", "marker"),
    [
        ("RS256", False, "BEGIN RSA PRIVATE KEY"),
        ("RS256", True, "BEGIN PRIVATE KEY"),
        ("ES256", False, "BEGIN EC PRIVATE KEY"),
        ("ES256", True, "BEGIN PRIVATE KEY"),
        ("EdDSA", True, "BEGIN PRIVATE KEY"),
    ],
)
def test_each_algorithm_rotates_to_the_same_kind_of_key(
    sm_client: Any,
    s3_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    keyring_key: str,
    algorithm: str,
    pkcs8: bool,
    marker: str,
) -> None:
    arn = seeded(make_secret, unique_name, seed_signing_key(algorithm, pkcs8=pkcs8, rsa_bits=2048, owner="ledger"))
    assert emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)).rotate(arn).ok
    new = json.loads(stage_value(sm_client, arn, Stage.CURRENT))
    assert marker in new["private_key"]
    assert new["algorithm"] == algorithm
    assert new["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert new["key_id"] == "amply-checkpoint-key-2026"
    assert new["owner"] == "ledger"
    assert len(new["valid_from"]) == 10
    assert len(new["valid_until"]) == 10
    keyring = read_keyring(s3_client, keyring_key)
    assert list(keyring.keys) == ["amply-checkpoint-key-2025", "amply-checkpoint-key-2026"]
    for key in keyring:
        assert key.jwk["use"] == "sig"
        assert {"kid", "kty", "alg", "valid_from", "valid_until"} <= set(key.jwk)


def test_default_rsa_size_is_3072_and_timestamps_stay_timestamps(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    text = seed_signing_key(
        "RS256",
        rsa_bits=2048,
        key_id="checkpoint",
        valid_from="2025-01-01T00:00:00Z",
        valid_until="2026-01-01T00:00:00Z",
    )
    arn = seeded(make_secret, unique_name, text)
    assert (
        emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key, ROTATION_SIGNING_RSA_BITS="3072"))
        .rotate(arn)
        .ok
    )
    new = SigningKeySecret.parse(stage_value(sm_client, arn, Stage.CURRENT))
    assert isinstance(new.private_key, rsa.RSAPrivateKey)
    assert new.private_key.key_size == 3072
    raw = json.loads(stage_value(sm_client, arn, Stage.CURRENT))
    assert raw["valid_from"].endswith("Z")
    assert "T" in raw["valid_from"]
    assert raw["key_id"].startswith("checkpoint-")
    assert len(raw["key_id"]) == len("checkpoint-20260101-abcdef")
    assert new.valid_until - new.valid_from == timedelta(days=395)


def test_signatures_from_every_generation_stay_verifiable(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    arn = seeded(make_secret, unique_name, seed_signing_key("ES256", valid_from="2025-01-01", valid_until="2030-01-01"))
    emulator = emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key))
    signed: list[tuple[str, bytes, bytes, datetime]] = []
    for generation in range(6):
        secret = SigningKeySecret.parse(stage_value(sm_client, arn, Stage.CURRENT))
        checkpoint = f"ledger checkpoint {generation}".encode()
        when = max(secret.valid_from, datetime(2025, 6, 1, tzinfo=UTC))
        signed.append((secret.key_id, checkpoint, sign(secret.private_key, secret.algorithm, checkpoint), when))
        if generation < 5:
            assert emulator.rotate(arn).ok
    keyring = read_keyring(s3_client, keyring_key)
    assert len(keyring.keys) == 6
    for kid, checkpoint, signature, when in signed:
        assert keyring.verify(kid, checkpoint, signature, signed_at=when).kid == kid
    kid, checkpoint, signature, _ = signed[0]
    with pytest.raises(BadSignatureError):
        keyring.verify(kid, checkpoint + b"!", signature, signed_at=datetime(2025, 6, 1, tzinfo=UTC))
    with pytest.raises(OutsideValidityError):
        keyring.verify(kid, checkpoint, signature, signed_at=datetime(2024, 12, 31, tzinfo=UTC))
    with pytest.raises(UnknownKeyError):
        keyring.verify("nobody", checkpoint, signature, signed_at=datetime(2025, 6, 1, tzinfo=UTC))


def test_each_step_twice_is_a_no_op(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    arn = seeded(make_secret, unique_name, seed_signing_key("EdDSA"))
    emulator = emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key))
    token = emulator.begin(arn)
    for step in Step:
        emulator.invoke(arn, token, step)
        state = snapshot(sm_client, arn)
        etag = (
            s3_client.head_object(Bucket=KEYRING_BUCKET, Key=keyring_key)["ETag"] if step is not Step.CREATE else None
        )
        emulator.invoke(arn, token, step)
        assert snapshot(sm_client, arn) == state
        if etag is not None:
            assert s3_client.head_object(Bucket=KEYRING_BUCKET, Key=keyring_key)["ETag"] == etag


def _expect_failure(
    sm_client: Any, emulator: RotateSecretEmulator, arn: str, step: Step, error: type[Exception]
) -> Exception:
    failure: Exception = expect_failure(sm_client, emulator, arn, step, error)
    for version in sm_client.list_secret_version_ids(SecretId=arn)["Versions"]:
        try:
            value = sm_client.get_secret_value(SecretId=arn, VersionId=version["VersionId"])["SecretString"]
        except sm_client.exceptions.ResourceNotFoundException:
            continue
        assert json.loads(value)["private_key"] not in str(failure)
    return failure


def test_keyring_that_is_not_json_stops_the_rotation(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    s3_client.put_object(Bucket=KEYRING_BUCKET, Key=keyring_key, Body=b"<html>not a keyring</html>")
    arn = seeded(make_secret, unique_name, seed_signing_key("ES256"))
    error = _expect_failure(
        sm_client,
        emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)),
        arn,
        Step.CREATE,
        SecretFormatError,
    )
    assert "keyring object is not JSON" in str(error)


def test_keyring_with_the_same_kid_but_other_material_stops_the_rotation(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    impostor = SigningKeySecret.parse(seed_signing_key("ES256", key_id="amply-checkpoint-key-2025"))
    s3_client.put_object(
        Bucket=KEYRING_BUCKET, Key=keyring_key, Body=Keyring({}).with_key(impostor.published()).to_json()
    )
    arn = seeded(make_secret, unique_name, seed_signing_key("ES256"))
    error = _expect_failure(
        sm_client,
        emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)),
        arn,
        Step.SET,
        TargetRejectedError,
    )
    assert "already holds kid 'amply-checkpoint-key-2025' with different key material" in str(error)


def test_keyring_missing_at_test_time_stops_the_rotation(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    arn = seeded(make_secret, unique_name, seed_signing_key("EdDSA"))
    emulator = emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key))
    token = emulator.begin(arn)
    emulator.invoke(arn, token, Step.CREATE)
    emulator.invoke(arn, token, Step.SET)
    s3_client.delete_object(Bucket=KEYRING_BUCKET, Key=keyring_key)
    before = snapshot(sm_client, arn)
    with pytest.raises(VerificationError, match="cannot be read: it does not exist; the new key was not published"):
        emulator.invoke(arn, token, Step.TEST)
    assert snapshot(sm_client, arn) == before


def test_the_first_rotation_creates_the_keyring_when_s3_answers_403_for_a_missing_object(
    moto_server: MotoServer,
    sm_client: Any,
    s3_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    keyring_key: str,
) -> None:
    """Real S3, to a caller without s3:ListBucket, answers a missing object with 403 AccessDenied."""
    arn = seeded(make_secret, unique_name, seed_signing_key("EdDSA", key_id=f"k403-{secrets.token_hex(3)}-2025"))
    emulator = emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key))
    moto_server.log.missing_objects_denied = True
    try:
        with pytest.raises(s3_client.exceptions.ClientError, match="AccessDenied"):
            s3_client.get_object(Bucket=KEYRING_BUCKET, Key=keyring_key)  # the sandbox models S3 here
        result = emulator.rotate(arn)
    finally:
        moto_server.log.missing_objects_denied = False
    assert result.ok, result.error
    assert len(read_keyring(s3_client, keyring_key).keys) == 2


def test_a_keyring_that_exists_but_cannot_be_read_is_never_overwritten(
    moto_server: MotoServer,
    sm_client: Any,
    s3_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    keyring_key: str,
) -> None:
    """GetObject denied on an existing keyring: the conditional create fails, and the error names the read."""
    from rotator.kinds.signing_key.keyring_store import KeyringStore

    s3_client.put_object(Bucket=KEYRING_BUCKET, Key=keyring_key, Body=b'{"keys": []}')
    store = KeyringStore(KEYRING_BUCKET, keyring_key, client=_DeniedReads(s3_client))
    published = json.loads(seed_signing_key("EdDSA"))
    from rotator.kinds.signing_key.secret import SigningKeySecret

    key = SigningKeySecret.parse(json.dumps(published)).published()
    with pytest.raises(TargetRejectedError, match=r"exists but GetObject is denied \(403\)"):
        store.publish(key)
    assert s3_client.get_object(Bucket=KEYRING_BUCKET, Key=keyring_key)["Body"].read() == b'{"keys": []}'


class _DeniedReads:
    """An S3 client whose GetObject is denied (no s3:GetObject), everything else as the real one."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **_: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")


def _encrypted_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secrets.token_bytes(16)),
    ).decode()


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda doc: doc.update(private_key="-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"),
         "not a valid PEM private key"),
        (lambda doc: doc.update(private_key=_encrypted_pem()), "is encrypted"),
        (lambda doc: doc.update(public_key=seed_signing_key_public()), "does not match its private key"),
        (lambda doc: doc.update(valid_from="next tuesday"), "'valid_from' is not an ISO-8601"),
        (lambda doc: doc.update(algorithm="HS256"), "'algorithm' is not one of"),
        (lambda doc: doc.update(algorithm="EdDSA"), "does not fit its EC-P-256 key"),
        (lambda doc: doc.pop("key_id"), "lacks the field 'key_id'"),
    ],
)  # fmt: skip
def test_bad_current_secrets_change_nothing(
    sm_client: Any,
    s3_client: Any,
    make_secret: MakeSecret,
    unique_name: Callable[[str], str],
    keyring_key: str,
    mutate: Callable[[dict[str, Any]], None],
    problem: str,
) -> None:
    doc = json.loads(seed_signing_key("ES256"))
    mutate(doc)
    arn = seeded(make_secret, unique_name, json.dumps(doc))
    error = _expect_failure(
        sm_client,
        emulator_for(engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)),
        arn,
        Step.CREATE,
        SecretFormatError,
    )
    assert problem in str(error)
    with pytest.raises(s3_client.exceptions.ClientError):
        s3_client.head_object(Bucket=KEYRING_BUCKET, Key=keyring_key)


def seed_signing_key_public() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_two_writers_never_lose_a_key(s3_client: Any, keyring_key: str) -> None:
    first = SigningKeySecret.parse(seed_signing_key("EdDSA", key_id="writer-a-1")).published()
    second = SigningKeySecret.parse(seed_signing_key("EdDSA", key_id="writer-b-1")).published()
    rival = KeyringStore(KEYRING_BUCKET, keyring_key, client=s3_client)
    raced = threading.Event()

    class Racing(KeyringStore):
        def read(self) -> Any:
            result = super().read()
            if not raced.is_set():  # another writer publishes between our read and our write
                raced.set()
                rival.publish(second)
            return result

    assert Racing(KEYRING_BUCKET, keyring_key, client=s3_client).publish(first)
    assert set(read_keyring(s3_client, keyring_key).keys) == {"writer-a-1", "writer-b-1"}


def test_load_private_key_reports_its_format() -> None:
    pem = json.loads(seed_signing_key("RS256", rsa_bits=2048))["private_key"]
    key, fmt = load_private_key(pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert fmt.value == "traditional"
    assert Algorithm("EdDSA") is Algorithm.EDDSA


def test_an_sdk_without_s3_conditional_writes_is_refused_before_writing(keyring_key: str) -> None:
    """A runtime botocore from before S3's If-Match would send a blind write: refused, with what to do."""
    from types import SimpleNamespace

    from rotator.errors import ConfigurationError
    from rotator.kinds.signing_key.keyring_store import KeyringStore

    writes: list[Any] = []
    shape = SimpleNamespace(members={"Bucket": None, "Key": None, "Body": None})
    old = SimpleNamespace(
        meta=SimpleNamespace(
            service_model=SimpleNamespace(operation_model=lambda name: SimpleNamespace(input_shape=shape))
        ),
        put_object=lambda **kwargs: writes.append(kwargs),
    )
    store = KeyringStore(KEYRING_BUCKET, keyring_key, client=old)  # type: ignore[arg-type]
    key = SigningKeySecret.parse(seed_signing_key("EdDSA")).published()
    with pytest.raises(ConfigurationError, match=r"lacks S3 conditional writes \(IfMatch, IfNoneMatch\)"):
        store.publish(key)
    assert writes == []


def test_two_create_secrets_of_one_rotation_store_and_publish_one_key(
    sm_client: Any, s3_client: Any, make_secret: MakeSecret, unique_name: Callable[[str], str], keyring_key: str
) -> None:
    """Found by the operator sequences (two rotations racing): an invocation of createSecret that found no pending
    value, then lost the race to store one, while the winner's setSecret already published its key. The loser
    keeps the winner's value; the key stored is the key published, and AWSCURRENT verifies through the keyring."""
    from sandbox.rotate_secret import LambdaContext, lambda_arn
    from tests.helpers import wrap_path

    handler = engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)
    rival = engine_for("signing_key", ROTATION_KEYRING_KEY=keyring_key)
    emulator = emulator_for(handler)
    arn = seeded(make_secret, unique_name, seed_signing_key("EdDSA", key_id="ledger-key-1"))
    emulator.enable_rotation(arn, "signing_key")
    token = emulator.begin(arn)
    context = LambdaContext(lambda_arn("signing_key"))

    def event(step: Step) -> dict[str, str]:
        return {"Step": step.value, "SecretId": arn, "ClientRequestToken": token}

    def overtaken(generate: Callable[[Any], str], request: Any) -> str:
        text = generate(request)  # a key of its own, generated after finding no pending value
        assert rival(event(Step.CREATE), context) == {"outcome": "pending value stored"}
        assert rival(event(Step.SET), context) == {"outcome": "applied"}  # the rival's key is now published
        register_secret(json.loads(text)["private_key"])
        return text

    wrap_path(handler, "generate", overtaken)
    assert handler(event(Step.CREATE), context) == {"outcome": "pending value already stored"}
    stored = sm_client.get_secret_value(SecretId=arn, VersionId=token)["SecretString"]
    for step in (Step.SET, Step.TEST, Step.FINISH):
        emulator.invoke(arn, token, step)
    current_text = stage_value(sm_client, arn, Stage.CURRENT)
    assert current_text == stored
    current = SigningKeySecret.parse(current_text)
    probe = secrets.token_bytes(32)
    signature = sign(current.private_key, current.algorithm, probe)
    published = read_keyring(s3_client, keyring_key).verify(
        current.key_id, probe, signature, signed_at=max(current.valid_from, datetime.now(UTC))
    )
    assert published.same_material(current.published())

"""The bad-input corpus (tests/corpus/<kind>/*.json): every case fails with a typed error that names the
problem and carries no secret value, and nothing changes in Secrets Manager or in the target."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519

from rotator import errors, kinds
from rotator.constants import Step
from rotator.core.staging import STAGED_LABEL
from sandbox.rotate_secret import RotateSecretEmulator
from sandbox.seed import seed_signing_key
from tests.helpers import PostgresTarget, expect_failure
from tests.leak_canary import register_secret

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(CORPUS.glob("*/*.json"))


def _pem(key: Any, encryption: Any = None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    ).decode()


def _signing(**changes: Any) -> str:
    doc = json.loads(seed_signing_key("ES256"))
    doc.update(changes)
    return json.dumps(doc)


GENERATORS: dict[str, Callable[[PostgresTarget | None], str]] = {
    "huge": lambda _: "!" * 60_000,
    "pem_garbage": lambda _: _signing(
        private_key="-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    ),
    "encrypted_pem": lambda _: _signing(
        private_key=_pem(ec.generate_private_key(ec.SECP256R1()), serialization.BestAvailableEncryption(b"pw-12345"))
    ),
    "p384_key": lambda _: _signing(private_key=_pem(ec.generate_private_key(ec.SECP384R1()))),
    "dsa_key": lambda _: _signing(private_key=_pem(dsa.generate_private_key(2048))),
    "mismatched_public": lambda _: _signing(
        public_key=ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    ),
    "empty_key_id": lambda _: _signing(key_id="  "),
    "bad_date": lambda _: _signing(valid_until="31/12/2026"),
    "wrong_algorithm": lambda _: _signing(algorithm="RS256"),
    "pg_injection": lambda pg: _pg_injection(pg),
    "deep_json": lambda _: '{"current": ' + "[" * 10_000 + "]" * 10_000 + "}",
    "huge_integer": lambda _: '{"current": "' + "ab" * 32 + '", "n": ' + "7" * 5000 + "}",
    "deep_connection_json": lambda _: (
        '{"host": "db.internal", "password": "c0rpus-pw-1", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    ),
    "inverted_window": lambda _: _signing(valid_from="2026-01-01", valid_until="2025-06-01"),
    "two_pem_blocks": lambda _: _signing(
        private_key=_pem(ec.generate_private_key(ec.SECP256R1())) + _pem(ec.generate_private_key(ec.SECP256R1()))
    ),
}


def _pg_injection(pg: PostgresTarget | None) -> str:
    assert pg is not None
    server = psycopg.conninfo.conninfo_to_dict(pg.superuser_url)
    return json.dumps(
        {
            "engine": "postgres", "host": server["host"], "port": int(str(server["port"])),
            "username": 'x"; DROP ROLE postgres; --', "password": "c0rpus-pw-" + secrets.token_hex(4),
            "dbname": "postgres", "sslmode": "disable",
        }
    )  # fmt: skip


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert {path.parent.name for path in CASES} == {"events", *kinds.names()}


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_corpus_case(
    path: Path,
    request: pytest.FixtureRequest,
    sm_client: Any,
    emulator: RotateSecretEmulator,
    template_handlers: dict[str, Callable[..., Any]],
    make_secret: Callable[..., str],
) -> None:
    case = json.loads(path.read_text())
    kind = path.parent.name
    error_type: type[Exception] = getattr(errors, case["error"])
    if kind == "events":
        with pytest.raises(error_type) as excinfo:
            template_handlers["session_secret"](case["event"], None)
        assert re.search(case["message"], str(excinfo.value)), str(excinfo.value)
        return
    if kind == "signing_key":
        request.getfixturevalue("s3_client")
    pg = request.getfixturevalue("postgres") if case.get("value_from") == "pg_injection" else None
    value = GENERATORS[case["value_from"]](pg) if "value_from" in case else case["value"]
    arn = make_secret(f"amply/sandbox/corpus-{secrets.token_hex(4)}", value, kind)  # stripe reads the env from it
    sensitive = [value] + ([case["staged"]] if "staged" in case else [])
    if "staged" in case:
        register_secret(case["staged"])
        sm_client.put_secret_value(SecretId=arn, SecretString=case["staged"], VersionStages=[STAGED_LABEL])
    failure = expect_failure(sm_client, emulator, arn, Step(case.get("step", "createSecret")), error_type)
    message = str(failure)
    assert re.search(case["message"], message), message
    for secret in sensitive:
        if len(secret) >= 8:
            assert secret not in message
    for fragment in re.findall(r"c0rpus[-\w]*", value):
        assert fragment not in message
    if pg is not None:  # the target: the injected statement never ran
        with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
            assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'postgres'").fetchone() == (1,)

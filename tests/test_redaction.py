"""The redactor, the logging filter and the leak canary itself."""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import quote

from rotator.errors import SecretsManagerError
from rotator.observability import REDACTED, Redactor, logger, redacting_filter
from tests.leak_canary import find_leaks, secret_parts


def test_redactor_hides_every_spelling_of_a_value() -> None:
    value = "p@ss/" + secrets.token_hex(8) + "é"
    redactor = Redactor()
    redactor.add(value, None, "short")
    text = f"raw={value} url={quote(value, safe='')} json={json.dumps(value)} repr={value!r} short"
    redacted = redactor.redact(text)
    assert value not in redacted
    assert quote(value, safe="") not in redacted
    assert redacted.count(REDACTED) == 4
    assert redacted.endswith(" short")  # values under six characters are not redacted


def test_logging_filter_redacts_messages_args_and_extras() -> None:
    value = secrets.token_hex(16)
    redactor = Redactor()
    redactor.add(value)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    logger.addHandler(keep)
    redacting_filter.redactor = redactor
    try:
        logger.info("connecting with %s", value, extra={"detail": f"pw={value}"})
    finally:
        redacting_filter.redactor = None
        logger.removeHandler(keep)
    assert records
    assert value not in records[-1].getMessage()
    assert value not in records[-1].__dict__["detail"]


def test_secrets_manager_error_message_carries_identifiers_only() -> None:
    error = SecretsManagerError("GetSecretValue", "AccessDeniedException", "amply/prod/database-url")
    assert str(error) == "GetSecretValue failed for amply/prod/database-url: AccessDeniedException"


def test_canary_finds_planted_leaks_and_names_only_the_place() -> None:
    value = secrets.token_hex(16)
    url = f"postgresql://app:{value}@db/app"
    parts = set(secret_parts(url))
    assert value in parts
    doc = json.dumps({"username": "app", "password": value, "host": "db"})
    assert value in set(secret_parts(doc))
    assert "app" not in set(secret_parts(doc))
    hits = find_leaks([("t1 [stdout]", f"oops {value}"), ("t2 [stdout]", "clean")], parts)
    assert len(hits) == 1
    assert hits[0].startswith("t1 [stdout] (value sha256:")
    assert value not in hits[0]


def test_the_redactor_never_raises_on_lone_surrogates() -> None:
    redactor = Redactor()
    redactor.add("value-\ud800-secret", "\udfff" * 8)
    assert redactor.redact("x value-\ud800-secret y") == "x [redacted] y"

"""Pytest plugin: the run fails if any secret value appears in captured output or failure text.

Secret values are harvested from the Secrets Manager emulator after every test
(every value a test seeds or a rotation generates ends up there) and from
``register_secret`` calls; captured stdout/stderr/log sections and failure
reports of every test are searched for them at the end of the session.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

_SECRETS: set[str] = set()
_TEXTS: list[tuple[str, str]] = []
_MIN_LENGTH = 8
_CURRENT_TEST = ["(collection)"]
_NOT_SECRET = frozenset(
    {
        "username", "host", "engine", "dbname", "port", "db", "nodes", "ssl", "sslmode", "sslrootcert",
        "ssl_ca_certs", "key_id", "kid", "algorithm", "public_key", "valid_from", "valid_until", "cipher", "note",
        "managed_by", "user_id", "replication_group_id",
    }
)  # fmt: skip
LOG_LINES: list[tuple[str, str]] = []


class _LogCapture(logging.Handler):
    """Keeps every formatted line of the suite's logger, labelled with the running test."""

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        LOG_LINES.append((_CURRENT_TEST[0], line))
        _TEXTS.append((f"{_CURRENT_TEST[0]} [rotation log]", line))


def pytest_sessionstart(session: pytest.Session) -> None:
    from rotator.observability import logger

    handler = _LogCapture()
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)


def pytest_runtest_setup(item: pytest.Item) -> None:
    _CURRENT_TEST[0] = item.nodeid


def register_secret(*values: str | None) -> None:
    """Remember values the leak scan must never find."""
    for value in values:
        if value and len(value) >= _MIN_LENGTH:
            _SECRETS.add(value)
            _SECRETS.add(quote(value, safe="", errors="surrogatepass"))


def register_output(where: str, text: str) -> None:
    """Add output produced outside pytest's capture (a server log) to the scan."""
    _TEXTS.append((where, text))


def secret_parts(text: str) -> Iterator[str]:
    """A value plus the parts of it that are secret on their own (URL passwords, JSON string fields)."""
    yield text
    if "://" in text:
        try:
            password = urlsplit(text).password
        except ValueError:
            password = None
        if password:
            yield unquote(password)
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):  # hostile corpus values: nesting or numbers no parser reads
            return
        yield from _strings(document)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        yield from (part for part in secret_parts(value) if part != value) if "://" in value else ()
    elif isinstance(value, dict):
        for key, item in value.items():
            # Identifiers, ARNs, paths and public material are not secret; anything else might be.
            if key not in _NOT_SECRET and not key.endswith("arn"):
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def harvest_moto() -> None:
    """Register every secret value stored in the in-process moto backend."""
    try:
        from moto.backends import get_backend
    except ImportError:
        return
    for account in get_backend("secretsmanager").values():
        for backend in account.values():
            for secret in list(backend.secrets.values()):
                for version in list(getattr(secret, "versions", {}).values()):
                    text = version.get("secret_string")
                    if text:
                        register_secret(*secret_parts(text))


def find_leaks(texts: Iterable[tuple[str, str]], secrets: Iterable[str]) -> list[str]:
    """Where (test id and section) any secret occurs, with a digest of it; never the secret itself."""
    secrets = [s for s in secrets if len(s) >= _MIN_LENGTH]
    hits = []
    for where, text in texts:
        for secret in secrets:
            if secret in text:
                digest = hashlib.sha256(secret.encode()).hexdigest()[:12]
                hits.append(f"{where} (value sha256:{digest}, {len(secret)} chars)")
    return hits


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    harvest_moto()
    for title, content in report.sections:
        _TEXTS.append((f"{item.nodeid} [{title}]", content))
    if report.failed and report.longrepr is not None:
        _TEXTS.append((f"{item.nodeid} [failure]", str(report.longrepr)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    harvest_moto()
    leaks = find_leaks(_TEXTS, _SECRETS)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter is not None:
            reporter.write_line(f"LEAK CANARY: secret values found in {len(leaks)} captured output(s):", red=True)
            for where in sorted(set(leaks)):
                reporter.write_line(f"  {where}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(
            f"leak canary: {len(_SECRETS)} secret spellings searched in {len(_TEXTS)} captured outputs, none found"
        )

"""Powertools logging and metrics, plus the redaction every output goes through.

No tracing SDK: the X-Ray SDK (and so Powertools Tracer) reaches its end of support on 2027-02-25, and it was
the largest cold-start cost. Each step's log line carries per-call timings instead (``rotator.timings``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextvars import ContextVar
from urllib.parse import quote, unquote

from aws_lambda_powertools import Logger, Metrics

from rotator.settings import DEFAULT_METRICS_NAMESPACE, DEFAULT_SERVICE_NAME, ENV_METRICS_NAMESPACE, ENV_SERVICE_NAME

__all__ = [
    "QUIET_LIBRARIES",
    "REDACTED",
    "Redactor",
    "fallback_secret_parts",
    "logger",
    "metrics",
    "redacting_filter",
]

REDACTED = "[redacted]"
# Shorter values (a port, a flag) would redact innocent text; real secrets are longer.
_MIN_REDACTABLE = 6


class Redactor:
    """Known secret values of one invocation, and the one function that hides them."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, *values: str | None) -> None:
        """Remember values (and their URL- and JSON-escaped spellings) as secret."""
        for value in values:
            if not value or len(value) < _MIN_REDACTABLE:
                continue
            self._values.add(value)
            # Never raises: a lone surrogate (valid in a JSON string) is percent-encoded byte by byte.
            self._values.add(quote(value, safe="", errors="surrogatepass"))
            self._values.add(json.dumps(value)[1:-1])
            self._values.add(repr(value)[1:-1])

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def redact(self, text: str) -> str:
        """``text`` with every known value replaced by ``[redacted]`` (longest first)."""
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_URL_PASSWORD = re.compile(r"://[^/@:\s]*:([^@\s]+)@")
# JSON fields that name things rather than hide them; any other string in an unparsable JSON secret is redacted.
_IDENTIFIERS = frozenset(
    {"engine", "host", "port", "username", "dbname", "ssl", "sslmode", "key_id", "algorithm", "managed_by", "user_id",
     "replication_group_id"}
)  # fmt: skip


def fallback_secret_parts(text: str) -> list[str]:
    """A best guess at the secret parts of a value its kind cannot parse: a URL's password, JSON string fields.

    Never raises: it runs on exactly the values that are malformed.
    """
    parts = [unquote(match) for match in _URL_PASSWORD.findall(text)]
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return parts
    if isinstance(document, dict):
        parts.extend(v for k, v in document.items() if isinstance(v, str) and k not in _IDENTIFIERS)
    return parts


class _RedactingFilter(logging.Filter):
    """Redacts the active invocation's secrets from every record before it is formatted.

    The active redactor lives in a context variable, so concurrent invocations in
    one process (the sandbox, benchmarks) each redact their own values.
    """

    def __init__(self) -> None:
        super().__init__()
        self._active: ContextVar[Redactor | None] = ContextVar("rotation_redactor", default=None)

    @property
    def redactor(self) -> Redactor | None:
        return self._active.get()

    @redactor.setter
    def redactor(self, value: Redactor | None) -> None:
        self._active.set(value)

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self.redactor
        if redactor is None:
            return True
        record.msg = redactor.redact(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and key not in ("msg", "name", "levelname", "pathname", "filename", "module"):
                record.__dict__[key] = redactor.redact(value)
        if record.exc_info:
            # Never format a driver's traceback text unredacted.
            record.exc_text = redactor.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


logger = Logger(service=os.environ.get(ENV_SERVICE_NAME, DEFAULT_SERVICE_NAME))
metrics = Metrics(namespace=os.environ.get(ENV_METRICS_NAMESPACE, DEFAULT_METRICS_NAMESPACE))

# On the logger itself, so every handler (Lambda's, a test's) only ever sees redacted records.
redacting_filter = _RedactingFilter()
logger.addFilter(redacting_filter)

# With the function's log level at DEBUG (LoggingConfig), the runtime sets the root logger to DEBUG and
# these libraries would log request bodies: secret values, master passwords, the RotationToken. They are
# held at WARNING whatever the root level, and the root handlers (Lambda's own) redact like ours.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer", "redis", "psycopg", "stripe")
for _name in QUIET_LIBRARIES:
    logging.getLogger(_name).setLevel(logging.WARNING)
for _handler in logging.getLogger().handlers:
    _handler.addFilter(redacting_filter)

"""What Lambda does with a function's stdout: the handlers' log lines go to CloudWatch Logs.

In the interactive sandbox every line the suite's logger writes is put into
the moto server's ``/aws/lambda/<function>`` log group, so the operator tool
reads a rotation's progress and failures exactly as it does on AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import Any

__all__ = ["ship_handler_logs"]


class _Shipper(logging.Handler):
    def __init__(self, client: Any) -> None:
        super().__init__()
        self._client = client
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        try:
            kind = json.loads(line).get("kind") or "unknown"
        except ValueError:
            kind = "unknown"
        group = f"/aws/lambda/{kind}"
        try:
            with self._lock:
                if group not in self._known:
                    for call, kwargs in (
                        (self._client.create_log_group, {"logGroupName": group}),
                        (self._client.create_log_stream, {"logGroupName": group, "logStreamName": "sandbox"}),
                    ):
                        with contextlib.suppress(self._client.exceptions.ResourceAlreadyExistsException):
                            call(**kwargs)
                    self._known.add(group)
                self._client.put_log_events(
                    logGroupName=group,
                    logStreamName="sandbox",
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
                )
        except Exception:
            self.handleError(record)


def ship_handler_logs(endpoint: str) -> logging.Handler:
    """Attach the shipper to the suite's logger (records arrive already redacted); returns it, to detach."""
    import boto3

    from rotator.observability import logger

    shipper = _Shipper(boto3.client("logs", endpoint_url=endpoint))
    shipper.setFormatter(logger.registered_formatter)
    logger.addHandler(shipper)
    return shipper

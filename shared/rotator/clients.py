"""The one place the layer builds boto3 clients: bounded timeouts and adaptive retries, always.

The endpoint, region and credentials come from the standard AWS configuration
(``AWS_ENDPOINT_URL``, profiles), so the same code talks to AWS or the sandbox.
boto3 is imported on first use: importing a handler stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["aws_client"]


def aws_client(service: str, *, connect_timeout: float = 5.0, read_timeout: float = 10.0, max_attempts: int = 6) -> Any:
    """A boto3 client for ``service`` with the suite's timeouts and retry policy."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]

"""The one place the layer builds boto3 clients: bounded timeouts and adaptive retries, always.

The region and credentials come from the standard AWS configuration, the endpoint
too (``AWS_ENDPOINT_URL``) unless ``ROTATION_ENDPOINT_URL`` names one: the template
declares that variable, so ``sam local invoke --env-vars`` can point a function at
the sandbox. The same code talks to AWS or the sandbox.
boto3 is imported on first use: importing a handler stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["aws_client"]


def aws_client(
    service: str,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    max_attempts: int = 6,
    region: str | None = None,
) -> Any:
    """A boto3 client for ``service`` with the suite's timeouts and retry policy (in ``region``, else the
    function's own)."""
    import os

    import boto3
    from botocore.config import Config

    from rotator.settings import ENV_ENDPOINT_URL

    endpoint = os.environ.get(ENV_ENDPOINT_URL, "").strip() or None
    config = Config(
        retries={"mode": "adaptive", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # A sandbox reached by host name: bucket names go in the path, not in a DNS name that does not exist.
        s3={"addressing_style": "path"} if endpoint else None,
    )
    return boto3.client(service, config=config, endpoint_url=endpoint, region_name=region)  # type: ignore[call-overload]

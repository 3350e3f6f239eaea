"""Where an RDS-managed master secret's database listens: its system tags and the RDS API.

When RDS manages the master password (``ManageMasterUserPassword``), the secret
(``rds!db-…`` or ``rds!cluster-…``) holds only ``username`` and ``password``;
its system tag ``aws:rds:primaryDBInstanceArn`` or ``aws:rds:primaryDBClusterArn``
names the database, and ``DescribeDBInstances`` / ``DescribeDBClusters`` give the
writer's address. RDS rotates that secret on its own schedule, so the caller
reads its AWSCURRENT on every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rotator.errors import SecretFormatError, TargetRejectedError, TargetUnreachableError
from rotator.timings import timed

__all__ = ["CLUSTER_TAG", "INSTANCE_TAG", "writer_endpoint"]

INSTANCE_TAG = "aws:rds:primaryDBInstanceArn"
CLUSTER_TAG = "aws:rds:primaryDBClusterArn"


def writer_endpoint(tags: Mapping[str, str], client: Any = None) -> tuple[str, int]:
    """The writer's address and port of the instance or cluster ``tags`` name."""
    from botocore.exceptions import BotoCoreError, ClientError

    from rotator.clients import aws_client

    arn = tags.get(CLUSTER_TAG) or tags.get(INSTANCE_TAG)
    if not arn:
        raise SecretFormatError(
            f"the master secret has no host and no {INSTANCE_TAG} or {CLUSTER_TAG} tag: it is neither a complete "
            "login nor a secret RDS manages"
        )
    rds = client or aws_client("rds", region=arn.split(":")[3] or None)
    cluster = CLUSTER_TAG in tags
    operation = "DescribeDBClusters" if cluster else "DescribeDBInstances"
    try:
        with timed("rds", operation):
            if cluster:
                found = rds.describe_db_clusters(DBClusterIdentifier=arn)["DBClusters"][0]
                return str(found["Endpoint"]).lower(), int(found["Port"])
            found = rds.describe_db_instances(DBInstanceIdentifier=arn)["DBInstances"][0]
            return str(found["Endpoint"]["Address"]).lower(), int(found["Endpoint"]["Port"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise TargetRejectedError(f"{operation} for the master secret's database failed: {code}") from exc
    except BotoCoreError as exc:
        raise TargetUnreachableError(f"{operation} failed: {type(exc).__name__}") from exc
    except (KeyError, IndexError) as exc:
        raise TargetRejectedError(f"{operation} reported no writer endpoint for the master secret's database") from exc

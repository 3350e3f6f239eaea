"""Where an RDS database's writer and readers listen, as the RDS API describes them.

* An RDS-managed master secret (``ManageMasterUserPassword``; ``rds!db-…`` or
  ``rds!cluster-…``) holds only ``username`` and ``password``; its system tag
  ``aws:rds:primaryDBInstanceArn`` or ``aws:rds:primaryDBClusterArn`` names the
  database (``for_tags``). RDS rotates that secret on its own schedule, so the
  caller reads its AWSCURRENT on every step.
* An application secret names its database with ``dbInstanceIdentifier`` or
  ``dbClusterIdentifier``, as the RDS console writes them (``for_secret``).

``DescribeDBInstances`` / ``DescribeDBClusters`` give the writer; a secret's
server is a reader (``serves_reads``) when it is the cluster's reader endpoint,
or the endpoint of a reader member of the cluster or of a read replica of the
instance in this Region.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rotator.errors import SecretFormatError, TargetRejectedError
from rotator.kinds.postgres.secret import Server
from rotator.schemes.target import AwsApi

__all__ = [
    "CLUSTER_FIELD", "CLUSTER_TAG", "INSTANCE_FIELD", "INSTANCE_TAG", "RdsApi", "RdsDatabase", "for_secret", "for_tags",
]  # fmt: skip

INSTANCE_TAG = "aws:rds:primaryDBInstanceArn"
CLUSTER_TAG = "aws:rds:primaryDBClusterArn"
INSTANCE_FIELD = "dbInstanceIdentifier"
CLUSTER_FIELD = "dbClusterIdentifier"


@dataclass(frozen=True)
class RdsDatabase:
    """An RDS instance or Aurora cluster: its writer, its reader endpoint, the instances that serve its reads."""

    name: str
    writer: Server
    reader_endpoint: Server | None = None
    reader_instances: tuple[str, ...] = ()
    _describe: Callable[[str], Mapping[str, Any]] | None = field(default=None, compare=False, repr=False)
    # Aurora (Engine aurora-postgresql): readers share the writer's storage and replay no WAL, so the WAL
    # position functions are not there to wait with (Aurora User Guide, "Replication with Amazon Aurora
    # PostgreSQL": "The cluster volume is shared among all instances in your Aurora PostgreSQL DB cluster").
    aurora: bool = False

    def serves_reads(self, server: Server) -> bool:
        """Whether ``server`` is this database's reader endpoint or one of its reader instances (described now)."""
        if server == self.reader_endpoint:
            return True
        if self._describe is None:
            return False
        return any(_endpoint(self._describe(instance)) == server for instance in self.reader_instances)


def for_tags(tags: Mapping[str, str], client: Any = None) -> RdsDatabase:
    """The database an RDS-managed master secret's system tags name."""
    arn = tags.get(CLUSTER_TAG) or tags.get(INSTANCE_TAG)
    if not arn:
        raise SecretFormatError(
            f"the master secret has no host and no {INSTANCE_TAG} or {CLUSTER_TAG} tag: it is neither a complete "
            "login nor a secret RDS manages"
        )
    return _describe(arn, cluster=CLUSTER_TAG in tags, client=client)


def for_secret(fields: Callable[[str], object], client: Any = None) -> RdsDatabase | None:
    """The database a secret names with ``dbClusterIdentifier`` or ``dbInstanceIdentifier`` (None without)."""
    for name, cluster in ((CLUSTER_FIELD, True), (INSTANCE_FIELD, False)):
        value = fields(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise SecretFormatError(f"secret field {name!r} must be a non-empty string")
        return _describe(value, cluster=cluster, client=client)
    return None


class RdsApi(AwsApi):
    """The RDS API, read-only: where a database's writer and readers listen."""

    SERVICE = "rds"

    def __init__(self, identifier: str, client: Any = None) -> None:
        region = (identifier.split(":")[3] or None) if identifier.startswith("arn:") else None
        super().__init__(region, client)
        self.identifier = identifier

    @property
    def what(self) -> str:
        return f"RDS database {self.identifier}"

    def cluster(self, identifier: str) -> Mapping[str, Any]:
        found = self.invoke("DescribeDBClusters", DBClusterIdentifier=identifier).get("DBClusters") or []
        if not found:
            raise TargetRejectedError(f"DescribeDBClusters found no database {identifier}")
        return dict(found[0])

    def instance(self, identifier: str) -> Mapping[str, Any]:
        found = self.invoke("DescribeDBInstances", DBInstanceIdentifier=identifier).get("DBInstances") or []
        if not found:
            raise TargetRejectedError(f"DescribeDBInstances found no database {identifier}")
        return dict(found[0])


def _describe(identifier: str, *, cluster: bool, client: Any) -> RdsDatabase:
    rds = RdsApi(identifier, client)
    described: dict[str, Mapping[str, Any]] = {}

    def instance(name: str) -> Mapping[str, Any]:  # each instance described once per step
        if name not in described:
            described[name] = rds.instance(name)
        return described[name]

    if cluster:
        found = rds.cluster(identifier)
        port = int(found["Port"])
        readers = tuple(
            str(member["DBInstanceIdentifier"])
            for member in found.get("DBClusterMembers", [])
            if not member.get("IsClusterWriter")
        )
        reader = found.get("ReaderEndpoint")
        return RdsDatabase(
            identifier, (str(found["Endpoint"]).lower(), port), (str(reader).lower(), port) if reader else None,
            readers, instance, _aurora(found),
        )  # fmt: skip
    found = instance(identifier)
    source = found.get("ReadReplicaSourceDBInstanceIdentifier")
    if source:  # the secret names a read replica: its source is the writer
        found = instance(str(source))
    replicas = tuple(str(replica) for replica in found.get("ReadReplicaDBInstanceIdentifiers", []))
    local = tuple(replica for replica in replicas if not replica.startswith("arn:"))  # other Regions: not ours
    return RdsDatabase(identifier, _endpoint(found), None, local, instance, _aurora(found))


def _aurora(described: Mapping[str, Any]) -> bool:
    return str(described.get("Engine", "")).startswith("aurora")


def _endpoint(instance: Mapping[str, Any]) -> Server:
    try:
        return str(instance["Endpoint"]["Address"]).lower(), int(instance["Endpoint"]["Port"])
    except (KeyError, TypeError) as exc:
        raise TargetRejectedError(
            f"DescribeDBInstances reported no endpoint for {instance.get('DBInstanceIdentifier', 'an instance')}"
        ) from exc

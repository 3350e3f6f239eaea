"""RDS as a rotation meets an RDS-managed master: moto's RDS, told where the sandbox's databases listen.

moto models what the rotation reads: instances and Aurora clusters made with ``ManageMasterUserPassword`` and
their master secret (``rds!db-…`` / ``rds!cluster-…``, the system tag naming the database, its KMS key), read
replicas (``ReadReplicaSourceDBInstanceIdentifier`` and ``ReadReplicaDBInstanceIdentifiers``), cluster members
(``IsClusterWriter``) and the reader endpoint. The sandbox adds only what moto cannot know: its addresses name
hosts that do not exist, so ``model_addresses`` answers the sandbox's (a writer, and a reader on the streaming
replica), and the master secret holds the master user's real login (moto writes a fixed ``admin`` one), put by
the owning service as RDS does. ``rotate_master`` does what RDS's own rotation does.

A cluster is Aurora PostgreSQL (``Engine`` ``aurora-postgresql``), and its own database (``dbname``) answers as
Aurora does: ``aurora_version()`` exists, and the WAL position functions refuse ("not supported for Aurora"),
because Aurora's readers share the writer's storage and replay no WAL. (A streaming replica underneath still
replays it: the lag a test sets is the only thing Aurora would not show.)
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RdsDatabases", "model_addresses"]

# Where moto's databases listen in the sandbox: instance or cluster identifier -> (host, port); a cluster's
# reader endpoint under "<cluster>/reader".
_WHERE: dict[str, tuple[str, int]] = {}


def model_addresses() -> None:
    """moto's RDS answers the sandbox's addresses for the databases registered here (idempotent)."""
    from moto.rds.models import DBCluster, DBInstance

    if getattr(DBInstance, "sandboxed", False):
        return
    instance_address, cluster_endpoint, reader_endpoint = (
        DBInstance.address, DBCluster.endpoint, DBCluster.reader_endpoint,
    )  # fmt: skip

    def address(self: Any) -> str:
        where = _WHERE.get(self.db_instance_identifier)
        return where[0] if where else str(instance_address.fget(self))  # type: ignore[attr-defined]

    def endpoint(self: Any) -> str:
        where = _WHERE.get(self.db_cluster_identifier)
        return where[0] if where else str(cluster_endpoint.fget(self))  # type: ignore[attr-defined]

    def reader(self: Any) -> str:
        where = _WHERE.get(f"{self.db_cluster_identifier}/reader") or _WHERE.get(self.db_cluster_identifier)
        return where[0] if where else str(reader_endpoint.fget(self))  # type: ignore[attr-defined]

    DBInstance.address = property(address)  # type: ignore[method-assign,assignment]
    DBCluster.endpoint = property(endpoint)  # type: ignore[method-assign,assignment]
    DBCluster.reader_endpoint = property(reader)  # type: ignore[method-assign,assignment]
    DBInstance.sandboxed = True  # type: ignore[attr-defined]


@dataclass
class _Database:
    identifier: str
    cluster: bool
    host: str
    port: int
    master: str  # the master user's name
    secret_arn: str
    readers: list[str] = field(default_factory=list)  # identifiers of its read replicas or reader members
    dbname: str = "postgres"  # an Aurora cluster's database, where the server answers as Aurora


class RdsDatabases:
    """The sandbox's RDS databases, made in moto's RDS over the sandbox's PostgreSQL."""

    def __init__(self, superuser_url: str, host: str, port: int) -> None:
        import boto3

        model_addresses()
        self._superuser_url = superuser_url
        self._where = (host, port)
        self._rds = boto3.client("rds")  # the environment's endpoint: the sandbox
        self.databases: dict[str, _Database] = {}

    def add_database(self, sm_client: Any, identifier: str, *, cluster: bool = False, kms_key: str = "") -> str:
        """A database with an RDS-managed master secret (encrypted with ``kms_key``, as ``MasterUserSecretKmsKeyId``
        asks; else Secrets Manager's own key); returns the secret's ARN. A cluster gets its writer instance."""
        master = f"rds_master_{secrets.token_hex(3)}"
        managed = {"MasterUsername": master, "ManageMasterUserPassword": True,
                   **({"MasterUserSecretKmsKeyId": kms_key} if kms_key else {})}  # fmt: skip
        _WHERE[identifier] = self._where
        if cluster:
            made = self._rds.create_db_cluster(DBClusterIdentifier=identifier, Engine="aurora-postgresql",
                                               Port=self._where[1], **managed)["DBCluster"]  # fmt: skip
            _WHERE[f"{identifier}-writer"] = self._where
            self._rds.create_db_instance(DBInstanceIdentifier=f"{identifier}-writer", DBClusterIdentifier=identifier,
                                         Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")  # fmt: skip
        else:
            made = self._rds.create_db_instance(DBInstanceIdentifier=identifier, Engine="postgres", AllocatedStorage=20,
                                                DBInstanceClass="db.t4g.micro", **managed)["DBInstance"]  # fmt: skip
            self._instance(identifier).port = self._where[1]
        secret_arn = str(made["MasterUserSecret"]["SecretArn"])
        password = self._set_password(master, create=True)
        # What the owning service keeps there: the master's real login (moto writes a fixed one).
        sm_client.put_secret_value(SecretId=secret_arn, SecretString=json.dumps({"username": master,
                                   "password": password}), VersionStages=["AWSCURRENT"])  # fmt: skip
        database = _Database(identifier, cluster, *self._where, master, secret_arn)
        if cluster:
            database.dbname = self._aurora_database(identifier)
        self.databases[identifier] = database
        return secret_arn

    def add_reader(self, identifier: str, reader: str, host: str, port: int) -> None:
        """``reader`` (an instance at ``host``:``port``) serves ``identifier``'s reads: a reader member of the
        cluster (and its reader endpoint), or a read replica of the instance."""
        database = self.databases[identifier]
        if database.cluster and port != database.port:
            raise ValueError("an Aurora reader endpoint listens on its cluster's port")
        _WHERE[reader] = (host, port)
        if database.cluster:
            _WHERE[f"{identifier}/reader"] = (host, port)
            self._rds.create_db_instance(DBInstanceIdentifier=reader, DBClusterIdentifier=identifier,
                                         Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")  # fmt: skip
        else:
            self._rds.create_db_instance_read_replica(
                DBInstanceIdentifier=reader, SourceDBInstanceIdentifier=identifier
            )
            self._instance(reader).port = port
        database.readers.append(reader)

    def rotate_master(self, sm_client: Any, secret_arn: str) -> None:
        """What RDS's managed rotation does: a new master password, in the database and as AWSCURRENT."""
        database = next(db for db in self.databases.values() if db.secret_arn == secret_arn)
        password = self._set_password(database.master)
        value = json.dumps({"username": database.master, "password": password})
        sm_client.put_secret_value(SecretId=secret_arn, SecretString=value, VersionStages=["AWSCURRENT"])

    @staticmethod
    def _instance(identifier: str) -> Any:
        """moto's model of an instance (where its port is kept)."""
        from moto.rds.models import rds_backends

        from sandbox.moto_server import ACCOUNT_ID, REGION

        return rds_backends[ACCOUNT_ID][REGION].databases[identifier]

    def _aurora_database(self, identifier: str) -> str:
        """A database whose sessions find Aurora's functions first: ``aurora_version()``, and WAL position
        functions that refuse as Aurora's do (an unqualified call resolves to them: the database's
        ``search_path`` names their schema before ``pg_catalog``)."""
        import psycopg
        from psycopg import sql

        name = "aurora_" + identifier.replace("-", "_")
        refusal = (
            "BEGIN RAISE EXCEPTION 'Function %s() is currently not supported for Aurora' USING ERRCODE = '0A000'; END"
        )
        with psycopg.connect(self._superuser_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self._superuser_url, autocommit=True, dbname=name) as conn:
            conn.execute("CREATE SCHEMA aurora")
            conn.execute("GRANT USAGE ON SCHEMA aurora TO PUBLIC")  # every login finds them, as on Aurora
            conn.execute("CREATE FUNCTION aurora.aurora_version() RETURNS text LANGUAGE sql AS $$ SELECT '16.6.1' $$")
            for function in ("pg_current_wal_lsn", "pg_last_wal_replay_lsn"):
                body = sql.Literal(refusal.replace("%s", function))
                conn.execute(sql.SQL("CREATE FUNCTION aurora.{}() RETURNS pg_lsn LANGUAGE plpgsql AS {}").format(
                    sql.Identifier(function), body))  # fmt: skip
            conn.execute(sql.SQL("ALTER DATABASE {} SET search_path = aurora, pg_catalog, public").format(
                sql.Identifier(name)))  # fmt: skip
        return name

    def _set_password(self, role: str, *, create: bool = False) -> str:
        import psycopg
        from psycopg import sql

        password = secrets.token_urlsafe(24)
        with psycopg.connect(self._superuser_url, autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            verb = "CREATE ROLE {} SUPERUSER LOGIN PASSWORD {}" if create else "ALTER ROLE {} PASSWORD {}"
            conn.execute(sql.SQL(verb).format(sql.Identifier(role), sql.Literal(verifier)))
        return password

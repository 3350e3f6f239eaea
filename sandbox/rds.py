"""RDS as a rotation meets an RDS-managed master: the master secret RDS creates, and where its database listens.

``add_database`` registers a DB instance or cluster that points at the sandbox
PostgreSQL, with a master user of its own, and creates the secret RDS would
(``rds!db-…`` / ``rds!cluster-…``, only ``username`` and ``password``, the system
tag naming the database). ``DescribeDBInstances`` and ``DescribeDBClusters``
for those databases answer the sandbox's address (moto's would name a host
that does not exist); ``rotate_master`` does what RDS's own rotation does.
``add_reader`` gives a database a reader, the sandbox's streaming replica: an
instance's read replica, or a cluster's reader member and reader endpoint.

A cluster is Aurora PostgreSQL (``Engine`` ``aurora-postgresql``, for the cluster
and its members), and its own database (``dbname``) answers as Aurora does:
``aurora_version()`` exists, and the WAL position functions refuse ("not
supported for Aurora"), because Aurora's readers share the writer's storage and
replay no WAL. (A streaming replica underneath still replays it: the lag a test
sets is the only thing Aurora would not show.)
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.moto_server import ACCOUNT_ID, REGION
from sandbox.query_protocol import Answer, query_params, query_response

__all__ = ["RdsDatabases"]


@dataclass
class _Database:
    identifier: str
    cluster: bool
    host: str
    port: int
    master: str  # the master user's name
    secret_arn: str
    source: str = ""  # a reader's database (the instance it replicates, or its cluster)
    readers: list[str] = field(default_factory=list)  # identifiers of its read replicas or reader members
    dbname: str = "postgres"  # an Aurora cluster's database, where the server answers as Aurora

    @property
    def arn(self) -> str:
        return f"arn:aws:rds:{REGION}:{ACCOUNT_ID}:{'cluster' if self.cluster else 'db'}:{self.identifier}"


class RdsDatabases:
    """The sandbox's RDS databases; ``answer`` is the moto server's hook for the ``rds`` signing name."""

    def __init__(self, superuser_url: str, host: str, port: int) -> None:
        self._superuser_url = superuser_url
        self._where = (host, port)
        self.databases: dict[str, _Database] = {}

    def add_database(self, sm_client: Any, identifier: str, *, cluster: bool = False, kms_key: str = "") -> str:
        """A database with an RDS-managed master secret (encrypted with ``kms_key``, as ``MasterUserSecretKmsKeyId``
        asks; else Secrets Manager's own key); returns the secret's ARN."""
        master = f"rds_master_{secrets.token_hex(3)}"
        database = _Database(identifier, cluster, *self._where, master, "")
        tag = "aws:rds:primaryDBClusterArn" if cluster else "aws:rds:primaryDBInstanceArn"
        name = f"rds!{'cluster' if cluster else 'db'}-{uuid.uuid4()}"
        password = self._set_password(master, create=True)
        value = json.dumps({"username": master, "password": password})
        key = {"KmsKeyId": kms_key} if kms_key else {}
        created = sm_client.create_secret(Name=name, SecretString=value, Tags=[{"Key": tag, "Value": database.arn}],
                                          **key)  # fmt: skip
        database.secret_arn = str(created["ARN"])
        if cluster:
            database.dbname = self._aurora_database(identifier)
        self.databases[database.arn] = self.databases[identifier] = database
        return database.secret_arn

    def add_reader(self, identifier: str, reader: str, host: str, port: int) -> None:
        """``reader`` (an instance at ``host``:``port``) serves ``identifier``'s reads."""
        database = self.databases[identifier]
        if database.cluster and port != database.port:
            raise ValueError("an Aurora reader endpoint listens on its cluster's port")
        self.databases[reader] = _Database(reader, False, host, port, database.master, "", source=identifier)
        database.readers.append(reader)

    def rotate_master(self, sm_client: Any, secret_arn: str) -> None:
        """What RDS's managed rotation does: a new master password, in the database and as AWSCURRENT."""
        database = next(db for db in self.databases.values() if db.secret_arn == secret_arn)
        password = self._set_password(database.master)
        value = json.dumps({"username": database.master, "password": password})
        sm_client.put_secret_value(SecretId=secret_arn, SecretString=value, VersionStages=["AWSCURRENT"])

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

    def answer(self, service: str, operation: str, body: bytes) -> Answer | None:
        """DescribeDBInstances / DescribeDBClusters of a registered database; anything else goes to moto."""
        if service != "rds" or operation not in ("DescribeDBInstances", "DescribeDBClusters"):
            return None
        params = query_params(body)
        key = params.get("DBClusterIdentifier" if operation == "DescribeDBClusters" else "DBInstanceIdentifier", "")
        database = self.databases.get(key)
        if database is None:
            return None
        host, port = database.host, database.port
        if operation == "DescribeDBClusters":
            readers = [self.databases[reader] for reader in database.readers]
            members = [{"DBInstanceIdentifier": f"{database.identifier}-writer", "IsClusterWriter": True}] + [
                {"DBInstanceIdentifier": reader.identifier, "IsClusterWriter": False} for reader in readers
            ]
            # With no reader, Aurora's reader endpoint leads to the writer.
            cluster = {"DBClusterIdentifier": database.identifier, "DBClusterArn": database.arn,
                       "Status": "available", "Engine": "aurora-postgresql", "Endpoint": host,
                       "ReaderEndpoint": readers[0].host if readers else host, "Port": port,
                       "DBClusterMembers": members}  # fmt: skip
            return query_response("rds", operation, {"DBClusters": [cluster]})
        source = self.databases.get(database.source)
        engine = "aurora-postgresql" if source is not None and source.cluster else "postgres"
        instance = {"DBInstanceIdentifier": database.identifier, "DBInstanceArn": database.arn, "Engine": engine,
                    "DBInstanceStatus": "available", "Endpoint": {"Address": host, "Port": port},
                    "ReadReplicaDBInstanceIdentifiers": database.readers}  # fmt: skip
        if source is not None and source.cluster:
            instance["DBClusterIdentifier"] = source.identifier
        elif source is not None:
            instance["ReadReplicaSourceDBInstanceIdentifier"] = source.identifier
        return query_response("rds", operation, {"DBInstances": [instance]})

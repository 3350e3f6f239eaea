"""The master login of alternating users: the secret's ``masterarn`` (or the configured default), allowed only
from ``ROTATION_POSTGRES_MASTER_SECRET_ARNS``, used only on its own server and that server's readers.

An RDS-managed master (``username`` and ``password`` only) gets its writer's address from its system tags and
the RDS API, and the secret's database; its AWSCURRENT is read on every step, because RDS rotates it on its own
schedule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rotator.codecs import looks_like_json
from rotator.core.versions import VersionReader
from rotator.errors import ForbiddenTargetError
from rotator.kinds.postgres.rds import RdsDatabase, for_secret, for_tags
from rotator.kinds.postgres.secret import PostgresSecret

__all__ = ["Master", "master_for"]


@dataclass(frozen=True)
class Master:
    """The master login and whether the secret's server is a reader of the master's (else it is that server)."""

    login: PostgresSecret
    on_reader: bool
    aurora: bool = False  # the master's database is Aurora (its readers replay no WAL)


def master_for(
    versions: VersionReader[PostgresSecret], master_arn: str, current: PostgresSecret, pair: tuple[str, str]
) -> Master:
    """The master for ``current``, never a user of the ``pair``, on the secret's server or one it reads from."""
    login, database = _parse(versions, master_arn, current)
    if login.username in pair:
        raise ForbiddenTargetError(f"{login.username} is the master secret's own user: never changed by a rotation")
    if login.server == current.server:
        return Master(login, on_reader=False, aurora=database is not None and database.aurora)
    database = database or for_secret(current.connection.field)
    if database is None or database.writer != login.server or not database.serves_reads(current.server):
        raise ForbiddenTargetError(
            f"the master secret is for {login.host}:{login.port}, not the secret's server "
            f"{current.host}:{current.port}, and the RDS API lists no reader of the master's database there: "
            "the master is used only on its own server and its readers"
        )
    return Master(login, on_reader=True, aurora=database.aurora)


def _parse(
    versions: VersionReader[PostgresSecret], master_arn: str, current: PostgresSecret
) -> tuple[PostgresSecret, RdsDatabase | None]:
    text = versions.other(master_arn).text
    try:
        document = json.loads(text) if looks_like_json(text) else None
    except ValueError:
        document = None  # the parser below names what is wrong with it
    if not isinstance(document, dict) or "host" in document:
        return PostgresSecret.parse(text, what="master secret"), None
    database = for_tags(versions.describe_other(master_arn).tags)
    host, port = database.writer
    resolved = {**document, "host": host, "port": port, "dbname": current.dbname}
    return PostgresSecret.parse(json.dumps(resolved), what="master secret"), database

"""SQLAlchemy engines whose connections log in with the secret's current login (its ``do_connect`` event).

::

    cache = SecretCache(ttl=300)
    engine = create_async_engine(cache, "amply/prod/database-url")           # asyncpg
    engine = create_engine(cache, "amply/prod/database-url")                 # psycopg

Every new connection takes the username and password (alternating users change both) from the cache; when the
server refuses them it refreshes once (AWSCURRENT, then AWSPENDING while a rotation is in progress) and retries,
so the application never sees a rotation. Connections already open keep working: PostgreSQL checks a password
only at login. The secret's ``sslmode`` reaches asyncpg as its ``ssl`` argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rotation_client.cache import SecretCache
from rotation_client.logins import Login

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["attach", "create_async_engine", "create_engine", "is_login_refused"]

# invalid_password, invalid_authorization_specification (an unknown role, a refused pg_hba line)
_REFUSED = {"28P01", "28000"}


def create_engine(
    cache: SecretCache, secret_id: str, *, drivername: str = "postgresql+psycopg", **kwargs: Any
) -> Engine:
    """A synchronous engine for the secret's server and database, logging in through ``cache``."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(_url(cache, secret_id, drivername), **kwargs)
    attach(engine, cache, secret_id)
    return engine


def create_async_engine(
    cache: SecretCache, secret_id: str, *, drivername: str = "postgresql+asyncpg", **kwargs: Any
) -> AsyncEngine:
    """An asyncio engine (asyncpg by default) for the secret's server and database, logging in through ``cache``."""
    from sqlalchemy.ext.asyncio import create_async_engine as create

    engine = create(_url(cache, secret_id, drivername), **kwargs)
    attach(engine, cache, secret_id)
    return engine


def attach(engine: Engine | AsyncEngine, cache: SecretCache, secret_id: str) -> None:
    """Make every new connection of ``engine`` (sync or async) log in with the secret, refreshing on a refusal."""
    from sqlalchemy import event

    sync_engine = getattr(engine, "sync_engine", engine)

    @event.listens_for(sync_engine, "do_connect")
    def connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        def attempt(text: str) -> Any:
            login = Login.from_secret(text)
            params = {**cparams, "password": login.password}
            if login.username:
                params["user"] = login.username
            if dialect.driver == "asyncpg" and "sslmode" in params:
                params["ssl"] = params.pop("sslmode")
            return dialect.connect(*cargs, **params)

        where = f"{cparams.get('host', 'the server')}:{cparams.get('port', '')}"
        return cache.retrying(secret_id, attempt, is_login_refused, target=f"PostgreSQL at {where}")


def is_login_refused(error: BaseException) -> bool:
    """Whether a connection attempt failed because the server refused the login (psycopg, asyncpg, SQLAlchemy)."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _REFUSED or "password authentication failed" in str(seen):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return False


def _url(cache: SecretCache, secret_id: str, drivername: str) -> Any:
    """The engine's URL: the secret's server and database, without the password (``do_connect`` supplies it)."""
    from sqlalchemy.engine import URL

    login = Login.from_secret(cache.get(secret_id))
    query = dict(login.query)
    if drivername.endswith("+asyncpg") and "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    return URL.create(drivername, username=login.username, host=login.host, port=login.port,
                      database=login.database, query=query)  # fmt: skip

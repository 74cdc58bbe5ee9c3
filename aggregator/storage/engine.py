"""Open the database: SQLite in WAL mode by default, PostgreSQL through the same URL.

Migrations run at start (as Miniflux does), under a lock on PostgreSQL so that
several workers starting together do not race each other.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.util import CommandError
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import create_engine

from aggregator.errors import StorageError

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 7_240_133  # any constant: pg_advisory_lock key for migrations


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; synchronous=NORMAL in WAL loses nothing
    # on a process crash (kill -9), only possibly the last commits on power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 16 MiB of page cache (default 2 MiB): a store batch (32 sources, a few MB of item text
    # plus indexes) then stays in memory until commit instead of spilling to the WAL and being
    # read back by the grouping UPDATE (-20% CPU for a full pass). Grows only as used.
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def _pg_session_utc(dbapi_connection: Any, _record: Any) -> None:
    # Every timestamp is timestamptz, and PostgreSQL hands them back in the session's TimeZone
    # (the server's default, e.g. America/Los_Angeles): callers that format a time as "… UTC" or
    # compare dates would then be hours off. Pin each connection to UTC, whatever the server says.
    # (A SET, not a startup `options`, so it works behind PgBouncer too.)
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.commit()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the settings each dialect needs."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            if engine.dialect.name == "postgresql":
                event.listen(engine, "connect", _pg_session_utc)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise StorageError(f"cannot use database {_redact(url)}: {exc}") from exc
    return engine


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest revision (or ``revision``, for upgrade tests); never drops data."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if not is_sqlite(engine):
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open or migrate the database: {exc}") from exc
    except CommandError as exc:
        # The usual cause: during a rolling upgrade a newer release migrated the shared database,
        # and a host still on this release restarted (an alembic traceback said none of that).
        hint = ("; the database was migrated by a newer release of funnelfeed: run the same release on "
                "every host (workers and web)" if "Can't locate revision" in str(exc) else "")
        raise StorageError(f"cannot migrate the database: {exc}{hint}") from exc


def utcnow() -> datetime:
    return datetime.now(UTC)

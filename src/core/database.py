"""Engine and the per-request unit of work.

Commit happens in exactly one place: `Database.session()`. Repositories and
services never commit or roll back.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from src.core.config import Settings

# Execution option read by the SQLite "begin" hook: writers take the write lock
# up front, so two writers never deadlock while upgrading a read lock.
_SQLITE_WRITE = "featwright_sqlite_write"


def create_engine(settings: Settings, *, enforce_foreign_keys: bool = True) -> AsyncEngine:
    """`enforce_foreign_keys=False` is for migrations on SQLite: rebuilding a table there
    drops the old one, which with foreign keys on would cascade-delete its children."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(settings.database_url, enforce_foreign_keys)
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"server_settings": {"application_name": "featwright"}},
    )


def _create_sqlite_engine(database_url: str, enforce_foreign_keys: bool) -> AsyncEngine:
    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin,
        # so SAVEPOINT and transactional DDL behave (SQLAlchemy's pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_SQLITE_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """Hands out sessions that commit on success and roll back on any error.

    On PostgreSQL read-only requests run in autocommit mode: a read is one
    statement, so it needs no BEGIN/COMMIT round trips around it. Writes always
    get a transaction; on SQLite they take the write lock when they begin.
    """

    def __init__(self, bind: AsyncEngine | AsyncConnection, **session_options: Any) -> None:
        self.bind = bind
        reader: AsyncEngine | AsyncConnection = bind
        writer: AsyncEngine | AsyncConnection = bind
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite":
            writer = bind.execution_options(**{_SQLITE_WRITE: True})
        elif isinstance(bind, AsyncEngine):
            reader = bind.execution_options(isolation_level="AUTOCOMMIT")
        options = {"expire_on_commit": False, "autoflush": False, **session_options}
        self._readers = async_sessionmaker(reader, **options)
        self._writers = async_sessionmaker(writer, **options)

    @asynccontextmanager
    async def session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        factory = self._writers if write else self._readers
        async with factory() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            if session.in_transaction():
                await session.commit()

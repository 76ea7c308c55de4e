"""Engine and the connections requests run on.

Commit happens in exactly one place: `Database.transaction()` (and `session()`, for
tools). Repositories and services never commit or roll back.
"""

import time
import traceback
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Row, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable

from src.core.config import Settings

# Execution option read by the SQLite "begin" hook: writers take the write lock
# up front, so two writers never deadlock while upgrading a read lock.
_SQLITE_WRITE = "featwright_sqlite_write"

# SQLSTATE classes that say the database cannot answer now, not that the statement is
# wrong: 08 connection exception, 53 insufficient resources (too many connections),
# 57 operator intervention (shutting down, starting up, statement_timeout).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
# The SQLSTATE given to a connection the driver could not open (refused, reset, timed out).
_CANNOT_CONNECT = "08001"
# A read whose pooled connection failed sooner than this is run again on a new one: a
# connection the server closed (a restart) fails at once, a silent server only after a timeout.
_RETRY_WITHIN_SECONDS = 0.5
# How much longer than statement_timeout the client waits for an answer: enough that a
# server which can still answer reports its own timeout first.
_CLIENT_TIMEOUT_MARGIN = 2.0


def create_engine(
    settings: Settings,
    *,
    enforce_foreign_keys: bool = True,
    client_timeout: bool = True,
    autocommit: bool = True,
) -> AsyncEngine:
    """`enforce_foreign_keys=False` is for migrations on SQLite: rebuilding a table there
    drops the old one, which with foreign keys on would cascade-delete its children.
    `client_timeout=False` is for migrations on PostgreSQL: an upgrade may wait for
    another's lock for as long as it takes, so the driver must not give up on it.

    On PostgreSQL connections are in autocommit mode (`autocommit=False` for migrations and
    for tests that roll back): a statement is its own transaction, and a connection goes back
    to the pool without a ROLLBACK, since none is open (`Database.transaction()` opens one
    explicitly and always ends it)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(settings.database_url, enforce_foreign_keys)
    connect_args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": {
            "application_name": "featwright",
            "statement_timeout": str(round(settings.db_statement_timeout * 1000)),
        },
    }
    if client_timeout:
        # A host gone silent (network partition, frozen VM) answers nothing, not even its
        # statement_timeout: without this a query or a pre-ping on a pooled connection
        # would wait for the OS to give up on TCP, minutes later.
        connect_args["command_timeout"] = settings.db_statement_timeout + _CLIENT_TIMEOUT_MARGIN
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args=connect_args,
        **({"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}),
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


def _connect(dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
    """Open a connection; a refused, reset or timed-out one becomes the driver's
    OperationalError (SQLSTATE 08001) like any other failure to connect, since the
    asyncpg adapter lets OSError and TimeoutError through unwrapped."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        failure: Any = dialect.loaded_dbapi.OperationalError(f"cannot connect: {error!r}", error)
        failure.sqlstate = failure.pgcode = _CANNOT_CONNECT
        raise failure from error


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot answer now (down, restarting, out of
    connections, too slow) rather than that the statement or the code is wrong."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection freed in time
        return True
    if isinstance(error, TimeoutError):
        return _raised_by_driver(error)
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    # SQLite: another process held the write lock for longer than busy_timeout.
    busy = getattr(error.orig, "sqlite_errorname", None) == "SQLITE_BUSY"
    return busy or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


def _raised_by_driver(error: BaseException) -> bool:
    """Whether `error` was raised inside asyncpg: its command_timeout, which SQLAlchemy
    passes on as a bare TimeoutError (from a statement or the pool's pre-ping, after
    discarding the connection). A TimeoutError of any other origin is not the database's."""
    return any(
        frame.f_globals.get("__name__", "").partition(".")[0] == "asyncpg"
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """`engine`, with each transaction taking SQLite's write lock when it begins
    (`BEGIN IMMEDIATE`); PostgreSQL needs no such thing."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_SQLITE_WRITE: True})


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
        # First: switching a new file to WAL takes a lock another process may hold.
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enforce_foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_SQLITE_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Database:
    """Hands out connections; commits in exactly one place, `transaction()`.

    A simple request runs one statement, and on PostgreSQL that statement runs on an
    autocommit connection: it is its own transaction, so no BEGIN/COMMIT round trips.
    A request of several statements that must stand or fall together (an
    Idempotency-Key) runs them inside `async with database.transaction():`, and every
    `connect()` of that task then hands out the transaction's connection. SQLite runs each
    connection in a local transaction (no round trips there); a `transaction()` there takes
    the write lock when it begins, so two never deadlock upgrading a read lock.

    Bound to one connection (tests), each unit runs in a savepoint of it, so a failed
    request rolls back its own statements only.
    """

    def __init__(self, bind: AsyncEngine | AsyncConnection, **session_options: Any) -> None:
        self.bind = bind
        self.dialect_name = bind.dialect.name
        self._current: ContextVar[AsyncConnection | None] = ContextVar("connection", default=None)
        self._autocommit: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        if isinstance(bind, AsyncEngine):
            self._writer = for_writing(bind)
            if self.dialect_name != "sqlite":
                self._autocommit = (
                    bind
                    if bind.dialect._on_connect_isolation_level == "AUTOCOMMIT"
                    else bind.execution_options(isolation_level="AUTOCOMMIT")
                )
                self._writer = bind.execution_options(isolation_level="READ COMMITTED")
        options = {"expire_on_commit": False, "autoflush": False, **session_options}
        self._sessions = async_sessionmaker(self._writer or bind, **options)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one statement, or the current transaction's."""
        current = self._current.get()
        if current is not None:
            yield current
        elif isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                yield self.bind
        elif self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                yield connection
        else:  # SQLite: one statement takes the write lock itself if it writes
            async with self.bind.begin() as connection:
                yield connection

    async def read(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Row[Any]]:
        """The rows of a read, tried once more if the pooled connection turned out dead.

        The pool is not pinged before each use (a round trip per request). After a database
        restart, the first statement on each old connection fails at once; SQLAlchemy then
        invalidates the whole pool, and a read is simply run again on a new connection. A
        failure that took long (a silent host, a timeout) is not retried: that would only
        double the wait before the 503.
        """
        started = time.monotonic()
        try:
            async with self.connect() as connection:
                return (await connection.execute(statement, params)).all()
        except sa_exc.DBAPIError as error:
            fast = time.monotonic() - started < _RETRY_WITHIN_SECONDS
            if not (error.connection_invalidated and fast and self._current.get() is None):
                raise
        async with self.connect() as connection:
            return (await connection.execute(statement, params)).all()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the statements of the block in one transaction: committed when it ends,
        rolled back on any error. Inside another transaction it simply joins it."""
        if self._current.get() is not None:
            yield
            return
        if isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                with self._joined(self.bind):
                    yield
        else:
            async with self._writer.begin() as connection:  # type: ignore[union-attr]
                with self._joined(connection):
                    yield

    @contextmanager
    def _joined(self, connection: AsyncConnection) -> Iterator[None]:
        token = self._current.set(connection)
        try:
            yield
        finally:
            self._current.reset(token)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM unit of work, for tools and tests; requests use `connect()`."""
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            if session.in_transaction():
                await session.commit()

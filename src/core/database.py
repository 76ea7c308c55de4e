"""Engine and the connections requests run on.

Commit happens in exactly one place: `Database.transaction()` (and `session()`, for
tools). Repositories and services never commit or roll back.
"""

import asyncio
import itertools
import os
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.sql import Executable

from src.core import postgres
from src.core.config import Settings

# Execution option read by the SQLite "begin" hook: writers take the write lock
# up front, so two writers never deadlock while upgrading a read lock.
_SQLITE_WRITE = "featwright_sqlite_write"

# SQLSTATE classes that say the database cannot answer now, not that the statement is
# wrong: 08 connection exception, 53 insufficient resources (too many connections),
# 57 operator intervention (shutting down, starting up, statement_timeout).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "25006"})
"""Errors after which the same request sent again succeeds (a 503 with Retry-After): a
serialization failure or a deadlock, whose transaction was undone whole; a write that reached
a node that is not the primary (read_only_sql_transaction), which nothing wrote: a primary
just demoted, in the second before the database route stops sending connections to it."""
# A read whose pooled connection failed sooner than this is run again on a new one: a
# connection the server closed (a restart) fails at once, a silent server only after a timeout.
_RETRY_WITHIN_SECONDS = 0.5


def create_engine(
    settings: Settings,
    *,
    enforce_foreign_keys: bool = True,
    client_timeout: bool = True,
) -> AsyncEngine:
    """`enforce_foreign_keys=False` is for migrations on SQLite: rebuilding a table there
    drops the old one, which with foreign keys on would cascade-delete its children.
    `client_timeout=False` is for migrations on PostgreSQL: an upgrade may wait for
    another's lock for as long as it takes, so the driver must not give up on it.

    On PostgreSQL this engine serves migrations, tools and tests; requests run on asyncpg's
    own pool (`Database`, `postgres.py`)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _create_sqlite_engine(settings.database_url, enforce_foreign_keys)
    connect_args = postgres.connect_arguments(settings, client_timeout=client_timeout)
    if settings.db_pgbouncer:
        # No statement cache, and a name no other client's statement on the same server
        # connection can have (SQLAlchemy's recipe for PgBouncer; its transactions keep
        # the prepare and its execution on one server connection).
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args=connect_args,
        hide_parameters=True,  # an error's log line quotes the SQL, never the values
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def _connect(dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
    """Open a connection; a refused, reset or timed-out one becomes the driver's
    OperationalError (SQLSTATE 08001) like any other failure to connect, since the
    asyncpg adapter lets OSError and TimeoutError through unwrapped."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        failure: Any = dialect.loaded_dbapi.OperationalError(f"cannot connect: {error!r}", error)
        failure.sqlstate = failure.pgcode = postgres.CANNOT_CONNECT
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
    transient = sqlstate in _TRANSIENT_SQLSTATES
    return busy or transient or sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES


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
    engine = create_async_engine(url, hide_parameters=True)  # as above
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        path = Path(url.database)

        @event.listens_for(engine.sync_engine, "do_connect")
        def _private_file(*_: Any) -> None:
            _create_private_file(path)  # on first connect: tools that never connect create none

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
        # A list's `contains` and `q` ignore case beyond ASCII, as PostgreSQL's ILIKE does.
        dbapi_connection.create_function("unicode_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_SQLITE_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _lower(text: str | None) -> str | None:
    return None if text is None else text.lower()


def _create_private_file(path: Path) -> None:
    """Create the database file, and the directories it needs, for this user alone (0600,
    0700): it holds password hashes. SQLite creates its -wal and -shm files with the mode
    of the database file. A file or directory that already exists is left as it is."""
    missing = list(itertools.takewhile(lambda parent: not parent.exists(), path.parents))
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)  # exist_ok: another process was first
    with suppress(FileExistsError):  # SQLite opens the empty file as an empty database
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Record(Protocol):
    """A row as a statement returned it: columns read by attribute (`row.version`) or index."""

    def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, key: Any) -> Any: ...


class Database:
    """Runs statements; commits in exactly one place, `transaction()`.

    A simple request runs one statement, and that statement is its own transaction: on
    PostgreSQL it runs on an asyncpg connection in autocommit mode (`postgres.py`), so
    no BEGIN/COMMIT round trips, no reset on release and no ping before use. A request
    of several statements that must stand or fall together (an Idempotency-Key) runs
    them inside `async with database.transaction():`, and every statement of that task
    then runs on the transaction's connection. SQLite runs statements through SQLAlchemy
    Core, each connection in a local transaction (no round trips there); its
    `transaction()` takes the write lock when it begins, so two never deadlock upgrading
    a read lock.

    Bound to one SQLAlchemy connection (tests), each statement or transaction runs in a
    savepoint of it, so a failed request rolls back its own statements only.
    """

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        settings: Settings | None = None,
        **session_options: Any,
    ) -> None:
        self.bind = bind
        self.dialect = bind.dialect
        self.dialect_name = bind.dialect.name
        self._settings = settings or Settings.model_construct()
        self._current: ContextVar[Any] = ContextVar("connection", default=None)
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        writer = bind
        if isinstance(bind, AsyncEngine):
            writer = for_writing(bind)
        options = {"expire_on_commit": False, "autoflush": False, **session_options}
        self._sessions = async_sessionmaker(writer, **options)
        self._writer = writer

    # ------------------------------------------------------------------ statements

    async def read(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        """The rows of a read, tried once more if the pooled connection turned out dead.

        After a database restart the first statement on an old connection fails at once,
        and the read is simply run again on a new one. A failure that took long (a silent
        host, a timeout) is not retried: that would only double the wait before the 503.
        """
        started = time.monotonic()
        try:
            return await self._run(statement, params)
        except sa_exc.DBAPIError as error:
            fast = time.monotonic() - started < _RETRY_WITHIN_SECONDS
            if not (error.connection_invalidated and fast and self._current.get() is None):
                raise
        return await self._run(statement, params)

    async def write(self, statement: Executable, params: Mapping[str, Any]) -> Record | None:
        """The first row a write returned (`RETURNING`); never retried."""
        rows = await self._run(statement, params)
        return rows[0] if rows else None

    async def write_all(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        """Every row a write returned (`RETURNING`); never retried."""
        return await self._run(statement, params)

    async def estimate(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """PostgreSQL's planner estimate of the rows `statement` returns (EXPLAIN, as
        PostgREST's `count=planned`): no row is read."""
        async with self._driver() as connection:
            return await postgres.explain_rows(connection, statement, params, self.dialect)

    async def _run(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        if self.dialect_name == "postgresql":
            async with self._driver() as driver:
                return await postgres.fetch(driver, statement, params, self.dialect)
        async with self._core() as connection:
            result = await connection.execute(statement, params)
            return result.all() if result.returns_rows else []

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[asyncpg.Connection]:
        """PostgreSQL: the transaction's connection, a savepoint of the bound one, or a
        connection of the pool."""
        current = self._current.get()
        if current is not None:
            yield current
        elif isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                yield (await self.bind.get_raw_connection()).driver_connection
        else:
            pool = await self._connection_pool()
            # A free connection is taken at once; only a wait for one needs the timeout,
            # whose timer costs on every request (asyncpg's `wait_for`).
            timeout = None if pool.get_idle_size() else self._settings.db_pool_timeout
            try:
                connection = await pool.acquire(timeout=timeout)
            except postgres.DRIVER_ERRORS as error:
                raise postgres.translated(error, self.dialect) from error
            try:
                yield connection
            except BaseException as error:
                if postgres.leaves_connection_unusable(error):
                    # The pool opens a new one in its place. One whose server went away
                    # (a primary lost in a failover) was already given back by asyncpg,
                    # and terminate() then raises InterfaceError.
                    with suppress(asyncpg.InterfaceError):
                        connection.terminate()
                raise
            finally:
                await pool.release(connection)

    @asynccontextmanager
    async def _core(self) -> AsyncIterator[AsyncConnection]:
        """SQLite: the transaction's connection, a savepoint of the bound one, or a new one
        (one statement takes the write lock itself if it writes)."""
        current = self._current.get()
        if current is not None:
            yield current
        elif isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                yield self.bind
        else:
            async with self.bind.begin() as connection:
                yield connection

    async def _connection_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    assert isinstance(self.bind, AsyncEngine)
                    self._pool = await postgres.create_pool(self.bind.url, self._settings)
        return self._pool

    # ---------------------------------------------------------------- transactions

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the statements of the block in one transaction: committed when it ends,
        rolled back on any error. Inside another transaction it simply joins it."""
        if self._current.get() is not None:
            yield
        elif isinstance(self.bind, AsyncConnection):
            async with self.bind.begin_nested():
                connection: Any = self.bind
                if self.dialect_name == "postgresql":
                    connection = (await self.bind.get_raw_connection()).driver_connection
                with self._joined(connection):
                    yield
        elif self.dialect_name == "postgresql":
            async with self._driver() as driver:
                try:
                    async with driver.transaction():
                        with self._joined(driver):
                            yield
                except postgres.DRIVER_ERRORS as error:
                    raise postgres.translated(error, self.dialect) from error
        else:
            async with self._writer.begin() as core:
                with self._joined(core):
                    yield

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Inside a transaction, a block whose failure undoes its own statements only, so the
        transaction goes on (a create tried again with another slug); elsewhere, the block."""
        current = self._current.get()
        if current is None:
            yield
        elif self.dialect_name == "postgresql":
            try:
                async with current.transaction():  # asyncpg: a SAVEPOINT inside a transaction
                    yield
            except postgres.DRIVER_ERRORS as error:
                raise postgres.translated(error, self.dialect) from error
        else:
            async with current.begin_nested():
                yield

    @contextmanager
    def _joined(self, connection: Any) -> Iterator[None]:
        token = self._current.set(connection)
        try:
            yield
        finally:
            self._current.reset(token)

    # ----------------------------------------------------------------------- tools

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM unit of work, for tools and tests; requests use the statements above."""
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            if session.in_transaction():
                await session.commit()

    def pool_stats(self) -> tuple[int, int]:
        """(connections open, connections in use), both pools together."""
        size = in_use = 0
        if self._pool is not None:
            size, in_use = self._pool.get_size(), self._pool.get_size() - self._pool.get_idle_size()
        pool = self.bind.pool if isinstance(self.bind, AsyncEngine) else None
        if isinstance(pool, QueuePool):
            size, in_use = size + pool.checkedin() + pool.checkedout(), in_use + pool.checkedout()
        return size, in_use

    async def close(self) -> None:
        """Close asyncpg's pool (whoever made the engine disposes of it)."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

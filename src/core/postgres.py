"""SQLAlchemy statements run on asyncpg connections, each compiled once: PostgreSQL's hot path.

SQLAlchemy builds every statement from the models and compiles it, once per statement
object, to PostgreSQL's SQL; a request then costs one asyncpg call on a connection of
asyncpg's own pool. Going through SQLAlchemy's connection, execution context and result
objects instead cost about 150 µs of CPU per statement here (measured against the same
statement on the same pool), which is most of what a simple request costs.

Errors leave as SQLAlchemy's would (`IntegrityError`, `DBAPIError` with the driver's
SQLSTATE and `connection_invalidated`), so the error handlers do not know which path ran.
A driver timeout stays a bare `TimeoutError`, as SQLAlchemy leaves it too.
"""

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.sql import Executable

from src.core.config import Settings

# The SQLSTATE given to a connection the driver could not open (refused, reset, timed out).
CANNOT_CONNECT = "08001"


class Record(asyncpg.Record):  # type: ignore[misc]
    """A row whose columns read as attributes as well, as SQLAlchemy's rows do."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@cache
def record_class(columns: tuple[str, ...]) -> type[Record]:
    """A `Record` with its columns as properties. Reading `row.name` through `__getattr__`
    first fails the normal lookup (an AttributeError made and dropped): a response schema
    validated from a row took 13 µs that way, 5 µs with properties."""
    names = [name for name in columns if name.isidentifier() and not hasattr(Record, name)]
    return type("Record", (Record,), {name: property(itemgetter(name)) for name in names})


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    names: tuple[str, ...]
    """The bound parameters, in the order of `$1, $2, ...`."""
    defaults: Mapping[str, Any]
    """Values fixed in the statement itself (the 1 of `version + 1`)."""
    required: frozenset[str]
    processors: Mapping[str, Callable[[Any], Any]]
    record: type[Record]
    """The class of the rows it returns (`record_class`)."""

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> "Compiled":
        compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        binds = compiled.binds
        return cls(
            sql=compiled.string,
            names=tuple(compiled.positiontup or ()),
            defaults={name: bind.value for name, bind in binds.items() if not bind.required},
            required=frozenset(name for name, bind in binds.items() if bind.required),
            processors={
                name: processor
                for name, processor in compiled._bind_processors.items()
                if processor is not None
            },
            record=record_class(tuple(entry.keyname for entry in compiled._result_columns)),
        )

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        missing = self.required.difference(params)
        if missing:
            raise sa_exc.ArgumentError(f"no value for bound parameters {sorted(missing)}")
        values = {**self.defaults, **params}
        arguments = []
        for name in self.names:
            value = values[name]
            processor = self.processors.get(name)
            arguments.append(value if processor is None else processor(value))
        return arguments


_compiled: dict[Executable, Compiled] = {}
"""Keyed by statement object: statements are built once and kept (`Repository._statement`,
module constants), so this holds one entry per statement shape."""


def compiled(statement: Executable, dialect: Dialect) -> Compiled:
    found = _compiled.get(statement)
    if found is None:
        found = _compiled[statement] = Compiled.of(statement, dialect)
    return found


async def fetch(
    connection: asyncpg.Connection,
    statement: Executable,
    params: Mapping[str, Any],
    dialect: Dialect,
) -> Sequence[Record]:
    query = compiled(statement, dialect)
    try:
        rows: list[Record] = await connection.fetch(
            query.sql, *query.arguments(params), record_class=query.record
        )
        return rows
    except TimeoutError:
        raise  # the driver's command_timeout: left bare, as SQLAlchemy leaves it
    except DRIVER_ERRORS as error:
        raise translated(error, dialect) from error


async def explain_rows(
    connection: asyncpg.Connection,
    statement: Executable,
    params: Mapping[str, Any],
    dialect: Dialect,
) -> int:
    """The planner's estimate of the rows `statement` returns; no row is read."""
    query = compiled(statement, dialect)
    try:
        plan = await connection.fetchval(
            f"EXPLAIN (FORMAT JSON) {query.sql}", *query.arguments(params)
        )
    except TimeoutError:
        raise  # the driver's command_timeout: left bare, as SQLAlchemy leaves it
    except DRIVER_ERRORS as error:
        raise translated(error, dialect) from error
    document = json.loads(plan) if isinstance(plan, str) else plan
    return int(document[0]["Plan"]["Plan Rows"])


DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


def leaves_connection_unusable(error: BaseException) -> bool:
    """Whether a connection may be in the middle of something after `error`: anything but
    an error the server reported (a constraint, a statement timeout) or one of ours."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or not isinstance(
            error.__cause__, asyncpg.PostgresError
        )
    return isinstance(error, (TimeoutError, asyncio.CancelledError, *DRIVER_ERRORS))


def translated(error: Exception, dialect: Dialect) -> Exception:
    """The SQLAlchemy exception SQLAlchemy itself would raise for this driver error."""
    dbapi: Any = dialect.loaded_dbapi
    if isinstance(error, OSError):  # refused, reset: the driver lets these through
        orig = dbapi.OperationalError(f"cannot connect: {error!r}")
        orig.pgcode = orig.sqlstate = CANNOT_CONNECT
    else:
        kind = next(
            (
                dbapi._asyncpg_error_translate[kind]
                for kind in type(error).__mro__
                if kind in dbapi._asyncpg_error_translate
            ),
            dbapi.Error,
        )
        orig = kind(f"{type(error)}: {error}")
        orig.pgcode = orig.sqlstate = getattr(error, "sqlstate", None)
    invalidated = dialect.is_disconnect(orig, None, None) or not isinstance(
        error, asyncpg.PostgresError
    )
    wrapped: Exception = sa_exc.DBAPIError.instance(
        None, None, orig, dbapi.Error, connection_invalidated=invalidated, dialect=dialect
    )
    return wrapped


async def init_connection(connection: asyncpg.Connection) -> None:
    """JSON columns read as Python values; written as the text SQLAlchemy's JSON type makes."""
    for name in ("json", "jsonb"):
        await connection.set_type_codec(
            name, encoder=_same, decoder=json.loads, schema="pg_catalog"
        )


def _same(text: str) -> str:
    return text


# How much longer than statement_timeout the client waits for an answer: enough that a
# server which can still answer reports its own timeout first.
_CLIENT_TIMEOUT_MARGIN = 2.0


def connect_arguments(settings: Settings, *, client_timeout: bool = True) -> dict[str, Any]:
    """asyncpg's connection settings, the same for asyncpg's pool and SQLAlchemy's engine.

    `client_timeout=False` is for migrations: an upgrade may wait for another's lock for as
    long as it takes, so the driver must not give up on it."""
    arguments: dict[str, Any] = {
        "timeout": settings.db_connect_timeout,
        "server_settings": {
            "application_name": "featwright",
            "statement_timeout": str(round(settings.db_statement_timeout * 1000)),
        },
    }
    if settings.db_pgbouncer:
        # PgBouncer hands each transaction any server connection: asyncpg then re-parses an
        # unnamed statement with each execution, in the same round trip (its documented
        # setting for PgBouncer); PgBouncer 1.18 refuses a statement_timeout at connect.
        arguments["statement_cache_size"] = 0
        arguments["server_settings"] = {"application_name": "featwright"}
    if client_timeout:
        # A host gone silent (network partition, frozen VM) answers nothing, not even its
        # statement_timeout: without this a statement on a pooled connection would wait
        # for the OS to give up on TCP, minutes later.
        arguments["command_timeout"] = settings.db_statement_timeout + _CLIENT_TIMEOUT_MARGIN
    return arguments


async def _keep(connection: asyncpg.Connection) -> None:
    """No reset on release: nothing a request does outlives it on the connection (no
    LISTEN, no session settings, no session advisory locks, no open transaction), and
    asyncpg's default reset is one more round trip per request."""


async def create_pool(url: URL, settings: Settings) -> asyncpg.Pool:
    """asyncpg's pool for `url`, with the same timeouts as SQLAlchemy's engine."""
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=settings.db_pool_size,
        init=init_connection,
        reset=_keep,
        **connect_arguments(settings),
    )
    return pool

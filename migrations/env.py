"""Alembic environment: async engine from the app's settings, every model's metadata.

Concurrent upgrades (several instances starting at once) run one after the other:
each holds the database's lock for migrations from before it reads the current
revision until it commits, so the others find the schema already at head.
"""

import asyncio
import logging.config

from alembic import context
from sqlalchemy.engine import Connection

from src.core.config import get_settings
from src.core.database import create_engine, for_writing
from src.core.migrations import comparison_options
from src.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        **comparison_options(connection.dialect.name),
        # SQLite's DDL is transactional too; one transaction holds its write lock throughout.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # A migration, and an upgrade waiting for another's lock, may take as long as
            # it takes: the app's statement_timeout is for requests.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('featwright migrations'))"
            )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {dangling}")


async def run_async_migrations() -> None:
    settings = get_settings()
    url = config.attributes.get("database_url") or settings.database_url
    # SQLite batch migrations rebuild tables; with foreign keys on, dropping the old
    # table would cascade-delete every child row. Integrity is checked afterwards. On
    # PostgreSQL the driver must not give up while an upgrade waits for another's lock.
    engine = create_engine(
        settings.model_copy(update={"database_url": url}),
        enforce_foreign_keys=False,
        client_timeout=False,
    )
    # On SQLite the lock is the write lock, taken by BEGIN IMMEDIATE.
    async with for_writing(engine).connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("featwright migrations run online only: set DATABASE_URL and upgrade.")
asyncio.run(run_async_migrations())

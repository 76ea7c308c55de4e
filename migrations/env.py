"""Alembic environment: async engine from the app's settings, every model's metadata."""

import asyncio
import logging.config

from alembic import context
from sqlalchemy.engine import Connection

from src.core.config import get_settings
from src.core.database import create_engine
from src.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {dangling}")


async def run_async_migrations() -> None:
    settings = get_settings()
    url = config.attributes.get("database_url") or settings.database_url
    # SQLite batch migrations rebuild tables; with foreign keys on, dropping the old
    # table would cascade-delete every child row. Integrity is checked afterwards.
    engine = create_engine(
        settings.model_copy(update={"database_url": url}), enforce_foreign_keys=False
    )
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("featwright migrations run online only: set DATABASE_URL and upgrade.")
asyncio.run(run_async_migrations())

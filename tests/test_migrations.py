"""Migrations: the migrated schema matches the models, and the history runs both ways."""

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from src.cli import alembic_config
from src.core.migrations import comparison_options
from src.models import Base

APP_TABLES = set(Base.metadata.tables)  # whatever features the project has


def _diff(connection: Connection) -> list[Any]:
    # The same comparison options as migrations/env.py (what `alembic check` runs).
    context = MigrationContext.configure(
        connection, opts=comparison_options(connection.dialect.name)
    )
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrated_database_do_not_drift(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff)

    assert diff == []


async def test_autogenerate_comparison_sees_a_real_drift(engine: AsyncEngine) -> None:
    """The control for the test above: a dropped index is reported, so `[]` means no drift."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.exec_driver_sql("DROP INDEX ix_tasks_project_id_created_at_id")
        diff = await connection.run_sync(_diff)
        await transaction.rollback()

    assert [entry[0] for entry in diff] == ["add_index"]
    assert diff[0][1].name == "ix_tasks_project_id_created_at_id"


def _tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def _revision(path: Path) -> str | None:
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


async def test_downgrade_to_base_and_upgrade_to_head(tmp_path: Path) -> None:
    path = tmp_path / "migrations.db"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    config.attributes["configure_logger"] = False
    head = ScriptDirectory.from_config(config).get_current_head()

    await asyncio.to_thread(command.upgrade, config, "head")
    upgraded = (_tables(path), _revision(path))
    await asyncio.to_thread(command.downgrade, config, "base")
    downgraded = (_tables(path), _revision(path))
    await asyncio.to_thread(command.upgrade, config, "head")
    upgraded_again = (_tables(path), _revision(path))

    assert head is not None
    assert upgraded == (APP_TABLES | {"alembic_version"}, head)
    assert downgraded == ({"alembic_version"}, None)
    assert upgraded_again == upgraded

"""Migrations: the migrated schema matches the models, and the history runs both ways."""

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from src.cli import alembic_config
from src.core.migrations import comparison_options
from src.models import Base
from src.models.base import UTCDateTime, utcnow
from tests.live_server import require_postgres, scratch_database

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


@asynccontextmanager
async def _empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with nothing in it yet, of the backend named."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'names.db'}"
    else:
        async with scratch_database("migration") as url:
            yield url


# The users table as revision 0004 left it: no name.
_USERS_0004 = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("hashed_password", sa.String()),
    sa.column("is_superuser", sa.Boolean()),
    sa.column("created_at", UTCDateTime(timezone=True)),
    sa.column("updated_at", UTCDateTime(timezone=True)),
)
_LONG_LOCAL_PART = "l" * 120  # longer than any name: the column holds 320 characters


def _user_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in sa.inspect(connection).get_columns("users")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_0005_names_every_existing_user_after_the_local_part_of_their_email(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        require_postgres(request.config)
    async with _empty_database(backend, tmp_path) as url:
        config = alembic_config(url)
        config.attributes["configure_logger"] = False
        engine = create_async_engine(url)
        try:
            await asyncio.to_thread(command.upgrade, config, "0004")
            emails = ["ada.lovelace@example.com", f"{_LONG_LOCAL_PART}@example.com"]
            now = utcnow()
            rows = [
                {"id": uuid.uuid4(), "email": email, "hashed_password": "!", "is_superuser": False}
                for email in emails
            ]
            async with engine.begin() as connection:
                await connection.execute(
                    sa.insert(_USERS_0004).values(created_at=now, updated_at=now), rows
                )

            await asyncio.to_thread(command.upgrade, config, "0005")
            async with engine.connect() as connection:
                named = (await connection.execute(sa.text("SELECT email, name FROM users"))).all()
            await asyncio.to_thread(command.downgrade, config, "0004")
            async with engine.connect() as connection:
                kept = (await connection.execute(sa.select(_USERS_0004.c.email))).scalars().all()
                columns = await connection.run_sync(_user_columns)
        finally:
            await engine.dispose()

    assert sorted(named) == [
        ("ada.lovelace@example.com", "ada.lovelace"),
        (f"{_LONG_LOCAL_PART}@example.com", "l" * 100),
    ]
    assert sorted(kept) == sorted(emails)
    assert "name" not in columns

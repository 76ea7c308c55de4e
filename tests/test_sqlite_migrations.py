"""A migration that rebuilds a table on SQLite keeps the rows that point at it."""

import asyncio
import shutil
import sqlite3
import uuid
from pathlib import Path

from alembic import command

from src.cli import alembic_config

REBUILD_PROJECTS = '''"""widen projects.name (rebuilds the table on SQLite)"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("projects", recreate="always") as batch_op:
        batch_op.alter_column("name", type_=sa.String(300))


def downgrade() -> None:
    with op.batch_alter_table("projects", recreate="always") as batch_op:
        batch_op.alter_column("name", type_=sa.String(200))
'''


def _seed(database: Path) -> None:
    user, project = uuid.uuid4().hex, uuid.uuid4().hex
    now = "2026-01-01 00:00:00.000000"
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO users VALUES (?, 'a@example.com', '!', 0, ?, ?)", (user, now, now)
        )
        connection.execute(
            "INSERT INTO projects VALUES (?, ?, 'p', NULL, 'active', ?, ?)",
            (project, user, now, now),
        )
        for title in ("a", "b", "c"):
            connection.execute(
                "INSERT INTO tasks (id, owner_id, project_id, title, done, priority, due_date,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, 0, 3, NULL, ?, ?)",
                (uuid.uuid4().hex, user, project, title, now, now),
            )


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


async def test_table_rebuild_keeps_child_rows(tmp_path: Path, root_dir: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(root_dir / "migrations", scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_rebuild_projects.py").write_text(REBUILD_PROJECTS)
    database = tmp_path / "rebuild.db"
    config = alembic_config(f"sqlite+aiosqlite:///{database}")
    config.set_main_option("script_location", str(scripts))
    config.attributes["configure_logger"] = False

    await asyncio.to_thread(command.upgrade, config, "0001")
    _seed(database)
    await asyncio.to_thread(command.upgrade, config, "9999")

    assert (_count(database, "projects"), _count(database, "tasks")) == (1, 3)
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []

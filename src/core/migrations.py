"""Where the Alembic migrations are, for the CLI, the engine and the tests."""

from pathlib import Path

import sqlalchemy as sa
from alembic import op
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    """The project's Alembic config; `database_url` overrides DATABASE_URL."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


class MigrationRefused(Exception):
    """A migration found rows its new rules would break, before it changed anything."""


def refuse_rows(table: str, where: str, problem: str) -> None:
    """Stop the migration (the upgrade's transaction rolls back) if rows of `table` match
    `where`: `featwright db upgrade` says how many rows, and which rule, and exits 1."""
    count = op.get_bind().scalar(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"))  # noqa: S608
    if count:
        raise MigrationRefused(f"{table}: rows that {problem}: {count}; nothing was changed")

"""Where the Alembic migrations are, for the CLI, the engine and the tests."""

from pathlib import Path

from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    """The project's Alembic config; `database_url` overrides DATABASE_URL."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config

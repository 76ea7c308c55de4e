"""Where the Alembic migrations are, for the CLI, the engine and the tests."""

import uuid
from pathlib import Path
from typing import Any

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


def comparison_options(dialect: str) -> dict[str, Any]:
    """How Alembic compares the models with a database (env.py's autogenerate, the engine's
    proof, the drift tests): types too, and only what this dialect creates (an index made
    for PostgreSQL alone, as a trigram index, with `ddl_if(dialect="postgresql")`)."""

    def created_here(item: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
        condition = getattr(item, "_ddl_if", None)
        if kind != "index" or reflected or condition is None or condition.dialect is None:
            return True
        dialects = condition.dialect
        return dialect in ((dialects,) if isinstance(dialects, str) else dialects)

    return {
        "compare_type": True,
        "render_as_batch": dialect == "sqlite",
        "include_object": created_here,
    }


class MigrationRefused(Exception):
    """A migration found rows its new rules would break, before it changed anything."""


SHOWN_IDS = 5
"""How many offending rows a refusal names: enough to find the pattern, one line still."""


def refuse_rows(table: str, where: str, problem: str) -> None:
    """Stop the migration (the upgrade's transaction rolls back) if rows of `table` match
    `where`: `featwright db upgrade` says, in one line, how many rows break which rule, the ids
    of the first few, what to do, and exits 1. `problem` is said of rows, in the plural."""
    connection = op.get_bind()
    condition = sa.text(where)
    count = connection.scalar(
        sa.select(sa.func.count()).select_from(sa.table(table)).where(condition)
    )
    if count:
        ids = connection.scalars(
            sa.select(sa.column("id", sa.Uuid))
            .select_from(sa.table(table))
            .where(condition)
            .order_by(sa.column("id"))
            .limit(SHOWN_IDS)
        )
        raise MigrationRefused(
            f"{table}: {_rows(count, problem)}, {_ids(count, list(ids))}; fix or delete them,"
            " then run featwright db upgrade again; nothing was changed"
        )


def _rows(count: int, problem: str) -> str:
    """`2 rows break the rule`, `1 row breaks the rule`."""
    if count != 1:
        return f"{count} rows {problem}"
    verb, _, rest = problem.partition(" ")
    return f"1 row {'has' if verb == 'have' else f'{verb}s'} {rest}"


def _ids(count: int, ids: list[uuid.UUID]) -> str:
    """`id a`, `ids a, b`, or `e.g. ids a, ..., e` when there are more than those."""
    listed = ", ".join(map(str, ids))
    if count == 1:
        return f"id {listed}"
    return f"{'e.g. ' if count > len(ids) else ''}ids {listed}"

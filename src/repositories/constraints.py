"""Which unique key a failed write broke, as each database reports it: the 409 that names
the field (src/api/problems.py), and a derived slug taken by another row meanwhile (the
repository retries with the next free one)."""

import re

from sqlalchemy import Index, Table, UniqueConstraint
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from src.models.base import Base


def violated_unique_key(exc: IntegrityError) -> tuple[str, tuple[str, ...]] | None:
    """The model and the columns (the field last) of the unique index or constraint a write
    broke, as the database names it: PostgreSQL by its name (`constraint_name`, asyncpg's),
    SQLite by its columns (`UNIQUE constraint failed: labels.owner_id, labels.name`)."""
    name = next(
        (
            found
            for error in (exc.orig, getattr(exc.orig, "__cause__", None), exc.__cause__)
            if (found := getattr(error, "constraint_name", None))
        ),
        None,
    )
    failed = re.search(r"UNIQUE constraint failed: (.+)$", str(exc.orig))
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        assert isinstance(table, Table)
        for key in [*table.indexes, *table.constraints]:
            if not isinstance(key, UniqueConstraint) and not (
                isinstance(key, Index) and key.unique
            ):
                continue
            columns = tuple(column.name for column in key.columns)
            listed = ", ".join(f"{table.name}.{column}" for column in columns)
            if (failed and failed[1] == listed) or (name and name in names_of(key)):
                return mapper.class_.__name__, columns
    return None


_POSTGRES = make_url("postgresql+asyncpg://").get_dialect()()


def names_of(key: Index | UniqueConstraint) -> set[str]:
    """An index's name in the models, and in PostgreSQL (which truncates one past 63
    characters, as SQLAlchemy's naming convention then does)."""
    if not key.name:
        return set()
    preparer = _POSTGRES.identifier_preparer
    stored = (
        preparer.format_index(key) if isinstance(key, Index) else preparer.format_constraint(key)
    )
    return {str(key.name), (stored or "").strip('"')}

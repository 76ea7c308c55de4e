"""A change migration's refusal is one line: how many rows, which rule, their ids, what to do."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.migrations import MigrationRefused, refuse_rows

PROBE = sa.Table(
    "refusal_probe",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("weight", sa.Integer),
)
RULE = "break the new rule (weight int(0..10) not null)"


def _refusal(engine_connection: Connection, weights: list[int]) -> tuple[str | None, list[str]]:
    """refuse_rows over a table of these weights, as a migration runs it: its message (None
    when it lets the migration go on) and the rows' ids in id order."""
    PROBE.create(engine_connection)
    ids = sorted(uuid.uuid4() for _ in weights)
    engine_connection.execute(
        PROBE.insert(), [{"id": i, "weight": w} for i, w in zip(ids, weights, strict=True)]
    )
    with Operations.context(MigrationContext.configure(engine_connection)):
        try:
            refuse_rows("refusal_probe", '"weight" > 10', RULE)
        except MigrationRefused as refused:
            return str(refused), [str(i) for i in ids]
    return None, [str(i) for i in ids]


async def _run(engine: AsyncEngine, weights: list[int]) -> tuple[str | None, list[str]]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            return await connection.run_sync(_refusal, weights)
        finally:
            await transaction.rollback()


async def test_the_refusal_is_one_line_naming_the_rows(engine: AsyncEngine) -> None:
    message, ids = await _run(engine, [50, 5, 11])

    assert message == (
        f"refusal_probe: 2 rows break the new rule (weight int(0..10) not null), ids {ids[0]},"
        f" {ids[2]}; fix or delete them, then run featwright db upgrade again; nothing was changed"
    )


async def test_one_row_is_one_row(engine: AsyncEngine) -> None:
    message, ids = await _run(engine, [50, 5])

    assert message is not None
    assert message.startswith(
        f"refusal_probe: 1 row breaks the new rule (weight int(0..10) not null), id {ids[0]};"
    )


@pytest.mark.parametrize("rows", [7, 12])
async def test_past_five_rows_five_ids_are_named_as_examples(
    engine: AsyncEngine, rows: int
) -> None:
    message, ids = await _run(engine, [99] * rows)

    assert message is not None
    assert f"refusal_probe: {rows} rows break" in message
    assert f"e.g. ids {', '.join(ids[:5])};" in message
    assert "\n" not in message


async def test_rows_that_keep_the_rule_let_the_migration_go_on(engine: AsyncEngine) -> None:
    assert (await _run(engine, [0, 10]))[0] is None

"""Demo rows in bulk: one INSERT ... SELECT per batch, the rows made by the database
(`featwright db seed`, `make bench`), not one request or one statement per row."""

import uuid
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_POSTGRES = text(
    "INSERT INTO projects (id, owner_id, name, description, status, created_at, updated_at,"
    " version)"
    " SELECT gen_random_uuid(), :owner, 'project-' || n, NULL, 'active', ts, ts, 1"
    " FROM (SELECT n, CAST(:start AS timestamptz) + n * interval '1 millisecond' AS ts"
    "       FROM generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS n) AS rows"
)
_SQLITE = text(
    "WITH RECURSIVE seq(n) AS (SELECT :low UNION ALL SELECT n + 1 FROM seq WHERE n < :high)"
    " INSERT INTO projects (id, owner_id, name, description, status, created_at, updated_at,"
    " version)"
    " SELECT lower(hex(randomblob(16))), :owner, 'project-' || n, NULL, 'active', ts, ts, 1"
    " FROM (SELECT n, strftime('%Y-%m-%d %H:%M:%f', :start, '+' || (n / 1000.0) || ' seconds')"
    "       AS ts FROM seq)"
)


async def seed_projects(
    engine: AsyncEngine, owner_id: uuid.UUID, low: int, high: int, start: datetime
) -> None:
    """Projects `project-LOW` .. `project-HIGH` of `owner_id`, created a millisecond apart
    from `start` (so lists have a stable order)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            params = {"owner": owner_id, "start": start, "low": low, "high": high}
            await connection.execute(_POSTGRES, params)
        else:
            moment = start.strftime("%Y-%m-%d %H:%M:%S.%f")
            params = {"owner": owner_id.hex, "start": moment, "low": low, "high": high}
            await connection.execute(_SQLITE, params)

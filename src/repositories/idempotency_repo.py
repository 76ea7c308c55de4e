"""Stored create responses, keyed by (owner, route, Idempotency-Key). Never commits.

Records are not resources, so they do not go through `OwnedRepository`; the owner is
part of the primary key instead, and every statement here names it. Its statements run
inside the request's `Database.transaction()`, with the row the create writes.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select

from src.core.database import Database
from src.models.idempotency import IdempotencyRecord
from src.repositories.base import Record

_table = IdempotencyRecord.__table__
_KEY = (
    (_table.c.owner_id == bindparam("owner_id"))
    & (_table.c.route == bindparam("route"))
    & (_table.c.key == bindparam("key"))
)
_FIND = select(IdempotencyRecord.__table__).where(_KEY)
_REMOVE = delete(IdempotencyRecord).where(_KEY)
_ADD = insert(IdempotencyRecord)
_LOCK = select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("name"), 0)))
_PURGE = delete(IdempotencyRecord).where(_table.c.expires_at <= bindparam("now"))


class IdempotencyRepository:
    def __init__(self, database: Database, *, owner_id: uuid.UUID, route: str) -> None:
        self.database = database
        self.owner_id = owner_id
        self.route = route

    def _key(self, key: str) -> dict[str, Any]:
        return {"owner_id": self.owner_id, "route": self.route, "key": key}

    async def try_lock(self, key: str) -> bool:
        """Claim the key for this transaction; False if another transaction holds it.

        PostgreSQL: a transaction-scoped advisory lock, shared by every server process
        and released by commit or rollback. SQLite: a writer already holds the database
        write lock (BEGIN IMMEDIATE), so a second request waits for the first instead.
        """
        if self.database.dialect_name != "postgresql":
            return True
        name = f"idempotency:{self.owner_id}:{self.route}:{key}"
        async with self.database.connect() as connection:
            return bool((await connection.execute(_LOCK, {"name": name})).scalar())

    async def find(self, key: str) -> Record | None:
        async with self.database.connect() as connection:
            return (await connection.execute(_FIND, self._key(key))).first()

    async def add(self, key: str, **values: Any) -> None:
        async with self.database.connect() as connection:
            await connection.execute(_ADD, {**self._key(key), **values})

    async def remove(self, key: str) -> None:
        async with self.database.connect() as connection:
            await connection.execute(_REMOVE, self._key(key))


async def purge_expired(database: Database, now: datetime) -> int:
    """Delete every record that has expired (served by the `expires_at` index)."""
    async with database.connect() as connection:
        result = await connection.execute(_PURGE, {"now": now})
    return int(result.rowcount or 0)

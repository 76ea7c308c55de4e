"""Stored create responses, keyed by (owner, route, Idempotency-Key). Never commits.

Records are not resources, so they do not go through `OwnedRepository`; the owner is
part of the primary key instead, and every statement here names it. Its statements run
inside the request's `Database.transaction()`, with the row the create writes.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select

from src.core.database import Database, Record
from src.models.idempotency import IdempotencyRecord

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
_PURGE = (
    delete(IdempotencyRecord).where(_table.c.expires_at <= bindparam("now")).returning(_table.c.key)
)


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
        rows = await self.database.read(_LOCK, {"name": name})
        return bool(rows[0][0])

    async def find(self, key: str) -> Record | None:
        rows = await self.database.read(_FIND, self._key(key))
        return rows[0] if rows else None

    async def add(self, key: str, **values: Any) -> None:
        await self.database.write(_ADD, {**self._key(key), **values})

    async def remove(self, key: str) -> None:
        await self.database.write(_REMOVE, self._key(key))


async def purge_expired(database: Database, now: datetime) -> int:
    """Delete every record that has expired (served by the `expires_at` index)."""
    return len(await database.read(_PURGE, {"now": now}))

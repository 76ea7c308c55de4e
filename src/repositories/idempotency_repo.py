"""Stored create responses, keyed by (owner, route, Idempotency-Key). Never commits.

Records are not resources, so they do not go through `OwnedRepository`; the owner is
part of the primary key instead, and every statement here names it.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from src.models.idempotency import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: AsyncSession, *, owner_id: uuid.UUID, route: str) -> None:
        self.session = session
        self.owner_id = owner_id
        self.route = route

    async def try_lock(self, key: str) -> bool:
        """Claim the key for this transaction; False if another transaction holds it.

        PostgreSQL: a transaction-scoped advisory lock, shared by every server process
        and released by commit or rollback. SQLite: a writer already holds the database
        write lock (BEGIN IMMEDIATE), so a second request waits for the first instead.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        name = f"idempotency:{self.owner_id}:{self.route}:{key}"
        locked = await self.session.scalar(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(name, 0)))
        )
        return bool(locked)

    async def find(self, key: str) -> IdempotencyRecord | None:
        return await self.session.get(IdempotencyRecord, (self.owner_id, self.route, key))

    async def add(self, key: str, **values: Any) -> None:
        self.session.add(
            IdempotencyRecord(owner_id=self.owner_id, route=self.route, key=key, **values)
        )
        await self.session.flush()

    async def remove(self, record: IdempotencyRecord) -> None:
        await self.session.delete(record)
        await self.session.flush()


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    """Delete every record that has expired (served by the `expires_at` index)."""
    result = await session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)

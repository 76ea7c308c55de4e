"""Idempotent creates, as Stripe's `Idempotency-Key`: a retried create never makes a second row.

The first successful answer for (user, route, key) is stored in the same transaction
as the row it created and replayed byte for byte while it lives. Failed requests
store nothing (they wrote nothing), so a retry after a 4xx runs again.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from src.core.database import Database
from src.core.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from src.repositories.idempotency_repo import IdempotencyRepository, purge_expired

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    headers: dict[str, str]


def fingerprint(data: BaseModel) -> str:
    """The validated body, so key order and whitespace do not make a request "different";
    without the values a `default_factory` made for fields not sent (a `utcnow()` default
    is new on every request, the body the client sent is not)."""
    made = {
        name
        for name, field in type(data).model_fields.items()
        if field.default_factory is not None and name not in data.model_fields_set
    }
    return hashlib.sha256(data.model_dump_json(exclude=made).encode()).hexdigest()


class IdempotencyService:
    def __init__(self, repository: IdempotencyRepository, *, ttl: timedelta, clock: Clock) -> None:
        self.repository = repository
        self.ttl = ttl
        self.clock = clock

    async def replay(self, key: str, data: BaseModel) -> StoredResponse | None:
        """The stored answer for this key, or None when the request must run.

        Takes the key's lock first, so of two concurrent requests one runs and the
        other is told it is in flight (or, on SQLite, waits and then replays).
        """
        if not await self.repository.try_lock(key):
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still in progress; retry shortly"
            )
        record = await self.repository.find(key)
        if record is None:
            return None
        if record.expires_at <= self.clock():
            await self.repository.remove(key)
            return None
        if record.fingerprint != fingerprint(data):
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body"
            )
        return StoredResponse(record.status_code, record.body, dict(record.headers))

    async def store(self, key: str, data: BaseModel, response: StoredResponse) -> None:
        now = self.clock()
        await self.repository.add(
            key,
            fingerprint=fingerprint(data),
            status_code=response.status_code,
            body=response.body,
            headers=response.headers,
            created_at=now,
            expires_at=now + self.ttl,
        )


async def purge_expired_keys(database: Database, clock: Clock) -> int:
    """Expired records of every user, in one statement (the service runs it hourly)."""
    return await purge_expired(database, clock())

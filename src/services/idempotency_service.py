"""Idempotent creates, as Stripe's `Idempotency-Key`: a retried create never makes a second row.

The first successful answer for (user, route, key) is stored in the same transaction
as the row it created and replayed byte for byte while it lives. Failed requests
store nothing (they wrote nothing), so a retry after a 4xx runs again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from src.core.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from src.repositories.idempotency_repo import IdempotencyRepository


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes
    headers: dict[str, str]


class IdempotencyService:
    def __init__(
        self,
        repository: IdempotencyRepository,
        *,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.repository = repository
        self.ttl = ttl
        self.clock = clock

    async def replay(self, key: str, fingerprint: str) -> StoredResponse | None:
        """The stored answer for this key, or None when the request must run.

        Takes the key's lock first, so of two concurrent requests one runs and the
        other is told it is in flight (or, on SQLite, waits and then replays).
        """
        if not await self.repository.try_lock(key):
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still in progress; retry shortly"
            )
        record = await self.repository.find(key)
        if record is None or record.expires_at <= self.clock():
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request body"
            )
        return StoredResponse(record.status_code, record.body, dict(record.headers))

    async def store(self, key: str, fingerprint: str, response: StoredResponse) -> None:
        now = self.clock()
        await self.repository.replace(
            key,
            now,
            fingerprint=fingerprint,
            status_code=response.status_code,
            body=response.body,
            headers=response.headers,
            created_at=now,
            expires_at=now + self.ttl,
        )

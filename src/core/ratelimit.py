"""Attempt limits for the credential endpoints: per client address and per account."""

import hashlib
import logging
import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from src.core.config import Settings
from src.core.errors import RateLimited, ServiceUnavailable

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "featwright"
REDIS_TIMEOUT_SECONDS = 2.0
"""A Redis that does not answer fails the attempt quickly instead of holding it."""
STORE_RETRY_AFTER_SECONDS = 5


class AttemptLimiter:
    """Counts attempts in a moving window: an attempt a limit refuses is not counted
    against it, and `Retry-After` is when the oldest counted attempt leaves the window.

    The counters live in Redis when REDIS_URL is set, so every process shares them;
    otherwise in this process's memory (each worker then allows the full limit)."""

    def __init__(
        self, storage: Storage, *, per_client: str, per_account: str, pool: ConnectionPool | None
    ) -> None:
        self._window = MovingWindowRateLimiter(storage)
        self._per_client = parse(per_client)
        self._per_account = parse(per_account)
        self._pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> "AttemptLimiter":
        limits = {
            "per_client": settings.rate_limit_per_client,
            "per_account": settings.rate_limit_per_account,
        }
        if not settings.redis_url:
            return cls(MemoryStorage(), pool=None, **limits)
        pool = ConnectionPool.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        options: dict[str, Any] = {"connection_pool": pool}  # ours, so aclose() can close it
        storage = RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=REDIS_KEY_PREFIX,
            wrap_exceptions=True,
            **options,
        )
        return cls(storage, pool=pool, **limits)

    async def attempt(self, *, client: str, account: str) -> None:
        """Count one attempt, or raise `RateLimited` when either limit is spent.

        The client's limit is checked first, so one address over its limit cannot also
        use up (and lock out) the accounts it tries. Accounts are emails, compared
        without case and stored as a digest: no addresses in the store, keys of bounded
        length."""
        digest = hashlib.sha256(account.lower().encode()).hexdigest()
        for limit, identifiers in (
            (self._per_client, ("client", client)),
            (self._per_account, ("account", digest)),
        ):
            try:
                if not await self._window.hit(limit, "auth", *identifiers):
                    raise RateLimited(
                        "Too many attempts; try again later",
                        retry_after=await self._retry_after(limit, identifiers),
                    )
            except StorageError as error:
                logger.warning("attempt counter unavailable, answered 503: %s", error)
                raise ServiceUnavailable(
                    "The attempt counter is unavailable; try again later",
                    retry_after=STORE_RETRY_AFTER_SECONDS,
                ) from error

    async def _retry_after(self, limit: RateLimitItem, identifiers: tuple[str, str]) -> int:
        stats = await self._window.get_window_stats(limit, "auth", *identifiers)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

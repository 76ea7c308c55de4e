"""Attempt limits for the credential endpoints, and the per-user write limit.

Logins are limited so that no one can lock a user out: every attempt counts against its
client address and its (address, account) pair, and both refuse with a 429; failures
against the account from all addresses only slow that account's logins down, one at a
time (LOGIN_SLOWDOWN_SECONDS), so the right password from a new address still works while
an attack on the account goes on elsewhere."""

import asyncio
import hashlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from src.core.config import Settings
from src.core.errors import RateLimited, ServiceUnavailable
from src.core.security import SecurityLog

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "featwright"
REDIS_TIMEOUT_SECONDS = 2.0
"""A Redis that does not answer fails the attempt quickly instead of holding it."""
STORE_RETRY_AFTER_SECONDS = 5


class AttemptLimiter:
    """Counts attempts in a moving window: an attempt a limit refuses is not counted
    against it, and `Retry-After` is when the oldest counted attempt leaves the window.
    Writes are counted in a fixed window per user (one counter: cheap on every write).

    The counters live in Redis when REDIS_URL is set, so every process shares them;
    otherwise in this process's memory (each worker then allows the full limit)."""

    def __init__(
        self, storage: Storage, settings: Settings, *, pool: ConnectionPool | None
    ) -> None:
        self._window = MovingWindowRateLimiter(storage)
        # In memory, a counter of our own (see LocalFixedWindow); in Redis, limits' window.
        self._writes = FixedWindowRateLimiter(storage)
        self._per_client = parse(settings.rate_limit_per_client)
        self._per_pair = parse(settings.rate_limit_per_client_account)
        self._per_account = parse(settings.rate_limit_per_account)
        self._per_user_writes = parse(settings.rate_limit_writes_per_user)
        self._local_writes = (
            LocalFixedWindow(self._per_user_writes) if isinstance(storage, MemoryStorage) else None
        )
        self._slowdown = settings.login_slowdown_seconds
        self._slowed: dict[str, list[Any]] = {}
        self._pool = pool
        self.security = SecurityLog(settings.secret_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AttemptLimiter":
        if not settings.redis_url:
            return cls(MemoryStorage(), settings, pool=None)
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
        return cls(storage, settings, pool=pool)

    async def attempt(self, *, client: str) -> None:
        """Count one credential attempt (login, register, refresh) against its address."""
        async with _store():
            if not await self._window.hit(self._per_client, "auth", "client", client):
                self.security.event("client_throttled", client=client)
                raise await self._refusal(self._per_client, ("client", client))

    async def before_login(self, *, client: str, account: str) -> None:
        """Count a login against its (address, account) pair before the password is
        checked, so parallel guesses cannot all pass; slow down an account under attack,
        one login of it at a time in this process."""
        pair = ("pair", client, _digest(account))
        async with _store():
            if not await self._window.hit(self._per_pair, "auth", *pair):
                self.security.event("login_throttled", client=client, account=account)
                raise await self._refusal(self._per_pair, pair)
            under_attack = not await self._window.test(
                self._per_account, "auth", "account", _digest(account)
            )
        if under_attack and self._slowdown:
            self.security.event("login_slowed", client=client, account=account)
            async with self._one_at_a_time(_digest(account)):
                await asyncio.sleep(self._slowdown)

    async def failed_login(self, *, client: str, account: str) -> None:
        self.security.event("login_failed", client=client, account=account)
        async with _store():
            await self._window.hit(self._per_account, "auth", "account", _digest(account))

    @asynccontextmanager
    async def _one_at_a_time(self, key: str) -> AsyncIterator[None]:
        """A lock per slowed account, dropped when no one holds or waits for it: the
        slowdown then bounds the account's guesses to one per LOGIN_SLOWDOWN_SECONDS per
        process, however many connections an attacker opens."""
        entry = self._slowed.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._slowed[key]

    async def write(self, user_id: uuid.UUID) -> None:
        """Count one create, update or delete of the user; a 429 past the limit."""
        if self._local_writes is not None:
            retry_after = self._local_writes.hit(user_id)
            if retry_after is None:
                return
            raise RateLimited("Too many writes; try again later", retry_after=retry_after)
        key = user_id.hex
        try:
            if await self._writes.hit(self._per_user_writes, "writes", key):
                return
            stats = await self._writes.get_window_stats(self._per_user_writes, "writes", key)
        except StorageError as error:
            raise _unavailable(error) from error
        raise RateLimited(
            "Too many writes; try again later",
            retry_after=max(1, math.ceil(stats.reset_time - time.time())),
        )

    async def _refusal(self, limit: RateLimitItem, identifiers: tuple[str, ...]) -> RateLimited:
        stats = await self._window.get_window_stats(limit, "auth", *identifiers)
        return RateLimited(
            "Too many attempts; try again later",
            retry_after=max(1, math.ceil(stats.reset_time - time.time())),
        )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class LocalFixedWindow:
    """Fixed-window counters in this process's memory, for the per-user write limit
    without Redis. limits' MemoryStorage starts a task that walks every key on each hit:
    146k instructions per write here (bench/instructions.sh), against about 2k for this."""

    MAX_KEYS = 100_000
    """Past this many users in the table, the windows that have ended are dropped."""

    def __init__(self, limit: RateLimitItem) -> None:
        self.amount = limit.amount
        self.seconds = limit.get_expiry()
        self.windows: dict[uuid.UUID, tuple[int, int]] = {}

    def hit(self, key: uuid.UUID, now: float | None = None) -> int | None:
        """Count a hit; None if allowed, else the seconds until the window ends."""
        now = time.monotonic() if now is None else now
        window = int(now // self.seconds)
        start, count = self.windows.get(key, (window, 0))
        if start != window:
            count = 0
        if count >= self.amount:
            return max(1, math.ceil((window + 1) * self.seconds - now))
        if len(self.windows) >= self.MAX_KEYS:
            self.windows = {k: v for k, v in self.windows.items() if v[0] == window}
        self.windows[key] = (window, count + 1)
        return None


def _digest(account: str) -> str:
    """Accounts are emails, compared without case and stored as a digest: no addresses in
    the store, keys of bounded length."""
    return hashlib.sha256(account.lower().encode()).hexdigest()


@asynccontextmanager
async def _store() -> AsyncIterator[None]:
    """A counter store that fails answers 503 (and is logged), never 500."""
    try:
        yield
    except StorageError as error:
        raise _unavailable(error) from error


def _unavailable(error: StorageError) -> ServiceUnavailable:
    logger.warning("attempt counter unavailable, answered 503: %s", error)
    return ServiceUnavailable(
        "The attempt counter is unavailable; try again later",
        retry_after=STORE_RETRY_AFTER_SECONDS,
    )

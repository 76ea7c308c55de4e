"""Promise 9: on SIGTERM `featwright serve` stops accepting connections, lets the
request in flight finish with its 2xx, closes its database pool, and exits 0 within
SHUTDOWN_TIMEOUT.

The request is made slow without any debug endpoint: another connection holds a lock
its create needs (PostgreSQL: `LOCK TABLE projects`; SQLite: the write lock) until
after the signal.
"""

import asyncio
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.live_server import (
    LiveServer,
    featwright_env,
    plain_dsn,
    require_postgres,
    running_server,
    scratch_database,
    sign_up,
    upgrade,
)
from tests.reliability.figures import assert_figure

SHUTDOWN_TIMEOUT = 10
DISPOSED = "Database connections closed (pools closed)"

# Holds a lock on the database at a URL; yields a coroutine that returns once the
# server's request waits for it; releases it on exit.
Lock = Callable[[str], AbstractAsyncContextManager[Callable[[], Awaitable[None]]]]


@asynccontextmanager
async def _postgres_lock(url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")

        async def blocked() -> None:
            """Until the server's statement waits for the lock."""
            for _ in range(200):
                waiting = await connection.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'featwright' AND wait_event_type = 'Lock'"
                )
                if waiting:
                    return
                await asyncio.sleep(0.05)
            pytest.fail("the request never waited for the lock")

        yield blocked
        await transaction.rollback()
    finally:
        await connection.close()


@asynccontextmanager
async def _sqlite_lock(url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    path = url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("BEGIN IMMEDIATE")

        async def blocked() -> None:
            """SQLite shows no waiters: give the request time to reach its INSERT (it then
            waits up to busy_timeout, 5 s, for the lock), also on a machine busy with other
            work: 1 s was seen too short there, the server closing the connection of a
            request it had not read yet."""
            await asyncio.sleep(2.5)

        yield blocked
        connection.execute("ROLLBACK")


async def _shutdown_with_a_request_in_flight(
    server: LiveServer, url: str, lock: Lock
) -> tuple[httpx.Response, int, float]:
    """SIGTERM while a create waits for a lock; the lock is released after the signal.

    Returns the create's response, the exit status and the seconds from SIGTERM to exit.
    """
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        headers = await sign_up(client)
        async with lock(url) as blocked:
            in_flight = asyncio.create_task(
                client.post("/api/v1/projects", json={"name": "in flight"}, headers=headers)
            )
            await blocked()
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            await _until_refused(server.url)
            assert not in_flight.done(), "the request finished before its lock was released"
            assert server.process.poll() is None, "the server exited with a request in flight"
        response = await in_flight
    status = await asyncio.to_thread(server.process.wait, SHUTDOWN_TIMEOUT + 5)
    return response, status, time.monotonic() - signalled


async def _until_refused(url: str) -> None:
    """A stopping server closes its listening socket: new connections are refused."""
    async with httpx.AsyncClient(base_url=url, timeout=1) as fresh:
        for _ in range(100):
            try:
                await fresh.get("/health/live")
            except httpx.ConnectError:
                return
            except httpx.RemoteProtocolError:
                pass  # accepted just before the socket closed, then dropped: still stopping
            await asyncio.sleep(0.05)
    pytest.fail("the server still accepts connections after SIGTERM")


def _check(
    backend: str, server: LiveServer, response: httpx.Response, status: int, seconds: float
) -> None:
    log = server.log_text()
    assert response.status_code == 201, f"{response.status_code} {response.text}\n{log}"
    failed = 0 if response.is_success else 1
    assert_figure(f"requests in flight at SIGTERM not answered 2xx ({backend})", failed)
    assert_figure(f"exit status on SIGTERM with a request in flight ({backend})", status)
    assert seconds <= SHUTDOWN_TIMEOUT, f"took {seconds:.1f} s to exit"
    assert DISPOSED in log, log
    assert log.index("Shutting down") < log.index(DISPOSED)


async def test_sigterm_on_postgresql_finishes_the_request_in_flight(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    require_postgres(request.config)
    async with scratch_database("shutdown") as url:
        env = featwright_env(url, shutdown_timeout=str(SHUTDOWN_TIMEOUT))
        upgrade(env, tmp_path)
        with running_server(tmp_path, env) as server:
            response, status, seconds = await _shutdown_with_a_request_in_flight(
                server, url, _postgres_lock
            )
        connection = await asyncpg.connect(plain_dsn(url))
        try:
            stored = await connection.fetchval(
                "SELECT count(*) FROM projects WHERE id = $1", response.json()["id"]
            )
        finally:
            await connection.close()
    _check("postgresql", server, response, status, seconds)
    assert stored == 1


async def test_sigterm_on_sqlite_finishes_the_request_in_flight(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"
    env = featwright_env(url, shutdown_timeout=str(SHUTDOWN_TIMEOUT))
    upgrade(env, tmp_path)
    with running_server(tmp_path, env) as server:
        response, status, seconds = await _shutdown_with_a_request_in_flight(
            server, url, _sqlite_lock
        )
    _check("sqlite", server, response, status, seconds)
    with closing(sqlite3.connect(tmp_path / "shutdown.db")) as connection:
        (stored,) = connection.execute(
            "SELECT count(*) FROM projects WHERE id = ?", (response.json()["id"].replace("-", ""),)
        ).fetchone()
    assert stored == 1

"""Promise 10: several processes on one database behave as one.

Migrations run once however many `featwright db upgrade` start together (a database
lock around the upgrade), `featwright serve` never migrates, and two `serve`
processes on one PostgreSQL database and one Redis share rate limits, If-Match
versions and Idempotency-Keys.
"""

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from src.core.config import Settings
from src.core.database import create_engine
from src.core.migrations import alembic_config, comparison_options
from src.models import Base
from tests.live_server import (
    LiveServer,
    featwright_env,
    plain_dsn,
    redis_unavailable,
    require_postgres,
    running_server,
    scratch_database,
    sign_up,
    start_featwright,
    upgrade,
)
from tests.reliability.figures import assert_figure

PROBLEM_JSON = "application/problem+json"
UPGRADES = 4
REDIS_URL = "redis://127.0.0.1:6379/7"  # a database number of its own, flushed around the run
ACCOUNT_LIMIT = 3


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    require_postgres(request.config)
    async with scratch_database("fresh") as url:
        yield url


async def _tables(url: str) -> set[str]:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite+aiosqlite:///")
        with closing(sqlite3.connect(path)) as connection:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {name for (name,) in rows}
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await connection.close()
    return {row["tablename"] for row in rows}


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts=comparison_options(connection.dialect.name)
    )
    return list(compare_metadata(context, Base.metadata))


async def test_concurrent_upgrades_all_succeed_and_migrate_once(
    fresh_database: str, tmp_path: Path
) -> None:
    backend = "sqlite" if fresh_database.startswith("sqlite") else "postgresql"
    env = featwright_env(fresh_database)
    processes = [start_featwright("db", "upgrade", env=env, cwd=tmp_path) for _ in range(UPGRADES)]
    outputs = [await asyncio.to_thread(process.communicate, None, 120) for process in processes]
    failed = [
        (process.returncode, stderr)
        for process, (_, stderr) in zip(processes, outputs, strict=True)
        if process.returncode != 0
    ]
    assert not failed, failed[0][1]
    assert_figure(f"failed concurrent db upgrades, {UPGRADES} at once ({backend})", len(failed))

    script = ScriptDirectory.from_config(alembic_config())
    revisions = [revision.revision for revision in script.walk_revisions()]
    log = "".join(stderr for _, stderr in outputs)
    for revision in revisions:  # each migration ran in exactly one of the processes
        assert log.count(f"-> {revision},") == 1, log

    engine = create_engine(Settings(_env_file=None, database_url=fresh_database))  # type: ignore[call-arg]
    try:
        async with engine.connect() as connection:
            versions = (
                await connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            ).all()
            drift = await connection.run_sync(_drift)
    finally:
        await engine.dispose()
    assert versions == [(script.get_current_head(),)]
    assert drift == []


async def test_serve_never_migrates(fresh_database: str, tmp_path: Path) -> None:
    backend = "sqlite" if fresh_database.startswith("sqlite") else "postgresql"
    with running_server(tmp_path, featwright_env(fresh_database)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            ready = await client.get("/health/ready")
    assert ready.status_code == 200  # it did reach the database
    tables = await _tables(fresh_database)
    assert_figure(f"tables created by featwright serve ({backend})", len(tables))


# Two processes ---------------------------------------------------------------------------


@dataclass
class Pair:
    """Two `featwright serve` on one PostgreSQL database and one Redis database."""

    a: LiveServer
    b: LiveServer
    database_url: str

    def client(self, server: LiveServer) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=server.url, timeout=30)


def _redis() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        redis_unavailable(f"Redis not reachable at {REDIS_URL}: {error}")
    return client


@pytest.fixture(scope="module")
async def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    require_postgres(request.config)
    shared = _redis()
    shared.flushdb()
    workdir = tmp_path_factory.mktemp("processes")
    try:
        async with scratch_database("processes") as url:
            env = featwright_env(
                url,
                redis_url=REDIS_URL,
                rate_limit_per_client_account=f"{ACCOUNT_LIMIT}/minute",
                rate_limit_per_client="1000/minute",
            )
            upgrade(env, workdir)
            with running_server(workdir, env) as a, running_server(workdir, env) as b:
                yield Pair(a, b, url)
    finally:
        shared.flushdb()
        shared.close()


async def test_rate_limit_counts_attempts_on_both_processes(pair: Pair) -> None:
    email = f"limited-{uuid.uuid4().hex[:8]}@example.com"
    form = {"username": email, "password": "not the password"}
    answers: list[httpx.Response] = []
    async with pair.client(pair.a) as a, pair.client(pair.b) as b:
        for attempt in range(ACCOUNT_LIMIT + 1):
            client = a if attempt % 2 == 0 else b
            answers.append(await client.post("/api/v1/auth/token", data=form))

    statuses = [answer.status_code for answer in answers]
    allowed = statuses.index(429) if 429 in statuses else len(statuses)
    assert_figure("logins to one account allowed across 2 processes", allowed)
    assert statuses == [401] * ACCOUNT_LIMIT + [429], statuses
    limited = answers[-1]
    assert limited.headers["content-type"] == PROBLEM_JSON
    assert limited.headers["retry-after"].isdigit(), limited.headers


async def test_if_match_holds_across_processes(pair: Pair) -> None:
    async with pair.client(pair.a) as a, pair.client(pair.b) as b:
        headers = await sign_up(a)
        created = await a.post("/api/v1/projects", json={"name": "shared"}, headers=headers)
        assert created.status_code == 201, created.text
        path = f"/api/v1/projects/{created.json()['id']}"
        etag = (await a.get(path, headers=headers)).headers["etag"]

        on_b = await b.put(
            path, json={"name": "renamed on B"}, headers={**headers, "If-Match": etag}
        )
        stale_on_a = await a.put(
            path, json={"name": "renamed on A"}, headers={**headers, "If-Match": etag}
        )
        final = await a.get(path, headers=headers)

    assert on_b.status_code == 200, on_b.text
    assert_figure("stale If-Match writes accepted across 2 processes", int(stale_on_a.is_success))
    assert stale_on_a.status_code == 412, stale_on_a.text
    assert stale_on_a.headers["content-type"] == PROBLEM_JSON
    assert final.json()["name"] == "renamed on B"


async def test_idempotency_key_holds_across_processes(pair: Pair) -> None:
    async with pair.client(pair.a) as a, pair.client(pair.b) as b:
        headers = await sign_up(a)
        key = {**headers, "Idempotency-Key": "k1"}
        body = {"name": f"idempotent {uuid.uuid4().hex[:8]}"}
        first = await a.post("/api/v1/projects", json=body, headers=key)
        replayed = await b.post("/api/v1/projects", json=body, headers=key)
        reused = await b.post("/api/v1/projects", json={"name": "another body"}, headers=key)

        name = f"concurrent {uuid.uuid4().hex[:8]}"
        fresh = {**headers, "Idempotency-Key": "k2"}
        answers = await asyncio.gather(
            *(
                client.post("/api/v1/projects", json={"name": name}, headers=fresh)
                for client in [a, b] * 5
            )
        )

    assert first.status_code == 201, first.text
    assert replayed.status_code == first.status_code
    assert replayed.content == first.content
    assert replayed.headers["idempotent-replayed"] == "true"
    assert reused.status_code == 422, reused.text

    created = [answer for answer in answers if answer.status_code == 201]
    in_flight = [answer for answer in answers if answer.status_code == 409]
    assert len(created) + len(in_flight) == len(answers), [a.status_code for a in answers]
    assert created, "no POST succeeded"
    assert {answer.content for answer in created} == {created[0].content}
    assert all(answer.headers["content-type"] == PROBLEM_JSON for answer in in_flight)
    connection = await asyncpg.connect(plain_dsn(pair.database_url))
    try:
        rows = await connection.fetchval("SELECT count(*) FROM projects WHERE name = $1", name)
    finally:
        await connection.close()
    assert_figure("rows per key after 10 concurrent POSTs across 2 processes", rows)

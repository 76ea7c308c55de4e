"""Round trips per request on PostgreSQL, counted by the server (pg_stat_statements).

Each request kind runs once to warm the pool and the prepared statements, then once more
between a reset and a read of the server's statement counts; BEGIN and COMMIT are counted
too (`track_utility`). The common case is one statement per request: no BEGIN/COMMIT
around it, no lookup before a write, no ping before a checkout.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.main import create_app
from tests.live_server import PostgresCluster, plain_dsn, postgres_cluster, sign_up, upgrade

API = "/api/v1"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster(
        "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_utility=on"
    ) as cluster:
        yield cluster


class Counter:
    """Statements the server ran for one database, read from another connection."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self.admin = admin
        self.database = database

    async def reset(self) -> None:
        await self.admin.execute("SELECT pg_stat_statements_reset()")

    async def statements(self) -> dict[str, int]:
        rows = await self.admin.fetch(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = $1",
            self.database,
        )
        return {row["query"]: row["calls"] for row in rows}


@pytest.fixture(scope="module")
async def served(
    cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Counter]]:
    name = f"trips_{uuid.uuid4().hex[:8]}"
    url = await cluster.create_database(name)
    admin = await asyncpg.connect(plain_dsn(cluster.url()))
    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    # With this process's environment: a copy's own migrations, by its PYTHONPATH.
    upgrade({**os.environ, "DATABASE_URL": url}, tmp_path_factory.mktemp("trips"))
    settings = Settings(_env_file=None, database_url=url, secret_key="t" * 40)  # type: ignore[call-arg]
    engine = create_engine(settings)
    database = Database(engine, settings)
    app = create_app(settings, database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, Counter(admin, name)
    await database.close()
    await engine.dispose()
    await admin.close()


Request = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]


async def _counted(
    served: tuple[httpx.AsyncClient, Counter], request: Request, expected_status: int
) -> dict[str, int]:
    client, counter = served
    headers = await sign_up(client)
    projects = [
        await client.post(f"{API}/projects", json={"name": name}, headers=headers)
        for name in ("p", "q")
    ]
    project_id = projects[0].json()["id"]
    for _ in range(3):  # warm: every pooled connection the request may take has prepared it
        await request(client, headers, project_id)
    await counter.reset()
    response = await request(client, headers, project_id)
    statements = await counter.statements()
    assert response.status_code == expected_status, response.text
    return statements


def _kinds(statements: dict[str, int]) -> list[str]:
    """The first word of each statement run, once per call: SELECT, INSERT, BEGIN ..."""
    return sorted(
        query.split(None, 1)[0].upper()
        for query, calls in statements.items()
        for _ in range(calls)
        if "pg_stat_statements" not in query
    )


async def _get(client: httpx.AsyncClient, headers: dict[str, str], id: str) -> httpx.Response:
    return await client.get(f"{API}/projects/{id}", headers=headers)


async def _list(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    return await client.get(f"{API}/projects?limit=5", headers=headers)


async def _list_by_cursor(
    client: httpx.AsyncClient, headers: dict[str, str], _: str
) -> httpx.Response:
    first = await client.get(f"{API}/projects?limit=1", headers=headers)
    cursor = first.json()["next_cursor"]
    return await client.get(f"{API}/projects?limit=1&cursor={cursor}", headers=headers)


async def _create(client: httpx.AsyncClient, headers: dict[str, str], _: str) -> httpx.Response:
    return await client.post(f"{API}/projects", json={"name": "n"}, headers=headers)


async def _create_with_reference(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: str
) -> httpx.Response:
    body = {"title": "t", "project_id": project_id}
    return await client.post(f"{API}/tasks", json=body, headers=headers)


async def _update(client: httpx.AsyncClient, headers: dict[str, str], id: str) -> httpx.Response:
    current = await client.get(f"{API}/projects/{id}", headers=headers)
    conditional = {**headers, "If-Match": current.headers["ETag"]}
    return await client.put(f"{API}/projects/{id}", json={"name": "m"}, headers=conditional)


async def _delete(client: httpx.AsyncClient, headers: dict[str, str], id: str) -> httpx.Response:
    created = await client.post(f"{API}/projects", json={"name": "d"}, headers=headers)
    return await client.delete(f"{API}/projects/{created.json()['id']}", headers=headers)


@pytest.mark.parametrize(
    ("request_kind", "status", "statements"),
    [
        (_get, 200, ["SELECT"]),
        (_list, 200, ["SELECT"]),
        (_create, 201, ["INSERT"]),
        (_create_with_reference, 201, ["INSERT"]),
        (_update, 200, ["SELECT", "UPDATE"]),  # the GET for the ETag, then the PUT
        (_delete, 204, ["DELETE", "INSERT"]),  # the POST of the row, then the DELETE
        (_list_by_cursor, 200, ["SELECT", "SELECT"]),  # page 1, then the page after it
    ],
    ids=["get", "list", "post", "post-with-ref", "put", "delete", "cursor"],
)
async def test_a_simple_request_is_one_statement(
    served: tuple[httpx.AsyncClient, Counter],
    request_kind: Request,
    status: int,
    statements: list[str],
) -> None:
    assert _kinds(await _counted(served, request_kind, status)) == statements


async def test_an_idempotency_key_adds_its_own_statements_in_one_transaction(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    async def create_with_key(
        client: httpx.AsyncClient, headers: dict[str, str], _: str
    ) -> httpx.Response:
        keyed = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        return await client.post(f"{API}/projects", json={"name": "k"}, headers=keyed)

    kinds = _kinds(await _counted(served, create_with_key, 201))
    # lock, lookup, the row, the stored answer; BEGIN and COMMIT around them
    assert kinds == ["BEGIN", "COMMIT", "INSERT", "INSERT", "SELECT", "SELECT"]

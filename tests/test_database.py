"""Connections and transactions on a real engine (not the rolled-back test connection)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.config import Settings
from src.core.database import Database, create_engine, is_unavailable
from src.core.security import Principal
from src.main import create_app
from src.models import Project, User
from src.repositories.project_repo import ProjectRepository
from tests.live_server import require_postgres, scratch_database


@pytest.fixture
async def committed_user(engine: AsyncEngine) -> AsyncIterator[User]:
    """A user committed for real; deleted (with its rows, by cascade) afterwards."""
    database = Database(engine)
    async with database.session() as session:
        user = User(email=f"{uuid.uuid4().hex}@example.com", name="x", hashed_password="!")
        session.add(user)
        await session.flush()
    yield user
    async with database.session() as session:
        await session.execute(delete(User).where(User.id == user.id))


@pytest.fixture
async def real_database(engine: AsyncEngine) -> AsyncIterator[Database]:
    """The app's statements on the real engine: each commits for real."""
    database = Database(engine)
    yield database
    await database.close()


async def count_projects(engine: AsyncEngine, owner_id: uuid.UUID) -> int:
    async with engine.connect() as connection:
        total = await connection.scalar(
            select(func.count()).select_from(Project).where(Project.owner_id == owner_id)
        )
    return total or 0


async def test_a_statement_outside_a_transaction_is_kept_at_once(
    engine: AsyncEngine, real_database: Database, committed_user: User
) -> None:
    """One statement, one transaction of its own: no BEGIN/COMMIT around it, no rollback
    of it by anything that fails later."""
    repository = ProjectRepository(real_database, owner_id=committed_user.id)

    async def request_failing_after_its_write() -> None:
        await repository.create({"name": "kept"})
        raise RuntimeError("a failure later in the request")

    with pytest.raises(RuntimeError, match="later"):
        await request_failing_after_its_write()
    assert await count_projects(engine, committed_user.id) == 1


async def test_a_transaction_commits_on_success(
    engine: AsyncEngine, real_database: Database, committed_user: User
) -> None:
    database = real_database
    repository = ProjectRepository(database, owner_id=committed_user.id)
    async with database.transaction():
        await repository.create({"name": "one"})
        await repository.create({"name": "two"})
        async with database.transaction():  # joins the outer one
            await repository.create({"name": "three"})
    assert await count_projects(engine, committed_user.id) == 3


async def test_a_transaction_rolls_back_every_statement_on_error(
    engine: AsyncEngine, real_database: Database, committed_user: User
) -> None:
    database = real_database
    repository = ProjectRepository(database, owner_id=committed_user.id)

    async def failing_transaction() -> None:
        async with database.transaction():
            await repository.create({"name": "lost"})
            await repository.create({"name": "lost too"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_transaction()
    assert await count_projects(engine, committed_user.id) == 0


class CuttingProxy:
    """A TCP proxy to PostgreSQL whose `cut()` drops every connection through it at once,
    as a lost machine or a balancer's `shutdown-sessions` does: no goodbye from the server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.transports: list[asyncio.WriteTransport] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.transports += [writer.transport, upstream_writer.transport]  # type: ignore[list-item]

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
            sink.close()

        with suppress(OSError):
            await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))

    def cut(self) -> None:
        for transport in self.transports:
            transport.abort()
        self.transports.clear()

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def scratch_postgres(request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    """Settings for a new, empty PostgreSQL database, dropped afterwards: the two tests
    below are about PostgreSQL's connections alone."""
    require_postgres(request.config)
    async with scratch_database("connections") as url:
        yield Settings(_env_file=None, database_url=url)


async def test_a_transaction_whose_connection_was_cut_is_unavailable(
    scratch_postgres: Settings,
) -> None:
    """The connection is cut while a transaction's statement runs (a primary lost in a
    failover): the request's error says the database is unavailable (a 503), nothing of the
    transaction is kept, and the pool serves the next statement on a new connection."""
    url = make_url(scratch_postgres.database_url)
    kept = Database(create_engine(scratch_postgres), scratch_postgres)
    await kept.write(text("CREATE TABLE written (name text)"), {})
    proxy = CuttingProxy(url.host or "127.0.0.1", url.port or 5432)
    port = await proxy.start()
    proxied = scratch_postgres.model_copy(
        update={"database_url": url.set(port=port).render_as_string(hide_password=False)}
    )
    database = Database(create_engine(proxied), proxied)
    count = text("SELECT count(*) FROM written")

    async def transaction_cut_short() -> None:
        async with database.transaction():
            await database.write(text("INSERT INTO written VALUES ('lost')"), {})
            asyncio.get_running_loop().call_later(0.2, proxy.cut)
            await database.read(select(func.pg_sleep(2)), {})

    try:
        with pytest.raises(sa_exc.DBAPIError) as raised:
            await transaction_cut_short()
        assert is_unavailable(raised.value)
        assert (await kept.read(count, {}))[0][0] == 0
        await database.write(text("INSERT INTO written VALUES ('kept')"), {})
        assert (await kept.read(count, {}))[0][0] == 1
    finally:
        for each in (database, kept):
            await each.close()
            assert isinstance(each.bind, AsyncEngine)
            await each.bind.dispose()
        await proxy.close()


async def test_a_write_refused_as_read_only_is_unavailable(scratch_postgres: Settings) -> None:
    """A write that reaches a standby (a primary demoted a moment ago, before the database
    route stops sending connections to it) is refused as read-only, SQLSTATE 25006: the
    primary has moved, and the same request sent again succeeds, so it is a 503."""
    name = make_url(scratch_postgres.database_url).database
    owner = Database(create_engine(scratch_postgres), scratch_postgres)
    await owner.write(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'), {})
    await owner.close()
    await owner.bind.dispose()  # type: ignore[union-attr]
    standby = Database(create_engine(scratch_postgres), scratch_postgres)
    try:
        with pytest.raises(sa_exc.DBAPIError) as raised:
            await standby.write(text("CREATE TABLE refused (id integer)"), {})
        assert getattr(raised.value.orig, "sqlstate", None) == "25006"
        assert is_unavailable(raised.value)
    finally:
        await standby.close()
        await standby.bind.dispose()  # type: ignore[union-attr]


async def test_concurrent_tasks_do_not_share_a_transaction(
    engine: AsyncEngine, real_database: Database, committed_user: User
) -> None:
    """The current transaction is per task: a request beside a failing one keeps its write."""
    database = real_database
    repository = ProjectRepository(database, owner_id=committed_user.id)
    started = asyncio.Event()

    async def failing() -> None:
        async with database.transaction():
            await repository.create({"name": "lost"})
            started.set()
            await asyncio.sleep(0.05)
            raise RuntimeError("boom")

    async def independent() -> None:
        await started.wait()
        await repository.create({"name": "kept"})

    results = await asyncio.gather(failing(), independent(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert await count_projects(engine, committed_user.id) == 1


async def test_app_on_its_own_engine_reads_its_writes(
    settings: Settings, committed_user: User
) -> None:
    """Reads and writes go through the app's own engine and pools."""
    app = create_app(settings)
    token = app.state.tokens.issue(Principal(id=committed_user.id))
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            created = await client.post("/api/v1/projects", json={"name": "real"}, headers=headers)
            assert created.status_code == 201
            project_id = created.json()["id"]
            fetched = await client.get(f"/api/v1/projects/{project_id}", headers=headers)
            assert fetched.json()["name"] == "real"
            listed = await client.get("/api/v1/projects", headers=headers)
            assert [item["id"] for item in listed.json()["items"]] == [project_id]
            deleted = await client.delete(f"/api/v1/projects/{project_id}", headers=headers)
            assert deleted.status_code == 204
            missing = await client.get(f"/api/v1/projects/{project_id}", headers=headers)
            assert missing.status_code == 404
    finally:
        await app.state.database.close()
        await app.state.database.bind.dispose()


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'pragmas.db'}"
    engine = create_engine(Settings(_env_file=None, database_url=url, secret_key="x" * 40))  # type: ignore[call-arg]
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "pragmas.db").exists()

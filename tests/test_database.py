"""Connections and transactions on a real engine (not the rolled-back test connection)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.core.security import Principal
from src.main import create_app
from src.models import Project, User
from src.repositories.project_repo import ProjectRepository


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

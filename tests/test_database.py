"""The unit of work on a real engine (not the rolled-back test connection)."""

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


@pytest.fixture
async def committed_user(engine: AsyncEngine) -> AsyncIterator[User]:
    """A user committed for real; deleted (with its rows, by cascade) afterwards."""
    database = Database(engine)
    async with database.session() as session:
        user = User(email=f"{uuid.uuid4().hex}@example.com", hashed_password="!")
        session.add(user)
        await session.flush()
    yield user
    async with database.session() as session:
        await session.execute(delete(User).where(User.id == user.id))


async def count_projects(engine: AsyncEngine, owner_id: uuid.UUID) -> int:
    async with Database(engine).session(write=False) as session:
        total = await session.scalar(
            select(func.count()).select_from(Project).where(Project.owner_id == owner_id)
        )
    return total or 0


async def test_session_commits_on_success(engine: AsyncEngine, committed_user: User) -> None:
    async with Database(engine).session() as session:
        session.add(Project(name="kept", owner_id=committed_user.id))
    assert await count_projects(engine, committed_user.id) == 1


async def test_session_rolls_back_on_error(engine: AsyncEngine, committed_user: User) -> None:
    async def failing_unit_of_work() -> None:
        async with Database(engine).session() as session:
            session.add(Project(name="lost", owner_id=committed_user.id))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await failing_unit_of_work()
    assert await count_projects(engine, committed_user.id) == 0


async def test_app_on_its_own_engine_reads_its_writes(
    settings: Settings, committed_user: User
) -> None:
    """Reads and writes go through the app's own engine (autocommit reads on PostgreSQL)."""
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

"""Apps over their own engine, whose writes really commit: for tests of concurrency.

The suite's usual `client` runs every request on one rolled-back connection, which
serializes them; these tests need each request on its own pooled connection, as in
production. Users made here are deleted afterwards (their rows cascade). The reliability
tests take `live_app` from their conftest; a contract class (`ActionContract`) wraps it in
a fixture method of its own, since a generated module has no conftest.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
from sqlalchemy import delete, func, select

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.core.security import Principal, TokenService
from src.main import create_app
from src.models.base import Entity
from src.models.user import User as UserRow
from src.repositories.user_repo import UserRepository
from src.schemas.user import name_from_email
from tests.conftest import User


@dataclass
class LiveApp:
    client: httpx.AsyncClient
    database: Database
    tokens: TokenService
    password_hash: str
    user_ids: list[uuid.UUID] = field(default_factory=list)

    async def user(self) -> User:
        email = f"committed-{uuid.uuid4().hex[:12]}@example.com"
        row = await UserRepository(self.database).create(
            {"email": email, "name": name_from_email(email), "hashed_password": self.password_hash}
        )
        assert row is not None
        self.user_ids.append(row.id)
        token = self.tokens.issue(Principal(id=row.id))
        return User(row.id, email, {"Authorization": f"Bearer {token}"})

    async def count(self, model: type[Entity], owner: User) -> int:
        """Rows of `model` the user owns, read straight from the database."""
        async with self.database.session() as session:
            owner_id = model.owner_id  # type: ignore[attr-defined]
            total = await session.scalar(
                select(func.count()).select_from(model).where(owner_id == owner.id)
            )
        return int(total or 0)


OpenApp = Callable[..., Awaitable[LiveApp]]


@pytest.fixture
async def live_app(settings: Settings, password_hash: str) -> AsyncIterator[OpenApp]:
    """`await live_app(clock=...)`: an app whose requests each get their own connection."""
    async for opened in open_live_apps(settings, password_hash):
        yield opened


async def open_live_apps(settings: Settings, password_hash: str) -> AsyncIterator[OpenApp]:
    """What `live_app` yields, and closes (its users deleted) when resumed."""
    engine = create_engine(settings)
    database = Database(engine)
    opened: list[LiveApp] = []

    async def open_app(clock: Callable[[], datetime] | None = None) -> LiveApp:
        app = create_app(settings, database, **({"clock": clock} if clock else {}))
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        live = LiveApp(client, database, app.state.tokens, password_hash)
        opened.append(live)
        return live

    yield open_app
    for live in opened:
        await live.client.aclose()
        if live.user_ids:
            async with database.session() as session:
                await session.execute(delete(UserRow).where(UserRow.id.in_(live.user_ids)))
    await database.close()
    await engine.dispose()

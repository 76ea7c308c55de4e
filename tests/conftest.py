"""Real databases for every test: SQLite and PostgreSQL, migrated once per run.

Each test runs inside an outer transaction that is rolled back afterwards; every
statement or transaction of the app runs in a savepoint inside it (`Database` bound
to one connection).

PostgreSQL comes from TEST_DATABASE_URL, else a server on 127.0.0.1:5432. The
named database is dropped and recreated. Where no server answers, the PostgreSQL
half is skipped, unless FEATWRIGHT_REQUIRE_POSTGRES=1 (CI) makes that an error.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from pwdlib import PasswordHash
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.core.migrations import alembic_config
from src.core.security import Principal
from src.main import create_app
from src.repositories.user_repo import UserRepository
from src.schemas.user import name_from_email

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/featwright_test"
TEST_PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgresql"]


def postgres_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def _plain_dsn(url: str, database: str) -> str:
    return (
        make_url(url)
        .set(drivername="postgresql", database=database)
        .render_as_string(hide_password=False)
    )


async def _probe_postgres(url: str) -> str | None:
    try:
        connection = await asyncpg.connect(_plain_dsn(url, "postgres"), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


NAMED_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))
"""A server named by the person running the tests: not answering is an error, not a skip."""


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: a database of its own
        worker = os.environ["PYTEST_XDIST_WORKER"]
        url = make_url(postgres_url())
        database = f"{url.database}_{worker}"
        os.environ["TEST_DATABASE_URL"] = url.set(database=database).render_as_string(False)
    config.postgres_problem = asyncio.run(_probe_postgres(postgres_url()))  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str:
    problem = config.postgres_problem  # type: ignore[attr-defined]
    url = make_url(postgres_url()).render_as_string(hide_password=True)
    if problem is None:
        return f"PostgreSQL: {url} (database recreated for this run)"
    return f"PostgreSQL: NOT reachable at {url} ({problem}); the PostgreSQL half is skipped"


async def _recreate_postgres_database(url: str) -> None:
    name = make_url(url).database
    assert name, "TEST_DATABASE_URL must name a database"
    connection = await asyncpg.connect(_plain_dsn(url, "postgres"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@dataclass
class Backend:
    name: str
    url: str


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Backend:
    """A freshly migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        problem = request.config.postgres_problem  # type: ignore[attr-defined]
        if problem is not None:
            message = f"PostgreSQL not reachable at {make_url(postgres_url())!r}: {problem}"
            # An explicitly named server that does not answer is an error, not a skip.
            if os.environ.get("FEATWRIGHT_REQUIRE_POSTGRES") == "1" or NAMED_POSTGRES:
                pytest.fail(message + " (FEATWRIGHT_REQUIRE_POSTGRES=1)")
            pytest.skip(message)
        url = postgres_url()
        await _recreate_postgres_database(url)
    config = alembic_config(url)
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    return Backend(request.param, url)


@pytest.fixture(scope="session")
def settings(backend: Backend) -> Settings:
    return Settings(
        _env_file=None,
        database_url=backend.url,
        secret_key="test-secret-that-is-long-enough-for-hs256-0123456789",
        redis_url=None,  # rate-limit counters per app, whatever the shell exports
        # Tests that write in bulk are not people: the write limit has tests of its own
        # (tests/reliability/test_limits.py), with apps that set it low.
        rate_limit_writes_per_user="100000/minute",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def database(engine: AsyncEngine) -> AsyncIterator[Database]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield Database(connection, join_transaction_mode="create_savepoint")
        await transaction.rollback()


@pytest.fixture
def app(settings: Settings, database: Database) -> FastAPI:
    return create_app(settings, database)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Hashed once: argon2 is slow on purpose, and most tests need users, not logins."""
    return PasswordHash.recommended().hash(TEST_PASSWORD)


@dataclass
class User:
    id: uuid.UUID
    email: str
    headers: dict[str, str]


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(app: FastAPI, database: Database, password_hash: str) -> MakeUser:
    """Create a user in the test's transaction and return it with a Bearer header."""

    async def make(
        email: str | None = None, *, superuser: bool = False, name: str | None = None
    ) -> User:
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        row = await UserRepository(database).create(
            {
                "email": email,
                "name": name or name_from_email(email),
                "hashed_password": password_hash,
                "is_superuser": superuser,
            }
        )
        assert row is not None
        token = app.state.tokens.issue(Principal(id=row.id, is_superuser=superuser))
        return User(row.id, email, {"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> User:
    return await make_user("alice@example.com")


@pytest.fixture
async def bob(make_user: MakeUser) -> User:
    return await make_user("bob@example.com")


@pytest.fixture
def root_dir() -> Path:
    return Path(__file__).resolve().parent.parent


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures docs/reliability.md promises, as this run measured them."""
    from tests.reliability.figures import measured

    if measured:
        terminalreporter.section("reliability figures (docs/reliability.md)")
        for key, value in sorted(measured.items()):
            terminalreporter.write_line(f"{key}: {value}")

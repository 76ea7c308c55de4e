"""Inputs and settings that once produced a 500 or a weak setup."""

import base64
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError

from src.core.config import DEFAULT_SQLITE_URL, Settings
from src.schemas.base import DecimalString, PlainDecimal
from tests.conftest import TEST_PASSWORD, MakeUser, User
from tests.live_server import (
    featwright_env,
    require_postgres,
    running_server,
    scratch_database,
    sign_up,
    upgrade,
)

API = "/api/v1"


@pytest.mark.parametrize(
    "body",
    [{"name": "nul\x00"}, {"name": "ok", "description": "nul\x00"}],
    ids=["name", "description"],
)
async def test_nul_character_is_a_400_not_a_database_error(
    client: httpx.AsyncClient, alice: User, body: dict[str, str]
) -> None:
    response = await client.post(f"{API}/projects", json=body, headers=alice.headers)

    assert response.status_code == 400
    assert response.json()["errors"][0]["rule"] == "value_error"
    listed = await client.get(f"{API}/projects", headers=alice.headers)
    assert listed.json()["total"] == 0


async def test_nul_character_in_login_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/token", data={"username": "a\x00@example.com", "password": "x"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "username"


async def test_login_normalizes_the_email_as_registration_does(
    client: httpx.AsyncClient,
) -> None:
    email = "Ze\u0301@Example.com"  # decomposed accent, mixed case
    password = "correct horse battery"
    registered = await client.post(
        f"{API}/auth/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 202

    token = await client.post(f"{API}/auth/token", data={"username": email, "password": password})

    assert token.status_code == 200, token.text


async def test_a_deleted_projects_tasks_cannot_be_created_later(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    project = await client.post(f"{API}/projects", json={"name": "p"}, headers=user.headers)
    await client.delete(f"{API}/projects/{project.json()['id']}", headers=user.headers)

    task = await client.post(
        f"{API}/tasks",
        json={"project_id": project.json()["id"], "title": "t"},
        headers=user.headers,
    )

    assert task.status_code == 404
    assert task.json()["detail"] == "Project not found"


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be at least 32 bytes"):
        Settings(_env_file=None, secret_key="short")  # type: ignore[call-arg]


# Keys the former checks (placeholder words, 12 distinct characters) let through.
MEMORABLE_SECRETS = [
    pytest.param("featwright-production-secret-2026", id="memorable"),
    pytest.param("0123456789abcdef" * 4, id="hex sequence repeated"),
    pytest.param("featwright-production-secret-2026-" * 2, id="words repeated"),
    pytest.param("correct-horse-battery-staple-tardy-violin-purple-orbit", id="passphrase"),
    pytest.param("live-server-secret-that-is-long-enough-for-hs256-0123456789", id="sentence"),
    pytest.param("f6ea7c6fee33f5115ef42614f962fed7" * 2, id="16 random bytes written twice"),
    pytest.param("qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM", id="keyboard rows"),
    pytest.param("q8Zr3LwT0bYc5NvK1xHf7JmP2sDg9AeU4iWo6ClRyX", id="42 base64 characters"),
]
GENERATED_SECRETS: dict[str, Callable[[], str]] = {
    "token_hex(32)": lambda: secrets.token_hex(32),
    "token_urlsafe(32)": lambda: secrets.token_urlsafe(32),
    "token_urlsafe(48)": lambda: secrets.token_urlsafe(48),  # deploy/cluster.sh, compose.yaml
    "base64 of 32 bytes": lambda: base64.b64encode(os.urandom(32)).decode(),  # openssl rand
    "base64 of 48 bytes": lambda: base64.b64encode(os.urandom(48)).decode(),  # the advice
}


@pytest.mark.parametrize("secret_key", MEMORABLE_SECRETS)
def test_production_refuses_a_key_no_generator_of_32_random_bytes_wrote(secret_key: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY") as refused:
        Settings(_env_file=None, environment="production", secret_key=secret_key)  # type: ignore[call-arg]

    assert secret_key not in str(refused.value), "the error must not quote the key"


@pytest.mark.parametrize("generate", GENERATED_SECRETS.values(), ids=GENERATED_SECRETS.keys())
def test_production_accepts_every_key_a_generator_writes(generate: Callable[[], str]) -> None:
    refused = []
    for _ in range(200):
        key = generate()
        try:
            Settings(_env_file=None, environment="production", secret_key=key)  # type: ignore[call-arg]
        except ValidationError:
            refused.append(key)

    assert refused == []


def test_a_refused_production_key_is_told_how_keys_are_judged_and_made() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(  # type: ignore[call-arg]
            _env_file=None, environment="production", secret_key="featwright-production-secret-2026"
        )

    message = " ".join(str(refused.value).split())
    for said in (
        "a generator wrote for at least 32 random bytes",
        "64+ hex digits or 43+ base64 or base64url characters",
        "zxcvbn finds no words, dates, keyboard runs, sequences or repeats",
        "Generate one with: openssl rand -base64 48",
    ):
        assert said in message


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_url_gets_the_async_driver(given: str, used: str) -> None:
    settings = Settings(_env_file=None, database_url=given, secret_key="k" * 32)  # type: ignore[call-arg]
    assert settings.database_url == used


def test_processes_starting_together_share_one_generated_secret(tmp_path: Path) -> None:
    code = "from src.core.config import Settings; print(Settings(_env_file=None).secret_key)"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}

    assert len(keys) == 1
    key = keys.pop()
    assert len(key) >= 32
    assert (tmp_path / "var" / "secret.key").read_text() == key
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600


async def test_method_not_allowed_lists_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    by_id = await client.options(f"{API}/projects/{uuid.uuid4()}")
    collection = await client.patch(f"{API}/tasks")

    assert (by_id.status_code, by_id.headers["allow"]) == (405, "DELETE, GET, PUT")
    assert (collection.status_code, collection.headers["allow"]) == (405, "GET, POST")


async def test_an_unparsable_body_is_a_validation_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/auth/token",
        content=b"username=\xff&password=x",
        headers={"Content-Type": "multipart/form-data; boundary=nothing"},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "body",
            "location": "body",
            "rule": "unparsable",
            "message": "Invalid multipart data.",
        }
    ]


async def test_a_whole_number_written_as_a_float_is_an_integer(
    client: httpx.AsyncClient, alice: User
) -> None:
    project = await client.post(f"{API}/projects", json={"name": "p"}, headers=alice.headers)
    body = {"project_id": project.json()["id"], "title": "t", "priority": 2.0}

    created = await client.post(f"{API}/tasks", json=body, headers=alice.headers)
    fraction = await client.post(
        f"{API}/tasks", json={**body, "priority": 2.5}, headers=alice.headers
    )

    assert (created.status_code, created.json()["priority"]) == (201, 2)
    assert fraction.status_code == 400


def test_free_text_fields_document_that_nul_is_refused() -> None:
    from src.schemas.project import ProjectCreate

    assert ProjectCreate.model_json_schema()["properties"]["name"]["pattern"] == "^[^\\u0000]*$"


# --- what the database holds stays out of logs and other users' reach ---------------


@asynccontextmanager
async def _empty_database(kind: str, directory: Path, config: pytest.Config) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'featwright.db'}"
        return
    require_postgres(config)
    async with scratch_database("logs") as url:
        yield url


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_debug_logs_quote_no_sql_parameter(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """LOG_LEVEL=debug on a real `featwright serve`: the app's debug lines come through,
    the drivers' (aiosqlite repeats every call with its arguments) do not."""
    email = f"log-{uuid.uuid4().hex[:12]}@example.com"
    name = f"distinctive-{uuid.uuid4().hex}"
    async with _empty_database(kind, tmp_path, request.config) as url:
        env = featwright_env(url, log_level="debug")
        upgrade(env, tmp_path)
        with running_server(tmp_path, env) as server:
            async with httpx.AsyncClient(base_url=server.url) as live:
                headers = await sign_up(live, email)
                created = await live.post(f"{API}/projects", json={"name": name}, headers=headers)
                listed = await live.get(f"{API}/projects", headers=headers)
    log = server.log_text()

    assert created.status_code == 201, created.text
    assert name in listed.text
    for stored in (name, email, TEST_PASSWORD, "$argon2"):  # "$argon2": any password hash
        assert stored not in log, f"{stored} in the log"
    assert "Debug logging on, but aiosqlite at info, sqlalchemy at warning" in log


@pytest.mark.parametrize(
    ("database_url", "directories", "files"),
    [
        (None, ["var"], ["var/featwright.db", "var/secret.key"]),
        (
            "sqlite+aiosqlite:///./data/nested/app.db",
            ["data", "data/nested"],
            ["data/nested/app.db"],
        ),
    ],
    ids=["defaults", "nested DATABASE_URL"],
)
async def test_the_sqlite_files_featwright_creates_are_its_users_alone(
    tmp_path: Path, database_url: str | None, directories: list[str], files: list[str]
) -> None:
    """`featwright db upgrade`, then `featwright serve` writing (WAL), in a fresh directory
    under the usual umask 022: directories 0700, the database, its -wal and -shm and the
    generated key 0600."""
    env = featwright_env(database_url or DEFAULT_SQLITE_URL)
    if database_url is None:  # the defaults: var/featwright.db and a generated var/secret.key
        del env["DATABASE_URL"], env["SECRET_KEY"]
    database = files[0]
    files = [*files, f"{database}-wal", f"{database}-shm"]
    umask = os.umask(0o022)
    try:
        upgrade(env, tmp_path)
        with running_server(tmp_path, env) as server:
            async with httpx.AsyncClient(base_url=server.url) as live:
                headers = await sign_up(live)
                created = await live.post(f"{API}/projects", json={"name": "p"}, headers=headers)
            modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in directories + files}
    finally:
        os.umask(umask)

    assert created.status_code == 201, created.text
    assert modes == {**dict.fromkeys(directories, 0o700), **dict.fromkeys(files, 0o600)}


@pytest.mark.parametrize(
    ("precision", "scale", "longest"),
    [(None, 0, "1" * 100), (8, 2, "-123456.78"), (2, 2, "-0.55"), (5, 0, "-12345")],
)
def test_a_decimal_string_is_bounded_and_says_so(
    precision: int | None, scale: int, longest: str
) -> None:
    """Every input has a maxLength in the OpenAPI document (a Decimal had none), and the
    validator holds to it: one character more is a 400, not a 1 MiB number."""
    rule = DecimalString(precision, scale)
    adapter = TypeAdapter(Annotated[Decimal, rule])

    assert adapter.json_schema()["maxLength"] == len(longest)
    assert adapter.validate_python(longest) == Decimal(longest)
    with pytest.raises(ValidationError):
        adapter.validate_python(longest + "1" if precision is None else "1" + longest)


def test_a_decimal_without_a_scale_is_answered_alike_on_every_backend() -> None:
    """SQLite hands back `1.0000000000` and `0E-10`; PostgreSQL `1` and `0`."""
    answer = TypeAdapter(PlainDecimal).dump_python
    values = ("1.0000000000", "0E-10", "1E+2", "-12.3400", "123456789012345678901234567890.5")
    assert [answer(Decimal(v), mode="json") for v in values] == [
        "1",
        "0",
        "100",
        "-12.34",
        "123456789012345678901234567890.5",
    ]

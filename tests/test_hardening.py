"""Inputs and settings that once produced a 500 or a weak setup."""

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from src.core.config import Settings
from tests.conftest import MakeUser, User

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
    assert registered.status_code == 201

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

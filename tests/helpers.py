"""Small helpers shared by the API tests: creating rows, reading problems, minting tokens."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from src.core.config import Settings
from tests.conftest import User

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"

PROJECT_KEYS = {"id", "created_at", "updated_at", "version", "name", "description", "status"}
TASK_KEYS = {
    "id",
    "created_at",
    "updated_at",
    "version",
    "project_id",
    "title",
    "done",
    "priority",
    "due_date",
}


async def create_project(client: httpx.AsyncClient, user: User, **fields: Any) -> dict[str, Any]:
    body = {"name": "Apollo", **fields}
    response = await client.post(f"{API}/projects", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_task(
    client: httpx.AsyncClient, user: User, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"project_id": project_id, "title": "Write tests", **fields}
    response = await client.post(f"{API}/tasks", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def get_json(client: httpx.AsyncClient, user: User, path: str) -> dict[str, Any]:
    response = await client.get(f"{API}{path}", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_ids(client: httpx.AsyncClient, user: User, resource: str) -> list[str]:
    """Every id the user can list (one page of 100 is plenty in a test)."""
    page = await get_json(client, user, f"/{resource}?limit=100")
    assert page["total"] == len(page["items"])
    return [item["id"] for item in page["items"]]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def assert_validation_problem(
    response: httpx.Response, *, field: str, location: str, rule: str | None = None
) -> dict[str, Any]:
    """A 400 problem whose `errors` name this field (and rule, when given)."""
    body = assert_problem(response, 400)
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert set(error) == {"field", "location", "rule", "message"}
        assert error["message"]
    matching = [e for e in errors if e["field"] == field and e["location"] == location]
    assert matching, f"no error for {location}.{field} in {errors}"
    if rule is not None:
        assert rule in {e["rule"] for e in matching}, errors
    return body


def assert_unauthorized(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    return body


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp with a UTC offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


def assert_new_resource(body: dict[str, Any]) -> None:
    """A freshly created row: uuid4 id, UTC timestamps, updated_at == created_at."""
    assert uuid.UUID(body["id"]).version == 4
    assert parse_timestamp(body["created_at"]) == parse_timestamp(body["updated_at"])


def mint_token(
    settings: Settings,
    subject: uuid.UUID | str,
    *,
    superuser: bool = False,
    secret: str | None = None,
    issued: timedelta = timedelta(0),
    lifetime: timedelta = timedelta(minutes=5),
) -> str:
    """A token minted by hand; `issued` shifts iat (negative = in the past)."""
    issued_at = datetime.now(UTC) + issued
    claims = {
        "sub": str(subject),
        "su": superuser,
        "iss": "featwright",
        "iat": issued_at,
        "exp": issued_at + lifetime,
    }
    return jwt.encode(claims, secret or settings.secret_key, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

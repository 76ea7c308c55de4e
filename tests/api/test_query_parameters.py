"""A query parameter a GET route does not declare is a 400 naming it, never silently ignored."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel

from src.api import routing
from src.api.routing import add_routes, query_names
from src.core.config import Settings
from src.main import create_app
from tests.conftest import User
from tests.helpers import API, assert_validation_problem, create_project, create_task

TAKES = {
    "projects": "page, limit, cursor",
    "tasks": "project_id, page, limit, cursor",
}


@pytest.mark.parametrize("resource", ["projects", "tasks"])
async def test_an_unknown_parameter_on_a_list_is_a_400_naming_it(
    client: httpx.AsyncClient, alice: User, resource: str
) -> None:
    response = await client.get(f"{API}/{resource}?kind=meeting&limit=5", headers=alice.headers)

    body = assert_validation_problem(
        response, field="kind", location="query", rule="unknown_parameter"
    )
    assert len(body["errors"]) == 1
    message = body["errors"][0]["message"]
    assert message == f"not a query parameter of this route, which takes {TAKES[resource]}"
    assert body["detail"] == f"Invalid request. kind: {message}"


@pytest.mark.parametrize("resource", ["projects", "tasks"])
async def test_an_unknown_parameter_on_a_get_by_id_is_a_400_naming_it(
    client: httpx.AsyncClient, alice: User, resource: str
) -> None:
    project = await create_project(client, alice)
    row = project if resource == "projects" else await create_task(client, alice, project["id"])

    response = await client.get(f"{API}/{resource}/{row['id']}?expand=owner", headers=alice.headers)

    body = assert_validation_problem(
        response, field="expand", location="query", rule="unknown_parameter"
    )
    assert body["errors"][0]["message"] == "not a query parameter of this route, which takes none"


async def test_each_unknown_parameter_is_named_once_as_sent(
    client: httpx.AsyncClient, alice: User
) -> None:
    """Decoded as the route would read it: `%5F` is `_`, `+` a space; repeats count once."""
    query = "a=1&a=2&b+c=3&project%5Fid=&limit=5&&=x"

    response = await client.get(f"{API}/tasks?{query}", headers=alice.headers)

    body = assert_validation_problem(response, field="a", location="query")
    assert [e["field"] for e in body["errors"]] == ["a", "b c", "query"]  # "": no name at all


async def test_declared_parameters_still_work(client: httpx.AsyncClient, alice: User) -> None:
    project = await create_project(client, alice)
    task = await create_task(client, alice, project["id"])

    listed = await client.get(
        f"{API}/tasks?project%5Fid={project['id']}&page=1&limit=1", headers=alice.headers
    )
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [task["id"]]
    assert (await client.get(f"{API}/tasks/{task['id']}", headers=alice.headers)).status_code == 200
    assert (await client.get(f"{API}/projects?page=1", headers=alice.headers)).status_code == 200


def test_every_get_route_accepts_exactly_the_query_parameters_openapi_documents(
    app: FastAPI,
) -> None:
    """What the 400 lets through is what clients are told they may send."""
    document = app.openapi()
    checked = 0
    for route in app.routes:
        if isinstance(route, APIRoute) and "GET" in route.methods and route.include_in_schema:
            operation = document["paths"][route.path_format]["get"]
            documented = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            assert sorted(query_names(route.dependant)) == sorted(documented), route.path
            checked += 1
    assert checked >= 6


def test_the_openapi_document_is_the_same_with_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="sqlite+aiosqlite:///:memory:",
        secret_key="openapi-test-secret-that-is-long-enough-0123456789",
    )
    checked = create_app(settings).openapi()
    monkeypatch.setattr(routing, "only_declared_query", lambda app, _: app)

    assert create_app(settings).openapi() == checked


def test_a_parameter_model_declares_its_fields() -> None:
    class Filters(BaseModel):
        color: str | None = None
        size: int = 0

    router = APIRouter()

    @router.get("/things")
    async def list_things(filters: Annotated[Filters, Query()], page: int = 1) -> dict[str, Any]:
        return {}

    app = FastAPI()
    add_routes(app, router)
    route = app.router.routes[-1]

    assert isinstance(route, APIRoute)
    assert query_names(route.dependant) == ("color", "size", "page")

"""Projects CRUD: /api/v1/projects."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import User
from tests.helpers import (
    API,
    PROJECT_KEYS,
    assert_new_resource,
    assert_problem,
    assert_validation_problem,
    create_project,
    create_task,
    get_json,
    list_ids,
    parse_timestamp,
)

# --- create -----------------------------------------------------------------


async def test_create_project_with_only_a_name_applies_defaults(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.post(f"{API}/projects", json={"name": "Apollo"}, headers=alice.headers)

    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == PROJECT_KEYS
    assert body["name"] == "Apollo"
    assert body["description"] is None
    assert body["status"] == "active"
    assert_new_resource(body)


async def test_create_project_stores_every_given_field(
    client: httpx.AsyncClient, alice: User
) -> None:
    body = await create_project(
        client, alice, name="Gemini", description="Two seats", status="archived"
    )

    assert (body["name"], body["description"], body["status"]) == (
        "Gemini",
        "Two seats",
        "archived",
    )
    assert await get_json(client, alice, f"/projects/{body['id']}") == body


async def test_create_project_accepts_explicit_null_description(
    client: httpx.AsyncClient, alice: User
) -> None:
    body = await create_project(client, alice, description=None)

    assert body["description"] is None


async def test_create_project_accepts_the_longest_allowed_values(
    client: httpx.AsyncClient, alice: User
) -> None:
    body = await create_project(client, alice, name="n" * 200, description="d" * 2000)

    fetched = await get_json(client, alice, f"/projects/{body['id']}")
    assert fetched["name"] == "n" * 200
    assert fetched["description"] == "d" * 2000


INVALID_CREATE = [
    ({}, "name", "missing"),
    ({"name": ""}, "name", "string_too_short"),
    ({"name": "n" * 201}, "name", "string_too_long"),
    ({"name": None}, "name", "string_type"),
    ({"name": 42}, "name", "string_type"),
    ({"name": "ok", "description": "d" * 2001}, "description", "string_too_long"),
    ({"name": "ok", "status": "deleted"}, "status", "enum"),
    ({"name": "ok", "status": None}, "status", "enum"),
]


def system_and_unknown_fields(other: User) -> dict[str, Any]:
    """A value for each field a client may not send; `other` is a would-be owner."""
    return {
        "id": str(uuid.uuid4()),
        "owner_id": str(other.id),
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "colour": "red",
    }


async def test_create_project_rejects_invalid_values_and_writes_nothing(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    for payload, field, rule in INVALID_CREATE:
        with subtests.test(payload=payload):
            response = await client.post(f"{API}/projects", json=payload, headers=alice.headers)

            assert_validation_problem(response, field=field, location="body", rule=rule)
            assert await list_ids(client, alice, "projects") == []


async def test_create_project_rejects_unknown_and_system_fields(
    client: httpx.AsyncClient, alice: User, bob: User, subtests: pytest.Subtests
) -> None:
    for field, value in system_and_unknown_fields(bob).items():
        with subtests.test(field=field):
            payload = {"name": "Apollo", field: value}

            response = await client.post(f"{API}/projects", json=payload, headers=alice.headers)

            assert_validation_problem(
                response, field=field, location="body", rule="extra_forbidden"
            )
            assert await list_ids(client, alice, "projects") == []
            assert await list_ids(client, bob, "projects") == []


# --- read -------------------------------------------------------------------


async def test_get_project_returns_the_created_body(client: httpx.AsyncClient, alice: User) -> None:
    created = await create_project(client, alice, description="Moon")

    response = await client.get(f"{API}/projects/{created['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == created


async def test_get_missing_project_is_a_404_problem(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get(f"{API}/projects/{uuid.uuid4()}", headers=alice.headers)

    body = assert_problem(response, 404)
    assert body["detail"] == "Project not found"


# --- update -----------------------------------------------------------------


async def test_update_changes_only_the_given_fields(client: httpx.AsyncClient, alice: User) -> None:
    created = await create_project(client, alice, name="Apollo", description="Moon")

    response = await client.put(
        f"{API}/projects/{created['id']}", json={"status": "archived"}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"], body["status"]) == ("Apollo", "Moon", "archived")
    assert await get_json(client, alice, f"/projects/{created['id']}") == body


async def test_update_can_change_every_field_at_once(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice)
    changes = {"name": "Artemis", "description": "Back again", "status": "archived"}

    response = await client.put(
        f"{API}/projects/{created['id']}", json=changes, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert {key: response.json()[key] for key in changes} == changes


async def test_update_clears_description_with_explicit_null(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice, description="Moon")

    response = await client.put(
        f"{API}/projects/{created['id']}", json={"description": None}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["description"] is None
    assert (await get_json(client, alice, f"/projects/{created['id']}"))["description"] is None


INVALID_UPDATE = [
    ({"name": None}, "name"),
    ({"status": None}, "status"),
    ({"name": ""}, "name"),
    ({"name": "n" * 201}, "name"),
    ({"description": "d" * 2001}, "description"),
    ({"status": "deleted"}, "status"),
]


async def test_update_rejects_invalid_values_and_leaves_the_row_unchanged(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    created = await create_project(client, alice, description="Moon")

    for payload, field in INVALID_UPDATE:
        with subtests.test(payload=payload):
            response = await client.put(
                f"{API}/projects/{created['id']}", json=payload, headers=alice.headers
            )

            assert_validation_problem(response, field=field, location="body")
            assert await get_json(client, alice, f"/projects/{created['id']}") == created


async def test_update_rejects_unknown_and_system_fields(
    client: httpx.AsyncClient, alice: User, bob: User, subtests: pytest.Subtests
) -> None:
    created = await create_project(client, alice)

    for field, value in system_and_unknown_fields(bob).items():
        with subtests.test(field=field):
            response = await client.put(
                f"{API}/projects/{created['id']}",
                json={"name": "Renamed", field: value},
                headers=alice.headers,
            )

            assert_validation_problem(
                response, field=field, location="body", rule="extra_forbidden"
            )
            assert await get_json(client, alice, f"/projects/{created['id']}") == created
            assert await list_ids(client, bob, "projects") == []


async def test_update_with_empty_body_returns_the_row_unchanged(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice, description="Moon", status="archived")

    response = await client.put(f"{API}/projects/{created['id']}", json={}, headers=alice.headers)

    assert response.status_code == 200, response.text
    assert response.json() == created
    assert await get_json(client, alice, f"/projects/{created['id']}") == created


async def test_update_advances_updated_at_and_keeps_created_at(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice)

    response = await client.put(
        f"{API}/projects/{created['id']}", json={"name": "Renamed"}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created_at"] == created["created_at"]
    assert parse_timestamp(body["updated_at"]) > parse_timestamp(created["updated_at"])
    assert parse_timestamp(body["updated_at"]) > parse_timestamp(body["created_at"])


async def test_update_missing_project_is_a_404_problem(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.put(
        f"{API}/projects/{uuid.uuid4()}", json={"name": "Ghost"}, headers=alice.headers
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await list_ids(client, alice, "projects") == []


# --- delete -----------------------------------------------------------------


async def test_delete_project_answers_204_with_empty_body_then_404(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice)

    response = await client.delete(f"{API}/projects/{created['id']}", headers=alice.headers)

    assert response.status_code == 204
    assert response.content == b""
    after = await client.get(f"{API}/projects/{created['id']}", headers=alice.headers)
    assert assert_problem(after, 404)["detail"] == "Project not found"


async def test_delete_project_twice_is_a_404_the_second_time(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await create_project(client, alice)
    first = await client.delete(f"{API}/projects/{created['id']}", headers=alice.headers)

    second = await client.delete(f"{API}/projects/{created['id']}", headers=alice.headers)

    assert first.status_code == 204
    assert assert_problem(second, 404)["detail"] == "Project not found"


async def test_delete_project_leaves_other_projects_alone(
    client: httpx.AsyncClient, alice: User
) -> None:
    doomed = await create_project(client, alice, name="Doomed")
    kept = await create_project(client, alice, name="Kept")

    await client.delete(f"{API}/projects/{doomed['id']}", headers=alice.headers)

    assert await list_ids(client, alice, "projects") == [kept["id"]]


async def test_delete_project_deletes_its_tasks(client: httpx.AsyncClient, alice: User) -> None:
    doomed = await create_project(client, alice, name="Doomed")
    kept = await create_project(client, alice, name="Kept")
    doomed_tasks = [await create_task(client, alice, doomed["id"]) for _ in range(2)]
    kept_task = await create_task(client, alice, kept["id"])

    response = await client.delete(f"{API}/projects/{doomed['id']}", headers=alice.headers)

    assert response.status_code == 204
    for task in doomed_tasks:
        gone = await client.get(f"{API}/tasks/{task['id']}", headers=alice.headers)
        assert assert_problem(gone, 404)["detail"] == "Task not found"
    assert await list_ids(client, alice, "tasks") == [kept_task["id"]]

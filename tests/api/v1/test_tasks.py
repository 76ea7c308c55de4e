"""Tasks CRUD: /api/v1/tasks."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import User
from tests.helpers import (
    API,
    TASK_KEYS,
    assert_new_resource,
    assert_problem,
    assert_validation_problem,
    create_project,
    create_task,
    get_json,
    list_ids,
    parse_timestamp,
)


@pytest.fixture
async def project(client: httpx.AsyncClient, alice: User) -> dict[str, Any]:
    return await create_project(client, alice, name="Apollo")


# --- create -----------------------------------------------------------------


async def test_create_task_with_required_fields_applies_defaults(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    response = await client.post(
        f"{API}/tasks",
        json={"project_id": project["id"], "title": "Launch"},
        headers=alice.headers,
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == TASK_KEYS
    assert body["project_id"] == project["id"]
    assert body["title"] == "Launch"
    assert body["done"] is False
    assert body["priority"] == 3
    assert body["due_date"] is None
    assert_new_resource(body)


async def test_create_task_stores_every_given_field(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    body = await create_task(
        client, alice, project["id"], title="Land", done=True, priority=5, due_date="2026-12-31"
    )

    assert (body["title"], body["done"], body["priority"], body["due_date"]) == (
        "Land",
        True,
        5,
        "2026-12-31",
    )
    assert await get_json(client, alice, f"/tasks/{body['id']}") == body


@pytest.mark.parametrize("priority", [1, 5])
async def test_create_task_accepts_priority_bounds(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any], priority: int
) -> None:
    body = await create_task(client, alice, project["id"], priority=priority)

    assert body["priority"] == priority


async def test_create_task_accepts_the_longest_title(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    body = await create_task(client, alice, project["id"], title="t" * 200)

    assert (await get_json(client, alice, f"/tasks/{body['id']}"))["title"] == "t" * 200


INVALID_CREATE = [
    ({"title": None}, "title", "string_type"),
    ({"title": ""}, "title", "string_too_short"),
    ({"title": "nul\x00byte"}, "title", "value_error"),
    ({"title": "t" * 201}, "title", "string_too_long"),
    ({"priority": 0}, "priority", "greater_than_equal"),
    ({"priority": 6}, "priority", "less_than_equal"),
    ({"priority": "high"}, "priority", "int_type"),
    ({"priority": "4"}, "priority", "int_type"),  # strict: numbers are not read from strings
    ({"priority": True}, "priority", "int_type"),
    ({"done": "maybe"}, "done", "bool_type"),
    ({"done": "yes"}, "done", "bool_type"),
    ({"done": 1}, "done", "bool_type"),
    ({"due_date": 0}, "due_date", "value_error"),  # not read as a Unix timestamp
    ({"due_date": "0"}, "due_date", "value_error"),  # nor as one in a string
    ({"done": None}, "done", "bool_type"),
    ({"due_date": "tomorrow"}, "due_date", None),
    ({"due_date": "2026-13-01"}, "due_date", None),
    ({"project_id": "not-a-uuid"}, "project_id", "uuid_parsing"),
    ({"project_id": None}, "project_id", "uuid_type"),
]

INVALID_UPDATE = [
    ({"title": None}, "title"),
    ({"done": None}, "done"),
    ({"priority": None}, "priority"),
    ({"project_id": None}, "project_id"),
    ({"title": ""}, "title"),
    ({"priority": 6}, "priority"),
    ({"due_date": "someday"}, "due_date"),
]


def system_and_unknown_fields(other: User) -> dict[str, Any]:
    """A value for each field a client may not send; `other` is a would-be owner."""
    return {
        "id": str(uuid.uuid4()),
        "owner_id": str(other.id),
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "tags": ["x"],
    }


async def test_create_task_rejects_invalid_values_and_writes_nothing(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any], subtests: pytest.Subtests
) -> None:
    for changes, field, rule in INVALID_CREATE:
        with subtests.test(changes=changes):
            payload = {"project_id": project["id"], "title": "Launch", **changes}

            response = await client.post(f"{API}/tasks", json=payload, headers=alice.headers)

            assert_validation_problem(response, field=field, location="body", rule=rule)
            assert await list_ids(client, alice, "tasks") == []


async def test_create_task_requires_project_id_and_title(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any], subtests: pytest.Subtests
) -> None:
    for missing in ("project_id", "title"):
        with subtests.test(missing=missing):
            payload = {"project_id": project["id"], "title": "Launch"}
            del payload[missing]

            response = await client.post(f"{API}/tasks", json=payload, headers=alice.headers)

            assert_validation_problem(response, field=missing, location="body", rule="missing")
            assert await list_ids(client, alice, "tasks") == []


async def test_create_task_rejects_unknown_and_system_fields(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    project: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    for field, value in system_and_unknown_fields(bob).items():
        with subtests.test(field=field):
            payload = {"project_id": project["id"], "title": "Launch", field: value}

            response = await client.post(f"{API}/tasks", json=payload, headers=alice.headers)

            assert_validation_problem(
                response, field=field, location="body", rule="extra_forbidden"
            )
            assert await list_ids(client, alice, "tasks") == []
            assert await list_ids(client, bob, "tasks") == []


async def test_create_task_in_a_missing_project_is_a_404_and_writes_nothing(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    response = await client.post(
        f"{API}/tasks", json={"project_id": str(uuid.uuid4()), "title": "X"}, headers=alice.headers
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await list_ids(client, alice, "tasks") == []


# --- read -------------------------------------------------------------------


async def test_get_task_returns_the_created_body(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"], due_date="2027-01-02")

    response = await client.get(f"{API}/tasks/{created['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == created


async def test_get_missing_task_is_a_404_problem(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get(f"{API}/tasks/{uuid.uuid4()}", headers=alice.headers)

    assert assert_problem(response, 404)["detail"] == "Task not found"


async def test_list_tasks_filters_by_project_id(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    other = await create_project(client, alice, name="Gemini")
    mine = [await create_task(client, alice, project["id"], title=f"a{i}") for i in range(3)]
    await create_task(client, alice, other["id"], title="b")

    page = await get_json(client, alice, f"/tasks?project_id={project['id']}")

    assert [item["id"] for item in page["items"]] == [task["id"] for task in mine]
    assert page["total"] == 3
    assert page["pages"] == 1


async def test_list_tasks_without_filter_lists_every_project(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    other = await create_project(client, alice, name="Gemini")
    first = await create_task(client, alice, project["id"])
    second = await create_task(client, alice, other["id"])

    assert await list_ids(client, alice, "tasks") == [first["id"], second["id"]]


async def test_list_tasks_of_a_missing_project_is_empty(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    await create_task(client, alice, project["id"])

    page = await get_json(client, alice, f"/tasks?project_id={uuid.uuid4()}")

    assert (page["items"], page["total"], page["pages"]) == ([], 0, 0)


async def test_list_tasks_with_malformed_project_id_is_a_query_400(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get(f"{API}/tasks?project_id=nope", headers=alice.headers)

    assert_validation_problem(response, field="project_id", location="query", rule="uuid_parsing")


# --- update -----------------------------------------------------------------


async def test_update_task_changes_only_the_given_fields(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(
        client, alice, project["id"], title="Launch", priority=4, due_date="2027-01-02"
    )

    response = await client.put(
        f"{API}/tasks/{created['id']}", json={"done": True}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["done"] is True
    assert (body["title"], body["priority"], body["due_date"], body["project_id"]) == (
        "Launch",
        4,
        "2027-01-02",
        project["id"],
    )
    assert await get_json(client, alice, f"/tasks/{created['id']}") == body


async def test_update_task_clears_due_date_with_explicit_null(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"], due_date="2027-01-02")

    response = await client.put(
        f"{API}/tasks/{created['id']}", json={"due_date": None}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["due_date"] is None
    assert (await get_json(client, alice, f"/tasks/{created['id']}"))["due_date"] is None


async def test_update_task_moves_it_to_another_own_project(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    other = await create_project(client, alice, name="Gemini")
    created = await create_task(client, alice, project["id"])

    response = await client.put(
        f"{API}/tasks/{created['id']}", json={"project_id": other["id"]}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["project_id"] == other["id"]
    moved = await get_json(client, alice, f"/tasks?project_id={other['id']}")
    assert [item["id"] for item in moved["items"]] == [created["id"]]


async def test_update_task_to_a_missing_project_is_a_404_and_changes_nothing(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"], title="Launch")

    response = await client.put(
        f"{API}/tasks/{created['id']}",
        json={"project_id": str(uuid.uuid4()), "title": "Changed"},
        headers=alice.headers,
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await get_json(client, alice, f"/tasks/{created['id']}") == created


async def test_update_task_rejects_invalid_values_and_leaves_the_row_unchanged(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any], subtests: pytest.Subtests
) -> None:
    created = await create_task(client, alice, project["id"], due_date="2027-01-02")

    for payload, field in INVALID_UPDATE:
        with subtests.test(payload=payload):
            response = await client.put(
                f"{API}/tasks/{created['id']}", json=payload, headers=alice.headers
            )

            assert_validation_problem(response, field=field, location="body")
            assert await get_json(client, alice, f"/tasks/{created['id']}") == created


async def test_update_task_rejects_unknown_and_system_fields(
    client: httpx.AsyncClient,
    alice: User,
    bob: User,
    project: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    created = await create_task(client, alice, project["id"])

    for field, value in system_and_unknown_fields(bob).items():
        with subtests.test(field=field):
            response = await client.put(
                f"{API}/tasks/{created['id']}",
                json={"title": "Changed", field: value},
                headers=alice.headers,
            )

            assert_validation_problem(
                response, field=field, location="body", rule="extra_forbidden"
            )
            assert await get_json(client, alice, f"/tasks/{created['id']}") == created
            assert await list_ids(client, bob, "tasks") == []


async def test_update_task_with_empty_body_returns_the_row_unchanged(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"], done=True, due_date="2027-01-02")

    response = await client.put(f"{API}/tasks/{created['id']}", json={}, headers=alice.headers)

    assert response.status_code == 200, response.text
    assert response.json() == created
    assert await get_json(client, alice, f"/tasks/{created['id']}") == created


async def test_update_task_advances_updated_at_and_keeps_created_at(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"])

    response = await client.put(
        f"{API}/tasks/{created['id']}", json={"priority": 1}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["priority"] == 1
    assert body["created_at"] == created["created_at"]
    assert parse_timestamp(body["updated_at"]) > parse_timestamp(created["updated_at"])


async def test_update_missing_task_is_a_404_problem(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    response = await client.put(
        f"{API}/tasks/{uuid.uuid4()}", json={"title": "Ghost"}, headers=alice.headers
    )

    assert assert_problem(response, 404)["detail"] == "Task not found"
    assert await list_ids(client, alice, "tasks") == []


# --- delete -----------------------------------------------------------------


async def test_delete_task_answers_204_with_empty_body_then_404(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"])

    response = await client.delete(f"{API}/tasks/{created['id']}", headers=alice.headers)

    assert response.status_code == 204
    assert response.content == b""
    after = await client.get(f"{API}/tasks/{created['id']}", headers=alice.headers)
    assert assert_problem(after, 404)["detail"] == "Task not found"


async def test_delete_task_twice_is_a_404_the_second_time(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    created = await create_task(client, alice, project["id"])
    first = await client.delete(f"{API}/tasks/{created['id']}", headers=alice.headers)

    second = await client.delete(f"{API}/tasks/{created['id']}", headers=alice.headers)

    assert first.status_code == 204
    assert assert_problem(second, 404)["detail"] == "Task not found"


async def test_delete_task_keeps_its_project_and_sibling_tasks(
    client: httpx.AsyncClient, alice: User, project: dict[str, Any]
) -> None:
    doomed = await create_task(client, alice, project["id"], title="Doomed")
    kept = await create_task(client, alice, project["id"], title="Kept")

    await client.delete(f"{API}/tasks/{doomed['id']}", headers=alice.headers)

    assert await list_ids(client, alice, "tasks") == [kept["id"]]
    assert await get_json(client, alice, f"/projects/{project['id']}") == project

"""Owner isolation: others' rows answer 404 like a missing id; superusers see every row."""

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import MakeUser, User
from tests.helpers import (
    API,
    assert_problem,
    create_project,
    create_task,
    get_json,
    list_ids,
)


@pytest.fixture
async def alice_project(client: httpx.AsyncClient, alice: User) -> dict[str, Any]:
    return await create_project(client, alice, name="Alice's", description="private")


@pytest.fixture
async def alice_task(
    client: httpx.AsyncClient, alice: User, alice_project: dict[str, Any]
) -> dict[str, Any]:
    return await create_task(client, alice, alice_project["id"], title="Alice's task")


@pytest.fixture
async def root(make_user: MakeUser) -> User:
    return await make_user("root@example.com", superuser=True)


async def assert_same_as_missing(
    client: httpx.AsyncClient,
    user: User,
    method: str,
    resource: str,
    foreign_id: str,
    body: dict[str, Any] | None = None,
) -> None:
    """`user` gets exactly the answer a random missing id gets: a 404 with the same body."""
    foreign = await client.request(
        method, f"{API}/{resource}/{foreign_id}", json=body, headers=user.headers
    )
    missing = await client.request(
        method, f"{API}/{resource}/{uuid.uuid4()}", json=body, headers=user.headers
    )
    assert_problem(foreign, 404)
    assert_problem(missing, 404)
    assert foreign.json() == missing.json()
    assert foreign.headers["content-type"] == missing.headers["content-type"]


# --- projects ---------------------------------------------------------------


async def test_other_users_project_reads_as_missing(
    client: httpx.AsyncClient, alice_project: dict[str, Any], bob: User
) -> None:
    await assert_same_as_missing(client, bob, "GET", "projects", alice_project["id"])


async def test_other_users_project_cannot_be_updated(
    client: httpx.AsyncClient, alice: User, alice_project: dict[str, Any], bob: User
) -> None:
    await assert_same_as_missing(
        client, bob, "PUT", "projects", alice_project["id"], {"name": "Bob was here"}
    )

    assert await get_json(client, alice, f"/projects/{alice_project['id']}") == alice_project


async def test_other_users_project_cannot_be_deleted(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], bob: User
) -> None:
    project_id = alice_task["project_id"]

    await assert_same_as_missing(client, bob, "DELETE", "projects", project_id)

    assert await list_ids(client, alice, "projects") == [project_id]
    assert await list_ids(client, alice, "tasks") == [alice_task["id"]]


async def test_project_lists_and_totals_hold_only_own_rows(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    alices = [await create_project(client, alice, name=f"a{i}") for i in range(3)]
    bobs = [await create_project(client, bob, name=f"b{i}") for i in range(2)]

    alice_page = await get_json(client, alice, "/projects?limit=2")
    bob_page = await get_json(client, bob, "/projects")

    assert (alice_page["total"], alice_page["pages"]) == (3, 2)
    assert [item["id"] for item in alice_page["items"]] == [p["id"] for p in alices[:2]]
    assert bob_page["total"] == 2
    assert bob_page["items"] == bobs


# --- tasks ------------------------------------------------------------------


async def test_other_users_task_reads_as_missing(
    client: httpx.AsyncClient, alice_task: dict[str, Any], bob: User
) -> None:
    await assert_same_as_missing(client, bob, "GET", "tasks", alice_task["id"])


async def test_other_users_task_cannot_be_updated(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], bob: User
) -> None:
    await assert_same_as_missing(client, bob, "PUT", "tasks", alice_task["id"], {"done": True})

    assert await get_json(client, alice, f"/tasks/{alice_task['id']}") == alice_task


async def test_other_users_task_cannot_be_deleted(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], bob: User
) -> None:
    await assert_same_as_missing(client, bob, "DELETE", "tasks", alice_task["id"])

    assert await get_json(client, alice, f"/tasks/{alice_task['id']}") == alice_task


async def test_task_lists_and_totals_hold_only_own_rows(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], bob: User
) -> None:
    bob_project = await create_project(client, bob)
    bob_task = await create_task(client, bob, bob_project["id"])

    alice_page = await get_json(client, alice, "/tasks")
    bob_page = await get_json(client, bob, "/tasks")

    assert (alice_page["items"], alice_page["total"]) == ([alice_task], 1)
    assert (bob_page["items"], bob_page["total"]) == ([bob_task], 1)


async def test_task_in_other_users_project_is_project_not_found_and_not_written(
    client: httpx.AsyncClient, alice: User, alice_project: dict[str, Any], bob: User
) -> None:
    response = await client.post(
        f"{API}/tasks",
        json={"project_id": alice_project["id"], "title": "Intruder"},
        headers=bob.headers,
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await list_ids(client, bob, "tasks") == []
    assert await list_ids(client, alice, "tasks") == []


async def test_moving_own_task_to_other_users_project_is_project_not_found(
    client: httpx.AsyncClient, alice: User, alice_project: dict[str, Any], bob: User
) -> None:
    bob_project = await create_project(client, bob)
    bob_task = await create_task(client, bob, bob_project["id"])

    response = await client.put(
        f"{API}/tasks/{bob_task['id']}",
        json={"project_id": alice_project["id"], "title": "Moved"},
        headers=bob.headers,
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await get_json(client, bob, f"/tasks/{bob_task['id']}") == bob_task
    assert await list_ids(client, alice, "tasks") == []


async def test_filtering_tasks_by_other_users_project_lists_nothing(
    client: httpx.AsyncClient, alice_task: dict[str, Any], bob: User
) -> None:
    page = await get_json(client, bob, f"/tasks?project_id={alice_task['project_id']}")

    assert (page["items"], page["total"], page["pages"]) == ([], 0, 0)


# --- superuser --------------------------------------------------------------


async def test_superuser_lists_every_users_rows(
    client: httpx.AsyncClient, alice_task: dict[str, Any], bob: User, root: User
) -> None:
    bob_project = await create_project(client, bob)
    bob_task = await create_task(client, bob, bob_project["id"])

    projects = await get_json(client, root, "/projects")
    tasks = await get_json(client, root, "/tasks")

    assert projects["total"] == 2
    assert {item["id"] for item in projects["items"]} == {
        alice_task["project_id"],
        bob_project["id"],
    }
    assert tasks["total"] == 2
    assert {item["id"] for item in tasks["items"]} == {alice_task["id"], bob_task["id"]}


async def test_superuser_reads_other_users_rows(
    client: httpx.AsyncClient,
    alice_project: dict[str, Any],
    alice_task: dict[str, Any],
    root: User,
) -> None:
    assert await get_json(client, root, f"/projects/{alice_project['id']}") == alice_project
    assert await get_json(client, root, f"/tasks/{alice_task['id']}") == alice_task


async def test_superuser_updates_other_users_rows(
    client: httpx.AsyncClient,
    alice: User,
    alice_project: dict[str, Any],
    alice_task: dict[str, Any],
    root: User,
) -> None:
    project = await client.put(
        f"{API}/projects/{alice_project['id']}", json={"name": "By root"}, headers=root.headers
    )
    task = await client.put(
        f"{API}/tasks/{alice_task['id']}", json={"done": True}, headers=root.headers
    )

    assert project.status_code == 200, project.text
    assert task.status_code == 200, task.text
    assert (await get_json(client, alice, f"/projects/{alice_project['id']}"))["name"] == "By root"
    assert (await get_json(client, alice, f"/tasks/{alice_task['id']}"))["done"] is True


async def test_superuser_deletes_other_users_rows(
    client: httpx.AsyncClient,
    alice: User,
    alice_task: dict[str, Any],
    root: User,
) -> None:
    other_project = await create_project(client, alice, name="Other")

    task = await client.delete(f"{API}/tasks/{alice_task['id']}", headers=root.headers)
    project = await client.delete(f"{API}/projects/{other_project['id']}", headers=root.headers)

    assert (task.status_code, project.status_code) == (204, 204)
    assert await list_ids(client, alice, "tasks") == []
    assert await list_ids(client, alice, "projects") == [alice_task["project_id"]]


async def test_superuser_moves_other_users_task_within_that_users_projects(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], root: User
) -> None:
    other_project = await create_project(client, alice, name="Other")

    response = await client.put(
        f"{API}/tasks/{alice_task['id']}",
        json={"project_id": other_project["id"]},
        headers=root.headers,
    )

    assert response.status_code == 200, response.text
    assert (await get_json(client, alice, f"/tasks/{alice_task['id']}"))["project_id"] == (
        other_project["id"]
    )


async def test_superuser_cannot_move_other_users_task_into_a_project_of_another_owner(
    client: httpx.AsyncClient, alice: User, alice_task: dict[str, Any], root: User
) -> None:
    root_project = await create_project(client, root, name="Root's")

    response = await client.put(
        f"{API}/tasks/{alice_task['id']}",
        json={"project_id": root_project["id"]},
        headers=root.headers,
    )

    assert assert_problem(response, 404)["detail"] == "Project not found"
    assert await get_json(client, alice, f"/tasks/{alice_task['id']}") == alice_task

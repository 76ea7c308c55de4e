"""Paging of GET /projects and GET /tasks: page/limit and cursor validation, totals, order."""

import uuid
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from src.core.database import Database
from src.repositories.project_repo import ProjectRepository
from tests.conftest import Backend, User
from tests.helpers import (
    API,
    assert_validation_problem,
    create_project,
    create_task,
    get_json,
    parse_timestamp,
)

RESOURCES = ["projects", "tasks"]


async def create_rows(
    client: httpx.AsyncClient, user: User, resource: str, count: int
) -> list[dict[str, Any]]:
    """`count` rows of `resource` owned by `user`, in creation order."""
    if resource == "projects":
        return [await create_project(client, user, name=f"p{i}") for i in range(count)]
    project = await create_project(client, user, name="Holder")
    return [await create_task(client, user, project["id"], title=f"t{i}") for i in range(count)]


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize("resource", RESOURCES)
async def test_empty_list_has_zero_total_and_zero_pages(
    client: httpx.AsyncClient, alice: User, resource: str
) -> None:
    page = await get_json(client, alice, f"/{resource}")

    assert page == {
        "items": [],
        "total": 0,
        "total_exact": True,
        "page": 1,
        "limit": 20,
        "pages": 0,
        "next_cursor": None,
    }


@pytest.mark.parametrize("resource", RESOURCES)
async def test_list_defaults_to_page_1_limit_20_oldest_first(
    client: httpx.AsyncClient, alice: User, resource: str
) -> None:
    rows = await create_rows(client, alice, resource, 3)

    page = await get_json(client, alice, f"/{resource}")

    assert (page["page"], page["limit"], page["total"], page["pages"]) == (1, 20, 3, 1)
    assert page["items"] == rows


@pytest.mark.parametrize("resource", RESOURCES)
async def test_pages_are_ceil_of_total_over_limit_and_split_rows_in_order(
    client: httpx.AsyncClient, alice: User, resource: str
) -> None:
    rows = await create_rows(client, alice, resource, 5)

    pages = [await get_json(client, alice, f"/{resource}?page={n}&limit=2") for n in (1, 2, 3)]

    assert [(p["page"], p["limit"], p["total"], p["pages"]) for p in pages] == [
        (1, 2, 5, 3),
        (2, 2, 5, 3),
        (3, 2, 5, 3),
    ]
    assert [ids(p) for p in pages] == [
        [rows[0]["id"], rows[1]["id"]],
        [rows[2]["id"], rows[3]["id"]],
        [rows[4]["id"]],
    ]


async def test_pages_is_exact_when_total_is_a_multiple_of_limit(
    client: httpx.AsyncClient, alice: User
) -> None:
    await create_rows(client, alice, "projects", 4)

    page = await get_json(client, alice, "/projects?limit=2")

    assert (page["total"], page["pages"], len(page["items"])) == (4, 2, 2)


async def test_page_past_the_end_is_empty_but_keeps_the_total(
    client: httpx.AsyncClient, alice: User
) -> None:
    await create_rows(client, alice, "projects", 3)

    page = await get_json(client, alice, "/projects?page=4&limit=2")

    assert page == {
        "items": [],
        "total": 3,
        "total_exact": True,
        "page": 4,
        "limit": 2,
        "pages": 2,
        "next_cursor": None,
    }


@pytest.mark.parametrize(("limit", "expected_items"), [(1, 1), (100, 3)])
async def test_limit_bounds_are_accepted(
    client: httpx.AsyncClient, alice: User, limit: int, expected_items: int
) -> None:
    await create_rows(client, alice, "projects", 3)

    page = await get_json(client, alice, f"/projects?limit={limit}")

    assert (page["limit"], len(page["items"]), page["total"]) == (limit, expected_items, 3)
    assert page["pages"] == -(-3 // limit)


INVALID_PAGING = [
    ("page=0", "page"),
    ("page=-1", "page"),
    ("page=abc", "page"),
    ("limit=0", "limit"),
    ("limit=-1", "limit"),
    ("limit=101", "limit"),
    ("limit=abc", "limit"),
    ("limit=1.5", "limit"),
]


async def test_out_of_range_paging_is_a_query_400_never_clamped(
    client: httpx.AsyncClient, alice: User, subtests: pytest.Subtests
) -> None:
    await create_project(client, alice)

    for resource in RESOURCES:
        for query, field in INVALID_PAGING:
            with subtests.test(resource=resource, query=query):
                response = await client.get(f"{API}/{resource}?{query}", headers=alice.headers)

                assert_validation_problem(response, field=field, location="query")


async def test_items_are_ordered_by_created_at_not_by_insertion(
    client: httpx.AsyncClient, alice: User, database: Database
) -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    repository = ProjectRepository(database, owner_id=alice.id)
    for name, offset in [("third", 2), ("first", 0), ("second", 1)]:
        await repository.create({"name": name, "created_at": base + timedelta(days=offset)})

    page = await get_json(client, alice, "/projects")

    assert [item["name"] for item in page["items"]] == ["first", "second", "third"]
    assert [parse_timestamp(item["created_at"]) for item in page["items"]] == [
        base,
        base + timedelta(days=1),
        base + timedelta(days=2),
    ]


async def test_rows_created_at_the_same_instant_are_ordered_by_id(
    client: httpx.AsyncClient, alice: User, database: Database
) -> None:
    instant = datetime(2030, 1, 1, tzinfo=UTC)
    row_ids = [uuid.uuid4() for _ in range(4)]
    repository = ProjectRepository(database, owner_id=alice.id)
    for row_id in row_ids:
        await repository.create({"id": row_id, "name": str(row_id), "created_at": instant})

    first = await get_json(client, alice, "/projects?limit=2")
    second = await get_json(client, alice, "/projects?page=2&limit=2")

    assert ids(first) + ids(second) == [str(row_id) for row_id in sorted(row_ids)]


async def walk_by_cursor(
    client: httpx.AsyncClient, user: User, resource: str, limit: int
) -> list[dict[str, Any]]:
    """Every page from the first, following `next_cursor` until it is null."""
    pages = [await get_json(client, user, f"/{resource}?limit={limit}")]
    while pages[-1]["next_cursor"] is not None:
        cursor = pages[-1]["next_cursor"]
        pages.append(await get_json(client, user, f"/{resource}?limit={limit}&cursor={cursor}"))
        assert len(pages) < 20, "next_cursor never ran out"
    return pages


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("count", [6, 7])
async def test_cursor_pages_are_the_offset_pages_and_end_with_a_null_cursor(
    client: httpx.AsyncClient, alice: User, resource: str, count: int
) -> None:
    rows = await create_rows(client, alice, resource, count)

    by_cursor = await walk_by_cursor(client, alice, resource, limit=3)
    by_offset = [
        await get_json(client, alice, f"/{resource}?page={number}&limit=3") for number in (1, 2, 3)
    ]

    assert [ids(page) for page in by_cursor] == [ids(page) for page in by_offset if page["items"]]
    assert list(chain.from_iterable(map(ids, by_cursor))) == [row["id"] for row in rows]
    assert [page["page"] for page in by_cursor] == [1] + [None] * (len(by_cursor) - 1)
    assert {(page["total"], page["total_exact"], page["pages"]) for page in by_cursor} == {
        (count, True, -(-count // 3))
    }


async def test_cursor_orders_rows_of_the_same_instant_by_id(
    client: httpx.AsyncClient, alice: User, database: Database
) -> None:
    instant = datetime(2030, 1, 1, tzinfo=UTC)
    row_ids = [uuid.uuid4() for _ in range(4)]
    repository = ProjectRepository(database, owner_id=alice.id)
    for row_id in row_ids:
        await repository.create({"id": row_id, "name": str(row_id), "created_at": instant})

    pages = await walk_by_cursor(client, alice, "projects", limit=1)

    assert list(chain.from_iterable(map(ids, pages))) == [str(row_id) for row_id in sorted(row_ids)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=" + "1" * 18 + "." + "a" * 32, "cursor"),  # past year 9999
        ("cursor=1." + "a" * 31, "cursor"),  # an id one digit short
        ("cursor=1." + "A" * 32, "cursor"),  # hex in upper case is not what was issued
        ("cursor=-1." + "a" * 32, "cursor"),
    ],
)
async def test_a_cursor_this_service_did_not_issue_is_a_query_400(
    client: httpx.AsyncClient, alice: User, query: str, field: str
) -> None:
    response = await client.get(f"{API}/projects?{query}", headers=alice.headers)

    assert_validation_problem(response, field=field, location="query")


async def test_with_a_cursor_the_page_number_is_not_used(
    client: httpx.AsyncClient, alice: User
) -> None:
    await create_rows(client, alice, "projects", 3)
    first = await get_json(client, alice, "/projects?limit=1")
    cursor = first["next_cursor"]

    after = await get_json(client, alice, f"/projects?limit=1&cursor={cursor}")
    with_page = await get_json(client, alice, f"/projects?page=3&limit=1&cursor={cursor}")

    assert with_page == after
    assert after["page"] is None


async def test_a_total_past_the_bound_is_marked_as_an_estimate_unless_exact_is_asked(
    app: FastAPI, client: httpx.AsyncClient, alice: User, backend: Backend
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"list_exact_total_limit": 3})
    await create_rows(client, alice, "projects", 5)

    bounded = await get_json(client, alice, "/projects?limit=2")
    exact = (
        await client.get(
            f"{API}/projects?limit=2",
            headers={**alice.headers, "Prefer": "return=minimal, count=exact"},
        )
    ).json()

    assert (exact["total"], exact["total_exact"], exact["pages"]) == (5, True, 3)
    if backend.name == "postgresql":  # the planner's estimate, never below what was counted
        assert bounded["total_exact"] is False
        assert bounded["total"] >= 4
        assert bounded["pages"] == -(-bounded["total"] // 2)
    else:  # SQLite has no estimate to give: it always counts
        assert (bounded["total"], bounded["total_exact"]) == (5, True)
    assert ids(bounded) == ids(exact)

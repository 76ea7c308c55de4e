"""Nested routes (`/api/v1/<parents>/{<ref field>}/<rows>`): refused where they cannot be
generated, and, in a copy of the project grown with them, lint-clean, `check`-green, their
generated tests passing on SQLite and PostgreSQL, one statement per request and the parent's
`(field, created_at, id)` index under every page.

The copy gets comments under tasks (nested and flat routes side by side, a list filter, PUT
and PATCH) and notes under projects (nested routes only, public reads).
"""

import re
from pathlib import Path

import pytest

from src.engine.doc import parse_doc
from src.engine.generate import GenerationError, render_feature
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    edited,
    featwright,
    run_generated_tests,
    snapshot,
)

COMMENT_ROWS = (
    "| task_id | ref(Task) | yes | - | The task commented on |\n"
    "| body | str(1..500) | yes | - | What is said |\n"
    "| rating | int(1..5) | no | 3 | Stars |\n"
)
NOTE_ROWS = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| text | str(1..200) | yes | - | The note |\n"
    "| pinned | bool | no | false | Shown first |\n"
)


def nest(doc: Path, parent: str, field: str, *, keep_flat: bool) -> Path:
    """`doc` with each endpoint also (or only, without `keep_flat`) under
    `/api/v1/<parent>/{<field>}/`, each documenting the parent's 404."""
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition("## API Endpoints\n")
    endpoints, _, tail = rest.partition("## File Plan")
    first, *sections = re.split(r"(?m)^(?=### )", endpoints)
    written = [first]
    for section in sections:
        nested = re.sub(r"^### (\w+) /api/v1/", rf"### \1 /api/v1/{parent}/{{{field}}}/", section)
        if "| Response 404 |" not in nested:
            nested = re.sub(
                r"(\| Response 200 \|[^\n]*\n)", r"\1| Response 404 | NotFoundError |\n", nested
            )
        written += [section, nested] if keep_flat else [nested]
    doc.write_text(f"{head}## API Endpoints\n{''.join(written)}## File Plan{tail}", "utf-8")
    return doc


def comments_doc(directory: Path) -> Path:
    """Comments under tasks and flat, the nested `PUT` also as a `PATCH`."""
    doc = nest(
        doc_in(directory, "comments", COMMENT_ROWS, "rating (int)"),
        "tasks",
        "task_id",
        keep_flat=True,
    )
    text = doc.read_text(encoding="utf-8")
    put = text[text.index("### PUT /api/v1/tasks/{task_id}/comments/{id}") :].split("\n\n", 1)[0]
    doc.write_text(text.replace(put, f"{put}\n\n{put.replace('### PUT', '### PATCH')}"), "utf-8")
    return doc


def notes_doc(directory: Path) -> Path:
    """Notes only under their project, read by anyone (no 401 on the reads)."""
    doc = nest(
        doc_in(directory, "notes", NOTE_ROWS, public=True),
        "projects",
        "project_id",
        keep_flat=False,
    )
    sections = re.split(r"(?m)^(?=### )", doc.read_text(encoding="utf-8"))
    doc.write_text(
        "".join(
            s.replace("| Response 401 | UnauthorizedError |\n", "") if "| Auth | none |" in s else s
            for s in sections
        ),
        encoding="utf-8",
    )
    return doc


def generation_problems(doc: Path) -> list[str]:
    with pytest.raises(GenerationError) as refused:
        render_feature(parse_doc(doc, APP_MODELS), ROOT)
    return refused.value.problems


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "/api/v1/tasks/{task_id}/comments?",
            "/api/v1/tasks/{body}/comments?",
            "{body} is not a ref field of Comment, so it names no parent row; expected a path"
            " under the parent a ref field names: /api/v1/tasks/{task_id}/comments",
        ),
        (
            "/api/v1/tasks/{task_id}/comments?",
            "/api/v1/projects/{task_id}/comments?",
            "task_id is ref(Task), whose rows are /api/v1/tasks, not /api/v1/projects;"
            " expected /api/v1/tasks/{task_id}/comments",
        ),
        (
            "### DELETE /api/v1/tasks/{task_id}/comments/{id}",
            "### DELETE /api/v1/tasks/{task_id}/comments/{id}/x",
            "is not a CRUD operation of this doc's models",
        ),
    ],
)
def test_a_nested_route_that_cannot_be_generated_is_refused_with_its_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    doc = comments_doc(tmp_path)
    doc.write_text(edited(doc.read_text(encoding="utf-8"), (old, new)), encoding="utf-8")
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index(
        next(x for x in doc.read_text(encoding="utf-8").splitlines() if new.split("?")[0] in x)
    )
    (problem,) = generation_problems(doc)
    assert problem.startswith(f"{doc}:{line}: endpoint "), problem
    assert expected in problem, problem


def test_a_nested_route_without_its_404_or_filtering_by_its_parent_is_refused(
    tmp_path: Path,
) -> None:
    doc = comments_doc(tmp_path)
    text = doc.read_text(encoding="utf-8")
    nested_list = text.index("### GET /api/v1/tasks/{task_id}/comments?")
    section = text[nested_list:].split("\n\n", 1)[0]
    changed = section.replace("| Response 404 | NotFoundError |\n", "").replace(
        "limit (int, default 20), rating (int)", "limit (int, default 20), task_id (UUID)"
    )
    doc.write_text(text.replace(section, changed), encoding="utf-8")
    (problem,) = generation_problems(doc)
    assert "a route under a parent answers 404" in problem, problem
    doc.write_text(
        text.replace(section, section.replace("rating (int)", "task_id (UUID)")), "utf-8"
    )
    (problem,) = generation_problems(doc)
    assert "query parameter 'task_id' is the path's parent" in problem, problem


def test_add_refuses_it_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    doc = comments_doc(project / "docs/features")
    doc.write_text(
        doc.read_text(encoding="utf-8").replace("/{task_id}/comments", "/{body}/comments"),
        encoding="utf-8",
    )
    before = snapshot(project)
    refused = featwright(project, "add", str(doc))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "{body} is not a ref field of Comment" in refused.stderr + refused.stdout
    assert snapshot(project) == before


# Runs in the copy: statements per request, and the plans of a nested list on PostgreSQL.
NESTED_CHECKS = '''"""Nested routes: one statement per request, the parent's index."""

import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from src.core.database import Database, Record
from src.core.postgres import compiled
from tests.conftest import MakeUser
from tests.crud_contract import create_row

API = "/api/v1"


class Counting(Database):
    """A database that keeps every statement the app runs through it."""

    ran: list[tuple[Executable, Mapping[str, Any]]]

    async def _run(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        self.ran.append((statement, params))
        return await super()._run(statement, params)

    async def estimate(self, statement: Executable, params: Mapping[str, Any]) -> int:
        self.ran.append((statement, params))
        return await super().estimate(statement, params)


@pytest.fixture
async def database(engine: AsyncEngine) -> AsyncIterator[Database]:
    """The suite's database (one transaction, rolled back), counting what the app runs."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        counting = Counting(connection, join_transaction_mode="create_savepoint")
        counting.ran = []
        yield counting
        await transaction.rollback()


async def test_a_nested_request_is_one_statement(
    client: httpx.AsyncClient, database: Counting, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    task = await create_row(client, headers, "tasks")
    url = f"{API}/tasks/{task['id']}/comments"
    await client.post(url, json={"body": "warm"}, headers=headers)  # the pool, the caches
    await client.get(url, headers=headers)

    async def statements(method: str, path: str, **kwargs: Any) -> int:
        database.ran.clear()
        answered = await client.request(method, path, headers=headers, **kwargs)
        assert answered.status_code < 300, answered.text
        return len(database.ran)

    assert await statements("POST", url, json={"body": "x"}) == 1
    row = (await client.get(url, headers=headers)).json()["items"][-1]
    assert await statements("GET", url) == 1
    assert await statements("GET", f"{url}?rating=3&limit=1") == 1
    assert await statements("GET", f"{url}/{row['id']}") == 1
    assert await statements("PUT", f"{url}/{row['id']}", json={"body": "y"}) == 1
    assert await statements("DELETE", f"{url}/{row['id']}") == 1
    empty = await create_row(client, headers, "tasks")  # an empty page asks for the parent
    assert await statements("GET", f"{API}/tasks/{empty['id']}/comments") == 2


async def test_a_nested_list_pages_through_the_parent_index(
    client: httpx.AsyncClient, database: Counting, make_user: MakeUser
) -> None:
    if database.dialect_name != "postgresql":
        pytest.skip("plans are PostgreSQL's")
    user = await make_user()
    tasks = [await create_row(client, user.headers, "tasks") for _ in range(50)]
    await database.read(
        text(
            "INSERT INTO comments (id, owner_id, created_at, updated_at, version, task_id, body,"
            " rating) SELECT gen_random_uuid(), owner_id, now() + n * interval '1 ms', now(), 1,"
            " id, 'x', 3 FROM tasks, generate_series(1, 100) AS n WHERE owner_id = :owner"
            " RETURNING 1"
        ),
        {"owner": uuid.UUID(str(user.id))},
    )
    await database.read(text("ANALYZE comments"), {})
    url = f"{API}/tasks/{tasks[7]['id']}/comments?limit=20"
    database.ran.clear()
    first = (await client.get(url, headers=user.headers)).json()
    deep = await client.get(f"{url}&cursor={first['next_cursor']}", headers=user.headers)
    assert (first["total"], len(deep.json()["items"])) == (100, 20)
    for statement, params in database.ran:
        query = compiled(statement, database.dialect)
        async with database._driver() as driver:
            explained = f"EXPLAIN (FORMAT JSON) {query.sql}"
            plan = json.dumps(await driver.fetchval(explained, *query.arguments(params)))
        assert "ix_comments_task_id_created_at_id" in plan, plan
        assert '"Sort"' not in plan, plan
'''


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("nested") / "project")
    for doc in (comments_doc(project / "docs/features"), notes_doc(project / "docs/features")):
        added = featwright(project, "add", str(doc))
        assert added.returncode == 0, added.stdout + added.stderr
    (project / "tests/features/test_nested_project.py").write_text(NESTED_CHECKS, "utf-8")
    return project


def test_the_grown_project_is_lint_clean_and_check_green(grown: Path) -> None:
    assert_lint_clean(grown)
    checked = featwright(grown, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_check_compares_nested_routes_both_ways(grown: Path) -> None:
    """The doc without the app's nested DELETE, and with a nested GET the app lacks."""
    doc = next((grown / "docs/features").glob("FEAT-*-comments.md"))
    text = doc.read_text(encoding="utf-8")
    start = text.index("### DELETE /api/v1/tasks/{task_id}/comments/{id}")
    section = text[start:].split("\n\n", 1)[0] + "\n\n"
    elsewhere = "### GET /api/v1/projects/{project_id}/comments/{id}"
    doc.write_text(
        text.replace(section, "").replace(
            "### GET /api/v1/tasks/{task_id}/comments/{id}", elsewhere
        ),
        encoding="utf-8",
    )
    try:
        checked = featwright(grown, "check", str(doc), env={"COLUMNS": "250"})
    finally:
        doc.write_text(text, encoding="utf-8")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    rows = [" ".join(line.split("│")[3:5]).split() for line in checked.stdout.splitlines()]
    found = sorted(" ".join(row) for row in rows if row)
    assert found == [
        "DELETE /api/v1/tasks/{task_id}/comments/{id} route in the app is not in the doc",
        "GET /api/v1/projects/{project_id}/comments/{id} no such route in the app",
        "GET /api/v1/tasks/{task_id}/comments/{id} route in the app is not in the doc",
    ], checked.stdout


def test_the_generated_tests_pass_on_both_backends(grown: Path) -> None:
    result = run_generated_tests(
        grown,
        grown / "tests/features/test_comments.py",
        grown / "tests/features/test_notes.py",
        grown / "tests/features/test_nested_project.py",
        grown / "tests/reliability/test_access.py",
        grown / "tests/reliability/test_bounded_input.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    print(summary)

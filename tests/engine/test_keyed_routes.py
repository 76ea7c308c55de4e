"""Routes keyed by a unique field (`/api/v1/labels/{name}`, and under a parent
`/api/v1/projects/{project_id}/tags/{code}`): refused where the key could name several rows or
where two routes would share a path shape; and, in a copy of the project grown with them,
lint-clean, `check`-green (both ways), their generated tests passing on SQLite and PostgreSQL,
one statement per request, and a per-owner key reaching only the caller's rows, a superuser's
too.

The copy gets labels (every item route by `name`, unique per owner), articles (read by
anyone by `slug`, unique among every row) and tags (only under their project, by `code`,
unique per project).
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
    featwright,
    run_generated_tests,
    snapshot,
)
from tests.engine.test_nested_routes import nest

LABEL_ROWS = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| name | str(1..50) unique | yes | - | Unique among the owner's labels |\n"
    "| code | str(..10) unique per project_id | no | - | Unique within the project |\n"
    "| weight | int(0..100) | no | 0 | Sort weight |\n"
)
ARTICLE_ROWS = (
    "| slug | str(1..80) unique | yes | - | Unique among every article |\n"
    "| title | str(1..200) | yes | - | Title |\n"
)
TAG_ROWS = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| code | str(1..20) unique per project_id | yes | - | Unique within the project |\n"
    "| text | str(..200) | no | - | Shown beside it |\n"
)
ITEM = re.compile(r"^(### (?:GET|PUT|PATCH|DELETE) /api/v1/(?:\w+/\{\w+\}/)?\w+)/\{id\}", re.M)


def keyed(doc: Path, key: str) -> Path:
    """`doc` with every item route keyed by `key`, and each PUT and PATCH listing the 409 of
    a taken value."""
    text = ITEM.sub(rf"\1/{{{key}}}", doc.read_text(encoding="utf-8"))
    sections = text.split("\n### ")
    sections = [
        s.replace(
            "| Response 404 | NotFoundError |\n",
            "| Response 404 | NotFoundError |\n| Response 409 | ConflictError |\n",
        )
        if s.startswith(("PUT ", "PATCH ")) and "| Response 409 |" not in s
        else s
        for s in sections
    ]
    doc.write_text("\n### ".join(sections), encoding="utf-8")
    return doc


def labels_doc(directory: Path) -> Path:
    return keyed(doc_in(directory, "labels", LABEL_ROWS, "weight (int)", patch=True), "name")


def articles_doc(directory: Path) -> Path:
    """Articles read by anyone by their slug, changed by their owner by id."""
    doc = keyed(doc_in(directory, "articles", ARTICLE_ROWS, public=True), "id")
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace("### GET /api/v1/articles/{id}", "### GET /api/v1/articles/{slug}"))
    return doc


def tags_doc(directory: Path) -> Path:
    doc = nest(doc_in(directory, "tags", TAG_ROWS), "projects", "project_id", keep_flat=False)
    return keyed(doc, "code")


def generation_problems(doc: Path) -> list[str]:
    with pytest.raises(GenerationError) as refused:
        render_feature(parse_doc(doc, APP_MODELS), ROOT)
    return refused.value.problems


@pytest.mark.parametrize(
    ("make", "old", "new", "expected"),
    [
        (
            labels_doc,
            "### GET /api/v1/labels/{name}",
            "### GET /api/v1/labels/{weight}",
            "{weight} is Label.weight, which is not unique, so it may name several rows;"
            " expected 'unique' after its Type, or {id} or {name}",
        ),
        (
            labels_doc,
            "### DELETE /api/v1/labels/{name}",
            "### DELETE /api/v1/labels/{code}",
            "{code} is Label.code, unique per project_id: it names a row only under one"
            " project_id; expected /api/v1/projects/{project_id}/labels/{code}, or {id} or"
            " {name} here",
        ),
        (
            labels_doc,
            "### GET /api/v1/labels/{name}",
            "### GET /api/v1/labels/{nope}",
            "{nope} is no field of Label; expected {id} or {name}",
        ),
        (
            tags_doc,
            "### GET /api/v1/projects/{project_id}/tags/{code}",
            "### GET /api/v1/projects/{project_id}/tags/{text}",
            "{text} is Tag.text, which is not unique per project_id, so it may name several"
            " rows; expected 'unique per project_id' after its Type, or {id} or {code}",
        ),
    ],
)
def test_a_key_that_may_name_several_rows_is_refused_with_its_line(
    tmp_path: Path, make: object, old: str, new: str, expected: str
) -> None:
    doc = make(tmp_path)  # type: ignore[operator]
    doc.write_text(doc.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index(new)
    (problem,) = generation_problems(doc)
    assert problem.startswith(f"{doc}:{line}: endpoint "), problem
    assert expected in problem, problem


def test_an_id_route_and_a_keyed_one_of_one_method_are_refused(tmp_path: Path) -> None:
    doc = labels_doc(tmp_path)
    text = doc.read_text(encoding="utf-8")
    start = text.index("### DELETE /api/v1/labels/{name}")
    section = text[start:].split("\n\n", 1)[0]
    by_id = section.replace("{name}", "{id}")
    doc.write_text(text.replace(section, f"{section}\n\n{by_id}"), encoding="utf-8")
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index("### DELETE /api/v1/labels/{id}")
    (problem,) = generation_problems(doc)
    assert problem.startswith(f"{doc}:{line}: endpoint DELETE /api/v1/labels/{{id}}"), problem
    shape = f"DELETE /api/v1/labels/{{name}} (line {start_line(text, start)})"
    assert f"has the path shape of {shape}" in problem, problem


def start_line(text: str, index: int) -> int:
    return text[:index].count("\n") + 1


def test_add_refuses_it_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    doc = labels_doc(project / "docs/features")
    doc.write_text(
        doc.read_text(encoding="utf-8").replace("labels/{name}", "labels/{weight}"), "utf-8"
    )
    before = snapshot(project)
    refused = featwright(project, "add", str(doc))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "{weight} is Label.weight, which is not unique" in refused.stderr + refused.stdout
    assert snapshot(project) == before


# Runs in the copy: statements per request, and a per-owner key for a superuser.
KEYED_CHECKS = '''"""Keyed routes: one statement per request; a per-owner key names own rows."""

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from src.core.database import Database, Record
from tests.conftest import MakeUser
from tests.crud_contract import create_row

API = "/api/v1"


class Counting(Database):
    """A database that counts the statements the app runs through it."""

    ran: list[Executable]

    async def _run(self, statement: Executable, params: Mapping[str, Any]) -> Sequence[Record]:
        self.ran.append(statement)
        return await super()._run(statement, params)


@pytest.fixture
async def database(engine: AsyncEngine) -> AsyncIterator[Database]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        counting = Counting(connection, join_transaction_mode="create_savepoint")
        counting.ran = []
        yield counting
        await transaction.rollback()


async def test_a_keyed_request_is_one_statement(
    client: httpx.AsyncClient, database: Counting, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    project = await create_row(client, headers, "projects")
    body = {"project_id": project["id"], "name": "warm"}
    await client.post(f"{API}/labels", json=body, headers=headers)  # the pool, the caches
    await client.get(f"{API}/labels/warm", headers=headers)

    async def statements(method: str, path: str, **kwargs: Any) -> int:
        database.ran.clear()
        answered = await client.request(method, path, headers=headers, **kwargs)
        assert answered.status_code < 300, answered.text
        return len(database.ran)

    assert await statements("GET", f"{API}/labels/warm") == 1
    assert await statements("PUT", f"{API}/labels/warm", json={"weight": 3}) == 1
    assert await statements("PATCH", f"{API}/labels/warm", json={"name": "a/b c"}) == 1
    assert await statements("GET", f"{API}/labels/a%2Fb%20c") == 1
    assert await statements("DELETE", f"{API}/labels/a%2Fb%20c") == 1
    tags = f"{API}/projects/{project['id']}/tags"
    assert (await client.post(tags, json={"code": "t1"}, headers=headers)).status_code == 201
    assert await statements("GET", f"{tags}/t1") == 1
    assert await statements("PUT", f"{tags}/t1", json={"text": "x"}) == 1
    assert await statements("DELETE", f"{tags}/t1") == 1


async def test_a_superuser_changes_only_their_own_row_by_a_per_owner_key(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """Alice and a superuser both have a label `same`: the superuser's PUT and DELETE by the
    key reach their own row only (by id they reach any)."""
    alice, root = await make_user(), await make_user(superuser=True)
    rows = {}
    for user in (alice, root):
        project = await create_row(client, user.headers, "projects")
        body = {"project_id": project["id"], "name": "same"}
        created = await client.post(f"{API}/labels", json=body, headers=user.headers)
        assert created.status_code == 201, created.text
        assert created.headers["location"] == f"{API}/labels/same"
        rows[user.id] = created.json()
    changed = await client.put(f"{API}/labels/same", json={"weight": 9}, headers=root.headers)
    assert changed.json()["id"] == rows[root.id]["id"]
    deleted = await client.delete(f"{API}/labels/same", headers=root.headers)
    assert deleted.status_code == 204
    left = await client.get(f"{API}/labels/same", headers=alice.headers)
    assert left.json() == rows[alice.id]
    gone = await client.get(f"{API}/labels/same", headers=root.headers)
    assert gone.status_code == 404
    by_id = await client.get(f"{API}/labels/{rows[alice.id]['id']}", headers=root.headers)
    assert by_id.status_code == 404  # no GET by id: the path is alice's key, no label of root's


async def test_a_keyed_miss_under_an_unseen_parent_is_the_parents_404(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()
    project = await create_row(client, alice.headers, "projects")
    tags = f"{API}/projects/{project['id']}/tags"
    assert (await client.post(tags, json={"code": "t"}, headers=alice.headers)).status_code == 201
    seen = await client.get(f"{tags}/t", headers=bob.headers)
    assert (seen.status_code, seen.json()["detail"]) == (404, "Project not found")
    missing = await client.get(f"{tags}/nope", headers=alice.headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, "Tag not found")
    too_long = await client.get(f"{tags}/{'x' * 21}", headers=alice.headers)
    assert too_long.status_code == 400
    (error,) = too_long.json()["errors"]
    assert (error["field"], error["location"]) == ("code", "path")
'''


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("keyed") / "project")
    features = project / "docs/features"
    for make in (labels_doc, articles_doc, tags_doc):
        added = featwright(project, "add", str(make(features)))
        assert added.returncode == 0, added.stdout + added.stderr
    (project / "tests/features/test_keyed_project.py").write_text(KEYED_CHECKS, "utf-8")
    return project


def test_the_grown_project_is_lint_clean_and_check_green(grown: Path) -> None:
    assert_lint_clean(grown)
    checked = featwright(grown, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_check_compares_keyed_routes_both_ways(grown: Path) -> None:
    """The doc's GET by `{name}` where the app has it by `{name}` but with other rules, and a
    DELETE by `{id}` where the app deletes by `{name}`."""
    doc = next((grown / "docs/features").glob("FEAT-*-labels.md"))
    text = doc.read_text(encoding="utf-8")
    changed = text.replace("### DELETE /api/v1/labels/{name}", "### DELETE /api/v1/labels/{id}")
    changed = changed.replace(
        "| name | str(1..50) unique |", "| name | str(1..60) unique |"
    )  # the key's rules too
    doc.write_text(changed, encoding="utf-8")
    try:
        checked = featwright(grown, "check", str(doc), env={"COLUMNS": "250"})
    finally:
        doc.write_text(text, encoding="utf-8")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    out = " ".join(checked.stdout.split())
    assert "DELETE /api/v1/labels/{id} │ no such route in the app" in out, checked.stdout
    assert "DELETE /api/v1/labels/{name} │ route in the app is not in the doc" in out, out
    assert "path parameter 'name': input rule maxLength is 50, doc says 60" in out, out


def test_the_generated_tests_pass_on_both_backends(grown: Path) -> None:
    result = run_generated_tests(
        grown,
        grown / "tests/features/test_labels.py",
        grown / "tests/features/test_articles.py",
        grown / "tests/features/test_tags.py",
        grown / "tests/features/test_keyed_project.py",
        grown / "tests/reliability/test_access.py",
        grown / "tests/reliability/test_bounded_input.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    print(summary)

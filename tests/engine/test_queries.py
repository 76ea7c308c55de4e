"""Lists people can query: `sort (keys; default ...)`, `<field>__<op>` filters and `q (search
fields)` in a list's Query Params.

Two docs with every construct, one with its fields all required (issues) and one with them
all optional (chores), are added to one copy of the project; their generated tests (each
sort key both ways and by cursor, each operator, the search, each bad value) pass on SQLite
and PostgreSQL, `check` is green, and a sorted, filtered, searched page is one statement on
PostgreSQL, whose trigram and sort indexes serve `q` and `sort`; schemathesis finds nothing on
either backend. A changed doc adds and drops the indexes both ways, and `check` compares the
sort and the search with the app both ways.
"""

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.conftest import (
    assert_lint_clean,
    copy_project,
    doc_in,
    edited,
    featwright,
    revision,
    run_generated_tests,
)
from tests.engine.test_add import _operations_of_the_app
from tests.reliability.test_schemathesis import fuzz


def rows(required: str) -> str:
    """A field of every kind a list sorts, compares or searches, all `required` (yes, no)."""
    return (
        f"| title | str(1..200) | {required} | - | Title |\n"
        "| description | str(..2000) | no | - | Text |\n"
        f"| priority | int(1..5) | {required} | - | 1 is the highest |\n"
        f"| due_date | date | {required} | - | Due |\n"
        f"| status | enum(open, doing, done) | {required} | - | State |\n"
        f"| cost | Decimal(8, 2) | {required} | - | Cost |\n"
        f"| due_at | datetime | {required} | - | An instant |\n"
        f"| project_id | ref(Project) | {required} | - | The project |\n"
        f"| tags | list[str(1..30)](..10) | {required} | - | Tags, in the order given |\n"
    )


QUERY = (
    "sort (priority, due_date, status, title, cost, due_at, created_at; default -created_at),"
    " priority__gte (int), priority__gt (int), priority__lte (int), priority__lt (int),"
    " priority__ne (int), priority__in (int), due_date__lt (date), due_date__gte (date),"
    " status__in (enum), status__ne (enum), title__contains (str), cost__gte (Decimal),"
    " cost__in (Decimal), due_at__gt (datetime), project_id__in (UUID), tags__contains (str),"
    " q (search title, description)"
)
NULLABLE = ", title__isnull (bool), project_id__isnull (bool), due_date__isnull (bool)"
DOCS = {"issues": rows("yes"), "chores": rows("no")}

# Runs in the copy on its PostgreSQL server with pg_stat_statements (test_round_trips').
ROUND_TRIPS = '''"""A sorted, filtered, searched page is one statement; its indexes serve it."""

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.main import create_app
from tests.crud_contract import create_row
from tests.live_server import PostgresCluster, plain_dsn, sign_up, upgrade
from tests.reliability.test_round_trips import Counter, _kinds, cluster

__all__ = ["cluster"]
API = "/api/v1"
QUERIES = (
    "sort=-priority,due_date",
    "sort=title&priority__gte=2&status__in=open,done&q=ab",
    "sort=-due_at&cost__gte=1&title__contains=B&project_id__in={project}&tags__contains=home",
)


@pytest.fixture(scope="module")
async def served(
    cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Counter, asyncpg.Connection]]:
    name = f"trips_{uuid.uuid4().hex[:8]}"
    url = await cluster.create_database(name)
    admin = await asyncpg.connect(plain_dsn(cluster.url()))
    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    upgrade({**os.environ, "DATABASE_URL": url}, tmp_path_factory.mktemp("trips"))
    options: dict[str, Any] = {"_env_file": None, "database_url": url, "secret_key": "t" * 40}
    settings = Settings(**options)
    engine = create_engine(settings)
    database = Database(engine, settings)
    own = await asyncpg.connect(plain_dsn(url))
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, Counter(admin, name), own
    await own.close()
    await database.close()
    await engine.dispose()
    await admin.close()


async def test_a_queried_page_and_the_next_by_cursor_are_one_statement_each(
    served: tuple[httpx.AsyncClient, Counter, asyncpg.Connection],
) -> None:
    client, counter, _ = served
    headers = await sign_up(client)
    project = await create_row(client, headers, "projects")
    for number in range(30):
        body = {
            "title": f"Ab{number}",
            "priority": 1 + number % 5,
            "due_date": "2026-01-02",
            "status": "open",
            "cost": "2",
            "due_at": f"2026-01-01T00:00:{number:02d}Z",
            "project_id": project["id"],
            "tags": ["home", f"t{number % 3}"],
        }
        answer = await client.post(f"{API}/issues", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
    for query in QUERIES:
        url = f"{API}/issues?limit=10&" + query.format(project=project["id"])
        for _ in range(3):  # warm every pooled connection
            await client.get(url, headers=headers)
        await counter.reset()
        first = await client.get(url, headers=headers)
        assert first.status_code == 200, first.text
        assert len(first.json()["items"]) == 10, query
        assert _kinds(await counter.statements()) == ["SELECT"], query
        following = f"{url}&cursor={first.json()['next_cursor']}"
        for _ in range(3):
            await client.get(following, headers=headers)
        await counter.reset()
        second = await client.get(following, headers=headers)
        assert second.status_code == 200, second.text
        assert _kinds(await counter.statements()) == ["SELECT"], query


async def test_the_trigram_and_sort_indexes_serve_search_and_sort(
    served: tuple[httpx.AsyncClient, Counter, asyncpg.Connection],
) -> None:
    """With sequential scans and sorts priced out, the planner takes each index: so the
    index exists and the list's condition and order are ones it can serve."""
    _, _, own = served
    async with own.transaction():
        await own.execute("SET LOCAL enable_seqscan = off")
        await own.execute("SET LOCAL enable_sort = off")
        searched = await own.fetch(
            "EXPLAIN SELECT id FROM issues WHERE title ILIKE '%abc%' OR description ILIKE '%abc%'"
        )
        ordered = await own.fetch(
            "EXPLAIN SELECT id FROM issues WHERE owner_id = $1"
            " ORDER BY priority DESC, id DESC LIMIT 21",
            uuid.uuid4(),
        )
    searched_plan = "\\n".join(row[0] for row in searched)
    ordered_plan = "\\n".join(row[0] for row in ordered)
    assert "ix_issues_title_trgm" in searched_plan, searched_plan
    assert "ix_issues_description_trgm" in searched_plan, searched_plan
    assert "Scan Backward using ix_issues_owner_id_priority_id on" in ordered_plan, ordered_plan
'''


@dataclass(frozen=True)
class Queried:
    project: Path
    docs: dict[str, Path]


@pytest.fixture(scope="module")
def queried(tmp_path_factory: pytest.TempPathFactory) -> Queried:
    project = copy_project(tmp_path_factory.mktemp("queries") / "project")
    docs = {}
    for resource, fields in DOCS.items():
        query = QUERY + (NULLABLE if resource == "chores" else "")
        doc = doc_in(project / "docs/features", resource, fields, filters=query)
        added = featwright(project, "add", str(doc))
        assert added.returncode == 0, added.stdout + added.stderr
        docs[resource] = doc
    (project / "tests/reliability/test_query_round_trips.py").write_text(
        ROUND_TRIPS, encoding="utf-8"
    )
    return Queried(project, docs)


def test_generated_tests_pass_and_a_queried_page_is_one_statement(queried: Queried) -> None:
    project = queried.project
    result = run_generated_tests(
        project,
        *(project / f"tests/features/test_{resource}.py" for resource in DOCS),
        project / "tests/reliability/test_query_round_trips.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    generated = (project / "tests/features/test_issues.py").read_text(encoding="utf-8")
    assert "QueryContract" in generated


def test_generated_files_are_lint_clean_and_check_is_green(queried: Queried) -> None:
    project = queried.project
    assert_lint_clean(project)
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    model = (project / "src/models/chore.py").read_text(encoding="utf-8")
    assert 'search_fields = ("title", "description")' in model
    assert 'Index(None, "owner_id", "priority", "id")' in model
    assert '.ddl_if(dialect="postgresql")' in model


def test_schemathesis_finds_nothing(queried: Queried, database_url: str, tmp_path: Path) -> None:
    """No sort, cursor, operator value or search term makes a route answer 500 or break its
    schema: schemathesis over the app with both docs' routes."""
    tested, _ = asyncio.run(
        fuzz(database_url, tmp_path, seconds=1200, PYTHONPATH=str(queried.project))
    )

    assert tested == _operations_of_the_app() + 5 * len(DOCS)


def test_check_compares_the_sort_and_the_search_both_ways(queried: Queried, tmp_path: Path) -> None:
    """A doc whose sort lists fewer keys than the route takes, another default, or a search
    of other fields: each is drift, named."""
    source = queried.docs["issues"]
    text = source.read_text(encoding="utf-8")
    sort = "sort (priority, due_date, status, title, cost, due_at, created_at; default -created_at)"
    cases = {
        "fewer": edited(text, (sort, sort.replace("priority, ", ""))),
        "default": edited(text, (sort, sort.replace("default -created_at", "default priority"))),
        "search": edited(text, ("q (search title, description)", "q (search title)")),
    }
    found = {}
    for name, changed in cases.items():
        path = tmp_path / name / source.name
        path.parent.mkdir()
        path.write_text(changed, encoding="utf-8")
        found[name] = featwright(queried.project, "check", str(path), env={"COLUMNS": "300"})

    assert {name: result.returncode for name, result in found.items()} == dict.fromkeys(found, 1)
    assert "the route's sort takes 'priority', the doc does not list it" in found["fewer"].stdout
    assert "doc says sort default 'priority', the route's is '-created_at'" in (
        found["default"].stdout
    )
    assert "q searches title in the doc, title, description in the model's" in (
        found["search"].stdout
    )


def test_check_names_a_list_index_the_model_lacks(queried: Queried, tmp_path: Path) -> None:
    """A model without the sort index or the trigram index its doc's lists need is drift."""
    project = shutil.copytree(queried.project, tmp_path / "project", symlinks=True)
    model = project / "src/models/issue.py"
    text = model.read_text(encoding="utf-8")
    text = edited(text, ('        Index(None, "owner_id", "priority", "id"),\n', ""))
    text = re.sub(
        r'        Index\(\n\s+"ix_issues_title_trgm",.*?\)\.ddl_if\([^)]*\),\n',
        "",
        text,
        flags=re.S,
    )
    model.write_text(text, encoding="utf-8")

    checked = featwright(project, "check", env={"COLUMNS": "300"})

    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "the model has no index on (owner_id, priority, id)" in checked.stdout
    assert "a list searches title, but the model has no trigram (GIN) index on it" in (
        checked.stdout
    )


def test_a_changed_query_adds_and_drops_its_indexes_both_ways(
    queried: Queried, tmp_path: Path
) -> None:
    """Fewer sort keys and range filters, a search of another field: `add` writes one
    migration that drops the indexes no list needs and creates the new ones, upgrade and
    downgrade run on SQLite (the proof) and PostgreSQL, and `check` is green."""
    project = shutil.copytree(queried.project, tmp_path / "project", symlinks=True)
    doc = project / queried.docs["issues"].relative_to(queried.project)
    text = doc.read_text(encoding="utf-8")
    doc.write_text(
        edited(
            text,
            (
                "sort (priority, due_date, status, title, cost, due_at, created_at;",
                "sort (priority, created_at;",
            ),
            ("due_date__lt (date), due_date__gte (date), ", ""),
            ("q (search title, description)", "q (search description)"),
        ),
        encoding="utf-8",
    )

    changed = featwright(project, "add", str(doc))

    assert changed.returncode == 0, changed.stdout + changed.stderr
    migration = next((project / "migrations/versions").glob(f"{revision(project, 0)}_*.py"))
    upgrade = migration.read_text(encoding="utf-8").partition("def downgrade")[0]
    dropped = set(re.findall(r'op\.drop_index\(op\.f\("ix_issues_owner_id_(\w+)_id"\)', upgrade))
    assert dropped == {"due_date", "status", "title"}, upgrade
    assert "op.create_index" not in upgrade  # title's trigram index stays: title__contains
    assert featwright(project, "check").returncode == 0
    run_generated_tests(
        project, project / "tests/features/test_issues.py", project / "tests/test_migrations.py"
    )

"""Many-to-many `refs(Model)` fields: parsed and refused with the line, generated (a link
table, an array of ids in the order sent, a list filter "has this id"), migrated when a doc
adds or drops one, compared by `check` both ways, undone by `remove`, and each write's
statements counted; the generated tests pass on SQLite and PostgreSQL with the field required
and optional."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from src.engine.doc import FieldType, parse_doc
from src.engine.generate import render_feature
from src.engine.migrate import render_migration, tables_of
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    drive,
    edited,
    featwright,
    new_doc_of,
    problems_of,
    revision,
    ruff_findings,
    run_generated_tests,
    snapshot,
    stages_script,
)
from tests.engine.test_generated_projects import public_reads

LABEL_ROWS = "| name | str(1..50) | yes | - | Display name |\n"
NOTE_ROWS = (
    "| title | str(1..50) | yes | - | Title |\n"
    "| labels | refs(Label)(..5) | yes | - | Its labels |\n"
    "| projects | refs(Project) | no | - | Projects it is about |\n"
)
MEMO_ROWS = (
    "| labels | refs(Label)(2..) | no | - | At least two labels |\n"
    "| related | refs(Memo)(..3) | no | - | Other memos |\n"
)


def _doc(
    project: Path,
    resource: str,
    rows: str,
    filters: str = "",
    public: bool = False,
    patch: bool = False,
) -> Path:
    """`featwright doc new RESOURCE` in `project`, filled in as `doc_in` fills one."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    doc = new_doc_of(project, resource)
    scratch = project.parent / f"scratch-{resource}"
    scratch.mkdir(exist_ok=True)
    filled = doc_in(scratch, resource, rows, filters).read_text(encoding="utf-8")
    if public:
        filled = public_reads(filled)
    if patch:  # PATCH beside PUT: the same partial update
        sections = filled.split("\n### ")
        (put,) = [section for section in sections if section.startswith("PUT ")]
        sections.insert(sections.index(put) + 1, "PATCH" + put.removeprefix("PUT"))
        filled = "\n### ".join(sections)
    number = doc.name.split("-")[1]
    doc.write_text(filled.replace("FEAT-001", f"FEAT-{number}"), encoding="utf-8")
    return doc


def _add(project: Path, doc: Path, *args: str) -> None:
    added = featwright(project, "add", str(doc), *args)
    assert added.returncode == 0, added.stdout + added.stderr


# -------------------------------------------------------------------------- parsing


def test_every_written_form_parses(tmp_path: Path) -> None:
    rows = (
        "| a | refs(Project) | no | - | A |\n"
        "| b | refs(Project)(..20) | yes | - | B |\n"
        "| c | refs(Task)(1..20) | yes | - | C |\n"
        "| d | refs(Task)(2..) | no | - | D |\n"
    )
    (model,) = parse_doc(doc_in(tmp_path, "notes", rows), APP_MODELS).models

    assert [(f.name, f.type, f.nullable) for f in model.fields if f.type.kind == "refs"] == [
        ("a", FieldType("refs", ref="Project"), False),
        ("b", FieldType("refs", ref="Project", high=20), False),
        ("c", FieldType("refs", ref="Task", low=1, high=20), False),
        ("d", FieldType("refs", ref="Task", low=2), False),
    ]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "| a | refs(Nope) | no | - | A |",
            "Note.a refers to unknown model 'Nope'; expected one of",
        ),
        (
            "| a | refs(Project)(5..2) | no | - | A |",
            "refs(Project)(5..2): the range is empty (its lower bound is above its upper one);"
            " write refs(Project)(2..5)",
        ),
        (
            "| a | refs(Project)(..0) | no | - | A |",
            "refs(Project)(..0): a set of at most 0 ids holds none; write e.g. refs(Project)(..1)",
        ),
        (
            "| a | refs(Project)(-1..3) | no | - | A |",
            "refs(Project)(-1..3): a count is never negative",
        ),
        (
            "| a | refs(Project)(1.5..3) | no | - | A |",
            "the bounds of refs(Project) are whole numbers; write e.g. refs(Project)(2..3)",
        ),
        (
            "| a | refs(Project)(..5000) | no | - | A |",
            "at most 1000 ids may be sent at once; write e.g. refs(Project)(..1000)",
        ),
        (
            "| a | refs(Project) | no | null | A |",
            "a: a refs field takes no default (without ids it is the empty set); write -",
        ),
        (
            "| a | refs(Project) | auto | - | A |",
            "a is refs(Project) with Required auto; expected yes or no",
        ),
    ],
    ids=["unknown-model", "empty", "none", "negative", "fraction", "too-many", "default", "auto"],
)
def test_a_doc_the_engine_cannot_generate_is_refused_with_the_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    doc = doc_in(tmp_path, "notes", f"{row}\n")
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index(row)

    found = problems_of(doc)

    assert any(at == line and problem in message for at, message in found), found


def test_a_link_table_may_not_take_a_models_table_name(tmp_path: Path) -> None:
    doc = doc_in(tmp_path, "notes", "| tasks | refs(Task) | no | - | Tasks |\n")
    (problem,) = problems_of(doc, APP_MODELS | {"NoteTask"})
    assert "Note.tasks is stored in the table 'note_tasks', which a model has already" in problem[1]


def test_a_required_set_of_its_own_rows_with_a_lower_bound_is_refused(tmp_path: Path) -> None:
    """No first row could be written: it would need a row of its own model to name."""
    doc = doc_in(tmp_path, "notes", "| related | refs(Note)(1..) | yes | - | Others |\n")
    (problem,) = problems_of(doc)
    assert "Note.related -> Note: required references lead back to Note" in problem[1]


# ------------------------------------------------------------------------ rendering


def test_the_rendered_files_are_what_ruff_would_write(tmp_path: Path) -> None:
    for number, required in enumerate(("yes", "no")):
        rows = (
            f"| projects | refs(Project)(1..20) | {required} | - | P |\n"
            f"| tasks | refs(Task) | {required} | - | T |\n"
            f"| long_field_name_of_many_related_tasks | refs(Task) | {required} | - | L |\n"
        )
        directory = tmp_path / str(number)
        directory.mkdir()
        doc = doc_in(directory, "notes", rows, "projects (UUID), tasks (UUID)")
        files = render_feature(parse_doc(doc, APP_MODELS), ROOT)
        migration = render_migration(
            ROOT,
            "migration_create.py.jinja",
            revision="0009",
            down_revision="0008",
            message="create notes",
            doc_path="docs/features/FEAT-001-notes.md",
            tables=tables_of(parse_doc(doc, APP_MODELS)),
        )
        files["migrations/versions/0009_create_notes.py"] = migration
        for path, text in files.items():
            assert ruff_findings(text, path, "check") == "", path
            assert ruff_findings(text, path, "format", "--check", "--diff") == "", path
        model = files["src/models/note.py"]
        assert (
            'note_tasks = link_table("note_tasks", ("note_id", "notes"), ("task_id", "tasks"))'
            in model
        )
        assert '    tasks = links("Task", note_tasks)\n' in model
        assert "Mapped" not in model  # no column of its own: nothing else to import
        assert 'op.create_table(\n        "note_projects",' in migration


def test_a_removed_feature_drops_its_link_tables_first(tmp_path: Path) -> None:
    doc = parse_doc(doc_in(tmp_path, "notes", NOTE_ROWS.replace("Label", "Task")), APP_MODELS)
    text = render_migration(
        ROOT,
        "migration_drop.py.jinja",
        revision="0009",
        down_revision="0008",
        message="remove notes",
        doc_path="docs/features/FEAT-001-notes.md",
        tables=tables_of(doc),
    )
    upgrade = text.split("def downgrade")[0]
    assert upgrade.index('op.drop_table("note_labels")') < upgrade.index('op.drop_table("notes")')
    assert 'op.drop_table("note_projects")' in upgrade


# ---------------------------------------------------------- a project that uses them

# Runs in the copy, on PostgreSQL with pg_stat_statements: the statements of each request.
ROUND_TRIPS = '''"""Statements per request on a model with `refs` fields (as tests/reliability)."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest

from src.core.config import Settings
from src.core.database import Database, create_engine
from src.main import create_app
from src.repositories import base
from tests.live_server import PostgresCluster, plain_dsn, postgres_cluster, sign_up

API = "/api/v1"


class Counter:
    """Statements the server ran for one database (as tests/reliability/test_round_trips.py)."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self.admin = admin
        self.database = database

    async def reset(self) -> None:
        await self.admin.execute("SELECT pg_stat_statements_reset()")

    async def kinds(self) -> list[str]:
        """The first word of each statement run, once per call: SELECT, INSERT, BEGIN ..."""
        rows = await self.admin.fetch(
            "SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = $1",
            self.database,
        )
        return sorted(
            row["query"].split(None, 1)[0].upper()
            for row in rows
            for _ in range(row["calls"])
            if "pg_stat_statements" not in row["query"]
        )


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster(
        "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_utility=on"
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
async def served(cluster: PostgresCluster) -> AsyncIterator[tuple[httpx.AsyncClient, Counter]]:
    name = f"trips_{uuid.uuid4().hex[:8]}"
    url = await cluster.create_database(name)
    admin = await asyncpg.connect(plain_dsn(cluster.url()))
    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    command = [sys.executable, "-c", "from src.cli import app; app()", "db", "upgrade"]
    environ = {**os.environ, "DATABASE_URL": url}
    await asyncio.to_thread(subprocess.run, command, env=environ, check=True)
    settings = Settings(_env_file=None, database_url=url, secret_key="t" * 40)
    engine = create_engine(settings)
    database = Database(engine, settings)
    transport = httpx.ASGITransport(app=create_app(settings, database))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, Counter(admin, name)
    await database.close()
    await engine.dispose()
    await admin.close()


Client = httpx.AsyncClient
Headers = dict[str, str]
Answer = httpx.Response
Request = Callable[[Client, Headers, list[str], str], Awaitable[Answer]]


async def _post(client: Client, headers: Headers, labels: list[str], _: str) -> Answer:
    body = {"title": "t", "labels": labels}
    return await client.post(f"{API}/notes", json=body, headers=headers)


async def _post_without_ids(client: Client, headers: Headers, labels: list[str], _: str) -> Answer:
    return await client.post(f"{API}/notes", json={"title": "t", "labels": []}, headers=headers)


async def _get(client: Client, headers: Headers, labels: list[str], note: str) -> Answer:
    return await client.get(f"{API}/notes/{note}", headers=headers)


async def _list(client: Client, headers: Headers, labels: list[str], note: str) -> Answer:
    return await client.get(f"{API}/notes?limit=20", headers=headers)


async def _list_by_label(client: Client, headers: Headers, labels: list[str], note: str) -> Answer:
    return await client.get(f"{API}/notes?labels={labels[0]}", headers=headers)


async def _put_ids(client: Client, headers: Headers, labels: list[str], note: str) -> Answer:
    return await client.put(f"{API}/notes/{note}", json={"labels": labels[::-1]}, headers=headers)


async def _put_without_ids(
    client: Client, headers: Headers, labels: list[str], note: str
) -> Answer:
    return await client.put(f"{API}/notes/{note}", json={"title": "u"}, headers=headers)


async def _delete(client: Client, headers: Headers, labels: list[str], note: str) -> Answer:
    return await client.delete(f"{API}/notes/{note}", headers=headers)


@pytest.mark.parametrize(
    ("request_kind", "status", "statements"),
    [
        (_post, 201, ["BEGIN", "COMMIT", "INSERT", "INSERT"]),
        (_post_without_ids, 201, ["INSERT"]),
        (_get, 200, ["SELECT"]),
        (_list, 200, ["SELECT"]),
        (_list_by_label, 200, ["SELECT"]),
        (_put_ids, 200, ["BEGIN", "COMMIT", "DELETE", "INSERT", "UPDATE"]),
        (_put_without_ids, 200, ["UPDATE"]),
        (_delete, 204, ["DELETE"]),
    ],
    ids=["post", "post-no-ids", "get", "list", "list-by-label", "put-ids", "put", "delete"],
)
async def test_statements_per_request(
    served: tuple[httpx.AsyncClient, Counter],
    request_kind: Request,
    status: int,
    statements: list[str],
) -> None:
    client, counter = served
    headers = await sign_up(client)
    for _ in range(3):  # warm every pooled connection the request may take
        labels = [
            (await client.post(f"{API}/labels", json={"name": n}, headers=headers)).json()["id"]
            for n in "ab"
        ]
        note = await client.post(
            f"{API}/notes", json={"title": "n", "labels": labels}, headers=headers
        )
        await request_kind(client, headers, labels, note.json()["id"])
    labels = [
        (await client.post(f"{API}/labels", json={"name": n}, headers=headers)).json()["id"]
        for n in "ab"
    ]
    note = await client.post(f"{API}/notes", json={"title": "n", "labels": labels}, headers=headers)
    await counter.reset()
    response = await request_kind(client, headers, labels, note.json()["id"])
    found = await counter.kinds()
    assert response.status_code == status, response.text
    assert found == statements


async def test_a_total_filtered_by_a_refs_field_is_counted_up_to_its_own_bound(
    served: tuple[httpx.AsyncClient, Counter], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound (1,000, here 2) the planner's estimate is taken, one EXPLAIN more, while
    the same rows unfiltered are still counted; `Prefer: count=exact` counts them all."""
    monkeypatch.setattr(base, "LINK_FILTER_COUNT_LIMIT", 2)
    client, counter = served
    headers = await sign_up(client)
    label = (await client.post(f"{API}/labels", json={"name": "x"}, headers=headers)).json()["id"]
    for _ in range(4):
        body = {"title": "n", "labels": [label]}
        assert (await client.post(f"{API}/notes", json=body, headers=headers)).status_code == 201

    await counter.reset()
    filtered = (await client.get(f"{API}/notes?labels={label}&limit=1", headers=headers)).json()
    found = await counter.kinds()
    plain = (await client.get(f"{API}/notes?limit=1", headers=headers)).json()
    exact = {**headers, "Prefer": "count=exact"}
    counted = (await client.get(f"{API}/notes?labels={label}&limit=1", headers=exact)).json()

    assert (filtered["total_exact"], len(found)) == (False, 2), found
    assert filtered["total"] >= 3
    assert (plain["total"], plain["total_exact"]) == (4, True)
    assert (counted["total"], counted["total_exact"]) == (4, True)
    assert filtered["items"] == counted["items"] == plain["items"]
'''


@dataclass(frozen=True)
class Built:
    project: Path
    docs: dict[str, Path]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Labels (public reads, so anyone may refer to them), notes (a required
    `refs(Label)(..5)`, an optional `refs(Project)` of the caller's own projects, both list
    filters) and memos (an optional `refs(Label)(2..)`, a set of its own rows, PATCH beside
    PUT)."""
    project = copy_project(tmp_path_factory.mktemp("refs") / "project")
    docs = {
        "labels": _doc(project, "labels", LABEL_ROWS, public=True),
        "notes": _doc(project, "notes", NOTE_ROWS, "labels (UUID), projects (UUID)"),
        "memos": _doc(project, "memos", MEMO_ROWS, "labels (UUID)", patch=True),
    }
    for doc in docs.values():
        _add(project, doc)
    (project / "tests/features/test_refs_round_trips.py").write_text(ROUND_TRIPS, "utf-8")
    return Built(project, docs)


def test_generated_tests_pass_on_both_backends(built: Built) -> None:
    modules = [built.project / f"tests/features/test_{name}.py" for name in built.docs]
    result = run_generated_tests(
        built.project, *modules, built.project / "tests/features/test_refs_round_trips.py"
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    print(summary)


def test_check_is_green_and_sees_a_link_table_either_side_lacks(
    built: Built, tmp_path: Path
) -> None:
    checked = featwright(built.project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    doc = tmp_path / built.docs["notes"].name
    text = built.docs["notes"].read_text(encoding="utf-8")
    doc.write_text(
        edited(
            text,
            ("| projects | refs(Project) | no |", "| topics | refs(Project) | no |"),
            ("| labels | refs(Label)(..5) |", "| labels | refs(Label)(..4) |"),
            ("projects (UUID) |", "topics (UUID) |"),
        ),
        encoding="utf-8",
    )
    drift = featwright(built.project, "check", str(doc), env={"COLUMNS": "400"})
    assert drift.returncode == 1, drift.stdout + drift.stderr
    lines = drift.stdout.splitlines()
    for subject, problem in (
        ("Note.topics", "no refs field (a relationship over link table note_topics)"),
        ("Note.projects", "refs field (link table note_projects) is not in the doc"),
        ("Note.labels", "input rule maxItems is 5, doc says 4"),
    ):
        assert any(subject in line and problem in line for line in lines), drift.stdout


def test_every_generated_file_is_lint_clean(built: Built) -> None:
    assert_lint_clean(built.project)


# ------------------------------------------------------------ a changed doc, removal

DRIVE = stages_script(
    """
    ids = []
    for name in ("b", "a", "c"):
        made = await c.post("/api/v1/labels", json={"name": name}, headers=h)
        ids.append(made.json()["id"])
    body = {"title": "t", "labels": ids}
    made = await c.post("/api/v1/notes", json=body, headers=h)
    assert made.status_code == 201, made.text
    """,
    "/api/v1/notes",
)


def _drive(project: Path, database_url: str, stage: str) -> list[dict[str, Any]]:
    output = drive(project, DRIVE, database_url, STAGE=stage).stdout.strip()
    return json.loads(output.splitlines()[-1]) if output else []


def test_a_refs_field_added_or_removed_gets_its_migration_and_rows_keep_their_ids(
    tmp_path: Path, database_url: str
) -> None:
    project = copy_project(tmp_path / "project")
    labels = _doc(project, "labels", LABEL_ROWS)
    notes = _doc(project, "notes", NOTE_ROWS)
    _add(project, labels)
    _add(project, notes)
    _drive(project, database_url, "head")
    (before,) = _drive(project, database_url, "create")
    notes.write_text(
        edited(
            notes.read_text(encoding="utf-8"),
            (
                "| projects | refs(Project) | no | - | Projects it is about |\n",
                "| tasks | refs(Task)(..3) | no | - | Tasks it is about |\n",
            ),
        ),
        encoding="utf-8",
    )
    snapshot_before = snapshot(project)
    refused = featwright(project, "add", str(notes))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "notes.projects: its link table would be dropped with its data" in refused.stderr
    assert snapshot(project) == snapshot_before

    _add(project, notes, "--allow-data-loss")

    change = (project / f"migrations/versions/{revision(project, 0)}_change_notes.py").read_text(
        encoding="utf-8"
    )
    upgrade, downgrade = change.split("def downgrade")
    assert 'op.drop_table("note_projects")' in upgrade
    assert 'op.create_table(\n        "note_tasks",' in upgrade
    assert 'op.drop_table("note_tasks")' in downgrade
    assert '"note_projects",' in downgrade
    _drive(project, database_url, "head")
    (after,) = _drive(project, database_url, "list")
    assert after["labels"] == before["labels"]  # as sent: b, a, c
    assert (after["tasks"], "projects" in after) == ([], False)
    _drive(project, database_url, "-1")
    _drive(project, database_url, "head")
    assert _drive(project, database_url, "list")[0]["labels"] == before["labels"]
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_remove_undoes_a_feature_with_refs_and_refuses_while_another_refers(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path / "project")
    before = snapshot(project)
    labels = _doc(project, "labels", LABEL_ROWS)
    notes = _doc(project, "notes", NOTE_ROWS)
    _add(project, labels)
    _add(project, notes)
    nothing_applied = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"}

    refused = featwright(project, "remove", str(labels), env=nothing_applied)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"Note.labels is refs(Label), which {labels.name} defines" in refused.stderr
    assert "note_labels" not in refused.stderr  # named once, by its doc

    for doc in (notes, labels):
        removed = featwright(project, "remove", str(doc), env=nothing_applied)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        doc.unlink()
    kept = snapshot(project)
    assert {path: kept[path] for path in kept if not path.startswith(BACKUPS)} == before


BACKUPS = ".featwright/backup/"
"""Where `remove` copies the migrations it deletes (git-ignored)."""

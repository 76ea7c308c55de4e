"""`expand (project, labels)`: a GET that embeds the rows its references point at.

Docs with references required (notes), optional and to their own model (memos), and to a
model whose GETs are public from a public GET (pins -> boards, and to private projects) are
added to one copy of the project; their generated tests (each expand name, an unknown name,
the embedded row equal to the target's own GET) pass on SQLite and PostgreSQL, `check` is
green, and the statements an expanded list runs at limit 100 are counted on PostgreSQL.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.engine.doc import parse_doc
from src.engine.generate import render_feature
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    edited,
    featwright,
    problems_of,
    ruff_findings,
    run_generated_tests,
    snapshot,
)

NOTE_ROWS = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| task_id | ref(Task) | yes | - | The task |\n"
    "| title | str(1..40) | yes | - | Title |\n"
    "| tasks | refs(Task)(..5) | yes | - | Related tasks |\n"
)
MEMO_ROWS = (
    "| project_id | ref(Project) | no | - | The project |\n"
    "| task_id | ref(Task) | no | null | The task |\n"
    "| parent_id | ref(Memo) | no | - | The memo it answers |\n"
    "| body | str | no | - | Text |\n"
)
BOARD_ROWS = "| name | str(1..40) | yes | - | Name |\n"
PIN_ROWS = (
    "| board_id | ref(Board) | yes | - | The board, whose GETs are public |\n"
    "| project_id | ref(Project) | no | - | A private project |\n"
    "| notes | refs(Note)(..5) | no | - | Private notes |\n"
)
DOCS = (  # resource, rows, list filters, public GETs, expand
    ("notes", NOTE_ROWS, "project_id (UUID)", False, "project, task, tasks"),
    ("memos", MEMO_ROWS, "", False, "project, task, parent"),
    ("boards", BOARD_ROWS, "", True, ""),
    ("pins", PIN_ROWS, "board_id (UUID)", True, "board, project, notes"),
)

# Runs in the copy, on its PostgreSQL server with pg_stat_statements (test_round_trips').
ROUND_TRIPS = '''"""Statements of an expanded GET, counted by the server."""

import httpx

from tests.crud_contract import create_row
from tests.live_server import sign_up
from tests.reliability.test_round_trips import Counter, _kinds, cluster, served

__all__ = ["cluster", "served"]
API = "/api/v1"


async def test_expand_runs_one_statement_more_per_field_at_limit_100(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    client, counter = served
    headers = await sign_up(client)
    project = await create_row(client, headers, "projects")
    task = await create_row(client, headers, "tasks")
    tasks = [task["id"], (await create_row(client, headers, "tasks"))["id"]]
    body = {"title": "t", "project_id": project["id"], "task_id": task["id"], "tasks": tasks}
    for _ in range(100):
        assert (await client.post(f"{API}/notes", json=body, headers=headers)).status_code == 201
    await create_row(client, headers, "notes")  # a second project and task
    counts = {}
    for query in ("", "&expand=project", "&expand=project,task", "&expand=project,task,tasks"):
        url = f"{API}/notes?limit=100{query}"
        for _ in range(3):  # warm every pooled connection
            await client.get(url, headers=headers)
        await counter.reset()
        answer = await client.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == 100
        if "tasks" in query:  # each of the 100 with its tasks' rows, in the order sent
            embedded = [[task["id"] for task in row["tasks"]] for row in answer.json()["items"]]
            assert embedded.count(tasks) >= 99, embedded
        counts[query] = _kinds(await counter.statements())
    single = f"{API}/notes/{answer.json()['items'][1]['id']}?expand=project,task,tasks"
    await client.get(single, headers=headers)
    await counter.reset()
    assert (await client.get(single, headers=headers)).status_code == 200
    counts["get"] = _kinds(await counter.statements())
    assert counts == {
        "": ["SELECT"],
        "&expand=project": ["SELECT", "SELECT"],
        "&expand=project,task": ["SELECT", "SELECT", "SELECT"],
        "&expand=project,task,tasks": ["SELECT", "SELECT", "SELECT", "SELECT"],
        "get": ["SELECT", "SELECT", "SELECT", "SELECT"],
    }
'''


# Runs in the copy on both backends: whose rows an expanded answer embeds.
READERS = '''"""Only rows the caller may read are embedded."""

import httpx

from tests.conftest import MakeUser
from tests.crud_contract import create_row

API = "/api/v1"


async def test_a_public_target_is_embedded_for_anyone_a_private_one_for_no_one_public(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    alice, bob = (await make_user()).headers, (await make_user()).headers
    board = await create_row(client, alice, "boards")  # public reads: bob may pin it
    project = await create_row(client, bob, "projects")
    note = await create_row(client, bob, "notes")
    body = {"board_id": board["id"], "project_id": project["id"], "notes": [note["id"]]}
    pin = await client.post(f"{API}/pins", json=body, headers=bob)
    assert pin.status_code == 201, pin.text
    url = f"{API}/pins/{pin.json()['id']}"

    got = await client.get(url, params={"expand": "board,project,notes"})
    listed = await client.get(
        f"{API}/pins", params={"board_id": board["id"], "expand": "board,project,notes"}
    )

    # The pin's GET is public: it embeds no private row, and answers no id of one as a row.
    expected = {**pin.json(), "board": board, "project": None, "notes": []}
    assert (got.status_code, got.json()) == (200, expected)
    assert listed.json()["items"] == [expected]


async def test_another_owners_row_is_embedded_for_a_superuser_only(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    owner, admin = await make_user(), await make_user(superuser=True)
    note = await create_row(client, owner.headers, "notes")
    project = await client.get(f"{API}/projects/{note['project_id']}", headers=owner.headers)
    url = f"{API}/notes/{note['id']}"

    read = await client.get(url, params={"expand": "project"}, headers=admin.headers)

    assert read.status_code == 200, read.text
    assert read.json() == {**note, "project": project.json()}
'''


CODE = ("src/", "tests/", "migrations/", "docs/")
"""What `add` writes (its records in `.featwright/` aside)."""


@dataclass(frozen=True)
class Expanded:
    project: Path
    docs: dict[str, Path]


@pytest.fixture(scope="module")
def expanded(tmp_path_factory: pytest.TempPathFactory) -> Expanded:
    project = copy_project(tmp_path_factory.mktemp("expand") / "project")
    docs = {}
    for resource, rows, filters, public, expand in DOCS:
        doc = doc_in(project / "docs/features", resource, rows, filters, public, expand=expand)
        added = featwright(project, "add", str(doc))
        assert added.returncode == 0, added.stdout + added.stderr
        docs[resource] = doc
    (project / "tests/reliability/test_expand_round_trips.py").write_text(
        ROUND_TRIPS, encoding="utf-8"
    )
    (project / "tests/features/test_expand_readers.py").write_text(READERS, encoding="utf-8")
    return Expanded(project, docs)


def test_generated_tests_pass_and_expand_costs_a_statement_per_field(
    expanded: Expanded,
) -> None:
    project = expanded.project
    result = run_generated_tests(
        project,
        *(project / f"tests/features/test_{resource}.py" for resource, *_ in DOCS),
        project / "tests/features/test_expand_readers.py",
        project / "tests/reliability/test_expand_round_trips.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary


def test_generated_files_are_lint_clean_and_check_is_green(expanded: Expanded) -> None:
    project = expanded.project
    assert_lint_clean(project)
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_check_compares_the_expand_names_both_ways(expanded: Expanded, tmp_path: Path) -> None:
    """A doc that lists fewer names than the route takes, more, or none: each is drift."""
    source = expanded.docs["memos"]
    text = source.read_text(encoding="utf-8")
    fewer = tmp_path / "fewer" / source.name
    more = tmp_path / "more" / source.name
    none = tmp_path / "none" / source.name
    get = "| Query Params | "  # the GET by id's; the list's has page and limit first
    for path, new in (
        (
            fewer,
            edited(
                text, (f"{get}expand (project, task, parent) |", f"{get}expand (project, task) |")
            ),
        ),
        (
            more,
            edited(
                text,
                ("| body |", "| board_id | ref(Board) | no | - | A board |\n| body |"),
                (
                    f"{get}expand (project, task, parent) |",
                    f"{get}expand (project, task, parent, board) |",
                ),
            ),
        ),
        (none, edited(text, (", expand (project, task, parent) |", " |"))),
    ):
        path.parent.mkdir()
        path.write_text(new, encoding="utf-8")

    found = {  # a wide table: each mismatch on one line
        path: featwright(expanded.project, "check", str(path), env={"COLUMNS": "300"})
        for path in (fewer, more, none)
    }

    assert {path: result.returncode for path, result in found.items()} == dict.fromkeys(found, 1)
    assert "the route's expand takes 'parent', the doc does not list it" in found[fewer].stdout
    assert "doc lists expand 'board', the route's expand does not take it" in found[more].stdout
    assert "the route takes query parameter 'expand', the doc does not list it" in (
        found[none].stdout
    )


def test_a_changed_expand_is_regenerated_both_ways_without_a_migration(
    expanded: Expanded, tmp_path: Path
) -> None:
    """A built doc's GET that stops expanding `task`, then expands it again: `add` rewrites
    the route and no migration; `check` is green each time; the second `add` writes back
    exactly what the first one replaced."""
    project = shutil.copytree(expanded.project, tmp_path / "project", symlinks=True)
    doc = project / expanded.docs["notes"].relative_to(expanded.project)
    text = doc.read_text(encoding="utf-8")
    before = snapshot(project)
    names = "| Query Params | expand (project, task, tasks) |"
    doc.write_text(edited(text, (names, names.replace("task, tasks", "tasks"))), "utf-8")

    dropped = featwright(project, "add", str(doc))

    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    changed = {path for path, content in snapshot(project).items() if before.get(path) != content}
    assert {path for path in changed if "migrations/" in path} == set(), changed
    route = (project / "src/api/v1/routes/notes.py").read_text(encoding="utf-8")
    assert 'Expandable("project", "tasks")' in route
    assert 'Expandable("project", "task", "tasks")' in route  # the list's, unchanged
    assert featwright(project, "check").returncode == 0

    doc.write_text(text, "utf-8")
    again = featwright(project, "add", str(doc))

    assert again.returncode == 0, again.stdout + again.stderr

    def code(files: dict[str, str]) -> dict[str, str]:
        return {path: digest for path, digest in files.items() if path.startswith(CODE)}

    assert code(snapshot(project)) == code(before)
    assert featwright(project, "check").returncode == 0


def test_add_refuses_an_expand_that_names_no_reference(expanded: Expanded, tmp_path: Path) -> None:
    """Exit 2 with the line and the names it takes; nothing written."""
    doc = doc_in(tmp_path, "labels", NOTE_ROWS, expand="project, title, projekt")
    line = 1 + next(
        i
        for i, text in enumerate(doc.read_text(encoding="utf-8").splitlines())
        if "expand (" in text
    )
    before = snapshot(expanded.project)

    added = featwright(expanded.project, "add", str(doc))

    assert added.returncode == 2, added.stdout + added.stderr
    assert (
        f"{doc}:{line}: expand names 'title', which is no ref or refs field of Label (project"
        " for project_id); expected one of project, task" in added.stderr
    )
    assert "expand names 'projekt'" in added.stderr
    assert snapshot(expanded.project) == before


# ------------------------------------------------- fast: parsed and rendered, no project copy


def test_expand_is_refused_where_no_get_could_answer_it(tmp_path: Path) -> None:
    doc = doc_in(tmp_path, "labels", NOTE_ROWS)
    text = doc.read_text(encoding="utf-8")
    put = "| Request | LabelUpdate |\n"
    doc.write_text(
        edited(
            text,
            (put, put + "| Query Params | expand (project) |\n"),
            ("limit (int, default 20) |", "limit (int, default 20), expand () |"),
        ),
        encoding="utf-8",
    )
    lines = doc.read_text(encoding="utf-8").splitlines()

    problems = problems_of(doc)

    assert (
        1 + lines.index("| Query Params | expand (project) |"),
        "PUT takes no expand; expected it on a GET or a list only",
    ) in problems
    assert any(
        message.startswith("expand lists no field; expected expand (name, ...) of project, task")
        for _, message in problems
    )


def test_a_reference_not_named_x_id_and_a_name_taken_cannot_be_expanded(tmp_path: Path) -> None:
    rows = (
        "| owner_project | ref(Project) | yes | - | Not named project_id |\n"
        "| task_id | ref(Task) | yes | - | The task |\n"
        "| task | str | no | - | A field named as task_id's expansion would be |\n"
    )
    doc = doc_in(tmp_path, "labels", rows, expand="owner_project, task")

    messages = [message for _, message in problems_of(doc)]

    expected = "none: Label has no ref field named x_id or refs field"
    assert all(expected in message for message in messages), messages
    assert len(messages) == 4  # the GET's and the list's, each naming both


def test_rendered_files_with_expand_are_what_ruff_would_write(tmp_path: Path) -> None:
    """Long names, a self-reference, public reads: nothing for ruff to change."""
    long_rows = "".join(
        re.sub(r"\| (\w+)_id \|", rf"| \1_of_a_long_name_{'x' * 12}_id |", row + "\n")
        for row in MEMO_ROWS.splitlines()
    ).replace("ref(Memo)", "ref(VeryLongNamedMemoRecordingThing)")
    variants = [
        (resource, rows, filters, public, expand)
        for resource, rows, filters, public, expand in DOCS
    ]
    variants.append(
        (
            "very_long_named_memo_recording_things",
            long_rows,
            "",
            True,
            ", ".join(
                f"{name}_of_a_long_name_{'x' * 12}" for name in ("project", "task", "parent")
            ),
        )
    )
    for index, (resource, rows, filters, public, expand) in enumerate(variants):
        rows = rows.replace("ref(Board)", "ref(Project)").replace("refs(Note)", "refs(Task)")
        doc = doc_in(tmp_path / str(index), resource, rows, filters, public, expand=expand)
        files = render_feature(parse_doc(doc, APP_MODELS), ROOT)
        for path, text in files.items():
            for args in (("check",), ("format", "--check", "--diff")):
                assert ruff_findings(text, path, *args) == "", (path, text)

"""A project grown by `featwright add` stays green.

One copy of the project gets the docs a user would write: time entries (a `ref(Task)`, so a
chain task -> project, a `datetime`, an `int` range, a `bool`, an `enum`, a `Decimal(8, 2)`, two
text fields, three list filters, a `utcnow()` default), approvals that reference time entries,
notices anyone may read, categories (an irregular plural, a parent of its own model, a reference
to anyone's notice, a `uuid4()` default), and one field of every type form, all required in one
doc and all optional in another, each a list filter; then time entries is changed once. On that
copy: lint on every file (generated tests and migrations included), `check`, and the generated
test modules with the reliability tests that walk every route, on SQLite and PostgreSQL.
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.core.errors import in_words
from src.engine.doc import parse_doc, parse_doc_text
from src.engine.evolve import schema_changes
from src.engine.generate import render_feature
from src.engine.migrate import render_change_migration
from src.engine.newdoc import new_doc
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    edited,
    featwright,
    ruff_findings,
    run_generated_tests,
    snapshot,
)

TIME_ENTRY_ROWS = (
    "| task_id | ref(Task) | yes | - | The task worked on |\n"
    "| started_at | datetime | yes | - | When the work began |\n"
    "| minutes | int(1..1440) | yes | - | Minutes worked |\n"
    "| billable | bool | no | true | Billed to the client |\n"
    "| kind | enum(meeting, coding, review) | no | coding | What kind of work |\n"
    "| rate | Decimal(8, 2) | no | - | Hourly rate |\n"
    "| ticket | str(..40) | no | - | Ticket reference |\n"
    "| note | str | no | - | Free text |\n"
    "| logged_at | datetime | no | utcnow() | When it was logged |\n"
)
APPROVAL_ROWS = (
    "| time_entry_id | ref(TimeEntry) | yes | - | The approved entry |\n"
    "| comment | str(1..300) | yes | - | Why it is approved |\n"
)
NOTICE_ROWS = "| title | str(1..80) | yes | - | What it says |\n"
CATEGORY_ROWS = (
    "| name | str(1..80) | yes | - | Display name |\n"
    "| parent_id | ref(Category) | no | - | The parent category; a tree |\n"
    "| notice_id | ref(Notice) | no | - | A notice, anyone's: anyone may read notices |\n"
    "| code | UUID | no | uuid4() | An id for other systems |\n"
)
EVERY_FORM = (
    ("name", "str(1..50)"),
    ("note", "str"),
    ("count", "int"),
    ("stars", "int(1..5)"),
    ("big", "int(0..10000000000)"),
    ("below", "int(..-5)"),
    ("ratio", "float"),
    ("score", "float(0.5..5)"),
    ("amount", "Decimal"),
    ("cap", "Decimal(12, 2)"),
    ("share", "Decimal(2, 2)"),
    ("active", "bool"),
    ("due", "date"),
    ("at", "datetime"),
    ("kind", "enum(low, high)"),
    ("other", "UUID"),
    ("project_id", "ref(Project)"),
)


def every_form_rows(required: str) -> str:
    return "".join(f"| {name} | {kind} | {required} | - | A field |\n" for name, kind in EVERY_FORM)


EVERY_FILTER = ", ".join(f"{name} ({kind})" for name, kind in EVERY_FORM)
DOCS = (
    ("time_entries", TIME_ENTRY_ROWS, "task_id (UUID), kind (enum), ticket (str)"),
    ("approvals", APPROVAL_ROWS, "time_entry_id (UUID)"),
    ("notices", NOTICE_ROWS, "title (str)"),
    ("categories", CATEGORY_ROWS, "parent_id (UUID)"),
    ("samples", every_form_rows("yes"), EVERY_FILTER),
    ("readings", every_form_rows("no"), EVERY_FILTER),
)
PUBLIC_READS = {"notices"}
# The doc's change: a tightened range, a field renamed, fields added with defaults that the
# rows get (a date and a Decimal, so the migration needs their modules, and no other).
TIME_ENTRY_CHANGES = (
    ("| minutes | int(1..1440) |", "| minutes | int(1..720) |"),
    (
        "| note | str | no | - | Free text |",
        "| remark | str | no | - | Free text (renamed from note) |",
    ),
    (
        "| ticket | str(..40) | no | - | Ticket reference |\n",
        "| ticket | str(..40) | no | - | Ticket reference |\n"
        "| booked_on | date | no | 2026-01-01 | The day it was booked |\n"
        "| tax | Decimal(4, 2) | no | 0.20 | Tax rate |\n",
    ),
)

# Runs in the copy with the generated modules: what issue 17 found, on both backends.
GROWN_CHECKS = '''"""Checks on a grown project: messages in the model's words, bounded filters."""

import uuid

import httpx

from tests.conftest import MakeUser
from tests.crud_contract import create_row

API = "/api/v1"


async def test_not_found_speaks_the_models_words(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    missing = await client.get(f"{API}/time_entries/{uuid.uuid4()}", headers=headers)
    assert (missing.status_code, missing.json()["detail"]) == (404, "Time entry not found")
    body = {"time_entry_id": str(uuid.uuid4()), "comment": "fine"}
    refused = await client.post(f"{API}/approvals", json=body, headers=headers)
    assert (refused.status_code, refused.json()["detail"]) == (404, "Time entry not found")
    entry = await create_row(client, headers, "time_entries")
    moved = {"task_id": str(uuid.uuid4())}
    gone = await client.put(f"{API}/time_entries/{entry['id']}", json=moved, headers=headers)
    assert (gone.status_code, gone.json()["detail"]) == (404, "Task not found")


async def test_a_text_filter_refuses_a_nul_and_a_long_value(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    url = f"{API}/time_entries"
    for value in ("a\\x00b", "x" * 10_000, "x" * 41):
        refused = await client.get(url, params={"ticket": value}, headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["field"] == "ticket"
    assert (await client.get(url, params={"ticket": "x" * 40}, headers=headers)).is_success


async def test_every_type_form_filters_a_list(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    for resource in ("samples", "readings"):
        row = await create_row(client, headers, resource)
        for name, value in row.items():
            if name in ("id", "created_at", "updated_at", "version") or value is None:
                continue
            params = {name: str(value).lower() if isinstance(value, bool) else value}
            found = await client.get(f"{API}/{resource}", params=params, headers=headers)
            assert found.status_code == 200, (name, found.text)
            assert [item["id"] for item in found.json()["items"]] == [row["id"]], name


async def test_a_decimal_without_precision_is_bounded_too(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    headers = (await make_user()).headers
    body = {"amount": "1" * 101}
    refused = await client.post(f"{API}/readings", json=body, headers=headers)
    assert refused.status_code == 400, refused.text
    assert [error["field"] for error in refused.json()["errors"]] == ["amount"]
'''


@dataclass(frozen=True)
class Grown:
    project: Path
    docs: dict[str, Path]
    migrations: list[Path]
    seconds: dict[str, float]


def write_doc(project: Path, resource: str, rows: str, filters: str) -> Path:
    """`featwright doc new RESOURCE`, its fields replaced by `rows`, its list filtered by
    `filters`; a POST whose row has a reference also documents the 404."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    (doc,) = (project / "docs/features").glob(f"FEAT-*-{resource}.md")
    text = doc.read_text(encoding="utf-8")
    model = re.search(r"^### (\w+)$", text, re.MULTILINE)
    assert model is not None
    response = f"| Response 201 | {model[1]}Response |\n"
    params = "| Query Params | page (int, default 1), limit (int, default 20)"
    text = edited(
        text,
        ("| name | str(1..200) | yes | - | Display name |\n", rows),
        (params + " |", f"{params}, {filters} |"),
        (response, response + ("| Response 404 | NotFoundError |\n" if "ref(" in rows else "")),
    )
    doc.write_text(text, encoding="utf-8")
    return doc


def public_reads(text: str) -> str:
    """A doc's text with its GET endpoints public: Auth None, and so no 401."""
    sections = text.split("\n### ")
    for index, section in enumerate(sections):
        if section.startswith("GET "):
            section = section.replace("| Auth | Required |", "| Auth | None |")
            sections[index] = section.replace("| Response 401 | UnauthorizedError |\n", "")
    return "\n### ".join(sections)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Grown:
    project = copy_project(tmp_path_factory.mktemp("grown") / "project")
    before = set((project / "migrations/versions").glob("*.py"))
    docs, seconds = {}, {}
    for resource, rows, filters in DOCS:
        docs[resource] = write_doc(project, resource, rows, filters)
        if resource in PUBLIC_READS:
            text = public_reads(docs[resource].read_text(encoding="utf-8"))
            docs[resource].write_text(text, encoding="utf-8")
        started = time.monotonic()
        added = featwright(project, "add", str(docs[resource]))
        seconds[resource] = time.monotonic() - started
        assert added.returncode == 0, added.stdout + added.stderr
    doc = docs["time_entries"]
    doc.write_text(edited(doc.read_text(encoding="utf-8"), *TIME_ENTRY_CHANGES), encoding="utf-8")
    changed = featwright(project, "add", str(doc))
    assert changed.returncode == 0, changed.stdout + changed.stderr
    (project / "tests/features/test_grown_project.py").write_text(GROWN_CHECKS, encoding="utf-8")
    migrations = sorted(set((project / "migrations/versions").glob("*.py")) - before)
    return Grown(project, docs, migrations, seconds)


def test_every_generated_file_is_lint_clean(grown: Grown) -> None:
    """What `make lint` runs, with mypy also on every generated test module and migration."""
    project = grown.project
    names = [p.name for p in grown.migrations]
    assert [name.split("_", 1)[1] for name in names] == [
        *(f"create_{resource}.py" for resource, _, _ in DOCS),
        "change_time_entries.py",
    ]
    print("featwright add, seconds:", {k: round(v, 1) for k, v in grown.seconds.items()})
    assert_lint_clean(project)
    change = grown.migrations[-1].read_text(encoding="utf-8")
    assert "import datetime\nimport decimal\n" in change
    assert "import src.models.base" not in change  # used by none of its columns


def test_check_is_green_on_every_doc(grown: Grown) -> None:
    checked = featwright(grown.project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    count = len(list((grown.project / "docs/features").glob("FEAT-*.md")))
    assert f"{count} design docs match the app" in checked.stdout


def test_generated_tests_and_the_route_walking_tests_pass_on_both_backends(
    grown: Grown,
) -> None:
    project = grown.project
    modules = [project / f"tests/features/test_{resource}.py" for resource, _, _ in DOCS]
    result = run_generated_tests(
        project,
        *modules,
        project / "tests/features/test_grown_project.py",
        project / "tests/reliability/test_bounded_input.py",
        project / "tests/reliability/test_access.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    print(summary)


def test_add_and_check_refuse_silent_mistakes(grown: Grown, tmp_path: Path) -> None:
    """An enum with upper-case values and a filter that names no field: exit 2, the line,
    and what to write instead; nothing written."""
    doc = tmp_path / grown.docs["time_entries"].name
    text = grown.docs["time_entries"].read_text(encoding="utf-8")
    text = edited(
        text,
        ("enum(meeting, coding, review)", "enum(Meeting, coding, review)"),
        ("ticket (str) |", "ticket (str), tickt (str) |"),
    )
    doc.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    enum_line = 1 + next(i for i, line in enumerate(lines) if "enum(Meeting" in line)
    query_line = 1 + next(i for i, line in enumerate(lines) if "tickt" in line)
    before = snapshot(grown.project)

    for command in ("add", "check"):
        result = featwright(grown.project, command, str(doc))

        assert result.returncode == 2, result.stdout + result.stderr
        assert (
            f"{doc}:{enum_line}: enum values must be lower-case; write enum(meeting, coding,"
            " review)" in result.stderr
        )
        assert (
            f"{doc}:{query_line}: query parameter 'tickt' names no field of TimeEntry that a"
            " client sets, so no list would filter by it; expected 'ticket' (or" in result.stderr
        )
    assert snapshot(grown.project) == before


# ------------------------------------------------- fast: rendered text, no project copy


def _rendered(tmp_path: Path, resource: str, rows: str, filters: str = "") -> dict[str, str]:
    return render_feature(parse_doc(doc_in(tmp_path, resource, rows, filters), APP_MODELS), ROOT)


def test_rendered_files_stay_within_the_line_length(tmp_path: Path) -> None:
    """A long doc name wraps the docstrings; a long sample text is written `"x" * 300`."""
    rows = "| name | str(300..400) | yes | - | A long name |\n"
    files = _rendered(tmp_path, "very_long_time_entry_recordings", rows, "name (str)")

    assert (
        'valid = {"name": "x" * 300}'
        in files["tests/features/test_very_long_time_entry_recordings.py"]
    )
    assert {
        path: ruff_findings(text, path, "check") for path, text in files.items()
    } == dict.fromkeys(files, "")


def test_a_change_migration_imports_only_what_it_uses(tmp_path: Path) -> None:
    """No `src.models.base` without a datetime column, `datetime` and `decimal` for the
    defaults the rows get: `ruff check` finds nothing."""
    doc = new_doc("labels", tmp_path)
    old = doc.read_text(encoding="utf-8")
    new = edited(
        old,
        (
            "| name | str(1..200) | yes | - | Display name |\n",
            "| name | str(1..100) | yes | - | Display name |\n"
            "| since | date | no | 2026-01-01 | A day |\n"
            "| rate | Decimal(4, 2) | no | 0.20 | A rate |\n",
        ),
    )
    changes = schema_changes(
        parse_doc_text(old, doc, APP_MODELS), parse_doc_text(new, doc, APP_MODELS)
    )
    path = "migrations/versions/0009_change_labels.py"
    text = render_change_migration(
        changes, ROOT, revision="0009", down_revision="0008", message="change labels", doc_path=path
    )

    assert "import src.models.base" not in text
    assert "import datetime\nimport decimal\n" in text
    assert ruff_findings(text, path, "check") == ""


def test_a_generated_service_names_its_model_in_words(tmp_path: Path) -> None:
    files = _rendered(tmp_path, "time_entries", "| minutes | int(1..1440) | yes | - | Minutes |\n")

    assert 'resource = "Time entry"' in files["src/services/time_entry_service.py"]
    assert [in_words(name) for name in ("Project", "TimeEntry", "APIKey", "OrderLine")] == [
        "Project",
        "Time entry",
        "API key",
        "Order line",
    ]

"""Docs that list some endpoints and not others, PATCH, and fields set at create only: what
`add` accepts, its generated tests pass on both backends; what it cannot test, it refuses.

One copy of the project gets: amounts (a required `Decimal(12, 2)`: the valid body and the
answer agree), folders (a parent of its own model, PUT and PATCH), memos (POST, PUT and
DELETE with no GET and no list), stickers (POST and PATCH alone) and comments (a `ref` and an
enum set at create only, made so by a changed doc, which needs no migration). On it: lint,
`check` (green, and each kind of PATCH or `fixed` drift caught), the generated tests and the
route-walking reliability tests, on SQLite and PostgreSQL.
"""

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.engine.doc import parse_doc, parse_doc_text
from src.engine.evolve import schema_changes
from src.engine.generate import GenerationError, render_feature
from src.engine.newdoc import new_doc
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
from tests.engine.test_add import _operations_of_the_app
from tests.reliability.test_schemathesis import fuzz

AMOUNT_ROWS = (
    "| cap | Decimal(12, 2) | yes | - | A cap, answered with its two places |\n"
    "| whole | Decimal(6, 0) | yes | - | No places |\n"
    "| share | Decimal(2, 2) | yes | - | Below one |\n"
)
FOLDER_ROWS = (
    "| name | str(1..80) | yes | - | Display name |\n"
    "| parent_id | ref(Folder) | no | - | The folder it is in; a tree |\n"
)
MEMO_ROWS = "| title | str(1..80) | yes | - | Title |\n"
STICKER_ROWS = "| label | str(1..20) | yes | - | Label |\n"
COMMENT_ROWS = (
    "| memo_id | ref(Memo) | yes | - | The memo it is on |\n"
    "| body | str(1..500) | yes | - | Text |\n"
    "| kind | enum(note, question) | no | note | What it is |\n"
)
# Comments become a doc with fields set at create only: no migration, other schemas.
COMMENT_FIXED = (
    ("| memo_id | ref(Memo) | yes |", "| memo_id | ref(Memo) | yes, fixed |"),
    ("| kind | enum(note, question) | no |", "| kind | enum(note, question) | no, fixed |"),
)


def patch_section(model: str, resource: str) -> str:
    return (
        f"### PATCH /api/v1/{resource}/{{id}}\n| Aspect | Detail |\n|--------|--------|\n"
        f"| Auth | Required |\n| Request | {model}Update |\n| Response 200 | {model}Response |\n"
        "| Response 400 | ValidationError |\n| Response 401 | UnauthorizedError |\n"
        "| Response 404 | NotFoundError |\n\n"
    )


def without_endpoints(text: str, *headings: str) -> str:
    """`text` without the `### <heading>` sections of these endpoints."""
    for heading in headings:
        start = text.index(f"### {heading}")
        end = min(text.index("\n### ", start), text.index("\n## ", start))
        text = text[:start] + text[end + 1 :]
    return text


def with_patch(text: str) -> str:
    model = re.search(r"^### (\w+)$", text, re.MULTILINE)
    assert model is not None
    resource = re.search(r"^### POST /api/v1/(\w+)$", text, re.MULTILINE)
    assert resource is not None
    return text.replace("## File Plan", patch_section(model[1], resource[1]) + "## File Plan")


def add_doc(project: Path, resource: str, rows: str, *, shape: object = None) -> Path:
    doc = doc_in(project / "docs/features", resource, rows)
    if callable(shape):
        doc.write_text(shape(doc.read_text(encoding="utf-8")), encoding="utf-8")
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stdout + added.stderr
    return doc


@dataclass(frozen=True)
class Combos:
    project: Path
    docs: dict[str, Path]
    migrations_before_change: int
    change_output: str


@pytest.fixture(scope="module")
def combos(tmp_path_factory: pytest.TempPathFactory) -> Combos:
    project = copy_project(tmp_path_factory.mktemp("combos") / "project")
    docs = {
        "amounts": add_doc(project, "amounts", AMOUNT_ROWS),
        "folders": add_doc(project, "folders", FOLDER_ROWS, shape=with_patch),
        "memos": add_doc(
            project,
            "memos",
            MEMO_ROWS,
            shape=lambda text: without_endpoints(
                text, "GET /api/v1/memos/{id}", "GET /api/v1/memos?"
            ),
        ),
        "stickers": add_doc(
            project,
            "stickers",
            STICKER_ROWS,
            shape=lambda text: without_endpoints(
                with_patch(text),
                "GET /api/v1/stickers/{id}",
                "GET /api/v1/stickers?",
                "PUT /api/v1/stickers/{id}",
                "DELETE /api/v1/stickers/{id}",
            ),
        ),
        "comments": add_doc(project, "comments", COMMENT_ROWS, shape=with_patch),
    }
    migrations = len(list((project / "migrations/versions").glob("*.py")))
    doc = docs["comments"]
    doc.write_text(edited(doc.read_text(encoding="utf-8"), *COMMENT_FIXED), encoding="utf-8")
    changed = featwright(project, "add", str(doc))
    assert changed.returncode == 0, changed.stdout + changed.stderr
    return Combos(project, docs, migrations, changed.stdout)


def test_fixed_fields_added_by_a_changed_doc_need_no_migration(combos: Combos) -> None:
    project = combos.project
    assert len(list((project / "migrations/versions").glob("*.py"))) == (
        combos.migrations_before_change
    )
    assert "db upgrade" not in combos.change_output
    schemas = (project / "src/schemas/comment.py").read_text(encoding="utf-8")
    update = schemas[schemas.index("class CommentUpdate") : schemas.index("class CommentResponse")]
    assert "    memo_id: SetAtCreate | MISSING = MISSING\n" in update
    assert "    kind: SetAtCreate | MISSING = MISSING\n" in update
    assert "    body: CommentBody | MISSING = MISSING\n" in update
    test_module = (project / "tests/features/test_comments.py").read_text(encoding="utf-8")
    assert '    fixed = ("memo_id", "kind")\n' in test_module


def test_generated_tests_and_the_route_walking_tests_pass_on_both_backends(
    combos: Combos,
) -> None:
    project = combos.project
    modules = [project / f"tests/features/test_{resource}.py" for resource in combos.docs]
    result = run_generated_tests(
        project,
        *modules,
        project / "tests/reliability/test_access.py",
        project / "tests/reliability/test_bounded_input.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    print(summary)


def test_every_generated_file_is_lint_clean(combos: Combos) -> None:
    project = combos.project
    assert_lint_clean(project)


def test_check_is_green_and_catches_patch_and_fixed_drift(combos: Combos, tmp_path: Path) -> None:
    project = combos.project
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    def drift(resource: str, text: str) -> str:
        doc = tmp_path / combos.docs[resource].name
        doc.write_text(text, encoding="utf-8")
        result = featwright(project, "check", str(doc), env={"COLUMNS": "400"})
        assert result.returncode == 1, result.stdout + result.stderr
        return re.sub(r"\s+", " ", result.stdout)

    comments = combos.docs["comments"].read_text(encoding="utf-8")
    not_fixed = drift(
        "comments",
        edited(
            comments,
            ("| memo_id | ref(Memo) | yes, fixed |", "| memo_id | ref(Memo) | yes |"),
            ("| body | str(1..500) | yes |", "| body | str(1..500) | yes, fixed |"),
        ),
    )
    assert "not a field of CommentUpdate, doc does not say fixed (set at create only)" in not_fixed
    assert "CommentUpdate accepts it, doc says Required yes, fixed" in not_fixed

    stickers = combos.docs["stickers"].read_text(encoding="utf-8")
    unlisted = drift("stickers", without_endpoints(stickers, "PATCH /api/v1/stickers/{id}"))
    assert "PATCH /api/v1/stickers/{id}" in unlisted
    assert "route in the app is not in the doc" in unlisted
    missing = drift("memos", with_patch(combos.docs["memos"].read_text(encoding="utf-8")))
    assert "PATCH /api/v1/memos/{id}" in missing
    assert "no such route in the app" in missing


# ------------------------------------------------- fast: rendered text, no project copy


def test_a_fixed_field_toggled_changes_no_column(tmp_path: Path) -> None:
    doc = doc_in(tmp_path, "comments", COMMENT_ROWS.replace("ref(Memo)", "ref(Project)"))
    old = doc.read_text(encoding="utf-8")
    new = edited(
        old,
        *((a.replace("Memo", "Project"), b.replace("Memo", "Project")) for a, b in COMMENT_FIXED),
    )
    before, after = (parse_doc_text(text, doc, APP_MODELS) for text in (old, new))

    assert [f.fixed for f in after.models[0].fields if f.required != "auto"] == [
        True,
        False,
        True,
    ]
    assert not any(schema_changes(before, after))
    assert not any(schema_changes(after, before))


REFUSALS = {
    "no POST": (
        ("GET /api/v1/labels/{id}", "GET /api/v1/labels?", "POST /api/v1/labels"),
        "Label has endpoints but no POST /api/v1/labels, so no row of it could be made",
    ),
    "PUT without POST": (
        (
            "POST /api/v1/labels",
            "GET /api/v1/labels/{id}",
            "GET /api/v1/labels?",
            "DELETE /api/v1/labels/{id}",
        ),
        "Label has endpoints but no POST /api/v1/labels",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS), ids=list(REFUSALS))
def test_endpoints_over_rows_nothing_creates_are_refused(tmp_path: Path, case: str) -> None:
    removed, message = REFUSALS[case]
    doc = new_doc("labels", tmp_path)
    doc.write_text(without_endpoints(doc.read_text(encoding="utf-8"), *removed), encoding="utf-8")
    first_endpoint = 1 + next(
        i
        for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines())
        if line.startswith("### ") and "/api/v1/" in line
    )

    with pytest.raises(GenerationError) as refused:
        render_feature(parse_doc(doc, APP_MODELS), ROOT)

    assert [p.split(": ", 1)[0] for p in refused.value.problems] == [f"{doc}:{first_endpoint}"]
    assert message in refused.value.problems[0]


def test_a_ref_to_a_model_of_the_doc_without_a_post_is_refused(project: Path) -> None:
    """Exit 2 with the field's line, nothing written: no row could be made to refer to."""
    doc = new_doc("notebooks", project / "docs/features")
    text = doc.read_text(encoding="utf-8")
    page_model = (
        "### Page\n| Field | Type | Required | Default | Description |\n"
        "|-------|------|----------|---------|-------------|\n"
        "| id | UUID | auto | uuid4() | Primary key |\n"
        "| notebook_id | ref(Notebook) | yes | - | Its notebook |\n"
        "| created_at | datetime | auto | utcnow() | Creation timestamp |\n"
        "| updated_at | datetime | auto | utcnow() | Last update timestamp |\n\n"
    )
    pages_post = (
        "### POST /api/v1/pages\n| Aspect | Detail |\n|--------|--------|\n"
        "| Auth | Required |\n| Request | PageCreate |\n| Response 201 | PageResponse |\n"
        "| Response 404 | NotFoundError |\n\n"
    )
    plan = "".join(
        f"| {7 + i} | {path} | CREATE | Pages |\n"
        for i, path in enumerate(
            (
                "src/models/page.py",
                "src/schemas/page.py",
                "src/repositories/page_repo.py",
                "src/services/page_service.py",
                "src/api/v1/routes/pages.py",
            )
        )
    )
    text = without_endpoints(
        text,
        "POST /api/v1/notebooks",
        "GET /api/v1/notebooks/{id}",
        "GET /api/v1/notebooks?",
        "PUT /api/v1/notebooks/{id}",
        "DELETE /api/v1/notebooks/{id}",
    )
    text = text.replace("## API Endpoints\n", page_model + "## API Endpoints\n")
    text = text.replace("## API Endpoints\n\n", "## API Endpoints\n\n" + pages_post)
    text = text.replace("| 5 | src/api/v1/routes/notebooks.py | CREATE | API endpoints |\n", "")
    text = text.replace(
        "| 6 | src/api/v1/router.py | MODIFY | Register route |\n",
        "| 6 | src/api/v1/router.py | MODIFY | Register route |\n" + plan,
    )
    doc.write_text(text, encoding="utf-8")
    line = 1 + text.splitlines().index("| notebook_id | ref(Notebook) | yes | - | Its notebook |")
    before = snapshot(project)

    result = featwright(project, "add", str(doc))

    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        f"{doc}:{line}: Page.notebook_id is ref(Notebook), but this doc lists no POST"
        " /api/v1/notebooks, so no Notebook could be made to refer to; expected that endpoint"
    ) in result.stderr
    assert snapshot(project) == before


NOTE_ROWS = (
    "| project_id | ref(Project) | yes, fixed | - | The project it is in |\n"
    "| title | str(1..80) | yes | - | Title |\n"
    "| kind | enum(idea, todo) | no, fixed | idea | What it is |\n"
    "| due | date | no, fixed | - | When it is due |\n"
)


def test_schemathesis_finds_nothing_in_patch_and_fields_set_at_create(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    """No input makes a PATCH, or an update sending a field set at create, answer 500."""
    doc = doc_in(project / "docs/features", "notes", NOTE_ROWS, patch=True)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr
    workdir = tmp_path / "fuzz"
    workdir.mkdir()

    tested, _ = asyncio.run(fuzz(database_url, workdir, PYTHONPATH=str(project)))

    assert tested == _operations_of_the_app() + 6  # and the six of notes

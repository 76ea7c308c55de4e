"""Issue 19's acceptance: the full example doc, `docs/examples/FEAT-003-board.md`, added with
no edits to a copy of the project.

It holds every construct of the issue at once: sections only under their project (a name unique per
project, PATCH), labels whose GETs are public (routes keyed by a name unique across all rows),
tickets (a `ref` to a section made only under its project, sub-tickets, `refs(Label)(..20)` with
its list filter, `expand (section, parent, labels)`, PUT and PATCH) and comments under a ticket
(`ticket_id` fixed, PATCH only). On that copy: lint on every generated file, `check` green, the
four generated test modules and the access walk on SQLite and PostgreSQL, and schemathesis over
the app, 0 failures."""

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.engine.conftest import (
    ROOT,
    assert_lint_clean,
    copy_project,
    featwright,
    run_generated_tests,
    snapshot,
)
from tests.engine.test_add import _operations_of_the_app
from tests.reliability.test_schemathesis import fuzz

EXAMPLE = ROOT / "docs/examples/FEAT-003-board.md"
RESOURCES = ("sections", "labels", "tickets", "comments")
OPERATIONS = 21
"""The doc's endpoints: five for sections, labels and comments each, six for tickets."""


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the example doc copied in, unchanged, and added once."""
    project = copy_project(tmp_path_factory.mktemp("example") / "project")
    doc = project / "docs/features" / EXAMPLE.name
    shutil.copyfile(EXAMPLE, doc)
    added = featwright(project, "add", str(doc.relative_to(project)))
    assert added.returncode == 0, added.stdout + added.stderr
    return project


def test_add_writes_every_file_of_the_four_models_lint_clean(board: Path) -> None:
    for resource in RESOURCES:
        assert (board / f"src/api/v1/routes/{resource}.py").is_file()
        assert (board / f"tests/features/test_{resource}.py").is_file()
    assert len(list((board / "migrations/versions").glob("*_create_board.py"))) == 1
    assert_lint_clean(board)


def test_check_is_green_and_add_again_changes_nothing(board: Path) -> None:
    checked = featwright(board, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = len(list((board / "docs/features").glob("FEAT-*.md")))  # the project's own and ours
    assert f"{docs} design docs match the app" in checked.stdout
    before = snapshot(board)
    again = featwright(board, "add", f"docs/features/{EXAMPLE.name}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to change" in again.stdout
    assert snapshot(board) == before


def test_the_generated_tests_and_the_access_walk_pass_on_both_backends(board: Path) -> None:
    """The four generated modules, and the walk of every route as a stranger (test_access:
    another owner's row by id, by key, under a parent) over the app with the board's routes."""
    modules = [board / f"tests/features/test_{resource}.py" for resource in RESOURCES]
    tested = run_generated_tests(board, *modules, board / "tests/reliability/test_access.py")
    assert " passed" in tested.stdout, tested.stdout[-500:]
    assert "skipped" not in tested.stdout, tested.stdout[-500:]


def test_schemathesis_finds_nothing(board: Path, database_url: str, tmp_path: Path) -> None:
    """No input makes any route of the example answer 500 or break its schema."""
    # 40 operations at 50 examples each: more than the project's own run needs
    tested, _ = asyncio.run(fuzz(database_url, tmp_path, seconds=1200, PYTHONPATH=str(board)))

    assert tested == _operations_of_the_app() + OPERATIONS

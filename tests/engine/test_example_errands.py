"""Issue 20's acceptance: the full example doc, `docs/examples/FEAT-004-errands.md`, added with
no edits to a copy of the project.

It holds every construct of the issue at once: errands whose list sorts by six keys (newest
first by default), filters by ranges, sets, absent values, a text part and a list's item, and
searches two text fields; a list of text and one of numbers, an object, free JSON and a text
matching a pattern; and steps under an errand whose list sorts, filters and searches too. On
that copy: lint on every generated file, `check` green and `add` again a no-op, the generated
test modules and the access walk on SQLite and PostgreSQL, and schemathesis over the app,
0 failures."""

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

EXAMPLE = ROOT / "docs/examples/FEAT-004-errands.md"
RESOURCES = ("errands", "steps")
OPERATIONS = 11
"""The doc's endpoints: six for errands, five for steps."""


@pytest.fixture(scope="module")
def errands(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the example doc copied in, unchanged, and added once."""
    project = copy_project(tmp_path_factory.mktemp("example") / "project")
    doc = project / "docs/features" / EXAMPLE.name
    shutil.copyfile(EXAMPLE, doc)
    added = featwright(project, "add", str(doc.relative_to(project)))
    assert added.returncode == 0, added.stdout + added.stderr
    return project


def test_add_writes_every_file_lint_clean(errands: Path) -> None:
    for resource in RESOURCES:
        assert (errands / f"src/api/v1/routes/{resource}.py").is_file()
        assert (errands / f"tests/features/test_{resource}.py").is_file()
    generated = (errands / "tests/features/test_errands.py").read_text(encoding="utf-8")
    assert "QueryContract" in generated
    assert "NestedQueryContract" in (errands / "tests/features/test_steps.py").read_text("utf-8")
    assert_lint_clean(errands)


def test_check_is_green_and_add_again_changes_nothing(errands: Path) -> None:
    checked = featwright(errands, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = len(list((errands / "docs/features").glob("FEAT-*.md")))
    assert f"{docs} design docs match the app" in checked.stdout
    before = snapshot(errands)
    again = featwright(errands, "add", f"docs/features/{EXAMPLE.name}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to change" in again.stdout
    assert snapshot(errands) == before


def test_the_generated_tests_and_the_access_walk_pass_on_both_backends(errands: Path) -> None:
    modules = [errands / f"tests/features/test_{resource}.py" for resource in RESOURCES]
    tested = run_generated_tests(errands, *modules, errands / "tests/reliability/test_access.py")
    assert " passed" in tested.stdout, tested.stdout[-500:]
    assert "skipped" not in tested.stdout, tested.stdout[-500:]


def test_schemathesis_finds_nothing(errands: Path, database_url: str, tmp_path: Path) -> None:
    """No sort, cursor, operator value, search term, list, object or JSON value makes any
    route of the example answer 500 or break its schema."""
    tested, _ = asyncio.run(fuzz(database_url, tmp_path, seconds=1200, PYTHONPATH=str(errands)))

    assert tested == _operations_of_the_app() + OPERATIONS

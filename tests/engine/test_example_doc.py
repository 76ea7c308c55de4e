"""The acceptance of issues 19, 20, 21 and 22: each full example doc of `docs/examples/`, added
with no edits to a copy of the project.

- `FEAT-003-board.md` holds every relation construct: sections only under their project (a
  name unique per project, PATCH), labels whose GETs are public (routes keyed by a name unique
  across all rows), tickets (a `ref` to a section made only under its project, sub-tickets,
  `refs(Label)(..20)` with its list filter, `expand (section, parent, labels)`, PUT and PATCH)
  and comments under a ticket (`ticket_id` fixed, PATCH only).
- `FEAT-004-errands.md` holds every query and value construct: errands whose list sorts by six
  keys (newest first by default), filters with every kind of operator and searches two text
  fields; lists of text and numbers, an object, free JSON and a text matching a pattern; and
  steps under an errand whose list sorts, filters and searches too.
- `FEAT-005-tracker.md` holds the behaviour constructs: cards closed, reopened, moved (a body
  of fields) and pinned by actions, a field only actions set (`closed_at`), and a count of
  their comments (`comment_count`), boards anyone may read and follow (`+= current user`, its
  `DELETE` undo, a count of followers and the caller's `following`), and cards their owner
  watches; boards keyed by a slug of their name, comments numbered 1, 2, 3 on each card
  (`next(card_id)`, read at `/cards/{card_id}/comments/{number}`); tried as written, and
  with the fields its actions set and test made Required yes.
- `team/` holds the team constructs: the project's own FEAT-001 made `Access: shared` (members
  with roles, their routes) and FEAT-002 `Access: through project_id` with an assignee who
  must be a member, an author set to the creator and members who watch it (a join), both
  added as changed docs, then comments
  `through task_id` under a task; tried as written, and with the assignee Required yes.

On each copy: lint on every generated file, `check` green and `add` again a no-op, the generated
test modules and the access walk on SQLite and PostgreSQL, and schemathesis over the app,
0 failures."""

import asyncio
import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Example:
    doc: str
    resources: tuple[str, ...]
    operations: int
    """The doc's endpoints."""
    contracts: tuple[str, ...] = ()
    """Contract mixins its generated tests must use."""
    required: tuple[str, ...] = ()
    """Fields made Required yes (no default) in a variant of the doc: each construct is tried
    with its fields optional (the doc as written), then required."""
    before: tuple[str, ...] = ()
    """Changed versions of the project's own docs, put in their place and added first."""

    def text(self, doc: str | None = None) -> str:
        """The doc (or one of `before`) with the `required` fields it has made Required yes."""
        text = (ROOT / "docs/examples" / (doc or self.doc)).read_text(encoding="utf-8")
        for name in self.required:
            row = re.compile(rf"^\| {name} \| (?P<type>[^|]+) \| no \| [^|]* \|", re.MULTILINE)
            text = row.sub(rf"| {name} | \g<type> | yes | - |", text)
        return text


EXAMPLES = {
    "board": Example(
        "FEAT-003-board.md",
        ("sections", "labels", "tickets", "comments"),
        21,  # five endpoints for sections, labels and comments each, six for tickets
        ("CountContract",),  # a refs field's count, a self-count, a count of comments
    ),
    "errands": Example(
        "FEAT-004-errands.md",
        ("errands", "steps"),
        11,  # six for errands, five for steps
        ("QueryContract", "NestedQueryContract"),
    ),
    "tracker": Example(
        "FEAT-005-tracker.md",
        ("boards", "cards", "comments"),
        19,  # two for boards and its follow and unfollow, five for cards, six actions,
        # four for comments
        ("ActionContract", "CountContract", "DerivedContract", "JoinContract", "MadeKeyContract"),
    ),
    "tracker-required": Example(
        "FEAT-005-tracker.md",
        ("boards", "cards", "comments"),
        19,
        ("ActionContract", "CountContract", "DerivedContract", "JoinContract", "MadeKeyContract"),
        required=("state", "priority", "pinned"),
    ),
    "team": Example(
        "team/FEAT-006-comments.md",
        ("projects", "tasks", "comments"),
        10,  # four member routes of a project, watch and unwatch a task, four for comments
        ("TeamContract", "JoinContract"),
        before=("team/FEAT-001-projects.md", "team/FEAT-002-tasks.md"),
    ),
    "team-required": Example(
        "team/FEAT-006-comments.md",
        ("projects", "tasks", "comments"),
        10,
        ("TeamContract", "JoinContract"),
        required=("assignee_id",),
        before=("team/FEAT-001-projects.md", "team/FEAT-002-tasks.md"),
    ),
}


@dataclass(frozen=True)
class Added:
    example: Example
    project: Path


@pytest.fixture(scope="module", params=list(EXAMPLES))
def added(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Added:
    """A copy of the project with the example doc copied in, unchanged, and added once."""
    example = EXAMPLES[request.param]
    project = copy_project(tmp_path_factory.mktemp("example") / "project")
    for name in (*example.before, example.doc):
        doc = project / "docs/features" / Path(name).name
        doc.write_text(example.text(name), encoding="utf-8")
        result = featwright(project, "add", str(doc.relative_to(project)))
        assert result.returncode == 0, result.stdout + result.stderr
    return Added(example, project)


def test_add_writes_every_file_of_every_model_lint_clean(added: Added) -> None:
    project, example = added.project, added.example
    for resource in example.resources:
        assert (project / f"src/api/v1/routes/{resource}.py").is_file()
        assert (project / f"tests/features/test_{resource}.py").is_file()
    stem = Path(example.doc).stem.split("-", 2)[2]  # FEAT-003-board.md: board
    assert len(list((project / "migrations/versions").glob(f"*_create_{stem}.py"))) == 1
    generated = "".join(
        (project / f"tests/features/test_{resource}.py").read_text(encoding="utf-8")
        for resource in example.resources
    )
    for contract in example.contracts:
        assert contract in generated
    assert_lint_clean(project)


def test_check_is_green_and_add_again_changes_nothing(added: Added) -> None:
    project, example = added.project, added.example
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    docs = len(list((project / "docs/features").glob("FEAT-*.md")))  # the project's own and ours
    assert f"{docs} design docs match the app" in checked.stdout
    before = snapshot(project)
    again = featwright(project, "add", f"docs/features/{Path(example.doc).name}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to change" in again.stdout
    assert snapshot(project) == before


def test_the_generated_tests_and_the_access_walk_pass_on_both_backends(added: Added) -> None:
    """The generated modules, and the walk of every route as a stranger (test_access: another
    owner's row by id, by key, under a parent) over the app with the example's routes."""
    project = added.project
    modules = [project / f"tests/features/test_{r}.py" for r in added.example.resources]
    tested = run_generated_tests(project, *modules, project / "tests/reliability/test_access.py")
    assert " passed" in tested.stdout, tested.stdout[-500:]
    assert "skipped" not in tested.stdout, tested.stdout[-500:]


def test_schemathesis_finds_nothing(added: Added, database_url: str, tmp_path: Path) -> None:
    """No input makes any route of the example answer 500 or break its schema."""
    tested, _ = asyncio.run(
        fuzz(database_url, tmp_path, seconds=1200, PYTHONPATH=str(added.project))
    )

    assert tested == _operations_of_the_app() + added.example.operations

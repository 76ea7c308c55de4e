"""The next steps `add` prints."""

from pathlib import Path

from tests.engine.conftest import edited, featwright

LABELS_ROWS = (
    "| color | enum(red, green) | no | red | Colour |\n"
    "| project_id | ref(Project) | yes | - | The project |\n"
)
NAME_ROW = "| name | str(1..200) | yes | - | Display name |\n"


def feature_doc(project: Path, resource: str, rows: str) -> Path:
    """`featwright doc new RESOURCE` (whatever number it takes), with `rows` after `name`."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    [doc] = (project / "docs/features").glob(f"FEAT-*-{resource}.md")
    doc.write_text(edited(doc.read_text(encoding="utf-8"), (NAME_ROW, NAME_ROW + rows)))
    return doc.relative_to(project)


def test_add_ends_with_the_next_steps(project: Path) -> None:
    doc = feature_doc(project, "labels", LABELS_ROWS)

    added = featwright(project, "add", str(doc))

    assert added.returncode == 0, added.stderr
    [migration] = (project / "migrations/versions").glob("*_create_labels.py")
    assert added.stdout.endswith(
        "Next:\n"
        f"  featwright db upgrade    (applies {migration.relative_to(project)})\n"
        "  restart featwright serve (one started with --reload restarts by itself)\n"
        "  make test PYTEST_ARGS='tests/features/test_labels.py'\n"
    )

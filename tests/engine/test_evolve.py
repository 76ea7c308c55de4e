"""`featwright add` on a changed doc: one migration holding the change, rows kept through it,
hand edits kept by a 3-way merge, conflicts marked and recoverable."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import (
    built_record_of,
    drive,
    edited,
    featwright,
    revision,
    run_generated_tests,
    snapshot,
    stages_script,
    write_feature_doc,
)

BUILT_ROWS = (
    "| name | str(1..50) | yes | - | Display name |\n"
    "| weight | int(0..100) | no | 0 | Sort weight |\n"
    "| code | str(..10) | no | - | A short code |\n"
    "| note | str | no | - | A note |\n"
    "| rank | int | no | - | A rank |\n"
    "| project_id | ref(Project) | no | - | The project |\n"
)
"""FEAT-003 labels as first built."""

CHANGED_ROWS = (
    "| title | str(1..40) | yes | - | Display name (renamed from name) |\n"
    "| weight | int(0..10) | no | 0 | Sort weight |\n"
    "| code | str(..10) | yes | - | A short code |\n"
    "| color | enum(red, green, blue) | no | green | Colour |\n"
    "| starred | bool | no | false | Starred |\n"
    "| rank | int | no | 5 | A rank |\n"
    "| board_id | ref(Project) | no | - | The project (renamed from project_id) |\n"
)
"""Every kind of change at once: `name` renamed and shortened, `weight`'s range narrowed,
`code` made required, `rank` given a Default (so not null), `color` and `starred` added with
defaults, the `ref` renamed, `note` removed."""

# Runs in the project copy: API calls through the app, or a SQL query, or a migration step;
# prints JSON. The user is the same in every run.
DRIVE_ROWS = stages_script(
    """
    project = (await c.post("/api/v1/projects", json={"name": "p"}, headers=h))
    for body in json.loads(os.environ["BODIES"]):
        body = {**body, "project_id": project.json()["id"]}
        response = await c.post("/api/v1/labels", json=body, headers=h)
        assert response.status_code == 201, response.text
    """,
    "/api/v1/labels",
)


def run(project: Path, database_url: str, stage: str, bodies: object = ()) -> list[Any]:
    """DRIVE_ROWS at `stage`: its JSON answer."""
    driven = drive(project, DRIVE_ROWS, database_url, STAGE=stage, BODIES=json.dumps(bodies))
    output = driven.stdout.strip()
    return json.loads(output.splitlines()[-1]) if output else []


def upgrade(project: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return featwright(project, "db", "upgrade", env={"DATABASE_URL": database_url})


def change_doc(doc: Path, rows: str, built: str = BUILT_ROWS) -> None:
    text = doc.read_text(encoding="utf-8")
    doc.write_text(edited(text, (built, rows)), encoding="utf-8")


def built_labels(project: Path, rows: str = BUILT_ROWS) -> Path:
    doc = write_feature_doc(project, "labels", rows)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr
    return doc


def test_a_changed_doc_migrates_the_rows_and_keeps_them(project: Path, database_url: str) -> None:
    """Each row of the table at once: field added, constraint changed, renamed, removed."""
    doc = built_labels(project)
    change = f"migrations/versions/{revision(project)}_change_labels.py"
    assert upgrade(project, database_url).returncode == 0
    bodies = [
        {"name": "urgent", "weight": 7, "code": "U1", "note": "first", "rank": 2},
        {"name": "later", "code": "L2"},
    ]
    before = run(project, database_url, "create", bodies)
    change_doc(doc, CHANGED_ROWS)

    unsafe = snapshot(project)
    refused = featwright(project, "add", str(doc))
    assert refused.returncode == 1
    assert "labels.note: its column would be dropped with its data" in refused.stderr
    assert snapshot(project) == unsafe

    dry = featwright(project, "add", str(doc), "--dry-run", "--allow-data-loss")
    assert dry.returncode == 0, dry.stderr
    assert f"--- new migration {change}" in dry.stdout
    assert "+    title: Mapped[str] = mapped_column(String(40))" in dry.stdout
    assert snapshot(project) == unsafe

    changed = featwright(project, "add", str(doc), "--allow-data-loss")
    assert changed.returncode == 0, changed.stderr
    migration = (project / change).read_text()
    upgrade_part = migration.split("def downgrade")[0]
    operations = re.findall(r"batch_op\.(\w+)\(\s*(.*?)[,)]", upgrade_part, re.DOTALL)
    assert operations == [
        ("alter_column", '"name"'),  # renamed
        ("drop_constraint", 'op.f("ck_labels_weight_range"'),
        ("drop_index", 'op.f("ix_labels_project_id_created_at_id"'),
        ("drop_constraint", 'op.f("fk_labels_project_id_projects"'),
        ("alter_column", '"project_id"'),  # renamed
        ("add_column", 'sa.Column("color"'),
        ("add_column", 'sa.Column("starred"'),
        # the added columns filled by UPDATEs, then:
        ("alter_column", '"title"'),  # String(50) -> String(40)
        ("create_check_constraint", 'op.f("ck_labels_weight_range"'),
        ("alter_column", '"code"'),  # NOT NULL
        ("alter_column", '"rank"'),  # NOT NULL, its nulls given the Default first
        ("create_foreign_key", 'op.f("fk_labels_board_id_projects"'),
        ("create_index", 'op.f("ix_labels_board_id_created_at_id"'),
        ("alter_column", '"color"'),
        ("create_check_constraint", 'op.f("ck_labels_color"'),
        ("alter_column", '"starred"'),
        ("drop_column", '"note"'),
    ], migration
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    assert upgrade(project, database_url).returncode == 0
    after = run(project, database_url, "read")
    kept = ("id", "created_at", "updated_at", "version", "weight", "code")
    assert [{k: row[k] for k in kept} for row in after] == [
        {k: row[k] for k in kept} for row in before
    ]
    assert [row["title"] for row in after] == ["urgent", "later"]
    assert [row["board_id"] for row in after] == [row["project_id"] for row in before]
    assert {(row["color"], row["starred"]) for row in after} == {("green", False)}
    assert [row["rank"] for row in after] == [2, 5]  # a null got the Default now required
    assert all("note" not in row and "name" not in row for row in after)

    again = snapshot(project)
    assert featwright(project, "add", str(doc)).stdout.strip().endswith("nothing to change")
    assert snapshot(project) == again

    run(project, database_url, "-1")  # reverted: the old columns, the rows' values back
    reverted = run(
        project, database_url, "SELECT name, weight, code, note FROM labels ORDER BY name"
    )
    assert reverted == [["later", "0", "L2", "None"], ["urgent", "7", "U1", "None"]]
    run(project, database_url, "head")
    assert [row["title"] for row in run(project, database_url, "read")] == ["urgent", "later"]


RULES_BUILT = (
    "| name | str(1..50) | yes | - | Display name |\n"
    "| weight | int(0..100) | no | 0 | Sort weight |\n"
    "| code | str(..10) | no | - | A short code |\n"
    "| kind | enum(a, b, c) | no | a | A kind |\n"
    "| project_id | ref(Project) | no | - | The project |\n"
)
RULES_TIGHTENED = [
    (
        "str(1..50)",
        "str(1..5)",
        "breaks the new rule (name str(1..5) not null)",
        "UPDATE labels SET name = 'short'",
    ),
    (
        "int(0..100)",
        "int(0..10)",
        "breaks the new rule (weight int(0..10) not null)",
        "UPDATE labels SET weight = 1",
    ),
    (
        "| code | str(..10) | no |",
        "| code | str(..10) | yes |",
        "has no value (code str(..10) not null)",
        "UPDATE labels SET code = 'c1'",
    ),
    (
        "enum(a, b, c)",
        "enum(a, b)",
        "breaks the new rule (kind enum(a, b) not null)",
        "UPDATE labels SET kind = 'a'",
    ),
]
"""(built, changed, the refusal's words, the fix) for each kind of rule a change tightens."""


def test_rows_that_break_a_tightened_rule_stop_the_migration_before_it_writes(
    project: Path, database_url: str
) -> None:
    """Length, range, nullability and enum values: each stops the upgrade in turn, in one line
    naming the rule, how many rows break it and their ids, with nothing written, until the rows
    are fixed."""
    doc = built_labels(project, RULES_BUILT)
    built = revision(project, later=0)
    assert upgrade(project, database_url).returncode == 0
    bodies = [{"name": "too long", "weight": 50, "kind": "c"}, {"name": "ok", "code": "x"}]
    offending = run(project, database_url, "create", bodies)[0]["id"]
    change_doc(
        doc,
        edited(RULES_BUILT, *((old, new) for old, new, _, _ in RULES_TIGHTENED)),
        built=RULES_BUILT,
    )
    assert featwright(project, "add", str(doc)).returncode == 0

    for _, _, rule, fix in RULES_TIGHTENED:
        refused = upgrade(project, database_url)
        assert refused.returncode == 1
        assert refused.stderr.strip().splitlines()[-1] == (
            f"error: labels: 1 row {rule}, id {offending}; fix or delete them, then run"
            " featwright db upgrade again; nothing was changed"
        )
        version = run(project, database_url, "SELECT version_num FROM alembic_version")
        assert version == [[built]]
        run(project, database_url, fix)

    assert upgrade(project, database_url).returncode == 0
    rows = run(project, database_url, "read")
    assert [(r["name"], r["weight"], r["code"], r["kind"]) for r in rows] == [
        ("short", 1, "c1", "a"),
        ("short", 1, "c1", "a"),
    ]


def test_a_hand_edit_survives_a_doc_change(project: Path) -> None:
    doc = built_labels(project)
    service = project / "src/services/label_service.py"
    edit = (
        '\n    def describe(self) -> str:\n        """Hand-written."""\n        return "labels"\n'
    )
    service.write_text(service.read_text() + edit)
    schemas = project / "src/schemas/label.py"
    schemas_text = schemas.read_text()
    schemas.write_text(schemas_text.replace('"""', '"""Edited by hand. ', 1))
    change_doc(doc, BUILT_ROWS + "| shade | enum(light, dark) | no | light | Shade |\n")

    changed = featwright(project, "add", str(doc))

    assert changed.returncode == 0, changed.stderr
    assert service.read_text().endswith(edit)
    merged = schemas.read_text()
    assert merged.startswith('"""Edited by hand. ')
    assert "shade: " in merged
    backups = list((project / ".featwright/backup").glob("*/src/schemas/label.py"))
    assert [path.read_text() for path in backups] == [
        schemas_text.replace('"""', '"""Edited by hand. ', 1)
    ]
    assert featwright(project, "check").returncode == 0
    tested = run_generated_tests(project, project / "tests/features/test_labels.py")
    assert "skipped" not in tested.stdout, tested.stdout[-500:]


def test_a_conflicting_edit_is_marked_listed_and_recoverable(project: Path) -> None:
    doc = built_labels(project)
    change = f"migrations/versions/{revision(project)}_change_labels.py"
    model = project / "src/models/label.py"
    line = "    name: Mapped[str] = mapped_column(String(50))\n"
    mine = model.read_text().replace(line, line.replace("\n", "  # shown in the menu\n"))
    model.write_text(mine)
    change_doc(doc, BUILT_ROWS.replace("str(1..50)", "str(1..80)"))

    conflicted = featwright(project, "add", str(doc))

    assert conflicted.returncode == 1
    assert "src/models/label.py: conflict" in conflicted.stderr
    text = model.read_text()
    assert "<<<<<<< src/models/label.py (yours)\n" in text
    assert "String(50))  # shown in the menu\n=======\n" in text
    assert "String(80))\n>>>>>>> src/models/label.py (the changed doc)\n" in text
    (backup,) = (project / ".featwright/backup").glob("*/src/models/label.py")
    assert backup.read_text() == mine
    assert (project / "src/schemas/label.py").read_text().count("max_length=80") == 1
    assert (project / change).exists()
    record = json.loads(built_record_of(project, doc).read_text())
    assert record["unverified"] is True  # checked once the conflict is resolved

    unresolved = snapshot(project)
    refused = featwright(project, "add", str(doc))
    assert refused.returncode == 1
    assert "src/models/label.py: unresolved conflict markers" in refused.stderr
    assert snapshot(project) == unresolved

    model.write_text(mine.replace("String(50))", "String(80))"))  # resolved by hand
    again = featwright(project, "add", str(doc))
    assert again.returncode == 0, again.stderr
    record = json.loads(built_record_of(project, doc).read_text())
    assert "unverified" not in record  # the migration was checked against the resolved model
    resolved = snapshot(project)
    assert featwright(project, "add", str(doc)).returncode == 0
    assert snapshot(project) == resolved
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_removed_endpoint_leaves_the_code_and_no_migration(project: Path) -> None:
    doc = built_labels(project)
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace(text[text.index("### DELETE") : text.index("## File Plan")], ""))
    migrations = sorted((project / "migrations/versions").iterdir())

    changed = featwright(project, "add", str(doc))

    assert changed.returncode == 0, changed.stderr
    assert "@router.delete" not in (project / "src/api/v1/routes/labels.py").read_text()
    assert sorted((project / "migrations/versions").iterdir()) == migrations
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            BUILT_ROWS.replace("| weight | int(0..100)", "| weight | str"),
            "Label.weight changes type from int(0..100) to str; a field keeps its kind",
        ),
        (
            BUILT_ROWS.replace("A note |", "A note (renamed from code) |"),
            "Label.note is 'renamed from code', a name this model still has",
        ),
        (
            BUILT_ROWS.replace("| code | str(..10) | no | - | A short code |\n", "").replace(
                "A note |", "A note (renamed from code) |"
            ),
            "Label.note is 'renamed from code', but the built doc has both fields",
        ),
    ],
    ids=["kind", "rename-to-a-taken-name", "rename-onto-a-built-field"],
)
def test_a_change_that_cannot_be_migrated_is_refused_and_nothing_written(
    project: Path, rows: str, message: str
) -> None:
    doc = built_labels(project)
    change_doc(doc, rows)
    before = snapshot(project)

    refused = featwright(project, "add", str(doc))

    assert refused.returncode == 2
    assert message in refused.stderr
    assert snapshot(project) == before


def test_an_enum_renamed_and_one_removed_keep_the_models_importable(project: Path) -> None:
    rows = (
        BUILT_ROWS
        + "| kind | enum(a, b) | no | a | Kind |\n| tone | enum(x, y) | no | x | Tone |\n"
    )
    doc = built_labels(project, rows)
    changed = rows.replace(
        "| kind | enum(a, b) | no | a | Kind |",
        "| sort | enum(a, b) | no | a | Kind (renamed from kind) |",
    ).replace("| tone | enum(x, y) | no | x | Tone |\n", "")
    change_doc(doc, changed, built=rows)

    updated = featwright(project, "add", str(doc), "--allow-data-loss")

    assert updated.returncode == 0, updated.stderr  # the migration was checked: models import
    registry = (project / "src/models/__init__.py").read_text()
    assert "LabelSort" in registry
    assert "LabelKind" not in registry
    assert "LabelTone" not in registry
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

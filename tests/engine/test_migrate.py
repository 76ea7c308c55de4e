"""The migrations `featwright add` and `remove` write: rendered from the doc, lint-clean as
written, tables in the order their references allow, and proved in process against the
models as the files on disk define them."""

import importlib.util
import os
import py_compile
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from src.engine.doc import FeatureDoc, parse_doc_text
from src.engine.evolve import schema_changes
from src.engine.generate import model_names, read_current, restore, write_all
from src.engine.migrate import render_change_migration, render_migration, tables_of
from src.engine.newdoc import new_doc
from src.models import Base
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    drive,
    edited,
    featwright,
    new_doc_of,
    revision,
    ruff_findings,
    snapshot,
)
from tests.engine.test_generated_projects import CATEGORY_ROWS, every_form_rows

NAME_ROW = "| name | str(1..200) | yes | - | Display name |\n"
AUTO_ROWS = (
    "| id | UUID | auto | uuid4() | Primary key |\n"
    "| owner_id | ref(User) | auto | current user | Owner |\n"
)
STAMP_ROWS = (
    "| created_at | datetime | auto | utcnow() | Creation timestamp |\n"
    "| updated_at | datetime | auto | utcnow() | Last update timestamp |\n"
)
HEADER = "| Field | Type | Required | Default | Description |\n|---|---|---|---|---|\n"


def model_section(name: str, rows: str) -> str:
    return f"### {name}\n{HEADER}{AUTO_ROWS}{rows}{STAMP_ROWS}\n"


# Pins need boards, boards and labels refer to each other (a cycle, so one reference is
# added after both tables exist), a pin may have a parent pin: the doc lists them in an
# order no migration could create them in.
LINKED_MODELS = {
    "Pin": (
        "| board_id | ref(Board) | yes | - | The board |\n"
        "| parent_id | ref(Pin) | no | - | The pin it hangs from |\n"
    ),
    "Board": (
        "| title | str(1..80) | yes | - | A title |\n"
        "| label_id | ref(Label) | no | - | Its label |\n"
    ),
}
LABEL_BOARD_ROW = "| board_id | ref(Board) | no | - | Its board |\n"


LAYERS = (
    "src/models/{}.py",
    "src/schemas/{}.py",
    "src/repositories/{}_repo.py",
    "src/services/{}_service.py",
)
"""The files of a model without endpoints."""


def linked_doc_text(text: str) -> str:
    """A `doc new labels` doc with LINKED_MODELS after Label, in its File Plan too."""
    sections = "".join(model_section(name, rows) for name, rows in LINKED_MODELS.items())
    paths = [layer.format(name.lower()) for name in LINKED_MODELS for layer in LAYERS]
    plan = "".join(f"| {n} | {path} | CREATE | - |\n" for n, path in enumerate(paths, start=7))
    router = "| 6 | src/api/v1/router.py | MODIFY | Register route |\n"
    return edited(
        text,
        (NAME_ROW, NAME_ROW + LABEL_BOARD_ROW),
        ("\n## API Endpoints\n", f"\n{sections}## API Endpoints\n"),
        (router, router + plan),
    )


def parsed(tmp_path: Path, resource: str, rows: str = NAME_ROW, linked: bool = False) -> FeatureDoc:
    doc = new_doc(resource, tmp_path)
    text = edited(doc.read_text(encoding="utf-8"), (NAME_ROW, rows))
    return parse_doc_text(linked_doc_text(text) if linked else text, doc, APP_MODELS)


def test_a_doc_s_tables_come_in_an_order_their_references_allow(tmp_path: Path) -> None:
    tables = tables_of(parsed(tmp_path, "labels", linked=True))

    assert [table.name for table in tables] == ["boards", "labels", "pins"]
    assert [[column.name for column in table.deferred] for table in tables] == [
        ["label_id"],  # labels does not exist yet when boards is created
        [],
        [],  # its own table: in the CREATE TABLE
    ]


def test_the_models_a_doc_may_refer_to_are_read_without_importing_them() -> None:
    """`add` reads the model names off the source (an unchanged doc needs no SQLAlchemy):
    the same names as the mapped classes."""
    assert model_names(ROOT) == {mapper.class_.__name__ for mapper in Base.registry.mappers}


# ----------------------------------------------------------------- lint, as written


def _ruff(text: str, *args: str) -> str:
    """ruff's findings on `text` as a new migration of the project: empty when none."""
    return ruff_findings(text, "migrations/versions/0099_written.py", *args)


CHANGES = {
    "every change": (
        "| name | str(1..50) | yes | - | Display name |\n"
        "| weight | int(0..100) | no | 0 | Sort weight |\n"
        "| note | str | no | - | A note |\n"
        "| rank | int | no | - | A rank |\n"
        "| project_id | ref(Project) | no | - | The project |\n",
        "| title | str(1..40) | yes | - | Display name (renamed from name) |\n"
        "| weight | int(0..10) | no | 0 | Sort weight |\n"
        "| color | enum(red, green, blue) | no | green | Colour |\n"
        "| starred | bool | no | false | Starred |\n"
        "| since | date | no | 2026-01-01 | A day |\n"
        "| rate | Decimal(4, 2) | no | 0.20 | A rate |\n"
        "| other | UUID | no | 00000000-0000-4000-8000-000000000000 | An id |\n"
        "| seen_at | datetime | no | utcnow() | When |\n"
        '| said | str(..30) | no | it\'s "quoted" | Words |\n'
        "| rank | int | no | 5 | A rank |\n"
        "| board_id | ref(Project) | yes | - | The project (renamed from project_id) |\n",
    ),
    "rename only": (NAME_ROW, "| title | str(1..200) | yes | - | A name (renamed from name) |\n"),
    "drop only": (NAME_ROW + "| note | str | no | - | A note |\n", NAME_ROW),
    "long enum": (
        NAME_ROW,
        NAME_ROW + "| kind | enum(alpha, beta, gamma, delta, epsilon, zeta, eta_theta_iota) | yes"
        " | - | A kind |\n",
    ),
}


def written_migrations(tmp_path: Path) -> dict[str, str]:
    """Every kind of migration `add` and `remove` write, for docs that stretch them."""
    docs = {
        "labels": parsed(tmp_path / "labels", "labels"),
        "required forms": parsed(tmp_path / "samples", "samples", every_form_rows("yes")),
        "optional forms": parsed(tmp_path / "readings", "readings", every_form_rows("no")),
        "a tree": parsed(
            tmp_path / "categories",
            "categories",
            CATEGORY_ROWS.replace("ref(Notice)", "ref(Project)"),
        ),
        "linked models": parsed(tmp_path / "linked", "labels", linked=True),
        "long names": parsed(
            tmp_path / "long",
            "very_long_time_entry_recordings",
            "| a_rather_long_field_name_for_an_instant | datetime | no | - | When |\n"
            "| another_rather_long_reference_field_id | ref(VeryLongTimeEntryRecording) | no"
            " | - | Its parent |\n",
        ),
    }
    written = {}
    for name, doc in docs.items():
        for template in ("migration_create.py.jinja", "migration_drop.py.jinja"):
            written[f"{template}: {name}"] = render_migration(
                ROOT,
                template,
                revision="0099",
                down_revision="0098",
                message="create or remove",
                doc_path=f"docs/features/{doc.path.name}",
                tables=tables_of(doc),
            )
    for name, (before, after) in CHANGES.items():
        old = parsed(tmp_path / f"{name} before", "labels", before)
        new = parsed(tmp_path / f"{name} after", "labels", after)
        written[f"migration_change.py.jinja: {name}"] = render_change_migration(
            schema_changes(old, new),
            ROOT,
            revision="0099",
            down_revision=None,
            message="change labels",
            doc_path="docs/features/FEAT-003-labels.md",
        )
    return written


def test_every_migration_add_and_remove_write_is_lint_clean_as_written(tmp_path: Path) -> None:
    """No formatter runs at run time: `ruff format` and `ruff check` (import sorting
    included) would change nothing in what the templates write."""
    written = written_migrations(tmp_path)

    found = {
        name: _ruff(text, "format", "--check", "--diff") + _ruff(text, "check")
        for name, text in written.items()
    }

    assert found == dict.fromkeys(written, "")


# ----------------------------------------------------------- the proof, in process


def test_linked_models_migrate_both_ways_and_are_removed(project: Path, database_url: str) -> None:
    """The doc's tables created in an order their references allow, the cycle closed after
    both exist: applied, reverted and applied again on either backend, then dropped by
    `remove`, whose downgrade creates them again."""
    env = {"DATABASE_URL": database_url}
    made = featwright(project, "doc", "new", "labels")
    assert made.returncode == 0, made.stderr
    doc = new_doc_of(project, "labels")
    # Without Label.board_id: labels have routes, and a ref of theirs to boards, which have
    # none, is refused by add (no board could be made for their tests to refer to). The
    # cycle's order is test_a_doc_s_tables_come_in_an_order_their_references_allow's.
    linked = linked_doc_text(doc.read_text(encoding="utf-8")).replace(LABEL_BOARD_ROW, "")
    doc.write_text(linked, encoding="utf-8")
    created = project / f"migrations/versions/{revision(project)}_create_labels.py"

    added = featwright(project, "add", str(doc.relative_to(project)), env=env)

    assert added.returncode == 0, added.stderr
    upgrade = created.read_text(encoding="utf-8").partition("def downgrade")[0]
    assert re.findall(r'op\.create_table\(\s*"(\w+)"', upgrade) == ["labels", "boards", "pins"]
    for step in ("head", "-1", "head"):
        drive(project, MIGRATE, database_url, TARGET=step)
    removed = featwright(
        project, "remove", str(doc.relative_to(project)), "--allow-data-loss", env=env
    )
    assert removed.returncode == 0, removed.stderr
    for step in ("head", "-1", "head"):
        drive(project, MIGRATE, database_url, TARGET=step)


MIGRATE = textwrap.dedent(
    """
    import os
    from alembic import command
    from src.core.migrations import alembic_config

    config = alembic_config(os.environ["DATABASE_URL"])
    config.attributes["configure_logger"] = False
    target = os.environ["TARGET"]
    (command.downgrade if target.startswith("-") else command.upgrade)(config, target)
    """
)


# The model file is rewritten with text of the same length and its old modification time,
# so the .pyc written by the first import looks current: a plain import would read it.
FRESH = textwrap.dedent(
    """
    import importlib, os, sys
    from pathlib import Path
    import src.models
    from src.engine.migrate import fresh_models

    path = Path("src/models/task.py")
    before = os.stat(path)
    path.write_text(path.read_text().replace('"tasks"', '"tasky"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    old = sys.modules["src.models"]
    with fresh_models() as metadata:
        print("fresh=", sorted(metadata.tables))
        print("one package=", sys.modules["src.models"] is sys.modules["src"].models)
    print("restored=", sys.modules["src.models"] is old is sys.modules["src"].models)
    for name in [name for name in sys.modules if name.startswith("src.models")]:
        del sys.modules[name]
    print("plain=", sorted(importlib.import_module("src.models").Base.metadata.tables))
    """
)


def test_fresh_models_are_read_from_the_files_as_they_are_now(project: Path) -> None:
    """A model file rewritten within the same second at the same size: `fresh_models` reads
    its text, where a plain import would take the stale .pyc; the modules imported before
    are back afterwards."""
    environ = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environ.update(PYTHONPATH=str(project), SECRET_KEY="k" * 40)

    ran = subprocess.run(
        [sys.executable, "-c", FRESH],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    lines = dict(line.split("= ", 1) for line in ran.stdout.splitlines())
    assert "'tasky'" in lines["fresh"]
    assert "'tasks'" not in lines["fresh"]
    assert lines["one package"] == "True"
    assert lines["restored"] == "True"
    assert "'tasks'" in lines["plain"], "the control: a plain import reads the stale .pyc"


def test_a_module_written_or_put_back_loses_its_bytecode(tmp_path: Path) -> None:
    """What `add` writes, and what it deletes when it puts files back, leaves no .pyc that
    Python could take for the new text (same size, same second)."""
    module = tmp_path / "migrations/versions/0099_written.py"
    cached = Path(importlib.util.cache_from_source(str(module)))
    before = read_current(["migrations/versions/0099_written.py"], tmp_path)
    write_all({"migrations/versions/0099_written.py": "X = 1\n"}, tmp_path)
    py_compile.compile(str(module))
    assert cached.exists()

    write_all({"migrations/versions/0099_written.py": "X = 2\n"}, tmp_path)
    assert not cached.exists()

    py_compile.compile(str(module))
    restore(before, tmp_path)
    assert not module.exists()
    assert not cached.exists()


def test_a_migration_that_does_not_match_the_models_is_refused(project: Path) -> None:
    """A project's own migration template that leaves a column out: `add` proves the
    migration in process, puts every file back and says what differs."""
    overrides = project / "featwright/templates"
    overrides.mkdir(parents=True)
    ops = (ROOT / "src/engine/templates/migration_ops.jinja").read_text(encoding="utf-8")
    version = '        sa.Column("version", sa.Integer(), server_default="1", nullable=False),\n'
    (overrides / "migration_ops.jinja").write_text(edited(ops, (version, "")), encoding="utf-8")
    made = featwright(project, "doc", "new", "labels")
    assert made.returncode == 0, made.stderr
    doc = new_doc_of(project, "labels")
    before = snapshot(project)

    refused = featwright(project, "add", str(doc.relative_to(project)))

    assert refused.returncode == 1
    assert "the migration failed its check; nothing written" in refused.stderr
    assert "('add_column', None, 'labels', Column('version'" in refused.stderr
    assert snapshot(project) == before

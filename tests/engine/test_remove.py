"""`featwright remove`: undoing `add` to the last byte, refusing what would break or lose
data, all or nothing; and the next steps `add` prints."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from src.engine.doc import FieldType, Model, ModelField
from src.engine.generate import Names, _register_model, _register_routes, _unregister_routes
from src.engine.remove import (
    DatabaseUnreadable,
    Removal,
    _migrations,
    apply_removal,
    unregister_model,
)
from tests.engine.conftest import ROOT, drive, edited, featwright, snapshot

LABELS_ROWS = (
    "| color | enum(red, green) | no | red | Colour |\n"
    "| project_id | ref(Project) | yes | - | The project |\n"
)
STICKERS_ROWS = "| label_id | ref(Label) | yes | - | The label it sticks to |\n"
NAME_ROW = "| name | str(1..200) | yes | - | Display name |\n"


def feature_doc(project: Path, resource: str, rows: str) -> Path:
    """`featwright doc new RESOURCE` (whatever number it takes), with `rows` after `name`."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    [doc] = (project / "docs/features").glob(f"FEAT-*-{resource}.md")
    doc.write_text(edited(doc.read_text(encoding="utf-8"), (NAME_ROW, NAME_ROW + rows)))
    return doc.relative_to(project)


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def no_database(project: Path) -> dict[str, str]:
    """A DATABASE_URL naming a SQLite file that does not exist (nothing is applied), and a
    terminal wide enough for the tables."""
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{project / 'var/none.db'}", "COLUMNS": "200"}


# --------------------------------------------------------------------------- registries


LABEL = Model(
    "Label",
    (ModelField("color", FieldType("enum", choices=("red", "green")), "no", "red", "", 1),),
    1,
)


@pytest.mark.parametrize("path", ["src/models/__init__.py", "src/api/v1/router.py"])
def test_the_registries_lose_exactly_what_add_put_in_them(path: str) -> None:
    names = Names.of(LABEL)
    before = (ROOT / path).read_text(encoding="utf-8")
    if path == "src/models/__init__.py":
        added = _register_model(before, LABEL, names)
        removed = unregister_model(added, names)
    else:
        added = _register_routes(before, names)
        removed = _unregister_routes(added, names)

    assert added != before
    assert removed == before


# --------------------------------------------------------------------------- migrations


MIGRATION = textwrap.dedent(
    """
    revision = "{revision}"
    down_revision = {down!r}


    def upgrade() -> None:
        op.{verb}_table("{table}")


    def downgrade() -> None:
        pass
    """
)


def versions(root: Path, *names: str) -> None:
    """A migration chain of `names` (`0002_create_labels`, ...), each creating or dropping
    the table its name ends with."""
    folder = root / "migrations/versions"
    folder.mkdir(parents=True)
    down = None
    for name in names:
        revision, verb, table = name.split("_", 2)
        text = MIGRATION.format(revision=revision, down=down, verb=verb, table=table)
        (folder / f"{name}.py").write_text(text.replace("remove_table", "drop_table"))
        down = revision


def unreadable() -> set[str]:
    raise DatabaseUnreadable("cannot read the database x: refused")


@pytest.mark.parametrize(
    ("chain", "applied", "deleted", "why"),
    [
        (["0001_create_users", "0002_create_labels"], set, ["0002_create_labels"], None),
        (
            ["0001_create_users", "0002_create_labels", "0003_change_labels"],
            lambda: {"0001", "0002"},
            ["0003_change_labels"],
            "0002_create_labels.py is applied to the database",
        ),
        (
            ["0001_create_users", "0002_create_labels", "0003_create_tags"],
            set,
            [],
            "0002_create_labels.py is followed by other migrations, so it cannot be deleted",
        ),
        (
            ["0001_create_labels", "0002_remove_labels", "0003_create_labels"],
            lambda: {"0001", "0002"},
            ["0003_create_labels"],
            None,
        ),
        (
            ["0001_create_users", "0002_create_labels"],
            unreadable,
            [],
            "0002_create_labels.py may be applied (cannot read the database x: refused)",
        ),
    ],
    ids=["never-applied", "applied", "followed", "re-added", "unreadable"],
)
def test_a_migration_goes_only_while_unapplied_and_last(
    tmp_path: Path, chain: list[str], applied: object, deleted: list[str], why: str | None
) -> None:
    versions(tmp_path, *chain)

    found = _migrations(tmp_path, "labels", ["labels"], applied)  # type: ignore[arg-type]

    assert sorted(found.deleted) == [f"migrations/versions/{name}.py" for name in deleted]
    if why is None:
        assert "labels" not in found.dropped
    else:
        assert why in found.dropped["labels"]


# ------------------------------------------------------------------------ all or nothing


def test_a_failed_removal_puts_every_file_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last deletion fails, after the registry was rewritten, backups written and the
    other files deleted: every file is as it was, and no backup is left."""
    record = ".featwright/built/FEAT-009-labels.json"
    files = {"src/models/label.py": "mine\n", "src/schemas/label.py": "generated\n"}
    migrations = {"migrations/versions/0009_create_labels.py": "0009\n"}
    registry = {"src/models/__init__.py": "before\n"}
    for path, text in {**files, **migrations, **registry, record: "{}"}.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    removal = Removal(
        doc=None,  # type: ignore[arg-type]
        resource="labels",
        record=record,
        files=files,
        edited=["src/models/label.py"],
        registries={"src/models/__init__.py": "after\n"},
        migrations=migrations,
        tables=["labels"],
        drop=None,
    )
    unlink = Path.unlink

    def failing_unlink(path: Path, missing_ok: bool = False) -> None:
        if path == tmp_path / record:
            raise PermissionError(f"{path}: not allowed")
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", failing_unlink)
    before = snapshot(tmp_path)

    with pytest.raises(PermissionError):
        apply_removal(tmp_path, removal, ".featwright/backup/now")

    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------- the command


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


def test_remove_undoes_add_to_a_clean_git_status(project: Path) -> None:
    """Two features, one referring to the other, added to a committed tree and removed in
    turn: the referenced one is refused while its referrer stands, a hand edit is backed
    up, and the tree ends as committed, the database untouched."""
    env = no_database(project)
    labels = feature_doc(project, "labels", LABELS_ROWS)
    stickers = feature_doc(project, "stickers", STICKERS_ROWS)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "the docs")
    for doc in (labels, stickers):
        added = featwright(project, "add", str(doc), env=env)
        assert added.returncode == 0, added.stderr
    service = project / "src/services/sticker_service.py"
    service.write_text(service.read_text() + "# mine\n")
    before = snapshot(project)

    refused = featwright(project, "remove", str(labels), env=env)
    listed = featwright(project, "remove", str(stickers), "--dry-run", env=env)

    assert refused.returncode == 1
    assert f"{stickers}: Sticker.label_id is ref(Label), which {labels.name} defines" in (
        refused.stderr
    )
    assert refused.stderr.endswith("nothing removed\n")
    assert listed.returncode == 0, listed.stderr
    assert "src/services/sticker_service.py" in listed.stdout
    assert "would be deleted (edited by hand: backed up)" in listed.stdout
    assert snapshot(project) == before

    for doc in (stickers, labels):
        removed = featwright(project, "remove", str(doc), env=env)
        assert removed.returncode == 0, removed.stderr

    assert git(project, "status", "--porcelain") == ""
    [backup] = (project / ".featwright/backup").glob("*/src/services/sticker_service.py")
    assert backup.read_text().endswith("# mine\n")
    assert "featwright db upgrade" not in removed.stdout
    assert f"the doc stays: edit it and add again, or delete {labels}" in removed.stdout
    assert not (project / "var/none.db").exists()


def test_a_doc_never_built_has_nothing_to_remove(project: Path) -> None:
    doc = feature_doc(project, "labels", LABELS_ROWS)

    result = featwright(project, "remove", str(doc))

    assert result.returncode == 2
    assert f"{doc}: not built by featwright add (no .featwright/built/{doc.stem}.json)" in (
        result.stderr
    )


TABLES = textwrap.dedent(
    """
    import asyncio, json, os
    from alembic import command
    from sqlalchemy import inspect
    from src.core.config import get_settings
    from src.core.database import create_engine
    from src.core.migrations import alembic_config

    def read(connection):
        found = inspect(connection)
        return {
            table: {column["name"]: str(column["type"]) for column in found.get_columns(table)}
            for table in found.get_table_names()
        }

    async def tables():
        engine = create_engine(get_settings())
        async with engine.connect() as connection:
            found = await connection.run_sync(read)
        await engine.dispose()
        return found

    if os.environ["STEP"] == "downgrade":
        config = alembic_config()
        config.attributes["configure_logger"] = False
        command.downgrade(config, "-1")
    print(json.dumps(asyncio.run(tables())))
    """
)


def tables(project: Path, database_url: str, step: str = "") -> dict[str, dict[str, str]]:
    """Each table's columns and their types, after a downgrade if `step` says so."""
    driven = drive(project, TABLES, database_url, STEP=step)
    found: dict[str, dict[str, str]] = json.loads(driven.stdout.splitlines()[-1])
    return found


def test_an_applied_table_is_dropped_only_with_allow_data_loss(
    project: Path, database_url: str
) -> None:
    """Once `db upgrade` has created the table, removing the feature takes a migration that
    drops it, which only --allow-data-loss writes; its downgrade creates the table as `add`'s
    migration did (on PostgreSQL, `id` a UUID again)."""
    env = {"DATABASE_URL": database_url}
    doc = feature_doc(project, "labels", LABELS_ROWS)
    assert featwright(project, "add", str(doc), env=env).returncode == 0
    assert featwright(project, "db", "upgrade", env=env).returncode == 0
    [created] = (project / "migrations/versions").glob("*_create_labels.py")
    before = snapshot(project)

    refused = featwright(project, "remove", str(doc), env=env)

    assert refused.returncode == 1
    assert (
        f"{doc}: its rows would be lost: table labels: {created.relative_to(project)} is"
        " applied to the database (DATABASE_URL)\n"
        "nothing removed; pass --allow-data-loss to write a migration that drops labels,"
        " then run featwright db upgrade\n"
    ) in refused.stderr
    assert snapshot(project) == before

    removed = featwright(project, "remove", str(doc), "--allow-data-loss", env=env)

    assert removed.returncode == 0, removed.stderr
    [dropping] = (project / "migrations/versions").glob("*_remove_labels.py")
    assert f"featwright db upgrade    (applies {dropping.relative_to(project)})" in removed.stdout
    assert created.exists()
    ruff = Path(sys.executable).with_name("ruff")
    for check in (["check"], ["format", "--check"]):
        linted = subprocess.run(
            [ruff, *check, dropping], capture_output=True, text=True, check=False
        )
        assert linted.returncode == 0, linted.stdout
    assert "labels" in tables(project, database_url)
    assert featwright(project, "db", "upgrade", env=env).returncode == 0
    assert "labels" not in tables(project, database_url)
    restored = tables(project, database_url, "downgrade")["labels"]
    assert restored["id"] == ("UUID" if database_url.startswith("postgresql") else "CHAR(32)")

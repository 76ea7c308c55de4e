"""Unique fields: `unique` and `unique per <ref field>` in a Type cell.

Parsed into `ModelField.unique`, refused where a key makes no sense, generated as a unique
index (the model, a new doc's migration, a changed doc's), compared by `check` both ways,
and answered 409 naming the field on a duplicate, also when two creates race. A project
copy gets docs with unique fields of every kind of scope (one owner, one parent row, every
row of a model whose reads are public, a unique reference) and runs their generated tests,
the route-walking reliability tests and a race on SQLite and PostgreSQL.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, String, Table
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex

from src.engine.doc import ModelField, parse_doc, parse_doc_text, unique_index
from src.engine.evolve import schema_changes
from src.engine.generate import render_feature
from src.engine.migrate import render_change_migration, render_migration, tables_of
from src.models.base import NAMING_CONVENTION
from src.repositories.constraints import names_of
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    edited,
    featwright,
    problems_of,
    revision,
    ruff_findings,
    run_generated_tests,
    snapshot,
)

LABEL_ROWS = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| name | str(1..50) unique | yes | - | Unique among the owner's labels |\n"
    "| code | str(..10) unique per project_id | no | - | Unique within the project |\n"
    "| seq | int(1..999) unique per project_id | no | - | A number within the project |\n"
    "| kind | enum(low, mid, high) unique per project_id | no | - | One of each per project |\n"
    "| day | date unique | no | - | At most one label a day |\n"
    "| at | datetime unique | no | - | An instant |\n"
    "| ext | UUID unique | no | - | An id elsewhere |\n"
)
ARTICLE_ROWS = "| slug | str(1..80) unique | yes | - | Unique among every article |\n"
BOARD_ROWS = (
    "| project_id | ref(Project) unique | yes | - | One board per project |\n"
    "| title | str(1..40) | yes | - | Title |\n"
)
CONFLICT_ON_UPDATE = (
    "| Response 404 | NotFoundError |\n\n### DELETE",
    "| Response 404 | NotFoundError |\n"
    "| Response 409 | ConflictError (a unique field's value is taken) |\n\n### DELETE",
)


def unique_doc(directory: Path, resource: str, rows: str, public: bool = False) -> Path:
    """A doc (as `doc new` writes it) with `rows`, whose PUT lists the 409 of a taken value."""
    doc = doc_in(directory, resource, rows, public=public)
    sections = edited(doc.read_text(encoding="utf-8"), CONFLICT_ON_UPDATE).split("\n### ")
    if public:  # a public GET answers no 401
        sections = [
            part.replace("| Response 401 | UnauthorizedError |\n", "")
            if part.startswith("GET ")
            else part
            for part in sections
        ]
    doc.write_text("\n### ".join(sections), encoding="utf-8")
    return doc


def fields(doc: Path) -> dict[str, ModelField]:
    (model,) = parse_doc(doc, APP_MODELS).models
    return {item.name: item for item in model.fields}


# ---------------------------------------------------------------------------- grammar


def test_the_suffix_parses_into_the_scope_of_the_index(tmp_path: Path) -> None:
    rows = LABEL_ROWS + "| alias | str unique per owner_id | no | - | The same as unique |\n"
    doc = unique_doc(tmp_path, "labels", rows)
    parsed = fields(doc)

    assert parsed["name"].unique == ("owner_id",)
    assert parsed["alias"].unique == ("owner_id",)
    assert parsed["code"].unique == ("project_id",)
    assert (parsed["name"].type.kind, parsed["name"].type.high) == ("str", 50)
    assert parsed["project_id"].unique is None
    feature = parse_doc(doc, APP_MODELS)
    (model,) = feature.models
    indexes = {item.name: unique_index(feature, model, item) for item in model.fields}
    assert indexes["name"] == ("owner_id", "name")
    assert indexes["code"] == ("project_id", "code")
    assert indexes["project_id"] is None


def test_on_a_model_with_public_reads_unique_is_among_every_row(tmp_path: Path) -> None:
    """Its routes address every owner's rows, so `unique` is the field alone; `unique per`
    keeps its parent."""
    rows = ARTICLE_ROWS + (
        "| project_id | ref(Project) | yes | - | The project |\n"
        "| code | str(..10) unique per project_id | no | - | A code |\n"
    )
    doc = parse_doc(unique_doc(tmp_path, "articles", rows, public=True), APP_MODELS)
    (model,) = doc.models

    assert unique_index(doc, model, model.field("slug")) == ("slug",)  # type: ignore[arg-type]
    assert unique_index(doc, model, model.field("code")) == ("project_id", "code")  # type: ignore[arg-type]


REFUSED = [
    (
        "| flag | bool unique | no | - | x |\n",
        "flag: bool unique: bool has 2 values, so at most 2 rows per owner could exist; a unique"
        " field takes at least 3 values: write a type with more, or drop unique",
    ),
    (
        "| kind | enum(a, b) unique per project_id | no | - | x |\n",
        "kind: enum(a, b) unique: enum(a, b) has 2 values, so at most 2 rows per project_id could"
        " exist; a unique field takes at least 3 values: write a type with more, or drop unique",
    ),
    (
        "| pair | int(1..2) unique | no | - | x |\n",
        "pair: int(1..2) unique: int(1..2) has 2 values",
    ),
    (
        "| ratio | float(0..1) unique | no | - | x |\n",
        "ratio: float(0..1) unique: a float is a binary fraction (0.1 + 0.2 is not 0.3), so values"
        " that read the same may differ: no key; write int or str(...) for a key, or drop unique",
    ),
    (
        "| amount | Decimal(8, 2) unique | no | - | x |\n",
        "amount: Decimal(8, 2) unique: SQLite keeps a Decimal as a binary float, so values"
        " PostgreSQL tells apart may collide there: no key;",
    ),
    (
        "| twice | str unique unique | no | - | x |\n",
        "twice: unique is written 2 times; write it once: str unique",
    ),
    (
        "| twice | str(..9) unique per project_id unique | no | - | x |\n",
        "twice: unique is written 2 times; write it once: str(..9) unique per project_id",
    ),
    (
        "| code | str unique per | no | - | x |\n",
        "code: 'str unique per' names no field after 'unique per'; expected the name of a ref"
        " field, as in str unique per project_id",
    ),
    (
        "| code | str unique per title | no | - | x |\n",
        "Label.code is 'unique per title', but title is not a ref field of Label; expected unique"
        " per project_id, or unique (among the rows of one owner)",
    ),
    (
        "| code | str unique per nothing | no | - | x |\n",
        "Label.code is 'unique per nothing', but nothing is not a ref field of Label; expected",
    ),
    (
        "| parent_id | ref(Project) unique per parent_id | no | - | x |\n",
        "Label.parent_id is 'unique per parent_id', but parent_id is not another ref field of"
        " Label; expected unique per project_id, or unique (among the rows of one owner)",
    ),
]


@pytest.mark.parametrize(("row", "message"), REFUSED, ids=[f"row{i}" for i in range(len(REFUSED))])
def test_a_unique_that_makes_no_key_is_refused_with_what_to_write(
    tmp_path: Path, row: str, message: str
) -> None:
    rows = (
        "| project_id | ref(Project) | yes | - | The project |\n"
        "| title | str(1..40) | yes | - | Title |\n" + row
    )
    doc = unique_doc(tmp_path, "labels", rows)
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index(row.rstrip("\n"))

    found = problems_of(doc)

    assert [(at, text[: len(message)]) for at, text in found] == [(line, message)], found


def test_unique_on_a_field_the_system_sets_is_refused(tmp_path: Path) -> None:
    doc = unique_doc(tmp_path, "labels", "| name | str(1..50) | yes | - | x |\n")
    text = doc.read_text(encoding="utf-8")
    doc.write_text(edited(text, ("| id | UUID |", "| id | UUID unique |")), encoding="utf-8")
    line = 1 + doc.read_text(encoding="utf-8").splitlines().index(
        "| id | UUID unique | auto | uuid4() | Primary key |"
    )

    assert problems_of(doc) == [
        (
            line,
            "id is unique, but the system sets it (Required auto); expected unique on a field"
            " a client sets",
        )
    ]


def test_an_update_of_a_model_with_a_unique_field_must_list_its_409(tmp_path: Path) -> None:
    """Every status a route answers is in its doc; a create's 409 is a platform one."""
    doc = doc_in(tmp_path, "labels", "| name | str(1..50) unique | yes | - | x |\n")
    lines = doc.read_text(encoding="utf-8").splitlines()
    put = lines.index("### PUT /api/v1/labels/{id}")
    table = 1 + put + 1 + lines[put + 1 :].index("| Aspect | Detail |")

    assert problems_of(doc) == [
        (
            table,
            "PUT /api/v1/labels/{id} changes Label, whose name is unique, but lists no 409 for a"
            " value another row has; expected '| Response 409 | ConflictError |'",
        )
    ]


# ------------------------------------------------------------------------- rendering


def test_the_model_and_the_migration_get_one_unique_index_per_field(tmp_path: Path) -> None:
    doc = parse_doc(unique_doc(tmp_path, "labels", LABEL_ROWS), APP_MODELS)
    files = render_feature(doc, ROOT)
    model = files["src/models/label.py"]
    migration = render_migration(
        ROOT,
        "migration_create.py.jinja",
        revision="0009",
        down_revision="0008",
        message="create labels",
        doc_path="docs/features/FEAT-003-labels.md",
        tables=tables_of(doc),
    )
    path = "migrations/versions/0009_create_labels.py"

    assert 'Index(None, "owner_id", "name", unique=True),' in model
    assert 'Index(None, "project_id", "code", unique=True),' in model
    assert 'Index(None, "owner_id", "day", unique=True),' in model
    assert (
        '    op.create_index(op.f("ix_labels_owner_id_name"), "labels", ["owner_id", "name"],'
        " unique=True)" in migration
    )
    assert re.search(
        r'op\.create_index\(\s+op\.f\("ix_labels_project_id_code"\), "labels", \["project_id",'
        r' "code"\], unique=True\s+\)',
        migration,
    )
    tests = files["tests/features/test_labels.py"]
    assert '        "name": ["owner_id"],\n        "code": ["project_id"],\n' in tests
    everything = {**files, path: migration}
    for name, text in everything.items():
        assert ruff_findings(text, name, "check") == "", name
        assert ruff_findings(text, name, "format", "--check", "--diff") == "", name


def test_a_change_migration_creates_and_drops_the_index(tmp_path: Path) -> None:
    """Unique added (rows that share a value counted first), removed, moved to another
    scope, and a field added with it; the reverse in downgrade()."""
    old = unique_doc(
        tmp_path,
        "labels",
        "| project_id | ref(Project) | yes | - | The project |\n"
        "| name | str(1..50) | yes | - | Display name |\n"
        "| code | str(..10) unique | no | - | A code |\n"
        "| seq | int unique | no | - | A number |\n",
    )
    old_text = old.read_text(encoding="utf-8")
    new_text = edited(
        old_text,
        ("| name | str(1..50) |", "| name | str(1..50) unique |"),
        ("| code | str(..10) unique |", "| code | str(..10) |"),
        ("| seq | int unique |", "| seq | int unique per project_id |"),
        (
            "| seq | int unique per project_id | no | - | A number |\n",
            "| seq | int unique per project_id | no | - | A number |\n"
            "| tag | str(..5) unique | no | x | A tag |\n",
        ),
    )
    changes = schema_changes(
        parse_doc_text(old_text, old, APP_MODELS), parse_doc_text(new_text, old, APP_MODELS)
    )
    path = "migrations/versions/0009_change_labels.py"
    text = render_change_migration(
        changes, ROOT, revision="0009", down_revision="0008", message="change labels", doc_path=path
    )
    upgrade_part, downgrade_part = text.split("def downgrade")

    assert ruff_findings(text, path, "check") == ""
    assert ruff_findings(text, path, "format", "--check", "--diff") == ""
    assert 'batch_op.drop_index(op.f("ix_labels_owner_id_code"))' in upgrade_part
    assert 'batch_op.drop_index(op.f("ix_labels_owner_id_seq"))' in upgrade_part
    for columns in ('["owner_id", "name"]', '["project_id", "seq"]', '["owner_id", "tag"]'):
        assert re.search(
            rf"batch_op\.create_index\(\s*op\.f\(\"ix_labels_\w+\"\), {re.escape(columns)},"
            r"\s*unique=True",
            upgrade_part,
        ), columns
    assert (
        'EXISTS (SELECT 1 FROM labels AS other WHERE other.id <> labels.id AND other."owner_id"'
        ' = labels."owner_id" AND other."name" = labels."name")\'' in upgrade_part
    )
    assert "have the same name as another row of the same owner" in upgrade_part
    assert "have the same seq as another row with the same project_id" in upgrade_part
    assert (
        "would share the Default of the new field tag with another row of the same owner"
        in upgrade_part
    )
    assert 'batch_op.drop_index(op.f("ix_labels_owner_id_name"))' in downgrade_part
    assert "have the same code as another row of the same owner" in downgrade_part
    assert "labels.name: name str(1..50) not null -> name str(1..50) not null unique" in text


def test_an_index_name_past_63_characters_is_known_as_postgresql_shortens_it() -> None:
    """PostgreSQL reports the index a duplicate broke by its name as stored: SQLAlchemy's
    naming convention shortens one past 63 characters, so the 409 must know both."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    long_field = "a_field_name_that_is_quite_long_indeed_x"
    table = Table(
        "very_long_resource_names_here",
        metadata,
        Column("owner_id", Integer),
        Column(long_field, String),
        Index(None, "owner_id", long_field, unique=True),
    )
    (index,) = table.indexes
    dialect = make_url("postgresql+asyncpg://").get_dialect()()
    stored = str(CreateIndex(index).compile(dialect=dialect)).split()[3]

    assert len(stored) <= 63
    assert names_of(index) == {f"ix_{table.name}_owner_id_{long_field}", stored}


# --------------------------------------------------------- a project with unique fields


@dataclass(frozen=True)
class Grown:
    project: Path
    docs: dict[str, Path]


RACE = '''"""Creates that race for one unique value: the index decides, one row and 409s."""

import asyncio

from src.models.label import Label
from tests.reliability.conftest import OpenApp

API = "/api/v1"


async def test_concurrent_creates_of_one_value_make_one_row(live_app: OpenApp) -> None:
    live = await live_app()
    user = await live.user()
    body = {"name": "p"}
    project = await live.client.post(f"{API}/projects", json=body, headers=user.headers)
    assert project.status_code == 201, project.text
    for attempt in range(5):
        label = {"name": f"race {attempt}", "project_id": project.json()["id"]}
        answers = await asyncio.gather(
            *(live.client.post(f"{API}/labels", json=label, headers=user.headers) for _ in range(4))
        )
        assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json()["errors"][0]["field"] == "name"
                assert answer.json()["detail"] == "A label with this name already exists"
    assert await live.count(Label, user) == 5
'''


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Grown:
    project = copy_project(tmp_path_factory.mktemp("unique") / "project")
    features = project / "docs/features"
    docs = {
        "labels": unique_doc(features, "labels", LABEL_ROWS),
        "articles": unique_doc(features, "articles", ARTICLE_ROWS, public=True),
        "boards": unique_doc(features, "boards", BOARD_ROWS),
    }
    for doc in docs.values():
        added = featwright(project, "add", str(doc))
        assert added.returncode == 0, added.stdout + added.stderr
    (project / "tests/reliability/test_unique_race.py").write_text(RACE, encoding="utf-8")
    return Grown(project, docs)


def test_the_generated_files_are_lint_clean_and_check_is_green(grown: Grown) -> None:
    project = grown.project
    assert_lint_clean(project)
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    article = (project / "src/models/article.py").read_text(encoding="utf-8")
    assert 'Index(None, "slug", unique=True)' in article  # public reads: among every row


def test_check_compares_unique_both_ways(grown: Grown, tmp_path: Path) -> None:
    doc = tmp_path / grown.docs["labels"].name
    text = grown.docs["labels"].read_text(encoding="utf-8")
    doc.write_text(
        edited(
            text,
            ("| name | str(1..50) unique |", "| name | str(1..50) |"),
            ("| ext | UUID unique |", "| ext | UUID unique per project_id |"),
            ("| project_id | ref(Project) |", "| project_id | ref(Project) unique |"),
        ),
        encoding="utf-8",
    )
    before = snapshot(grown.project)

    checked = featwright(grown.project, "check", str(doc), env={"COLUMNS": "400"})

    assert checked.returncode == 1, checked.stdout + checked.stderr
    report = " ".join(checked.stdout.split())
    for problem in (
        "the table has a unique index on (owner_id, name), doc says not unique",
        "the table has a unique index on (owner_id, ext), doc says unique on (project_id, ext)",
        "doc says unique, on (owner_id, project_id); the table has no such unique index",
    ):
        assert problem in report, report
    assert snapshot(grown.project) == before


def test_generated_tests_route_walks_and_a_race_pass_on_both_backends(grown: Grown) -> None:
    project = grown.project
    result = run_generated_tests(
        project,
        *(project / f"tests/features/test_{resource}.py" for resource in grown.docs),
        project / "tests/reliability/test_unique_race.py",
        project / "tests/reliability/test_access.py",
        project / "tests/reliability/test_bounded_input.py",
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary
    print(summary)


# ------------------------------------------------------------------- a changed doc


BUILT = (
    "| project_id | ref(Project) | yes | - | The project |\n"
    "| name | str(1..50) | yes | - | Display name |\n"
)

# Runs in the project copy, always as one user: creates labels (in one project) and answers
# their statuses and the list, or runs SQL, or takes the migrations a step.
DRIVE = textwrap.dedent(
    """
    import asyncio, json, os, sys
    import httpx
    from alembic import command
    from sqlalchemy import text
    from src.core.migrations import alembic_config
    from src.main import create_app

    async def api(bodies):
        app = create_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            login = {"email": "unique@example.com", "password": "long enough pw"}
            await c.post("/api/v1/auth/register", json=login)
            form = {"username": login["email"], "password": login["password"]}
            token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
            h = {"Authorization": "Bearer " + token}
            projects = (await c.get("/api/v1/projects", headers=h)).json()["items"]
            if not projects:
                made = await c.post("/api/v1/projects", json={"name": "p"}, headers=h)
                projects = [made.json()]
            statuses = []
            for body in bodies:
                body = {**body, "project_id": projects[0]["id"]}
                statuses.append((await c.post("/api/v1/labels", json=body, headers=h)).status_code)
            listed = await c.get("/api/v1/labels?limit=100", headers=h)
            print(json.dumps({"statuses": statuses, "items": listed.json()["items"]}))
        await app.state.database.bind.dispose()

    async def sql(query):
        app = create_app()
        async with app.state.database.bind.begin() as connection:
            await connection.execute(text(query))
        await app.state.database.bind.dispose()

    stage = os.environ["STAGE"]
    if stage.startswith(("UPDATE", "DELETE")):
        asyncio.run(sql(stage))
    elif stage in ("head", "-1"):
        config = alembic_config(os.environ["DATABASE_URL"])
        config.attributes["configure_logger"] = False
        try:
            (command.downgrade if stage == "-1" else command.upgrade)(config, stage)
        except Exception as error:
            sys.exit(f"error: {error}")
    else:
        asyncio.run(api(json.loads(stage)))
    """
)


def drive(project: Path, database_url: str, stage: str) -> subprocess.CompletedProcess[str]:
    """DRIVE at `stage` (label bodies as JSON, SQL, or a migration step); not checked."""
    return subprocess.run(
        [sys.executable, "-c", DRIVE],
        cwd=project,
        env={
            **os.environ,
            "PYTHONPATH": str(project),
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": database_url,
            "STAGE": stage,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def post(project: Path, database_url: str, *names: str) -> tuple[list[int], list[dict[str, str]]]:
    """Labels with these names posted: their statuses, and every label of the user."""
    driven = drive(project, database_url, json.dumps([{"name": name} for name in names]))
    assert driven.returncode == 0, driven.stderr[-3000:]
    answer = json.loads(driven.stdout.strip().splitlines()[-1])
    return answer["statuses"], answer["items"]


def sql(project: Path, database_url: str, query: str) -> None:
    assert drive(project, database_url, query).returncode == 0


def db_upgrade(project: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return featwright(project, "db", "upgrade", env={"DATABASE_URL": database_url})


def test_unique_added_then_removed_migrates_the_rows(project: Path, database_url: str) -> None:
    """Added: rows that share a name stop the upgrade, naming them, until they differ; then a
    duplicate is a 409. Removed: the index goes and a duplicate is a row; reverting that
    stops on the rows that share a name the same way."""
    doc = unique_doc(project / "docs/features", "labels", BUILT)
    assert featwright(project, "add", str(doc)).returncode == 0
    assert db_upgrade(project, database_url).returncode == 0
    statuses, rows = post(project, database_url, "same", "same")
    assert statuses == [201, 201]
    text = doc.read_text(encoding="utf-8")
    doc.write_text(
        edited(text, ("| name | str(1..50) |", "| name | str(1..50) unique |")), encoding="utf-8"
    )
    added = revision(project)
    changed = featwright(project, "add", str(doc))
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert (project / f"migrations/versions/{added}_change_labels.py").is_file()

    refused = db_upgrade(project, database_url)
    assert refused.returncode == 1
    ids = ", ".join(sorted(row["id"] for row in rows))
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: labels: 2 rows have the same name as another row of the same owner (name"
        f" str(1..50) not null unique), ids {ids}; fix or delete them, then run featwright db"
        " upgrade again; nothing was changed"
    )
    sql(
        project,
        database_url,
        "UPDATE labels SET name = 'other' WHERE id ="
        " (SELECT id FROM labels ORDER BY id DESC LIMIT 1)",
    )
    assert db_upgrade(project, database_url).returncode == 0
    assert featwright(project, "check").returncode == 0
    assert post(project, database_url, "same")[0] == [409]
    assert post(project, database_url, "new")[0] == [201]

    doc.write_text(text, encoding="utf-8")  # unique removed
    assert featwright(project, "add", str(doc)).returncode == 0
    assert db_upgrade(project, database_url).returncode == 0
    assert featwright(project, "check").returncode == 0
    statuses, rows = post(project, database_url, "same")
    assert statuses == [201]
    assert sorted(row["name"] for row in rows) == ["new", "other", "same", "same"]

    back = drive(project, database_url, "-1")
    assert back.returncode == 1
    assert "2 rows have the same name as another row of the same owner" in back.stderr
    sql(
        project,
        database_url,
        "DELETE FROM labels WHERE id ="
        " (SELECT id FROM labels WHERE name = 'same' ORDER BY created_at DESC LIMIT 1)",
    )
    assert drive(project, database_url, "-1").returncode == 0
    assert post(project, database_url, "same")[0] == [409]

"""Richer values: `list[T]`, `object(Name)`, `json` and `str(..) matching REGEX` parsed and
refused with the line, generated, migrated (a table created, a list column added by a
changed doc), compared by `check` both ways; the generated tests pass on SQLite and
PostgreSQL with every such field required and with every one optional, and direct round
trips answer the values as sent and refuse what breaks a rule with a 400 naming the field."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from src.engine.doc import FieldType, parse_doc
from src.engine.generate import render_feature
from src.engine.migrate import render_migration, tables_of
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    assert_lint_clean,
    copy_project,
    doc_in,
    drive,
    edited,
    featwright,
    new_doc_of,
    problems_of,
    revision,
    ruff_findings,
    run_generated_tests,
    stages_script,
)
from tests.engine.test_unique_fields import CONFLICT_ON_UPDATE

OBJECT_SECTION = (
    "### Due (object)\n"
    "| Field | Type | Required | Default | Description |\n"
    "|-------|------|----------|---------|-------------|\n"
    "| on | date | yes | - | The day |\n"
    "| tz | str(1..40) | no | - | A time zone |\n"
    "| kind | enum(soft, hard) | no | soft | How firm |\n"
    "| code | str(..4) matching ^[A-Z]+$ | no | - | A short code |\n"
)
FILTERS = "tags (str), kinds (str), days (date), scores (int)"
BADGE_ROWS = (
    "| name | str(1..50) | yes | - | Name |\n"
    "| code | str(2..6) matching ^[A-Z]{2}[0-9]+$ unique | yes | - | A code |\n"
    "| colors | list[str(..7) matching ^#[0-9a-f]{6}$](1..3) | yes | - | Colours |\n"
)


def value_rows(required: str) -> str:
    """One field of every value kind, each `required` (yes or no), beside a required name (a
    text the update tests can change)."""
    return (
        "| name | str(1..50) | yes | - | Name |\n"
        f"| tags | list[str(1..30)](..10) | {required} | - | Tags |\n"
        f"| scores | list[int(0..100)] | {required} | - | Scores |\n"
        f"| kinds | list[enum(a, b)](1..) | {required} | - | Kinds |\n"
        f"| days | list[date] | {required} | - | Days |\n"
        f"| due | object(Due) | {required} | - | When it is due |\n"
        f"| extra | json | {required} | - | Anything else |\n"
        f"| color | str(..7) matching ^#[0-9a-f]{{6}}$ | {required} | - | A colour |\n"
    )


def with_object(text: str, section: str = OBJECT_SECTION) -> str:
    """A doc's text with an object section at the end of its Data Models."""
    return edited(text, ("\n## API Endpoints", f"\n{section}\n## API Endpoints"))


def _doc(directory: Path, rows: str, filters: str = "", section: str = OBJECT_SECTION) -> Path:
    doc = doc_in(directory, "gadgets", rows, filters)
    doc.write_text(with_object(doc.read_text(encoding="utf-8"), section), encoding="utf-8")
    return doc


def _line_of(doc: Path, row: str) -> int:
    return 1 + doc.read_text(encoding="utf-8").splitlines().index(row.rstrip("\n"))


# -------------------------------------------------------------------------- parsing


def test_every_written_form_parses(tmp_path: Path) -> None:
    doc = parse_doc(_doc(tmp_path, value_rows("yes")), APP_MODELS)
    (model,) = doc.models
    types = {item.name: item.type for item in model.fields}

    assert types["tags"] == FieldType("list", high=10, item=FieldType("str", low=1, high=30))
    assert types["scores"] == FieldType("list", item=FieldType("int", low=0, high=100))
    assert types["kinds"] == FieldType("list", low=1, item=FieldType("enum", choices=("a", "b")))
    assert types["days"] == FieldType("list", item=FieldType("date"))
    assert types["due"] == FieldType("object", object="Due")
    assert types["extra"] == FieldType("json")
    assert types["color"] == FieldType("str", high=7, pattern="^#[0-9a-f]{6}$")
    assert [item.nullable for item in model.fields if item.type.kind == "list"] == [False] * 4
    (due,) = doc.objects
    assert [(f.name, f.type.kind, f.required, f.default) for f in due.fields] == [
        ("on", "date", "yes", None),
        ("tz", "str", "no", None),
        ("kind", "enum", "no", "soft"),
        ("code", "str", "no", None),
    ]
    assert [m.name for m in doc.models] == ["Gadget"]  # the object is no model


def test_an_alternation_is_written_with_an_escaped_bar(tmp_path: Path) -> None:
    """A bare `|` ends the table's cell; `\\|` is the bar of the pattern."""
    row = "| shade | str(..5) matching ^(red\\|green)$ | no | - | A shade |\n"
    (model,) = parse_doc(_doc(tmp_path, value_rows("yes") + row), APP_MODELS).models
    shade = model.field("shade")
    assert shade is not None
    assert shade.type.pattern == "^(red|green)$"


def test_optional_values_are_never_a_null_list_but_may_be_a_null_object(tmp_path: Path) -> None:
    (model,) = parse_doc(_doc(tmp_path, value_rows("no")), APP_MODELS).models
    nullable = {item.name: item.nullable for item in model.fields}
    assert nullable == {
        **dict.fromkeys(("id", "owner_id", "created_at", "updated_at", "name"), False),
        **dict.fromkeys(("tags", "scores", "kinds", "days"), False),
        **dict.fromkeys(("due", "extra", "color"), True),
    }


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "| a | list[json] | no | - | A |",
            "a list holds str(..), int(..), enum(...) or date items, not json",
        ),
        (
            "| a | list[str](5..2) | no | - | A |",
            "list[str](5..2): the range is empty (its lower bound is above its upper one);"
            " write list[str](2..5)",
        ),
        ("| a | list[int](..0) | no | - | A |", "a list of at most 0 items holds none"),
        ("| a | list[int](..5000) | no | - | A |", "at most 1000 items may be sent at once"),
        ("| a | list[date](1.5..) | no | - | A |", "the bounds of a list's count are whole"),
        ("| a | list[str] | no | null | A |", "a: a list field takes no default; write - or []"),
        ("| a | json | no | {} | A |", "a: a json field takes no default; write - or null"),
        ("| a | json | auto | - | A |", "a is json with Required auto; expected yes or no"),
        ("| a | list[str] unique | no | - | A |", "a list value is no key"),
        (
            "| a | str matching (?=x)y | no | - | A |",
            "a regular expression the validator (Rust's regex: no look-around, no"
            " backreferences) cannot run",
        ),
        ("| a | str matching \\p{L} | no | - | A |", "is no regular expression (bad escape"),
        ("| a | str matching [a- | no | - | A |", "is no regular expression"),
        ("| a | int matching ^1$ | no | - | A |", "only a str takes 'matching REGEX'"),
        (
            "| a | str(..2) matching ^a{5}$ | no | - | A |",
            "found no text of str(..2) that ^a{5}$ matches",
        ),
        (
            "| a | str(..7) matching ^#[0-9a-f]{6}$ | no | red | A |",
            "default 'red' has no match of ^#[0-9a-f]{6}$",
        ),
        (
            "| a | object(Nowhere) | no | - | A |",
            "Gadget.a is object(Nowhere), but no '### Nowhere (object)' heading gives its fields",
        ),
    ],
    ids=[
        "list-of-json",
        "list-empty-range",
        "list-none",
        "list-too-many",
        "list-fraction",
        "list-default",
        "json-default",
        "json-auto",
        "list-unique",
        "pattern-look-around",
        "pattern-python-refuses",
        "pattern-invalid",
        "pattern-on-int",
        "pattern-no-sample",
        "pattern-default",
        "object-unknown",
    ],
)
def test_a_value_the_engine_cannot_generate_is_refused_with_the_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    doc = _doc(tmp_path, value_rows("yes") + f"{row}\n")

    found = problems_of(doc)

    assert any(at == _line_of(doc, row) and problem in message for at, message in found), found


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("| id | UUID | auto | uuid4() | Key |", "object Due has a 'id' row"),
        ("| owner_id | ref(User) | auto | current user | Owner |", "object Due has a 'owner_id'"),
        ("| created_at | datetime | auto | utcnow() | Made |", "object Due has a 'created_at'"),
        ("| more | list[str] | no | - | More |", "Due.more is list[str]; an object's fields are"),
        ("| inner | json | no | - | Inner |", "Due.inner is json; an object's fields are"),
        ("| at | ref(Project) | no | - | At |", "Due.at is ref(Project); an object's fields are"),
        ("| late | bool | yes, fixed | - | Late |", "Due.late is Required yes, fixed"),
    ],
    ids=["id", "owner", "timestamp", "list", "json", "ref", "fixed"],
)
def test_an_objects_row_it_cannot_have_is_refused_with_the_line(
    tmp_path: Path, row: str, problem: str
) -> None:
    doc = _doc(tmp_path, value_rows("yes"), section=OBJECT_SECTION + f"{row}\n")

    found = problems_of(doc)

    assert any(at == _line_of(doc, row) and problem in message for at, message in found), found


def test_an_object_no_field_uses_and_a_filter_by_an_object_are_refused(tmp_path: Path) -> None:
    rows = value_rows("yes").replace("object(Due)", "json")
    doc = _doc(tmp_path, rows, "extra (str)")
    text = doc.read_text(encoding="utf-8")
    heading = 1 + text.splitlines().index("### Due (object)")
    params = next(n for n, line in enumerate(text.splitlines(), 1) if "extra (str)" in line)

    found = problems_of(doc)

    assert (heading, "object Due is no field's type; expected a field of type object(Due)") in (
        found
    )
    assert any(
        at == params and "names Gadget.extra, a json value, which a list cannot filter" in message
        for at, message in found
    ), found


# ------------------------------------------------------------------------ rendering


def test_the_rendered_files_say_each_rule(tmp_path: Path) -> None:
    doc = parse_doc(_doc(tmp_path, value_rows("no"), FILTERS), APP_MODELS)
    files = render_feature(doc, ROOT)
    files["migrations/versions/0009_create_gadgets.py"] = render_migration(
        ROOT,
        "migration_create.py.jinja",
        revision="0009",
        down_revision="0008",
        message="create gadgets",
        doc_path="docs/features/FEAT-001-gadgets.md",
        tables=tables_of(doc),
    )
    for path, text in files.items():
        assert ruff_findings(text, path, "check") == "", path
        assert ruff_findings(text, path, "format", "--check", "--diff") == "", path
    model, schemas = files["src/models/gadget.py"], files["src/schemas/gadget.py"]
    migration = files["migrations/versions/0009_create_gadgets.py"]
    assert "tags: Mapped[list[str]] = mapped_column(ValueList(String(30)))" in model
    assert "due: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)" in model
    assert 'Index(None, "tags", postgresql_using="gin")' in model
    assert "GadgetTags = Annotated[list[GadgetTagsItem], Field(max_length=10)]" in schemas
    assert 'GadgetColor = Annotated[str, Field(max_length=7, pattern="^#[0-9a-f]{6}$"), NoNul]' in (
        schemas
    )
    assert "class Due(InputSchema):" in schemas
    assert "    tags: GadgetTags = Field(default_factory=list)\n" in schemas
    assert "    due: Due | None = None\n" in schemas
    assert "    extra: JsonObject | None = None\n" in schemas
    assert (
        'sa.Column("tags", src.models.base.ValueList(sa.String(length=30)), nullable=False)'
        in migration
    )
    assert 'sa.Column("due", src.models.base.JsonDocument(), nullable=True)' in migration
    assert (
        'op.create_index(op.f("ix_gadgets_tags"), "gadgets", ["tags"], postgresql_using="gin")'
        in (migration)
    )


# ------------------------------------------------------------------ a built project

ROUND_TRIPS = textwrap.dedent(
    '''\
    """Values answered as sent; each rule a 400 naming the field; a list filter by an item."""

    from typing import Any

    import httpx
    import pytest

    from tests.conftest import MakeUser

    API = "/api/v1/gadgets"
    BODY: dict[str, Any] = {
        "name": "n",
        "tags": ["b", "a", "c", "a"],
        "scores": [100, 0, 7],
        "kinds": ["b", "a"],
        "days": ["2026-03-01", "2026-01-31"],
        "due": {"on": "2026-02-01", "tz": "Europe/Paris", "kind": "hard", "code": "AB"},
        "extra": {"nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
        "color": "#00ff7f",
    }


    async def test_values_answered_as_sent(client: httpx.AsyncClient, make_user: MakeUser) -> None:
        headers = (await make_user()).headers
        made = await client.post(API, json=BODY, headers=headers)
        assert made.status_code == 201, made.text
        read = await client.get(f"{API}/{made.json()['id']}", headers=headers)
        assert {name: read.json()[name] for name in BODY} == BODY
        changed = {"due": {"on": "2026-05-05"}, "tags": ["z"], "extra": {"k": "v"}}
        version = f'"{made.json()["version"]}"'
        put = await client.put(
            f"{API}/{made.json()['id']}", json=changed, headers={**headers, "If-Match": version}
        )
        assert put.status_code == 200, put.text
        whole = {"on": "2026-05-05", "tz": None, "kind": "soft", "code": None}
        assert put.json()["due"] == whole  # replaced whole, its defaults filled in
        assert (put.json()["tags"], put.json()["extra"]) == (["z"], {"k": "v"})


    @pytest.mark.parametrize(
        ("change", "field", "rule"),
        [
            ({"extra": {"text": "x" * 16_400}}, "extra", "value_error"),
            ({"color": "#00FF7F"}, "color", "string_pattern_mismatch"),
            ({"scores": [1, 101]}, "scores.1", "less_than_equal"),
            ({"tags": ["a", ""]}, "tags.1", "string_too_short"),
            ({"tags": ["a"] * 11}, "tags", "too_long"),
            ({"kinds": []}, "kinds", "too_short"),
            ({"kinds": ["c"]}, "kinds.0", "literal_error"),
            ({"days": ["2026-02-30"]}, "days.0", "date_from_datetime_parsing"),
            ({"due": {"on": "2026-02-01", "zone": "x"}}, "due.zone", "extra_forbidden"),
            ({"due": {"tz": "x"}}, "due.on", "missing"),
            ({"due": {"on": "2026-02-01", "code": "ab"}}, "due.code", "string_pattern_mismatch"),
            ({"extra": [1]}, "extra", "dict_type"),
        ],
    )
    async def test_each_rule_is_a_400_naming_the_field(
        client: httpx.AsyncClient,
        make_user: MakeUser,
        change: dict[str, Any],
        field: str,
        rule: str,
    ) -> None:
        headers = (await make_user()).headers
        refused = await client.post(API, json={**BODY, **change}, headers=headers)
        assert refused.status_code == 400, refused.text
        errors = refused.json()["errors"]
        assert any(e["field"] == field and e["rule"].startswith(rule) for e in errors), errors


    async def test_a_list_filter_finds_the_rows_that_hold_the_item(
        client: httpx.AsyncClient, make_user: MakeUser
    ) -> None:
        headers = (await make_user()).headers
        ids = []
        for tags, days in ((["a", "b"], ["2026-01-01"]), (["b"], ["2026-01-02"]), (["c"], [])):
            body = {**BODY, "tags": tags, "days": days}
            made = await client.post(API, json=body, headers=headers)
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])

        async def found(query: str) -> list[str]:
            listed = await client.get(f"{API}?{query}", headers=headers)
            assert listed.status_code == 200, listed.text
            return [row["id"] for row in listed.json()["items"]]

        assert await found("tags=b") == ids[:2]
        assert await found("tags=c") == ids[2:]
        assert await found("tags=d") == []
        assert await found("days=2026-01-02") == ids[1:2]
        assert await found("scores=7") == ids
        assert await found("kinds=a&tags=a") == ids[:1]
        assert (await client.get(f"{API}?scores=101", headers=headers)).status_code == 400
    '''
)


@dataclass(frozen=True)
class Built:
    project: Path
    docs: dict[str, Path]


def _project_doc(
    project: Path, resource: str, rows: str, filters: str, section: str = OBJECT_SECTION
) -> Path:
    """`featwright doc new RESOURCE` in `project`, filled in with `rows` and the object
    `section` (none when empty)."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    doc = new_doc_of(project, resource)
    scratch = project.parent / f"scratch-{resource}"
    scratch.mkdir(exist_ok=True)
    filled = doc_in(scratch, resource, rows, filters).read_text(encoding="utf-8")
    filled = with_object(filled, section) if section else filled
    if " unique |" in rows:  # its PUT answers 409 for a value another row has
        filled = edited(filled, CONFLICT_ON_UPDATE)
    number = doc.name.split("-")[1]
    doc.write_text(filled.replace("FEAT-001", f"FEAT-{number}"), encoding="utf-8")
    return doc


def _add(project: Path, doc: Path) -> None:
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stdout + added.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Gadgets (every value field required) and widgets (every one optional), each list
    filtered by its list fields; badges, a unique `matching` code and a list of `matching`
    items."""
    project = copy_project(tmp_path_factory.mktemp("values") / "project")
    docs = {
        "gadgets": _project_doc(project, "gadgets", value_rows("yes"), FILTERS),
        "widgets": _project_doc(project, "widgets", value_rows("no"), FILTERS),
        "badges": _project_doc(project, "badges", BADGE_ROWS, "colors (str)", section=""),
    }
    for doc in docs.values():
        _add(project, doc)
    (project / "tests/features/test_values_round_trips.py").write_text(ROUND_TRIPS, "utf-8")
    return Built(project, docs)


def test_generated_tests_pass_on_both_backends(built: Built) -> None:
    modules = [built.project / f"tests/features/test_{name}.py" for name in built.docs]
    result = run_generated_tests(
        built.project, *modules, built.project / "tests/features/test_values_round_trips.py"
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary, summary
    assert "skipped" not in summary, summary


def test_the_openapi_document_shows_each_rule(built: Built) -> None:
    script = (
        "import json; from src.main import create_app;"
        " print(json.dumps(create_app().openapi()['components']['schemas']))"
    )
    shown = featwright_python(built.project, script)
    schemas = json.loads(shown)
    create = schemas["GadgetCreate"]["properties"]
    assert create["tags"]["type"] == "array"
    assert (create["tags"].get("minItems"), create["tags"]["maxItems"]) == (None, 10)
    assert create["tags"]["items"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 30,
        "pattern": "^[^\\u0000]*$",
    }
    assert create["kinds"]["minItems"] == 1
    assert create["kinds"]["items"] == {"enum": ["a", "b"], "type": "string"}
    assert create["scores"]["items"]["maximum"] == 100
    assert create["days"]["items"]["format"] == "date"
    assert create["color"]["pattern"] == "^#[0-9a-f]{6}$"
    due = schemas[create["due"]["$ref"].rsplit("/", 1)[-1]]
    assert set(due["properties"]) == {"on", "tz", "kind", "code"}
    assert due["properties"]["code"]["anyOf"][0]["pattern"] == "^[A-Z]+$"
    assert (due["required"], due["additionalProperties"]) == (["on"], False)
    assert create["extra"]["type"] == "object"


def featwright_python(project: Path, script: str) -> str:
    """What `script` prints, run by the copy's Python with its own `src`."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project), "SECRET_KEY": "k" * 40},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_check_is_green_and_sees_each_value_either_side_changed(
    built: Built, tmp_path: Path
) -> None:
    checked = featwright(built.project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    doc = tmp_path / built.docs["gadgets"].name
    text = built.docs["gadgets"].read_text(encoding="utf-8")
    doc.write_text(
        edited(
            text,
            ("| tags | list[str(1..30)](..10) |", "| tags | str(1..30) |"),
            ("| name | str(1..50) |", "| name | list[str(1..50)] |"),
            ("| scores | list[int(0..100)] |", "| scores | list[int(0..100)](..5) |"),
            ("| kinds | list[enum(a, b)](1..) |", "| kinds | list[enum(a, c)](1..) |"),
            ("| days | list[date] |", "| days | list[str] |"),
            ("matching ^#[0-9a-f]{6}$", "matching ^#[0-9A-F]{6}$"),
            ("| extra | json |", "| extra | object(Due) |"),
            ("| due | object(Due) |", "| due | json |"),
            ("| tz | str(1..40) | no | - | A time zone |\n", "| zone | str | no | - | Zone |\n"),
        ),
        encoding="utf-8",
    )
    drift = featwright(built.project, "check", str(doc), env={"COLUMNS": "400"})
    assert drift.returncode == 1, drift.stdout + drift.stderr
    lines = drift.stdout.splitlines()
    for subject, problem in (
        ("Gadget.tags", "doc says str"),
        ("Gadget.name", "doc says list"),
        ("Gadget.scores", "input rule maxItems is 100, doc says 5"),
        ("Gadget.kinds", "items: values are ('a', 'b'), doc says ('a', 'c')"),
        ("Gadget.days", "items: type is string (date), doc says str"),
        ("Gadget.color", "input pattern is ^#[0-9a-f]{6}$, doc says ^#[0-9A-F]{6}$"),
        ("Gadget.extra", "input has no property 'zone', doc's object Due has it"),
        ("Gadget.extra", "input takes properties the doc does not list (additionalProperties)"),
        ("Gadget.due", "input is an object of properties ['code', 'kind', 'on', 'tz'], doc says"),
    ):
        assert any(subject in line and problem in line for line in lines), (subject, drift.stdout)


def test_every_generated_file_is_lint_clean(built: Built) -> None:
    assert_lint_clean(built.project)


# ------------------------------------------------------------------- a changed doc


DRIVE = stages_script(
    """
    made = await c.post("/api/v1/gadgets", json={"name": "old"}, headers=h)
    assert made.status_code == 201, made.text
    """,
    "/api/v1/gadgets",
)


def _drive(project: Path, database_url: str, stage: str) -> list[dict[str, Any]]:
    output = drive(project, DRIVE, database_url, STAGE=stage).stdout.strip()
    return list(json.loads(output.splitlines()[-1])) if output else []


def test_a_list_field_added_to_a_built_model_gets_its_column(
    tmp_path: Path, database_url: str
) -> None:
    """The rows made before get the empty list; the migration goes down and up again."""
    project = copy_project(tmp_path / "project")
    rows = "| name | str(1..50) | yes | - | Name |\n"
    doc = _project_doc(project, "gadgets", rows, "", section="")
    _add(project, doc)
    _drive(project, database_url, "head")
    (before,) = _drive(project, database_url, "create")
    assert "tags" not in before
    doc.write_text(
        edited(
            doc.read_text(encoding="utf-8"),
            (rows, rows + "| tags | list[str(1..30)](..10) | no | - | Tags |\n"),
            ("limit (int, default 20) |", "limit (int, default 20), tags (str) |"),
        ),
        encoding="utf-8",
    )

    _add(project, doc)

    change = (project / f"migrations/versions/{revision(project, 0)}_change_gadgets.py").read_text(
        encoding="utf-8"
    )
    upgrade, downgrade = change.split("def downgrade")
    assert '"tags", src.models.base.ValueList(sa.String(length=30)), nullable=True' in upgrade
    assert 'UPDATE gadgets SET "tags" = :value' in upgrade  # the rows before: the empty list
    assert 'postgresql_using="gin"' in upgrade
    assert 'batch_op.drop_column("tags")' in downgrade
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    _drive(project, database_url, "head")
    (after,) = _drive(project, database_url, "list")
    assert (after["id"], after["tags"]) == (before["id"], [])
    _drive(project, database_url, "-1")
    _drive(project, database_url, "head")
    assert _drive(project, database_url, "list")[0]["tags"] == []

    doc.write_text(  # a wider item: the column's type changes
        edited(doc.read_text(encoding="utf-8"), ("list[str(1..30)]", "list[str(1..40)]")),
        encoding="utf-8",
    )
    _add(project, doc)

    widened = project / f"migrations/versions/{revision(project, 0)}_change_gadgets.py"
    assert "type_=src.models.base.ValueList(sa.String(length=40))," in widened.read_text("utf-8")
    _drive(project, database_url, "head")
    assert _drive(project, database_url, "list")[0]["tags"] == []
    if database_url.startswith("sqlite"):  # they run on both backends
        result = run_generated_tests(project, project / "tests/features/test_gadgets.py")
        assert " passed" in result.stdout.strip().splitlines()[-1]

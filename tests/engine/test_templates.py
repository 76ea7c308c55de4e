"""The generator's templates: output ruff leaves unchanged without ruff at run time, and a
project's own templates used, listed, copied, and refused with their line when broken."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from src.engine.doc import parse_doc
from src.engine.generate import render_feature
from src.engine.render import OVERRIDES, import_block, wrap
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    RUFF,
    doc_in,
    featwright,
    problems_of,
    snapshot,
)
from tests.engine.test_generated_projects import DOCS, EVERY_FORM

FIRST_PARTY = 'lint.isort.known-first-party = ["src", "tests", "migrations"]'


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    """ruff with the project's settings; first party named, as files outside the project
    cannot be told apart otherwise."""
    return subprocess.run(
        [str(RUFF), *args, "--config", str(ROOT / "pyproject.toml"), "--config", FIRST_PARTY],
        capture_output=True,
        text=True,
        check=False,
    )


LONG_SUFFIX = "_" + "x" * 12
"""Long names push statements past the line length, so every layout rule is used."""


def _variants() -> list[tuple[str, str, str, bool]]:
    found = []
    for resource, rows, filters in DOCS:
        rows = rows.replace("ref(TimeEntry)", "ref(Project)").replace("ref(Category)", "ref(Task)")
        rows = rows.replace("ref(Notice)", "ref(Project)")
        found.append((resource, rows, filters, False))
        found.append((resource, rows, filters, True))
        names = re.findall(r"^\| (\w+) \|", rows, re.MULTILINE)
        for name in names:
            rows = rows.replace(f"| {name} |", f"| {name}{LONG_SUFFIX} |")
            filters = re.sub(rf"\b{name} \(", f"{name}{LONG_SUFFIX} (", filters)
        found.append((f"very_long_resource_{resource}", rows, filters, False))
    resource, rows, filters = DOCS[-1]  # every type form, optional, each a filter
    for name in re.findall(r"^\| (\w+) \|", rows, re.MULTILINE):
        longest = (name + "_" + "y" * 40)[:40]  # the longest name a doc may give
        rows = rows.replace(f"| {name} |", f"| {longest} |")
        filters = re.sub(rf"\b{name} \(", f"{longest} (", filters)
    found.append(("readings_of_the_longest_field_names", rows, filters, True))
    return found


def test_every_rendered_file_is_what_ruff_would_write(tmp_path: Path) -> None:
    """Every type form, required and optional, as list filters, public reads, long names:
    `ruff format --check` and `ruff check` find nothing to change in any file."""
    out = tmp_path / "out"
    for index, (resource, rows, filters, public) in enumerate(_variants()):
        docs = tmp_path / "docs" / str(index)
        files = render_feature(
            parse_doc(doc_in(docs, resource, rows, filters, public), APP_MODELS), ROOT
        )
        for path, text in files.items():
            target = out / str(index) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    written = list(out.rglob("*.py"))
    assert len(written) == 8 * len(_variants())

    formatted = _ruff("format", "--check", "--diff", str(out))
    checked = _ruff("check", "--output-format", "concise", str(out))

    assert formatted.returncode == 0, formatted.stdout[-4000:]
    assert checked.returncode == 0, checked.stdout[-4000:]


def test_patch_and_fields_set_at_create_render_as_ruff_would_write(tmp_path: Path) -> None:
    """A PATCH beside the PUT, and every type form set at create only, with long names."""
    resource, rows, _ = DOCS[-1]
    rows = re.sub(r"\| no \| - \|", "| no, fixed | - |", rows).replace(
        "| name |", "| name_of_the_thing_as_people_call_it_now |"
    )
    doc = doc_in(tmp_path / "docs", f"very_long_resource_{resource}", rows, patch=True)
    files = render_feature(parse_doc(doc, APP_MODELS), ROOT)
    out = tmp_path / "out"
    for path, text in files.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(text, encoding="utf-8")

    routes = files[f"src/api/v1/routes/very_long_resource_{resource}.py"]
    assert "@router.patch(" in routes
    assert "async def patch_very_long_resource_reading(" in routes
    schemas = files["src/schemas/very_long_resource_reading.py"]
    assert schemas.count(": SetAtCreate | MISSING = MISSING") == len(EVERY_FORM)
    formatted = _ruff("format", "--check", "--diff", str(out))
    checked = _ruff("check", "--output-format", "concise", str(out))
    assert formatted.returncode == 0, formatted.stdout[-4000:]
    assert checked.returncode == 0, checked.stdout[-4000:]


STATEMENTS = [
    "    the_external_reference_code_from_the_ven: "
    "ItemsOfAModelTheExternalReferenceCodeFromTheVen | None | MISSING = MISSING",
    "    note_of_some_length_here: LongModelNameNoteOfSomeLengthHere | None = "
    '"a default text of sixty characters, no more than that at all"',
    'x = call("a", "b")',
    "    value: Mapped[uuid.UUID | None] = mapped_column("
    'Uuid, ForeignKey("some_long_table_name.id", ondelete="SET NULL"), default=None)',
    '    __table_args__ = (Index(None, "owner_id", "created_at", "id"), '
    'Index(None, "parent_identifier", "created_at", "id"))',
    '    __table_args__ = (Index(None, "owner_id", "created_at", "id"), '
    'CheckConstraint("minutes_spent_on_it BETWEEN 1 AND 1440", name="minutes_spent_on_it_range"), '
    'Index(None, "parent_identifier", "created_at", "id"))',
    "async def get_a_rather_long_resource_name_here(id: uuid.UUID, "
    "service: PublicService, response: Response) -> Record:",
    "async def delete_an_even_longer_resource_name_that_goes_on(id: uuid.UUID, "
    "service: Service, if_match: IfMatch) -> None:",
    "async def list_things(page: PageDep, service: Service, "
    'kind_of_thing: Annotated[ThingKindOfThing | None, Query(description="Only things whose '
    '`kind_of_thing` is this.")] = None, other: Annotated[uuid.UUID | None, Query('
    'description="Only things whose `other` is this.")] = None) -> Page[Record]:',
    # a nested list: the parameters are split, not the return annotation's brackets
    "async def list_comments_in_ticket(ticket_id: uuid.UUID, page: PageDep, service: Service)"
    " -> Page[Record]:",
    "def only_one_parameter_but_a_very_long_one(the_parameter_with_a_long_name: "
    "Annotated[SomeTypeName, Depends(some_dependency_function)]) -> None:",
    '@router.get("/{id}", response_model=SomeLongResourceNameResponse, '
    "responses=problem_responses(400, 401, 404))",
    '    statuses = {"create": (201, 400, 401, 404), "get": (200, 400, 401, 404), '
    '"list": (200, 400, 401)}',
    '__all__ = ["Base", "Entity", "IdempotencyRecord", "OwnedEntity", "Project", '
    '"ProjectStatus", "RefreshToken", "Task", "User"]',
    "    return SomeLongServiceName(SomeLongRepositoryName(database_of(request), "
    "owner_id=user.id, unrestricted=user.is_superuser))",
    "class VeryLongModelNameForTestingService(CrudService[VeryLongModelNameForTesting, "
    "VeryLongModelNameForTestingCreate, VeryLongModelNameForTestingUpdate]):",
]


def test_wrap_lays_statements_out_as_ruff_format_does(tmp_path: Path) -> None:
    source = tmp_path / "statements.py"
    blocks = []
    for statement in STATEMENTS:
        text = wrap(statement)
        if text.rstrip().endswith(":"):
            text += "\n" + " " * (len(statement) - len(statement.lstrip()) + 4) + "pass"
        if text.startswith("@"):
            text += "\ndef decorated() -> None:\n    pass"
        if text.startswith(" "):
            text = "class Holder:\n" + text
        blocks.append(text)
    source.write_text("\n\n\n".join(blocks) + "\n", encoding="utf-8")

    found = _ruff("format", "--check", "--diff", str(source))

    assert found.returncode == 0, found.stdout


def test_import_block_sorts_as_ruff_does(tmp_path: Path) -> None:
    statements = [
        "from src.schemas.base import ResourceResponse",
        "import uuid",
        "from pydantic import Field",
        "from src.schemas.base import InputSchema, IsoDate, NoNul, DecimalString, JsonFloat",
        "from src.schemas.base import PlainDecimal, WholeNumber, IsoDateTime, JsonInt",
        "import sqlalchemy as sa",
        "from alembic import op",
        "from pydantic import MISSING, StrictInt",
        "from datetime import date",
        "import src.models.base",
        "from typing import Annotated",
    ]
    source = tmp_path / "imports.py"
    block = import_block(statements)
    uses = "\n".join(
        f"print({name})"
        for name in re.findall(r"(?:import |,\s*|\(\s*)([A-Za-z_][\w.]*)(?=,|\n|$)", block)
    )
    source.write_text(f"{block}\n\n{uses}\nprint(sa, uuid, src.models.base)\n", encoding="utf-8")

    found = _ruff("check", "--select", "I", "--diff", str(source))

    assert found.returncode == 0, found.stdout
    assert block.count("from src.schemas.base import (") == 1  # merged, then split at 100


# --------------------------------------------------------------- a project's own templates

ROUTE_MARK = "# our API review: {{ names.resource }}"


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy whose routes template marks every route, with a feature added."""
    from tests.engine.conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("overridden") / "project")
    copied = featwright(project, "templates", "copy", "routes.py.jinja")
    assert copied.returncode == 0, copied.stderr
    template = project / OVERRIDES / "routes.py.jinja"
    text = template.read_text(encoding="utf-8")
    template.write_text(
        text.replace("{% filter wrap %}\n@router.", f"{ROUTE_MARK}\n{{% filter wrap %}}\n@router."),
        encoding="utf-8",
    )
    assert featwright(project, "doc", "new", "labels").returncode == 0
    return project


def test_an_override_is_used_by_add_and_check_stays_green(overridden: Path) -> None:
    (doc,) = (overridden / "docs/features").glob("FEAT-*-labels.md")
    added = featwright(overridden, "add", str(doc))
    assert added.returncode == 0, added.stderr

    routes = (overridden / "src/api/v1/routes/labels.py").read_text(encoding="utf-8")
    assert routes.count("# our API review: labels\n@router.") == 5
    assert "# our API review" not in (overridden / "src/api/v1/routes/tasks.py").read_text(
        encoding="utf-8"
    )
    checked = featwright(overridden, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    linted = subprocess.run(
        [str(RUFF), "check", "src/api/v1/routes/labels.py"],
        cwd=overridden,
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout


def test_templates_list_shows_the_override_and_a_stray_file(overridden: Path) -> None:
    stray = overridden / OVERRIDES / "route.py.jinja"
    stray.write_text("typo\n", encoding="utf-8")
    try:
        listed = featwright(overridden, "templates", "list", env={"COLUMNS": "200"})
    finally:
        stray.unlink()

    assert listed.returncode == 0, listed.stderr
    rows = {
        line.split()[1]: line.split()[3]
        for line in listed.stdout.splitlines()
        if ".jinja" in line or ".md" in line
    }
    assert rows["routes.py.jinja"] == "featwright/templates/routes.py.jinja"
    assert rows["model.py.jinja"] == "built-in"
    assert "featwright/templates/route.py.jinja: overrides no template" in listed.stderr


def test_templates_copy_refuses_an_unknown_name_and_an_existing_copy(overridden: Path) -> None:
    unknown = featwright(overridden, "templates", "copy", "controller.rb.tt")
    again = featwright(overridden, "templates", "copy", "routes.py.jinja")

    assert unknown.returncode == 2
    assert "no template 'controller.rb.tt'; expected one of" in unknown.stderr
    assert "routes.py.jinja" in unknown.stderr
    assert again.returncode == 1
    assert "featwright/templates/routes.py.jinja exists; nothing written" in again.stderr


def _appended(text: str, addition: str) -> tuple[str, int | None]:
    return text + addition, text.count("\n") + 1


def _in_a_macro(text: str, addition: str) -> tuple[str, int | None]:
    """`addition` as the first line of the macro that creates a new doc's tables."""
    opening = "{% macro create_tables(tables, imports) %}\n"
    before = text[: text.index(opening) + len(opening)]
    return before + addition + text[len(before) :], before.count("\n") + 1


@pytest.mark.parametrize(
    ("template", "edit", "addition", "message"),
    [
        ("service.py.jinja", _appended, "{% endif %}\n", "Encountered unknown tag 'endif'"),
        ("service.py.jinja", _appended, "x = {{ no_such_name }}\n", "'no_such_name' is undefined"),
        ("migration_ops.jinja", _in_a_macro, "{{ no_such_name }}\n", "is undefined"),
        (
            "routes.py.jinja",
            _appended,
            "def broken(:\n",
            "renders src/api/v1/routes/labels.py that is not valid Python",
        ),
    ],
    ids=["syntax", "unknown-name", "in-an-imported-macro", "not-python"],
)
def test_a_broken_override_is_refused_with_its_line_and_nothing_written(
    tmp_path: Path, template: str, edit: Any, addition: str, message: str
) -> None:
    """The file and line named are the override's own, even for a file of macros another
    template imports; what is not valid Python is refused too; nothing is written."""
    from tests.engine.conftest import copy_project

    project = copy_project(tmp_path / "project")
    assert featwright(project, "doc", "new", "labels").returncode == 0
    override = project / OVERRIDES / template
    override.parent.mkdir(parents=True)
    builtin = (ROOT / "src/engine/templates" / template).read_text(encoding="utf-8")
    text, line = edit(builtin, addition)
    if "not valid Python" in message:
        line = None  # the template rendered: the problem is in what it wrote
    override.write_text(text, encoding="utf-8")
    (doc,) = (project / "docs/features").glob("FEAT-*-labels.md")
    before = snapshot(project)

    added = featwright(project, "add", str(doc))

    assert added.returncode == 2, added.stderr
    where = f"featwright/templates/{template}" + (f":{line}" if line else "")
    assert added.stderr.startswith(f"{where}: "), added.stderr
    assert message in added.stderr
    assert "nothing written" in added.stderr
    assert snapshot(project) == before


def test_the_doc_keeps_names_and_text_defaults_within_a_line(tmp_path: Path) -> None:
    """A field name past 40 characters, or a text default past 60, could not be written
    within 100 columns (a name or a string is never split): refused with the line."""
    long_name = "a" * 41
    rows = (
        f"| {long_name} | str(..40) | no | - | d |\n"
        f"| note | str(..200) | no | {'word ' * 12}end | d |\n"
    )
    doc = doc_in(tmp_path, "labels", rows, "", public=False)

    problems = [message for _, message in problems_of(doc)]

    assert f"field name {long_name!r} has 41 characters; expected at most 40" in problems[0]
    assert problems[1].startswith("note: a default of 63 characters; write one of at most 60")

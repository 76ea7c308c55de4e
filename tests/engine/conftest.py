"""Shared paths, fixtures and helpers of the design-doc engine tests: docs to write, a copy of
the project to run `featwright` in, and a database of each backend to drive it against."""

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from src.engine.doc import InvalidDoc, parse_doc
from src.engine.newdoc import new_doc
from tests.conftest import postgres_url

ROOT = Path(__file__).resolve().parents[2]
FEATURES = ROOT / "docs" / "features"
PROJECTS_DOC = FEATURES / "FEAT-001-projects.md"
TASKS_DOC = FEATURES / "FEAT-002-tasks.md"
FIXTURES = Path(__file__).parent / "docs"
ORDERS_DOC = FIXTURES / "FEAT-003-orders.md"
CATEGORIES_DOC = FIXTURES / "FEAT-004-categories.md"
APP_MODELS = frozenset({"User", "Project", "Task"})

RUFF = Path(sys.executable).with_name("ruff")
"""The dev install's ruff: the tests hold what the generator writes to it (`add` never runs it)."""

Edit = tuple[str, str]
WriteDoc = Callable[..., Path]


def edited(text: str, *edits: Edit) -> str:
    """`text` with each `old` replaced by `new`; every `old` must occur exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times, not once"
        text = text.replace(old, new)
    return text


@pytest.fixture
def write_doc(tmp_path: Path) -> WriteDoc:
    """Copy a doc (FEAT-001 by default) into tmp_path under its own name, edited."""

    def write(*edits: Edit, source: Path = PROJECTS_DOC) -> Path:
        path = tmp_path / source.name
        path.write_text(edited(source.read_text(encoding="utf-8"), *edits), encoding="utf-8")
        return path

    return write


def problems_of(path: Path, known_models: frozenset[str] = APP_MODELS) -> list[tuple[int, str]]:
    """(line, message) of every problem `parse_doc` reports; fails if the doc parses."""
    with pytest.raises(InvalidDoc) as error:
        parse_doc(path, known_models)
    return [(problem.line, problem.message) for problem in error.value.problems]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's tracked files, to run `featwright add` in."""
    return copy_project(tmp_path / "project")


def copy_project(copy: Path) -> Path:
    """The repository's tracked (and not ignored) files, copied to `copy`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            target = copy / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return copy


def featwright(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI of the copy (its own `src` package), as a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from src.cli import app; app()", *args],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project), "SECRET_KEY": "k" * 40, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def check_finds(project: Path, changed: dict[Path, str], *says: str) -> None:
    """`check` on the project with each file's text changed (restored after) exits 1 and
    shows each of `says`."""
    kept = {path: path.read_text(encoding="utf-8") for path in changed}
    try:
        for path, text in changed.items():
            path.write_text(text, encoding="utf-8")
        result = featwright(project, "check", env={"COLUMNS": "400"})
        assert result.returncode == 1, result.stdout + result.stderr
        for said in says:
            assert said in result.stdout, result.stdout
    finally:
        for path, text in kept.items():
            path.write_text(text, encoding="utf-8")


def ruff_findings(text: str, path: str, *args: str) -> str:
    """What `ruff ARGS` (`check`, or `format --check --diff`) finds in `text` as the
    project's file `path`, run from the project root with its rules; empty when nothing."""
    found = subprocess.run(
        [str(RUFF), *args, "--stdin-filename", path, "-"],
        cwd=ROOT,
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if found.returncode == 0 else found.stdout + found.stderr


def doc_in(
    directory: Path,
    resource: str,
    rows: str,
    filters: str = "",
    public: bool = False,
    patch: bool = False,
    expand: str = "",
) -> Path:
    """A new doc for `resource` in `directory` (as `doc new` writes it) whose fields are `rows`,
    its list filtered by `filters`; a create whose row has a reference documents the 404;
    with `patch`, a PATCH as the PUT is documented besides it; its GET and list take
    `expand (EXPAND)` when given."""
    doc = new_doc(resource, directory)
    text = doc.read_text(encoding="utf-8")
    params = "| Query Params | page (int, default 1), limit (int, default 20)"
    text = edited(text, ("| name | str(1..200) | yes | - | Display name |\n", rows))
    if filters:
        text = edited(text, (params + " |", f"{params}, {filters} |"))
    model = re.search(r"^### (\w+)$", text, re.MULTILINE)
    assert model is not None
    response = f"| Response 201 | {model[1]}Response |\n"
    if "ref(" in rows or "refs(" in rows:
        text = edited(text, (response, response + "| Response 404 | NotFoundError |\n"))
    if expand:
        item = f"| Auth | Required |\n| Response 200 | {model[1]}Response |\n"  # GET /{id}
        text = edited(
            text,
            (params, f"{params}, expand ({expand})"),
            (item, item.replace("| Response", f"| Query Params | expand ({expand}) |\n| Response")),
        )
    if public:  # the two reads public: the routes then document 401 route by route
        text = text.replace("| Auth | Required |", "| Auth | none |", 2)
        text = "### ".join(  # and answer no 401
            part.replace("| Response 401 | UnauthorizedError |\n", "")
            if "| Auth | none |" in part
            else part
            for part in text.split("### ")
        )
    if patch:
        start = text.index(f"### PUT /api/v1/{resource}/{{id}}")
        put = text[start : text.index("\n### ", start) + 1]
        text = text.replace(put, put + put.replace("### PUT ", "### PATCH ", 1))
    doc.write_text(text, encoding="utf-8")
    return doc


def revision(project: Path, later: int = 1) -> str:
    """The revision id the `later`-th migration written from now on will get: tests
    assume nothing of how many migrations the project has."""
    return f"{len(list((project / 'migrations/versions').glob('*.py'))) + later:04d}"


def snapshot(project: Path) -> dict[str, str]:
    return {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(project.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and "var" not in path.parts
    }


def new_doc_of(project: Path, resource: str) -> Path:
    """The doc `featwright doc new RESOURCE` wrote: tests assume nothing of which FEAT numbers
    the project's own features hold."""
    (doc,) = (project / "docs/features").glob(f"FEAT-*-{resource}.md")
    return doc


def docs_of(project: Path) -> list[Path]:
    return sorted((project / "docs/features").glob("FEAT-*.md"))


def built_record_of(project: Path, doc: Path) -> Path:
    return project / ".featwright/built" / f"{doc.stem}.json"


def write_feature_doc(project: Path, resource: str, rows: str) -> Path:
    """`featwright doc new RESOURCE`, its fields replaced by `rows` (which hold a `ref`, so the
    create also answers 404)."""
    made = featwright(project, "doc", "new", resource)
    assert made.returncode == 0, made.stderr
    doc = new_doc_of(project, resource)
    response = f"| Response 201 | {resource[:-1].capitalize()}Response |\n"
    doc.write_text(
        edited(
            doc.read_text(encoding="utf-8"),
            ("| name | str(1..200) | yes | - | Display name |\n", rows),
            (response, response + "| Response 404 | NotFoundError (the project) |\n"),
        ),
        encoding="utf-8",
    )
    return doc


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'generated.db'}"
        return
    problem = request.config.postgres_problem  # type: ignore[attr-defined]
    if problem is not None:
        message = f"PostgreSQL not reachable: {problem}"
        if os.environ.get("FEATWRIGHT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    server = postgres_url().rsplit("/", 1)[0]
    name = f"featwright_add_{uuid.uuid4().hex[:8]}"
    admin = server.replace("+asyncpg", "") + "/postgres"

    async def execute(sql: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def drive(
    project: Path, script: str, database_url: str, **environ: str
) -> subprocess.CompletedProcess[str]:
    """Runs `script` against the copy's app on `database_url`; fails the test if it fails."""
    driven = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={
            **os.environ,
            "PYTHONPATH": str(project),
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": database_url,
            **environ,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert driven.returncode == 0, driven.stderr[-3000:]
    return driven


def tool(project: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One of the virtualenv's tools (ruff, mypy, lint-imports) run in the copy."""
    return subprocess.run(
        [str(Path(sys.executable).with_name(name)), *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def assert_lint_clean(project: Path) -> None:
    """What `make lint` runs, in the copy, with mypy also on every migration and test module
    of `tests/features` (the generated ones)."""
    generated = [
        str(path.relative_to(project))
        for path in (
            *(project / "migrations/versions").glob("*.py"),
            *(project / "tests/features").glob("test_*.py"),
        )
    ]
    for name, args in (
        ("ruff", ("check", "src", "tests", "migrations")),
        ("ruff", ("format", "--check", "src", "tests", "migrations")),
        ("mypy", ("src", *generated)),
        ("lint-imports", ()),
    ):
        result = tool(project, name, *args)
        shown = f"{name} {' '.join(args[:1])}"
        assert result.returncode == 0, f"{shown}:\n{result.stdout}{result.stderr}"


def run_generated_tests(project: Path, *modules: Path) -> subprocess.CompletedProcess[str]:
    """Generated test modules (or any of the copy's), run in the copy on both backends (its
    own PostgreSQL database); fails the test if they fail."""
    server = postgres_url().rsplit("/", 1)[0]
    name = f"featwright_add_{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, modules)],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project), "TEST_DATABASE_URL": f"{server}/{name}"},
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    with contextlib.suppress(OSError):  # no server: the inner run skipped its PostgreSQL half
        asyncio.run(_drop_database(server, name))
    assert result.returncode == 0, result.stdout[-3000:]
    return result


async def _drop_database(server: str, name: str) -> None:
    connection = await asyncpg.connect(server.replace("+asyncpg", "") + "/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


_STAGES = """
import asyncio, json, os
import httpx
from alembic import command
from sqlalchemy import text
from src.core.migrations import alembic_config
from src.main import create_app

async def api(stage):
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        login = {"email": "stages@example.com", "password": "long enough pw"}
        await c.post("/api/v1/auth/register", json=login)
        form = {"username": login["email"], "password": login["password"]}
        token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
        h = {"Authorization": "Bearer " + token}
        if stage == "create":
CREATE
        listed = await c.get("LISTED?limit=100", headers=h)
        assert listed.status_code == 200, listed.text
        print(json.dumps(listed.json()["items"]))
    await app.state.database.bind.dispose()

async def sql(query):
    app = create_app()
    async with app.state.database.bind.begin() as connection:
        result = await connection.execute(text(query))
        rows = result.all() if result.returns_rows else []
    await app.state.database.bind.dispose()
    print(json.dumps([list(map(str, row)) for row in rows]))

def migrate(target):
    config = alembic_config(os.environ["DATABASE_URL"])
    config.attributes["configure_logger"] = False
    step = command.downgrade if target.startswith("-") else command.upgrade
    step(config, target)

stage = os.environ["STAGE"]
if stage.startswith(("SELECT", "UPDATE")):
    asyncio.run(sql(stage))
elif stage in ("head", "-1"):
    migrate(stage)
else:
    asyncio.run(api(stage))
"""


def stages_script(create: str, listed: str) -> str:
    """A script for `drive` that does what its STAGE says: `create` runs `create` (statements
    as the client `c` with the headers `h`) and then lists, `list` lists `listed` (printing its
    rows as JSON), `head` or `-1` migrates the copy's database up or down, and a `SELECT` or
    `UPDATE` runs as SQL (its rows printed as JSON)."""
    body = textwrap.indent(textwrap.dedent(create).strip("\n"), " " * 12)
    return _STAGES.replace("CREATE", body).replace("LISTED", listed)

"""`check_docs` and `featwright check`: the real docs match the app; each kind of drift is caught.

The check reads the app's OpenAPI document and its SQLAlchemy models; it never opens
the database, so the app here points at a SQLite file that is never created.
"""

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI, Response

from src.api.deps import CurrentUser
from src.api.problems import problem_responses
from src.core.config import Settings
from src.engine.check import Mismatch, check_docs
from src.engine.doc import parse_doc
from src.main import create_app
from src.models import Base, Project
from src.schemas.project import ProjectResponse
from tests.engine.conftest import (
    APP_MODELS,
    CATEGORIES_DOC,
    FEATURES,
    PROJECTS_DOC,
    ROOT,
    TASKS_DOC,
    Edit,
    edited,
)

FEATWRIGHT = Path(sys.executable).parent / "featwright"
SECRET_KEY = "x" * 40

Row = tuple[int, str, str]

PROJECTS_TEXT = PROJECTS_DOC.read_text(encoding="utf-8")
DELETE_SECTION = PROJECTS_TEXT[
    PROJECTS_TEXT.index("### DELETE /api/v1/projects/{id}") : PROJECTS_TEXT.index("## File Plan")
]
GET_ONE = "### GET /api/v1/projects/{id}\n| Aspect | Detail |\n|--------|--------|\n"
AUTH = "| Auth | Required (Bearer) |\n"
CREATED = "| Response 201 | ProjectResponse |\n"
DESCRIPTION_ROW = (
    "| description | str(..2000) | no | null | Free text. Nullable: `null` clears it |\n"
)
PRIORITY_ROW = (
    "| priority | int(1..5) | no | 3 | 1 is the highest. Not nullable."
    " SMALLINT with CHECK `priority BETWEEN 1 AND 5` (`ck_tasks_priority_range`) |\n"
)
TASK_CREATE_404 = (
    '| Response 404 | NotFoundError ("Project not found":'
    " `project_id` is no project of the caller, who owns the new task) |\n"
)
PATCH_SECTION = (
    "### PATCH /api/v1/projects/{id}\n| Aspect | Detail |\n|--------|--------|\n"
    "| Auth | Required |\n| Request | ProjectUpdate |\n| Response 200 | ProjectResponse |\n\n"
)


def settings(directory: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{directory / 'x.db'}",
        secret_key=SECRET_KEY,
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """One app for every doc-side test: none of them changes it."""
    return create_app(settings(tmp_path_factory.mktemp("app")))


@pytest.fixture
def fresh_app(tmp_path: Path) -> FastAPI:
    """An app of its own, for the tests that add routes to it."""
    return create_app(settings(tmp_path))


def check(app: FastAPI, *paths: Path) -> list[Mismatch]:
    return check_docs([parse_doc(path, APP_MODELS) for path in paths], app, Base, ROOT)


def rows(app: FastAPI, *paths: Path) -> list[Row]:
    return [(m.line, m.subject, m.problem) for m in check(app, *paths)]


def drifted(tmp_path: Path, source: Path, *edits: Edit) -> Path:
    path = tmp_path / source.name
    path.write_text(edited(source.read_text(encoding="utf-8"), *edits), encoding="utf-8")
    return path


def test_the_real_docs_match_the_app(app: FastAPI) -> None:
    assert check(app, PROJECTS_DOC, TASKS_DOC) == []
    assert check(app, PROJECTS_DOC) == []
    assert check(app, TASKS_DOC) == []


def test_the_check_reads_no_database(app: FastAPI, tmp_path: Path) -> None:
    check(app, PROJECTS_DOC, TASKS_DOC)
    database = Path(str(app.state.settings.database_url).removeprefix("sqlite+aiosqlite:///"))
    assert not database.exists()


@dataclass(frozen=True)
class Drift:
    source: Path
    edits: tuple[Edit, ...]
    expected: list[Row]


P, T = PROJECTS_DOC, TASKS_DOC
POST_P, GET_P, LIST_P = "POST /api/v1/projects", "GET /api/v1/projects/{id}", "GET /api/v1/projects"
PUT_P = "PUT /api/v1/projects/{id}"
REQUEST_ROW = (
    "| Request | ProjectUpdate (every field optional; omitted fields stay unchanged; `null` is"
    " accepted only for `description`; unknown fields are rejected; `{}` returns the project"
    " unchanged) |\n"
)

DRIFTS = {
    "status code changed": Drift(
        P,
        (("| Response 201 | ProjectResponse |", "| Response 200 | ProjectResponse |"),),
        [
            (31, POST_P, "doc lists Response 200, the route does not document it"),
            (31, POST_P, "the route documents 201, the doc does not list it"),
        ],
    ),
    "status added": Drift(
        P,
        ((CREATED, CREATED + "| Response 403 | ForbiddenError |\n"),),
        [(31, POST_P, "doc lists Response 403, the route does not document it")],
    ),
    "status removed": Drift(
        T,
        ((TASK_CREATE_404, ""),),
        [(33, "POST /api/v1/tasks", "the route documents 404, the doc does not list it")],
    ),
    "field dropped": Drift(
        P,
        ((DESCRIPTION_ROW, ""),),
        [(18, "Project.description", "column is not in the doc")],
    ),
    "another field dropped": Drift(
        T,
        ((PRIORITY_ROW, ""),),
        [(18, "Task.priority", "column is not in the doc")],
    ),
    "unknown field added": Drift(
        P,
        (("| created_at |", "| color | str(..20) | no | null | Colour |\n| created_at |"),),
        [(26, "Project.color", "no such column")],
    ),
    "length changed": Drift(
        P,
        (("| name | str(1..200) |", "| name | str(1..100) |"),),
        [
            (23, "Project.name", "column length is 200, doc says at most 100"),
            (23, "Project.name", "input rule maxLength is 200, doc says 100"),
        ],
    ),
    "minimum length changed": Drift(
        P,
        (("| name | str(1..200) |", "| name | str(2..200) |"),),
        [(23, "Project.name", "input rule minLength is 1, doc says 2")],
    ),
    "minimum length dropped": Drift(
        P,
        (("| name | str(1..200) |", "| name | str(..200) |"),),
        [(23, "Project.name", "input rule minLength is 1, doc says none")],
    ),
    "range changed": Drift(
        T,
        (("| priority | int(1..5) |", "| priority | int(0..10) |"),),
        [
            (26, "Task.priority", "input rule minimum is 1, doc says 0"),
            (26, "Task.priority", "input rule maximum is 5, doc says 10"),
        ],
    ),
    "int default changed": Drift(
        T,
        (("| priority | int(1..5) | no | 3 |", "| priority | int(1..5) | no | 4 |"),),
        [(26, "Task.priority", "default is '3', doc says '4'")],
    ),
    "bool default changed": Drift(
        T,
        (("| done | bool | no | false |", "| done | bool | no | true |"),),
        [(25, "Task.done", "default is 'false', doc says 'true'")],
    ),
    "enum default changed": Drift(
        P,
        (("| no | active |", "| no | archived |"),),
        [(25, "Project.status", "default is 'active', doc says 'archived'")],
    ),
    "made not nullable": Drift(
        P,
        (("| str(..2000) | no | null |", "| str(..2000) | yes | - |"),),
        [
            (24, "Project.description", "nullable is True, doc says False"),
            (24, "Project.description", "ProjectCreate makes it optional, doc says Required yes"),
        ],
    ),
    "made nullable": Drift(
        P,
        (("| name | str(1..200) | yes | - |", "| name | str(1..200) | no | null |"),),
        [
            (23, "Project.name", "nullable is False, doc says True"),
            (23, "Project.name", "ProjectCreate makes it required, doc says Required no"),
        ],
    ),
    "enum values changed": Drift(
        P,
        (("enum(active, archived)", "enum(active, archived, deleted)"),),
        [
            (
                25,
                "Project.status",
                "enum values are ('active', 'archived'),"
                " doc says ('active', 'archived', 'deleted')",
            )
        ],
    ),
    "bool type changed": Drift(
        T,
        # `false` stays a value of the new type: a default that is none is a doc error
        (("| done | bool |", "| done | str |"),),
        [(25, "Task.done", "type is Boolean(), doc says str")],
    ),
    "date type changed": Drift(
        T,
        (("| due_date | date |", "| due_date | datetime |"),),
        [(27, "Task.due_date", "type is Date(), doc says datetime")],
    ),
    "ref type changed": Drift(
        T,
        (("| project_id | ref(Project) |", "| project_id | str |"),),
        [(23, "Task.project_id", "type is Uuid(), doc says str")],
    ),
    "route made public in the doc": Drift(
        P,
        ((GET_ONE + AUTH, GET_ONE + "| Auth | None |\n"),),
        [
            (40, GET_P, "doc says Auth None, but the route requires auth"),
            (
                18,
                "Project",
                "readable_by_anyone is False, doc says its GETs are public, so anyone may"
                " refer to its rows",
            ),
        ],
    ),
    "request schema changed": Drift(
        P,
        (("| Request | ProjectCreate (", "| Request | ProjectUpdate ("),),
        [(31, POST_P, "doc says Request ProjectUpdate, the route takes ProjectCreate")],
    ),
    "request dropped": Drift(
        P,
        ((REQUEST_ROW, ""),),
        [(58, PUT_P, "doc says Request None, the route takes ProjectUpdate")],
    ),
    "query parameter added": Drift(
        P,
        (
            (
                "limit (int, default 20, 1..100) |",
                "limit (int, default 20, 1..100), status (enum) |",
            ),
        ),
        [(49, LIST_P, "doc lists query parameter 'status', the route has none")],
    ),
    "query parameter removed": Drift(
        T,
        ((", project_id (UUID, optional: only this project's tasks)", ""),),
        [
            (
                52,
                "GET /api/v1/tasks",
                "the route takes query parameter 'project_id', the doc does not list it",
            )
        ],
    ),
    "planned file missing": Drift(
        P,
        (("| src/services/project_service.py |", "| src/services/label_service.py |"),),
        [(84, "src/services/label_service.py", "file in the File Plan is missing")],
    ),
    "endpoint the app lacks": Drift(
        P,
        (("## File Plan", PATCH_SECTION + "## File Plan"),),
        [(77, "PATCH /api/v1/projects/{id}", "no such route in the app")],
    ),
    "path the app lacks": Drift(
        P,
        (("### PUT /api/v1/projects/{id}", "### PUT /api/v1/projects/{id}/name"),),
        [
            (58, "PUT /api/v1/projects/{id}/name", "no such route in the app"),
            (0, PUT_P, "route in the app is not in the doc"),
        ],
    ),
    "endpoint removed from the doc": Drift(
        P,
        ((DELETE_SECTION, ""),),
        [(0, "DELETE /api/v1/projects/{id}", "route in the app is not in the doc")],
    ),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_drift_in_the_doc_is_caught(app: FastAPI, tmp_path: Path, name: str) -> None:
    drift = DRIFTS[name]
    path = drifted(tmp_path, drift.source, *drift.edits)
    found = check(app, path)
    assert [(m.line, m.subject, m.problem) for m in found] == drift.expected
    assert {m.doc for m in found} == {path}


def test_only_the_drifted_doc_is_reported(app: FastAPI, tmp_path: Path) -> None:
    path = drifted(tmp_path, TASKS_DOC, ("| done | bool |", "| done | str |"))
    found = check(app, PROJECTS_DOC, path)
    assert [(m.doc, m.line, m.subject) for m in found] == [(path, 25, "Task.done")]


def test_several_drifts_in_one_doc_are_all_reported(app: FastAPI, tmp_path: Path) -> None:
    names = ("status code changed", "field dropped", "planned file missing")
    edits = [edit for name in names for edit in DRIFTS[name].edits]
    path = drifted(tmp_path, PROJECTS_DOC, *edits)
    assert [subject for _, subject, _ in rows(app, path)] == [
        POST_P,
        POST_P,
        "Project.description",
        "src/services/label_service.py",
    ]


def test_a_doc_for_a_feature_the_app_does_not_have(app: FastAPI) -> None:
    missing = [
        "src/models/category.py",
        "src/schemas/category.py",
        "src/repositories/category_repo.py",
        "src/services/category_service.py",
        "src/api/v1/routes/categories.py",
    ]
    assert rows(app, CATEGORIES_DOC) == [
        (23, "GET /api/v1/categories/{id}", "no such route in the app"),
        (30, "GET /api/v1/categories", "no such route in the app"),
        (38, "POST /api/v1/categories", "no such route in the app"),
        (48, "PATCH /api/v1/categories/{id}", "no such route in the app"),
        (8, "Category", "no such model in src/models"),
        *[(63 + i, path, "file in the File Plan is missing") for i, path in enumerate(missing)],
    ]


def test_changing_an_enum_to_str_is_caught(app: FastAPI, tmp_path: Path) -> None:
    """The column is an Enum (a String subclass in SQLAlchemy), the doc says plain str."""
    path = drifted(
        tmp_path, PROJECTS_DOC, ("| status | enum(active, archived) |", "| status | str |")
    )
    assert [subject for _, subject, _ in rows(app, path)] == ["Project.status"]


def test_a_ref_to_another_model_is_caught(app: FastAPI, tmp_path: Path) -> None:
    """tasks.project_id references projects.id; the doc saying ref(Task) is drift."""
    path = drifted(
        tmp_path,
        TASKS_DOC,
        ("| project_id | ref(Project) | yes | - |", "| project_id | ref(Task) | no | null |"),
    )
    found = rows(app, path)
    assert {subject for _, subject, _ in found} == {"Task.project_id"}
    assert any("references projects, doc says ref(Task)" in p for _, _, p in found), found


def test_making_an_optional_field_required_is_caught(app: FastAPI, tmp_path: Path) -> None:
    """The doc drops the default and requires the field; the app still defaults it."""
    path = drifted(
        tmp_path,
        PROJECTS_DOC,
        ("| enum(active, archived) | no | active |", "| enum(active, archived) | yes | - |"),
    )
    assert [subject for _, subject, _ in rows(app, path)] == ["Project.status"]


# Drift from the app side: routes added to (or overriding) the built app.


def _include(app: FastAPI, router: APIRouter) -> None:
    app.include_router(router)
    app.openapi_schema = None


def test_an_undocumented_route_under_a_documented_id(fresh_app: FastAPI) -> None:
    router = APIRouter(prefix="/api/v1/projects")

    @router.post("/{id}/archive", responses=problem_responses(404))
    async def archive_project(id: uuid.UUID) -> dict[str, str]:
        return {}

    _include(fresh_app, router)
    found = check(fresh_app, PROJECTS_DOC, TASKS_DOC)
    assert [(m.doc, m.line, m.subject, m.problem) for m in found] == [
        (
            PROJECTS_DOC,
            0,
            "POST /api/v1/projects/{id}/archive",
            "route in the app is not in the doc",
        )
    ]


def test_an_undocumented_route_under_the_collection(fresh_app: FastAPI) -> None:
    router = APIRouter(prefix="/api/v1/projects")

    @router.get("/export")
    async def export_projects() -> dict[str, str]:
        return {}

    _include(fresh_app, router)
    assert rows(fresh_app, PROJECTS_DOC) == [
        (0, "GET /api/v1/projects/export", "route in the app is not in the doc")
    ]


def test_a_route_made_public_in_the_app(fresh_app: FastAPI) -> None:
    """A later route for the same method and path replaces the operation in OpenAPI."""
    router = APIRouter(prefix="/api/v1/projects")

    @router.get("/{id}", response_model=ProjectResponse, responses=problem_responses(400, 404))
    async def get_project_publicly(id: uuid.UUID) -> None:
        return None

    _include(fresh_app, router)
    assert rows(fresh_app, PROJECTS_DOC) == [
        (40, GET_P, "doc says Auth Required, but the route is public"),
        (40, GET_P, "doc lists Response 401, the route does not document it"),
    ]


def test_a_documented_status_dropped_from_the_app(fresh_app: FastAPI) -> None:
    router = APIRouter(prefix="/api/v1/projects")

    @router.delete(
        "/{id}", status_code=204, response_class=Response, responses=problem_responses(400, 401)
    )
    async def delete_project_without_404(id: uuid.UUID, user: CurrentUser) -> None:
        return None

    _include(fresh_app, router)
    assert rows(fresh_app, PROJECTS_DOC) == [
        (
            68,
            "DELETE /api/v1/projects/{id}",
            "doc lists Response 404, the route does not document it",
        )
    ]


# The `featwright check` command, run for real. The runs are slow to start (the CLI
# imports the whole app), so all of them run at once, in parallel, for this module.


@dataclass(frozen=True)
class CliRuns:
    clean: subprocess.CompletedProcess[str]
    drifted: subprocess.CompletedProcess[str]
    invalid: subprocess.CompletedProcess[str]
    missing: subprocess.CompletedProcess[str]
    drifted_path: Path
    invalid_path: Path
    missing_path: Path


def _run(directory: Path, args: list[str], columns: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{directory / 'cli.db'}",
        "SECRET_KEY": SECRET_KEY,
        "NO_COLOR": "1",
        "TERM": "dumb",
    }
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns
    return subprocess.run(
        [str(FEATWRIGHT), "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRuns]:
    directory = tmp_path_factory.mktemp("cli")
    (directory / "drifted").mkdir()
    (directory / "invalid").mkdir()
    drifted_path = drifted(
        directory / "drifted", PROJECTS_DOC, *DRIFTS["status code changed"].edits
    )
    invalid_path = drifted(
        directory / "invalid",
        PROJECTS_DOC,
        ("# FEAT-001 Design: Projects", "# Projects"),
        ("| name | str(1..200) |", "| name | string(1..200) |"),
    )
    missing_path = directory / "FEAT-404-nothing.md"
    runs = [
        ([], "300"),
        ([str(drifted_path)], "300"),
        ([str(invalid_path)], None),  # as in CI or a pipe: no COLUMNS, no terminal
        ([str(missing_path)], "300"),
    ]
    with ThreadPoolExecutor(len(runs)) as pool:
        futures = [pool.submit(_run, directory, args, columns) for args, columns in runs]
        clean, drift, invalid, missing = (future.result() for future in futures)
    yield CliRuns(clean, drift, invalid, missing, drifted_path, invalid_path, missing_path)
    assert not (directory / "cli.db").exists()


def test_cli_check_is_green_on_the_repository(cli: CliRuns) -> None:
    count = len(list(FEATURES.glob("FEAT-*.md")))
    assert cli.clean.returncode == 0, cli.clean.stdout + cli.clean.stderr
    assert f"{count} design docs match the app" in cli.clean.stdout


def test_cli_check_prints_the_mismatches_and_exits_1(cli: CliRuns) -> None:
    result = cli.drifted
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Design docs vs the app" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "POST /api/v1/projects" in line]
    assert len(rows) == 2
    assert all(str(cli.drifted_path) in row and " 31 " in row for row in rows)
    assert "doc lists Response 200, the route does not document it" in rows[0]
    assert "the route documents 201, the doc does not list it" in rows[1]
    assert "match the app" not in result.stdout


def test_cli_check_reports_an_invalid_doc_and_exits_2(cli: CliRuns) -> None:
    result = cli.invalid
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    text = " ".join(result.stderr.split())  # however the lines were wrapped
    path = cli.invalid_path
    assert f"{path}:1: title is 'Projects'; expected '# FEAT-NNN Design: Name'" in text
    assert f"{path}:23: unknown type 'string(1..200)'; expected one of: UUID, str," in text
    assert text.index(f"{path}:1:") < text.index(f"{path}:23:")


def test_cli_check_prints_one_problem_per_line(cli: CliRuns) -> None:
    """`path:line: message` lines stay whole when stderr is no terminal (CI logs, pipes)."""
    lines = cli.invalid.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{cli.invalid_path}:1",
        f"{cli.invalid_path}:23",
    ]


def test_cli_check_exits_2_for_a_doc_that_does_not_exist(cli: CliRuns) -> None:
    result = cli.missing
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{cli.missing_path}: no such file" in " ".join(result.stderr.split())
    assert "match the app" not in result.stdout


def test_a_model_anyone_may_refer_to_is_drift_when_its_gets_are_not_public(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other way from "route made public in the doc": the model says anyone may refer to
    its rows, the doc's GETs say no one but the owner may read them."""
    monkeypatch.setattr(Project, "readable_by_anyone", True)
    assert rows(app, PROJECTS_DOC) == [
        (18, "Project", "readable_by_anyone is True, doc says its GETs are not public")
    ]

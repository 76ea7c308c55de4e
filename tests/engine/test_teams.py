"""Teams in design docs (`Access: shared`, `Access: through project_id`, `ref(User)` to
members, `current user` as an author's Default): parsed and refused with the line; compared
by `check` both ways; the project's own projects made shared by `add` on the changed doc,
keeping every row; one statement per request on PostgreSQL.

The full team example (docs/examples/team/) is added, tested on both backends (its assignee
optional, then required) and fuzzed in test_example_doc.py; its generated tests hold the role
matrix (tests/crud_contract.py `TeamContract`)."""

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from src.engine.doc import parse_doc
from tests.engine.conftest import (
    APP_MODELS,
    ROOT,
    check_finds,
    copy_project,
    drive,
    edited,
    featwright,
    problems_of,
    run_generated_tests,
    snapshot,
    stages_script,
)

TEAM = ROOT / "docs/examples/team"
SHARED_DOCS = ("FEAT-001-projects.md", "FEAT-002-tasks.md")
COMMENTS = "FEAT-006-comments.md"


def _line(doc: Path, text: str) -> int:
    lines = doc.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(text))


# -------------------------------------------------------------------------- parsing


def test_access_lines_parse_into_shared_and_through_models() -> None:
    projects = parse_doc(TEAM / "FEAT-001-projects.md", APP_MODELS)
    tasks = parse_doc(TEAM / "FEAT-002-tasks.md", APP_MODELS)
    comments = parse_doc(TEAM / COMMENTS, APP_MODELS | {"Comment"})
    (project,), (task,), (comment,) = projects.models, tasks.models, comments.models
    assert (project.shared, project.through) == (True, None)
    assert (task.shared, task.through) == (False, "project_id")
    assert comment.through == "task_id"
    assert [f.name for f in task.fields if f.authored] == ["author_id"]
    assignee = task.field("assignee_id")
    assert assignee is not None
    assert (assignee.type.ref, assignee.nullable) == ("User", True)


SHARED_DOC = (TEAM / "FEAT-001-projects.md").read_text(encoding="utf-8")
TASKS_DOC = (TEAM / "FEAT-002-tasks.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("doc", "edit", "said"),
    [
        (
            SHARED_DOC,
            ("Access: shared", "Access: public"),
            "'Access: public' under model Project; expected 'Access: shared'",
        ),
        (
            TASKS_DOC,
            ("Access: through project_id", "Access: through title"),
            "Task is 'through title', which is no ref field of Task to a shared model",
        ),
        (
            TASKS_DOC,
            ("| project_id | ref(Project) | yes |", "| project_id | ref(Project) | no |"),
            "Task.project_id decides who reads and writes each row, so every row needs one",
        ),
        (
            SHARED_DOC,
            ("| status |", "| role |"),
            "Project is shared, and each of its rows answers the caller's 'role'",
        ),
    ],
)
def test_a_bad_access_is_refused_with_its_line(
    tmp_path: Path, doc: str, edit: tuple[str, str], said: str
) -> None:
    path = tmp_path / "FEAT-009-doc.md"
    path.write_text(edited(doc, edit), encoding="utf-8")
    problems = problems_of(path)
    lines = [line for line, message in problems if said in message]
    assert lines, problems
    assert lines[0] in (_line(path, edit[1]), _line(path, "### ") + 1), (lines, problems)


def test_a_person_is_referred_to_only_in_a_teams_rows(tmp_path: Path) -> None:
    """`ref(User)` on a model whose rows are its owner's alone: the user could never be a
    member of anything the row is in."""
    owned = (ROOT / "docs/features/FEAT-002-tasks.md").read_text(encoding="utf-8")
    row = "| due_date | date | no | null |"
    path = tmp_path / "FEAT-009-tasks.md"
    path.write_text(
        edited(owned, (row, "| helper_id | ref(User) | no | null | Who helps |\n" + row)),
        encoding="utf-8",
    )
    problems = problems_of(path)
    assert (
        _line(path, "| helper_id"),
        "Task.helper_id refers to a user, but Task's rows are its owner's alone; expected"
        " 'Access: shared' or 'Access: through <ref field>' under its heading, so the user"
        " can be a member",
    ) in problems


def test_through_that_leads_back_to_itself_is_refused(tmp_path: Path) -> None:
    text = (TEAM / COMMENTS).read_text(encoding="utf-8")
    looped = edited(
        text,
        (
            "| body | str(1..2000) | yes | - |",
            "| reply_to | ref(Comment) | yes | - | x |\n| body | str(1..2000) | yes | - |",
        ),
        ("Access: through task_id\n", "Access: through reply_to\n"),
    )
    path = tmp_path / COMMENTS
    path.write_text(looped, encoding="utf-8")
    problems = problems_of(path)
    said = "Comment -> Comment: 'through' leads back to Comment"
    assert any(said in message for _, message in problems), problems


# ------------------------------------------------------------------ a team, added


@dataclass(frozen=True)
class Team:
    project: Path


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Team:
    """A copy of the project with FEAT-001 made shared, FEAT-002 through its project, and the
    comments doc added."""
    project = copy_project(tmp_path_factory.mktemp("team") / "project")
    for name in (*SHARED_DOCS, COMMENTS):
        (project / "docs/features" / name).write_text(
            (TEAM / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
        added = featwright(project, "add", f"docs/features/{name}")
        assert added.returncode == 0, added.stdout + added.stderr
    return Team(project)


def test_check_compares_access_both_ways(team: Team) -> None:
    project = team.project
    assert featwright(project, "check").returncode == 0
    model, tasks = project / "src/models/project.py", project / "src/models/task.py"
    routes = project / "src/api/v1/routes/projects.py"
    members = '\n\nadd_member_routes(router, Project, "project_id")\n'
    check_finds(
        project,
        {
            model: edited(model.read_text("utf-8"), ("    members = project_members\n", "")),
            routes: edited(routes.read_text("utf-8"), (members, "\n")),
        },
        "the model has no members table, doc says Access: shared",
        "the app does not serve GET /api/v1/projects/{project_id}/members",
    )
    check_finds(
        project,
        {tasks: edited(tasks.read_text("utf-8"), ('    through = "project_id"\n', ""))},
        "the model is through None, doc says through project_id",
    )
    doc = project / "docs/features/FEAT-001-projects.md"
    check_finds(
        project,
        {doc: edited(doc.read_text("utf-8"), ("Access: shared\n", ""))},
        "the model has a members table, doc says Access: the owner only",
        "the app serves POST /api/v1/projects/{project_id}/members",
    )
    authored = '    authored = ("author_id",)\n'
    check_finds(
        project,
        {tasks: edited(tasks.read_text("utf-8"), (authored, ""))},
        "author_id: the model does not set it to the creator, doc says current user",
    )
    assert featwright(project, "check").returncode == 0


def test_add_again_changes_nothing(team: Team) -> None:
    before = snapshot(team.project)
    for name in (*SHARED_DOCS, COMMENTS):
        again = featwright(team.project, "add", f"docs/features/{name}")
        assert "nothing to change" in again.stdout, again.stdout + again.stderr
    assert snapshot(team.project) == before


# --------------------------------------------------- owned rows made shared, kept

DRIVE = stages_script(
    """
    for name in ("one", "two"):
        made = await c.post("/api/v1/projects", json={"name": name}, headers=h)
        assert made.status_code == 201, made.text
    project = made.json()["id"]
    task = {"project_id": project, "title": "kept"}
    assert (await c.post("/api/v1/tasks", json=task, headers=h)).status_code == 201
    """,
    "/api/v1/projects",
)


def _stage(project: Path, url: str, stage: str) -> list[object]:
    done = drive(project, DRIVE, url, STAGE=stage)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "[]"
    return list(json.loads(last))


def test_owned_projects_made_shared_keep_every_row_and_their_owner_is_admin(
    project: Path, database_url: str
) -> None:
    _stage(project, database_url, "head")
    before = _stage(project, database_url, "create")
    assert [row["name"] for row in before] == ["one", "two"]  # type: ignore[index]
    for name in SHARED_DOCS:
        (project / "docs/features" / name).write_text(
            (TEAM / name).read_text(encoding="utf-8"), encoding="utf-8"
        )
        added = featwright(project, "add", f"docs/features/{name}")
        assert added.returncode == 0, added.stdout + added.stderr
    _stage(project, database_url, "head")
    after = _stage(project, database_url, "list")
    assert [(r["id"], r["name"], r["role"]) for r in after] == [  # type: ignore[index]
        (r["id"], r["name"], "admin")
        for r in before  # type: ignore[index]
    ]
    members = _stage(
        project,
        database_url,
        "SELECT m.role, CASE WHEN m.user_id = p.owner_id THEN 'owner' END"
        " FROM project_members m JOIN projects p ON p.id = m.project_id",
    )
    assert members == [["admin", "owner"], ["admin", "owner"]]
    authors = "SELECT title, CASE WHEN author_id = owner_id THEN 'owner' END FROM tasks"
    assert _stage(project, database_url, authors) == [["kept", "owner"]]
    _stage(project, database_url, "-1")  # back to tasks as they were: the rows stay
    _stage(project, database_url, "-1")  # projects no longer shared
    kept = _stage(project, database_url, "SELECT name FROM projects ORDER BY name")
    assert kept == [["one"], ["two"]]


# ------------------------------------------------------------------- round trips

ROUND_TRIPS = '''"""On a shared project and the tasks inside it, each request is one statement: the
membership check is part of it."""

from typing import Any

import httpx

from tests.crud_contract import create_row
from tests.live_server import sign_up
from tests.reliability.test_round_trips import Counter, _kinds, cluster, served

__all__ = ["cluster", "served"]
API = "/api/v1"


async def _counted(counter: Counter, request: Any) -> tuple[httpx.Response, list[str]]:
    await counter.reset()
    answer = await request
    return answer, _kinds(await counter.statements())


async def test_each_request_on_a_teams_rows_is_one_statement(
    served: tuple[httpx.AsyncClient, Counter],
) -> None:
    client, counter = served
    headers = await sign_up(client)
    for _ in range(3):  # warm every pooled connection and statement
        task = await create_row(client, headers, "tasks")
        await client.get(f"{API}/tasks/{task['id']}", headers=headers)
        await client.get(f"{API}/projects/{task['project_id']}", headers=headers)
        await client.get(f"{API}/tasks?limit=20", headers=headers)
        await client.get(f"{API}/projects?limit=20", headers=headers)
        await client.put(f"{API}/tasks/{task['id']}", json={"title": "t"}, headers=headers)
        project = f"{API}/projects/{task['project_id']}"
        await client.put(project, json={"name": "p"}, headers=headers)
    body = {"project_id": task["project_id"], "title": "x"}
    for method, url, sent in (
        ("POST", f"{API}/projects", {"name": "p"}),
        ("POST", f"{API}/tasks", body),
        ("GET", f"{API}/tasks/{task['id']}", None),
        ("GET", f"{API}/projects/{task['project_id']}", None),
        ("GET", f"{API}/tasks?limit=20", None),
        ("GET", f"{API}/projects?limit=20", None),
        ("PUT", f"{API}/tasks/{task['id']}", {"title": "changed"}),
        ("PUT", f"{API}/projects/{task['project_id']}", {"name": "changed"}),
        ("DELETE", f"{API}/tasks/{task['id']}", None),
    ):
        request = client.request(method, url, json=sent, headers=headers)
        answer, kinds = await _counted(counter, request)
        assert answer.status_code < 300, (method, url, answer.text)
        assert len(kinds) == 1, (method, url, kinds)
'''


def test_each_request_on_a_teams_rows_is_one_statement(team: Team) -> None:
    trips = team.project / "tests/reliability/test_team_round_trips.py"
    trips.write_text(ROUND_TRIPS, encoding="utf-8")
    result = run_generated_tests(team.project, trips)
    assert " passed" in result.stdout, result.stdout[-500:]
    assert "skipped" not in result.stdout, result.stdout[-500:]


# ------------------------------------------ references between a team's rows

TREE = """
import asyncio, os
import httpx
from alembic import command
from src.core.migrations import alembic_config
from src.main import create_app

config = alembic_config(os.environ["DATABASE_URL"])
config.attributes["configure_logger"] = False
command.upgrade(config, "head")

async def main():
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        login = {"email": "tree@example.com", "password": "long enough pw"}
        await c.post("/api/v1/auth/register", json=login)
        form = {"username": login["email"], "password": login["password"]}
        token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
        h = {"Authorization": "Bearer " + token}

        async def made(path, body):
            answer = await c.post(path, json=body, headers=h)
            assert answer.status_code == 201, answer.text
            return answer.json()["id"]

        a = await made("/api/v1/projects", {"name": "a"})
        b = await made("/api/v1/projects", {"name": "b"})
        a1 = await made("/api/v1/tasks", {"project_id": a, "title": "a1"})
        b1 = await made("/api/v1/tasks", {"project_id": b, "title": "b1"})
        a2 = await made("/api/v1/tasks", {"project_id": a, "title": "a2", "parent_id": a1})
        across = await c.put(f"/api/v1/tasks/{a1}", json={"parent_id": b1}, headers=h)
        assert (across.status_code, across.json()["detail"]) == (404, "Task not found"), across.text
        made_across = await c.post(
            "/api/v1/tasks", json={"project_id": a, "title": "x", "parent_id": b1}, headers=h
        )
        assert made_across.status_code == 404, made_across.text
        loop = await c.put(f"/api/v1/tasks/{a1}", json={"parent_id": a2}, headers=h)
        assert loop.status_code == 400, loop.text
        assert loop.json()["errors"][0]["rule"] == "acyclic", loop.text
        itself = await c.put(f"/api/v1/tasks/{a1}", json={"parent_id": a1}, headers=h)
        assert itself.status_code == 400, itself.text
        moved = await c.put(f"/api/v1/tasks/{a2}", json={"project_id": b}, headers=h)
        assert moved.status_code == 404, moved.text  # its parent stays in project a
        print("tree ok")
    await app.state.database.bind.dispose()

asyncio.run(main())
"""


def test_a_reference_between_a_teams_rows_stays_in_its_container_and_never_loops(
    project: Path, database_url: str
) -> None:
    """A task's parent is a task of the same project (a member of both gets 404 for one of
    another), and never the task itself or one below it: the check is in the statement."""
    tasks = (TEAM / "FEAT-002-tasks.md").read_text(encoding="utf-8")
    row = "| done | bool | no | false |"
    parent = "| parent_id | ref(Task) | no | null | The task this one is part of |\n"
    for name, text in (
        ("FEAT-001-projects.md", (TEAM / "FEAT-001-projects.md").read_text(encoding="utf-8")),
        ("FEAT-002-tasks.md", edited(tasks, (row, parent + row))),
    ):
        (project / "docs/features" / name).write_text(text, encoding="utf-8")
        added = featwright(project, "add", f"docs/features/{name}")
        assert added.returncode == 0, added.stdout + added.stderr
    assert "tree ok" in drive(project, TREE, database_url).stdout

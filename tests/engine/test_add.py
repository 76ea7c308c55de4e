"""`featwright add`: byte-stable output, safety, and a generated feature served end to end."""

import asyncio
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from src.core.config import Settings
from src.engine.doc import parse_doc
from src.engine.evolve import built_path, built_record
from src.engine.generate import render_feature
from tests.engine.conftest import (
    APP_MODELS,
    PROJECTS_DOC,
    ROOT,
    TASKS_DOC,
    built_record_of,
    docs_of,
    drive,
    edited,
    featwright,
    new_doc_of,
    revision,
    run_generated_tests,
    snapshot,
    write_feature_doc,
)
from tests.reliability.test_schemathesis import fuzz


def _operations_of_the_app() -> int:
    """The operations this project serves before a feature is added, whatever it has."""
    from src.main import create_app

    settings = Settings(_env_file=None, secret_key="x" * 43)  # type: ignore[call-arg]
    document = create_app(settings).openapi()
    return sum(len(operations) for operations in document["paths"].values())


LABELS_ROWS = (
    "| name | str(1..50) | yes | - | Display name |\n"
    "| color | enum(red, green, blue) | no | red | Colour |\n"
    "| weight | int(0..100) | no | 0 | Sort weight |\n"
    "| project_id | ref(Project) | yes | - | The labelled project |\n"
)


@pytest.mark.parametrize("doc", [PROJECTS_DOC, TASKS_DOC], ids=["FEAT-001", "FEAT-002"])
def test_reference_features_are_exactly_the_generators_output(doc: Path) -> None:
    files = render_feature(parse_doc(doc, APP_MODELS), ROOT)

    assert len(files) == 8
    for path, text in files.items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path} differs"
    record = (ROOT / built_path(doc)).read_text(encoding="utf-8")
    assert record == built_record(doc.read_text(encoding="utf-8"), files)


def write_labels_doc(project: Path) -> Path:
    return write_feature_doc(project, "labels", LABELS_ROWS)


def test_an_invalid_doc_writes_nothing(project: Path) -> None:
    doc = write_labels_doc(project)
    doc.write_text(doc.read_text().replace("| color | enum(", "| color | colour("))
    before = snapshot(project)

    result = featwright(project, "add", str(doc))

    assert result.returncode == 2
    assert f"{doc.name}:24: unknown type 'colour(red, green, blue)'" in result.stderr
    assert snapshot(project) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("### DELETE /api/v1/labels/{id}", "### DELETE /api/v1/labels/{id}/all"),
            "is not a CRUD operation of this doc's models; expected one of",
        ),
        (("| Auth | Required (Bearer) |", "| Auth | None |"), "is public; expected Auth Required"),
        (
            ("| 2 | src/schemas/label.py | CREATE | Pydantic schemas |\n", ""),
            "File Plan lacks src/schemas/label.py",
        ),
    ],
    ids=["not CRUD", "public", "plan incomplete"],
)
def test_what_cannot_be_generated_is_refused_and_nothing_written(
    project: Path, edit: tuple[str, str], message: str
) -> None:
    doc = write_labels_doc(project)
    doc.write_text(edited(doc.read_text(encoding="utf-8"), edit), encoding="utf-8")
    before = snapshot(project)

    result = featwright(project, "add", str(doc))

    assert result.returncode == 2
    assert message in result.stderr
    assert snapshot(project) == before


def test_add_is_idempotent_keeps_hand_edits_and_force_overwrites(project: Path) -> None:
    doc = write_labels_doc(project)
    first = featwright(project, "add", str(doc))
    assert first.returncode == 0, first.stderr
    migrations = sorted((project / "migrations/versions").glob("*labels*.py"))
    assert len(migrations) == 1
    assert built_record_of(project, doc).exists()
    after_first = snapshot(project)

    again = featwright(project, "add", str(doc))
    assert (again.returncode, snapshot(project)) == (0, after_first)
    assert "nothing to change" in again.stdout

    model = project / "src/models/label.py"
    model.write_text(model.read_text() + "# my note\n")
    edited_tree = snapshot(project)
    kept = featwright(project, "add", str(doc))
    assert (kept.returncode, snapshot(project)) == (0, edited_tree), kept.stderr
    assert "nothing to change" in kept.stdout

    dry = featwright(project, "add", str(doc), "--dry-run", "--force")
    assert dry.returncode == 0
    assert "-# my note" in dry.stdout
    assert snapshot(project) == edited_tree

    forced = featwright(project, "add", str(doc), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "# my note" not in model.read_text()
    backups = list((project / ".featwright/backup").glob("*/src/models/label.py"))
    assert [path.read_text() for path in backups] == [model.read_text() + "# my note\n"]


DRIVE = textwrap.dedent(
    """
    import asyncio, os, sys, uuid
    import httpx
    from alembic import command
    from src.core.migrations import alembic_config
    from src.main import create_app

    async def main():
        url = os.environ["DATABASE_URL"]
        config = alembic_config(url)
        config.attributes["configure_logger"] = False
        await asyncio.to_thread(command.upgrade, config, "head")
        app = create_app()
        seen = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            def check(response, status):
                assert response.status_code == status, (response.request.url, response.text)
                seen.append(status)
                return response
            email = f"{uuid.uuid4().hex}@example.com"
            check(await c.post("/api/v1/auth/register",
                               json={"email": email, "password": "long enough pw"}), 202)
            token = check(await c.post("/api/v1/auth/token",
                          data={"username": email, "password": "long enough pw"}), 200)
            h = {"Authorization": "Bearer " + token.json()["access_token"]}
            project = check(await c.post("/api/v1/projects", json={"name": "p"}, headers=h), 201)
            body = {"name": "urgent", "project_id": project.json()["id"]}
            check(await c.post("/api/v1/labels", json=body), 401)
            check(await c.post("/api/v1/labels", json={"name": ""}, headers=h), 400)
            check(await c.post("/api/v1/labels", json={**body, "project_id": str(uuid.uuid4())},
                               headers=h), 404)
            label = check(await c.post("/api/v1/labels", json=body, headers=h), 201).json()
            assert (label["color"], label["weight"]) == ("red", 0), label
            check(await c.get(f"/api/v1/labels/{label['id']}", headers=h), 200)
            check(await c.get(f"/api/v1/labels/{uuid.uuid4()}", headers=h), 404)
            check(await c.get("/api/v1/labels/nope", headers=h), 400)
            page = check(await c.get("/api/v1/labels?limit=1", headers=h), 200).json()
            assert (page["total"], page["pages"]) == (1, 1), page
            check(await c.get("/api/v1/labels?limit=101", headers=h), 400)
            updated = check(await c.put(f"/api/v1/labels/{label['id']}",
                                        json={"weight": 7}, headers=h), 200).json()
            assert updated["weight"] == 7 and updated["name"] == "urgent"
            check(await c.put(f"/api/v1/labels/{uuid.uuid4()}", json={}, headers=h), 404)
            check(await c.put(f"/api/v1/labels/{label['id']}", json={"id": "x"}, headers=h), 400)
            check(await c.delete(f"/api/v1/labels/{label['id']}", headers=h), 204)
            check(await c.delete(f"/api/v1/labels/{label['id']}", headers=h), 404)
        await app.state.database.bind.dispose()
        print("statuses", sorted(set(seen)))

    asyncio.run(main())
    """
)


def test_a_generated_feature_is_migrated_served_and_checked(
    project: Path, database_url: str
) -> None:
    doc = write_labels_doc(project)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr

    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(docs_of(project))} design docs match the app" in checked.stdout

    lint = subprocess.run(
        [str(Path(sys.executable).with_name("ruff")), "check", "src", "migrations"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout

    driven = drive(project, DRIVE, database_url)
    assert "statuses [200, 201, 202, 204, 400, 401, 404]" in driven.stdout


EVERY_TYPE_ROWS = (
    "| name | str(1..50) | yes | - | Display name |\n"
    "| note | str | no | - | Free text |\n"
    "| count | int | no | 0 | A count |\n"
    "| stars | int(1..5) | no | 3 | A rating |\n"
    "| big | int(0..10000000000) | no | 0 | A count past INTEGER |\n"
    "| floor | int(-5..) | no | - | At least -5 |\n"
    "| ratio | float | no | - | Any number |\n"
    "| score | float(0..5) | no | - | A bounded number |\n"
    "| amount | Decimal | no | - | Any decimal |\n"
    "| cap | Decimal(12, 2) | no | - | Money |\n"
    "| active | bool | no | true | A flag |\n"
    "| due | date | no | - | A day |\n"
    "| at | datetime | no | - | An instant |\n"
    "| kind | enum(low, high) | no | low | A kind |\n"
    "| other | UUID | no | - | Any id |\n"
    "| project_id | ref(Project) | no | - | The project |\n"
)


def write_every_type_doc(project: Path) -> Path:
    """FEAT-003 readings: one field of every type form of the grammar."""
    return write_feature_doc(project, "readings", EVERY_TYPE_ROWS)


# POST and PUT answer the stored row, as a later GET does, for every type; bad input of
# any type is a 400 naming the field (a naive datetime was a 500, "4" a valid float).
DRIVE_EVERY_TYPE = textwrap.dedent(
    """
    import asyncio, json, os, uuid
    import httpx
    from alembic import command
    from src.cli import alembic_config
    from src.main import create_app

    GOOD = {
        "name": "x", "note": "n", "count": 2, "stars": 4, "ratio": 4, "score": 4.5,
        "amount": "1", "cap": "1", "active": False, "due": "2026-01-31",
        "at": "2026-11-30T10:15:00+05:00", "kind": "high", "other": str(uuid.uuid4()),
        "big": 9999999999, "floor": -5,
    }
    BAD = [
        ("at", "2026-11-30T10:15:00"), ("at", 1700000000), ("ratio", "4"), ("ratio", True),
        ("score", 6), ("cap", "1.005"), ("cap", "12345678901"), ("amount", "NaN"),
        ("due", 20260131), ("count", "2"), ("active", "true"), ("kind", "HIGH"), ("cap", 1.5),
        ("count", 2**31), ("big", 10000000001), ("floor", -6), ("floor", 2**31),
    ]

    async def main() -> None:
        config = alembic_config(os.environ["DATABASE_URL"])
        await asyncio.to_thread(command.upgrade, config, "head")
        app = create_app()
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://t")
        async with app.router.lifespan_context(app), client as c:
            account = {"email": "types@example.com", "password": "correct horse battery"}
            assert (await c.post("/api/v1/auth/register", json=account)).status_code == 202
            form = {"username": account["email"], "password": account["password"]}
            token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            project = (await c.post("/api/v1/projects", json={"name": "p"}, headers=h)).json()
            sent = {**GOOD, "project_id": project["id"]}
            created = await c.post("/api/v1/readings", json=sent, headers=h)
            assert created.status_code == 201, created.text
            body = created.json()
            url = f"/api/v1/readings/{body['id']}"
            read = await c.get(url, headers=h)
            assert read.json() == body, (body, read.json())
            assert body["at"] == "2026-11-30T05:15:00Z", body
            assert (body["cap"], body["ratio"]) == ("1.00", 4.0), body
            same = await c.put(url, json={}, headers=h)
            assert same.json() == body, same.json()
            change = {"at": "2026-12-01T00:00:00-08:00", "cap": "7.5", "amount": "2.50"}
            changed = await c.put(url, json={**change, "score": 0}, headers=h)
            assert changed.status_code == 200, changed.text
            again = await c.get(url, headers=h)
            assert changed.json() == again.json(), (changed.json(), again.json())
            for field, value in BAD:
                for method, target in (("POST", "/api/v1/readings"), ("PUT", url)):
                    payload = {**GOOD, field: value} if method == "POST" else {field: value}
                    answer = await c.request(method, target, json=payload, headers=h)
                    assert answer.status_code == 400, (field, value, answer.text)
                    fields = [e["field"] for e in answer.json()["errors"]]
                    assert fields == [field], (field, value, answer.json())
            total = (await c.get("/api/v1/readings", headers=h)).json()["total"]
            assert total == 1, total
            print("types ok", json.dumps(again.json()))

    asyncio.run(main())
    """
)


def test_every_type_form_answers_a_write_as_a_later_read(project: Path, database_url: str) -> None:
    doc = write_every_type_doc(project)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    driven = drive(project, DRIVE_EVERY_TYPE, database_url)
    assert "types ok" in driven.stdout


def test_the_generated_tests_of_every_type_form_pass_on_both_backends(project: Path) -> None:
    doc = write_every_type_doc(project)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr
    tested = run_generated_tests(project, project / "tests/features/test_readings.py")
    assert " passed" in tested.stdout, tested.stdout[-500:]
    assert "skipped" not in tested.stdout, tested.stdout[-500:]


def test_schemathesis_finds_nothing_in_a_feature_of_every_type_form(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    """No input makes the generated feature answer 500, on either backend."""
    doc = write_every_type_doc(project)
    added = featwright(project, "add", str(doc))
    assert added.returncode == 0, added.stderr
    workdir = tmp_path / "fuzz"
    workdir.mkdir()

    tested, _ = asyncio.run(fuzz(database_url, workdir, PYTHONPATH=str(project)))

    assert tested == _operations_of_the_app() + 5  # and the five of readings


HEADER = "| Aspect | Detail |\n|--------|--------|\n"
PUBLIC_READS = (
    (f"### GET /api/v1/labels/{{id}}\n{HEADER}| Auth | Required |", "| Auth | None |"),
    (f"### GET /api/v1/labels?page=1&limit=20\n{HEADER}| Auth | Required |", "| Auth | Public |"),
    # A public GET answers no 401: its rows go.
    (
        "| Response 401 | UnauthorizedError |\n| Response 404 | NotFoundError |\n\n### GET",
        "| Response 404 | NotFoundError |\n\n### GET",
    ),
    ("| Response 401 | UnauthorizedError |\n\n### PUT", "\n### PUT"),
)


@pytest.mark.parametrize("public_reads", [False, True], ids=["authenticated", "public reads"])
def test_the_generated_test_module_passes(project: Path, public_reads: bool) -> None:
    doc = write_labels_doc(project)
    if public_reads:
        text = doc.read_text(encoding="utf-8")
        for old, new in PUBLIC_READS:
            heading = old.split("| Auth", 1)[0]
            text = edited(text, (old, heading + new if new.startswith("| Auth") else new))
        doc.write_text(text, encoding="utf-8")
    assert featwright(project, "add", str(doc)).returncode == 0
    generated = project / "tests/features/test_labels.py"
    assert "class TestLabels(" in generated.read_text()
    assert ("PublicService" in (project / "src/api/v1/routes/labels.py").read_text()) is (
        public_reads
    )
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    result = run_generated_tests(project, generated)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed in .*", summary), summary  # all ran and passed: no skip


def _section(text: str, title: str) -> str:
    """The body of `## title` (up to the next `## `)."""
    body = text.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_a_doc_with_two_models_renders_both_features(tmp_path: Path) -> None:
    from src.engine.newdoc import new_doc

    labels = new_doc("labels", tmp_path).read_text(encoding="utf-8")
    tags = new_doc("tags", tmp_path).read_text(encoding="utf-8")
    tag_plan = _section(tags, "File Plan").split("|-------------|\n", 1)[1]
    tag_plan = "".join(row for row in tag_plan.splitlines(keepends=True) if "router.py" not in row)
    text = labels.replace(
        "\n## API Endpoints\n",
        "\n" + _section(tags, "Data Models").strip() + "\n\n## API Endpoints\n",
    ).replace(
        "\n## File Plan\n", "\n" + _section(tags, "API Endpoints").strip() + "\n\n## File Plan\n"
    )
    text = text.replace(
        "| 6 | src/api/v1/router.py | MODIFY | Register route |\n",
        "| 6 | src/api/v1/router.py | MODIFY | Register route |\n" + tag_plan,
    )
    doc_path = tmp_path / "FEAT-009-labels.md"
    doc_path.write_text(text, encoding="utf-8")

    files = render_feature(parse_doc(doc_path, APP_MODELS), ROOT)

    for module, resource in (("label", "labels"), ("tag", "tags")):
        for path in (
            f"src/models/{module}.py",
            f"src/schemas/{module}.py",
            f"src/repositories/{module}_repo.py",
            f"src/services/{module}_service.py",
            f"src/api/v1/routes/{resource}.py",
            f"tests/features/test_{resource}.py",
        ):
            assert path in files
    router = files["src/api/v1/router.py"]
    assert "api_router.include_router(labels.router)" in router
    assert "api_router.include_router(tags.router)" in router
    assert {"auth", "labels", "projects", "tags", "tasks", "users"} <= _route_modules(router)
    registry = files["src/models/__init__.py"]
    assert "from src.models.label import Label" in registry
    assert "from src.models.tag import Tag" in registry

    # Every endpoint of tags dropped from the doc: its routes go, and so does their registration.
    built = tmp_path / "built"
    for path in ("src/api/v1/router.py", "src/models/__init__.py"):
        (built / path).parent.mkdir(parents=True, exist_ok=True)
        (built / path).write_text(files[path], encoding="utf-8")
    tag_endpoints = _section(tags, "API Endpoints").strip()
    tag_routes = "| 5 | src/api/v1/routes/tags.py | CREATE | API endpoints |\n"
    doc_path.write_text(text.replace(tag_endpoints, "").replace(tag_routes, ""), encoding="utf-8")

    changed = render_feature(parse_doc(doc_path, APP_MODELS), built)

    assert "src/api/v1/routes/tags.py" not in changed
    assert "tests/features/test_tags.py" not in changed
    router = changed["src/api/v1/router.py"]
    assert "tags" not in router
    assert {"auth", "labels", "projects", "tasks", "users"} <= _route_modules(router)


def _route_modules(router: str) -> set[str]:
    """The route modules the router imports (the project may have features of its own)."""
    line = next(line for line in router.splitlines() if "from src.api.v1.routes import" in line)
    return {name.strip() for name in line.partition(" import ")[2].split(",")}


def test_features_added_one_after_another_and_a_changed_doc_keep_the_chain(
    project: Path,
) -> None:
    first = revision(project)
    labels = write_labels_doc(project)
    assert featwright(project, "add", str(labels)).returncode == 0
    made = featwright(project, "doc", "new", "tags")
    assert made.returncode == 0, made.stderr
    tags = new_doc_of(project, "tags")
    tags.write_text(
        edited(
            tags.read_text(encoding="utf-8"),
            (
                "| name | str(1..200) | yes | - | Display name |\n",
                "| name | str(1..200) | yes | - | Display name |\n"
                "| shade | enum(light, dark) | no | light | Shade |\n",
            ),
        ),
        encoding="utf-8",
    )
    second = featwright(project, "add", str(tags))
    assert second.returncode == 0, second.stderr
    labels.write_text(
        edited(labels.read_text(encoding="utf-8"), ("| str(1..50) |", "| str(1..80) |")),
        encoding="utf-8",
    )
    changed = featwright(project, "add", str(labels))
    assert changed.returncode == 0, changed.stderr

    versions = sorted(p.name for p in (project / "migrations/versions").glob("*.py"))
    assert versions[-3:] == [
        f"{first}_create_labels.py",
        f"{int(first) + 1:04d}_create_tags.py",
        f"{int(first) + 2:04d}_change_labels.py",
    ]
    registry = (project / "src/models/__init__.py").read_text()
    assert "LabelColor" in registry
    assert "TagShade" in registry
    checked = featwright(project, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{len(docs_of(project))} design docs match the app" in checked.stdout


def test_only_the_endpoints_the_doc_lists_are_generated(tmp_path: Path) -> None:
    from src.engine.newdoc import new_doc

    doc_path = new_doc("labels", tmp_path)
    text = doc_path.read_text(encoding="utf-8")
    delete = text[text.index("### DELETE") : text.index("## File Plan")]
    doc_path.write_text(text.replace(delete, ""), encoding="utf-8")

    files = render_feature(parse_doc(doc_path, APP_MODELS), ROOT)

    routes = files["src/api/v1/routes/labels.py"]
    assert "async def delete_label" not in routes
    assert "@router.delete" not in routes
    assert "async def update_label" in routes
    contract = files["tests/features/test_labels.py"]
    assert "DeleteContract" not in contract
    assert '"delete"' not in contract


def test_a_failed_migration_puts_every_file_back(project: Path) -> None:
    doc = write_labels_doc(project)
    env = project / "migrations/env.py"
    env.write_text('raise SystemExit("migrations are broken here")\n' + env.read_text())
    before = snapshot(project)

    result = featwright(project, "add", str(doc))

    assert result.returncode == 1
    assert "the migration failed its check; nothing written" in result.stderr
    assert "migrations are broken here" in result.stderr
    assert snapshot(project) == before

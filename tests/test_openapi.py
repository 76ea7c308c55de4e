"""The published OpenAPI document states the API as it answers: 400 problems, never 422."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from src.api.openapi import describe_features
from src.core.config import Settings
from src.main import create_app

PROBLEM_JSON = "application/problem+json"
RESOURCE_PATHS = ["/api/v1/projects", "/api/v1/tasks"]
ITEM_PATHS = ["/api/v1/projects/{id}", "/api/v1/tasks/{id}"]
SUCCESS = {"post": "201", "delete": "204", "get": "200", "put": "200"}


@pytest.fixture(scope="module")
async def openapi_response() -> httpx.Response:
    """GET /openapi.json once: the document needs no database, so no `backend` either."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="sqlite+aiosqlite:///:memory:",
        secret_key="openapi-test-secret-that-is-long-enough-0123456789",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/openapi.json")
    await app.state.database.bind.dispose()
    return response


@pytest.fixture
def document(openapi_response: httpx.Response) -> dict[str, Any]:
    assert openapi_response.status_code == 200
    body: dict[str, Any] = openapi_response.json()
    return body


def resource_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) of every operation under /api/v1/projects and /api/v1/tasks."""
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        if any(path == base or path.startswith(f"{base}/") for base in RESOURCE_PATHS)
        for method, operation in item.items()
    ]
    assert len(operations) == 10, [(path, method) for path, method, _ in operations]
    return operations


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    ref = schema["$ref"]
    assert ref.startswith(prefix)
    resolved: dict[str, Any] = document["components"]["schemas"][ref.removeprefix(prefix)]
    return resolved


async def test_validation_is_never_documented_as_422(openapi_response: httpx.Response) -> None:
    """422 means only "Idempotency-Key reused with another body", on creates."""
    assert openapi_response.status_code == 200
    assert "HTTPValidationError" not in openapi_response.text
    for path, operations in openapi_response.json()["paths"].items():
        for method, operation in operations.items():
            response = operation["responses"].get("422")
            if response is None:
                continue
            assert method == "post", f"{method} {path} documents 422"
            assert "{" not in path, f"{method} {path} documents 422"
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/IdempotencyError"}


async def test_problem_schemas_replace_fastapis_validation_schema(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]

    assert {"ValidationError", "UnauthorizedError", "NotFoundError"} <= set(schemas)
    assert "HTTPValidationError" not in schemas


@pytest.mark.parametrize("name", ["UnauthorizedError", "NotFoundError"])
async def test_problem_schemas_describe_problem_bodies(document: dict[str, Any], name: str) -> None:
    schema = document["components"]["schemas"][name]

    assert {"type", "title", "status", "detail"} <= set(schema["properties"])


async def test_validation_error_schema_is_the_400_problem_with_field_errors(
    document: dict[str, Any],
) -> None:
    """The `ValidationError` every 400 response points at is the problem body the API sends."""
    schema = document["components"]["schemas"]["ValidationError"]

    assert set(schema["properties"]) == {"type", "title", "status", "detail", "errors"}, schema
    items = schema["properties"]["errors"]["items"]
    field_error = resolve(document, items) if "$ref" in items else items
    assert set(field_error["properties"]) == {"field", "location", "rule", "message"}


async def test_every_resource_operation_documents_401_and_its_success_code(
    document: dict[str, Any],
) -> None:
    for path, method, operation in resource_operations(document):
        responses = operation["responses"]
        assert "401" in responses, (path, method)
        assert SUCCESS[method] in responses, (path, method, list(responses))
        assert not {code for code in responses if code.startswith("2")} - {SUCCESS[method]}, (
            path,
            method,
            list(responses),
        )


@pytest.mark.parametrize("path", ITEM_PATHS)
async def test_operations_by_id_document_404(document: dict[str, Any], path: str) -> None:
    item = document["paths"][path]

    assert set(item) == {"get", "put", "delete"}
    for method, operation in item.items():
        assert "404" in operation["responses"], (path, method)


@pytest.mark.parametrize("base", RESOURCE_PATHS)
async def test_create_update_and_list_document_400(document: dict[str, Any], base: str) -> None:
    paths = document["paths"]

    for operation in (paths[base]["post"], paths[base]["get"], paths[f"{base}/{{id}}"]["put"]):
        response = operation["responses"].get("400")
        assert response is not None, operation["operationId"]
        schema = response["content"][PROBLEM_JSON]["schema"]
        assert schema == {"$ref": "#/components/schemas/ValidationError"}


async def test_error_responses_use_problem_json(document: dict[str, Any]) -> None:
    checked = 0  # every response of status >= 400 that has a body
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if int(code) < 400 or "content" not in response:
                    continue
                assert set(response["content"]) == {PROBLEM_JSON}, (path, method, code)
                checked += 1
    assert checked >= 27  # at least every error of the ten resource operations


async def test_list_tasks_documents_the_project_id_filter(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/tasks"]["get"]["parameters"]}

    assert set(parameters) == {"page", "limit", "cursor", "prefer", "project_id"}
    assert parameters["project_id"]["in"] == "query"
    assert parameters["project_id"]["required"] is False


async def test_the_description_lists_every_feature_doc_by_its_title(
    document: dict[str, Any], root_dir: Path
) -> None:
    """Whatever features the project has: each doc's title and number, in number order."""
    titles = []
    for doc in sorted((root_dir / "docs/features").glob("FEAT-*.md")):
        number, _, name = doc.read_text(encoding="utf-8").splitlines()[0].partition(" Design: ")
        titles.append(f"{name} ({number.removeprefix('# ')})")

    assert titles
    assert document["info"]["description"] == (
        f"Features: {', '.join(titles)}. Each is built from its design doc in `docs/features/`."
    )


def test_the_description_reads_the_title_line_of_each_doc(tmp_path: Path) -> None:
    (tmp_path / "FEAT-002-people.md").write_text("# FEAT-002 Design: People\n\n## Overview\n")
    (tmp_path / "FEAT-001-categories.md").write_text("# FEAT-001 Design: Categories\n")
    (tmp_path / "FEAT-003-drafts.md").write_text("A draft with no title yet\n")
    (tmp_path / "notes.md").write_text("# Not a feature\n")

    assert describe_features(tmp_path) == (
        "Features: Categories (FEAT-001), People (FEAT-002), FEAT-003-drafts.md."
        " Each is built from its design doc in `docs/features/`."
    )


def test_the_description_says_when_there_are_no_docs(tmp_path: Path) -> None:
    assert describe_features(tmp_path) == (
        "No features yet: each is built from its design doc in `docs/features/`."
    )
    assert describe_features(tmp_path / "absent") == (
        "Built from design docs in `docs/features/`, which this installation does not include."
    )

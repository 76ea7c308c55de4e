"""Promise 6: every input the OpenAPI document describes is bounded. A string has a
maxLength (or a format or enum that fixes its length), an array a maxItems."""

from collections.abc import Iterator
from typing import Any

import pytest

from src.core.config import Settings
from src.main import create_app
from tests.reliability.figures import assert_figure

# Formats whose values have a fixed or bounded length, checked by the validator
# before anything else looks at them (a 1 MiB "uuid" is refused as not a uuid).
BOUNDED_FORMATS = {"uuid", "date", "date-time"}

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def document() -> Schema:
    """The app's own document; it needs no database."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="sqlite+aiosqlite:///:memory:",
        secret_key="bounded-input-test-secret-long-enough-0123456789",
    )
    openapi: Schema = create_app(settings).openapi()
    return openapi


def _inputs(document: Schema) -> Iterator[tuple[str, Schema]]:
    """(where, schema) of every parameter and request body of every operation."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                yield where, parameter["schema"]
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{method.upper()} {path} body ({media_type})", content["schema"]


def _walk(
    document: Schema, where: str, schema: Schema, seen: frozenset[str]
) -> Iterator[tuple[str, Schema]]:
    """Every subschema, `$ref`s resolved (each once per branch, so recursion ends)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        yield from _walk(document, where, document["components"]["schemas"][name], seen | {name})
        return
    yield where, schema
    for name, child in schema.get("properties", {}).items():
        yield from _walk(document, f"{where}.{name}", child, seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for child in schema.get(key, []):
            yield from _walk(document, where, child, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _walk(document, f"{where}[]", schema[key], seen)


def _unbounded(schema: Schema) -> str | None:
    kind = schema.get("type")
    if kind == "string" and not (
        "maxLength" in schema
        or "enum" in schema
        or "const" in schema
        or schema.get("format") in BOUNDED_FORMATS
    ):
        return "string without maxLength"
    if kind == "array" and "maxItems" not in schema:
        return "array without maxItems"
    return None


def test_every_string_and_array_of_every_input_is_bounded(document: Schema) -> None:
    checked = 0
    unbounded = []
    for where, top in _inputs(document):
        for place, schema in _walk(document, where, top, frozenset()):
            if schema.get("type") in ("string", "array"):
                checked += 1
                if problem := _unbounded(schema):
                    unbounded.append(f"{place}: {problem}")

    assert checked > 0
    assert unbounded == []
    assert_figure("unbounded strings or arrays in request inputs", len(unbounded))


def test_the_walk_finds_an_unbounded_field() -> None:
    """The check itself: it sees through `$ref`, `anyOf` and `items`."""
    document: Schema = {
        "components": {
            "schemas": {
                "Tags": {"type": "array", "items": {"type": "string", "maxLength": 5}},
                "Body": {
                    "type": "object",
                    "properties": {
                        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "tags": {"$ref": "#/components/schemas/Tags"},
                    },
                },
            }
        },
    }
    top = {"$ref": "#/components/schemas/Body"}

    found = [
        (place, problem)
        for place, schema in _walk(document, "body", top, frozenset())
        if (problem := _unbounded(schema))
    ]

    assert found == [
        ("body.note", "string without maxLength"),
        ("body.tags", "array without maxItems"),
    ]

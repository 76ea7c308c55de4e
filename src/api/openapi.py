"""The OpenAPI document as the design template states it.

FastAPI documents request validation as 422 with its own schema, which it also
names `ValidationError`; featwright answers 400 with a `ValidationError` problem.
So the 422 entries are dropped, our schema is put back under its name, and every
error response is declared as `application/problem+json`. Optional parameters are
documented without a `null` alternative.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from src.schemas.problem import ValidationError


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in document["paths"].values():
            for operation in path.values():
                _fix_responses(operation["responses"])
                for parameter in operation.get("parameters", []):
                    _drop_null(parameter["schema"])
        schemas = document["components"]["schemas"]
        schemas.pop("HTTPValidationError", None)
        schemas["ValidationError"] = ValidationError.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas["ValidationError"].pop("$defs", None)  # FieldError is in components already
        app.openapi_schema = document
    return app.openapi_schema


def _fix_responses(responses: dict[str, Any]) -> None:
    fastapi_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
    if responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema") == (
        fastapi_422
    ):
        del responses["422"]
    for status, response in responses.items():
        content = response.get("content", {})
        if int(status) >= 400 and "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")


def _drop_null(schema: dict[str, Any]) -> None:
    """An optional header or query parameter is absent, never null: the wire has no null
    (the text "null" would be a value), so `X | None` is documented as just `X`."""
    branches = schema.get("anyOf", [])
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) == 1 and len(branches) == 2:
        del schema["anyOf"]
        schema.update(kept[0])

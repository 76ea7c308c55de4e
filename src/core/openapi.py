"""The OpenAPI document as the design template states it.

FastAPI documents request validation as 422 with its own schema; featwright
answers 400 with a `ValidationError` problem, so the 422 entries are dropped and
every error response is declared as `application/problem+json`.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path in document["paths"].values():
            for operation in path.values():
                _fix_responses(operation["responses"])
        document["components"]["schemas"].pop("HTTPValidationError", None)
        app.openapi_schema = document
    return app.openapi_schema


def _fix_responses(responses: dict[str, Any]) -> None:
    responses.pop("422", None)
    for status, response in responses.items():
        content = response.get("content", {})
        if int(status) >= 400 and "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")

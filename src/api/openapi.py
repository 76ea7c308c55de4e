"""The OpenAPI document as the design template states it.

FastAPI documents request validation as 422 with its own schema, which it also
names `ValidationError`; featwright answers 400 with a `ValidationError` problem.
So the 422 entries are dropped, our schema is put back under its name, and every
error response is declared as `application/problem+json`. Optional parameters are
documented without a `null` alternative.
"""

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from src.api.queries import COMMA_SEPARATED
from src.schemas.problem import ValidationError

FEATURE_DOCS = Path(__file__).resolve().parents[2] / "docs" / "features"
"""The project's design docs, found as `src.core.migrations.ROOT` finds the project, without
bringing Alembic into the server."""
_TITLE = re.compile(r"#\s*(?P<id>FEAT-\d+)\s+Design:\s*(?P<name>.+)")


def describe_features(folder: Path = FEATURE_DOCS) -> str:
    """The API's description: the features as their design docs title them, so it stays
    true as features are added. Only each doc's title line is read, to keep start-up cheap;
    a doc whose title is not the template's is named by its file."""
    where = "`docs/features/`"
    if not folder.is_dir():
        return f"Built from design docs in {where}, which this installation does not include."
    names = []
    for doc in sorted(folder.glob("FEAT-*.md")):
        try:
            with doc.open(encoding="utf-8") as text:
                title = _TITLE.fullmatch(text.readline().strip())
        except (OSError, UnicodeDecodeError):  # a broken doc must not stop the server
            title = None
        names.append(f"{title['name'].strip()} ({title['id']})" if title else doc.name)
    if not names:
        return f"No features yet: each is built from its design doc in {where}."
    return f"Features: {', '.join(names)}. Each is built from its design doc in {where}."


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
                    if parameter["schema"].pop(COMMA_SEPARATED, False):  # `?x=a,b`
                        parameter.update(style="form", explode=False)
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

"""The bodies of the CRUD contract (tests/crud_contract.py): read off the app's OpenAPI
schemas, valid for every type form `featwright add` generates, never guessed from names."""

import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt

from src.schemas.base import (
    DecimalString,
    InputSchema,
    IsoDate,
    IsoDateTime,
    JsonFloat,
    JsonInt,
    NoNul,
    WholeNumber,
)
from tests.crud_contract import create_schema, minimal_body, references_of


class Kind(enum.StrEnum):
    LOW = "low"
    HIGH = "high"


class EveryForm(InputSchema):
    """One field of each type form, annotated as the generated schemas annotate them."""

    name: Annotated[str, Field(min_length=3, max_length=10), NoNul]
    note: Annotated[str, Field(max_length=65535), NoNul]
    count: JsonInt
    stars: Annotated[StrictInt, Field(ge=1, le=5), WholeNumber]
    below: Annotated[StrictInt, Field(ge=-(2**31), le=-5), WholeNumber]
    ratio: JsonFloat
    score: Annotated[JsonFloat, Field(ge=0.5, le=5)]
    amount: Annotated[Decimal, DecimalString()]
    cap: Annotated[Decimal, DecimalString(8, 2)]
    share: Annotated[Decimal, DecimalString(2, 2)]
    active: StrictBool
    due: IsoDate
    at: IsoDateTime
    kind: Kind
    other: uuid.UUID
    maybe: Annotated[Decimal, DecimalString(8, 2)] | None = None


def _document(name: str, model: type[InputSchema], resource: str) -> dict[str, Any]:
    """An OpenAPI document whose `POST /api/v1/<resource>` takes `model` as `name`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    body = {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
    return {
        "paths": {f"/api/v1/{resource}": {"post": {"requestBody": body}}},
        "components": {"schemas": {**definitions, name: schema}},
    }


def test_a_minimal_body_is_valid_for_every_type_form() -> None:
    document = _document("EveryFormCreate", EveryForm, "every_forms")
    schema = create_schema(document, "every_forms")

    body = minimal_body(document, schema)

    assert set(body) == set(schema["required"])
    assert "maybe" not in body
    EveryForm.model_validate(body)  # a uuid is a uuid, "x" only where text is taken
    assert (body["name"], body["below"], body["score"], body["share"]) == ("xxx", -5, 0.5, "0")


def test_the_create_schema_is_found_by_the_posts_ref_not_by_the_plural() -> None:
    document = _document("CategoryCreate", EveryForm, "categories")

    assert create_schema(document, "categories")["title"] == "EveryForm"


def test_references_are_read_from_the_models() -> None:
    assert references_of("tasks") == {"project_id": "projects"}
    assert references_of("projects") == {}

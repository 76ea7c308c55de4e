"""The schema family every resource uses: `XCreate`, `XUpdate`, `XResponse`."""

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    StrictFloat,
    StrictInt,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError, core_schema

ItemT = TypeVar("ItemT")


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text; refuse it on every backend alike."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _iso_date_string(value: object) -> object:
    """Dates come as `YYYY-MM-DD` strings only, not as numbers read as Unix time (nor as
    digits in a string: `"0"` is no day)."""
    if not isinstance(value, str | date) or (
        isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value)
    ):
        raise ValueError("must be a date string YYYY-MM-DD")
    return value


def _date_text(value: object) -> object:
    """A date in a URL is exactly `YYYY-MM-DD`, as its OpenAPI `format: date` says."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


class _NoNul:
    """Refuses U+0000 after the length rules, and says so in the JSON schema."""

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_no_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", "^[^\\u0000]*$")  # a field's own pattern stays
        return json_schema


NoNul = _NoNul()
"""Goes last in every free-text input field: `Annotated[str, Field(...), NoNul]`."""

IsoDate = Annotated[date, BeforeValidator(_iso_date_string)]
DateText = Annotated[date, BeforeValidator(_date_text)]
"""A query or path value that is a date: `YYYY-MM-DD` and nothing else."""


def _distinct(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """A set of references names each row once: a repeated id is refused, never merged."""
    seen: set[uuid.UUID] = set()
    for id in ids:
        if id in seen:
            raise ValueError(f"lists {id} more than once; send each id once")
        seen.add(id)
    return ids


class _DistinctIds:
    """Refuses an id sent twice in a `refs` field, and says so in the JSON schema."""

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_distinct, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["uniqueItems"] = True
        return json_schema


DistinctIds = _DistinctIds()
"""Goes last in every `refs` input field: `Annotated[list[uuid.UUID], Field(...), DistinctIds]`."""


def _whole_number(value: object) -> object:
    """JSON Schema's integer includes 1.0; strings and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rfc3339_string(value: object) -> object:
    """Timestamps come as RFC 3339 strings only, not as numbers read as Unix time (nor as
    digits in a string, as a query's `?due_at__gt=0.5`)."""
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", value)
    ):
        raise ValueError("must be an RFC 3339 date-time string, with its time zone")
    return value


def _within_utc(value: datetime) -> datetime:
    """An instant stored in UTC: `0001-01-01T00:00:00+01:00` is before the first UTC year."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be an instant within the years 1 to 9999 in UTC") from None
    return value


IsoDateTime = Annotated[
    AwareDatetime, BeforeValidator(_rfc3339_string), AfterValidator(_within_utc)
]
"""A timestamp with its offset (`Z`, `+05:00`). One without is refused (400), never guessed:
`2026-11-30T10:15:00` is a different instant in every zone. Stored and answered in UTC."""


DECIMAL_MAX_LENGTH = 100
"""Characters of a `Decimal` without a precision (sign and point included): every input is
bounded, and the JSON schema says by how much."""

TEXT_MAX_LENGTH = 65_535
"""Characters of a `str` a doc gives no maximum (its column is `Text`): every input is
bounded, and the JSON schema says by how much."""

FILTER_TEXT_MAX_LENGTH = 1_000
"""Characters of a list filter on such a `str`: the value travels in the URL."""


class DecimalString:
    """A decimal as a JSON string, `"12.50"`: the form the answer gives it in, and exact, where
    a JSON number would pass through a float first (`0.1` is not 0.1). With a precision and a
    scale (`DecimalString(12, 2)`), more digits than they allow is refused, never rounded. The
    JSON schema states the same rule as a pattern and a maxLength, so a client can check before
    it sends."""

    def __init__(self, precision: int | None = None, scale: int = 0) -> None:
        example = "12.50"
        if precision is None:
            whole, fraction = r"\d+", r"(\.\d+)?"
            self.max_length = DECIMAL_MAX_LENGTH
            rule = f"digits only, at most {self.max_length} characters"
        else:
            whole = rf"\d{{1,{precision - scale}}}" if precision > scale else "0"
            fraction = rf"(\.\d{{1,{scale}}})?" if scale else ""
            self.max_length = 1 + max(precision - scale, 1) + (1 + scale if scale else 0)
            rule = f"at most {precision - scale} digits before the point and {scale} after"
            example = "12" if scale == 0 else "0.5" if precision == scale else example
        self.pattern = f"^-?{whole}{fraction}$"
        self.message = f'must be a decimal string such as "{example}", with {rule}'
        self._matches = re.compile(self.pattern).fullmatch

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def checked(value: object) -> object:
            if not isinstance(value, str) or len(value) > self.max_length:
                raise ValueError(self.message)
            if not self._matches(value):
                raise ValueError(self.message)
            return value

        return core_schema.no_info_before_validator_function(checked, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": self.pattern, "maxLength": self.max_length}


def _plain_decimal(value: Decimal) -> str:
    """`1`, not `1.0000000000` (SQLite's 10 places) nor `0E-10` (no decimal string); every
    digit kept (the default context would round to 28)."""
    return format(value.normalize(_EXACT), "f") if value else "0"


_EXACT = Context(prec=2 * DECIMAL_MAX_LENGTH)


PlainDecimal = Annotated[Decimal, PlainSerializer(_plain_decimal, return_type=str)]
"""A `Decimal` without a scale, as an answer gives it: its digits, without trailing zeros or
an exponent, alike on SQLite and PostgreSQL."""

JsonFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
"""A JSON number (`4` or `4.5`); never `"4"`, `true`, `NaN` or an overflow such as `1e400`."""

WholeNumber = BeforeValidator(_whole_number)
"""Goes last on a `StrictInt`: `Annotated[StrictInt, Field(ge=1), WholeNumber]`."""

INT32 = (-(2**31), 2**31 - 1)
"""What an `INTEGER` column holds on PostgreSQL: a larger number is a 400, not a 500."""

JsonInt = Annotated[StrictInt, Field(ge=INT32[0], le=INT32[1]), WholeNumber]
"""An integer as JSON Schema defines it, `3` or `3.0`, never `"3"` or `true`, in the range of
the `INTEGER` column an `int` field gets."""


JSON_MAX_BYTES = 16 * 1024
"""The largest `json` field, as compact JSON in UTF-8: every input is bounded."""


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A `json` field: at most JSON_MAX_BYTES, and storable on every backend (no NUL, which
    PostgreSQL's JSONB refuses, and no NaN or infinity, which JSON has no words for)."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as error:
        raise ValueError("must hold JSON numbers only (no NaN or Infinity)") from error
    except RecursionError as error:
        raise ValueError("is nested too deeply") from error
    size = len(text.encode())
    if size > JSON_MAX_BYTES:
        raise ValueError(f"must be at most {JSON_MAX_BYTES} bytes as compact JSON, not {size}")
    if _holds_nul(value):
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_json_object),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "description": f"Any JSON object of at most {JSON_MAX_BYTES} bytes (compact UTF-8).",
        }
    ),
]
"""A `json` field: any JSON object, within its size."""


def _set_at_create(value: object) -> object:
    raise PydanticCustomError(
        "set_at_create", "is set when the row is created and cannot be changed"
    )


SetAtCreate = SkipJsonSchema[Annotated[object, BeforeValidator(_set_at_create)]]
"""A field an update schema refuses by name (Required `yes, fixed` in the doc): sending it is
a 400 with the rule `set_at_create`, clearer than "extra field". Not in the JSON schema, since
no value is accepted."""


class InputSchema(BaseModel):
    """Request bodies: unknown fields (including `id`, owner, timestamps) are rejected."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResourceResponse(BaseModel):
    """Response bodies, read straight from the rows a statement returned (`Record`)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="1 on create, +1 on every change; also the ETag.")


class PaginatedResponse(BaseModel, Generic[ItemT]):
    """One page of a list, with what a client needs to fetch the others."""

    model_config = ConfigDict(from_attributes=True)

    items: list[ItemT]
    total: int = Field(
        description="Rows matching the query, across all pages: exact when `total_exact`,"
        " else the database's estimate (send `Prefer: count=exact` for an exact one)."
    )
    total_exact: bool = Field(description="Whether `total` was counted or estimated.")
    page: int | None = Field(description="The page number; null for a page reached by `cursor`.")
    limit: int
    pages: int = Field(description="Number of pages of `limit` rows; 0 when there is none.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the page after this one; null on the last page."
    )

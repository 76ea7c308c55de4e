"""The schema family every resource uses: `XCreate`, `XUpdate`, `XResponse`."""

import uuid
from datetime import date, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

ItemT = TypeVar("ItemT")


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text; refuse it on every backend alike."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _iso_date_string(value: object) -> object:
    """Dates come as `YYYY-MM-DD` strings only, not as numbers read as Unix time."""
    if not isinstance(value, str | date):
        raise ValueError("must be a date string YYYY-MM-DD")
    return value


NoNul = AfterValidator(_no_nul)
"""Goes last in every free-text input field: `Annotated[str, Field(...), NoNul]`."""

IsoDate = Annotated[date, BeforeValidator(_iso_date_string)]


class InputSchema(BaseModel):
    """Request bodies: unknown fields (including `id`, owner, timestamps) are rejected."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResourceResponse(BaseModel):
    """Response bodies, read straight from ORM rows."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class PaginatedResponse(BaseModel, Generic[ItemT]):
    """One page of a list, with what a client needs to fetch the others."""

    model_config = ConfigDict(from_attributes=True)

    items: list[ItemT]
    total: int = Field(description="Rows matching the query, across all pages.")
    page: int
    limit: int
    pages: int = Field(description="Number of pages of `limit` rows; 0 when there is none.")

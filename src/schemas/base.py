"""The schema family every resource uses: `XCreate`, `XUpdate`, `XResponse`."""

import uuid
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

ItemT = TypeVar("ItemT")


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

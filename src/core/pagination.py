"""Paging, validated at the edge (a bad value is a 400, never a silent clamp).

A page is reached by number (`page`/`limit`, OFFSET) or by keyset (`cursor`, the position
after the last row of the previous page): the cursor costs the same at any depth.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

ItemT = TypeVar("ItemT")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# Keeps OFFSET inside a 64-bit integer on every backend.
MAX_PAGE = 10_000_000

Position = tuple[datetime, uuid.UUID]
"""Where a row sits in list order: (created_at, id)."""


CURSOR_PATTERN = r"^[0-9]{1,17}\.[0-9a-f]{32}$"
"""A cursor is `<created_at in microseconds since 1970, UTC>.<id as hex>`: every string of
this form names a position, so a well-formed cursor is never refused."""
CURSOR_MAX_LENGTH = 17 + 1 + 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(position: Position) -> str:
    created_at, id = position
    return f"{(created_at - _EPOCH) // timedelta(microseconds=1)}.{id.hex}"


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names (the cursor matched `CURSOR_PATTERN` already)."""
    microseconds, _, id = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(microseconds)), uuid.UUID(hex=id)


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    limit: int = DEFAULT_LIMIT
    after: Position | None = None
    """Keyset paging: the rows after this position (from `cursor`); `page` is then unused."""
    count_limit: int | None = None
    """Count the total exactly up to this many rows, estimate it beyond; None: always exact."""

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def of(self, rows: Sequence[Any], total: int, exact: bool) -> "Page[Any]":
        """`rows` holds up to `limit + 1` rows: one more than the page says that more follow."""
        items = rows[: self.limit]
        last = items[-1] if len(rows) > self.limit else None
        return Page(
            items,
            total,
            total_exact=exact,
            page=None if self.after is not None else self.page,
            limit=self.limit,
            pages=-(-total // self.limit),
            next_cursor=None if last is None else encode_cursor((last.created_at, last.id)),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of rows; the API serializes it as `PaginatedResponse`."""

    items: Sequence[ItemT]
    total: int
    total_exact: bool
    page: int | None
    limit: int
    pages: int
    next_cursor: str | None

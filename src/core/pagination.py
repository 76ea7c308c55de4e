"""Paging, validated at the edge (a bad value is a 400, never a silent clamp), and the words of a
list's query: its order (`Sort`) and its filter operators (`OPERATORS`).

A page is reached by number (`page`/`limit`, OFFSET) or by keyset (`cursor`, the position
after the last row of the previous page): the cursor costs the same at any depth. Under a
`sort` the cursor carries the last row's values of the sort's keys.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

from src.core.errors import InvalidField

ItemT = TypeVar("ItemT")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# Keeps OFFSET inside a 64-bit integer on every backend.
MAX_PAGE = 10_000_000

Position = tuple[datetime, uuid.UUID]
"""Where a row sits in list order: (created_at, id)."""


CURSOR_PATTERN = r"^[0-9]{1,17}\.[0-9a-f]{32}$"
"""A cursor in creation order is `<created_at in microseconds since 1970, UTC>.<id as hex>`:
every string of this form names a position, so a well-formed cursor is never refused."""
CURSOR_MAX_LENGTH = 17 + 1 + 32
SORTED_CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
"""Under a `sort`, a cursor is the sort and the last row's values of its keys, as base64url
JSON (`encode_sorted_cursor`): the list it came from checks it (a 400 naming `cursor` for one
it did not issue, or one of another sort)."""
SORT_MAX_KEYS = 4
SORT_TEXT_MAX_LENGTH = 200
SORT_MAX_LENGTH = 500
"""Characters of a `sort` value: every input is bounded."""
SORTED_CURSOR_MAX_LENGTH = 4 * -(
    -(SORT_MAX_KEYS * SORT_TEXT_MAX_LENGTH * 6 + SORT_MAX_LENGTH + 200) // 3
)
"""A sorted cursor carries the last row's sort keys, at most `SORT_MAX_KEYS` texts of at most
`SORT_TEXT_MAX_LENGTH` characters, each at most 6 bytes of JSON (a control character's
escape), plus the sort and the id, in base64 (4 characters per 3 bytes): so every cursor a
list issues is one it takes back."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(position: Position) -> str:
    created_at, id = position
    return f"{(created_at - _EPOCH) // timedelta(microseconds=1)}.{id.hex}"


def decode_cursor(cursor: str) -> Position:
    """The position a cursor names (the cursor matched `CURSOR_PATTERN` already)."""
    microseconds, _, id = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(microseconds)), uuid.UUID(hex=id)


class InvalidCursor(InvalidField):
    """A cursor this list did not issue: malformed, or from another sort (a 400)."""

    def __init__(self, detail: str) -> None:
        super().__init__("cursor", "invalid_cursor", detail, location="query")


def _json_value(value: Any) -> Any:
    """A sort key's value as JSON holds it: a date, an instant or a Decimal as its text."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | Decimal | uuid.UUID):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def encode_sorted_cursor(sort: str, values: Sequence[Any], id: uuid.UUID) -> str:
    """The position after a row under `sort`: the sort itself (a cursor is refused under
    another), the row's values of the sort's keys and its id (the tie-breaker)."""
    values = [_json_value(v) for v in values]
    text = json.dumps([sort, values, id.hex], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_sorted_cursor(cursor: str, sort: str) -> tuple[list[Any], uuid.UUID]:
    """(the sort keys' values as JSON holds them, the id) of a cursor issued under `sort`;
    raises `InvalidCursor`. The values are still to be read as their columns' types."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued, values, id = json.loads(raw)
        position = uuid.UUID(hex=id if isinstance(id, str) else "")
    except (binascii.Error, ValueError, TypeError, RecursionError) as error:
        raise InvalidCursor("not a cursor this list issued; start from the first page") from error
    if not isinstance(values, list):
        raise InvalidCursor("not a cursor this list issued; start from the first page")
    if issued != sort:
        raise InvalidCursor(
            f"a cursor of sort={issued!r}, not of sort={sort!r}; start from the first page"
            " of this sort"
        )
    return values, position


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    """Keyset paging: the rows after the position this `cursor` names; `page` is then
    unused. Read by the list, which knows its order (`after()`, `decode_sorted_cursor`)."""
    count_limit: int | None = None
    """Count the total exactly up to this many rows, estimate it beyond; None: always exact."""

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def after(self) -> Position | None:
        """The creation-order position `cursor` names (`get_page` checked its form)."""
        return None if self.cursor is None else decode_cursor(self.cursor)

    def of(
        self, rows: Sequence[Any], total: int, exact: bool, sort: "Sort | None" = None
    ) -> "Page[Any]":
        """`rows` holds up to `limit + 1` rows: one more than the page says that more follow.
        Under a `sort`, the next cursor carries the last row's values of its keys."""
        items = rows[: self.limit]
        last = items[-1] if len(rows) > self.limit else None
        if last is None:
            next_cursor = None
        elif sort is None:
            next_cursor = encode_cursor((last.created_at, last.id))
        else:
            values = [getattr(last, key.name) for key in sort.keys]
            next_cursor = encode_sorted_cursor(sort.text, values, last.id)
        return Page(
            items,
            total,
            total_exact=exact,
            page=None if self.cursor is not None else self.page,
            limit=self.limit,
            pages=-(-total // self.limit),
            next_cursor=next_cursor,
        )


@dataclass(frozen=True, slots=True)
class SortKey:
    name: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Sort:
    """A list's order as `?sort=-priority,due_date` names it: keys, `-` for descending. The
    id breaks ties, in the direction of the last key (so one index serves both)."""

    keys: tuple[SortKey, ...]

    @classmethod
    def parse(cls, text: str) -> "Sort":
        return cls(
            tuple(SortKey(name.removeprefix("-"), name.startswith("-")) for name in text.split(","))
        )

    @property
    def text(self) -> str:
        return ",".join(("-" if key.descending else "") + key.name for key in self.keys)


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


OPERATORS = ("gte", "gt", "lte", "lt", "ne", "in", "isnull", "contains")
"""What a list filter `<field>__<op>` may compare with (docs/design-docs.md, "Lists")."""
IN_MAX_VALUES = 100
"""The most comma-separated values an `__in` filter takes."""
SEARCH_MAX_LENGTH = 200
"""The longest `q` term."""


def split_filter(name: str) -> tuple[str, str | None]:
    """`priority__gte` -> (`priority`, `gte`); `priority` -> (`priority`, None)."""
    field, _, operator = name.rpartition("__")
    return (field, operator) if field and operator in OPERATORS else (name, None)

"""Page/limit paging, validated at the edge (a bad value is a 400, never a silent clamp)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# Keeps OFFSET inside a 64-bit integer on every backend.
MAX_PAGE = 10_000_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    limit: int = DEFAULT_LIMIT

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def of(self, items: Sequence[ItemT], total: int) -> "Page[ItemT]":
        return Page(items, total, self.page, self.limit, pages=-(-total // self.limit))


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of rows; the API serializes it as `PaginatedResponse`."""

    items: Sequence[ItemT]
    total: int
    page: int
    limit: int
    pages: int

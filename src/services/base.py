"""Generic CRUD use cases over one repository. Raises domain errors, never HTTP.

`references` maps a foreign-key field to the repository of the rows it may point
at: a new or changed reference must be a row of the same owner, else it is a 404
for that resource, exactly as if the row did not exist.
"""

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

from src.core.errors import PreconditionFailed, ResourceNotFound
from src.core.pagination import Page, PageRequest
from src.repositories.base import ModelT, OwnedRepository, Repository, Versions
from src.schemas.base import InputSchema

CreateT = TypeVar("CreateT", bound=InputSchema)
UpdateT = TypeVar("UpdateT", bound=InputSchema)


class CrudService(Generic[ModelT, CreateT, UpdateT]):
    resource: ClassVar[str]

    def __init__(
        self,
        repository: Repository[ModelT],
        references: Mapping[str, OwnedRepository[Any]] | None = None,
    ) -> None:
        self.repository = repository
        self.references = references or {}

    async def get(self, id: uuid.UUID) -> ModelT:
        row = await self.repository.get(id)
        if row is None:
            raise ResourceNotFound(self.resource)
        return row

    async def list(
        self, page: PageRequest, filters: Mapping[str, Any] | None = None
    ) -> Page[ModelT]:
        rows, total = await self.repository.list(page, filters)
        return page.of(rows, total)

    async def create(self, data: CreateT) -> ModelT:
        values = data.model_dump()
        if self.references:
            await self._check_references(values, owner_id=self.repository.owner_id)
        return await self.repository.create(values)

    async def update(self, id: uuid.UUID, data: UpdateT, versions: Versions = None) -> ModelT:
        """`versions` (from If-Match): change the row only if it still has one of them."""
        values = data.model_dump()
        if any(name in values for name in self.references):
            current = await self.get(id)
            await self._check_references(values, owner_id=getattr(current, "owner_id", None))
        row = await self.repository.update(id, values, versions)
        if row is None:
            await self._explain_miss(id, versions)
        return row

    async def delete(self, id: uuid.UUID, versions: Versions = None) -> None:
        if not await self.repository.delete(id, versions):
            await self._explain_miss(id, versions)

    async def _explain_miss(self, id: uuid.UUID, versions: Versions) -> NoReturn:
        """A conditional write matched nothing: 404 if the row is not there, else 412."""
        if versions is not None and await self.repository.get(id) is not None:
            raise PreconditionFailed(self.resource)
        raise ResourceNotFound(self.resource)

    async def _check_references(self, values: Mapping[str, Any], owner_id: Any) -> None:
        for name, repository in self.references.items():
            if name not in values:
                continue
            row = await repository.get(values[name])
            if row is None or row.owner_id != owner_id:
                raise ResourceNotFound(repository.model.__name__)

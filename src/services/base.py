"""Generic CRUD use cases over one repository. Raises domain errors, never HTTP."""

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from src.core.errors import ResourceNotFound
from src.core.pagination import Page, PageRequest
from src.repositories.base import ModelT, Repository
from src.schemas.base import InputSchema

CreateT = TypeVar("CreateT", bound=InputSchema)
UpdateT = TypeVar("UpdateT", bound=InputSchema)


class CrudService(Generic[ModelT, CreateT, UpdateT]):
    resource: ClassVar[str]

    def __init__(self, repository: Repository[ModelT]) -> None:
        self.repository = repository

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
        return await self.repository.create(data.model_dump())

    async def update(self, id: uuid.UUID, data: UpdateT) -> ModelT:
        row = await self.repository.update(id, data.model_dump())
        if row is None:
            raise ResourceNotFound(self.resource)
        return row

    async def delete(self, id: uuid.UUID) -> None:
        if not await self.repository.delete(id):
            raise ResourceNotFound(self.resource)

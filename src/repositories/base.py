"""Generic async data access over one model. Knows no feature and never commits.

Every statement goes through `_scope()`, so a subclass that narrows it (the owner
rule in `OwnedRepository`) narrows reads, updates and deletes alike.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Delete, Select, Update, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.pagination import PageRequest
from src.models.base import Entity, OwnedEntity

ModelT = TypeVar("ModelT", bound=Entity)
OwnedT = TypeVar("OwnedT", bound=OwnedEntity)
StatementT = TypeVar("StatementT", Select[Any], Update, Delete)


class Repository(Generic[ModelT]):
    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _scope(self, statement: StatementT) -> StatementT:
        return statement

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return dict(values)

    async def get(self, id: uuid.UUID) -> ModelT | None:
        statement = self._scope(select(self.model).where(self.model.id == id))
        row: ModelT | None = await self.session.scalar(statement)
        return row

    async def exists(self, id: uuid.UUID) -> bool:
        statement = self._scope(select(self.model.id).where(self.model.id == id))
        return await self.session.scalar(statement) is not None

    async def list(
        self, page: PageRequest, filters: Mapping[str, Any] | None = None
    ) -> tuple[Sequence[ModelT], int]:
        """One page in creation order and the total, in one query while the page has rows."""
        criteria = {name: value for name, value in (filters or {}).items() if value is not None}
        matching = self._scope(select(self.model).filter_by(**criteria))
        rows = (
            await self.session.execute(
                matching.add_columns(func.count().over())
                .order_by(self.model.created_at, self.model.id)
                .limit(page.limit)
                .offset(page.offset)
            )
        ).all()
        if rows:
            return [row[0] for row in rows], rows[0][1]
        if page.offset == 0:
            return [], 0
        total = await self.session.scalar(select(func.count()).select_from(matching.subquery()))
        return [], total or 0

    async def create(self, values: Mapping[str, Any]) -> ModelT:
        statement = insert(self.model).values(self._row_values(values)).returning(self.model)
        return (await self.session.scalars(statement)).one()

    async def update(self, id: uuid.UUID, values: Mapping[str, Any]) -> ModelT | None:
        if not values:
            return await self.get(id)
        statement = (
            self._scope(update(self.model).where(self.model.id == id))
            .values(values)
            .returning(self.model)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def delete(self, id: uuid.UUID) -> bool:
        statement = self._scope(delete(self.model).where(self.model.id == id))
        result = await self.session.scalar(
            statement.returning(self.model.id).execution_options(synchronize_session=False)
        )
        return result is not None


class OwnedRepository(Repository[OwnedT]):
    """The owner rule, in one place: a user reaches only rows whose `owner_id` is theirs.

    `unrestricted` (superusers) lifts the rule for reads, updates and deletes; new
    rows are always owned by `owner_id`.
    """

    def __init__(
        self, session: AsyncSession, *, owner_id: uuid.UUID, unrestricted: bool = False
    ) -> None:
        super().__init__(session)
        self.owner_id = owner_id
        self.unrestricted = unrestricted

    def _scope(self, statement: StatementT) -> StatementT:
        if self.unrestricted:
            return statement
        return statement.where(self.model.owner_id == self.owner_id)

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {**values, "owner_id": self.owner_id}

"""Generic async data access over one model. Knows no feature and never commits.

Every statement goes through `_scope()`, so a subclass that narrows it (the owner
rule in `OwnedRepository`) narrows reads, updates and deletes alike. Statements of a
fixed shape are built once and reused with bound parameters: building and cache-keying
a SQLAlchemy statement costs more than running it. The repository's own parameters start
with `_` (`_pk`, `_limit`), so they never clash with a filter named after a column.
"""

import uuid
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    Delete,
    Select,
    Update,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Executable

from src.core.pagination import PageRequest
from src.models.base import Entity, OwnedEntity

ModelT = TypeVar("ModelT", bound=Entity)
OwnedT = TypeVar("OwnedT", bound=OwnedEntity)
StatementT = TypeVar("StatementT", Select[Any], Update, Delete)
ExecutableT = TypeVar("ExecutableT", bound=Executable)

_statements: dict[Hashable, Any] = {}

Versions = Collection[int] | None
"""The versions a conditional write accepts (from `If-Match`); None: any version."""


class Repository(Generic[ModelT]):
    model: type[ModelT]
    owner_id: uuid.UUID | None = None
    """Who new rows belong to; None for tables without owners."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _scope(self, statement: StatementT) -> StatementT:
        return statement

    def _scope_key(self) -> Hashable:
        """Tells apart the statement shapes `_scope()` can produce."""
        return None

    def _params(self, **params: Any) -> dict[str, Any]:
        """Bound parameters for a statement, plus those `_scope()` added."""
        return params

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return dict(values)

    def _statement(self, key: Hashable, build: Callable[[], ExecutableT]) -> ExecutableT:
        cache_key = (type(self), key, self._scope_key())
        statement: ExecutableT | None = _statements.get(cache_key)
        if statement is None:
            statement = _statements[cache_key] = build()
        return statement

    def _target(self, versions: Versions) -> list[ColumnElement[bool]]:
        """The row a write aims at: this id and, for a conditional write, one of these versions.

        The version is compared by the database in the same statement that writes, so
        of two writers holding the same version exactly one matches.
        """
        conditions = [self.model.id == bindparam("_pk")]
        if versions is not None:
            conditions.append(self.model.version.in_(bindparam("_versions", expanding=True)))
        return conditions

    def _target_params(self, id: uuid.UUID, versions: Versions) -> dict[str, Any]:
        if versions is None:
            return self._params(_pk=id)
        return self._params(_pk=id, _versions=sorted(versions))

    async def get(self, id: uuid.UUID, versions: Versions = None) -> ModelT | None:
        statement = self._statement(
            ("get", versions is None),
            lambda: self._scope(select(self.model).where(*self._target(versions))),
        )
        row: ModelT | None = await self.session.scalar(statement, self._target_params(id, versions))
        return row

    async def list(
        self, page: PageRequest, filters: Mapping[str, Any] | None = None
    ) -> tuple[Sequence[ModelT], int]:
        """One page in creation order and the total, in one round trip while the page has rows.

        `filters` are equality conditions on columns; a None value means "no filter".
        """
        criteria = {name: value for name, value in (filters or {}).items() if value is not None}

        def matching() -> Select[Any]:
            conditions = [getattr(self.model, name) == bindparam(name) for name in criteria]
            return self._scope(select(self.model).where(*conditions))

        def page_with_total() -> Select[Any]:
            total = select(func.count()).select_from(matching().subquery()).scalar_subquery()
            return (
                matching()
                .add_columns(total)
                .order_by(self.model.created_at, self.model.id)
                .limit(bindparam("_limit"))
                .offset(bindparam("_offset"))
            )

        shape = tuple(sorted(criteria))
        statement = self._statement(("list", shape), page_with_total)
        params = self._params(**criteria, _limit=page.limit, _offset=page.offset)
        rows = (await self.session.execute(statement, params)).all()
        if rows:
            return [row[0] for row in rows], rows[0][1]
        count = self._statement(
            ("count", shape), lambda: select(func.count()).select_from(matching().subquery())
        )
        total = await self.session.scalar(count, self._params(**criteria))
        return [], total or 0

    async def create(self, values: Mapping[str, Any]) -> ModelT:
        """Add and flush (one INSERT; defaults are computed in Python, so no RETURNING)."""
        row = self.model(**self._row_values(values))
        self.session.add(row)
        await self.session.flush()
        return row

    async def update(
        self, id: uuid.UUID, values: Mapping[str, Any], versions: Versions = None
    ) -> ModelT | None:
        """One UPDATE ... RETURNING that also bumps `version`; None if no row matched."""
        if not values:
            return await self.get(id, versions)
        columns = tuple(sorted(values))
        statement = self._statement(
            ("update", columns, versions is None),
            lambda: (
                self._scope(update(self.model).where(*self._target(versions)))
                .values(
                    {
                        **{name: bindparam(name) for name in columns},
                        "version": self.model.version + 1,
                    }
                )
                .returning(self.model)
                .execution_options(synchronize_session=False, populate_existing=True)
            ),
        )
        params = {**values, **self._target_params(id, versions)}
        return (await self.session.scalars(statement, params)).one_or_none()

    async def delete(self, id: uuid.UUID, versions: Versions = None) -> bool:
        statement = self._statement(
            ("delete", versions is None),
            lambda: (
                self._scope(delete(self.model).where(*self._target(versions)))
                .returning(self.model.id)
                .execution_options(synchronize_session=False)
            ),
        )
        params = self._target_params(id, versions)
        return await self.session.scalar(statement, params) is not None


class OwnedRepository(Repository[OwnedT]):
    """The owner rule, in one place: a user reaches only rows whose `owner_id` is theirs.

    `unrestricted` (superusers) lifts the rule for reads, updates and deletes; new
    rows are always owned by `owner_id`.
    """

    def __init__(
        self, session: AsyncSession, *, owner_id: uuid.UUID | None, unrestricted: bool = False
    ) -> None:
        """`owner_id=None` (with `unrestricted=True`) is for public reads: no one's rows."""
        if owner_id is None and not unrestricted:
            raise ValueError("an owner-scoped repository needs an owner_id")
        super().__init__(session)
        self.owner_id = owner_id
        self.unrestricted = unrestricted

    def _scope(self, statement: StatementT) -> StatementT:
        if self.unrestricted:
            return statement
        return statement.where(self.model.owner_id == bindparam("_owner_id"))

    def _scope_key(self) -> Hashable:
        return self.unrestricted

    def _params(self, **params: Any) -> dict[str, Any]:
        if not self.unrestricted:
            params["_owner_id"] = self.owner_id
        return params

    def _row_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {**values, "owner_id": self.owner_id}

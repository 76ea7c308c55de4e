"""Generic CRUD use cases over one repository. Raises domain errors, never HTTP.

Each operation is one repository statement in the common case. A write that matched
nothing is explained afterwards, off the hot path: the row is missing (404), a reference
names no row of the same owner (404 for that resource), or the row changed since the
ETag the client sent (412).

A nested route (`/projects/{project_id}/tasks`) names its parent: the service gets the
parent's repository (`parents`, scoped to the caller as the service's own) to tell "no such
task under this project" from "no such project" once a statement found nothing.
"""

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

from src.core.actions import Action, value_text
from src.core.errors import (
    InvalidField,
    PermissionDenied,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
    RuleBroken,
    in_words,
)
from src.core.pagination import Page, PageRequest, Sort
from src.repositories.base import ModelT, Record, Repository, RowKey, Versions, key_of
from src.schemas.base import InputSchema

CreateT = TypeVar("CreateT", bound=InputSchema)
UpdateT = TypeVar("UpdateT", bound=InputSchema)


def _names(expand: str) -> list[str]:
    """`project,labels,project` -> each name once, in order."""
    return list(dict.fromkeys(expand.split(",")))


class CrudService(Generic[ModelT, CreateT, UpdateT]):
    resource: ClassVar[str]
    actions: ClassVar[Mapping[str, Action]] = {}
    """The feature's actions on one row (`close`), by name: its business rules, as data."""

    def __init__(
        self,
        repository: Repository[ModelT],
        parents: Mapping[str, Repository[Any]] | None = None,
    ) -> None:
        """`parents`: the repository of each parent a nested route names, by its field."""
        self.repository = repository
        self.parents = parents or {}

    async def get(self, id: RowKey, expand: str | None = None) -> Record:
        """`expand`: the route's `expand` parameter, the references to embed (one statement
        more each)."""
        row = await self.repository.get(id)
        if row is None:
            await self._not_found(id)
        if expand:
            (row,) = await self.repository.expand([row], _names(expand))
        return row

    async def list(
        self,
        page: PageRequest,
        filters: dict[str, Any] | None = None,
        expand: str | None = None,
        under: Mapping[str, Any] | None = None,
        sort: str | None = None,
        search: str | None = None,
    ) -> Page[Record]:
        """`under`: the parent a nested route names (`{"project_id": ...}`); `sort`: the
        route's `sort` (`-priority,due_date`, checked by `Sortable`); `search`: its `q`. A
        page with rows is one statement; an empty one asks whether the caller sees the
        parent (404 if not)."""
        order = None if sort is None else Sort.parse(sort)
        rows, total, exact = await self.repository.list(
            page, {**(filters or {}), **(under or {})}, sort=order, search=search
        )
        if under and not total:
            await self._parents_seen(under)
        if expand:  # the extra row that tells whether more follow is not embedded
            shown = await self.repository.expand(rows[: page.limit], _names(expand))
            rows = [*shown, *rows[page.limit :]]
        return page.of(rows, total, exact, order)

    async def create(self, data: CreateT, under: Mapping[str, Any] | None = None) -> Record:
        """`under`: the parent a nested route names, a field the body does not hold."""
        values = {**data.model_dump(), **(under or {})}
        row = await self.repository.create(values)
        if row is None:
            refused = await self.repository.write_refused(values)
            if refused is not None:
                raise PermissionDenied(refused)
            missing = await self.repository.missing_reference(values, self.repository.owner_id)
            raise ResourceNotFound(missing or self.resource)
        return row

    async def update(self, id: RowKey, data: UpdateT, versions: Versions = None) -> Record:
        """`versions` (from If-Match): change the row only if it still has one of them."""
        values = data.model_dump()
        row = await self.repository.update(id, values, versions)
        if row is None:
            await self._explain_miss(id, versions, values)
        return row

    async def act(
        self, name: str, id: RowKey, data: InputSchema | None = None, versions: Versions = None
    ) -> Record:
        """Runs the action `name` of `actions` on the row: one statement; a miss is explained
        after it (404, 412, the 404 of a reference in the body, or the 409 of the rule that
        the row breaks)."""
        action = self.actions[name]
        if action.caller_change is not None:
            return await self._join_or_leave(action, id, versions)
        values = data.model_dump() if data is not None else {}
        row = await self.repository.act(id, action, values, versions)
        if row is not None:
            return row
        current = await self._row_as_written(id, versions, values)
        rule = action.failed_rule(current)
        if rule is None:  # changed back between the two statements: the client may retry
            raise ResourceConflict(f"{self.resource} changed while it was acted on; try again")
        found = value_text(getattr(current, rule.field))
        raise RuleBroken(self.resource, name, rule.field, str(rule), found)

    async def _join_or_leave(self, action: Action, id: RowKey, versions: Versions) -> Record:
        """The caller joins or leaves a `refs(User)` field (`+= current user`) of a row they
        may read: a join that is already in, or a leave already out, changes nothing (the
        version stays) and answers the row, as a retried request expects."""
        row, changed = await self.repository.join_or_leave(id, action, versions)
        if row is None:
            await self._not_found(id)
        if not changed and versions is not None and row.version not in versions:
            raise PreconditionFailed(self.resource)
        return row

    async def delete(self, id: RowKey, versions: Versions = None) -> None:
        if not await self.repository.delete(id, versions):
            await self._explain_miss(id, versions)

    async def _explain_miss(
        self, id: RowKey, versions: Versions, values: dict[str, Any] | None = None
    ) -> NoReturn:
        """Why a write matched no row: a missing row or reference, or a stale version."""
        await self._row_as_written(id, versions, values)
        if versions is not None:
            raise PreconditionFailed(self.resource)
        raise ResourceNotFound(self.resource)  # deleted between the two statements

    async def _row_as_written(
        self, id: RowKey, versions: Versions, values: dict[str, Any] | None = None
    ) -> Record:
        """The row a write missed, read again; raises if it is missing, a reference in
        `values` names no usable row, or `versions` no longer holds its version."""
        current = await self.repository.get(id)
        if current is None:
            await self._not_found(id)
        refused = await self.repository.write_refused(values or {}, current)
        if refused is not None:
            raise PermissionDenied(refused)
        if values:
            owner_id = getattr(current, "owner_id", None)
            missing = await self.repository.missing_reference(values, owner_id, current)
            if missing is not None:
                raise ResourceNotFound(missing)
            cyclic = await self.repository.cyclic_reference(current.id, values)
            if cyclic is not None:
                raise InvalidField(
                    cyclic,
                    "acyclic",
                    f"`{cyclic}` would make this {self.resource.lower()} its own ancestor",
                )
        if versions is not None and current.version not in versions:
            raise PreconditionFailed(self.resource)
        return current

    async def _not_found(self, id: RowKey) -> NoReturn:
        """No row has this key for the caller: the parent it names is not theirs to see
        ("Project not found"), or the row is not there ("Task not found")."""
        await self._parents_seen(key_of(id))
        raise ResourceNotFound(self.resource)

    async def _parents_seen(self, key: Mapping[str, Any]) -> None:
        for name, parent in self.parents.items():
            if name in key and not await parent.visible(key[name]):
                raise ResourceNotFound(in_words(parent.model.__name__))

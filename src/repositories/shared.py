"""Shared containers and the rows inside them: who may do what is the members' of the
container (`Access: shared`, `Access: through project_id`), checked inside the statement
that reads or writes, so a request stays one statement and a removed member is refused from
their next request on. Knows no feature: the model says what it shares (`members`) or what
it is inside (`through`).
"""

import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Uuid,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from src.core.database import Database
from src.core.errors import in_words
from src.core.pagination import PageRequest
from src.models.base import Entity, OwnedEntity, Role, utcnow
from src.models.user import User
from src.repositories.base import (
    Expanded,
    OwnedRepository,
    OwnedT,
    Record,
    RowKey,
    StatementT,
    Versions,
    built_once,
    dialect_insert,
    is_superuser,
    link_fields,
    owned_references,
    user_columns,
)


def is_shared(model: type[Entity]) -> bool:
    """Rows whose access is a container's members': the container, or a row inside one."""
    return issubclass(model, OwnedEntity) and (
        model.members is not None or model.through is not None
    )


@cache
def container_of(model: type[OwnedEntity]) -> type[OwnedEntity]:
    """The shared container `model`'s rows are in, following `through` up the chain."""
    while model.members is None:
        assert model.through is not None, f"{model.__name__} is not shared"
        model = owned_references(model)[model.through]
    return model


def members_table_of(model: type[OwnedEntity]) -> tuple[Table, str]:
    """The members table of `model`'s container and its column naming the container."""
    members = container_of(model).members
    assert members is not None
    return members, next(iter(members.c)).name


@cache
def user_references(model: type[Entity]) -> tuple[str, ...]:
    """The `ref(User)` columns of `model` other than `owner_id` (`assignee_id`)."""
    return tuple(column.name for column in user_columns(model))


def container_id(row: Any, model: type[OwnedEntity]) -> ColumnElement[Any]:
    """The id of the container of `row` (the model, or an alias of it), as SQL: its own id,
    its `through` reference, or that reference's row's container, one level per step."""
    if model.members is not None:
        return row.id  # type: ignore[no-any-return]
    assert model.through is not None
    return container_id_of(getattr(row, model.through), owned_references(model)[model.through])


def container_id_of(reference: Any, model: type[OwnedEntity]) -> ColumnElement[Any]:
    """The id of the container of the `model` row that `reference` (a column or parameter)
    names: the reference itself for a container, else a lookup of that row."""
    if model.members is not None:
        return reference  # type: ignore[no-any-return]
    parent = aliased(model, name=f"in_{model.__tablename__}")
    found = select(container_id(parent, model)).where(parent.id == reference)
    # The row's own table two levels up (inside EXISTS) is the row, not a table to read.
    return found.correlate_except(parent).scalar_subquery()


def is_member(
    model: type[OwnedEntity],
    container: ColumnElement[Any],
    user: ColumnElement[Any],
    least: Role = Role.VIEWER,
    *,
    lock: bool = False,
) -> ColumnElement[bool]:
    """Whether `user` is a member of the container with id `container` with a role of at
    least `least`: one probe of the members table's primary key. `lock` (PostgreSQL, for a
    write): the membership row is held FOR SHARE until the write commits, so a removal or
    demotion waits for the write, or the write for it and then finds it gone."""
    members, column = members_table_of(model)
    member = members.alias("member")
    found: Select[Any] = select(literal_column("1")).where(
        member.c[column] == container, member.c.user_id == user
    )
    found = found.correlate_except(member)
    if least is not Role.VIEWER:  # the roles as SQL text: constants of the statement
        roles: list[Any] = [literal_column(f"'{role.value}'") for role in least.and_above]
        found = found.where(member.c.role.in_(roles))
    if lock:
        found = found.with_for_update(read=True)
    return exists(found)


class SharedRepository(OwnedRepository[OwnedT]):
    """The rows of a shared container, or of a model inside one.

    A member of the container reads; an editor also writes the rows inside it; an admin
    also updates or deletes the container itself. `owner_id` stays the row's creator and is
    no right of its own. A superuser (`unrestricted`) reads, updates and deletes every row,
    as on owned models, but adds rows only to containers they are an editor or admin of.
    """

    @property
    def _writer(self) -> Role:
        return Role.ADMIN if self.model.members is not None else Role.EDITOR

    @property
    def _on_postgres(self) -> bool:
        return self.database.dialect_name == "postgresql"

    def _scope(self, statement: StatementT) -> StatementT:
        if self.owner_id is None:
            return statement
        if isinstance(statement, Select):
            return statement.where(self._allowed(Role.VIEWER))
        return statement.where(self._allowed(self._writer, lock=self._on_postgres))

    def _allowed(self, least: Role, *, lock: bool = False) -> ColumnElement[bool]:
        """The caller is a member of the row's container with at least `least` (or a
        superuser, for an `unrestricted` repository)."""
        caller = bindparam("_owner_id", type_=Uuid)
        mine = container_id(self.model, self.model)
        allowed = is_member(self.model, mine, caller, least, lock=lock)
        return or_(allowed, is_superuser(caller)) if self.unrestricted else allowed

    async def _unchanged(self, id: RowKey, versions: Versions) -> Record | None:
        """An update that changes nothing still needs the right to write: a viewer's is
        refused as any write of theirs is."""
        key = tuple(self._key(id))
        statement = self._statement(
            ("unchanged", versions is None, key),
            lambda: select(*self._columns).where(
                *self._target(versions, key), self._allowed(self._writer)
            ),
        )
        rows = await self._read(statement, self._target_params(id, versions))
        return rows[0] if rows else None

    def _embeddable(self, target: type[Entity]) -> ColumnElement[bool] | None:
        """A shared target's rows the caller is a member of; others as on owned models."""
        if not is_shared(target):
            return super()._embeddable(target)
        if self.owner_id is None:
            return None
        assert issubclass(target, OwnedEntity)
        caller = bindparam("_owner_id", type_=Uuid)
        member = is_member(target, container_id(target, target), caller)
        return or_(member, is_superuser(caller)) if self.unrestricted else member

    def _columns_of(self, model: type[Entity]) -> list[Any]:
        """A container's row also answers the caller's `role` in it (null for a superuser
        who is no member), read in the same statement."""
        columns = super()._columns_of(model)
        if not issubclass(model, OwnedEntity) or model.members is None:
            return columns
        members, column = members_table_of(model)
        member = members.alias("caller_member")
        row_id: ColumnElement[Any] = literal_column(f"{model.__tablename__}.id")  # _count_of
        role = select(member.c.role).where(
            member.c[column] == row_id, member.c.user_id == bindparam("_viewer", type_=Uuid)
        )
        return [*columns, role.scalar_subquery().label("role")]

    # ------------------------------------------------------------------ writing

    def _returning(self, written: Insert) -> Any:
        """A new container makes its creator its admin: on PostgreSQL in the same statement
        (the membership's INSERT a CTE reading the row's), answered with `role` admin and
        the values a new row has (no counted rows, no ids, no flags)."""
        if self.model.members is None or not self._on_postgres:
            return super()._returning(written)
        created = written.returning(*self.model.__table__.columns).cte("created")
        members, column = members_table_of(self.model)
        admin = literal(Role.ADMIN, type_=members.c.role.type)
        joined = insert(members).from_select(
            [column, "user_id", "role", "created_at"],
            select(created.c.id, created.c.owner_id, admin, created.c.created_at),
        )
        fresh = [
            *(
                func.array(select(link.target).where(false()).scalar_subquery()).label(name)
                for name, link in link_fields(self.model).items()
            ),
            *(literal(0).label(name) for name in self.model.counts),
            *(false().label(name) for name in self.model.viewer_flags),
        ]
        answer = select(*created.c, *fresh, admin.label("role"))
        return answer.add_cte(joined.cte("joined"))

    async def _insert(self, values: Mapping[str, Any]) -> Record | None:
        """On SQLite a new container's admin membership is the next statement of the same
        transaction (PostgreSQL: `_returning`)."""
        if self.model.members is None or self._on_postgres:
            return await super()._insert(values)
        members, column = members_table_of(self.model)
        join = self._statement(
            ("join_as_admin",),
            lambda: insert(members).values(
                {
                    column: bindparam("_row"),
                    "user_id": bindparam("_user"),
                    "role": Role.ADMIN,
                    "created_at": bindparam("_now"),
                }
            ),
        )
        async with self.database.transaction():
            created = await super()._insert(values)
            if created is None:
                return None
            params = {"_row": created.id, "_user": self.owner_id, "_now": created.created_at}
            await self.database.write(join, params)
        return Expanded(created, {"role": Role.ADMIN})

    def _references_in(self, values: Mapping[str, Any]) -> tuple[str, ...]:
        users = tuple(name for name in user_references(self.model) if name in values)
        return (*super()._references_in(values), *users)

    def _references_hold(
        self, names: Sequence[str], *, updating: bool
    ) -> list[ColumnElement[bool]]:
        """Inside the writing statement: the `through` reference names a container (or a
        row in one) the caller is an editor of; another team row is in the written row's
        own container (one the caller reads, for a container's reference), and never the
        row itself or below it; a `ref(User)` names a member of the row's container, also
        each one the row keeps when it moves to another container."""
        caller = bindparam("_owner_id" if updating else "owner_id", type_=Uuid)
        references = owned_references(self.model)
        table = self.model.__table__.c
        mine = self._row_container(names, updating=updating)
        conditions: list[ColumnElement[bool]] = []
        others: list[str] = []
        for name in names:
            target = references.get(name)
            given = bindparam(name, type_=Uuid)
            if name in user_references(self.model):
                holds = self._member_of_row(given, caller, mine, updating=updating)
            elif target is not None and name == self.model.through:
                container = container_id_of(given, target)
                holds = is_member(target, container, caller, Role.EDITOR, lock=self._on_postgres)
            elif target is not None and is_shared(target):
                container = container_id_of(given, target)
                if mine is None:  # a container's reference: to a row the caller reads
                    holds = is_member(target, container, caller, lock=self._on_postgres)
                else:  # inside one: to a row of the same container
                    holds = container == mine
                if updating and target is self.model:
                    holds = holds & ~self._ancestor_or_self(name)
            else:
                others.append(name)
                continue
            if table[name].nullable:
                holds = or_(given.is_(None), holds)
            conditions.append(holds)
        if updating and self.model.through in names:  # a move: what it keeps comes along
            for name in sorted(set(user_references(self.model)) - set(names)):
                kept = self._member_of_row(table[name], caller, mine, updating=True)
                conditions.append(or_(table[name].is_(None), kept))
            for name, target in sorted(references.items()):
                if name not in names and is_shared(target):
                    same = container_id_of(table[name], target) == mine
                    conditions.append(or_(table[name].is_(None), same))
        return [*conditions, *super()._references_hold(others, updating=updating)]

    def _row_container(self, names: Sequence[str], *, updating: bool) -> Any:
        """The id of the written row's container, as SQL: its own (an update), or the one
        its `through` reference names (a create, or a move); None for a container itself."""
        model = self.model
        through = model.through
        if through is None:
            return None
        if updating and through not in names:
            return container_id(model, model)
        return container_id_of(bindparam(through, type_=Uuid), owned_references(model)[through])

    def _member_of_row(
        self, user: Any, caller: Any, container: Any, *, updating: bool
    ) -> ColumnElement[bool]:
        """`user` is a member of the written row's `container` (`_row_container`); for a
        container itself, of the row (a new one has its creator as its only member)."""
        model = self.model
        if container is not None:
            return is_member(model, container, user)
        if not updating:
            return user == caller  # type: ignore[no-any-return]
        return is_member(model, model.__table__.c.id, user)

    # ------------------------------------------------------- explaining a miss

    async def _role(self, model: type[OwnedEntity], id: uuid.UUID) -> Role | None:
        """The caller's role in the container of `model`'s row `id`; None: no member."""
        members, column = members_table_of(model)

        def build() -> Select[Any]:
            container = container_id_of(bindparam("_ref", type_=Uuid), model)
            return select(members.c.role).where(
                members.c[column] == container, members.c.user_id == bindparam("_caller")
            )

        statement = self._statement(("role", model.__name__), build)
        rows = await self._read(statement, {"_ref": id, "_caller": self.owner_id})
        return Role(rows[0][0]) if rows else None

    async def write_refused(
        self, values: Mapping[str, Any], row: Record | None = None
    ) -> str | None:
        """Why a write of a row the caller may read missed: their role allows no write (a
        viewer's; an editor's on the container itself), in the row's container, or in the
        one a create or a move names as the row's `through`."""
        wanted: list[tuple[type[OwnedEntity], uuid.UUID, Role]] = []
        if row is not None:
            wanted.append((self.model, row.id, self._writer))
        through = self.model.through
        if through is not None and values.get(through) is not None:
            wanted.append((owned_references(self.model)[through], values[through], Role.EDITOR))
        for model, id, needed in wanted:
            role = await self._role(model, id)
            if role is not None and role not in needed.and_above:
                what = in_words(container_of(model).__name__).lower()
                allowed = " or ".join(needed.and_above)
                return f"Your role in this {what} is {role}; this needs {allowed}"
        return None

    async def missing_reference(
        self, values: Mapping[str, Any], owner_id: Any, row: Record | None = None
    ) -> str | None:
        """The model a reference in `values` names no usable row of: a team row in another
        container (or, for a container's reference, one the caller is no member of), or a
        user who is no member of the row's container ("User"), also one a moved row keeps."""
        references = owned_references(self.model)
        mine = await self._container_of_written(values, row)
        people = user_references(self.model)
        named = {name: values[name] for name in self._references_in(values)}
        if row is not None and self.model.through in values:  # a move keeps the rest
            kept = [*people, *(name for name in references if is_shared(references[name]))]
            named |= {name: getattr(row, name) for name in kept if name not in values}
        for name, value in named.items():
            target = references.get(name)
            if value is None:
                continue
            if name in people:
                if mine is not None:
                    container = container_of(self.model)
                    member = await self._is_container_member(container, mine, value)
                elif row is not None:
                    member = await self._is_container_member(self.model, row.id, value)
                else:
                    member = value == self.owner_id  # a new container: its creator only
                if not member:
                    return "User"
            elif target is not None and name == self.model.through:
                if not await self._is_container_member(target, value):
                    return in_words(target.__name__)
            elif target is not None and is_shared(target):
                theirs = await self._container_id(target, value)
                if theirs is None or (mine is not None and theirs != mine):
                    return in_words(target.__name__)
                if mine is None and not await self._is_container_member(target, value):
                    return in_words(target.__name__)
        plain = {
            name: value
            for name, value in values.items()
            if name not in people and not (name in references and is_shared(references[name]))
        }
        return await super().missing_reference(plain, owner_id)

    async def _container_of_written(
        self, values: Mapping[str, Any], row: Record | None
    ) -> uuid.UUID | None:
        """The id of the written row's container (`_row_container`, as a value); None for a
        container itself, or when the `through` row it names does not exist."""
        through = self.model.through
        if through is None:
            return None
        if values.get(through) is not None:
            return await self._container_id(owned_references(self.model)[through], values[through])
        return None if row is None else await self._container_id(self.model, row.id)

    async def _container_id(self, model: type[OwnedEntity], id: uuid.UUID) -> uuid.UUID | None:
        """The id of the container of `model`'s row `id`; None if there is no such row."""
        ref = bindparam("_ref", type_=Uuid)

        def build() -> Select[Any]:
            if model.members is not None:
                return select(model.id).where(model.id == ref)
            return select(container_id_of(ref, model))

        rows = await self._read(
            self._statement(("container_of", model.__name__), build), {"_ref": id}
        )
        return rows[0][0] if rows else None

    async def _is_container_member(
        self, model: type[OwnedEntity], id: uuid.UUID, user: uuid.UUID | None = None
    ) -> bool:
        """Whether `user` (the caller) is a member of the container of `model`'s row `id`."""
        statement = self._statement(
            ("member_of", model.__name__),
            lambda: select(
                is_member(
                    model,
                    container_id_of(bindparam("_ref", type_=Uuid), model),
                    bindparam("_user", type_=Uuid),
                )
            ),
        )
        params = {"_ref": id, "_user": user or self.owner_id}
        return bool((await self._read(statement, params))[0][0])


_person = aliased(User, name="person")
"""A member's account, as the member routes show it: aliased, as `is_superuser` reads the
caller's account in the same statement."""


class MemberRepository:
    """The members of one container of a shared model: who they are and their roles.

    `list` and `readable` answer only a member of the container (or a superuser). The
    other methods check nothing themselves: `MemberService` calls `lock` first, in the
    transaction of the change, which locks the container's admin memberships (PostgreSQL;
    SQLite's transaction holds the write lock) and tells the caller's role, so two admins
    demoting each other cannot leave a container without one.
    """

    def __init__(
        self,
        database: Database,
        model: type[OwnedEntity],
        *,
        container: uuid.UUID,
        caller: uuid.UUID,
        unrestricted: bool = False,
    ) -> None:
        """The members of `model`'s row `container`, as `caller` reaches them."""
        self.database = database
        self.model = model
        self.container = container
        self.caller = caller
        self.unrestricted = unrestricted
        self.members, self.column = members_table_of(model)

    def _statement(self, key: Hashable, build: Callable[[], Any]) -> Any:
        dialect = self.database.dialect_name
        return built_once((MemberRepository, self.model, dialect, self.unrestricted, key), build)

    def _may_read(self) -> ColumnElement[bool]:
        caller = bindparam("_caller", type_=Uuid)
        member = is_member(self.model, bindparam("_container", type_=Uuid), caller)
        return or_(member, is_superuser(caller)) if self.unrestricted else member

    def _answered(self) -> list[Any]:
        m = self.members.c
        return [
            m.user_id,
            _person.name,
            _person.email,
            m.role,
            m.created_at,
            m.user_id.label("id"),  # the page's cursor names a member by it
        ]

    async def list(self, page: PageRequest) -> tuple[Sequence[Record], int]:
        """One page of the container's members (plus one row, to tell if more follow) in
        joining order, and their total, in one statement; nothing for a non-member."""
        after = page.after()
        m = self.members.c

        def build() -> Select[Any]:
            mine = self._in_container()
            total = select(func.count()).where(mine).scalar_subquery()
            rows = (
                select(*self._answered(), total.label("_total"))
                .join_from(self.members, _person, _person.id == m.user_id)
                .where(mine, self._may_read())
            )
            if after is not None:
                rows = rows.where(
                    tuple_(m.created_at, m.user_id)
                    > tuple_(
                        bindparam("_after_at", type_=m.created_at.type),
                        bindparam("_after_id", type_=Uuid),
                    )
                )
            ordered = rows.order_by(m.created_at, m.user_id).limit(bindparam("_limit"))
            return ordered if after is not None else ordered.offset(bindparam("_offset"))

        statement = self._statement(("list", after is None), build)
        params: dict[str, Any] = {"_limit": page.limit + 1}
        if after is None:
            params["_offset"] = page.offset
        else:
            params["_after_at"], params["_after_id"] = after
        rows = await self.database.read(statement, self._params(**params))
        if rows or (after is None and page.offset == 0):
            return rows, rows[0]._total if rows else 0
        count = self._statement(
            ("count",),
            lambda: select(func.count()).where(self._in_container(), self._may_read()),
        )
        return rows, int((await self.database.read(count, self._params()))[0][0])

    def _params(self, **params: Any) -> dict[str, Any]:
        return {"_caller": self.caller, "_container": self.container, **params}

    def _in_container(self) -> ColumnElement[bool]:
        """The memberships of this container (the `_container` parameter)."""
        return self.members.c[self.column] == bindparam("_container", type_=Uuid)

    def _the_member(self) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """The membership of the user the `_user` parameter names, in this container."""
        return self._in_container(), self.members.c.user_id == bindparam("_user")

    async def readable(self) -> bool:
        """Whether the caller may see the container (a member, or a superuser)."""
        statement = self._statement(("readable",), lambda: select(self._may_read()))
        return bool((await self.database.read(statement, self._params()))[0][0])

    async def lock(self) -> tuple[Role | None, bool] | None:
        """In a transaction: the container's admin memberships locked until it ends
        (PostgreSQL; SQLite's transaction holds the write lock), then the caller's (role,
        whether their row says superuser) as they are now; None if there is no such
        container. The admins are what the last-admin rule counts; the container's own row
        is left alone, as a write inside it checks its reference to it (`FOR KEY SHARE`)."""
        m = self.members.c
        if self.database.dialect_name == "postgresql":
            admins = self._statement(
                ("lock_admins",),
                lambda: (
                    select(m.user_id)
                    .where(self._in_container(), m.role == Role.ADMIN)
                    .with_for_update()
                ),
            )
            await self.database.read(admins, self._params())
        container = self.model

        def build() -> Select[Any]:
            caller = bindparam("_caller", type_=Uuid)
            role = select(m.role).where(m[self.column] == container.id, m.user_id == caller)
            return select(
                container.id, role.scalar_subquery().label("role"), is_superuser(caller)
            ).where(container.id == bindparam("_container", type_=Uuid))

        rows = await self.database.read(self._statement(("caller",), build), self._params())
        if not rows:
            return None
        role, superuser = rows[0][1], rows[0][2]
        return (None if role is None else Role(role)), bool(superuser) and self.unrestricted

    async def member(self, user: uuid.UUID) -> Record | None:
        m = self.members.c
        statement = self._statement(
            ("member",),
            lambda: (
                select(*self._answered())
                .join_from(self.members, _person, _person.id == m.user_id)
                .where(*self._the_member())
            ),
        )
        rows = await self.database.read(statement, self._params(_user=user))
        return rows[0] if rows else None

    async def user_by_email(self, email: str) -> uuid.UUID | None:
        statement = self._statement(
            ("user",), lambda: select(User.id).where(User.email == bindparam("_email"))
        )
        rows = await self.database.read(statement, {"_email": email})
        return rows[0][0] if rows else None

    async def admins(self) -> int:
        m = self.members.c
        statement = self._statement(
            ("admins",),
            lambda: select(func.count()).where(self._in_container(), m.role == Role.ADMIN),
        )
        return int((await self.database.read(statement, self._params()))[0][0])

    async def add(self, user: uuid.UUID, role: Role) -> bool:
        """Whether the user was added (False: already a member)."""
        statement = self._statement(
            ("add",),
            lambda: (
                dialect_insert(self.database, self.members)
                .values(
                    {
                        self.column: bindparam("_container"),
                        "user_id": bindparam("_user"),
                        "role": bindparam("_role"),
                        "created_at": bindparam("_now"),
                    }
                )
                .on_conflict_do_nothing()
                .returning(self.members.c.user_id)
            ),
        )
        params = self._params(_user=user, _role=role, _now=utcnow())
        return await self.database.write(statement, params) is not None

    async def change(self, user: uuid.UUID, role: Role) -> bool:
        m = self.members.c
        statement = self._statement(
            ("change",),
            lambda: (
                update(self.members)
                .where(*self._the_member())
                .values(role=bindparam("_role"))
                .returning(m.user_id)
            ),
        )
        params = self._params(_user=user, _role=role)
        return await self.database.write(statement, params) is not None

    async def remove(self, user: uuid.UUID) -> bool:
        m = self.members.c
        statement = self._statement(
            ("remove",),
            lambda: delete(self.members).where(*self._the_member()).returning(m.user_id),
        )
        params = self._params(_user=user)
        return await self.database.write(statement, params) is not None

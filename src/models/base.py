"""Declarative base and the columns every resource shares."""

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from pydantic_core import to_jsonable_python
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    TypeDecorator,
    Uuid,
    cast,
    exists,
    func,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, Relationship, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _created_at_or_now(context: DefaultExecutionContext) -> datetime:
    """A new row's `updated_at` equals its `created_at`, to the microsecond."""
    parameters = context.get_current_parameters()  # type: ignore[no-untyped-call]
    created_at: datetime | None = parameters.get("created_at")
    return created_at or utcnow()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ValueList(TypeDecorator[list[Any]]):
    """A `list[T]` field: an ARRAY of the item's type on PostgreSQL (a GIN index serves
    "holds this value"), a JSON array on SQLite (dates as ISO text there). Never NULL: no
    items is the empty list."""

    impl = JSON
    cache_ok = True

    def __init__(self, item: Any) -> None:
        super().__init__()
        self.item = item

    def __repr__(self) -> str:
        return f"ValueList({self.item!r})"

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return to_jsonable_python(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any] | None:
        if value is None or dialect.name == "postgresql":
            return value  # type: ignore[no-any-return]
        if isinstance(self.item, Date):
            return [date.fromisoformat(item) for item in value]
        return list(value)

    def holds(self, column: Any, value: Any, dialect_name: str) -> Any:
        """SQL: the row's list holds `value` (an equality list filter on the field)."""
        if dialect_name == "postgresql":
            wanted = cast(array([value]), ARRAY(self.item))
            return type_coerce(column, ARRAY(self.item)).contains(wanted)
        items = func.json_each(column).table_valued("value")
        return exists().where(items.c.value == value)


class JsonDocument(TypeDecorator[Any]):
    """An `object(Name)` or `json` field: JSON text on SQLite, JSONB on PostgreSQL, a
    Python None kept as SQL NULL (not the JSON `null`), dates and the like as JSON text."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else to_jsonable_python(value)


def string_enum(enum_class: type[enum.StrEnum], *, name: str) -> Enum:
    """A VARCHAR with a CHECK of the values: the same migration on SQLite and PostgreSQL."""
    return Enum(
        enum_class,
        native_enum=False,
        length=max(20, *(len(member.value) for member in enum_class)),
        create_constraint=True,
        name=name,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Entity(Base):
    """Abstract root of every table: uuid4 `id`, system-set `created_at`/`updated_at`."""

    __abstract__ = True

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, default=uuid.uuid4, sort_order=-10
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, sort_order=10)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=_created_at_or_now, onupdate=utcnow, sort_order=10
    )
    version: Mapped[int] = mapped_column(default=1, server_default="1", sort_order=10)
    """1 on insert, +1 on every change: the ETag, compared in SQL by conditional writes."""

    search_fields: ClassVar[tuple[str, ...]] = ()
    """The text columns a list's `q` searches (a doc's `q (search title, description)`)."""
    counts: ClassVar[dict[str, tuple[str, str]]] = {}
    """Each count field (`count(Comment.card_id)`): the table and column of the rows it
    counts, read in the row's own statement (`Repository._columns_of`)."""
    numbers: ClassVar[dict[str, str]] = {}
    """Each number field (`next(card_id)`) with the column whose value scopes its counter
    (`owner_id` for `next()`), handed out at create (`Repository._insert`)."""
    slugs: ClassVar[dict[str, str]] = {}
    """Each slug field (`slug(title)`) with the field it is made from, once, at create
    (`Repository.create`)."""
    authored: ClassVar[tuple[str, ...]] = ()
    """The `ref(User)` fields set to the caller at create (`author_id`: `current user`)."""
    viewer_flags: ClassVar[dict[str, str]] = {}
    """Each field that says whether the caller is in a `refs(User)` field (`favorited`:
    `current user in favorited_by`), by name: false for an anonymous caller."""


class OwnedEntity(Entity):
    """A row that belongs to one user; repositories scope every query by `owner_id`."""

    __abstract__ = True

    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), sort_order=-5
    )

    readable_by_anyone: ClassVar[bool] = False
    """Its reads are public (a doc's GET with Auth None): anyone may refer to its rows, as
    a comment of one user on another's public article, since anyone can read them."""
    members: ClassVar[Table | None] = None
    """A shared container (`Access: shared`): the table of its members and their roles
    (`member_table`). `owner_id` stays its creator; who may do what is the members'."""
    through: ClassVar[str | None] = None
    """`Access: through project_id`: the `ref` whose row (a shared container, or a row
    itself through another) decides who reads and writes this one."""


def link_table(name: str, source: tuple[str, str], target: tuple[str, str]) -> Table:
    """The association table of a `refs(Model)` field: `source` and `target` are each a
    (column, referenced table). One row per pair (its primary key, which also serves the
    row's own ids); `position` keeps the order the ids were sent in; the index leading with
    the target serves "rows that have this one" and the cascade when a target goes. Either
    row deleted takes the pair with it."""
    (source_column, source_table), (target_column, target_table) = source, target
    return Table(
        name,
        Base.metadata,
        Column(
            source_column,
            Uuid,
            ForeignKey(f"{source_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column(
            target_column,
            Uuid,
            ForeignKey(f"{target_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        Column("position", Integer, nullable=False),
        Index(None, target_column, source_column),
    )


class Role(enum.StrEnum):
    """A member's role in a shared container, each allowing what the one before does."""

    VIEWER = "viewer"
    """Reads the container and the rows inside it."""
    EDITOR = "editor"
    """Also writes the rows inside it."""
    ADMIN = "admin"
    """Also manages members, and updates or deletes the container itself."""

    @property
    def and_above(self) -> tuple["Role", ...]:
        """The roles allowed what this one is (`EDITOR`: editors and admins)."""
        roles = list(Role)
        return tuple(roles[roles.index(self) :])


def member_table(name: str, container: tuple[str, str]) -> Table:
    """The members of a shared container: `container` is (its column, its table). One row per
    (container, user) with the user's role; the index leading with the user serves "the
    containers I am in". A container or user deleted takes the membership with it."""
    column, table = container
    return Table(
        name,
        Base.metadata,
        Column(column, Uuid, ForeignKey(f"{table}.id", ondelete="CASCADE"), primary_key=True),
        Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("role", string_enum(Role, name="role"), nullable=False),
        Column("created_at", UTCDateTime, nullable=False, default=utcnow),
        Index(None, "user_id", column),
    )


def links(target: str, table: Table) -> Relationship[Any]:
    """A `refs(Model)` field on a model: the rows of `target` its link `table` pairs it with,
    in the order sent. Never loaded by the ORM (`lazy="raise"`, view only): repositories read
    and write the ids themselves (src/repositories/base.py)."""
    source, linked = table.c[0], table.c[1]  # as link_table() orders them
    return relationship(
        target,
        secondary=table,
        # Explicit, as a link from a model to its own rows has two ways to join.
        primaryjoin=lambda: _referenced(source) == source,
        secondaryjoin=lambda: _referenced(linked) == linked,
        order_by=table.c.position,
        lazy="raise",
        viewonly=True,
    )


def _referenced(column: Column[Any]) -> Column[Any]:
    """The column a link table's column is a foreign key to (known once both tables are)."""
    (key,) = column.foreign_keys
    return key.column

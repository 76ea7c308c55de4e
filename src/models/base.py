"""Declarative base and the columns every resource shares."""

import enum
import uuid
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, TypeDecorator, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class OwnedEntity(Entity):
    """A row that belongs to one user; repositories scope every query by `owner_id`."""

    __abstract__ = True

    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), sort_order=-5
    )

    readable_by_anyone: ClassVar[bool] = False
    """Its reads are public (a doc's GET with Auth None): anyone may refer to its rows, as
    a comment of one user on another's public article, since anyone can read them."""

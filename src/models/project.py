import enum

from sqlalchemy import Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import OwnedEntity


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Project(OwnedEntity):
    __tablename__ = "projects"
    __table_args__ = (Index(None, "owner_id", "created_at", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[ProjectStatus] = mapped_column(
        Enum(
            ProjectStatus,
            native_enum=False,
            length=20,
            create_constraint=True,
            name="status",
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ProjectStatus.ACTIVE,
    )

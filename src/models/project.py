"""FEAT-001 Projects: the Project model (docs/features/FEAT-001-projects.md).

Authenticated CRUD for projects under `/api/v1/projects`: every project belongs to the user who
created it (`owner_id`), and a user can only read, list, update or delete their own projects.
Lists are paginated with `page`/`limit` and ordered by `created_at`, then `id`, ascending.
"""

import enum

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import OwnedEntity, string_enum


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Project(OwnedEntity):
    __tablename__ = "projects"
    __table_args__ = (Index(None, "owner_id", "created_at", "id"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[ProjectStatus] = mapped_column(
        string_enum(ProjectStatus, name="status"), default=ProjectStatus.ACTIVE
    )

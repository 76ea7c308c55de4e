"""FEAT-002 Tasks: the Task model (docs/features/FEAT-002-tasks.md).

Authenticated CRUD for tasks under `/api/v1/tasks`: every task belongs to the user who created
it and to one of that user's projects (`project_id`, checked against the task's owner). The list
is paginated with `page`/`limit`, can be narrowed to one project with `project_id`, and is
ordered by `created_at`, then `id`, ascending.
"""

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from src.models.base import OwnedEntity


class Task(OwnedEntity):
    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "owner_id", "created_at", "id"),
        Index(None, "project_id", "created_at", "id"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("projects.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[int] = mapped_column(SmallInteger, default=3)
    due_date: Mapped[date | None]

"""Every model, imported here so Alembic's autogenerate sees every table."""

from src.models.base import Base, Entity, OwnedEntity
from src.models.counter import Counter
from src.models.idempotency import IdempotencyRecord
from src.models.project import Project, ProjectStatus
from src.models.refresh_token import RefreshToken
from src.models.task import Task
from src.models.user import User

__all__ = [
    "Base",
    "Counter",
    "Entity",
    "IdempotencyRecord",
    "OwnedEntity",
    "Project",
    "ProjectStatus",
    "RefreshToken",
    "Task",
    "User",
]

"""FEAT-001 Projects: request and response schemas (docs/features/FEAT-001-projects.md)."""

from typing import Annotated

from pydantic import MISSING, Field

from src.models.project import ProjectStatus
from src.schemas.base import InputSchema, NoNul, ResourceResponse

ProjectName = Annotated[str, Field(min_length=1, max_length=200), NoNul]
ProjectDescription = Annotated[str, Field(max_length=2000), NoNul]


class ProjectCreate(InputSchema):
    name: ProjectName
    description: ProjectDescription | None = None
    status: ProjectStatus = ProjectStatus.ACTIVE


class ProjectUpdate(InputSchema):
    name: ProjectName | MISSING = MISSING
    description: ProjectDescription | None | MISSING = MISSING
    status: ProjectStatus | MISSING = MISSING


class ProjectResponse(ResourceResponse):
    name: str
    description: str | None
    status: ProjectStatus

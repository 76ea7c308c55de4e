"""FEAT-002 Tasks: request and response schemas (docs/features/FEAT-002-tasks.md)."""

import uuid
from datetime import date
from typing import Annotated

from pydantic import MISSING, Field, StrictBool, StrictInt

from src.schemas.base import InputSchema, IsoDate, NoNul, ResourceResponse, WholeNumber

TaskTitle = Annotated[str, Field(min_length=1, max_length=200), NoNul]
TaskPriority = Annotated[StrictInt, Field(ge=1, le=5), WholeNumber]


class TaskCreate(InputSchema):
    project_id: uuid.UUID
    title: TaskTitle
    done: StrictBool = False
    priority: TaskPriority = 3
    due_date: IsoDate | None = None


class TaskUpdate(InputSchema):
    project_id: uuid.UUID | MISSING = MISSING
    title: TaskTitle | MISSING = MISSING
    done: StrictBool | MISSING = MISSING
    priority: TaskPriority | MISSING = MISSING
    due_date: IsoDate | None | MISSING = MISSING


class TaskResponse(ResourceResponse):
    project_id: uuid.UUID
    title: str
    done: bool
    priority: int
    due_date: date | None

"""FEAT-002 Tasks: API endpoints (docs/features/FEAT-002-tasks.md)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from src.api.conditional import IfMatch, tagged
from src.api.deps import BearerUser, PageDep, database_of
from src.api.idempotency import IdempotencyKey, created
from src.api.problems import problem_responses
from src.core.pagination import Page
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.task_repo import TaskRepository
from src.schemas.base import PaginatedResponse
from src.schemas.task import TaskCreate, TaskResponse, TaskUpdate
from src.services.task_service import TaskService

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=problem_responses(401))


def get_service(request: Request, user: Principal) -> TaskService:
    return TaskService(
        TaskRepository(database_of(request), owner_id=user.id, unrestricted=user.is_superuser)
    )


Service = Annotated[TaskService, Depends(BearerUser(get_service))]


@router.post(
    "",
    status_code=201,
    response_model=TaskResponse,
    responses=problem_responses(400, 404, 409, 413, 422),
)
async def create_task(
    request: Request, data: TaskCreate, service: Service, key: IdempotencyKey = None
) -> Response:
    return await created(request, service, data, key)


@router.get("/{id}", response_model=TaskResponse, responses=problem_responses(400, 404))
async def get_task(id: uuid.UUID, service: Service, response: Response) -> Record:
    return tagged(response, await service.get(id))


@router.get("", response_model=PaginatedResponse[TaskResponse], responses=problem_responses(400))
async def list_tasks(
    page: PageDep,
    service: Service,
    project_id: Annotated[
        uuid.UUID | None, Query(description="Only tasks whose `project_id` is this.")
    ] = None,
) -> Page[Record]:
    return await service.list(page, {"project_id": project_id})


@router.put(
    "/{id}", response_model=TaskResponse, responses=problem_responses(400, 404, 412, 413, 428)
)
async def update_task(
    id: uuid.UUID, data: TaskUpdate, service: Service, if_match: IfMatch, response: Response
) -> Record:
    return tagged(response, await service.update(id, data, if_match))


@router.delete(
    "/{id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 404, 412, 428),
)
async def delete_task(id: uuid.UUID, service: Service, if_match: IfMatch) -> None:
    await service.delete(id, if_match)

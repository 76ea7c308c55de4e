"""FEAT-001 Projects: API endpoints (docs/features/FEAT-001-projects.md)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from src.api.conditional import IfMatch, tagged
from src.api.deps import BearerUser, PageDep, database_of
from src.api.idempotency import IdempotencyKey, created
from src.api.problems import problem_responses
from src.core.pagination import Page
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.project_repo import ProjectRepository
from src.schemas.base import PaginatedResponse
from src.schemas.project import ProjectCreate, ProjectResponse, ProjectUpdate
from src.services.project_service import ProjectService

router = APIRouter(prefix="/projects", tags=["projects"], responses=problem_responses(401))


def get_service(request: Request, user: Principal) -> ProjectService:
    return ProjectService(
        ProjectRepository(database_of(request), owner_id=user.id, unrestricted=user.is_superuser)
    )


Service = Annotated[ProjectService, Depends(BearerUser(get_service))]


@router.post(
    "",
    status_code=201,
    response_model=ProjectResponse,
    responses=problem_responses(400, 409, 413, 422),
)
async def create_project(
    request: Request, data: ProjectCreate, service: Service, key: IdempotencyKey = None
) -> Response:
    return await created(request, service, data, key)


@router.get("/{id}", response_model=ProjectResponse, responses=problem_responses(400, 404))
async def get_project(id: uuid.UUID, service: Service, response: Response) -> Record:
    return tagged(response, await service.get(id))


@router.get("", response_model=PaginatedResponse[ProjectResponse], responses=problem_responses(400))
async def list_projects(page: PageDep, service: Service) -> Page[Record]:
    return await service.list(page)


@router.put(
    "/{id}", response_model=ProjectResponse, responses=problem_responses(400, 404, 412, 413, 428)
)
async def update_project(
    id: uuid.UUID, data: ProjectUpdate, service: Service, if_match: IfMatch, response: Response
) -> Record:
    return tagged(response, await service.update(id, data, if_match))


@router.delete(
    "/{id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 404, 412, 428),
)
async def delete_project(id: uuid.UUID, service: Service, if_match: IfMatch) -> None:
    await service.delete(id, if_match)

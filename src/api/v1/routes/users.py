"""The caller's own account, and every account for superusers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from src.api.deps import BearerUser, PageDep, database_of
from src.api.problems import problem_responses
from src.core.pagination import Page
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository
from src.schemas.base import PaginatedResponse
from src.schemas.user import UserResponse
from src.services.user_service import UserService

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


def get_service(request: Request, user: Principal) -> UserService:
    return UserService(UserRepository(database_of(request)), caller=user)


Service = Annotated[UserService, Depends(BearerUser(get_service))]


@router.get("/me", response_model=UserResponse)
async def read_me(service: Service) -> Record:
    return await service.me()


@router.get(
    "", response_model=PaginatedResponse[UserResponse], responses=problem_responses(400, 403)
)
async def list_users(page: PageDep, service: Service) -> Page[Record]:
    """Superusers only; anyone else gets a 403."""
    return await service.list(page)

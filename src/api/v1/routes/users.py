"""The caller's own account, and every account for superusers."""

from typing import Annotated

from fastapi import APIRouter, Depends

from src.api.deps import CurrentUser, PageDep, SessionDep
from src.api.problems import problem_responses
from src.core.pagination import Page
from src.models.user import User
from src.repositories.user_repo import UserRepository
from src.schemas.base import PaginatedResponse
from src.schemas.user import UserResponse
from src.services.user_service import UserService

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


async def get_service(user: CurrentUser, session: SessionDep) -> UserService:
    return UserService(UserRepository(session), caller=user)


Service = Annotated[UserService, Depends(get_service)]


@router.get("/me", response_model=UserResponse)
async def read_me(service: Service) -> User:
    return await service.me()


@router.get(
    "", response_model=PaginatedResponse[UserResponse], responses=problem_responses(400, 403)
)
async def list_users(page: PageDep, service: Service) -> Page[User]:
    """Superusers only; anyone else gets a 403."""
    return await service.list(page)

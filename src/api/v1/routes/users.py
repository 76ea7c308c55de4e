"""The caller's own account, and every account for superusers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from src.api.deps import BearerUser, PageDep, database_of
from src.api.problems import problem_responses
from src.api.ratelimit import AttemptDep
from src.api.v1.routes.auth import auth_service
from src.core.errors import InvalidField
from src.core.pagination import Page
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository
from src.schemas.base import PaginatedResponse
from src.schemas.user import PasswordChange, UserResponse
from src.services.auth_service import AuthService
from src.services.user_service import UserService

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


def get_service(request: Request, user: Principal) -> UserService:
    return UserService(UserRepository(database_of(request)), caller=user)


def get_auth_service(request: Request, user: Principal) -> tuple[AuthService, Principal]:
    return auth_service(request), user


Service = Annotated[UserService, Depends(BearerUser(get_service))]
Account = Annotated[tuple[AuthService, Principal], Depends(BearerUser(get_auth_service))]


@router.get("/me", response_model=UserResponse)
async def read_me(service: Service) -> Record:
    return await service.me()


@router.post(
    "/me/password",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 413, 429),
)
async def change_password(data: PasswordChange, account: Account, attempt: AttemptDep) -> None:
    """Needs the current password. Ends every session of the user: their refresh tokens
    stop working at once, access tokens at their expiry."""
    service, user = account
    await attempt.login(str(user.id))
    try:
        await service.change_password(user.id, data)
    except InvalidField as error:
        if error.field == "current_password":
            await attempt.failed(str(user.id))
        raise


@router.get(
    "", response_model=PaginatedResponse[UserResponse], responses=problem_responses(400, 403)
)
async def list_users(page: PageDep, service: Service) -> Page[Record]:
    """Superusers only; anyone else gets a 403."""
    return await service.list(page)

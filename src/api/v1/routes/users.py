"""The caller's own account, and every account for superusers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from src.api.deps import BearerUser, PageDep, database_of
from src.api.problems import problem_responses
from src.api.ratelimit import Attempt, AttemptDep, get_attempt
from src.api.v1.routes.auth import auth_service
from src.core.errors import InvalidField
from src.core.pagination import Page
from src.core.security import Principal
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository
from src.schemas.base import PaginatedResponse
from src.schemas.user import PasswordChange, UserResponse, UserUpdate
from src.services.auth_service import AuthService
from src.services.user_service import UserService

router = APIRouter(prefix="/users", tags=["users"], responses=problem_responses(401))


def get_service(request: Request, user: Principal) -> UserService:
    return UserService(UserRepository(database_of(request)), caller=user)


def get_auth_service(request: Request, user: Principal) -> tuple[AuthService, Principal]:
    return auth_service(request), user


Service = Annotated[UserService, Depends(BearerUser(get_service))]
Account = Annotated[tuple[AuthService, Principal], Depends(BearerUser(get_auth_service))]


@asynccontextmanager
async def _password_attempt(attempt: Attempt, user: Principal) -> AsyncIterator[None]:
    """A password change is counted as a login of the account, and a wrong current password
    as a failed one, so the current password cannot be guessed faster here than at login."""
    await attempt.login(str(user.id))
    try:
        yield
    except InvalidField as error:
        if error.field == "current_password":
            await attempt.failed(str(user.id))
        raise


@router.get("/me", response_model=UserResponse)
async def read_me(service: Service) -> Record:
    return await service.me()


@router.patch("/me", response_model=UserResponse, responses=problem_responses(400, 413, 429))
async def update_me(request: Request, data: UserUpdate, account: Account) -> Record:
    """Change the name, or the password given the current one (as POST /users/me/password
    does, its attempts counted alike), or both: all or nothing. `{}` answers the account
    unchanged."""
    service, user = account
    password = data.password_change()
    if password is None:  # no credential: not counted as an attempt
        return await service.update_account(user.id, data.changes())
    async with _password_attempt(await get_attempt(request), user):
        return await service.update_account(user.id, data.changes(), password)


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
    async with _password_attempt(attempt, user):
        await service.change_password(user.id, data)


@router.get(
    "", response_model=PaginatedResponse[UserResponse], responses=problem_responses(400, 403)
)
async def list_users(page: PageDep, service: Service) -> Page[Record]:
    """Superusers only; anyone else gets a 403."""
    return await service.list(page)

"""Registration and OAuth2 password-flow tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from src.api.deps import Tokens, database_of
from src.api.problems import problem_responses
from src.api.ratelimit import AttemptDep
from src.repositories.base import Record
from src.repositories.user_repo import UserRepository
from src.schemas.user import PasswordGrant, TokenResponse, UserCreate, UserResponse
from src.services.auth_service import AuthService

router = APIRouter(prefix="/auth", tags=["auth"])


async def get_service(request: Request, tokens: Tokens) -> AuthService:
    return AuthService(UserRepository(database_of(request)), tokens)


Service = Annotated[AuthService, Depends(get_service)]


@router.post(
    "/register",
    status_code=201,
    response_model=UserResponse,
    responses=problem_responses(400, 409, 413, 429),
)
async def register(data: UserCreate, service: Service, attempt: AttemptDep) -> Record:
    await attempt.count(data.email)
    return await service.register(data)


@router.post("/token", responses=problem_responses(400, 401, 413, 429))
async def issue_token(
    form: Annotated[PasswordGrant, Form()], service: Service, attempt: AttemptDep
) -> TokenResponse:
    """OAuth2 password flow (form-encoded): `username` is the email."""
    await attempt.count(form.username)
    return await service.login(form.username, form.password)

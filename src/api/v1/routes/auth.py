"""Registration and OAuth2 password-flow tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form

from src.api.deps import ReadSessionDep, SessionDep, Tokens
from src.api.problems import problem_responses
from src.api.ratelimit import AttemptDep
from src.models.user import User
from src.repositories.user_repo import UserRepository
from src.schemas.user import PasswordGrant, TokenResponse, UserCreate, UserResponse
from src.services.auth_service import AuthService

router = APIRouter(prefix="/auth", tags=["auth"])


async def get_service(session: SessionDep, tokens: Tokens) -> AuthService:
    return AuthService(UserRepository(session), tokens)


async def get_login_service(session: ReadSessionDep, tokens: Tokens) -> AuthService:
    return AuthService(UserRepository(session), tokens)


Service = Annotated[AuthService, Depends(get_service)]
LoginService = Annotated[AuthService, Depends(get_login_service)]


@router.post(
    "/register",
    status_code=201,
    response_model=UserResponse,
    responses=problem_responses(400, 409, 413, 429),
)
async def register(data: UserCreate, service: Service, attempt: AttemptDep) -> User:
    await attempt.count(data.email)
    return await service.register(data)


@router.post("/token", responses=problem_responses(400, 401, 413, 429))
async def issue_token(
    form: Annotated[PasswordGrant, Form()], service: LoginService, attempt: AttemptDep
) -> TokenResponse:
    """OAuth2 password flow (form-encoded): `username` is the email."""
    await attempt.count(form.username)
    return await service.login(form.username, form.password)

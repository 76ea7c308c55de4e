"""Registration, OAuth2 password-flow tokens, refresh-token rotation and logout."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from src.api.deps import database_of
from src.api.problems import problem_responses
from src.api.ratelimit import AttemptDep, get_attempt
from src.core.errors import AuthenticationFailed
from src.repositories.refresh_token_repo import RefreshTokenRepository
from src.repositories.user_repo import UserRepository
from src.schemas.user import (
    PasswordGrant,
    RefreshRequest,
    RegistrationAccepted,
    TokenResponse,
    UserCreate,
)
from src.services.auth_service import AuthService, RefreshTokenReused

# Like every /api answer, these carry `Cache-Control: no-store` (RFC 6749 section 5.1),
# set in one place: src/api/middleware.py.
router = APIRouter(prefix="/auth", tags=["auth"])


def auth_service(request: Request) -> AuthService:
    database = database_of(request)
    settings = request.app.state.settings
    return AuthService(
        UserRepository(database),
        RefreshTokenRepository(database),
        request.app.state.tokens,
        refresh_ttl=timedelta(days=settings.refresh_token_expire_days),
        clock=request.app.state.clock,
    )


async def get_service(request: Request) -> AuthService:
    return auth_service(request)


Service = Annotated[AuthService, Depends(get_service)]
COUNTED = Depends(get_attempt)
"""Counts the request against its client address (RATE_LIMIT_PER_CLIENT)."""


@router.post(
    "/register",
    status_code=202,
    response_model=RegistrationAccepted,
    responses=problem_responses(400, 413, 429),
    dependencies=[COUNTED],
)
async def register(data: UserCreate, service: Service) -> RegistrationAccepted:
    """The same 202 whether the email was new or already taken, so this endpoint tells no
    one who has an account: log in with the email and password to continue."""
    await service.register(data)
    return RegistrationAccepted(detail="Registration received: log in with this email and password")


@router.post("/token", responses=problem_responses(400, 401, 413, 429))
async def issue_token(
    form: Annotated[PasswordGrant, Form()],
    service: Service,
    attempt: AttemptDep,
) -> TokenResponse:
    """OAuth2 password flow (form-encoded): `username` is the email. Answers an access
    token and a refresh token that starts a session."""
    await attempt.login(form.username)
    try:
        return await service.login(form.username, form.password)
    except AuthenticationFailed:
        await attempt.failed(form.username)
        raise


@router.post("/refresh", responses=problem_responses(400, 401, 413, 429))
async def refresh(data: RefreshRequest, service: Service, attempt: AttemptDep) -> TokenResponse:
    """The next access token and refresh token of the session; the refresh token sent is
    used up. Sending a used one again ends the session (it was copied)."""
    try:
        return await service.refresh(data.refresh_token)
    except RefreshTokenReused as reuse:
        attempt.security_event("refresh_token_reused", account=str(reuse.user_id))
        raise


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 413, 429),
    dependencies=[COUNTED],
)
async def logout(data: RefreshRequest, service: Service) -> None:
    """End the session of this refresh token: it and every token rotated from it stop
    working. Access tokens already issued live out their ACCESS_TOKEN_EXPIRE_MINUTES."""
    await service.logout(data.refresh_token)

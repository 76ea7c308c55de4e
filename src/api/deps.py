"""Dependencies every route uses, as `Annotated` aliases defined once."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from src.core.database import Database
from src.core.errors import AuthenticationFailed
from src.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE, PageRequest
from src.core.security import Principal, TokenService

TOKEN_URL = "/api/v1/auth/token"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.database
    async with database.session(write=request.method not in READ_ONLY_METHODS) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """For a POST that only reads (the token endpoint): no write lock, no transaction."""
    database: Database = request.app.state.database
    async with database.session(write=False) as session:
        yield session


async def get_token_service(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def get_current_user(
    request: Request, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    if not token:
        raise AuthenticationFailed("Not authenticated")
    return (await get_token_service(request)).read(token)


async def get_page(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number.")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page.")] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(page=page, limit=limit)


# "function" scope: commit before the response is sent, so a failed commit is
# answered as an error instead of a 2xx for a write that never happened.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
CurrentUser = Annotated[Principal, Depends(get_current_user)]
Tokens = Annotated[TokenService, Depends(get_token_service)]
PageDep = Annotated[PageRequest, Depends(get_page)]

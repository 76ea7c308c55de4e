"""Dependencies every route uses, as `Annotated` aliases defined once."""

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request
from fastapi.security import OAuth2PasswordBearer

from src.api.routing import WRITE_METHODS
from src.core.database import Database
from src.core.errors import AuthenticationFailed, InvalidField
from src.core.pagination import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_PAGE,
    SORTED_CURSOR_MAX_LENGTH,
    SORTED_CURSOR_PATTERN,
    PageRequest,
)
from src.core.security import Principal, TokenService

TOKEN_URL = "/api/v1/auth/token"
T = TypeVar("T")


def database_of(request: Request) -> Database:
    """The app's database, for a `get_service` that takes `request`: not a dependency of its
    own (each level costs on every request), and not a yield dependency either, since a
    repository takes a connection only where its statement runs."""
    database: Database = request.app.state.database
    return database


async def get_token_service(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


async def _caller_of(request: Request, token: str) -> Principal:
    """The caller a token names (AuthenticationFailed if none), noted for the log line."""
    caller = (await get_token_service(request)).read(token)
    request.scope.setdefault("state", {})["user_id"] = caller.id
    return caller


class BearerUser(OAuth2PasswordBearer, Generic[T]):
    """The OAuth2 bearer scheme, as OpenAPI documents it, that reads the token into the
    caller and builds what the route needs from them: `Depends(BearerUser(get_service))`.

    FastAPI solves every dependency level on every request, at about 35 µs each here
    (docs/performance.md), so the scheme, the token check and the service are one level."""

    def __init__(self, build: Callable[[Request, Principal], T]) -> None:
        super().__init__(tokenUrl=TOKEN_URL, scheme_name="BearerUser", auto_error=False)
        self.build = build

    async def __call__(self, request: Request) -> T:  # type: ignore[override]
        token = await super().__call__(request)
        if not token:
            raise AuthenticationFailed("Not authenticated")
        caller = await _caller_of(request, token)
        if request.method in WRITE_METHODS:
            await request.app.state.limiter.write(caller.id)  # RATE_LIMIT_WRITES_PER_USER
        return self.build(request, caller)


async def refuse_body(request: Request) -> None:
    """An action that takes no body refuses one: a 400 naming it, never a body ignored."""
    if await request.body():
        raise InvalidField("body", "no_body", "this action takes no body; send none")


class OptionalBearer(OAuth2PasswordBearer, Generic[T]):
    """A read open to anyone that still checks a token when one is sent (`Auth | Optional`):
    a bad or expired one is a 401, so a client never mistakes a lapsed session for an
    anonymous read. OpenAPI shows the bearer scheme or none (`OPTIONAL_AUTH`)."""

    def __init__(self, build: Callable[[Request, Principal | None], T]) -> None:
        super().__init__(tokenUrl=TOKEN_URL, scheme_name="BearerUser", auto_error=False)
        self.build = build

    async def __call__(self, request: Request) -> T:  # type: ignore[override]
        """What the route needs, built for the caller a token names, or for no one."""
        viewer = None
        if "authorization" in request.headers:
            token = await super().__call__(request)
            if not token:
                raise AuthenticationFailed("Not authenticated: expected a Bearer token")
            viewer = await _caller_of(request, token)
        return self.build(request, viewer)


OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}
"""A route's `openapi_extra` for `Auth | Optional`: FastAPI adds `{}` (no credentials) to the
bearer requirement it documents, so the route reads as "Bearer, or nothing"."""


def _caller(_: Request, user: Principal) -> Principal:
    return user


_PREFER = Header(
    max_length=200,
    description="`count=exact`: count `total` exactly even past the estimate bound.",
)
_PAGE = Query(ge=1, le=MAX_PAGE, description="1-based page number.")
_LIMIT = Query(ge=1, le=MAX_LIMIT, description="Rows per page.")
_CURSOR_TEXT = (
    "The `next_cursor` of the previous page: the page after it, found at the same cost at any"
    " depth. With a cursor, `page` is not used."
)


async def get_page(
    request: Request,
    page: Annotated[int, _PAGE] = 1,
    limit: Annotated[int, _LIMIT] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(max_length=CURSOR_MAX_LENGTH, pattern=CURSOR_PATTERN, description=_CURSOR_TEXT),
    ] = None,
    prefer: Annotated[str | None, _PREFER] = None,
) -> PageRequest:
    return _page_request(request, page, limit, cursor, prefer)


async def get_sorted_page(
    request: Request,
    page: Annotated[int, _PAGE] = 1,
    limit: Annotated[int, _LIMIT] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=SORTED_CURSOR_MAX_LENGTH,
            pattern=SORTED_CURSOR_PATTERN,
            description=_CURSOR_TEXT + " Only under the `sort` that issued it.",
        ),
    ] = None,
    prefer: Annotated[str | None, _PREFER] = None,
) -> PageRequest:
    """A page of a list that takes `sort`: its cursors carry the sort's values."""
    return _page_request(request, page, limit, cursor, prefer)


def _page_request(
    request: Request, page: int, limit: int, cursor: str | None, prefer: str | None
) -> PageRequest:
    exact = prefer is not None and "count=exact" in (p.strip() for p in prefer.split(","))
    count_limit = None if exact else request.app.state.settings.list_exact_total_limit
    return PageRequest(page=page, limit=limit, cursor=cursor, count_limit=count_limit)


CurrentUser = Annotated[Principal, Depends(BearerUser(_caller))]
Tokens = Annotated[TokenService, Depends(get_token_service)]
PageDep = Annotated[PageRequest, Depends(get_page)]
SortedPageDep = Annotated[PageRequest, Depends(get_sorted_page)]

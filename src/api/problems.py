"""HTTP mapping of every error, in one place: RFC 9457 `application/problem+json`."""

import logging
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.core import metrics
from src.core.database import is_unavailable
from src.core.errors import (
    AuthenticationFailed,
    DomainError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidField,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
    RateLimited,
    ResourceConflict,
    ResourceNotFound,
    RuleBroken,
    ServiceUnavailable,
    in_words,
)
from src.repositories.constraints import violated_unique_key
from src.schemas import problem

logger = logging.getLogger(__name__)
unexpected = structlog.stdlib.get_logger("src.errors")

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
# While the database does not answer: long enough not to hammer it, short enough that
# clients come back soon after it does (a restart takes seconds).
DATABASE_RETRY_AFTER = {"Retry-After": "5"}

DOMAIN_STATUS: dict[type[DomainError], int] = {
    InvalidField: 400,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    ResourceNotFound: 404,
    ResourceConflict: 409,
    IdempotencyKeyInFlight: 409,
    PreconditionFailed: 412,
    IdempotencyKeyReused: 422,
    PreconditionRequired: 428,
    RateLimited: 429,
    ServiceUnavailable: 503,
}

SCHEMA_BY_STATUS: dict[int, type[problem.Problem]] = {
    400: problem.ValidationError,
    401: problem.UnauthorizedError,
    403: problem.ForbiddenError,
    404: problem.NotFoundError,
    409: problem.ConflictError,
    412: problem.PreconditionFailedError,
    413: problem.PayloadTooLargeError,
    422: problem.IdempotencyError,
    428: problem.PreconditionRequiredError,
    429: problem.TooManyRequestsError,
    431: problem.HeaderFieldsTooLargeError,
    503: problem.ServiceUnavailableError,
}


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


def problem_response(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> ProblemResponse:
    if status == 401:
        headers = {**BEARER_CHALLENGE, **(headers or {})}
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: documents each error status it can answer."""
    return {
        status: {"model": SCHEMA_BY_STATUS[status], "description": HTTPStatus(status).phrase}
        for status in statuses
    }


def _field_errors(errors: Iterable[Any]) -> list[dict[str, str]]:
    field_errors = []
    for error in errors:
        location, *path = error["loc"] or ("body",)
        message = error["msg"]
        if error["type"] == "json_invalid":  # the path holds a character offset, not a field
            message = f"{message}: {error['ctx']['error']} at character {path[0]}"
            path = []
        field_errors.append(
            {
                "field": ".".join(str(part) for part in path) or str(location),
                "location": str(location),
                "rule": error["type"],
                "message": message,
            }
        )
    return field_errors


async def _validation_error(_: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc.errors())
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem_response(400, f"Invalid request. {summary}", errors=errors)


async def _domain_error(_: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    status = next(DOMAIN_STATUS[kind] for kind in type(exc).__mro__ if kind in DOMAIN_STATUS)
    if status == 429:
        metrics.RATE_LIMITED.inc()
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if isinstance(exc, InvalidField):  # shaped as a schema's 400, so clients read one kind
        error = {
            "field": exc.field,
            "location": exc.location,
            "rule": exc.rule,
            "message": exc.detail,
        }
        detail = f"Invalid request. {exc.field}: {exc.detail}"
        return problem_response(status, detail, errors=[error])
    if isinstance(exc, RuleBroken):  # the row's field and the rule it breaks
        error = {"field": exc.field, "location": "row", "rule": exc.rule, "message": exc.detail}
        return problem_response(status, exc.detail, errors=[error])
    return problem_response(status, exc.detail, headers=headers)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    extra: dict[str, Any] = {}
    if exc.status_code == 400:  # a body FastAPI could not parse: still a ValidationError body
        extra["errors"] = [
            {"field": "body", "location": "body", "rule": "unparsable", "message": str(exc.detail)}
        ]
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of(request)) or headers.get("Allow", "")
    return problem_response(exc.status_code, str(exc.detail), headers=headers, **extra)


def _methods_of(request: Request) -> list[str]:
    """Every method the requested path answers (Starlette names only the first route's)."""
    path = request.url.path
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = "^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


async def _integrity_error(request: Request, exc: Exception) -> ProblemResponse:
    """A constraint the service checks lost a race: a duplicate is a 409, a reference
    that vanished meanwhile a 404. Any other violation is a bug, so it is a 500."""
    assert isinstance(exc, IntegrityError)
    message = str(exc.orig)
    code = getattr(exc.orig, "sqlstate", None)
    if code == "23505" or "UNIQUE constraint failed" in message:
        logger.info("unique violation answered with 409: %s", message)
        taken = violated_unique_key(exc)
        if taken is not None:
            return _value_taken(*taken)
        return problem_response(409, "The request conflicts with existing data")
    if code == "23503" or "FOREIGN KEY constraint failed" in message:
        logger.info("foreign key violation answered with 404: %s", message)
        return problem_response(404, "A resource this request refers to does not exist")
    return await _unexpected_error(request, exc)


def _value_taken(model: str, columns: tuple[str, ...]) -> ProblemResponse:
    """409 naming the field whose value another row has (and the fields that group the rows,
    but the owner): shaped as a 400's field errors, so clients read one kind."""
    *scope, field = columns
    words = in_words(model)
    if not words.split(" ", 1)[0].isupper():  # "API key" keeps its capitals
        words = words[0].lower() + words[1:]
    article = "An" if words[0].lower() in "aeio" else "A"
    named = " and ".join([field, *(column for column in scope if column != "owner_id")])
    detail = f"{article} {words} with this {named} already exists"
    error = {"field": field, "location": "body", "rule": "unique", "message": detail}
    return problem_response(409, detail, errors=[error])


async def _database_error(request: Request, exc: Exception) -> ProblemResponse:
    """The database cannot answer now (down, restarting, out of connections, silent): a
    503 to retry, logged in one line. Any other database error, or a TimeoutError that is
    not the driver's, is a bug, so it is a 500."""
    if not is_unavailable(exc):
        return await _unexpected_error(request, exc)
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    message = str(cause).partition("\n")[0] or repr(cause)  # the driver's timeout has none
    logger.warning("database unavailable, answered 503: %s", message)
    metrics.OUTAGES.inc()
    return problem_response(
        503, "The database is not available; retry shortly", headers=DATABASE_RETRY_AFTER
    )


async def _unexpected_error(_: Request, exc: Exception) -> ProblemResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem_response(500, "An unexpected error occurred")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error_type in DOMAIN_STATUS:
        app.add_exception_handler(error_type, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(TimeoutError, _database_error)


class UnexpectedErrors:
    """An exception no handler took: logged once with its traceback (and the request id),
    answered with the 500 problem body, and not raised further, so the server keeps the
    connection (Starlette's outermost middleware sends the 500 and then re-raises, and the
    server closes the connection: the next request on it would fail). Once the response
    has started, there is no clean way out and the error is raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            unexpected.exception("unhandled error", method=scope["method"], path=scope["path"])
            if started:
                raise
            await problem_response(500, "An unexpected error occurred")(scope, receive, send)

"""What operators see of each request: its id, one log line, its metrics.

Pure ASGI middleware (no `BaseHTTPMiddleware`, which costs a task per request)."""

import hmac
import os
import re
import time

import structlog
from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.problems import problem_response
from src.core import metrics

logger = structlog.stdlib.get_logger("src.access")
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Label values of `method`; any other is `OTHER` (a parser may pass any token)."""
UNMATCHED = "unmatched"
"""The route of a request no route matched: never the raw path (unbounded label values)."""


def new_request_id() -> str:
    """32 hex digits, as asgi-correlation-id's default, without building a UUID object
    (a fifth of the middleware's cost per request)."""
    return os.urandom(16).hex()


def sane_request_id(value: str) -> bool:
    """A client's X-Request-ID is used when short and made of safe characters only."""
    return _SANE_REQUEST_ID.fullmatch(value) is not None


class RequestLog:
    """When `log`, one line per request (request id, method, route template, status,
    duration, user id; never a token, a password, an email or a body); when
    `record_metrics`, its duration in the histogram."""

    def __init__(self, app: ASGIApp, *, log: bool, record_metrics: bool) -> None:
        self.app = app
        self.log = log
        self.record_metrics = record_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            if self.log:
                logger.info(
                    "request",
                    method=method,
                    route=template,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                    user_id=_user_id(scope),
                )
            if self.record_metrics:
                metrics.REQUEST_SECONDS.labels(template, method, str(status)).observe(seconds)


def _user_id(scope: Scope) -> str | None:
    caller = scope.get("state", {}).get("user_id")
    return None if caller is None else str(caller)


def install_metrics(app: FastAPI, token: str) -> None:
    """`GET /metrics`, for a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`."""
    expected = f"Bearer {token}".encode()

    async def scrape(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            challenge = {"WWW-Authenticate": "Bearer"}
            return problem_response(401, "Not authenticated", headers=challenge)
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)

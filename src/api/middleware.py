"""ASGI middleware: limits that hold before any route, dependency or body parser runs, the
headers every answer carries, and CORS preflights refused as problems."""

import logging

from asgi_correlation_id import CorrelationIdMiddleware
from asgi_correlation_id.context import correlation_id
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.problems import problem_response

logger = logging.getLogger("asgi_correlation_id")  # where the library logs the same warning
NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")
NO_STORE_PATHS = ("/api/", "/metrics")
"""Everything a token unlocks (the token endpoint itself included), errors too: no cache keeps
a copy. The one rule, by path: every authenticated answer is under these."""


class _BodyTooLarge(Exception):
    """Raised from `receive` to stop whoever reads the body; never leaves the middleware
    while a 413 can still be sent."""


class BodySizeLimit:
    """Answers 413 to a request body over `max_bytes`, reading no further than the chunk
    that crosses the limit.

    A declared `Content-Length` over the limit is answered before the app runs, without
    calling `receive`. A body without one (chunked) is counted as it streams, and the
    read that crosses the limit raises instead of returning the chunk.

    The 413 is sent from here, not by raising a domain error for the exception
    handlers: FastAPI turns anything raised while it reads a body into a 400 ("There was
    an error parsing the body"), and a route may catch it too. So once the limit is
    crossed, whatever the app answers is dropped and this 413 sent instead, if the
    response has not started; if it has, the error propagates and the server aborts the
    connection rather than let a cut-off body look like a complete request."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body: nothing to count
            return
        declared_size = (
            int(declared) if declared and declared.isascii() and declared.isdigit() else 0
        )
        if declared_size > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the error it got from receive; ours replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The unread rest of the body is still on the wire: close rather than parse it.
        response = problem_response(
            413,
            f"The request body is larger than the limit of {self.max_bytes} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class RequestIdAndHeaders(CorrelationIdMiddleware):
    """asgi-correlation-id's middleware (same arguments, same request id in the logs), whose
    one send wrapper also adds the headers every answer carries, so they cost no layer of
    their own: `X-Request-ID`; `X-Content-Type-Options: nosniff` on every answer (problems,
    404, 413, 500, docs, health); `Cache-Control: no-store` on every answer under
    NO_STORE_PATHS. A `Cache-Control` the app sets there stays: caches combine the fields,
    and `no-store` in any of them wins. The outermost middleware: every answer the app
    sends passes through it."""

    header_key: bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        self.header_key = self.header_name.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == self.header_key:
                given = value.decode("latin-1")
                break
        if not given:
            request_id = self.generator()
        elif self.validator and not self.validator(given):
            request_id = self.generator()
            logger.warning(
                "Generated new request ID (%s), since request header value failed validation",
                request_id,
            )
        else:
            request_id = given
        if self.transformer:
            request_id = self.transformer(request_id)
        if self.update_request_header and request_id != given:
            MutableHeaders(scope=scope)[self.header_name] = request_id
        correlation_id.set(request_id)
        self.sentry_extension(request_id)
        added = [(self.header_key, request_id.encode("latin-1")), NOSNIFF]
        if scope["path"].startswith(NO_STORE_PATHS):
            added.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CorsProblems(CORSMiddleware):
    """Starlette's CORS, but a refused preflight is a 400 problem whose detail says what
    was refused (the origin, the method, the headers), not the plain text "Disallowed CORS
    origin". Simple requests are answered as Starlette does: the browser withholds them."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        kept = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        refused = "; ".join(self._refusals(request_headers)) or "the request is not allowed"
        return problem_response(400, f"CORS preflight refused: {refused}", headers=kept)

    def _refusals(self, request_headers: Headers) -> list[str]:
        """What Starlette's preflight check refused, each said with the value sent."""
        refusals = []
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin=origin):
            refusals.append(f"origin {origin} is not allowed")
        method = request_headers["access-control-request-method"]
        if method not in self.allow_methods:
            allowed = ", ".join(self.allow_methods)
            refusals.append(f"method {method} is not allowed (allowed: {allowed})")
        requested = request_headers.get("access-control-request-headers")
        if requested is not None and not self.allow_all_headers:
            names = (name.strip() for name in requested.lower().split(","))
            if others := [name for name in names if name not in self.allow_headers]:
                listed = ", ".join(name or "(empty)" for name in others)
                refusals.append(f"headers not allowed: {listed}")
        private = request_headers.get("access-control-request-private-network")
        if private is not None and not self.allow_private_network:
            refusals.append("private network access is not allowed")
        return refusals

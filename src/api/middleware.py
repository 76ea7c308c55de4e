"""ASGI middleware: limits that hold before any route, dependency or body parser runs."""

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from src.api.problems import problem_response


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

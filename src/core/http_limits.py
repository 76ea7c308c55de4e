"""Bounded request heads: uvicorn's HTTP protocol with a limit on header fields and bytes.

uvicorn's httptools protocol reads a request head of any size: a million header fields
(10 MB) are parsed, kept and handed to the app. `HeaderLimitedProtocol` counts as the
parser calls back (the request target in `on_url`, each field in `on_header`) and, at the
field that passes MAX_HEADER_FIELDS or the byte that passes MAX_HEADER_BYTES, stops parsing:
it answers 431 with an RFC 9457 problem body and closes the connection, before the app or a
task exists for the request. httptools hands over a field only once it is complete, so a
head still unfinished after twice MAX_HEADER_BYTES have arrived (one endless field) is
refused too, without waiting for its end. uvicorn's own 400, for a request it cannot parse,
is such a problem too (`nosniff`, `no-store`, closed).

`featwright serve` passes it as uvicorn's `http=`. It is always the httptools protocol:
httptools is a dependency of the project, so `http="auto"` could not pick h11 either.
"""

import asyncio
import json
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from src.core.config import get_settings

TOO_LARGE = 431
FIELD_OVERHEAD = 4
"""Bytes a field takes on the wire besides its name and value: `: ` and CRLF."""


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop httptools at the field that passed a limit."""


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over MAX_HEADER_FIELDS fields or
    MAX_HEADER_BYTES bytes (the request target, then each field's name, value and the 4
    bytes of `: ` and CRLF) with a 431 problem; the connection is then closed."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()  # cached: read once per process
        self.max_header_bytes = settings.max_header_bytes
        self.max_header_fields = settings.max_header_fields
        self.counted: list[tuple[bytes, bytes]] | None = None  # the fields of the head counted
        self.head_bytes = 0  # of that head, as parsed
        self.in_head = True  # from the end of a request to the end of the next one's head
        self.head_received = 0  # bytes received in a head, complete fields or not
        self.refusal: str | None = None  # why this connection reads no further

    # The callbacks run for every request (on_header for every field): they do uvicorn's work
    # inline, or call its method directly, rather than through super().

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_header_bytes:
            self._stop(self._bytes_detail())

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self.headers  # a new list for each request (on_message_begin)
        if headers is not self.counted:
            self.counted = headers
            self.head_bytes = len(self.url)
        self.head_bytes += len(name) + len(value) + 4  # FIELD_OVERHEAD
        if self.head_bytes > self.max_header_bytes or len(headers) >= self.max_header_fields:
            self._stop_head()
        name = name.lower()  # from here on, uvicorn's on_header
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_received = 0
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self.in_head = True
        HttpToolsProtocol.on_message_complete(self)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus the count of an unfinished head's bytes; a head over a limit is
        answered 431, not 400."""
        if self.refusal is not None:
            return  # refused: whatever else arrives is not parsed
        self._unset_keepalive_if_required()
        if self.in_head:
            self.head_received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.refusal is not None:
                self._refuse()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # Still in a head: everything counted since it began is head, and only complete
        # fields reach on_header. Twice the limit leaves room for what is not counted (the
        # method, the version, spaces) and stops a field that never ends.
        if self.in_head and self.head_received > 2 * self.max_header_bytes:
            self.refusal = self._bytes_detail()
            self._refuse()

    def _bytes_detail(self) -> str:
        return (
            f"The request's header fields are larger than the limit of"
            f" {self.max_header_bytes} bytes"
        )

    def _stop_head(self) -> None:
        if len(self.headers) >= self.max_header_fields:
            self._stop(
                f"The request has more header fields than the limit of {self.max_header_fields}"
            )
        self._stop(self._bytes_detail())

    def _stop(self, detail: str) -> None:
        self.refusal = detail
        raise _HeadTooLarge(detail)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, as a problem like every other."""
        self.refusal = self.refusal or msg
        self._answer_and_close(400, msg)

    def _refuse(self) -> None:
        self.logger.info("Request head refused (431): %s", self.refusal)
        self._answer_and_close(TOO_LARGE, self.refusal or "")

    def _answer_and_close(self, status: int, detail: str) -> None:
        """The problem, then close. Behind a request still being answered (pipelining), that
        answer is finished first and the connection then closed without this one; in the
        body of a request being answered, the connection is closed (the app sees it gone)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if not cycle.more_body:
                cycle.keep_alive = False
                self.flow.pause_reading()
                return
            if cycle.response_started:
                self.transport.close()
                return
        problem = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
        }
        body = json.dumps(problem, separators=(",", ":")).encode()
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"x-content-type-options: nosniff\r\n",
                b"cache-control: no-store\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()

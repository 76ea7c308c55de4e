"""What an operator sees: request ids on every answer, one log line per request, metrics behind
a token, CORS for the allowed origins only, and a 500 that leaves the connection usable."""

import asyncio
import io
import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
import structlog
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from src.core.config import Settings
from src.core.database import Database
from src.core.logs import configure_logging
from src.main import create_app
from tests.conftest import User
from tests.helpers import create_project
from tests.live_server import free_port

METRICS_TOKEN = "scrape-token-for-tests"
ORIGIN = "https://app.example.com"


def configured(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """What the app's log handler writes, while the block runs."""
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "featwright"]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def json_lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


# ------------------------------------------------------------------------- request ids


async def test_every_answer_carries_a_request_id_the_clients_when_sane(
    client: httpx.AsyncClient, alice: User
) -> None:
    given = await client.get("/health/live", headers={"X-Request-ID": "lb-1234.abc:9_Z"})
    assert given.headers["X-Request-ID"] == "lb-1234.abc:9_Z"

    for insane in ("x" * 129, "has space", "semi;colon", 'quote"d'):
        replaced = await client.get("/health/live", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"]), insane

    problems = [
        await client.get("/api/v1/projects"),  # 401
        await client.get(f"/api/v1/projects/{uuid.uuid4()}", headers=alice.headers),  # 404
        await client.post("/api/v1/projects", json={"name": ""}, headers=alice.headers),  # 400
        await client.post("/api/v1/projects", content=b"x" * (2 << 20), headers=alice.headers),
    ]
    assert [r.status_code for r in problems] == [401, 404, 400, 413]
    ids = [r.headers["X-Request-ID"] for r in problems]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 4


# ------------------------------------------------------------------------------- logs


async def test_one_json_line_per_request_with_the_route_template_and_no_secret(
    settings: Settings, database: Database, alice: User
) -> None:
    app = create_app(configured(settings, log_format="json"), database)
    async with client_of(app) as client:
        project = await create_project(client, alice)
        with captured_log() as log:
            read = await client.get(
                f"/api/v1/projects/{project['id']}",
                headers={**alice.headers, "X-Request-ID": "trace-42"},
            )
            await client.post(
                "/api/v1/auth/token",
                data={"username": alice.email, "password": "a secret password"},
            )
    assert read.status_code == 200
    lines = json_lines(log)
    requests = [line for line in lines if line["event"] == "request"]
    assert len(requests) == 2, lines
    first = requests[0]
    assert {k: first[k] for k in ("request_id", "method", "route", "status", "user_id")} == {
        "request_id": "trace-42",
        "method": "GET",
        "route": "/api/v1/projects/{id}",
        "status": 200,
        "user_id": str(alice.id),
    }
    assert isinstance(first["duration_ms"], float)
    assert first["level"] == "info"
    text = "\n".join(json.dumps(line) for line in lines if line["logger"] != "httpx")  # the app's
    token = alice.headers["Authorization"].split()[1]
    for secret in (token, "a secret password", alice.email, project["id"]):
        assert secret not in text


# ---------------------------------------------------------------------- 500s, for real


@contextmanager
def served(app: FastAPI) -> Iterator[int]:
    """`app` behind a real uvicorn server in a thread (real sockets, keep-alive); its port."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="off", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert server.started
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def exchange(connection: socket.socket, path: str, request_id: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request on an open connection; the status and the raw answer."""
    connection.sendall(
        f"GET {path} HTTP/1.1\r\nHost: t\r\nX-Request-ID: {request_id}\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed after {answer!r}"
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: (\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split()[1]), head + b"\r\n\r\n" + body


async def test_an_unexpected_error_is_a_logged_500_and_the_connection_still_serves(
    settings: Settings,
) -> None:
    # Its own engine, as a server's: the test's connection belongs to the test's event loop.
    app = create_app(configured(settings, log_format="json"))

    async def fails() -> None:
        raise RuntimeError("a bug in a route")

    app.add_api_route("/boom", fails)
    with captured_log() as log, served(app) as port:
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        with connection:
            failed = await asyncio.to_thread(exchange, connection, "/boom", "boom-1")
            after = await asyncio.to_thread(exchange, connection, "/health/live", "after-1")
    status, answer = failed
    assert status == 500
    assert b"x-request-id: boom-1" in answer.lower()
    assert b'"status":500' in answer
    assert b"a bug in a route" not in answer
    assert after[0] == 200, after
    lines = json_lines(log)
    logged = [line for line in lines if line.get("request_id") == "boom-1"]
    assert [line["event"] for line in logged] == ["unhandled error", "request"], logged
    assert "RuntimeError: a bug in a route" in str(logged[0]["exception"])
    assert logged[1]["status"] == 500


async def test_a_text_traceback_shows_no_local_variable(
    settings: Settings, database: Database
) -> None:
    """Development's readable tracebacks print no frame's locals (a password, a token)."""
    app = create_app(configured(settings, log_format="text"), database)

    async def fails() -> None:
        password = "hunter2-in-a-local"
        raise RuntimeError(f"failed after {len(password)} characters")

    app.add_api_route("/boom", fails)
    with captured_log() as log:
        async with client_of(app) as client:
            answer = await client.get("/boom")
    assert answer.status_code == 500
    assert "RuntimeError: failed after 18 characters" in log.getvalue()
    assert "hunter2-in-a-local" not in log.getvalue()


# ----------------------------------------------------------------------------- metrics


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_are_served_only_to_the_token(
    settings: Settings, database: Database, alice: User
) -> None:
    async with client_of(create_app(settings, database)) as closed:
        assert (await closed.get("/metrics")).status_code == 404
    app = create_app(configured(settings, metrics_token=SecretStr(METRICS_TOKEN)), database)
    async with client_of(app) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        route = {"route": "/api/v1/projects/{id}", "method": "GET", "status": "200"}
        before = (await client.get("/metrics", headers=scrape)).text
        project = await create_project(client, alice)
        for _ in range(3):
            await client.get(f"/api/v1/projects/{project['id']}", headers=alice.headers)
        key = {**alice.headers, "Idempotency-Key": f"k-{uuid.uuid4()}"}
        for _ in range(2):
            await client.post("/api/v1/projects", json={"name": "once"}, headers=key)
        after = await client.get("/metrics", headers=scrape)
    assert after.headers["content-type"].startswith("text/plain")
    count = "featwright_http_request_duration_seconds_count"
    assert sample(after.text, count, **route) - sample(before, count, **route) == 3
    replays = "featwright_idempotent_replays_total"
    assert sample(after.text, replays) - sample(before, replays) == 1
    assert "featwright_db_pool_in_use" in after.text
    assert project["id"] not in after.text  # route templates, never raw paths


# -------------------------------------------------------------------------------- CORS


async def test_cors_lets_the_allowed_origin_use_the_apis_own_headers(
    settings: Settings, database: Database, alice: User
) -> None:
    app = create_app(
        configured(settings, cors_origins=f"{ORIGIN}, http://localhost:3000"), database
    )
    async with client_of(app) as client:
        preflight = await client.options(
            "/api/v1/projects/x",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, content-type, if-match",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert re.fullmatch(r"[0-9a-f]{32}", preflight.headers["X-Request-ID"])
        allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
        for header in ("authorization", "if-match", "idempotency-key", "prefer", "x-request-id"):
            assert header in allowed
        assert "access-control-allow-credentials" not in preflight.headers

        refused = await client.options(
            "/api/v1/projects",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        created = await client.post(
            "/api/v1/projects", json={"name": "p"}, headers={**alice.headers, "Origin": ORIGIN}
        )
        assert created.headers["Access-Control-Allow-Origin"] == ORIGIN
        exposed = created.headers["Access-Control-Expose-Headers"]
        for header in ("ETag", "Location", "Idempotent-Replayed", "Retry-After", "X-Request-ID"):
            assert header in exposed
        other = await client.get(
            "/api/v1/projects", headers={**alice.headers, "Origin": "https://evil.example"}
        )
        assert other.status_code == 200  # a server answers; the browser withholds it
        assert "access-control-allow-origin" not in other.headers


async def test_no_cors_unless_configured(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/projects",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405


@pytest.mark.parametrize("origins", ["*"])
async def test_a_wildcard_origin_never_comes_with_credentials(
    settings: Settings, database: Database, origins: str
) -> None:
    app = create_app(configured(settings, cors_origins=origins), database)
    async with client_of(app) as client:
        answer = await client.get("/health/live", headers={"Origin": ORIGIN, "Cookie": "a=b"})
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers


def test_a_format_chosen_later_applies_to_a_logger_already_used() -> None:
    """structlog caches a logger's processors on first use: the JSON format's traceback field
    must come from the handler, or a logger used before the format changed would lose it."""
    configure_logging("info", "console")
    log = structlog.get_logger("tests.format_later")
    try:
        raise RuntimeError("first")
    except RuntimeError:
        with captured_log():
            log.error("before", exc_info=True)
    configure_logging("info", "json")
    try:
        with captured_log() as buffer:
            try:
                raise RuntimeError("a bug in a route")
            except RuntimeError:
                log.error("after", exc_info=True)
    finally:
        configure_logging("info", "console")

    (line,) = json_lines(buffer)
    assert "RuntimeError: a bug in a route" in str(line["exception"])

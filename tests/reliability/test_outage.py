"""Promise 8: while the database is down every request is answered, quickly, with a 503
and Retry-After, never a 500; once it is back the service recovers by itself and no
acknowledged write is missing.

The database is a PostgreSQL cluster of the test's own (initdb + pg_ctl), stopped and
started under a live `featwright serve` in the middle of a load of creates and reads;
then frozen (SIGSTOP) and resumed, as a host that goes silent without closing its sockets.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from src.api.problems import UnexpectedErrors, install_problem_handlers
from tests.live_server import (
    LiveServer,
    PostgresCluster,
    featwright_env,
    postgres_cluster,
    running_server,
    sign_up,
    upgrade,
)
from tests.reliability.figures import assert_figure

PROBLEM_JSON = "application/problem+json"
PROJECTS = "/api/v1/projects"
CLIENTS = 16
WARM_UP_WRITES = 50
OUTAGE_SECONDS = 3.0
RECOVERY_DEADLINE = 30.0
CONNECT_TIMEOUT = 5
# The frozen host: small timeouts, so that a request gives up on a pooled connection after
# STATEMENT_TIMEOUT + 2 s (the client-side margin), on a new one after CONNECT_TIMEOUT.
FROZEN_STATEMENT_TIMEOUT = 1
FROZEN_CONNECT_TIMEOUT = 2
FROZEN_SECONDS = 8.0  # longer than a pooled connection takes to give up, and its close


@dataclass
class Answer:
    """One request of the load: when it started and ended, and what came back."""

    method: str
    path: str
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status is not None and self.status < 300

    @property
    def took(self) -> float:
        return self.ended - self.started

    def within(self, start: float, end: float) -> bool:
        return start <= self.started and self.ended <= end

    def overlaps(self, start: float, end: float) -> bool:
        return self.started < end and self.ended > start


@dataclass
class Timeline:
    down_begin: float = float("inf")  # pg_ctl stop issued
    down: float = float("inf")  # pg_ctl stop returned: the database is gone
    up_begin: float = float("inf")  # pg_ctl start issued
    up: float = float("inf")  # pg_ctl start returned: the database accepts connections


async def _send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Answer:
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        return Answer(method, url, started, time.monotonic(), None, body=repr(error))
    return Answer(
        method,
        url,
        started,
        time.monotonic(),
        response.status_code,
        response.headers.get("content-type", ""),
        response.headers.get("retry-after"),
        response.text,
    )


class Load:
    """CLIENTS clients, each creating a project, then reading the list, until stopped."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers
        self.answers: list[Answer] = []
        self.created: list[str] = []
        self.stopped = asyncio.Event()
        self.warm = asyncio.Event()  # WARM_UP_WRITES creates acknowledged
        self.restarted = float("inf")
        self.recovered = asyncio.Event()  # a success that began after `restarted`

    async def run_client(self, number: int) -> None:
        sequence = 0
        while not self.stopped.is_set():
            sequence += 1
            body = {"name": f"load {number}-{sequence}"}
            write = await _send(self.client, "POST", PROJECTS, json=body, headers=self.headers)
            self._record(write)
            read = await _send(self.client, "GET", f"{PROJECTS}?limit=5", headers=self.headers)
            self._record(read)

    def _record(self, answer: Answer) -> None:
        self.answers.append(answer)
        if answer.method == "POST" and answer.status == 201:
            self.created.append(json.loads(answer.body)["id"])
            if len(self.created) >= WARM_UP_WRITES:
                self.warm.set()
        if answer.succeeded and answer.started > self.restarted:
            self.recovered.set()

    def first_success_after(self, moment: float) -> float:
        return min(a.ended for a in self.answers if a.succeeded and a.started > moment)


async def _probe_health(client: httpx.AsyncClient, stopped: asyncio.Event) -> list[Answer]:
    probes: list[Answer] = []
    while not stopped.is_set():
        probes.append(await _send(client, "GET", "/health/ready"))
        probes.append(await _send(client, "GET", "/health/live"))
        await asyncio.sleep(0.1)
    return probes


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as cluster:
        yield cluster


@asynccontextmanager
async def _serving(
    cluster: PostgresCluster, workdir: Path, **settings: str
) -> AsyncIterator[LiveServer]:
    """`featwright serve` on a new, migrated database of the cluster, with SETTINGS."""
    url = await cluster.create_database(f"outage_{uuid.uuid4().hex[:8]}")
    env = featwright_env(url, **settings)
    upgrade(env, workdir)
    with running_server(workdir, env) as server:
        yield server


@pytest.fixture
async def server(cluster: PostgresCluster, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with _serving(cluster, tmp_path, db_connect_timeout=str(CONNECT_TIMEOUT)) as server:
        yield server


@pytest.fixture
async def frozen_server(cluster: PostgresCluster, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with _serving(
        cluster,
        tmp_path,
        db_statement_timeout=str(FROZEN_STATEMENT_TIMEOUT),
        db_connect_timeout=str(FROZEN_CONNECT_TIMEOUT),
    ) as server:
        yield server


async def test_outage_is_answered_503_and_recovers_without_losing_writes(
    cluster: PostgresCluster, server: LiveServer
) -> None:
    timeline = Timeline()
    limits = httpx.Limits(max_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        headers = await sign_up(client)
        load = Load(client, headers)
        clients = [asyncio.create_task(load.run_client(n)) for n in range(CLIENTS)]
        probes_stopped = asyncio.Event()
        try:
            async with asyncio.timeout(30):
                await load.warm.wait()

            timeline.down_begin = time.monotonic()
            await asyncio.to_thread(cluster.stop, "fast")
            timeline.down = time.monotonic()
            probing = asyncio.create_task(_probe_health(client, probes_stopped))
            await asyncio.sleep(OUTAGE_SECONDS)
            probes_stopped.set()
            probes = await probing

            timeline.up_begin = load.restarted = time.monotonic()
            await asyncio.to_thread(cluster.start)
            timeline.up = time.monotonic()
            async with asyncio.timeout(RECOVERY_DEADLINE):
                await load.recovered.wait()
            await asyncio.sleep(1)  # and keep succeeding for a while
        finally:
            load.stopped.set()
            probes_stopped.set()
            await asyncio.gather(*clients)

        missing = await _missing(client, headers, load.created)

    answers = load.answers
    unanswered = [a for a in answers if a.status is None]
    errors = [a for a in answers if a.status is not None and a.status >= 500 and a.status != 503]
    unavailable = [a for a in answers if a.status == 503]
    during = [a for a in answers if a.within(timeline.down, timeline.up_begin)]
    touching = [a for a in answers if a.overlaps(timeline.down_begin, timeline.up_begin)]
    slowest = max(a.took for a in touching)
    first_success = load.first_success_after(timeline.up_begin)
    recovery = first_success - timeline.up_begin
    print(
        f"\noutage: {len(answers)} requests, {len(touching)} while the database was down,"
        f" {len(unavailable)} answered 503, {len(errors)} 5xx other than 503,"
        f" {len(unanswered)} unanswered; slowest answer then {slowest:.3f} s;"
        f" first success {recovery:.2f} s after pg_ctl start"
        f" ({first_success - timeline.up:.2f} s after it returned);"
        f" {len(load.created)} creates acknowledged, {len(missing)} missing"
    )

    assert not unanswered, f"requests without an answer: {unanswered[:3]}"
    assert_figure("500s during outage", len(errors))
    assert {a.status for a in answers} <= {200, 201, 503}, {a.status for a in answers}
    assert len(during) >= CLIENTS, "the load did not run while the database was down"
    assert {a.status for a in during} == {503}, "something succeeded without a database"
    for answer in unavailable:
        assert answer.content_type == PROBLEM_JSON, answer
        assert (answer.retry_after or "").isdigit(), answer
        assert json.loads(answer.body)["status"] == 503
    assert_figure("slowest answer during outage", round(slowest, 2), "s")  # DB_CONNECT_TIMEOUT + 1

    probed = [p for p in probes if p.within(timeline.down, timeline.up_begin)]
    ready = [p for p in probed if p.path == "/health/ready"]
    live = [p for p in probed if p.path == "/health/live"]
    assert ready
    assert live
    assert {p.status for p in ready} == {503}, [p.status for p in ready]
    assert all(p.content_type == PROBLEM_JSON and p.retry_after for p in ready)
    assert {p.status for p in live} == {200}
    assert_figure("slowest /health/ready during outage", round(max(p.took for p in ready), 2), "s")

    assert_figure("time to first success after restart", round(recovery, 2), "s")
    assert_figure("2xx writes missing afterwards", len(missing))
    log = server.log_text()
    assert "database unavailable, answered 503" in log
    assert "Traceback" not in log, log[-5000:]


@contextmanager
def _frozen(cluster: PostgresCluster) -> Iterator[None]:
    """The whole cluster stopped dead (SIGSTOP), resumed (SIGCONT) on leaving, however the
    block ends: its sockets stay open and the kernel still accepts connections, but
    nothing answers, as on a host cut off by a partition or a frozen VM."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    stopped: list[int] = []
    try:
        os.kill(postmaster, signal.SIGSTOP)  # first, so that it forks nothing meanwhile
        stopped.append(postmaster)
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
        ).stdout.split()
        for child in map(int, children):
            with contextlib.suppress(ProcessLookupError):  # a backend that just exited
                os.kill(child, signal.SIGSTOP)
                stopped.append(child)
        assert len(stopped) > 1, "found no PostgreSQL process to freeze besides the postmaster"
        yield
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def test_frozen_host_is_answered_503_within_a_bound_and_recovers(
    cluster: PostgresCluster, frozen_server: LiveServer
) -> None:
    """A host that stops answering without closing its sockets: requests on pooled
    connections give up after the client-side command timeout, new connections after
    DB_CONNECT_TIMEOUT, and nothing hangs until the OS gives up on TCP."""
    limits = httpx.Limits(max_connections=CLIENTS + 4)
    async with httpx.AsyncClient(base_url=frozen_server.url, timeout=60, limits=limits) as client:
        headers = await sign_up(client)
        load = Load(client, headers)
        clients = [asyncio.create_task(load.run_client(n)) for n in range(CLIENTS)]
        probes_stopped = asyncio.Event()
        frozen = thawed = float("inf")
        try:
            async with asyncio.timeout(30):
                await load.warm.wait()  # the pool holds a connection per client

            with _frozen(cluster):
                frozen = time.monotonic()
                probing = asyncio.create_task(_probe_health(client, probes_stopped))
                await asyncio.sleep(FROZEN_SECONDS)
                probes_stopped.set()
                probes = await probing
                thawed = load.restarted = time.monotonic()
            async with asyncio.timeout(RECOVERY_DEADLINE):
                await load.recovered.wait()
        finally:
            load.stopped.set()
            probes_stopped.set()
            await asyncio.gather(*clients)

    answers = load.answers
    unanswered = [a for a in answers if a.status is None]
    errors = [a for a in answers if a.status is not None and a.status >= 500 and a.status != 503]
    during = [a for a in answers if a.within(frozen, thawed)]
    touching = [a for a in answers if a.overlaps(frozen, thawed)]
    slowest = max(a.took for a in touching)
    recovery = load.first_success_after(thawed) - thawed
    print(
        f"\nfrozen host: {len(answers)} requests, {len(touching)} while frozen"
        f" ({sum(a.method == 'POST' for a in during)} POST and"
        f" {sum(a.method == 'GET' for a in during)} GET within it),"
        f" {sum(a.status == 503 for a in touching)} answered 503, {len(errors)} 5xx other than"
        f" 503, {len(unanswered)} unanswered; slowest answer then {slowest:.3f} s;"
        f" first success {recovery:.2f} s after SIGCONT"
    )

    assert not unanswered, f"requests without an answer: {unanswered[:3]}"
    assert_figure("500s while the database host is frozen", len(errors))
    assert {a.status for a in answers} <= {200, 201, 503}, {a.status for a in answers}
    assert {a.method for a in during} == {"GET", "POST"}, "the load did not run while frozen"
    assert {a.status for a in during} == {503}, "something succeeded without a database"
    for answer in touching:
        if answer.status == 503:
            assert answer.content_type == PROBLEM_JSON, answer
            assert (answer.retry_after or "").isdigit(), answer
            assert json.loads(answer.body)["status"] == 503
    # DB_STATEMENT_TIMEOUT + 2 s (command_timeout) + up to 2 s to close the connection
    assert_figure("slowest answer while the database host is frozen", round(slowest, 2), "s")

    probed = [p for p in probes if p.within(frozen, thawed)]
    ready = [p for p in probed if p.path == "/health/ready"]
    live = [p for p in probed if p.path == "/health/live"]
    assert ready
    assert live
    assert {p.status for p in ready} == {503}, [p.status for p in ready]
    assert all(p.content_type == PROBLEM_JSON and p.retry_after for p in ready)
    assert {p.status for p in live} == {200}
    slowest_ready = round(max(p.took for p in ready), 2)  # DB_CONNECT_TIMEOUT
    assert_figure("slowest /health/ready while the database host is frozen", slowest_ready, "s")

    assert_figure("time to first success after the host resumes", round(recovery, 2), "s")
    log = frozen_server.log_text()
    # the driver's command timeout was met, and answered 503 like any unavailability
    assert "database unavailable, answered 503: TimeoutError()" in log, log[-5000:]
    assert "Traceback" not in log, log[-5000:]


async def _missing(client: httpx.AsyncClient, headers: dict[str, str], ids: list[str]) -> list[str]:
    """The acknowledged creates the API no longer finds."""
    found = await asyncio.gather(*(client.get(f"{PROJECTS}/{id}", headers=headers) for id in ids))
    return [id for id, response in zip(ids, found, strict=True) if response.status_code != 200]


class _Orig(Exception):
    def __init__(self, sqlstate: str | None = None, sqlite_errorname: str | None = None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate
        self.sqlite_errorname = sqlite_errorname


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OperationalError("SELECT 1", None, _Orig("08001")), 503),  # could not connect
        (DBAPIError("SELECT 1", None, _Orig("08003")), 503),  # connection closed mid-query
        (DBAPIError("SELECT 1", None, _Orig("57P01")), 503),  # admin shutdown
        (DBAPIError("SELECT 1", None, _Orig("57P03")), 503),  # starting up / shutting down
        (DBAPIError("SELECT 1", None, _Orig("53300")), 503),  # too many connections
        (DBAPIError("SELECT 1", None, _Orig("57014")), 503),  # statement_timeout
        (DBAPIError("SELECT 1", None, _Orig(), connection_invalidated=True), 503),
        (OperationalError("x", None, _Orig(sqlite_errorname="SQLITE_BUSY")), 503),
        (PoolTimeout("QueuePool limit reached"), 503),
        (ProgrammingError("SELECT nope", None, _Orig("42P01")), 500),  # a bug
        (IntegrityError("INSERT", None, _Orig("23505")), 409),  # a lost race
        (DBAPIError("SELECT 1", None, _Orig("22P02")), 500),  # bad input reached SQL: a bug
        (OperationalError("x", None, _Orig(sqlite_errorname="SQLITE_ERROR")), 500),
        (ConnectionRefusedError(), 500),  # only what the engine raises is classified
    ],
)
async def test_only_an_unreachable_database_is_a_503(error: Exception, status: int) -> None:
    response = await _answer_to(error)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert ("retry-after" in response.headers) == (status == 503)


async def test_only_a_timeout_raised_in_the_driver_is_a_503() -> None:
    """asyncpg's timeouts reach the app as bare TimeoutErrors; one raised anywhere else
    is not the database's, so it stays a 500."""
    driver = await _driver_timeout()
    elsewhere = TimeoutError()

    assert (await _answer_to(driver)).status_code == 503
    assert (await _answer_to(elsewhere)).status_code == 500


async def _answer_to(error: BaseException) -> httpx.Response:
    """What the problem handlers answer to a route that raises `error`."""
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(UnexpectedErrors)  # what no handler takes, as create_app() adds it

    @app.get("/fail")
    async def fail() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/fail")


async def _driver_timeout() -> TimeoutError:
    """A TimeoutError raised inside asyncpg, as its command timeout is: here its connect
    timeout, on a socket that accepts and never answers (no server needed)."""
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(
        lambda _reader, writer: accepted.append(writer), "127.0.0.1", 0
    )
    port = silent.sockets[0].getsockname()[1]
    try:
        await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", timeout=0.2)
    except TimeoutError as error:
        return error
    finally:
        for writer in accepted:
            writer.close()
        silent.close()
    raise AssertionError("asyncpg connected to a socket that never answers")

"""`deploy/cluster.sh`: HAProxy in front of three `featwright serve` processes, a second
HAProxy routing their connections to the PostgreSQL primary of two nodes under Patroni (each
node with its PgBouncer in transaction pooling mode, the standby synchronous), Redis for the
rate limits, all real and on 127.0.0.1. Driven through the balancer only, over HTTPS verified
against the certificate `up` made: a commit waits for the synchronous standby; one process
is stopped under load; the primary's machine is lost under load (killed, or gone silent); and
the primary is handed over under load. Each client connects from a loopback address of its
own (127.0.0.0/8), so the per-address login limit sees each as a client of its own."""

import asyncio
import os
import random
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import require_postgres, sign_up
from tests.reliability.figures import assert_figure

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "cluster.sh"
CLIENT_LIMIT = 5
CLIENTS = 16
STATEMENT_TIMEOUT = 10
HSTS = "max-age=31536000"


def _free_run(count: int) -> int:
    """The first of `count` consecutive free ports, below Linux's ephemeral range (32768
    and up), where any outgoing connection may take one between this check and the bind."""
    for _ in range(100):
        base = random.randint(20_000, 32_000)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports")


def loopback_address() -> str:
    """A random address of 127.0.0.0/8 other than 127.0.0.1: a client of its own, also to
    the rate-limit counters earlier runs left in Redis."""
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@dataclass
class Cluster:
    url: str
    http_url: str
    state: Path
    environ: dict[str, str]

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            cwd=ROOT,
            env=self.environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def on_primary(self, sql: str) -> str:
        """One statement's answer, on the primary, through the processes' database route."""
        port = self.environ["CLUSTER_DB_PORT"]
        command = ["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres"]
        return subprocess.run(
            [*command, "-tAc", sql], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    def states(self) -> dict[str, str]:
        """`status`: each process and each PostgreSQL node, by name."""
        listed = self.run("status").stdout.split("\n")
        return dict(line.split(" ", 1) for line in listed if line.strip())

    def processes(self) -> dict[str, str]:
        return {name: state for name, state in self.states().items() if name.startswith("featw")}

    def nodes(self) -> dict[str, list[str]]:
        """Each node's role, state, timeline, lag and route, as `status` shows them."""
        return {
            name: state.split() for name, state in self.states().items() if name.startswith("node")
        }

    def primary(self) -> str:
        return next(name for name, state in self.nodes().items() if state[0] == "leader")

    def node_log(self, name: str) -> str:
        """What the node's Patroni (and its PostgreSQL) logged."""
        return (Path(self.environ["CLUSTER_NODE_DIR"]) / name / "patroni.log").read_text()

    def process_ids(self) -> list[str]:
        return sorted(path.read_text() for path in self.state.glob("featwright*.pid"))

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """Trusts the certificate `up` made, and no other."""
        return ssl.create_default_context(cafile=self.state / "tls.crt")

    def client(self, source: str | None = None, **options: Any) -> httpx.AsyncClient:
        """An HTTPS client of the balancer, connecting from the loopback address `source`
        (a new one by default)."""
        transport = httpx.AsyncHTTPTransport(
            verify=self.tls, local_address=source or loopback_address()
        )
        options.setdefault("timeout", 10)
        return httpx.AsyncClient(base_url=self.url, transport=transport, **options)


def _failed_login() -> dict[str, str]:
    """A login form for an account that does not exist: a new email each time, so only the
    per-address limit counts it more than once."""
    email = f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    return {"username": email, "password": secrets.token_urlsafe(16)}


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    require_postgres(request.config)
    for part in ("haproxy", "pgbouncer", "patroni", "etcd", "redis-cli"):
        if shutil.which(part) is None and os.environ.get("FEATWRIGHT_REQUIRE_CLUSTER") != "1":
            pytest.skip(f"{part} not installed (deploy/cluster.sh up installs it)")
    # HTTPS, the 3 processes, plain HTTP, the database route, 2 nodes of 3 ports, etcd's 2.
    port = _free_run(14)
    state = tmp_path_factory.mktemp("cluster")
    environ = {
        **os.environ,
        "CLUSTER_PORT": str(port),
        "CLUSTER_HTTP_PORT": str(port + 4),
        "CLUSTER_DB_PORT": str(port + 5),
        "CLUSTER_NODE_PORT": str(port + 6),
        "CLUSTER_ETCD_PORT": str(port + 12),
        "CLUSTER_STATE": str(state),
        # The nodes run as postgres, which cannot enter pytest's private temporary directory.
        "CLUSTER_NODE_DIR": tempfile.mkdtemp(prefix="featwright-cluster-"),
        "REDIS_URL": "redis://127.0.0.1:6379/5",
        "SHUTDOWN_TIMEOUT": "10",
        "DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        # The load test's one user writes thousands of rows a minute.
        "CLUSTER_ENV": f"RATE_LIMIT_PER_CLIENT={CLIENT_LIMIT}/minute"
        " RATE_LIMIT_WRITES_PER_USER=100000/minute",
    }
    for name in ("CLUSTER_TLS_PEM", "CLUSTER_NODES", "CLUSTER_DATABASE"):
        environ.pop(name, None)
    cluster = Cluster(f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port + 4}", state, environ)
    try:
        started = cluster.run("up", timeout=600)
        assert started.returncode == 0, started.stdout + started.stderr
        yield cluster
    finally:
        cluster.run("destroy", timeout=600)


async def test_the_crud_contract_through_the_balancer(cluster: Cluster) -> None:
    assert all(state.startswith("UP") for state in cluster.processes().values())
    wait_replicated(cluster, within=30)
    async with cluster.client() as client:
        headers = await sign_up(client)
        assert (await client.get("/api/v1/projects")).status_code == 401
        created = await client.post("/api/v1/projects", json={"name": "p"}, headers=headers)
        assert created.status_code == 201
        url = created.headers["Location"]
        served_by = set()
        for _ in range(6):
            read = await client.get(url, headers=headers)
            assert read.json() == created.json()
            served_by.add(read.headers["X-Served-By"])
        assert len(served_by) == 3  # every process answers the same row
        listed = await client.get("/api/v1/projects", headers=headers)
        assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
        bad = await client.post("/api/v1/projects", json={"name": ""}, headers=headers)
        assert bad.status_code == 400
        updated = await client.put(url, json={"name": "q"}, headers=headers)
        assert (updated.status_code, updated.json()["version"]) == (200, 2)
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.get(url, headers=headers)).status_code == 404


async def test_an_if_match_race_across_processes_has_one_winner(cluster: Cluster) -> None:
    async with cluster.client() as client:
        headers = await sign_up(client)
        created = await client.post("/api/v1/projects", json={"name": "p"}, headers=headers)
        url, etag = created.headers["Location"], created.headers["ETag"]

    async def rename(number: int) -> httpx.Response:
        async with cluster.client() as own:
            return await own.put(
                url, json={"name": f"n{number}"}, headers={**headers, "If-Match": etag}
            )

    answers = await asyncio.gather(*(rename(number) for number in range(12)))
    assert sorted(a.status_code for a in answers) == [200] + [412] * 11
    assert len({a.headers["X-Served-By"] for a in answers}) == 3


async def test_an_idempotency_key_on_every_process_makes_one_row(cluster: Cluster) -> None:
    async with cluster.client() as client:
        headers = await sign_up(client)
    keyed = {**headers, "Idempotency-Key": f"key-{uuid.uuid4()}"}
    answers = []
    for _ in range(6):
        async with cluster.client() as client:
            answers.append(
                await client.post("/api/v1/projects", json={"name": "once"}, headers=keyed)
            )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers].count("true") == 5
    assert len({a.headers["X-Served-By"] for a in answers}) == 3
    async with cluster.client() as client:
        listed = await client.get("/api/v1/projects", headers=headers)
    assert listed.json()["total"] == 1


async def test_a_rate_limit_is_shared_by_the_processes(cluster: Cluster) -> None:
    """One client's login attempts (for accounts that do not exist) are counted together
    whichever process answers: 429 once the per-address limit is spent."""
    source = loopback_address()
    statuses, served_by = [], set()
    for _ in range(CLIENT_LIMIT + 3):
        async with cluster.client(source) as client:
            answer = await client.post("/api/v1/auth/token", data=_failed_login())
        statuses.append(answer.status_code)
        served_by.add(answer.headers["X-Served-By"])
    assert statuses == [401] * CLIENT_LIMIT + [429] * 3
    assert len(served_by) == 3


async def test_a_forged_x_forwarded_for_is_not_a_new_client(cluster: Cluster) -> None:
    """HAProxy drops the X-Forwarded-For a client sends and writes the address it sees: a
    client forging a new address with every attempt is still one client to the limit."""
    statuses = []
    async with cluster.client() as client:
        for number in range(CLIENT_LIMIT + 2):
            answer = await client.post(
                "/api/v1/auth/token",
                data=_failed_login(),
                headers={"X-Forwarded-For": f"203.0.113.{number + 1}"},
            )
            statuses.append(answer.status_code)
    assert statuses == [401] * CLIENT_LIMIT + [429] * 2


async def test_two_clients_behind_the_balancer_have_limits_of_their_own(
    cluster: Cluster,
) -> None:
    """The processes see the balancer's address on every connection; the client is the
    address the balancer forwards, so one client spending its limit leaves others theirs."""
    first = loopback_address()
    second = loopback_address()
    while second == first:
        second = loopback_address()
    async with cluster.client(first) as client:
        spent = [
            (await client.post("/api/v1/auth/token", data=_failed_login())).status_code
            for _ in range(CLIENT_LIMIT + 1)
        ]
    async with cluster.client(second) as client:
        other = await client.post("/api/v1/auth/token", data=_failed_login())
    assert spent == [401] * CLIENT_LIMIT + [429]
    assert other.status_code == 401


async def test_plain_http_is_redirected_to_https_which_alone_sends_hsts(
    cluster: Cluster,
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=loopback_address())
    async with httpx.AsyncClient(transport=transport, timeout=10) as plain:
        redirected = await plain.get(f"{cluster.http_url}/api/v1/projects?limit=2")
        posted = await plain.post(f"{cluster.http_url}/api/v1/auth/token", data=_failed_login())
    for answer in (redirected, posted):  # the method kept; no process sees plain HTTP
        assert answer.status_code == 308
        assert "Strict-Transport-Security" not in answer.headers
        assert "X-Served-By" not in answer.headers
    assert redirected.headers["Location"] == f"{cluster.url}/api/v1/projects?limit=2"
    assert posted.headers["Location"] == f"{cluster.url}/api/v1/auth/token"

    async with cluster.client() as client:
        served = await client.get("/health/live")
        refused = await client.get("/api/v1/projects")
        # The app's own redirect: an absolute URL, with the scheme X-Forwarded-Proto gave.
        slash = await client.get("/health/live/")
    assert [served.status_code, refused.status_code, slash.status_code] == [200, 401, 307]
    assert slash.headers["Location"] == f"{cluster.url}/health/live"
    for answer in (served, refused, slash):
        assert answer.headers["Strict-Transport-Security"] == HSTS


async def test_up_again_keeps_the_certificate_and_the_processes(cluster: Cluster) -> None:
    pem = cluster.state / "tls.pem"
    certificate = (cluster.state / "tls.crt").read_bytes()
    assert pem.stat().st_mode & 0o777 == 0o600  # the private key
    pids = sorted(path.read_text() for path in cluster.state.glob("*.pid"))

    again = cluster.run("up")

    assert again.returncode == 0, again.stdout + again.stderr
    assert (cluster.state / "tls.crt").read_bytes() == certificate
    assert pem.stat().st_mode & 0o777 == 0o600
    assert sorted(path.read_text() for path in cluster.state.glob("*.pid")) == pids
    assert all(state.startswith("UP") for state in cluster.processes().values())
    # The certificate names 127.0.0.1 and localhost.
    transport = httpx.AsyncHTTPTransport(verify=cluster.tls)
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        for host in ("127.0.0.1", "localhost"):
            port = cluster.url.rsplit(":", 1)[1]
            answer = await client.get(f"https://{host}:{port}/health/ready")
            assert answer.status_code == 200


@dataclass
class Load:
    statuses: Counter[int] = field(default_factory=Counter)
    created: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    served_after_stop: Counter[str] = field(default_factory=Counter)
    resent: int = 0


async def test_stopping_a_process_under_load_loses_no_write(cluster: Cluster) -> None:
    """SIGTERM to one process while 16 clients create and read: the balancer routes around
    it, requests in flight complete, every 201 is a row, no 5xx but a 503 with Retry-After."""
    async with cluster.client() as client:
        headers = await sign_up(client)
    load = Load()
    stopped_at: list[float] = []
    deadline = time.monotonic() + 8

    async def send(
        client: httpx.AsyncClient, method: str, url: str, **options: object
    ) -> httpx.Response:
        """As a careful client sends: a request whose connection closed before any answer
        (a keep-alive connection the balancer dropped) is sent once more on a new one,
        which for a POST is safe because it carries an Idempotency-Key."""
        try:
            return await client.request(method, url, **options)  # type: ignore[arg-type]
        except httpx.RemoteProtocolError:
            load.resent += 1
            return await client.request(method, url, **options)  # type: ignore[arg-type]

    async def worker() -> None:
        async with cluster.client(timeout=15) as client:
            while time.monotonic() < deadline:
                key = {**headers, "Idempotency-Key": str(uuid.uuid4())}
                try:
                    answer = await send(
                        client, "POST", "/api/v1/projects", json={"name": "l"}, headers=key
                    )
                except httpx.TransportError as error:
                    load.problems.append(f"POST: {error!r}")
                    continue
                load.statuses[answer.status_code] += 1
                if stopped_at and time.monotonic() > stopped_at[0] + 2:
                    load.served_after_stop[answer.headers.get("X-Served-By", "?")] += 1
                if answer.status_code == 201:
                    load.created.add(answer.json()["id"])
                    try:
                        read = await send(
                            client, "GET", answer.headers["Location"], headers=headers
                        )
                    except httpx.TransportError as error:
                        load.problems.append(f"GET: {error!r}")
                        continue
                    load.statuses[read.status_code] += 1
                elif answer.status_code == 503:
                    if "Retry-After" not in answer.headers:
                        load.problems.append("503 without Retry-After")
                else:
                    load.problems.append(f"POST answered {answer.status_code}: {answer.text}")

    async def stop_one() -> None:
        await asyncio.sleep(2.5)
        stopped_at.append(time.monotonic())
        stopped = await asyncio.to_thread(cluster.run, "stop-process", "2")
        assert stopped.returncode == 0, stopped.stderr

    await asyncio.gather(*(worker() for _ in range(CLIENTS)), stop_one())

    assert load.problems == []
    assert set(load.statuses) <= {200, 201, 503}, load.statuses
    assert load.statuses[201] > 100, load.statuses
    assert cluster.states()["featwright2"].startswith(("DOWN", "MAINT"))
    assert "featwright2" not in load.served_after_stop, load.served_after_stop
    async with cluster.client(timeout=30) as client:
        listed = await client.get(
            "/api/v1/projects?limit=1", headers={**headers, "Prefer": "count=exact"}
        )
    assert listed.json()["total"] == len(load.created)  # every 2xx write is a row
    # A request in flight on the stopped process is answered with `Connection: close`; a
    # client that sends its next request before it sees the close sends it again: at most
    # once per client.
    assert load.resent <= CLIENTS, load.resent
    print(
        f"cluster under load: {dict(load.statuses)}, {len(load.created)} rows created,"
        f" {load.resent} requests sent again on a new connection"
    )


# ------------------------------------------------------------------ the database tier


@dataclass
class Writes:
    """What the clients saw while creating rows, each create with an Idempotency-Key sent
    again after a 503 until it is answered 201. Times are seconds since the event."""

    statuses: Counter[int] = field(default_factory=Counter)
    rows: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key: the id of the row its 201 named."""
    problems: list[str] = field(default_factory=list)
    slowest: float = 0.0
    unavailable: list[float] = field(default_factory=list)
    """When each 503 was answered."""
    recovered: float | None = None
    """When the first 201 was answered to a request sent after a 503."""
    probe_refused: bool = False
    writable_again: float | None = None
    """When the probe, a 17th client sending again every 0.2 s rather than after
    Retry-After, had its first 201 after any 503: when writes were possible again."""
    retried_keys: int = 0
    """Keys answered 503 at least once, then 201."""
    replayed: int = 0
    """Of those, the 201s replayed from the key's stored answer: the lost primary had
    committed the row but could not answer."""

    def figures(self) -> str:
        window = (
            f"{min(self.unavailable):.1f} s to {max(self.unavailable):.1f} s"
            if self.unavailable
            else "none"
        )
        recovered = "-" if self.recovered is None else f"{self.recovered:.1f} s"
        writable = "-" if self.writable_again is None else f"{self.writable_again:.1f} s"
        return (
            f"{self.statuses[201]} creates, {self.statuses[503]} 503s ({window}),"
            f" writable again at {writable} (the probe), first 201 after a 503's"
            f" Retry-After at {recovered}, {self.retried_keys} keys sent again"
            f" ({self.replayed} replayed),"
            f" slowest answer {self.slowest:.2f} s, statuses {dict(self.statuses)}"
        )


async def write_through(
    cluster: Cluster, headers: dict[str, str], event: Any, seconds: float = 20, at: float = 5
) -> Writes:
    """16 clients create (and read back) rows for `seconds`; `event` runs at `at` seconds.
    A key answered 503 is sent again after its Retry-After until it is answered 201 (up to
    a minute). Returns what they saw, times in seconds since the event."""
    writes = Writes()
    started = time.monotonic()
    event_at: list[float] = []

    def since_event() -> float:
        return time.monotonic() - event_at[0] if event_at else -1.0

    async def request(client: httpx.AsyncClient, method: str, url: str, **options: Any) -> Any:
        sent = time.monotonic()
        try:
            answer = await client.request(method, url, **options)
        except httpx.TransportError as error:
            writes.problems.append(f"{method} {url}: {error!r} at {since_event():.1f} s")
            return None
        writes.slowest = max(writes.slowest, time.monotonic() - sent)
        writes.statuses[answer.status_code] += 1
        if answer.status_code == 503:
            writes.unavailable.append(since_event())
            if not answer.headers.get("Retry-After", "").isdigit():
                writes.problems.append(f"503 without Retry-After: {answer.headers}")
            if answer.headers.get("Content-Type") != "application/problem+json":
                writes.problems.append(f"503 that is not a problem: {answer.text}")
        elif answer.status_code not in (200, 201):
            writes.problems.append(f"{method} {url}: {answer.status_code} {answer.text}")
        return answer

    async def until_answered(
        client: httpx.AsyncClient, method: str, url: str, probe: bool, **options: Any
    ) -> tuple[Any, bool]:
        """The answer to a request sent again after each 503's Retry-After, as a careful
        client sends it (a create with the same Idempotency-Key), or every 0.2 s by the
        probe; and whether a 503 came. Up to a minute."""
        refused = False
        given_up_at = time.monotonic() + 60
        while time.monotonic() < given_up_at:
            answer = await request(client, method, url, **options)
            if answer is None or answer.status_code != 503:
                return answer, refused
            refused = True
            writes.probe_refused |= probe
            pause = 0.2 if probe else int(answer.headers.get("Retry-After", "1"))
            await asyncio.sleep(pause)
        writes.problems.append(f"{method} {url}: still 503 after a minute")
        return None, refused

    async def client_loop(probe: bool = False) -> None:
        async with cluster.client(timeout=STATEMENT_TIMEOUT + 5) as client:
            while time.monotonic() < started + seconds:
                key = str(uuid.uuid4())
                keyed = {**headers, "Idempotency-Key": key}
                created, refused = await until_answered(
                    client, "POST", "/api/v1/projects", probe, json={"name": key[:8]}, headers=keyed
                )
                if created is None or created.status_code != 201:
                    continue
                writes.rows[key] = created.json()["id"]
                if probe and writes.probe_refused and writes.writable_again is None:
                    writes.writable_again = since_event()
                if refused and not probe:
                    writes.retried_keys += 1
                    writes.replayed += created.headers.get("Idempotent-Replayed") == "true"
                    if writes.recovered is None:
                        writes.recovered = since_event()
                # Read your own write: never a 404, though a 503 may come first.
                read, _ = await until_answered(
                    client, "GET", created.headers["Location"], probe, headers=headers
                )
                if read is not None and read.status_code != 200:
                    writes.problems.append(f"read after 201: {read.status_code}")

    async def run_event() -> None:
        await asyncio.sleep(at)
        event_at.append(time.monotonic())
        await asyncio.to_thread(event)

    async with asyncio.TaskGroup() as group:  # an event that fails cancels the clients
        for _ in range(CLIENTS):
            group.create_task(client_loop())
        group.create_task(client_loop(probe=True))
        group.create_task(run_event())
    return writes


async def writes_around(
    cluster: Cluster, label: str, *command: str
) -> tuple[Writes, set[str], set[str]]:
    """A new user's load of `write_through`, with `deploy/cluster.sh *command` at 5 s: what
    the clients saw, the rows they were told were created, and the rows there afterwards."""
    async with cluster.client() as client:
        headers = await sign_up(client)

    def event() -> None:
        ran = cluster.run(*command)
        assert ran.returncode == 0, ran.stdout + ran.stderr

    writes = await write_through(cluster, headers, event)
    present = await rows_of(cluster, headers)
    acknowledged = set(writes.rows.values())
    print(f"{label}: {writes.figures()}, {len(acknowledged - present)} acknowledged writes lost")
    return writes, acknowledged, present


async def rows_of(cluster: Cluster, headers: dict[str, str]) -> set[str]:
    """The ids of every row the user has, read on the primary page by page."""
    ids: set[str] = set()
    async with cluster.client(timeout=30) as client:
        page = 1
        while True:
            listed = await client.get(f"/api/v1/projects?limit=100&page={page}", headers=headers)
            assert listed.status_code == 200, listed.text
            items = listed.json()["items"]
            ids.update(item["id"] for item in items)
            if len(items) < 100:
                return ids
            page += 1


def wait_replicated(cluster: Cluster, within: float) -> float:
    """Seconds until both nodes run on one timeline, the standby synchronous, its lag 0, and
    the route leads to the primary alone."""
    started = time.monotonic()
    while time.monotonic() < started + within:
        nodes = cluster.nodes()
        if any(state[0] == "gone" for state in nodes.values()):
            time.sleep(0.5)
            continue
        roles = sorted(state[0] for state in nodes.values())
        timelines = {state[2] for state in nodes.values()}
        routed = [name for name, state in nodes.items() if state[-1] == "route=UP"]
        if (
            roles == ["leader", "sync_standby"]
            and len(timelines) == 1
            and all(state[3] == "lag=0" for state in nodes.values())
            and routed == [cluster.primary()]
        ):
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"not replicated within {within} s: {cluster.nodes()}")


@pytest.fixture
def replicated(cluster: Cluster) -> Cluster:
    """The cluster whole again: every process running (a test before stopped one) and both
    nodes replicating."""
    again = cluster.run("up")
    assert again.returncode == 0, again.stdout + again.stderr
    wait_replicated(cluster, within=60)
    return cluster


async def test_a_commit_waits_for_the_synchronous_standby(replicated: Cluster) -> None:
    """While the standby's machine hangs, a create is not answered: its commit waits for the
    standby to flush it. It is answered 201 once the standby runs again. (With asynchronous
    replication it would be answered at once, and a failover could lose it.)"""
    cluster = replicated
    assert cluster.on_primary("SHOW synchronous_commit") == "on"
    standby = next(name for name, state in cluster.nodes().items() if state[0] == "sync_standby")
    assert cluster.on_primary("SELECT sync_state FROM pg_stat_replication") == "sync"
    async with cluster.client() as client:
        headers = await sign_up(client)
        frozen = cluster.run("freeze-node", standby.removeprefix("node"))
        assert frozen.returncode == 0, frozen.stderr
        try:
            create = asyncio.ensure_future(
                client.post("/api/v1/projects", json={"name": "waits"}, headers=headers)
            )
            done, _ = await asyncio.wait({create}, timeout=2)
            assert not done, "a create was answered while the synchronous standby hung"
        finally:
            thawed = cluster.run("thaw-node", standby.removeprefix("node"))
            assert thawed.returncode == 0, thawed.stderr
        created = await create
    assert created.status_code == 201, created.text
    wait_replicated(cluster, within=60)


@pytest.mark.parametrize("run", range(1, 6))
async def test_losing_the_primarys_machine_under_load_loses_no_acknowledged_write(
    replicated: Cluster, run: int
) -> None:
    """At 5 s of 20 s of creates, the primary's machine is lost (Patroni, PgBouncer and
    every PostgreSQL process killed with SIGKILL): the synchronous standby is promoted when
    the leader lock expires, the route follows it, and the node comes back as a standby."""
    await lose_the_primary(replicated, f"failover run {run}", "kill-node", "in a failover")


async def test_a_primary_whose_machine_goes_silent_is_replaced_too(
    replicated: Cluster,
) -> None:
    """The primary's machine hangs instead (SIGSTOP, its connections open and unanswered),
    and is killed only after the load: requests on it wait until the route's check fails,
    then answer 503; nothing more is lost."""
    await lose_the_primary(
        replicated, "silent primary", "freeze-node", "when the primary goes silent"
    )


async def lose_the_primary(cluster: Cluster, label: str, loss: str, figures: str) -> None:
    """The primary's machine lost under load by `deploy/cluster.sh <loss> N`, then brought
    back: each promise of docs/reliability.md section 11, checked."""
    processes = cluster.process_ids()
    lost = cluster.primary()
    writes, acknowledged, present = await writes_around(
        cluster, f"{label}, {lost} lost", loss, lost.removeprefix("node")
    )
    assert writes.problems == []
    assert set(writes.statuses) <= {200, 201, 503}, writes.statuses
    assert any(at >= 0 for at in writes.unavailable), "no 503 after the primary was lost"
    assert writes.writable_again is not None, writes.figures()
    assert writes.statuses[201] > 100, writes.statuses
    assert cluster.primary() != lost
    # Every 201 is a row on the new primary (and no key made two: `present` has no more).
    assert_figure(f"acknowledged writes lost {figures}", len(acknowledged - present))
    assert present == acknowledged
    assert_figure(f"500s {figures}", writes.statuses[500])
    assert_figure(f"slowest answer {figures}", round(writes.slowest, 2), "s")
    assert_figure(f"writes possible again {figures}", writes.writable_again, "s")

    # The machine back: it rejoins as the synchronous standby of the new primary.
    killed = cluster.run("kill-node", lost.removeprefix("node"))  # a frozen one is still there
    assert killed.returncode == 0, killed.stderr
    rewinds = cluster.node_log(lost).count("running pg_rewind")
    back = cluster.run("start-node", lost.removeprefix("node"))
    assert back.returncode == 0, back.stderr
    rejoined = wait_replicated(cluster, within=120)
    assert cluster.nodes()[lost][0] == "sync_standby"
    assert_figure(f"seconds to rejoin as the standby {figures}", round(rejoined, 1), "s")
    assert cluster.process_ids() == processes  # no featwright process was restarted
    rewound = cluster.node_log(lost).count("running pg_rewind") > rewinds
    print(
        f"{label}: {lost} rejoined as the standby in {rejoined:.1f} s"
        f" ({'rewound with pg_rewind' if rewound else 'no pg_rewind needed'})"
    )


async def test_a_switchover_under_load_loses_no_write(replicated: Cluster) -> None:
    """A planned handover of the primary (`patronictl switchover`) under the same load."""
    cluster = replicated
    processes = cluster.process_ids()
    primary = cluster.primary()
    writes, acknowledged, present = await writes_around(
        cluster, f"switchover from {primary}", "switchover"
    )

    assert writes.problems == []
    assert set(writes.statuses) <= {200, 201, 503}, writes.statuses
    assert writes.statuses[201] > 100, writes.statuses
    assert all(at >= 0 for at in writes.unavailable), "503s before the switchover"
    assert writes.writable_again is not None, writes.figures()
    assert_figure("acknowledged writes lost in a switchover", len(acknowledged - present))
    assert present == acknowledged
    window = max(writes.unavailable) - min(writes.unavailable) if writes.unavailable else 0.0
    assert_figure("503 window of a switchover", round(window, 1), "s")
    assert_figure("slowest answer in a switchover", round(writes.slowest, 2), "s")
    wait_replicated(cluster, within=60)
    assert cluster.primary() != primary
    assert cluster.process_ids() == processes

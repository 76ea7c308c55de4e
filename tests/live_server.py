"""Real processes for the tests that need them: the `featwright` command, a live
`featwright serve`, a throwaway PostgreSQL cluster and scratch databases.

The browser tests and `tests/reliability/` use these; everything here is
generic (no feature, no route).
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import NAMED_POSTGRES, postgres_url

SERVER_START_TIMEOUT = 20.0
SERVER_STOP_TIMEOUT = 10.0
SECRET_KEY = "live-server-secret-that-is-long-enough-for-hs256-0123456789"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def featwright_script() -> str:
    script = Path(sys.executable).with_name("featwright")
    assert script.exists(), f"no featwright console script next to {sys.executable}"
    return str(script)


def featwright_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `featwright` process: DATABASE_URL, a fixed key, SETTINGS."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "NO_COLOR": "1",
        "RATE_LIMIT_WRITES_PER_USER": "100000/minute",  # load, not people (see test_limits)
        **{name.upper(): value for name, value in settings.items()},
    }


def start_featwright(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """`featwright ARGS` in the background, its output captured."""
    return subprocess.Popen(
        [featwright_script(), *args],
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def upgrade(env: Mapping[str, str], cwd: Path) -> None:
    """`featwright db upgrade`; a failure fails the test with its output."""
    process = start_featwright("db", "upgrade", env=env, cwd=cwd)
    _, stderr = process.communicate(timeout=120)
    if process.returncode != 0:
        pytest.fail(f"featwright db upgrade exited with {process.returncode}:\n{stderr}")


@dataclass
class LiveServer:
    """A running `featwright serve`; its log (stdout and stderr) goes to `log`."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> int:
        """SIGTERM, then the exit status; a server that ignores it is killed and fails."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=SERVER_STOP_TIMEOUT)
            pytest.fail(
                f"featwright serve ignored SIGTERM for {SERVER_STOP_TIMEOUT:.0f} s and was"
                f" killed:\n{self.log_text()}"
            )

    def stop(self) -> None:
        """Stop it as an orchestrator would; anything but a clean exit 0 fails."""
        status = self.terminate()
        assert status == 0, f"featwright serve exited with {status} on SIGTERM:\n{self.log_text()}"


def start_server(
    workdir: Path, env: Mapping[str, str], *options: str, port: int | None = None
) -> LiveServer:
    """`featwright serve OPTIONS` (`--no-access-log` by default) on a free port, once it
    answers /health/live."""
    port = port or free_port()
    log = workdir / f"serve-{port}.log"
    options = options or ("--no-access-log",)
    command = ["serve", *options, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [featwright_script(), *command],
            cwd=workdir,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", log)
    _wait_until_live(server)
    return server


def _wait_until_live(server: LiveServer) -> None:
    url = f"{server.url}/health/live"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"featwright serve exited with {server.process.returncode} before answering:\n"
                + server.log_text()
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a process we do not control, bounded by the deadline
    server.process.kill()
    server.process.wait()
    pytest.fail(
        f"featwright serve did not answer {url} within {SERVER_START_TIMEOUT:.0f} s:\n"
        + server.log_text()
    )


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> dict[str, str]:
    """Register a new account through the API, log in, and return its Bearer header."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    password = "correct horse battery"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 202, registered.text
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@contextmanager
def running_server(workdir: Path, env: Mapping[str, str], *options: str) -> Iterator[LiveServer]:
    """A live server for the block, stopped (and checked to stop cleanly) afterwards."""
    server = start_server(workdir, env, *options)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()


# PostgreSQL -----------------------------------------------------------------------------


def require_postgres(config: pytest.Config) -> None:
    """Skip without the test server, or fail where it is required (as tests/conftest.py)."""
    problem = config.postgres_problem  # type: ignore[attr-defined]
    if problem is None:
        return
    message = f"PostgreSQL not reachable at {make_url(postgres_url())!r}: {problem}"
    if os.environ.get("FEATWRIGHT_REQUIRE_POSTGRES") == "1" or NAMED_POSTGRES:
        pytest.fail(message + " (FEATWRIGHT_REQUIRE_POSTGRES=1)")
    pytest.skip(message)


def plain_dsn(url: str) -> str:
    """The asyncpg form of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def scratch_database(purpose: str) -> AsyncIterator[str]:
    """A new, empty, uniquely named database on the test server; dropped afterwards."""
    server = make_url(postgres_url())
    name = f"featwright_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = plain_dsn(server.set(database="postgres").render_as_string(hide_password=False))
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


def _unavailable(problem: str) -> None:
    if os.environ.get("FEATWRIGHT_REQUIRE_POSTGRES") == "1":
        pytest.fail(problem + " (FEATWRIGHT_REQUIRE_POSTGRES=1)")
    pytest.skip(problem)


def _postgres_bin() -> Path:
    """The directory of initdb and pg_ctl: on PATH, else Debian's newest."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3])
    )
    if not installed:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl)")
    return installed[-1].parent


class PostgresCluster:
    """A PostgreSQL server of its own (initdb + pg_ctl), for tests that stop it.

    initdb refuses to run as root, so as root the commands run as the `postgres`
    user (runuser), in a directory under the system temp dir that it owns.
    """

    def __init__(self, *settings: str) -> None:
        """`settings`: extra server settings, as `name=value`."""
        self.settings = settings
        self.bin = _postgres_bin()
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                _unavailable("running as root, and no `postgres` user to run initdb as")
        self._as_owner = ["runuser", "-u", "postgres", "--"] if owner else []
        self.directory = Path(tempfile.mkdtemp(prefix="featwright-pg-"))
        if owner:
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.port = free_port()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        result = subprocess.run(
            [*self._as_owner, str(self.bin / tool), *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(f"{tool} {' '.join(args)} failed:\n{result.stderr}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {setting}" for setting in self.settings)
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

    def destroy(self) -> None:
        """Stop the server if it runs, and delete its files."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data), check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(plain_dsn(self.url()))
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)


@contextmanager
def postgres_cluster(*settings: str) -> Iterator[PostgresCluster]:
    """A started throwaway cluster, removed afterwards."""
    cluster = PostgresCluster(*settings)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# Redis ----------------------------------------------------------------------------------


def redis_unavailable(problem: str) -> None:
    """Skip without Redis, or fail where it is required (FEATWRIGHT_REQUIRE_REDIS=1, CI)."""
    if os.environ.get("FEATWRIGHT_REQUIRE_REDIS") == "1":
        pytest.fail(problem + " (FEATWRIGHT_REQUIRE_REDIS=1)")
    pytest.skip(problem)

"""The development loop around the command line: it starts without the heavy libraries, and
`featwright serve --reload` restarts itself when a source file changes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import free_port

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("fastapi", "sqlalchemy", "alembic", "uvicorn", "structlog", "pydantic_settings")

IMPORTED_AFTER = """
import json, sys
from src.cli import app
code = 0
try:
    app(sys.argv[1:])
except SystemExit as done:
    code = done.code
imported = sorted(m for m in json.loads(HEAVY) if m in sys.modules)
print(json.dumps({"code": code, "imported": imported}))
"""


def run_importing(*args: str) -> tuple[int, list[str]]:
    """`featwright ARGS` in a fresh interpreter: its exit status, and which of HEAVY it
    imported."""
    script = IMPORTED_AFTER.replace("HEAVY", repr(json.dumps(HEAVY)))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    return found["code"], found["imported"]


@pytest.mark.parametrize(
    "args",
    [("--help",), ("add", "--help"), ("remove", "--help"), ("serve", "--help"), ("db", "--help")],
    ids=" ".join,
)
def test_help_imports_none_of_the_heavy_libraries(args: tuple[str, ...]) -> None:
    assert run_importing(*args) == (0, [])


def test_check_imports_no_migration_or_server_library() -> None:
    """`check` needs the app (FastAPI, SQLAlchemy), never Alembic or uvicorn."""
    code, imported = run_importing("check")

    assert code in (0, 1)  # it compared the docs with the app (whether or not they agree)
    assert "fastapi" in imported
    assert not {"alembic", "uvicorn"} & set(imported)


def featwright(cwd: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """`featwright ARGS` of the `src` package in `cwd`, in the background."""
    return subprocess.Popen(
        [sys.executable, "-c", "from src.cli import app; app()", *args],
        cwd=cwd,
        env={
            **os.environ,
            "PYTHONPATH": str(cwd),
            "SECRET_KEY": "k" * 40,
            "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'dev.db'}",
            "NO_COLOR": "1",
        },
        text=True,
        **popen,
    )


def test_serve_refuses_reload_with_several_workers(tmp_path: Path) -> None:
    refused = featwright(ROOT, "serve", "--reload", "--workers", "2", stderr=subprocess.PIPE)
    _, stderr = refused.communicate(timeout=60)

    assert refused.returncode == 2
    assert "--reload restarts one server process; drop --workers" in stderr


RELOADED_ROUTE = """

@router.get("/reloaded")
async def reloaded() -> dict[str, bool]:
    return {"reloaded": True}
"""


def wait_for(url: str, server: subprocess.Popen[str], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, f"serve exited with {server.returncode}:\n{log.read_text()}"
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)  # polling a process we do not control, bounded by the deadline
    pytest.fail(f"{url} did not answer 200 within {timeout:.0f} s:\n{log.read_text()}")


def test_serve_reload_restarts_on_a_changed_source_file(tmp_path: Path) -> None:
    """A route added to a copy of the source while `serve --reload` runs is served, after
    the log says which file changed; SIGTERM still stops it with exit 0."""
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = featwright(
            tmp_path,
            *("serve", "--reload", "--no-access-log", "--port", str(port)),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health/live", server, log)
        with (tmp_path / "src/api/health.py").open("a") as health:
            health.write(RELOADED_ROUTE)

        wait_for(f"http://127.0.0.1:{port}/health/reloaded", server, log)

        assert "detected changes in 'src/api/health.py'. Reloading..." in log.read_text()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)  # the reloader and the server it started
            server.wait()

"""Operator commands on real processes: `featwright serve --workers 2` says where it listens,
writes JSON lines and serves metrics added up over its workers; `featwright db seed`."""

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.api.test_observability import METRICS_TOKEN, sample
from tests.live_server import (
    featwright_env,
    featwright_script,
    require_postgres,
    running_server,
    scratch_database,
    sign_up,
    upgrade,
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new database of each kind at head; the PostgreSQL URL carries a password (the
    server trusts local connections, so it is never checked) that must never be shown."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
        upgrade(featwright_env(url), tmp_path)
        yield url
        return
    require_postgres(request.config)
    async with scratch_database("ops") as url:
        with_password = make_url(url).set(password="hunter2-not-shown")
        url = with_password.render_as_string(hide_password=False)
        upgrade(featwright_env(url), tmp_path)
        yield url


async def test_two_workers_log_json_lines_and_add_up_their_metrics(
    migrated: str, tmp_path: Path
) -> None:
    env = featwright_env(migrated, log_format="json", metrics_token=METRICS_TOKEN)
    reads = 40
    with running_server(tmp_path, env, "--workers", "2", "--access-log") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            headers = await sign_up(client)
            created = await client.post("/api/v1/projects", json={"name": "p"}, headers=headers)
        url = f"/api/v1/projects/{created.json()['id']}"
        for number in range(reads):  # a new connection each: either worker answers
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                tagged = {**headers, "X-Request-ID": f"read-{number}"}
                assert (await client.get(url, headers=tagged)).status_code == 200
        await asyncio.sleep(2.5)  # the pool gauges are sampled every 2 s
        scrapes: dict[str, str] = {}
        for number in range(40):  # until both workers have answered a scrape
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as scraper:
                scrape = {"Authorization": f"Bearer {METRICS_TOKEN}", "X-Request-ID": f"m-{number}"}
                answer = await scraper.get("/metrics", headers=scrape)
            assert answer.status_code == 200
            scrapes[f"m-{number}"] = answer.text
            if len(_processes(server.log_text(), "/metrics")) == 2:
                break
        log = server.log_text()

    assert len(_processes(log, "/metrics")) == 2, "one worker answered every scrape"
    assert len(_processes(log, "/api/v1/projects/{id}")) == 2, "one worker answered every read"
    route = {"route": "/api/v1/projects/{id}", "method": "GET", "status": "200"}
    counts = {
        sample(text, "featwright_http_request_duration_seconds_count", **route)
        for text in scrapes.values()
    }
    assert counts == {reads}  # whichever worker answers, the sum of both
    assert all(sample(text, "featwright_db_pool_size") >= 1 for text in scrapes.values())

    port = server.url.rsplit(":", 1)[1]
    assert f"docs at http://127.0.0.1:{port}/docs" in log
    assert "2 workers" in log
    assert "hunter2-not-shown" not in log
    if migrated.startswith("postgresql"):
        assert "postgresql+asyncpg://postgres:***@127.0.0.1" in log

    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    read_lines = [line for line in requests if line["route"] == "/api/v1/projects/{id}"]
    assert sorted(line["request_id"] for line in read_lines) == sorted(
        f"read-{number}" for number in range(reads)
    )
    assert {(line["status"], line["method"]) for line in read_lines} == {(200, "GET")}
    assert all(re.fullmatch(r"[0-9a-f-]{36}", str(line["user_id"])) for line in read_lines)
    assert not [line for line in lines if line.get("level") in ("error", "critical")], lines


def _processes(log: str, route: str) -> set[int]:
    """The worker processes that logged a request to `route`."""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return {
        line["process"]
        for line in lines
        if line.get("event") == "request" and line["route"] == route
    }


def seed(url: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [featwright_script(), "db", "seed", *options],
        cwd=cwd,
        env=featwright_env(url),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


async def test_db_seed_fills_an_owners_list_in_bulk(migrated: str, tmp_path: Path) -> None:
    first = seed(migrated, tmp_path, "--rows", "25000", "--owner", "seed@example.com")
    assert first.returncode == 0, first.stderr
    password = re.search(r"Created user seed@example.com with password (\S+)", first.stderr)
    assert password is not None, first.stderr
    again = seed(migrated, tmp_path, "--rows", "10", "--owner", "seed@example.com")
    assert again.returncode == 0, again.stderr
    assert "Created user" not in again.stderr
    refused = seed(migrated, tmp_path, "--rows", "10", "--owner", "not-an-email")
    assert refused.returncode == 2
    assert "--owner" in refused.stderr

    with running_server(tmp_path, featwright_env(migrated)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            form = {"username": "seed@example.com", "password": password[1]}
            token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            exact = {**headers, "Prefer": "count=exact"}
            page = (await client.get("/api/v1/projects?limit=3", headers=exact)).json()
            last = (await client.get("/api/v1/projects?page=8337&limit=3", headers=exact)).json()
    assert (page["total"], page["total_exact"]) == (25010, True)
    assert [item["name"] for item in page["items"]] == ["project-1", "project-2", "project-3"]
    assert [item["name"] for item in last["items"]] == ["project-9", "project-10"]


def test_db_seed_on_a_database_not_migrated_says_so_and_writes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    refused = seed(url, tmp_path, "--rows", "5")
    assert refused.returncode == 1
    assert "no such table: users (is the database at head? featwright db upgrade)" in " ".join(
        refused.stderr.split()
    )
    assert "Traceback" not in refused.stderr

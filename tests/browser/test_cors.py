"""A page on another origin, in Chromium, uses the API as CORS_ORIGINS allows: it reads an
ETag and makes a conditional PUT; a page on an origin not listed cannot read anything."""

import functools
import http.server
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from tests.live_server import featwright_env, free_port, running_server, upgrade

# Runs in the page: read the project and its ETag, update it with If-Match, then try again
# with the stale ETag.
CONDITIONAL_PUT = """
async ([api, token, id]) => {
  const auth = {Authorization: `Bearer ${token}`};
  const read = await fetch(`${api}/api/v1/projects/${id}`, {headers: auth});
  const etag = read.headers.get("ETag");
  const put = (tag) => fetch(`${api}/api/v1/projects/${id}`, {
    method: "PUT",
    headers: {...auth, "Content-Type": "application/json", "If-Match": tag},
    body: JSON.stringify({name: "renamed in the browser"}),
  });
  const updated = await put(etag);
  const stale = await put(etag);
  return {
    read: read.status, etag, updated: updated.status, newEtag: updated.headers.get("ETag"),
    name: (await updated.json()).name, stale: stale.status,
    requestId: stale.headers.get("X-Request-ID"),
  };
}
"""
READ = """
async ([api, token, id]) => {
  try {
    const read = await fetch(`${api}/api/v1/projects/${id}`,
                             {headers: {Authorization: `Bearer ${token}`}});
    return {status: read.status};
  } catch (error) {
    return {error: String(error)};
  }
}
"""


@pytest.fixture
def page_origin(tmp_path: Path) -> Iterator[int]:
    """A static page server on a port of its own: another origin than the API's."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>front end</title><p>app</p>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(5)


async def test_a_page_on_an_allowed_origin_makes_a_conditional_put(
    browser: Browser, page_origin: int, tmp_path: Path
) -> None:
    allowed = f"http://127.0.0.1:{page_origin}"
    env = featwright_env(f"sqlite+aiosqlite:///{tmp_path / 'cors.db'}", cors_origins=allowed)
    upgrade(env, tmp_path)
    with running_server(tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            login = {"email": "cors@example.com", "password": secrets.token_urlsafe(16)}
            registered = await client.post("/api/v1/auth/register", json=login)
            assert registered.status_code in (201, 202), registered.text
            form = {"username": login["email"], "password": login["password"]}
            token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
            project = await client.post(
                "/api/v1/projects",
                json={"name": "p"},
                headers={"Authorization": f"Bearer {token}"},
            )
        arguments = [server.url, token, project.json()["id"]]
        context = await browser.new_context()
        try:
            page = await context.new_page()
            await page.goto(f"{allowed}/index.html")
            result: dict[str, Any] = await page.evaluate(CONDITIONAL_PUT, arguments)
            # Same port, other host name: another origin, not listed.
            await page.goto(f"http://localhost:{page_origin}/index.html")
            refused: dict[str, Any] = await page.evaluate(READ, arguments)
        finally:
            await context.close()

    assert result == {
        "read": 200,
        "etag": '"1"',
        "updated": 200,
        "newEtag": '"2"',
        "name": "renamed in the browser",
        "stale": 412,
        "requestId": result["requestId"],
    }
    assert result["requestId"]
    assert "Failed to fetch" in refused.get("error", ""), refused

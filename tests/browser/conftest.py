"""A live `featwright serve` process and headless Chromium, for the browser tests.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright; nothing
is downloaded. Without it these tests are skipped, unless
FEATWRIGHT_REQUIRE_BROWSER=1 (CI) makes that an error.

Every page gets a fresh browser context whose requests to any other origin than
the live server are recorded and aborted, so the tests behave the same with or
without internet access.
"""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Route,
    async_playwright,
    expect,
)

from tests.live_server import featwright_env, running_server, upgrade

TIMEOUT_MS = 15_000
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM = "Chromium not installed (apt-get install chromium); browser tests skipped"


@pytest.fixture(scope="session", autouse=True)
def chromium_executable() -> str:
    """Autouse, so a missing Chromium skips before the live server is started."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("FEATWRIGHT_REQUIRE_BROWSER") == "1":
            pytest.fail(MISSING_CHROMIUM + " (FEATWRIGHT_REQUIRE_BROWSER=1)")
        pytest.skip(MISSING_CHROMIUM)
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`featwright serve` on a free port with its own migrated SQLite file; yields its URL."""
    workdir = tmp_path_factory.mktemp("live-server")
    env = featwright_env(f"sqlite+aiosqlite:///{workdir / 'browser.db'}")
    upgrade(env, workdir)
    with running_server(workdir, env) as server:
        yield server.url


@pytest.fixture(scope="session")
async def browser(chromium_executable: str) -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class PageLog:
    """What a page asked for and what went wrong in it."""

    origin: str
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    blocked_by_csp: list[str] = field(default_factory=list)

    def is_local(self, url: str) -> bool:
        scheme = urlsplit(url).scheme
        if scheme in ("data", "about"):
            return True
        if scheme == "blob":
            return _origin(url.removeprefix("blob:")) == self.origin
        return _origin(url) == self.origin

    @property
    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not self.is_local(url)]


@dataclass
class BrowserPage:
    page: Page
    log: PageLog


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
async def browser_page(
    browser: Browser, live_server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BrowserPage]:
    """A page in a fresh context; a failing test leaves a screenshot in its tmp_path."""
    log = PageLog(origin=_origin(live_server))
    context = await browser.new_context(base_url=live_server)
    context.set_default_timeout(TIMEOUT_MS)

    async def abort_foreign(route: Route) -> None:
        await route.abort("internetdisconnected")

    await context.route(lambda url: not log.is_local(url), abort_foreign)
    page = await context.new_page()

    def on_request(req: Request) -> None:
        log.requests.append(req.url)

    page.on("request", on_request)

    def on_request_failed(req: Request) -> None:
        if req.failure == "csp":
            log.blocked_by_csp.append(req.url)

    page.on("requestfailed", on_request_failed)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            log.console_errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    try:
        yield BrowserPage(page, log)
    finally:
        if request.node.stash.get(_CALL_FAILED, False):
            shot = tmp_path / "failure.png"
            await page.screenshot(path=shot, full_page=True)
            print(f"screenshot of the failed page: {shot}")
        await context.close()

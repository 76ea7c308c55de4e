"""The interactive docs work in a real browser, with no request leaving the server, no
inline script but the pages' own (a CSP nonce, fresh per answer), no framing by another
site, and no token kept in the browser's storage."""

import re
import secrets
import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import BrowserPage

# Redoc's sidebar footer image, hard-coded in the bundle fastapi_offline ships.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
DOCS_PAGES = ["/docs", "/redoc", "/docs/oauth2-redirect"]
# Runs before the page's own scripts (Playwright's init scripts are not subject to its CSP).
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
});
"""

pytestmark = pytest.mark.browser


async def record_csp_violations(page: Page) -> None:
    await page.add_init_script(RECORD_CSP_VIOLATIONS)


async def csp_violations(page: Page) -> list[str]:
    violations: list[str] = await page.evaluate("() => window.cspViolations")
    return violations


def directives(policy: str) -> dict[str, list[str]]:
    parsed = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parsed}


async def test_the_docs_pages_allow_only_their_own_scripts_by_a_fresh_nonce(
    live_server: str,
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        for path in DOCS_PAGES:
            loads = [await client.get(path) for _ in range(2)]
            nonces = []
            for page in loads:
                assert page.status_code == 200, page.text
                policy = directives(page.headers["content-security-policy"])
                scripts = policy["script-src"]
                assert "'unsafe-inline'" not in scripts, f"{path}: {scripts}"
                assert "'unsafe-eval'" not in scripts, f"{path}: {scripts}"
                (nonce,) = (s[len("'nonce-") : -1] for s in scripts if s.startswith("'nonce-"))
                assert len(nonce) >= 22, f"{path}: a nonce of {nonce!r} is guessable"
                assert policy["frame-ancestors"] == ["'none'"], path
                assert page.headers["x-frame-options"] == "DENY"
                assert page.headers["x-content-type-options"] == "nosniff"
                inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page.text)
                assert all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
                nonces.append(nonce)
            assert nonces[0] != nonces[1], f"{path}: the same nonce twice"


async def test_swagger_ui_renders_offline(browser_page: BrowserPage) -> None:
    page, log = browser_page.page, browser_page.log
    await record_csp_violations(page)
    await page.goto("/docs")

    await expect(page.locator("#swagger-ui .info .title")).to_contain_text("featwright")
    for tag in ("auth", "users", "projects", "tasks"):
        await expect(page.locator(f"#operations-tag-{tag}")).to_be_visible()
    for path in (
        "/api/v1/projects",
        "/api/v1/projects/{id}",
        "/api/v1/tasks",
        "/api/v1/tasks/{id}",
    ):
        operations = page.locator(".opblock-summary-path", has_text=path)
        await expect(operations.first).to_be_visible()
    await expect(page.locator("#operations-projects-get_project")).to_contain_text(
        "/api/v1/projects/{id}"
    )
    await expect(page.locator("#operations-tasks-create_task")).to_contain_text("/api/v1/tasks")

    await page.wait_for_load_state("networkidle")
    assert f"{log.origin}/openapi.json" in log.requests
    assert log.foreign_requests == [], f"/docs fetched from elsewhere: {log.foreign_requests}"
    assert log.page_errors == []
    assert log.console_errors == []
    assert await csp_violations(page) == []


async def test_swagger_ui_authorize_then_read_me(
    browser_page: BrowserPage, live_server: str
) -> None:
    page, log = browser_page.page, browser_page.log
    email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    password = secrets.token_urlsafe(16)
    async with httpx.AsyncClient(base_url=live_server) as client:
        registered = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": password}
        )
    assert registered.status_code in (201, 202), registered.text

    await page.goto("/docs")
    await page.locator(".auth-wrapper").get_by_role("button", name="Authorize", exact=True).click()
    dialog = page.locator(".dialog-ux")
    await expect(dialog.get_by_role("heading", name="Available authorizations")).to_be_visible()
    await dialog.get_by_label("username:", exact=True).fill(email)
    await dialog.get_by_label("password:", exact=True).fill(password)
    async with page.expect_response("**/api/v1/auth/token") as token_response:
        await dialog.get_by_role("button", name="Apply given OAuth2 credentials").click()
    token = await token_response.value
    assert token.status == 200, await token.text()
    access_token = (await token.json())["access_token"]
    await expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    await expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    await dialog.get_by_role("button", name="Close", exact=True).click()
    await expect(dialog).to_have_count(0)

    operation = page.locator("#operations-users-read_me")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    async with page.expect_response("**/api/v1/users/me") as me_response:
        await operation.get_by_role("button", name="Execute").click()
    me = await me_response.value
    assert me.status == 200, await me.text()
    assert (await me.request.all_headers()).get("authorization", "").startswith("Bearer ")

    live = operation.locator(".live-responses-table .response")
    await expect(live.locator(".response-col_status")).to_have_text("200")
    await expect(live.locator(".response-col_description")).to_contain_text(f'"{email}"')
    assert log.foreign_requests == [], f"/docs fetched from elsewhere: {log.foreign_requests}"
    assert log.page_errors == []
    assert log.console_errors == []
    # Authorized, yet nothing a script (or the next user of the browser) could read back.
    stored = await page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert access_token not in stored
    assert "authorized" not in stored, stored


async def open_redoc(browser_page: BrowserPage) -> None:
    page = browser_page.page
    await record_csp_violations(page)
    await page.goto("/redoc")

    await expect(page.get_by_role("heading", name="featwright (0.1.0)", level=1)).to_be_visible()
    for tag in ("auth", "users", "projects", "tasks"):
        await expect(page.get_by_role("menuitem", name=tag, exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Create Project", level=2)).to_be_visible()
    await expect(page.get_by_role("heading", name="List Tasks", level=2)).to_be_visible()
    await page.wait_for_load_state("networkidle")


async def test_redoc_renders_offline(browser_page: BrowserPage) -> None:
    await open_redoc(browser_page)
    log = browser_page.log
    assert f"{log.origin}/openapi.json" in log.requests
    assert log.page_errors == []
    # The one thing its CSP stops is the CDN image (below): no script, style or worker.
    assert await csp_violations(browser_page.page) == [f"img-src {REDOC_LOGO}"]


async def test_redoc_sends_nothing_elsewhere(browser_page: BrowserPage) -> None:
    """Redoc's bundle hard-codes a CDN footer image; the page's CSP stops it in the browser."""
    await open_redoc(browser_page)
    log = browser_page.log
    assert log.foreign_requests == [REDOC_LOGO]
    assert log.blocked_by_csp == [REDOC_LOGO], "the CDN image must be stopped by our CSP"

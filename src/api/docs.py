"""Swagger UI and ReDoc served entirely from this server: no CDN, works offline.

The assets come from the `fastapi_offline` package. Its ReDoc bundle still
hard-codes one footer image on a CDN, so the pages carry a Content-Security-Policy
that allows nothing but this origin. The inline bootstrap FastAPI writes runs by a
nonce, fresh for every answer, never by 'unsafe-inline': a script injected into the
page does not run. No other site may frame the pages (`frame-ancestors 'none'`), and
Swagger UI keeps the token it gets in memory only (no `persistAuthorization`).
"""

import secrets
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
INLINE_SCRIPT = "<script>"


def content_security_policy(nonce: str) -> str:
    """This origin only; inline scripts only with `nonce`; no framing by anyone."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "worker-src 'self' blob:",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


class _Page:
    """A docs page rendered once; each answer gets a fresh nonce on its inline scripts
    and in its CSP."""

    def __init__(self, page: HTMLResponse) -> None:
        self.parts = bytes(page.body).decode().split(INLINE_SCRIPT)

    def answer(self) -> HTMLResponse:
        nonce = secrets.token_urlsafe(18)
        html = f'<script nonce="{nonce}">'.join(self.parts)
        headers = {"Content-Security-Policy": content_security_policy(nonce)}
        return HTMLResponse(html, headers={**headers, "X-Frame-Options": "DENY"})


def install_docs(app: FastAPI) -> None:
    """Serve /docs (with the OAuth2 redirect page) and /redoc; call on an app created
    with `docs_url=None, redoc_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    swagger_page = _Page(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
    )
    redirect_page = _Page(get_swagger_ui_oauth2_redirect_html())
    redoc_page = _Page(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return swagger_page.answer()

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return redirect_page.answer()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return redoc_page.answer()

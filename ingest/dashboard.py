"""GET /: the operators' dashboard, a static page that calls the /v1 API with the key it is given.

The page and its script are plain files (no build step); the key stays in the browser's
localStorage and is sent as a bearer token, so the page itself needs no auth of its own.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
_SECURITY_HEADERS = {
    # Only our own script and the /v1 API: a stored key cannot be sent anywhere else.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "dashboard.html", headers=_SECURITY_HEADERS)


def add_dashboard(app: web.Application) -> None:
    app.router.add_get("/", index, name="dashboard")
    app.router.add_static("/static/", STATIC, name="static")

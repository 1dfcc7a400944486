"""The browser side: ``/static/…`` (graphwire.js, the browser client, and the page's assets) and
``/ws/test``, a chat page built on it that shows each run's steps, sources and streamed answer.

Everything is served from the package (``api/static``); the page loads nothing from elsewhere.

Example:
    >>> app = FastAPI()
    >>> mount_test_page(app)
    >>> sorted(r.path for r in app.routes if r.path.startswith(("/ws/test", "/static")))
    ['/static', '/ws/test']
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "mount_test_page"]

STATIC_DIR = Path(__file__).parent.parent / "static"

# The page talks only to its own server, and no other site may frame it.
_PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


async def test_page() -> FileResponse:
    """``GET /ws/test``: the test page."""
    return FileResponse(STATIC_DIR / "test.html", media_type="text/html", headers=_PAGE_HEADERS)


def mount_test_page(app: FastAPI) -> None:
    """Serve ``/static`` from the package and the page at ``/ws/test`` (beside ``/ws/chat``)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_api_route("/ws/test", test_page, methods=["GET"], include_in_schema=False)

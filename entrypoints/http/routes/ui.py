"""``/ui``: the memory inspector, a static page that calls the JSON API with the bearer
token the user pastes (docs/inspector.md). It needs no token and holds no user data: the
page and its assets are the same bytes for everyone, so ``/ui`` stays public."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

UI_DIR = Path(__file__).resolve().parents[1] / "ui"
MEDIA_TYPES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
}
# Read once: a handful of small files that only change with a release.
ASSETS = {name: (UI_DIR / name).read_bytes() for name in MEDIA_TYPES}
HEADERS = {
    # Only this origin's scripts, styles and API: no inline script, no third party.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> Response[bytes]:
    return Response(ASSETS[name], media_type=MEDIA_TYPES[name], headers=HEADERS)


@get("/ui", include_in_schema=False)
async def ui_page() -> Response[bytes]:
    """The inspector's page."""
    return _asset("index.html")


@get("/ui/{name:str}", include_in_schema=False)
async def ui_asset(name: FromPath[str]) -> Response[bytes]:
    """One of the page's own files; any other name is a 404."""
    if name not in ASSETS or name == "index.html":
        raise NotFoundException(f"no such file: {name}")
    return _asset(name)

"""Serving the portal: the built single-page app, with every unknown page answered by index.html."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "portal" / "dist"
_MISSING = """<!doctype html><title>feather</title><h1>feather</h1>
<p>The portal has not been built. Run <code>make portal</code> (or <code>cd portal && npm ci && npm run build</code>);
the API is at <a href="/v1/models">/v1/models</a>.</p>"""


# The portal loads nothing from elsewhere; images and sounds may be data:, blob: (previews of
# files being chosen) or an example's https link. No page of it may be framed by another site
# (clickjacking the tokens or delete pages), and no address of it leaks to the sites it links to.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob: https:; media-src 'self' data: blob: https:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def page_headers(secure: bool) -> dict[str, str]:
    headers = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
               "X-Content-Type-Options": "nosniff"}
    if secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def mount_portal(app: FastAPI, dist: Path = DEFAULT_DIST, *, secure: Callable[[Request], bool] = lambda r: False) -> None:
    """``secure`` says whether a request reached the platform over TLS (then HSTS is sent)."""
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str, request: Request):
        if path.startswith(("v1/", "healthz")):
            raise HTTPException(404, detail="not found")
        headers = page_headers(secure(request))
        index = root / "index.html"
        if not index.exists():
            return HTMLResponse(_MISSING, headers=headers)
        wanted = (root / path).resolve()
        if path and root in wanted.parents and wanted.is_file():
            # hashed asset names never change content, so browsers may keep them for good
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(wanted, headers={"Cache-Control": cache, **headers})
        return FileResponse(index, headers={"Cache-Control": "no-cache", **headers})

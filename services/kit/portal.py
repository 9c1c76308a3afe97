"""Serving the portal: the built single-page app, with every unknown page answered by index.html."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

DEFAULT_DIST = Path(__file__).resolve().parents[2] / "portal" / "dist"
_MISSING = """<!doctype html><title>feather</title><h1>feather</h1>
<p>The portal has not been built. Run <code>make portal</code> (or <code>cd portal && npm ci && npm run build</code>);
the API is at <a href="/v1/models">/v1/models</a>.</p>"""


def mount_portal(app: FastAPI, dist: Path = DEFAULT_DIST) -> None:
    root = dist.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str):
        if path.startswith(("v1/", "healthz")):
            raise HTTPException(404, detail="not found")
        index = root / "index.html"
        if not index.exists():
            return HTMLResponse(_MISSING)
        wanted = (root / path).resolve()
        if path and root in wanted.parents and wanted.is_file():
            # hashed asset names never change content, so browsers may keep them for good
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(wanted, headers={"Cache-Control": cache})
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

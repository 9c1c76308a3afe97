"""Routes only other services may call: each request shows a token its caller signed for this
service (``services.kit.identity``), and the user it acts for is the token's, never a header a
caller could set. The probes' and scrapers' routes stay open, and the operators' (``/admin``)
keep the admin token."""
from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.identity import Identity, Untrusted

OPEN = ("/healthz", "/metrics")


class ServiceCallsOnly:
    def __init__(self, app: ASGIApp, identity: Callable[[], Identity], callers: frozenset[str]) -> None:
        self.app = app
        self.identity = identity  # once the service has started
        self.callers = callers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN or path == "/admin" or path.startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Untrusted(f"calls to {self.identity().service} need a service token")
            caller = self.identity().caller(token.strip(), self.callers)
        except Untrusted as exc:
            body = json.dumps({"detail": str(exc)}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="feather services"')]})
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

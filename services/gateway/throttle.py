"""Rate limits on every API route: per client address, per user, per token, and stricter ones for
run creations and for callers without an account. Every answer says where its caller stands
(``RateLimit-Policy``, ``RateLimit``); a refused one is 429 with ``Retry-After``.

The counts live in the gateway's store (see ratelimit.py), so replicas share them. Routes that
count something of their own (login attempts per account) add their decisions to the request's
``rate_decisions``, and this middleware answers them all.
"""
from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.auth import SESSION_COOKIE, credential_of
from services.gateway.bootstrap import gateway_of
from services.gateway.ratelimit import Decision, Policy, answer_headers
from services.kit.settings import Settings

RUN_CREATION = re.compile(r"^/v1/models/[^/]+/[^/]+/runs$")


def client_address(scope: Scope, hops: int) -> str:
    """The caller's address: the peer, or with ``hops`` trusted proxies in front, the address the
    outermost of them saw (X-Forwarded-For is appended to by each proxy, so only its last
    ``hops`` entries can be believed)."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if hops <= 0:
        return peer
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
    chain = [a.strip() for a in ",".join(forwarded).split(",") if a.strip()]
    return chain[-hops] if len(chain) >= hops else (chain[0] if chain else peer)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    for part in (raw or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class Throttle:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        gw = gateway_of(scope["app"])
        ctx = gw.ctx
        settings: Settings = ctx.settings
        if not settings.rate_limits:
            await self.app(scope, receive, send)
            return
        known = gw.rate_policies
        address = client_address(scope, settings.forwarded_hops)
        credential = await credential_of(ctx, _header(scope, b"authorization"), _cookie(scope, SESSION_COOKIE))
        state = scope.setdefault("state", {})
        state["credential"] = credential  # the routes' own auth reads it instead of asking again
        checks: list[tuple[Policy, str]] = [(known["address"], f"addr:{address}")]
        creating = scope["method"] == "POST" and RUN_CREATION.match(scope["path"]) is not None
        if credential is not None and credential.user is not None:
            checks.append((known["user"], f"user:{credential.user}"))
            if credential.kind == "token":
                checks.append((known["token"], f"token:{credential.key}"))
            if creating:
                checks.append((known["runs"], f"user:{credential.user}"))
        else:
            checks.append((known["anonymous"], f"addr:{address}"))
            if creating:
                checks.append((known["anonymous-runs"], f"addr:{address}"))
        decisions: list[Decision] = state.setdefault("rate_decisions", [])
        decisions += await gw.limiter.check_all(checks)
        if not all(d.allowed for d in decisions):
            await _refuse(send, decisions)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in answer_headers(decisions).items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, decisions: list[Decision]) -> None:
    headers = answer_headers(decisions)
    denied = max((d for d in decisions if not d.allowed), key=lambda d: d.reset_s)
    body = json.dumps({"detail": f"rate limit {denied.policy.name!r} reached ({denied.policy.quota} a minute); "
                                 f"try again in {headers['Retry-After']}s"}).encode()
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *[(k.lower().encode(), v.encode()) for k, v in headers.items()]]})
    await send({"type": "http.response.body", "body": body})


async def count(request: Any, checks: list[tuple[str, str]]) -> None:
    """For a route that counts something of its own (login attempts per account): the checks
    join the request's decisions, whose headers the middleware adds, and any refusal is a 429."""
    from fastapi import HTTPException

    gw = gateway_of(request.app)
    if not gw.ctx.settings.rate_limits:
        return
    known = gw.rate_policies
    decisions = await gw.limiter.check_all([(known[name], subject) for name, subject in checks])
    request.scope.setdefault("state", {}).setdefault("rate_decisions", []).extend(decisions)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        wait = max(d.retry_after for d in refused)
        raise HTTPException(429, detail=f"too many attempts; try again in {wait}s")

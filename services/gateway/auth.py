"""Who is calling: an API token (``Authorization: Bearer``) or a browser session cookie.

Only hashes are stored: SHA-256 of tokens and session ids (they are long random strings),
argon2 of passwords. A request authenticated by its session cookie must also carry the
session's CSRF token in ``X-CSRF-Token`` when it changes anything.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timezone

from fastapi import Depends, Header, HTTPException, Request

from services.kit.runtime import ServiceContext, context
from services.kit.store import Conflict

SESSION_COOKIE = "feather_session"
CSRF_COOKIE = "feather_csrf"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def new_token() -> str:
    return "ft_" + secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


async def ensure_user(ctx: ServiceContext, username: str, token: str | None = None, *,
                      token_name: str = "default") -> None:
    """Create ``username`` (and register ``token`` for it) unless they already exist."""
    try:
        await ctx.store.save("users", username, {"username": username, "created_at": now_iso()},
                             expected_version=None)
    except Conflict:
        pass
    if token:
        await add_token(ctx, username, token_name, token)


async def add_token(ctx: ServiceContext, username: str, name: str, token: str | None = None) -> dict:
    token = token or new_token()
    doc = {"id": os.urandom(8).hex(), "username": username, "name": name, "created_at": now_iso()}
    try:
        await ctx.store.save("tokens", token_key(token), doc, expected_version=None)
    except Conflict:
        pass
    return {**doc, "token": token}


async def _from_session(request: Request, ctx: ServiceContext) -> str | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await ctx.store.get("sessions", token_key(session_id))
    if session is None or session.get("expires_at", "") < now_iso():
        if request.method in _SAFE_METHODS:
            return None  # reading public pages needs no session: an old cookie is just ignored
        raise HTTPException(401, detail="your session has expired; log in again")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not secrets.compare_digest(sent, session.get("csrf", "")):
            raise HTTPException(403, detail="missing or wrong X-CSRF-Token header")
    return session["username"]


async def optional_user(request: Request, authorization: str | None = Header(None),
                        ctx: ServiceContext = Depends(context)) -> str | None:
    if not authorization:
        return await _from_session(request, ctx)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, detail="Authorization must be 'Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    record = await ctx.store.get("tokens", token_key(token.strip()))
    if record is None or record.get("revoked"):
        raise HTTPException(401, detail="invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return record["username"]


async def required_user(user: str | None = Depends(optional_user)) -> str:
    if user is None:
        raise HTTPException(401, detail="this call needs an API token (Authorization: Bearer <token>) or a login",
                            headers={"WWW-Authenticate": "Bearer"})
    return user

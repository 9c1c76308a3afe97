"""Who is calling: an API token (``Authorization: Bearer``) or a browser session cookie.

Only hashes are stored: SHA-256 of tokens and session ids (they are long random strings),
argon2 of passwords. A request authenticated by its session cookie must also carry the
session's CSRF token in ``X-CSRF-Token`` when it changes anything.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, Header, HTTPException, Request

from services.gateway.access import same_secret
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


# What a token may do: read (GET), run (create and cancel runs, upload files), manage (publish,
# change and delete models, tokens). A token made without scopes may do all three.
SCOPES = ("read", "run", "manage")


def scope_needed(method: str, path: str) -> str:
    if path.startswith("/v1/webhooks/"):
        return "manage"  # the signing secret: whoever holds it can forge the account's webhooks
    if method in _SAFE_METHODS:
        return "read"
    if path == "/v1/files" or path.endswith(("/runs", "/cancel")):
        return "run"
    return "manage"


async def add_token(ctx: ServiceContext, username: str, name: str, token: str | None = None, *,
                    scopes: list[str] | None = None, expires_at: str | None = None) -> dict:
    token = token or new_token()
    doc = {"id": os.urandom(8).hex(), "username": username, "name": name, "created_at": now_iso(),
           "scopes": list(scopes or SCOPES), "expires_at": expires_at}
    try:
        await ctx.store.save("tokens", token_key(token), doc, expected_version=None)
    except Conflict:
        pass
    return {**doc, "token": token}


@dataclass(frozen=True)
class Credential:
    """What a request presented: a bearer token or a session cookie, and its stored record
    (None when it is unknown, revoked or expired)."""

    kind: str  # "token" or "session"
    key: str  # SHA-256 of the secret, as stored
    record: dict[str, Any] | None

    @property
    def user(self) -> str | None:
        return self.record["username"] if self.record else None


_LOOPBACK_HOSTS = {"localhost", "::1"}


def cookie_secure(request: Request, configured: bool | None) -> bool:
    """Whether cookies get the Secure flag. Behind a TLS proxy the gateway itself is reached over
    plain HTTP, so the request's scheme cannot say; unless configured, cookies are Secure except
    for a browser talking to this machine over loopback (``feather up``)."""
    if configured is not None:
        return configured
    host = urlsplit("//" + (request.headers.get("host") or "")).hostname or ""
    return request.url.scheme == "https" or not (host in _LOOPBACK_HOSTS or host.startswith("127."))


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def credential_of(ctx: ServiceContext, authorization: str | None, session_id: str | None) -> Credential | None:
    """Look up what a request presented, once: the rate limiter and the routes both need it."""
    if authorization:
        token = _bearer(authorization)
        if token is None:
            return Credential("token", "", None)
        record = await ctx.store.get("tokens", token_key(token))
        usable = record is not None and not record.get("revoked") and \
            (not record.get("expires_at") or record["expires_at"] > now_iso())
        return Credential("token", token_key(token), record if usable else None)
    if session_id:
        record = await ctx.store.get("sessions", token_key(session_id))
        usable = record is not None and record.get("expires_at", "") >= now_iso()
        return Credential("session", token_key(session_id), record if usable else None)
    return None


async def presented(request: Request, ctx: ServiceContext) -> Credential | None:
    """The request's credential, as the rate limiter already looked it up when it did."""
    if "credential" in request.scope.get("state", {}):
        return request.scope["state"]["credential"]
    return await credential_of(ctx, request.headers.get("authorization"), request.cookies.get(SESSION_COOKIE))


async def optional_user(request: Request, authorization: str | None = Header(None),
                        ctx: ServiceContext = Depends(context)) -> str | None:
    credential = await presented(request, ctx)
    if credential is None:
        return None
    if credential.kind == "token":
        if credential.record is None:
            raise HTTPException(401, detail="Authorization must be 'Bearer <token>' with a valid token; this one "
                                            "is unknown, revoked or expired", headers={"WWW-Authenticate": "Bearer"})
        needed = scope_needed(request.method, request.url.path)
        if needed not in credential.record.get("scopes", SCOPES):
            raise HTTPException(403, detail=f"this token may not {needed} (its scopes: "
                                            f"{', '.join(credential.record.get('scopes', SCOPES))})")
        await _note_use(ctx, credential)
        return credential.user
    if credential.record is None:
        if request.method in _SAFE_METHODS:
            return None  # reading public pages needs no session: an old cookie is just ignored
        raise HTTPException(401, detail="your session has expired; log in again")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not same_secret(sent, credential.record.get("csrf", "")):
            raise HTTPException(403, detail="missing or wrong X-CSRF-Token header")
    return credential.user


LAST_USED_EVERY_S = 300  # a token's last use is written at most this often: reads stay reads


async def _note_use(ctx: ServiceContext, credential: Credential) -> None:
    record = credential.record or {}
    last = record.get("last_used_at")
    now = datetime.now(timezone.utc)
    if last and (now - datetime.fromisoformat(last)).total_seconds() < LAST_USED_EVERY_S:
        return
    try:
        await ctx.store.save("tokens", credential.key, {**record, "last_used_at": now.isoformat()},
                             expected_version=record["_v"])
    except Conflict:
        pass  # another request noted it meanwhile


async def required_user(user: str | None = Depends(optional_user)) -> str:
    if user is None:
        raise HTTPException(401, detail="this call needs an API token (Authorization: Bearer <token>) or a login",
                            headers={"WWW-Authenticate": "Bearer"})
    return user

"""Sign up, log in and out (session cookies), and API tokens."""
from __future__ import annotations

import asyncio
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from services.gateway.auth import (CSRF_COOKIE, SCOPES, SESSION_COOKIE, add_token, cookie_secure, now_iso,
                                   presented, required_user, token_key)
from services.gateway.access import same_secret
from services.gateway.bootstrap import gateway_of
from services.gateway.domain import RequestError
from services.gateway.throttle import client_address, count
from services.kit.runtime import ServiceContext, context
from services.kit.store import Conflict, Query

router = APIRouter()
_hasher = PasswordHasher()
# checked when the username is unknown, so that a wrong name costs what a wrong password does
# and the time of an answer does not tell which names exist
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))
USERNAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
SESSION_DAYS = 14


class Credentials(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)  # argon2 takes any length; hashing a megabyte is no password


def _address(request: Request) -> str:
    return client_address(request.scope, gateway_of(request.app).ctx.settings.forwarded_hops)


async def _hashing(request: Request, fn, *args):
    """Run argon2 on a worker thread, a few at a time: it is slow and memory-hard on purpose,
    and on the event loop a burst of logins would stall every other request."""
    async with gateway_of(request.app).password_slots:
        return await asyncio.to_thread(fn, *args)


class TokenRequest(BaseModel):
    name: str = Field("default", max_length=200)
    scopes: list[Literal["read", "run", "manage"]] | None = Field(None, min_length=1)
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="unset: the token never expires")


def _field(name: str, msg: str) -> RequestError:
    return RequestError(422, [{"loc": ["body", name], "msg": msg, "type": "value_error"}])


async def _open_session(ctx: ServiceContext, request: Request, response: Response, username: str) -> dict:
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = datetime.now(timezone.utc) + timedelta(days=SESSION_DAYS)
    await ctx.store.save("sessions", token_key(session_id),
                         {"username": username, "csrf": csrf, "created_at": now_iso(),
                          "expires_at": expires.isoformat()}, expected_version=None)
    secure = cookie_secure(request, ctx.settings.cookie_secure)
    age = SESSION_DAYS * 86400
    response.set_cookie(SESSION_COOKIE, session_id, max_age=age, httponly=True, samesite="lax", secure=secure)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="lax", secure=secure)
    return {"username": username, "csrf_token": csrf}


@router.post("/v1/auth/signup", status_code=201)
async def signup(body: Credentials, request: Request, response: Response,
                 ctx: ServiceContext = Depends(context)) -> dict:
    if not USERNAME.fullmatch(body.username):
        raise _field("username", "3 to 32 lowercase letters, digits or '-', starting with a letter")
    if len(body.password) < 8:
        raise _field("password", "at least 8 characters")
    await count(request, [("login-address", f"addr:{_address(request)}")])
    hashed = await _hashing(request, _hasher.hash, body.password)
    try:
        await ctx.store.save("users", body.username, {"username": body.username, "created_at": now_iso(),
                                                      "password": hashed},
                             expected_version=None)
    except Conflict:
        raise _field("username", "this name is taken") from None
    return await _open_session(ctx, request, response, body.username)


@router.post("/v1/auth/login")
async def login(body: Credentials, request: Request, response: Response,
                ctx: ServiceContext = Depends(context)) -> dict:
    await count(request, [("login-account", f"user:{body.username}"),
                          ("login-address", f"addr:{_address(request)}")])
    user = await ctx.store.get("users", body.username)
    stored = user.get("password") if user else None
    try:
        ok = await _hashing(request, _hasher.verify, stored or _UNKNOWN_USER_HASH, body.password) and stored is not None
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    if not ok:
        raise HTTPException(401, detail="wrong username or password")
    return await _open_session(ctx, request, response, body.username)


@router.post("/v1/auth/logout", status_code=204)
async def logout(request: Request, ctx: ServiceContext = Depends(context)) -> Response:
    credential = await presented(request, ctx)
    if credential is not None and credential.kind == "session" and credential.record is not None:
        # another site's page could otherwise log a visitor out by posting here
        if not same_secret(request.headers.get("x-csrf-token", ""), credential.record.get("csrf", "")):
            raise HTTPException(403, detail="missing or wrong X-CSRF-Token header")
        await ctx.store.delete("sessions", credential.key)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/v1/tokens")
async def list_tokens(user: str = Depends(required_user), ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("tokens", Query(where={"username": user}, limit=200))
    items = [{"id": t.get("id"), "name": t.get("name"), "created_at": t.get("created_at"),
              "last_used_at": t.get("last_used_at"), "scopes": t.get("scopes", list(SCOPES)),
              "expires_at": t.get("expires_at")} for t in page.items if not t.get("revoked")]
    return {"items": sorted(items, key=lambda t: t["created_at"] or "")}


@router.post("/v1/tokens", status_code=201)
async def create_token(body: TokenRequest, user: str = Depends(required_user),
                       ctx: ServiceContext = Depends(context)) -> dict:
    name = body.name.strip()
    if not 1 <= len(name) <= 64:
        raise _field("name", "1 to 64 characters")
    expires = None if body.expires_in_days is None else \
        (datetime.now(timezone.utc) + timedelta(days=body.expires_in_days)).isoformat()
    created = await add_token(ctx, user, name, scopes=sorted(set(body.scopes)) if body.scopes else None,
                              expires_at=expires)
    return {k: created[k] for k in ("id", "name", "token", "created_at", "scopes", "expires_at")}


@router.delete("/v1/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, user: str = Depends(required_user),
                       ctx: ServiceContext = Depends(context)) -> Response:
    page = await ctx.store.find("tokens", Query(where={"username": user, "id": token_id}, limit=1))
    if not page.items or page.items[0].get("revoked"):
        raise HTTPException(404, detail="no such token")
    doc = page.items[0]
    await ctx.store.save("tokens", doc["_id"], {**doc, "revoked": True}, expected_version=doc["_v"])
    return Response(status_code=204)

"""Sign up, log in and out (session cookies), and API tokens."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel

from services.gateway.auth import (CSRF_COOKIE, SESSION_COOKIE, add_token, now_iso, required_user,
                                   token_key)
from services.gateway.domain import RequestError
from services.kit.runtime import ServiceContext, context
from services.kit.store import Conflict, Query

router = APIRouter()
_hasher = PasswordHasher()
USERNAME = re.compile(r"^[a-z][a-z0-9-]{2,31}$")
SESSION_DAYS = 14


class Credentials(BaseModel):
    username: str
    password: str


class TokenRequest(BaseModel):
    name: str = "default"


def _field(name: str, msg: str) -> RequestError:
    return RequestError(422, [{"loc": ["body", name], "msg": msg, "type": "value_error"}])


async def _open_session(ctx: ServiceContext, request: Request, response: Response, username: str) -> dict:
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = datetime.now(timezone.utc) + timedelta(days=SESSION_DAYS)
    await ctx.store.save("sessions", token_key(session_id),
                         {"username": username, "csrf": csrf, "created_at": now_iso(),
                          "expires_at": expires.isoformat()}, expected_version=None)
    secure = request.url.scheme == "https"
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
    try:
        await ctx.store.save("users", body.username, {"username": body.username, "created_at": now_iso(),
                                                      "password": _hasher.hash(body.password)},
                             expected_version=None)
    except Conflict:
        raise _field("username", "this name is taken") from None
    return await _open_session(ctx, request, response, body.username)


@router.post("/v1/auth/login")
async def login(body: Credentials, request: Request, response: Response,
                ctx: ServiceContext = Depends(context)) -> dict:
    user = await ctx.store.get("users", body.username)
    try:
        ok = bool(user and user.get("password") and _hasher.verify(user["password"], body.password))
    except (VerifyMismatchError, InvalidHashError):
        ok = False
    if not ok:
        raise HTTPException(401, detail="wrong username or password")
    return await _open_session(ctx, request, response, body.username)


@router.post("/v1/auth/logout", status_code=204)
async def logout(request: Request, ctx: ServiceContext = Depends(context)) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await ctx.store.delete("sessions", token_key(session_id))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/v1/tokens")
async def list_tokens(user: str = Depends(required_user), ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("tokens", Query(where={"username": user}, limit=200))
    items = [{"id": t.get("id"), "name": t.get("name"), "created_at": t.get("created_at"),
              "last_used_at": t.get("last_used_at")} for t in page.items if not t.get("revoked")]
    return {"items": sorted(items, key=lambda t: t["created_at"] or "")}


@router.post("/v1/tokens", status_code=201)
async def create_token(body: TokenRequest, user: str = Depends(required_user),
                       ctx: ServiceContext = Depends(context)) -> dict:
    name = body.name.strip()
    if not 1 <= len(name) <= 64:
        raise _field("name", "1 to 64 characters")
    created = await add_token(ctx, user, name)
    return {k: created[k] for k in ("id", "name", "token", "created_at")}


@router.delete("/v1/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, user: str = Depends(required_user),
                       ctx: ServiceContext = Depends(context)) -> Response:
    page = await ctx.store.find("tokens", Query(where={"username": user, "id": token_id}, limit=1))
    if not page.items or page.items[0].get("revoked"):
        raise HTTPException(404, detail="no such token")
    doc = page.items[0]
    await ctx.store.save("tokens", doc["_id"], {**doc, "revoked": True}, expected_version=doc["_v"])
    return Response(status_code=204)

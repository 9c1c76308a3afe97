"""API tokens. Only a token's SHA-256 is stored, so a leaked store leaks no usable token."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from fastapi import Depends, Header, HTTPException

from services.kit.runtime import ServiceContext, context
from services.kit.store import Conflict


def new_token() -> str:
    return "ft_" + secrets.token_urlsafe(32)


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure_user(ctx: ServiceContext, username: str, token: str | None = None, *, token_name: str = "default") -> None:
    """Create ``username`` (and register ``token`` for it) unless they already exist."""
    now = datetime.now(timezone.utc).isoformat()
    try:
        await ctx.store.save("users", username, {"username": username, "created_at": now}, expected_version=None)
    except Conflict:
        pass
    if token:
        try:
            await ctx.store.save("tokens", token_key(token),
                                 {"username": username, "name": token_name, "created_at": now},
                                 expected_version=None)
        except Conflict:
            pass


async def optional_user(authorization: str | None = Header(None),
                        ctx: ServiceContext = Depends(context)) -> str | None:
    if not authorization:
        return None
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
        raise HTTPException(401, detail="this call needs an API token: Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})
    return user

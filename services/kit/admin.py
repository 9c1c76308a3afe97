"""Operator routes every service has: its parked outbox records, listed and sent again.

Guarded by the platform's admin token (``FEATHER_ADMIN_TOKEN``), compared in constant time; a
service started without one answers 403 to every admin call.
"""
from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, Field

from services.kit.store import ParkedRecord

router = APIRouter(prefix="/admin", include_in_schema=False)


def _ctx(request: Request) -> Any:  # a ServiceContext; runtime imports this module
    return request.app.state.service.ctx


async def require_admin(request: Request, authorization: str | None = Header(None)) -> None:
    expected = _ctx(request).settings.admin_token
    scheme, _, token = (authorization or "").partition(" ")
    if not expected:
        raise HTTPException(403, detail="this platform has no admin token (FEATHER_ADMIN_TOKEN)")
    if not authorization:
        raise HTTPException(401, detail="admin calls need the platform's admin token",
                            headers={"WWW-Authenticate": "Bearer"})
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise HTTPException(403, detail="admin calls need the platform's admin token")


Seq = Annotated[int, Field(ge=1, le=2**63 - 1)]  # what a store's sequence can hold


class Replay(BaseModel):
    seqs: list[Seq] = Field(default_factory=list, max_length=10_000)
    all: bool = False


def parked_view(service: str, parked: ParkedRecord) -> dict[str, Any]:
    rec = parked.record
    return {"service": service, "seq": rec.seq, "topic": rec.topic, "key": rec.key, "bytes": len(rec.body),
            "type": rec.headers.get("ce_type"), "event_id": rec.headers.get("ce_id"),
            "reason": parked.reason, "parked_at": parked.parked_at}


@router.get("/outbox", dependencies=[Depends(require_admin)])
async def list_parked(request: Request, limit: int = 100) -> dict[str, Any]:
    ctx = _ctx(request)
    parked = await ctx.store.outbox_parked(max(1, min(limit, 1000)))
    return {"items": [parked_view(ctx.name, p) for p in parked]}


@router.post("/outbox/replay", dependencies=[Depends(require_admin)])
async def replay_parked(body: Replay, request: Request) -> dict[str, Any]:
    return await replay(_ctx(request), body.seqs, every=body.all)


async def replay(ctx: Any, seqs: list[int], *, every: bool) -> dict[str, Any]:
    """Put a service's parked records (``seqs``, or ``every`` one) back in its outbox, and wake
    its relay to send them."""
    if every:
        seqs = [p.record.seq for p in await ctx.store.outbox_parked(10_000) if p.record.seq is not None]
    moved = await ctx.store.outbox_replay(seqs)
    ctx.relay.nudge()
    return {"service": ctx.name, "replayed": moved}

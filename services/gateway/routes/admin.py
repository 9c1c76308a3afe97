"""Operators' view of what did not flow: every service's parked outbox records, and dead letters.

The platform's admin token only (``FEATHER_ADMIN_TOKEN``); the gateway asks each service for its
own parked records, and reads and re-drives the dead-letter topics itself.
"""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query as Q
from pydantic import BaseModel, Field

from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.routes.models import unavailable
from services.kit.admin import Seq, parked_view, replay, require_admin
from services.kit.dead_letters import read_dead_letters
from services.kit.runtime import ServiceContext, context

router = APIRouter(prefix="/v1/admin", dependencies=[Depends(require_admin)], tags=["admin"])
Service = Literal["gateway", "registry", "builder", "executor", "telemetry"]
SERVICES: tuple[Service, ...] = ("gateway", "registry", "builder", "executor", "telemetry")


def _url(ctx: ServiceContext, service: str) -> str:
    return getattr(ctx.settings, f"{service}_url")


async def _call(gw: GatewayService, service: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    settings = gw.ctx.settings
    try:
        answer = await gw.http.request(method, f"{_url(gw.ctx, service)}{path}", timeout=15,
                                       headers={"Authorization": f"Bearer {settings.admin_token}"}, **kwargs)
        answer.raise_for_status()
        return answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise unavailable(f"the {service} service", exc) from None


class OutboxPage(BaseModel):
    items: list[dict[str, Any]]
    unreachable: list[str] = Field(default_factory=list)


@router.get("/outbox", response_model=OutboxPage)
async def parked(service: Service | None = None, limit: int = Q(100, ge=1, le=1000),
                 gw: GatewayService = Depends(gateway)) -> OutboxPage:
    """Parked outbox records of one service, or of all of them."""
    ctx = gw.ctx
    async def one(name: str) -> list[dict[str, Any]]:
        if name == "gateway":
            return [parked_view("gateway", p) for p in await ctx.store.outbox_parked(limit)]
        return (await _call(gw, name, "GET", "/admin/outbox", params={"limit": limit}))["items"]

    names = [service] if service else list(SERVICES)
    results = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
    items, unreachable = [], []
    for name, result in zip(names, results):
        if isinstance(result, BaseException):
            if service:
                raise result
            unreachable.append(name)
        else:
            items += result
    return OutboxPage(items=items, unreachable=unreachable)


class OutboxReplay(BaseModel):
    service: Service
    seqs: list[Seq] = Field(default_factory=list, max_length=10_000)
    all: bool = False


@router.post("/outbox/replay")
async def replay_parked(body: OutboxReplay, gw: GatewayService = Depends(gateway)) -> dict[str, Any]:
    ctx = gw.ctx
    if not body.all and not body.seqs:
        raise HTTPException(422, detail=[{"loc": ["body", "seqs"], "msg": "name the records, or send all: true",
                                          "type": "value_error"}])
    if body.service == "gateway":
        return await replay(ctx, body.seqs, every=body.all)
    return await _call(gw, body.service, "POST", "/admin/outbox/replay",
                       json={"seqs": body.seqs, "all": body.all})


@router.get("/dlq")
async def dead_letters(limit: int = Q(100, ge=1, le=1000), ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """Messages a consumer gave up on, with the error and where each came from."""
    items = []
    for letter in await _read(ctx, limit):
        mark = await ctx.store.get("dlq_replayed", letter.id)
        items.append({"id": letter.id, "origin": letter.origin, "group": letter.headers.get("dlq_group"),
                      "error": letter.headers.get("dlq_error"), "type": letter.headers.get("ce_type"),
                      "event_id": letter.headers.get("ce_id"), "bytes": len(letter.body),
                      "replayed_at": mark.get("replayed_at") if mark else None})
    return {"items": items}


class DeadLetterReplay(BaseModel):
    ids: list[str] = Field(default_factory=list, max_length=10_000)
    all: bool = False  # every letter not replayed before


@router.post("/dlq/replay")
async def replay_dead_letters(body: DeadLetterReplay, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """Send dead letters back to their topic. Every consumer group reads them again; the groups
    that had handled them ignore them by event id, so only the one that failed acts."""
    if not body.all and not body.ids:
        raise HTTPException(422, detail=[{"loc": ["body", "ids"], "msg": "name the letters, or send all: true",
                                          "type": "value_error"}])
    wanted = set(body.ids)
    sent = 0
    for letter in await _read(ctx, 10_000):
        if body.all and await ctx.store.get("dlq_replayed", letter.id) is not None:
            continue
        if body.all or letter.id in wanted:
            await ctx.bus.publish_raw(letter.origin, (letter.key or b"").decode(errors="replace"),
                                      letter.original_headers(), letter.body)
            await ctx.store.apply("dlq_replayed", letter.id,
                                  {"replayed_at": datetime.now(timezone.utc).isoformat()},
                                  event_id=str(uuid.uuid4()))
            sent += 1
    return {"replayed": sent}


async def _read(ctx: ServiceContext, limit: int):
    try:
        return await read_dead_letters(ctx.settings, limit=limit)
    except Exception as exc:  # the broker away, say
        raise HTTPException(503, detail=f"cannot read the dead-letter topics ({type(exc).__name__})") from None

"""Dashboards API: per-model metrics and the recent runs with their inputs and outputs."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query as Q

from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query
from services.telemetry.domain import summarize

router = APIRouter()
LATENCY_WINDOW = 1000


@router.get("/v1/models/{owner}/{name}/metrics")
async def metrics(owner: str, name: str, ctx: ServiceContext = Depends(context)) -> dict:
    model_id = f"{owner}/{name}"
    stats = await ctx.store.get("model_stats", model_id)
    recent = await ctx.store.find("runs", Query(where={"model_id": model_id},
                                                order=Order("completed_at", descending=True),
                                                limit=LATENCY_WINDOW))
    done = [r for r in recent.items if r.get("completed_at")]
    return {"model": model_id, **summarize(stats, done)}


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, limit: int = Q(20, ge=1, le=200), cursor: str | None = None,
                      ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("runs", Query(where={"model_id": f"{owner}/{name}"},
                                              order=Order("requested_at", descending=True),
                                              limit=limit, cursor=cursor))
    items = [{"id": r["_id"], **{k: v for k, v in r.items() if not k.startswith("_")}} for r in page.items]
    return {"items": items, "next_cursor": page.next_cursor}

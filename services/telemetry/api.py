"""Dashboards API: per-model metrics from the rollups, and the recent runs with their inputs and outputs."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query as Q

from services.contracts.windows import Window, window_query
from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query
from services.telemetry import rollups

router = APIRouter()


@router.get("/v1/models/{owner}/{name}/metrics")
async def metrics(owner: str, name: str, window: Window = Depends(window_query),
                  ctx: ServiceContext = Depends(context)) -> dict:
    model_id = f"{owner}/{name}"
    start, end, step = window.start, window.end, window.step
    first = rollups.bucket_start(start, step).isoformat()
    where: dict = {"model_id": model_id, "resolution": step}
    if window.version is not None:
        where["version"] = window.version
    found = []
    cursor = None
    while True:  # newest first, so a recent window reads only its own buckets
        page = await ctx.store.find("rollups", Query(where=where, order=Order("start", descending=True),
                                                     limit=500, cursor=cursor))
        found += [b for b in page.items if first <= b["start"] < end.isoformat()]
        if not (cursor := page.next_cursor) or (page.items and page.items[-1]["start"] < first):
            break
    return {"model": model_id, "from": start.isoformat(), "to": end.isoformat(), "step": step,
            **rollups.summary(rollups.by_status(found)), "series": rollups.series(found)}


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, limit: int = Q(20, ge=1, le=200), cursor: str | None = None,
                      ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("runs", Query(where={"model_id": f"{owner}/{name}"},
                                              order=Order("requested_at", descending=True),
                                              limit=limit, cursor=cursor))
    items = [{"id": r["_id"], **{k: v for k, v in r.items() if not k.startswith("_")}} for r in page.items]
    return {"items": items, "next_cursor": page.next_cursor}

"""Dashboards API: per-model metrics from the rollups, and the recent runs with their inputs and outputs."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query as Q

from services.contracts.windows import Window, window_query
from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query
from services.telemetry import feedback, rollups

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


@router.get("/v1/models/{owner}/{name}/feedback")
async def feedback_summary(owner: str, name: str, window: Window = Depends(window_query),
                           ctx: ServiceContext = Depends(context)) -> dict:
    """Ratings, and the accuracy of the label output against given labels, over the window (by the
    time feedback was last given): in total, per version, and as a series."""
    where: dict = {"model_id": f"{owner}/{name}"}
    if window.version is not None:
        where["version"] = window.version
    start, end = window.start.isoformat(), window.end.isoformat()
    found, cursor = [], None
    while True:
        page = await ctx.store.find("feedback", Query(where=where, order=Order("given_at", descending=True),
                                                      limit=500, cursor=cursor))
        found += [f for f in page.items if start <= f["given_at"] < end]
        if not (cursor := page.next_cursor) or (page.items and page.items[-1]["given_at"] < start):
            break
    return {"model": f"{owner}/{name}", "from": start, "to": end, "step": window.step,
            **feedback.summarize(found, window.step)}


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, limit: int = Q(20, ge=1, le=200), cursor: str | None = None,
                      ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("runs", Query(where={"model_id": f"{owner}/{name}"},
                                              order=Order("requested_at", descending=True),
                                              limit=limit, cursor=cursor))
    items = [{"id": r["_id"], **{k: v for k, v in r.items() if not k.startswith("_")}} for r in page.items]
    return {"items": items, "next_cursor": page.next_cursor}

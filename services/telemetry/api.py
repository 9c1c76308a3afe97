"""Dashboards API: per-model metrics from the rollups, feedback, drift, and the recent runs with
their inputs and outputs."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Query as Q

from services.contracts.versions import version_key
from services.contracts.windows import ReferencePin, Window, as_utc, window_query
from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query
from services.telemetry import arena, drift, feedback, rollups

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


REFERENCE_ROWS = 1000
CURRENT_ROWS = 5000
ENDED = ("succeeded", "failed", "timed_out", "canceled")


async def _newest_version(ctx: ServiceContext, model_id: str) -> int | None:
    page = await ctx.store.find("versions", Query(where={"model_id": model_id}, order=Order("version", descending=True),
                                                  limit=1))
    return page.items[0]["version"] if page.items else None


async def _runs(ctx: ServiceContext, model_id: str, version: int, *, start: str | None, end: str | None,
                newest_first: bool, limit: int) -> list[dict]:
    """Ended runs of the version, oldest or newest first, within [start, end) when given."""
    found, cursor = [], None
    while len(found) < limit:
        page = await ctx.store.find("runs", Query(where={"model_id": model_id, "version": version},
                                                  order=Order("requested_at", descending=newest_first),
                                                  limit=500, cursor=cursor))
        for run in page.items:
            at = run.get("requested_at") or ""
            if run.get("status") in ENDED and (start is None or at >= start) and (end is None or at < end):
                found.append(run)
        last = page.items[-1].get("requested_at") or "" if page.items else ""
        past = (newest_first and start is not None and last < start) or \
            (not newest_first and end is not None and last >= end)
        if not (cursor := page.next_cursor) or past:
            break
    return found[:limit]


def _rows(runs: list[dict], kinds: dict) -> list[dict]:
    rows = []
    for run in runs:
        step = kinds.get(run.get("step"), {})
        rows.append({**drift.features(step.get("inputs", {}), run.get("inputs"), "inputs"),
                     **drift.features(step.get("outputs", {}), run.get("outputs"), "outputs")})
    return rows


@router.get("/v1/models/{owner}/{name}/drift")
async def drift_report(owner: str, name: str, window: Window = Depends(window_query),
                       ctx: ServiceContext = Depends(context)) -> dict:
    """The version's inputs and outputs over the window against its reference: the version's
    first 1,000 ended runs, or the window its owner pinned."""
    model_id = f"{owner}/{name}"
    version = window.version or await _newest_version(ctx, model_id)
    if version is None:
        raise HTTPException(404, detail=f"no runs of {model_id} yet")
    kinds = ((await ctx.store.get("versions", version_key(model_id, version))) or {}).get("kinds") or {}
    pin = await ctx.store.get("drift_references", version_key(model_id, version))
    if pin is not None:
        reference = await _runs(ctx, model_id, version, start=pin["from"], end=pin["to"], newest_first=False,
                                limit=CURRENT_ROWS)
        chosen = {"pinned": True, "from": pin["from"], "to": pin["to"]}
    else:
        reference = await _runs(ctx, model_id, version, start=None, end=None, newest_first=False, limit=REFERENCE_ROWS)
        chosen = {"pinned": False, "first_runs": REFERENCE_ROWS}
    current = await _runs(ctx, model_id, version, start=window.start.isoformat(), end=window.end.isoformat(),
                          newest_first=True, limit=CURRENT_ROWS)
    return {"model": model_id, "version": version, "from": window.start.isoformat(), "to": window.end.isoformat(),
            "reference": chosen, **drift.report(_rows(reference, kinds), _rows(current, kinds))}


@router.put("/v1/models/{owner}/{name}/drift/reference")
async def pin_reference(owner: str, name: str, pin: ReferencePin, ctx: ServiceContext = Depends(context)) -> dict:
    """Compare the version's runs with those of this window from now on, instead of its first ones."""
    start, end = as_utc(pin.start), as_utc(pin.end)
    if start >= end:
        raise HTTPException(422, detail=[{"loc": ["body", "from"], "msg": "must be before `to`", "type": "value_error"}])
    key = version_key(f"{owner}/{name}", pin.version)
    doc = {"from": start.isoformat(), "to": end.isoformat(), "version": pin.version}
    await ctx.store.apply("drift_references", key, doc, event_id=f"pin:{uuid.uuid4()}")
    return doc


async def _all(ctx: ServiceContext, collection: str, where: dict) -> list[dict]:
    found, cursor = [], None
    while True:
        page = await ctx.store.find(collection, Query(where=where, limit=500, cursor=cursor))
        found += page.items
        if not (cursor := page.next_cursor):
            return found


@router.get("/v1/tasks/{task}/leaderboard")
async def leaderboard(task: str, models: list[str] = Q(default_factory=list, max_length=500,
                                                       description="the task's models to rank (owner/name)"),
                      ctx: ServiceContext = Depends(context)) -> dict:
    """The models ranked by the arena's votes (Bradley-Terry, with 95% intervals) and by the accuracy
    of their label output against labelled feedback."""
    votes = await _all(ctx, "votes", {"task": task})
    accuracy = []
    for model_id in models:
        tally = feedback.summarize(await _all(ctx, "feedback", {"model_id": model_id}), "1h")
        accuracy.append({"model": model_id, "labelled": tally["labelled"], "correct": tally["correct"],
                         "accuracy": tally["accuracy"]})
    accuracy.sort(key=lambda row: (row["accuracy"] is None, -(row["accuracy"] or 0), -row["labelled"]))
    return {"task": task, "arena": arena.ratings(models, votes), "votes": len(votes), "accuracy": accuracy}

"""Dashboards API: per-model metrics from the rollups, feedback, drift, and the recent runs with
their inputs and outputs."""
from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Query as Q

from services.contracts.versions import version_key
from services.contracts.windows import ReferencePin, Window, as_utc, window_query
from services.kit.runtime import ServiceContext, context
from services.kit.webhooks import new_secret
from services.kit.store import Order, Query
from services.telemetry import alerts, arena, feedback, profiles, queries, rollups

router = APIRouter()


@router.get("/v1/models/{owner}/{name}/metrics")
async def metrics(owner: str, name: str, window: Window = Depends(window_query),
                  ctx: ServiceContext = Depends(context)) -> dict:
    model_id = f"{owner}/{name}"
    found = await queries.buckets(ctx.store, model_id, window.start, window.end, window.step, window.version)
    return {"model": model_id, "from": window.start.isoformat(), "to": window.end.isoformat(), "step": window.step,
            **rollups.summary(rollups.by_status(found)), "series": rollups.series(found)}


@router.get("/v1/models/{owner}/{name}/profiles")
async def profiles_of(owner: str, name: str, window: Window = Depends(window_query),
                      ctx: ServiceContext = Depends(context)) -> dict:
    """Each input's and output's profile over the window, from the profile buckets: in total and
    per bucket."""
    model_id = f"{owner}/{name}"
    found = await queries.buckets(ctx.store, model_id, window.start, window.end, window.step, window.version,
                                  collection="profiles")
    starts: dict[str, list[dict]] = {}
    for bucket in found:
        starts.setdefault(bucket["start"], []).append(bucket)
    return {"model": model_id, "from": window.start.isoformat(), "to": window.end.isoformat(), "step": window.step,
            "fields": profiles.profile(profiles.merged(found)),
            "series": [{"start": start, "fields": profiles.profile(profiles.merged(group))}
                       for start, group in sorted(starts.items())]}


@router.get("/v1/models/{owner}/{name}/feedback")
async def feedback_summary(owner: str, name: str, window: Window = Depends(window_query),
                           ctx: ServiceContext = Depends(context)) -> dict:
    """Ratings, and the accuracy of the label output against given labels, over the window (by the
    time feedback was last given): in total, per version, and as a series."""
    found = await queries.feedback_in(ctx.store, f"{owner}/{name}", window.start, window.end, window.version)
    return {"model": f"{owner}/{name}", "from": window.start.isoformat(), "to": window.end.isoformat(),
            "step": window.step, **feedback.summarize(found, window.step)}


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, limit: int = Q(20, ge=1, le=200), cursor: str | None = None,
                      ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("runs", Query(where={"model_id": f"{owner}/{name}"},
                                              order=Order("requested_at", descending=True),
                                              limit=limit, cursor=cursor))
    items = [{"id": r["_id"], **{k: v for k, v in r.items() if not k.startswith("_")}} for r in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/v1/models/{owner}/{name}/drift")
async def drift_report(owner: str, name: str, window: Window = Depends(window_query),
                       ctx: ServiceContext = Depends(context)) -> dict:
    """The version's inputs and outputs over the window against its reference: the version's
    first 1,000 ended runs, or the window its owner pinned."""
    answer = await queries.drift_of(ctx.store, f"{owner}/{name}", window.version, window.start, window.end)
    if answer is None:
        raise HTTPException(404, detail=f"no runs of {owner}/{name} yet")
    return answer


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


@router.get("/v1/tasks/{task}/leaderboard")
async def leaderboard(task: str, models: list[str] = Q(default_factory=list, max_length=500,
                                                       description="the task's models to rank (owner/name)"),
                      ctx: ServiceContext = Depends(context)) -> dict:
    """The models ranked by the arena's votes (Bradley-Terry, with 95% intervals) and by the accuracy
    of their label output against labelled feedback."""
    votes = await queries.all_of(ctx.store, "votes", {"task": task})
    accuracy = []
    for model_id in models:
        tally = feedback.summarize(await queries.all_of(ctx.store, "feedback", {"model_id": model_id}), "1h")
        accuracy.append({"model": model_id, "labelled": tally["labelled"], "correct": tally["correct"],
                         "accuracy": tally["accuracy"]})
    accuracy.sort(key=lambda row: (row["accuracy"] is None, -(row["accuracy"] or 0), -row["labelled"]))
    return {"task": task, "arena": arena.ratings(models, votes), "votes": len(votes), "accuracy": accuracy}


@router.put("/v1/models/{owner}/{name}/alerts")
async def set_alerts(owner: str, name: str, config: alerts.AlertRules, ctx: ServiceContext = Depends(context)) -> dict:
    """The model's alert rules and webhook, replacing the previous ones. The webhook's signing
    secret is made once and answered every time (the owner alone reads this)."""
    model_id = f"{owner}/{name}"
    current = await ctx.store.get("alert_rules", model_id)
    secret = (current or {}).get("secret") or new_secret()
    doc = {**config.model_dump(mode="json"), "secret": secret}
    await ctx.store.save("alert_rules", model_id, doc, expected_version=current["_v"] if current else None)
    return await read_alerts(owner, name, ctx)


@router.get("/v1/models/{owner}/{name}/alerts")
async def read_alerts(owner: str, name: str, ctx: ServiceContext = Depends(context)) -> dict:
    """The rules, each one's state (ok or firing, since when, the last value), and recent changes."""
    model_id = f"{owner}/{name}"
    doc = await ctx.store.get("alert_rules", model_id) or {"rules": [], "webhook": None, "secret": None}
    states = {s["rule"]: s for s in (await ctx.store.find("alert_states", Query(where={"model_id": model_id},
                                                                                limit=100))).items}
    history = await ctx.store.find("alert_events", Query(where={"model_id": model_id},
                                                         order=Order("at", descending=True), limit=50))
    return {"model": model_id, "webhook": doc.get("webhook"), "secret": doc.get("secret"),
            "rules": [{**rule, "state": states.get(rule["name"], {}).get("state", "ok"),
                       "since": states.get(rule["name"], {}).get("since"),
                       "value": states.get(rule["name"], {}).get("value")} for rule in doc.get("rules", [])],
            "events": [{k: v for k, v in e.items() if not k.startswith("_")} for e in history.items]}

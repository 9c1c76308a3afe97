"""The public REST API: models, runs, identity. Publishing and dashboards are forwarded."""
from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from services.contracts.envelope import stable_id
from services.contracts.events import TERMINAL_STATUSES, RunRequested
from services.gateway import domain
from services.gateway.auth import optional_user, required_user
from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query

router = APIRouter()
PUBLISH_VISIBLE_S = 10.0


class RunBody(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(None, ge=1)
    step: str | None = None
    deadline_s: float = Field(300.0, gt=0, le=900)


@router.get("/v1/me")
async def me(user: str = Depends(required_user)) -> dict:
    return {"username": user}


@router.post("/v1/models", status_code=201)
async def publish(bundle: UploadFile, response: Response, user: str = Depends(required_user),
                  ctx: ServiceContext = Depends(context)) -> Any:
    http: httpx.AsyncClient = ctx.state["http"]
    data = await bundle.read()
    try:
        answer = await http.post(f"{ctx.settings.registry_url}/internal/models",
                                 files={"bundle": ("bundle.tar.gz", data, "application/gzip")},
                                 headers={"X-Feather-User": user}, timeout=120)
    except httpx.HTTPError as exc:
        raise HTTPException(503, detail=f"the registry is unavailable: {exc}") from None
    body = answer.json()
    if answer.status_code >= 400:
        return JSONResponse(body, status_code=answer.status_code)
    # answer once this gateway can serve the new version, so the caller's next GET finds it
    seen = ctx.state["projections"].seen(f"{body['owner']}/{body['name']}@{body['version']}")
    if not await ctx.store.get("versions", f"{body['owner']}/{body['name']}@{body['version']}"):
        try:
            await asyncio.wait_for(seen.wait(), PUBLISH_VISIBLE_S)
        except asyncio.TimeoutError:
            pass
    response.status_code = 201 if body.get("created") else 200
    return body


@router.get("/v1/models")
async def list_models(limit: int = 50, cursor: str | None = None, ctx: ServiceContext = Depends(context)) -> dict:
    page = await ctx.store.find("models", Query(where={"visibility": "public"},
                                                order=Order("updated_at", descending=True),
                                                limit=max(1, min(limit, 200)), cursor=cursor))
    items = [await _model_view(ctx, m) for m in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


async def _versions(ctx: ServiceContext, model_id: str) -> list[dict[str, Any]]:
    page = await ctx.store.find("versions", Query(where={"model_id": model_id}, order=Order("version"), limit=1000))
    return page.items


async def _model(ctx: ServiceContext, owner: str, name: str) -> dict[str, Any]:
    model = await ctx.store.get("models", f"{owner}/{name}")
    if model is None:
        raise HTTPException(404, detail=f"no model {owner}/{name}")
    return model


async def _model_view(ctx: ServiceContext, model: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    versions = await _versions(ctx, model["_id"])
    latest = next((v for v in versions if v["version"] == model.get("latest_version")), None)
    ready = [v for v in versions if v.get("status") == "ready"]
    shown = max(ready, key=lambda v: v["version"]) if ready else latest
    view = {"id": model["_id"], "owner": model["owner"], "name": model["name"],
            "description": model.get("description", ""), "visibility": model.get("visibility", "public"),
            "latest_version": model.get("latest_version"),
            "status": latest.get("status") if latest else "unknown",
            "created_at": model.get("created_at"), "updated_at": model.get("updated_at")}
    if full:
        view["manifest"] = shown.get("manifest") if shown else None
        view["versions"] = [{"version": v["version"], "status": v.get("status"), "error": v.get("error"),
                             "created_at": v.get("created_at"), "build_ms": v.get("build_ms")}
                            for v in versions]
    return view


@router.get("/v1/models/{owner}/{name}")
async def get_model(owner: str, name: str, ctx: ServiceContext = Depends(context)) -> dict:
    return await _model_view(ctx, await _model(ctx, owner, name), full=True)


@router.get("/v1/models/{owner}/{name}/versions/{version}/build-log", response_class=PlainTextResponse)
async def build_log(owner: str, name: str, version: int, ctx: ServiceContext = Depends(context)) -> Response:
    await _model(ctx, owner, name)
    doc = await ctx.store.get("versions", f"{owner}/{name}@{version}")
    if doc is None:
        raise HTTPException(404, detail=f"{owner}/{name} has no version {version}")
    ref = doc.get("build_log")
    text = (await ctx.blobs.get(ref["key"])).decode(errors="replace") if ref else ""
    return PlainTextResponse(text, headers={"X-Build-Status": str(doc.get("status"))})


@router.post("/v1/models/{owner}/{name}/runs", status_code=201)
async def create_run(owner: str, name: str, body: RunBody, response: Response,
                     prefer: str | None = Header(None), user: str | None = Depends(optional_user),
                     ctx: ServiceContext = Depends(context)) -> dict:
    model = await _model(ctx, owner, name)
    version = domain.pick_version(model, await _versions(ctx, model["_id"]), body.version)
    step = domain.pick_step(version["manifest"], body.step)
    inputs = domain.check_inputs(step, body.inputs)
    wait_s = domain.parse_prefer_wait(prefer)
    run_id = domain.new_run_id()
    event = RunRequested(run_id=run_id, model_id=model["_id"], version=version["version"],
                         step=step["name"], inputs=inputs, owner=user, deadline_s=body.deadline_s)
    doc = {"model_id": model["_id"], "version": event.version, "step": event.step, "inputs": inputs,
           "status": "queued", "created_by": user, "created_at": event.requested_at.isoformat(),
           "outputs": None, "error": None, "metrics": None, "completed_at": None}
    replies = ctx.state["replies"]
    waiter = replies.expect(run_id) if wait_s else None
    try:
        await ctx.save("runs", run_id, doc, expected_version=None,
                       events=[ctx.outbox(event, event_id=stable_id(run_id, "requested"))])
        if waiter is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), wait_s)
            except asyncio.TimeoutError:
                pass
    finally:
        replies.forget(run_id)
    run = run_view(await ctx.store.get("runs", run_id) or {"_id": run_id, **doc})
    response.status_code = 201 if run["status"] in TERMINAL_STATUSES else 202
    response.headers["Location"] = run["urls"]["get"]
    return run


@router.get("/v1/runs/{run_id}")
async def get_run(run_id: str, ctx: ServiceContext = Depends(context)) -> dict:
    doc = await ctx.store.get("runs", run_id)
    if doc is None:
        raise HTTPException(404, detail=f"no run {run_id}")
    return run_view(doc)


def run_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "model": doc["model_id"], "version": doc["version"], "step": doc["step"],
            "status": doc["status"], "inputs": doc.get("inputs"), "outputs": doc.get("outputs"),
            "error": doc.get("error"), "logs": doc.get("logs", ""),
            "metrics": doc.get("metrics") or {"queue_ms": None, "predict_ms": None, "total_ms": None},
            "created_at": doc.get("created_at"), "completed_at": doc.get("completed_at"),
            "urls": {"get": f"/v1/runs/{doc['_id']}"}}


async def _forward(ctx: ServiceContext, request: Request, path: str) -> Response:
    http: httpx.AsyncClient = ctx.state["http"]
    try:
        answer = await http.get(f"{ctx.settings.telemetry_url}{path}", params=request.query_params, timeout=30)
    except httpx.HTTPError as exc:
        raise HTTPException(503, detail=f"telemetry is unavailable: {exc}") from None
    return Response(answer.content, status_code=answer.status_code,
                    media_type=answer.headers.get("content-type", "application/json"))


@router.get("/v1/models/{owner}/{name}/metrics")
async def metrics(owner: str, name: str, request: Request, ctx: ServiceContext = Depends(context)) -> Response:
    await _model(ctx, owner, name)
    return await _forward(ctx, request, f"/v1/models/{owner}/{name}/metrics")


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, request: Request, ctx: ServiceContext = Depends(context)) -> Response:
    await _model(ctx, owner, name)
    return await _forward(ctx, request, f"/v1/models/{owner}/{name}/runs")

"""Shapes of what the API answers, built from the gateway's read models."""
from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException
from feather.rules import newest_ready

from services.contracts.models import serving_version
from services.gateway.access import file_href, with_hrefs

from services.kit.runtime import ServiceContext
from services.kit.store import Order, Query


async def versions_of(ctx: ServiceContext, model_id: str) -> list[dict[str, Any]]:
    page = await ctx.store.find("versions", Query(where={"model_id": model_id}, order=Order("version"), limit=1000))
    return page.items


async def model_or_404(ctx: ServiceContext, owner: str, name: str, user: str | None = None) -> dict[str, Any]:
    model = await ctx.store.get("models", f"{owner}/{name}")
    if model is None or model.get("deleted"):
        raise HTTPException(404, detail=f"no model {owner}/{name}")
    if model.get("visibility") == "private" and user != model.get("owner"):
        raise HTTPException(404, detail=f"no model {owner}/{name}")
    return model


async def model_visible(ctx: ServiceContext, model_id: str, user: str | None) -> bool:
    """Whether ``user`` may see the model (see model_or_404), as a yes or no."""
    owner, name = model_id.split("/", 1)
    try:
        await model_or_404(ctx, owner, name, user)
    except HTTPException:
        return False
    return True


async def model_view(ctx: ServiceContext, model: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    versions = await versions_of(ctx, model["_id"])
    latest = next((v for v in versions if v["version"] == model.get("latest_version")), None)
    newest = newest_ready(versions)
    serving = serving_version(model, newest["version"] if newest else None)
    shown = next((v for v in versions if v["version"] == serving), None) or newest or latest
    view = {"id": model["_id"], "owner": model["owner"], "name": model["name"],
            "description": model.get("description", ""), "visibility": model.get("visibility", "public"),
            "latest_version": model.get("latest_version"), "runs": model.get("runs", 0), "task": model.get("task"),
            "public_metrics": bool(model.get("public_metrics")),
            "status": latest.get("status") if latest else "unknown",
            "created_at": model.get("created_at"), "updated_at": model.get("updated_at")}
    if full:
        deployment = model.get("deployment") or {}
        view["deployment"] = {"version": serving, "follow": deployment.get("follow", "latest"),
                              "deployed": deployment.get("version"), "previous": deployment.get("previous"),
                              "at": deployment.get("at")}
        view["manifest"] = shown.get("manifest") if shown else None
        view["versions"] = [{"version": v["version"], "status": v.get("status"), "error": v.get("error"),
                             "created_at": v.get("created_at"), "build_ms": v.get("build_ms")}
                            for v in versions]
    return view


def run_view(doc: dict[str, Any], *, viewer: str | None = None, token: str | None = None) -> dict[str, Any]:
    """A run as its reader sees it. ``token`` is the run's read token when the reader holds it
    (an anonymous run's creator): it goes into the run's URLs and its files' links."""
    owner = doc["model_id"].split("/", 1)[0]
    private = viewer is not None and viewer == owner  # logs and tracebacks are the owner's
    run_id = doc["_id"]
    query = f"?token={quote(token, safe='')}" if token else ""
    href = partial(file_href, run_id=run_id, token=token)
    return {"id": run_id, "model": doc["model_id"], "version": doc["version"], "step": doc["step"],
            "status": doc["status"], "inputs": with_hrefs(doc.get("inputs"), href),
            "outputs": with_hrefs(doc.get("outputs"), href),
            "steps": with_hrefs(doc.get("steps"), href), "error": doc.get("error"),
            "logs": doc.get("logs", "") if private else None,
            "traceback": doc.get("traceback") if private else None,
            "progress": doc.get("progress"),
            "metrics": doc.get("metrics") or {"queue_ms": None, "predict_ms": None, "total_ms": None},
            "created_at": doc.get("created_at"), "completed_at": doc.get("completed_at"),
            "trace_id": doc.get("trace_id"),
            "urls": {"get": f"/v1/runs/{run_id}{query}", "cancel": f"/v1/runs/{run_id}/cancel{query}",
                     "stream": f"/v1/runs/{run_id}/stream{query}"}}

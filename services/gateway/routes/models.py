"""Models: publish (forwarded to the registry), browse, build logs, delete, per-model OpenAPI."""
from __future__ import annotations

import asyncio
import json
import logging
import uuid
from functools import partial
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Header, HTTPException, Query as Q, Request, Response, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse

from services.contracts.alerts import AlertRules
from services.contracts.models import DeploymentChange, ModelChanges
from services.contracts.versions import version_key
from services.contracts.windows import ReferencePin, Window, window_query
from services.gateway import idempotency
from services.gateway.access import file_href, with_hrefs
from services.gateway.auth import optional_user, required_user
from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.domain import RequestError
from services.gateway.openapi import model_openapi
from services.gateway.views import model_or_404, model_view
from services.kit.blobs import BlobNotFound
from services.kit.runtime import ServiceContext, context
from services.kit.store import Query

router = APIRouter()
log = logging.getLogger("feather.gateway")
PUBLISH_VISIBLE_S = 10.0


def unavailable(service: str, exc: Exception) -> HTTPException:
    """A 503 that says which part is away, and nothing of where it lives (the log says that)."""
    log.warning("%s did not answer: %s", service, exc)
    return HTTPException(503, detail=f"{service} is unavailable; try again shortly")


def _json_of(answer: httpx.Response, service: str) -> dict[str, Any]:
    """What a service answered, which must be a JSON object; anything else is a 502."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        log.warning("%s answered %s without a JSON object", service, answer.status_code)
        raise HTTPException(502, detail=f"{service} answered {answer.status_code} without JSON")
    return body


@router.post("/v1/models", status_code=201)
async def publish(bundle: UploadFile, response: Response, user: str = Depends(required_user),
                  idempotency_key: str | None = Header(None, alias=idempotency.HEADER, description=(
                      "the same key and bundle within 24 h answer the version the first request made")),
                  gw: GatewayService = Depends(gateway)) -> Any:
    ctx = gw.ctx
    data = await bundle.read()
    scope = f"publish|user:{user}"
    if idempotency_key is not None:
        first = await idempotency.claim(ctx.store, scope, idempotency_key, idempotency.fingerprint(data))
        if first is not None:
            response.status_code = first["status"]
            response.headers["Idempotent-Replayed"] = "true"
            return first["body"]
    try:
        answer = await gw.http.post(f"{ctx.settings.registry_url}/internal/models",
                                    files={"bundle": ("bundle.tar.gz", data, "application/gzip")},
                                    headers=ctx.identity.headers("registry", user), timeout=120)
        body = _json_of(answer, "the registry")
    except BaseException as exc:
        if idempotency_key is not None:  # the registry may not have it: a retry tries again
            await idempotency.release(ctx.store, scope, idempotency_key)
        if isinstance(exc, httpx.HTTPError):
            raise unavailable("the registry", exc) from None
        raise
    if answer.status_code >= 400:
        if idempotency_key is not None:
            await idempotency.release(ctx.store, scope, idempotency_key)
        return JSONResponse(body, status_code=answer.status_code)
    if idempotency_key is not None:
        await idempotency.complete(ctx.store, scope, idempotency_key,
                                   {"status": 201 if body.get("created") else 200, "body": body})
    # answer once this gateway can serve the new version, so the caller's next GET finds it
    key = version_key(f"{body['owner']}/{body['name']}", body["version"])
    if not await ctx.store.get("versions", key):
        try:
            await asyncio.wait_for(gw.projections.seen(key).wait(), PUBLISH_VISIBLE_S)
        except asyncio.TimeoutError:
            pass
    response.status_code = 201 if body.get("created") else 200
    return body


@router.get("/v1/models")
async def list_models(q: str = "", sort: str = Q("recent", pattern="^(recent|popular)$"),
                      owner: str | None = None, limit: int = Q(50, ge=1, le=200), cursor: str | None = None,
                      user: str | None = Depends(optional_user), ctx: ServiceContext = Depends(context)) -> dict:
    """Public models (or, with ``owner=me``, all of the caller's), searched and sorted.

    Search and sort run over the catalogue in memory: fine for thousands of models; a text
    index in the store is the next step past that.
    """
    if owner == "me":
        if user is None:
            raise HTTPException(401, detail="owner=me needs a login or a token")
        where: dict[str, Any] = {"owner": user}
    else:
        where = {"visibility": "public", **({"owner": owner} if owner else {})}
    found: list[dict[str, Any]] = []
    page_cursor = None
    while True:
        page = await ctx.store.find("models", Query(where=where, limit=500, cursor=page_cursor))
        found += [m for m in page.items if not m.get("deleted")]
        if not (page_cursor := page.next_cursor):
            break
    words = q.lower().split()
    found = [m for m in found if all(w in f"{m['_id']} {m.get('description', '')}".lower() for w in words)]
    key = (lambda m: (m.get("runs", 0), m.get("updated_at", ""))) if sort == "popular" else \
        (lambda m: (m.get("updated_at", ""), m["_id"]))
    found.sort(key=key, reverse=True)
    start = int(cursor) if cursor and cursor.isdigit() else 0
    shown = found[start:start + limit]
    following = str(start + limit) if start + limit < len(found) else None
    return {"items": [await model_view(ctx, m, full=owner == "me") for m in shown], "next_cursor": following}


@router.patch("/v1/models/{owner}/{name}")
async def update_model(owner: str, name: str, changes: ModelChanges, user: str = Depends(required_user),
                       gw: GatewayService = Depends(gateway)) -> dict:
    ctx = gw.ctx
    await model_or_404(ctx, owner, name, user)
    if user != owner:
        raise HTTPException(403, detail=f"only {owner} can change {owner}/{name}")
    body = changes.model_dump(exclude_none=True)
    said = await _changed_in_registry(gw, "PATCH", f"/internal/models/{owner}/{name}", body, user)
    await _apply_now(ctx, f"{owner}/{name}", body, said)
    return await model_view(ctx, await model_or_404(ctx, owner, name, user), full=True)


@router.put("/v1/models/{owner}/{name}/deployment")
async def deploy(owner: str, name: str, change: DeploymentChange, user: str = Depends(required_user),
                 gw: GatewayService = Depends(gateway)) -> dict:
    """Which version serves `owner/name` when a run names none: `{"version": 3}` deploys (or
    rolls back to) version 3; `{"follow": "pinned"}` keeps it there when another is published,
    `{"follow": "latest"}` lets a later version take over once it is ready."""
    ctx = gw.ctx
    await model_or_404(ctx, owner, name, user)
    if user != owner:
        raise HTTPException(403, detail=f"only {owner} can deploy {owner}/{name}")
    said = await _changed_in_registry(gw, "PUT", f"/internal/models/{owner}/{name}/deployment",
                                      change.model_dump(exclude_none=True), user)
    await _apply_now(ctx, f"{owner}/{name}", {"deployment": said["deployment"]}, said)
    return (await model_view(ctx, await model_or_404(ctx, owner, name, user), full=True))["deployment"]


async def _changed_in_registry(gw: GatewayService, method: str, path: str, body: dict, user: str) -> dict:
    try:
        answer = await gw.http.request(method, f"{gw.ctx.settings.registry_url}{path}", json=body,
                                       headers=gw.ctx.identity.headers("registry", user), timeout=30)
    except httpx.HTTPError as exc:
        raise unavailable("the registry", exc) from None
    said = _json_of(answer, "the registry")
    if answer.status_code >= 400:
        raise HTTPException(answer.status_code, detail=said.get("detail"))
    return said


async def _apply_now(ctx: ServiceContext, model_id: str, changes: dict, said: dict) -> None:
    # the ModelUpdated event says the same; apply it now, under its id, so the caller sees the
    # change at once and the event changes nothing when it comes
    event_id = said.get("event_id") or f"api-update:{uuid.uuid4()}"
    await ctx.store.apply("models", model_id, changes, event_id=event_id)


@router.get("/v1/models/{owner}/{name}")
async def get_model(owner: str, name: str, user: str | None = Depends(optional_user),
                    ctx: ServiceContext = Depends(context)) -> dict:
    return await model_view(ctx, await model_or_404(ctx, owner, name, user), full=True)


@router.delete("/v1/models/{owner}/{name}", status_code=204)
async def delete_model(owner: str, name: str, user: str = Depends(required_user),
                       gw: GatewayService = Depends(gateway)) -> Response:
    ctx = gw.ctx
    await model_or_404(ctx, owner, name, user)
    if user != owner:
        raise HTTPException(403, detail=f"only {owner} can delete {owner}/{name}")
    try:
        answer = await gw.http.delete(f"{ctx.settings.registry_url}/internal/models/{owner}/{name}",
                                      headers=ctx.identity.headers("registry", user), timeout=30)
    except httpx.HTTPError as exc:
        raise unavailable("the registry", exc) from None
    if answer.status_code >= 400:
        return JSONResponse(_json_of(answer, "the registry"), status_code=answer.status_code)
    # the ModelDeleted event will say the same; hide it now so the caller sees the delete at once
    await ctx.store.apply("models", f"{owner}/{name}", {"deleted": True}, event_id=f"api-delete:{uuid.uuid4()}")
    return Response(status_code=204)


@router.get("/v1/models/{owner}/{name}/versions/{version}/build-log", response_class=PlainTextResponse)
async def build_log(owner: str, name: str, version: int, offset: int = Q(0, ge=0),
                    user: str | None = Depends(optional_user), ctx: ServiceContext = Depends(context)) -> Response:
    await model_or_404(ctx, owner, name, user)
    doc = await ctx.store.get("versions", version_key(f"{owner}/{name}", version))
    if doc is None:
        raise HTTPException(404, detail=f"{owner}/{name} has no version {version}")
    # the builder rewrites this blob as the build goes, so the log can be followed live
    key = (doc.get("build_log") or {}).get("key") or f"builds/{owner}/{name}/{version}/log.txt"
    try:
        data = await ctx.blobs.get(key)
    except BlobNotFound:
        data = b""
    return Response(data[offset:], media_type="text/plain; charset=utf-8",
                    headers={"X-Build-Status": str(doc.get("status")), "X-Log-Size": str(len(data))})


@router.get("/v1/models/{owner}/{name}/openapi.json")
async def openapi(owner: str, name: str, request: Request, user: str | None = Depends(optional_user),
                  ctx: ServiceContext = Depends(context)) -> dict:
    model = await model_or_404(ctx, owner, name, user)
    view = await model_view(ctx, model, full=True)
    if not view.get("manifest"):
        raise HTTPException(409, detail=f"{owner}/{name} has no built version yet")
    return model_openapi(view, server=str(request.base_url).rstrip("/"))


async def forward(gw: GatewayService, request: Request, path: str, params: Any = None) -> Response:
    """Telemetry's answer to the same call (method, query or ``params``, and body), as it came."""
    try:
        answer = await gw.http.request(request.method, f"{gw.ctx.settings.telemetry_url}{path}",
                                       params=request.query_params if params is None else params,
                                       content=await request.body(),
                                       headers={"content-type": request.headers.get("content-type", ""),
                                                **gw.ctx.identity.headers("telemetry")}, timeout=30)
    except httpx.HTTPError as exc:
        raise unavailable("telemetry", exc) from None
    return Response(answer.content, status_code=answer.status_code,
                    media_type=answer.headers.get("content-type", "application/json"))


@router.get("/v1/models/{owner}/{name}/metrics")
async def metrics(owner: str, name: str, request: Request, _: Window = Depends(window_query),
                  user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> Response:
    """Runs, errors by kind, latency, queue and model time over a window, with a series of buckets:
    the owner's, and everyone's who may see the model once the owner sets `public_metrics`. The
    query is checked here and answered by telemetry."""
    model = await model_or_404(gw.ctx, owner, name, user)
    if not model.get("public_metrics"):
        _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/metrics")


def _owner_only(owner: str, name: str, user: str | None) -> None:
    if user != owner:  # other people's inputs, outputs and opinions are the owner's alone
        raise HTTPException(403 if user else 401, detail=f"only {owner} can read this of {owner}/{name}")


@router.get("/v1/models/{owner}/{name}/feedback")
async def feedback(owner: str, name: str, request: Request, _: Window = Depends(window_query),
                   user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> Response:
    """What callers said of the model's runs over a window: thumbs, stars, and the accuracy of its
    label output against the labels they gave, in total, per version and as a series."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/feedback")


@router.get("/v1/models/{owner}/{name}/drift")
async def drift(owner: str, name: str, request: Request, _: Window = Depends(window_query),
                user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> Response:
    """How the version's inputs and outputs over the window differ from its reference, field by
    field (Evidently's default tests), with both distributions; the owner's alone."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/drift")


@router.get("/v1/models/{owner}/{name}/profiles")
async def profiles(owner: str, name: str, request: Request, _: Window = Depends(window_query),
                   user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> Response:
    """Each input's and output's profile over a window, in total and per bucket: numbers (count,
    missing, mean, quantiles), categories (most frequent values), text lengths, image sizes and
    brightness, table rows, file sizes and types; the owner's alone, as they describe callers' data."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/profiles")


@router.put("/v1/models/{owner}/{name}/drift/reference")
async def pin_drift_reference(owner: str, name: str, request: Request, pin: ReferencePin,
                              user: str = Depends(required_user), gw: GatewayService = Depends(gateway)) -> Response:
    """Compare the version's runs with those of this window, instead of its first 1,000."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/drift/reference")


@router.get("/v1/models/{owner}/{name}/alerts")
async def alerts(owner: str, name: str, request: Request, user: str = Depends(required_user),
                 gw: GatewayService = Depends(gateway)) -> Response:
    """The owner's alert rules, each one's state, recent firings, and the webhook's signing secret."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    return await forward(gw, request, f"/v1/models/{owner}/{name}/alerts")


@router.put("/v1/models/{owner}/{name}/alerts")
async def set_alerts(owner: str, name: str, request: Request, config: AlertRules, user: str = Depends(required_user),
                     gw: GatewayService = Depends(gateway)) -> Response:
    """Replace the model's alert rules (error rate or p95 above, drift share above, accuracy below a
    threshold over a window) and the https webhook each firing and resolved alert is POSTed to."""
    await model_or_404(gw.ctx, owner, name, user)
    _owner_only(owner, name, user)
    allowed = ("https",) if not gw.ctx.settings.webhooks_to_private_addresses else ("https", "http")
    if config.webhook is not None and config.webhook.scheme not in allowed:
        raise RequestError(422, [{"loc": ["body", "webhook"], "msg": "an https URL", "type": "value_error"}])
    return await forward(gw, request, f"/v1/models/{owner}/{name}/alerts")


@router.get("/v1/models/{owner}/{name}/runs")
async def recent_runs(owner: str, name: str, request: Request, user: str | None = Depends(optional_user),
                      gw: GatewayService = Depends(gateway)) -> Response:
    ctx = gw.ctx
    await model_or_404(ctx, owner, name, user)
    _owner_only(owner, name, user)
    answer = await forward(gw, request, f"/v1/models/{owner}/{name}/runs")
    if answer.status_code != 200:
        return answer
    page = json.loads(answer.body)
    for item in page.get("items", []):  # the owner reads each run's files through the run
        for part in ("inputs", "outputs", "steps"):
            item[part] = with_hrefs(item.get(part), partial(file_href, run_id=item["id"]))
    return JSONResponse(page)

"""Runs: create (one step, the next step of a previous run, or a whole chain), read, cancel, list."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query as Q, Request, Response
from fastapi.responses import StreamingResponse

from services.contracts.events import TERMINAL_STATUSES
from services.gateway import domain, idempotency, services, streams, webhooks
from services.gateway.access import run_token
from services.gateway.auth import optional_user, required_user
from services.gateway.bootstrap import GatewayService, gateway
from services.gateway.projections import completed_fields
from services.gateway.services import RunBody
from services.gateway.throttle import client_address
from services.gateway.views import model_or_404, model_visible, run_view
from services.kit.runtime import ServiceContext, context
from services.kit.store import Order, Query

router = APIRouter()


IdempotencyKey = Header(None, alias=idempotency.HEADER, description="the same key and body within 24 h answer the "
                        "run the first request made (Idempotent-Replayed: true) instead of making another")


@router.post("/v1/models/{owner}/{name}/runs", status_code=201)
async def create_run(owner: str, name: str, body: RunBody, response: Response, request: Request,
                     prefer: str | None = Header(None), idempotency_key: str | None = IdempotencyKey,
                     user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> dict:
    ctx = gw.ctx
    began = time.perf_counter()
    holder = f"user:{user}" if user else f"addr:{client_address(request.scope, ctx.settings.forwarded_hops)}"
    scope = f"runs:{owner}/{name}|{holder}"
    if idempotency_key is not None:
        first = await idempotency.claim(ctx.store, scope, idempotency_key,
                                        idempotency.fingerprint(body.model_dump(mode="json")))
        if first is not None:
            return await _replayed(gw, first["run_id"], user, response)
    try:
        model = await model_or_404(ctx, owner, name, user)
        webhook = webhooks.check_webhook(ctx, body, user)
        event = await services.prepare_run(gw, model, body, user)
    except BaseException:
        if idempotency_key is not None:  # nothing was made: a retry tries afresh
            await idempotency.release(ctx.store, scope, idempotency_key)
        raise
    prepared = time.perf_counter()
    wait_s = domain.parse_prefer_wait(prefer)
    run_id = event.run_id
    replies = gw.replies
    waiter = replies.expect(run_id) if wait_s else None  # before the write: the answer may come at once
    try:
        try:
            if webhook is not None:  # before the run exists: its first events may follow at once
                await webhooks.queue_start(ctx, run_id, webhook, event.requested_at)
            doc = await services.accept_run(ctx, event, user, holder)
        except BaseException:
            if webhook is not None:
                await ctx.store.delete("webhooks", run_id)
            if idempotency_key is not None:
                await idempotency.release(ctx.store, scope, idempotency_key)
            raise
        if webhook is not None:
            gw.webhooks.wake.set()
        if idempotency_key is not None:
            await idempotency.complete(ctx.store, scope, idempotency_key, {"run_id": run_id})
        saved = time.perf_counter()
        if waiter is not None:
            try:
                await asyncio.wait_for(asyncio.shield(waiter), wait_s)
            except asyncio.TimeoutError:
                pass
        completed = replies.completed(run_id)
    finally:
        replies.forget(run_id)
    waited = time.perf_counter()
    if completed is not None:
        # the reply path recorded this completion before waking us, so it is what the store holds
        stored = {**doc, **completed_fields(completed)}
    else:
        stored = await ctx.store.get("runs", run_id) or doc
    run = _answer(gw, stored, user, response)
    # where the time went, for the curious and for benchmarks (W3C Server-Timing)
    response.headers["Server-Timing"] = ", ".join(
        f"{name};dur={ms * 1000:.2f}" for name, ms in (
            ("prepare", prepared - began), ("accept", saved - prepared), ("wait", waited - saved),
            ("answer", time.perf_counter() - waited)))
    return run


def _answer(gw: GatewayService, stored: dict, user: str | None, response: Response) -> dict:
    # a run made without an account can only be read again with its token
    token = run_token(gw.secret, stored["_id"]) if user is None else None
    run = run_view(stored, viewer=user, token=token)
    response.status_code = 201 if run["status"] in TERMINAL_STATUSES else 202
    response.headers["Location"] = run["urls"]["get"]
    return run


async def _replayed(gw: GatewayService, run_id: str, user: str | None, response: Response) -> dict:
    """The run an earlier request with the same key made, as it stands now."""
    stored = await gw.ctx.store.get("runs", run_id)
    if stored is None:  # deleted with its model
        raise HTTPException(404, detail=f"the run this {idempotency.HEADER} made, {run_id}, is gone")
    owner, name = stored["model_id"].split("/", 1)
    await model_or_404(gw.ctx, owner, name, user)  # made private since: as a GET of it would answer
    response.headers["Idempotent-Replayed"] = "true"
    return _answer(gw, stored, user, response)


TokenQuery = Q(None, max_length=100, description="the run's read token (runs made without an account)")


@router.get("/v1/runs/{run_id}/stream")
async def stream(run_id: str, request: Request, token: str | None = TokenQuery,
                 user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> StreamingResponse:
    """The run as Server-Sent Events: `progress` and `output` (the outputs so far) while it runs,
    then `logs` (the owner's), `error` and `done`; `Last-Event-ID` resumes after that event."""
    await services.readable_run(gw, run_id, user, token)
    after = streams.last_seen(request.headers.get("last-event-id"))
    try:
        # listening before the run is read: nothing that happens in between is missed
        reader = gw.replies.streams.listen(run_id)
    except streams.TooManyReaders:
        raise HTTPException(429, detail=f"run {run_id} has {streams.READERS_PER_RUN} streams open; "
                                        "read its state with GET instead", headers={"Retry-After": "5"}) from None
    return StreamingResponse(streams.events(gw.replies.streams, reader, gw.ctx.store, run_id, user, token, after),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/v1/runs/{run_id}")
async def get_run(run_id: str, token: str | None = TokenQuery, user: str | None = Depends(optional_user),
                  gw: GatewayService = Depends(gateway)) -> dict:
    return run_view(await services.readable_run(gw, run_id, user, token), viewer=user, token=token)


@router.post("/v1/runs/{run_id}/cancel", status_code=202)
async def cancel_run(run_id: str, token: str | None = TokenQuery, user: str | None = Depends(optional_user),
                     gw: GatewayService = Depends(gateway)) -> dict:
    doc = await services.cancel(gw, run_id, user, token)
    return run_view(await gw.ctx.store.get("runs", run_id) or doc, viewer=user, token=token)


@router.post("/v1/runs/{run_id}/feedback")
async def give_feedback(run_id: str, body: services.FeedbackBody, token: str | None = TokenQuery,
                        user: str | None = Depends(optional_user), gw: GatewayService = Depends(gateway)) -> dict:
    """Say what you think of a run you may read: a rating, the right answer (`label`), a comment.
    Each caller has one feedback per run; sending again revises it."""
    return await services.give_feedback(gw, run_id, user, token, body)


@router.get("/v1/runs")
async def my_runs(model: str | None = None, limit: int = Q(20, ge=1, le=200), cursor: str | None = None,
                  user: str = Depends(required_user), ctx: ServiceContext = Depends(context)) -> dict:
    where: dict[str, Any] = {"created_by": user}
    if model:
        where["model_id"] = model
    page = await ctx.store.find("runs", Query(where=where, order=Order("created_at", descending=True),
                                              limit=limit, cursor=cursor))
    # a model made private since takes its runs out of sight too
    visible = {m: await model_visible(ctx, m, user) for m in {d["model_id"] for d in page.items}}
    return {"items": [run_view(d, viewer=user) for d in page.items if visible[d["model_id"]]],
            "next_cursor": page.next_cursor}

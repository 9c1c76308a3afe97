"""The gateway: public API, identity, input validation, and the wait for run results."""
from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.contracts import topics
from services.gateway.access import load_secret
from services.gateway.ratelimit import Limiter
from services.gateway.throttle import Throttle, policies
from services.gateway.routes import router
from services.gateway.auth import cookie_secure, ensure_user
from services.gateway.domain import RequestError
from services.kit.portal import mount_portal
from services.gateway.projections import Projections
from services.gateway.replies import Replies
from services.gateway.sweeper import sweep_forever
from services.kit.runtime import ServiceContext, create_service
from services.kit.settings import Settings, upload_limit

DEFAULT_PORT = 8080


def _subscribe(ctx: ServiceContext) -> None:
    projections = Projections(ctx.store)
    replies = Replies(projections)
    ctx.state.update(projections=projections, replies=replies)
    ctx.bus.subscribe(topics.MODELS, projections.on_model)
    ctx.bus.subscribe(topics.BUILDS, projections.on_build)
    ctx.bus.subscribe(topics.RUN_STATUS, replies.on_projected_run)
    # status events written before they had a topic of their own (older executors, outboxes
    # not yet drained) are still on the runs topic; the projection ignores the requests there
    ctx.bus.subscribe(topics.RUNS, replies.on_projected_run)
    ctx.bus.subscribe(topics.RUN_STATUS, replies.on_run, group=f"feather-gateway-replies-{ctx.settings.instance_id}",
                      from_latest=True, urgent=True)


async def _start(ctx: ServiceContext) -> None:
    ctx.state["secret"] = load_secret(ctx.settings.gateway_secret, ctx.settings.data_dir)
    ctx.state["limiter"] = Limiter(ctx.store)
    ctx.state["rate_policies"] = policies(ctx.settings)  # the settings do not change while it runs
    ctx.state["password_slots"] = asyncio.Semaphore(ctx.settings.password_hashes_at_once)
    ctx.state["http"] = httpx.AsyncClient()
    ctx.state["sweeper"] = asyncio.create_task(sweep_forever(ctx), name="run-sweeper")
    if ctx.settings.admin_token:
        await ensure_user(ctx, ctx.settings.admin_user, ctx.settings.admin_token, token_name="feather up")


async def _stop(ctx: ServiceContext) -> None:
    ctx.state["sweeper"].cancel()
    await ctx.state["http"].aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service("gateway", settings, router=router, subscribe=_subscribe, on_start=_start,
                         on_stop=_stop, large_bodies={"/v1/files": upload_limit(settings.max_file_mb),
                                                      "/v1/models": upload_limit(settings.max_bundle_mb)})

    app.add_middleware(Throttle)  # outermost: a refused caller costs no body read
    # last: it answers every path the API does not
    mount_portal(app, secure=lambda request: cookie_secure(request, settings.cookie_secure))

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    return app

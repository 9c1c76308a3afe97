"""The gateway's wiring: its projections and reply waiters, the rate limiter, the HTTP client
it calls other services and fetches links with, its secret, and the sweeper."""
from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

import httpx
from fastapi import Request

from services.contracts import topics
from services.gateway.access import load_secret
from services.gateway.auth import ensure_user
from services.gateway.projections import Projections
from services.gateway.ratelimit import Limiter, policies
from services.gateway.replies import Replies
from services.gateway.sweeper import sweep_forever
from services.gateway.webhooks import Deliverer, on_run_status
from services.kit.runtime import Service, ServiceContext


class GatewayService(Service):
    def __init__(self, ctx: ServiceContext, *, http: httpx.AsyncClient, secret: bytes) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        self.projections = Projections(ctx.store)
        self.replies = Replies(self.projections)
        self.limiter = Limiter(ctx.store)
        self.rate_policies = policies(settings)  # the settings do not change while it runs
        self.password_slots = asyncio.Semaphore(settings.password_hashes_at_once)
        self.http = http
        self.secret = secret
        self.webhooks = Deliverer(ctx)
        self._sweeper: asyncio.Task[None] | None = None
        self._deliverer: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        bus, projections, replies = self.ctx.bus, self.projections, self.replies
        bus.subscribe(topics.MODELS, projections.on_model)
        bus.subscribe(topics.BUILDS, projections.on_build)
        # the gateway's part of a run's trace is its request: reading the run's events back (into
        # its projection, its webhooks, the requests waiting) makes no spans, which would be three
        # per run saying nothing the executor's and telemetry's do not
        bus.subscribe(topics.RUN_STATUS, replies.on_projected_run, traced=False)
        bus.subscribe(topics.RUN_STATUS, partial(on_run_status, self.ctx, self.webhooks.wake), traced=False)
        # status events written before they had a topic of their own (older executors, outboxes
        # not yet drained) are still on the runs topic; the projection ignores the requests there
        bus.subscribe(topics.RUNS, replies.on_projected_run, traced=False)
        bus.subscribe(topics.RUN_STATUS, replies.on_run, group=f"feather-gateway-replies-{self.ctx.settings.instance_id}",
                      from_latest=True, urgent=True, traced=False)

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(sweep_forever(self.ctx), name="run-sweeper")
        self._deliverer = asyncio.create_task(self.webhooks.run_forever(), name="webhook-deliverer")
        settings = self.ctx.settings
        if settings.admin_token:
            await ensure_user(self.ctx, settings.admin_user, settings.admin_token, token_name="feather up")

    async def stop(self) -> None:
        for task in (self._sweeper, self._deliverer, *self.webhooks.sending.values()):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.webhooks.http.aclose()
        await self.http.aclose()


def bootstrap(ctx: ServiceContext, *, http: httpx.AsyncClient | None = None,
              secret: bytes | None = None) -> GatewayService:
    """``http`` replaces the client for other services and links (tests give a mock transport)."""
    if secret is None:
        secret = load_secret(ctx.settings.gateway_secret, ctx.settings.data_dir)
    return GatewayService(ctx, http=http or httpx.AsyncClient(), secret=secret)


def gateway_of(app: Any) -> GatewayService:
    return app.state.service


async def gateway(request: Request) -> GatewayService:
    """The running gateway, for route handlers (use with ``Depends``)."""
    return gateway_of(request.app)

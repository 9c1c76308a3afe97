"""What every service is built from: settings, store, blobs, bus and outbox relay, one lifespan.

A service provides an APIRouter (its routes reach the context through ``context(request)``),
a ``subscribe(ctx)`` that registers its consumers, and if it needs them ``on_start(ctx)`` /
``on_stop(ctx)``, and ``health(ctx)`` for what its /healthz adds. Nothing happens at import time.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from services.contracts.events import Event
from services.kit import admin
from services.kit.blobs import BlobStore, open_blobs
from services.kit.body_limit import BodyLimit
from services.kit.bus import Bus
from services.kit.outbox import OutboxRelay, record
from services.kit.settings import Settings
from services.kit.store import InvalidCursor, Store, open_store

log = logging.getLogger("feather.service")

Hook = Callable[["ServiceContext"], Awaitable[None]]


@dataclass
class ServiceContext:
    name: str
    settings: Settings
    store: Store
    blobs: BlobStore
    bus: Bus
    relay: OutboxRelay
    state: dict[str, Any] = field(default_factory=dict)
    bus_ready: asyncio.Event = field(default_factory=asyncio.Event)

    def outbox(self, event: Event, *, event_id: str | None = None):
        """An outbox record for ``event``, to pass to ``store.save(..., events=[...])``."""
        return record(event, source=f"feather/{self.name}", event_id=event_id)

    async def save(self, collection: str, key: str, doc: dict[str, Any], *,
                   expected_version: int | None, events: Sequence[Any] = ()) -> int:
        """Write state and its events together, then wake the relay."""
        version = await self.store.save(collection, key, doc, expected_version=expected_version,
                                        events=list(events))
        if events:
            self.relay.nudge()
        return version


async def _start_bus(ctx: ServiceContext) -> None:
    delay = 0.2
    while True:
        try:
            await ctx.bus.start()
            ctx.bus_ready.set()
            ctx.relay.nudge()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker not up yet: the HTTP side serves meanwhile
            log.warning("%s: broker not reachable yet (%s), retrying", ctx.name, exc)
            with contextlib.suppress(Exception):
                await ctx.bus.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)


async def context(request: Request) -> ServiceContext:
    """The running service's context, for route handlers (use with ``Depends``).

    A coroutine, because FastAPI runs a plain function dependency on a worker thread.
    """
    return request.app.state.ctx


def create_service(
    name: str,
    settings: Settings,
    *,
    router: APIRouter | None = None,
    subscribe: Callable[[ServiceContext], None] | None = None,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
    health: Callable[[ServiceContext], dict[str, Any]] | None = None,
    large_bodies: dict[str, int] | None = None,
) -> FastAPI:
    """``large_bodies`` names the paths (uploads) whose bodies may exceed ``max_request_kb``, and
    the bytes each may carry."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)  # the platform's data is its own: model workers run as another uid
        store = open_store(settings.store_location(name))
        await store.start()
        blobs = open_blobs(str(settings.blobs_dir), s3_bucket=settings.s3_bucket,
                           s3_endpoint=settings.s3_endpoint)
        await blobs.start()
        bus = Bus(settings, name)
        relay = OutboxRelay(store, bus, poll_s=settings.outbox_poll_s)
        ctx = ServiceContext(name, settings, store, blobs, bus, relay)
        app.state.ctx = ctx
        if subscribe:
            subscribe(ctx)
        bus_task = asyncio.create_task(_start_bus(ctx), name=f"{name}-bus")
        relay.start()
        if on_start:
            await on_start(ctx)
        try:
            yield
        finally:
            if on_stop:
                await on_stop(ctx)
            bus_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bus_task
            await relay.stop()
            with contextlib.suppress(Exception):
                await bus.stop()
            await blobs.close()
            await store.close()

    app = FastAPI(title=f"feather {name}", lifespan=lifespan)
    default_limit = settings.max_request_kb * 1024
    app.add_middleware(BodyLimit, limit_for=lambda path: (large_bodies or {}).get(path, default_limit))
    if router is not None:
        app.include_router(router)
    app.include_router(admin.router)

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["query", "cursor"], "msg": "not a cursor this API gave out",
                                         "type": "value_error"}]}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        ctx: ServiceContext = app.state.ctx
        answer = {"status": "ok", "service": name, "bus": "ready" if ctx.bus_ready.is_set() else "connecting",
                  "outbox_published": ctx.relay.published,
                  "outbox_parked": await ctx.store.outbox_parked_count()}
        if health is not None:
            answer.update(health(ctx))
        return answer

    return app

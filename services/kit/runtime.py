"""What every service is built from: settings, store, blobs, bus and outbox relay, one lifespan.

A service has a ``bootstrap(ctx)`` that builds its ``Service``: the typed dependencies its
handlers take, with the hooks the lifespan calls (``subscribe``, ``start``, ``stop``,
``health``). Its routes reach it through a ``Depends`` of their own (``request.app.state.service``),
or reach the shared adapters through ``context``. Nothing happens at import time.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services.contracts.events import Event
from services.kit import admin
from services.kit.blobs import BlobStore, open_blobs
from services.kit.body_limit import BodyLimit
from services.kit.bus import Bus
from services.kit.metrics import RequestMetrics, ServiceMetrics
from services.kit.outbox import OutboxRelay, record
from services.kit.settings import Settings
from services.kit.identity import Identity
from services.kit.service_calls import ServiceCallsOnly
from services.kit.tracing import NoOpTracer, Tracer, provider_from_environment, tracer_of
from services.kit.store import InvalidCursor, Store, open_store

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.trace import TracerProvider

log = logging.getLogger("feather.service")


@dataclass
class ServiceContext:
    """The adapters every service has; what is particular to one service lives in its ``Service``."""
    name: str
    settings: Settings
    store: Store
    blobs: BlobStore
    bus: Bus
    relay: OutboxRelay
    metrics: ServiceMetrics
    tracer: Tracer = field(default_factory=NoOpTracer)
    bus_ready: asyncio.Event = field(default_factory=asyncio.Event)
    identity: Identity | None = None  # this service's key, and the others' (open_context sets it)

    def outbox(self, event: Event, *, event_id: str | None = None):
        """An outbox record for ``event``, to pass to ``store.save(..., events=[...])``."""
        return record(event, source=f"feather/{self.name}", event_id=event_id,
                      sign=None if self.identity is None else self.identity.sign)

    async def save(self, collection: str, key: str, doc: dict[str, Any], *,
                   expected_version: int | None, events: Sequence[Any] = ()) -> int:
        """Write state and its events together, then wake the relay."""
        version = await self.store.save(collection, key, doc, expected_version=expected_version,
                                        events=list(events))
        if events:
            self.relay.nudge()
        return version


class Service:
    """A service's dependencies and lifecycle; each service's ``bootstrap`` builds a subclass."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def subscribe(self) -> None:
        """Register the consumers on ``ctx.bus``; called before the bus starts."""

    async def start(self) -> None:
        """Called once the adapters are open and the bus is connecting."""

    async def stop(self) -> None:
        """Called first on shutdown, while the adapters are still open."""

    def health(self) -> dict[str, Any]:
        """What this service adds to /healthz."""
        return {}


S = TypeVar("S", bound=Service)
Connection = Callable[[ServiceContext], AbstractAsyncContextManager[None]]


def open_context(name: str, settings: Settings, *, store: Store | None = None,
                 blobs: BlobStore | None = None, bus: Bus | None = None,
                 tracer_provider: TracerProvider | None = None) -> ServiceContext:
    """The adapters ``settings`` name, or the ones given (tests pass their own). Spans go to
    ``tracer_provider``; without one, tracing is off."""
    store = store or open_store(settings.store_location(name))
    blobs = blobs or open_blobs(str(settings.blobs_dir), s3_bucket=settings.s3_bucket,
                                s3_endpoint=settings.s3_endpoint)
    bus = bus or Bus(settings, name)
    relay = OutboxRelay(store, bus, poll_s=settings.outbox_poll_s)
    metrics = ServiceMetrics(name)
    bus.on_dead_letter = lambda topic, group: metrics.dead_letters.labels(topic, group).inc()

    async def refresh() -> None:
        metrics.outbox_published.set(relay.published)
        metrics.outbox_pending.set(await store.outbox_pending_count())
        metrics.outbox_parked.set(await store.outbox_parked_count())
        metrics.consumer_lag.clear()
        for (group, topic), lag in (await bus.lag()).items():
            metrics.consumer_lag.labels(group, topic).set(lag)
    metrics.on_scrape(refresh)
    tracer = tracer_of(name, tracer_provider)
    bus.tracer = tracer
    identity = Identity.of(name, settings)
    bus.identity = identity
    return ServiceContext(name, settings, store, blobs, bus, relay, metrics, tracer, identity=identity)


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


@contextlib.asynccontextmanager
async def broker_connection(ctx: ServiceContext) -> AsyncIterator[None]:
    """Connect to the broker in the background, retrying until it is there; the HTTP side serves
    meanwhile."""
    task = asyncio.create_task(_start_bus(ctx), name=f"{ctx.name}-bus")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await ctx.bus.stop()


@contextlib.asynccontextmanager
async def running(ctx: ServiceContext, bootstrap: Callable[[ServiceContext], S], *,
                  connection: Connection = broker_connection) -> AsyncIterator[S]:
    """The service ``bootstrap`` builds on ``ctx``, started, and stopped in reverse order on exit.

    ``connection`` joins the bus: the broker by default; tests pass an in-memory one."""
    await ctx.store.start()
    try:
        await ctx.blobs.start()
        try:
            service = bootstrap(ctx)
            service.subscribe()
            async with connection(ctx):
                ctx.relay.start()
                try:
                    await service.start()
                    try:
                        yield service
                    finally:
                        await service.stop()
                finally:
                    await ctx.relay.stop()
        finally:
            await ctx.blobs.close()
    finally:
        await ctx.store.close()


async def context(request: Request) -> ServiceContext:
    """The running service's adapters, for route handlers (use with ``Depends``).

    A coroutine, because FastAPI runs a plain function dependency on a worker thread.
    """
    return request.app.state.service.ctx


def create_service(
    name: str,
    settings: Settings,
    bootstrap: Callable[[ServiceContext], Service] = Service,
    *,
    router: APIRouter | None = None,
    large_bodies: dict[str, int] | None = None,
    metrics_route: bool = True,
    tracer_provider: TracerProvider | None = None,
    callers: frozenset[str] | None = None,
) -> FastAPI:
    """``large_bodies`` names the paths (uploads) whose bodies may exceed ``max_request_kb``, and
    the bytes each may carry. ``metrics_route=False`` leaves /metrics off this app (the gateway
    serves it on its admin port: see ``metrics_app``). ``tracer_provider``: where spans go; by
    default what the OTEL_* variables say (none: tracing off)."""
    if tracer_provider is None:
        tracer_provider = provider_from_environment(name)
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)  # the platform's data is its own: model workers run as another uid
        async with running(open_context(name, settings, tracer_provider=tracer_provider), bootstrap) as service:
            app.state.service = service
            yield

    app = FastAPI(title=f"feather {name}", lifespan=lifespan, telemetry=_telemetry(tracer_provider))
    default_limit = settings.max_request_kb * 1024
    app.add_middleware(BodyLimit, limit_for=lambda path: (large_bodies or {}).get(path, default_limit))
    if callers is not None:  # before a body is read; and its refusals are counted, as any answer
        app.add_middleware(ServiceCallsOnly, identity=lambda: app.state.service.ctx.identity, callers=callers)
    app.add_middleware(RequestMetrics, metrics=lambda: _metrics_of(app))
    if router is not None:
        app.include_router(router)
    app.include_router(admin.router)

    @app.exception_handler(InvalidCursor)
    async def bad_cursor(_: Request, exc: InvalidCursor) -> JSONResponse:
        return JSONResponse({"detail": [{"loc": ["query", "cursor"], "msg": "not a cursor this API gave out",
                                         "type": "value_error"}]}, status_code=422)

    if metrics_route:
        app.add_api_route("/metrics", _metrics_endpoint(app), methods=["GET"], include_in_schema=False)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        service: Service = app.state.service
        ctx = service.ctx
        answer = {"status": "ok", "service": name, "bus": "ready" if ctx.bus_ready.is_set() else "connecting",
                  "outbox_published": ctx.relay.published,
                  "outbox_parked": await ctx.store.outbox_parked_count()}
        answer.update(service.health())
        return answer

    return app


def _telemetry(tracer_provider: TracerProvider | None) -> TelemetryConfig:
    """FastAPI's own OpenTelemetry support: one SERVER span per request, named by the route the
    router matched (the contrib instrumentation matches every request a second time to name it),
    and nothing without a provider. Its metrics and logs stay off (each service has its own), as
    do its dependency, endpoint and serialization spans, which cost more than they tell; it never
    adds exporters of its own, whatever FASTAPI_OTEL_AUTO_CONFIGURE says."""
    if tracer_provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {"tracer_provider": tracer_provider, "metrics": False, "logs": False, "operation_spans": False,
            "auto_configure": False, "exclude": lambda scope: scope.get("path") in ("/healthz", "/metrics")}


def _metrics_of(app: FastAPI) -> ServiceMetrics | None:
    service = getattr(app.state, "service", None)
    return service.ctx.metrics if service is not None else None


def _metrics_endpoint(app: FastAPI) -> Callable[[], Awaitable[Response]]:
    async def metrics() -> Response:
        found = _metrics_of(app)
        if found is None:
            return Response("starting\n", status_code=503, media_type="text/plain")
        body, content_type = await found.exposition()
        return Response(body, media_type=content_type)
    return metrics


def metrics_app(app: FastAPI) -> FastAPI:
    """A separate app that serves ``app``'s /metrics (and /healthz for its probe), for an admin port."""
    admin = FastAPI(title=f"{app.title} metrics", openapi_url=None, docs_url=None, redoc_url=None)
    admin.add_api_route("/metrics", _metrics_endpoint(app), methods=["GET"])

    @admin.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok" if _metrics_of(app) is not None else "starting"}
    return admin

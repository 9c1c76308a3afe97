"""Telemetry's wiring."""
from __future__ import annotations

from functools import partial

from services.contracts import topics
from services.kit.runtime import Service, ServiceContext
from services.telemetry import handlers


class TelemetryService(Service):
    def subscribe(self) -> None:
        store, bus = self.ctx.store, self.ctx.bus
        bus.subscribe(topics.RUNS, partial(handlers.on_run, store))
        bus.subscribe(topics.RUN_STATUS, partial(handlers.on_run, store))
        bus.subscribe(topics.FEEDBACK, partial(handlers.on_feedback, store))


def bootstrap(ctx: ServiceContext) -> TelemetryService:
    return TelemetryService(ctx)

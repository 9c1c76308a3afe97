"""Telemetry's wiring."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from functools import partial

import httpx

from services.contracts import topics
from services.kit.runtime import Service, ServiceContext
from services.telemetry import handlers, watch

log = logging.getLogger("feather.telemetry")


SWEEP_EVERY_S = 3600.0


class TelemetryService(Service):
    def __init__(self, ctx: ServiceContext, *, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(ctx)
        self.http = http or httpx.AsyncClient()  # for the owners' alert webhooks
        self._sweeper: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        store, bus = self.ctx.store, self.ctx.bus
        # recording a request takes its trace id from the event and makes no span: the run's
        # trace already has the request, and telemetry's part is its record of how the run ended
        bus.subscribe(topics.RUNS, partial(handlers.on_run, store, blobs=self.ctx.blobs), traced=False)
        bus.subscribe(topics.RUN_STATUS, partial(handlers.on_run, store, blobs=self.ctx.blobs))
        bus.subscribe(topics.FEEDBACK, partial(handlers.on_feedback, store))
        bus.subscribe(topics.FEEDBACK, partial(handlers.on_vote, store))
        bus.subscribe(topics.MODELS, partial(handlers.on_model, store))

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="rollup-sweeper")
        self._watcher = asyncio.create_task(self._watch_forever(), name="alert-watcher")

    async def stop(self) -> None:
        for task in (self._sweeper, self._watcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.http.aclose()

    async def _watch_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.alert_every_s)
            try:
                await watch.evaluate(self.ctx, self.http, datetime.now(timezone.utc))
            except Exception:  # tried again next time
                log.exception("evaluating alert rules failed")

    async def _sweep_forever(self) -> None:
        settings = self.ctx.settings
        while True:
            try:
                await handlers.sweep_rollups(self.ctx.store, datetime.now(timezone.utc),
                                             minute_days=settings.rollup_minute_days,
                                             hour_days=settings.rollup_hour_days)
            except Exception:  # tried again next time
                log.exception("sweeping old rollups failed")
            await asyncio.sleep(SWEEP_EVERY_S)


def bootstrap(ctx: ServiceContext) -> TelemetryService:
    return TelemetryService(ctx)

"""Telemetry's wiring."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timezone
from functools import partial

from services.contracts import topics
from services.kit.runtime import Service, ServiceContext
from services.telemetry import handlers

log = logging.getLogger("feather.telemetry")


SWEEP_EVERY_S = 3600.0


class TelemetryService(Service):
    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self._sweeper: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        store, bus = self.ctx.store, self.ctx.bus
        bus.subscribe(topics.RUNS, partial(handlers.on_run, store))
        bus.subscribe(topics.RUN_STATUS, partial(handlers.on_run, store))
        bus.subscribe(topics.FEEDBACK, partial(handlers.on_feedback, store))
        bus.subscribe(topics.FEEDBACK, partial(handlers.on_vote, store))
        bus.subscribe(topics.MODELS, partial(handlers.on_model, store))

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="rollup-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

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

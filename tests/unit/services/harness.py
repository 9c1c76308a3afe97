"""A service on SQLite in a temporary folder and FastStream's in-memory broker, for driving its
handlers through the bus without processes. Every event any service publishes is recorded."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from faststream.kafka import TestKafkaBroker

from services.contracts import topics
from senders import send_as_producer
from services.contracts.envelope import Envelope
from services.contracts.events import Event
from services.kit.identity import Identity
from services.kit.runtime import Service, ServiceContext, open_context, running
from services.kit.settings import Settings

S = TypeVar("S", bound=Service)
E = TypeVar("E", bound=Event)


class Recorder:
    """Every envelope on the catalogue's topics, as the consumers saw them."""

    def __init__(self) -> None:
        self.seen: list[Envelope] = []
        self._arrived = asyncio.Condition()

    async def __call__(self, envelope: Envelope) -> None:
        async with self._arrived:
            self.seen.append(envelope)
            self._arrived.notify_all()

    def of(self, kind: type[E]) -> list[E]:
        return [e.event for e in self.seen if isinstance(e.event, kind)]

    async def first(self, kind: type[E], where: Callable[[E], bool] = lambda _: True, timeout: float = 10) -> E:
        async def found() -> E:
            async with self._arrived:
                while True:
                    for event in self.of(kind):
                        if where(event):
                            return event
                    await self._arrived.wait()
        return await asyncio.wait_for(found(), timeout)


@contextlib.asynccontextmanager
async def in_memory(ctx: ServiceContext) -> AsyncIterator[None]:
    ctx.bus.register()
    async with TestKafkaBroker(ctx.bus.broker):
        ctx.bus_ready.set()
        ctx.relay.nudge()
        yield


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    # a broker address nothing answers on: the in-memory broker stands in for it
    return Settings(data_dir=tmp_path, kafka_bootstrap="127.0.0.1:1", kafka_idempotence=False,
                    outbox_poll_s=0.05, **overrides)


@contextlib.asynccontextmanager
async def started(name: str, bootstrap: Callable[[ServiceContext], S], tmp_path: Path,
                  **settings: Any) -> AsyncIterator[tuple[S, Recorder]]:
    """``bootstrap``'s service on ``ctx``, started, with a recorder of every event."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    ctx = open_context(name, settings_for(tmp_path, **settings))
    recorder = Recorder()
    for topic in topics.ALL:
        ctx.bus.subscribe(topic, recorder, group="test-recorder")
    async with running(ctx, bootstrap, connection=in_memory) as service:
        yield service, recorder


def as_gateway(settings: Settings, callee: str = "telemetry") -> dict[str, str]:
    """The headers of a call the gateway (its key in the same data folder) makes to ``callee``."""
    return Identity.of("gateway", settings).headers(callee)


async def publish(service: Service, event: Event, *, event_id: str | None = None, sender: str | None = None) -> None:
    """As another service would: straight onto the bus, signed by ``sender`` (by default the
    service that sends events of this kind)."""
    await send_as_producer(service.ctx.bus, event, event_id=event_id, sender=sender)

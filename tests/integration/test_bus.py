"""One test body for the bus, run in memory (FastStream's TestKafkaBroker) and on real Tansu."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.contracts import topics
from services.contracts.envelope import Envelope
from services.contracts.events import RunProgress
from services.kit.bus import Bus
from services.kit.settings import Settings


@contextlib.asynccontextmanager
async def running(bus: Bus, mode: str) -> AsyncIterator[Bus]:
    if mode == "memory":
        bus.register()
        async with TestKafkaBroker(bus.broker):
            yield bus
    else:
        await bus.start()
        try:
            yield bus
        finally:
            await bus.stop()


@pytest.fixture(params=["memory", "tansu"])
def bus_factory(request):
    if request.param == "tansu":
        bootstrap = request.getfixturevalue("tansu").bootstrap
    else:
        bootstrap = "127.0.0.1:1"

    def make() -> Bus:
        settings = Settings(kafka_bootstrap=bootstrap, kafka_idempotence=False, handler_retries=3,
                            kafka_session_timeout_ms=3000)
        # a fresh service name per test: its consumer group starts at the beginning
        return Bus(settings, f"test-{uuid.uuid4().hex[:8]}")

    return request.param, make


async def test_events_arrive_decoded_and_poison_goes_to_the_dead_letter_topic(bus_factory):
    mode, make = bus_factory
    bus = make()
    run_id = uuid.uuid4().hex
    seen: list[Envelope] = []
    attempts: dict[str, int] = {}
    dead: list[dict[str, str]] = []
    done = asyncio.Event()

    async def handler(envelope: Envelope) -> None:
        event = envelope.event
        assert isinstance(event, RunProgress)
        if event.run_id != run_id:
            return  # another test's message on the shared topic
        attempts[event.message] = attempts.get(event.message, 0) + 1
        if event.message == "poison":
            raise RuntimeError("cannot handle this")
        if event.message == "flaky" and attempts["flaky"] == 1:
            raise RuntimeError("first time only")
        seen.append(envelope)
        if event.message == "after":
            done.set()

    bus.subscribe(topics.RUNS, handler)

    @bus.broker.subscriber(topics.dead_letter(topics.RUNS), group_id=f"{bus.service}-dlq",
                           auto_offset_reset="earliest", fetch_max_wait_ms=5)
    async def on_dead(message: KafkaMessage) -> None:
        if message.headers.get("ce_id", "").startswith(run_id):
            dead.append(dict(message.headers))

    async with running(bus, mode):
        for i, text in enumerate(["first", "poison", "flaky", "after"]):
            # one key, so one partition and one order
            await bus.publish(RunProgress(run_id=run_id, message=text), event_id=f"{run_id}-{i}")
        await asyncio.wait_for(done.wait(), 30)
        for _ in range(200):
            if dead:
                break
            await asyncio.sleep(0.05)

    assert [e.event.message for e in seen] == ["first", "flaky", "after"]
    assert seen[0].id == f"{run_id}-0" and seen[0].type == "feather.run.progress.v1"
    assert attempts["poison"] == 3 and attempts["flaky"] == 2
    assert len(dead) == 1
    assert dead[0]["dlq_error"] == "RuntimeError: cannot handle this"
    assert dead[0]["dlq_topic"] == topics.RUNS

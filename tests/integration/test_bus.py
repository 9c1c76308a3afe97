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

    bus.subscribe(topics.RUN_STATUS, handler)

    @bus.broker.subscriber(topics.dead_letter(topics.RUN_STATUS), group_id=f"{bus.service}-dlq",
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
    assert dead[0]["dlq_topic"] == topics.RUN_STATUS


async def test_handled_messages_are_committed_and_a_failed_dead_letter_comes_back(tansu):
    """Offsets are committed only for handled messages: a consumer that
    takes over the group starts after them, and a message whose dead-letter publish failed is
    delivered again rather than skipped."""
    service = f"test-{uuid.uuid4().hex[:8]}"
    settings = Settings(kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False, handler_retries=2,
                        kafka_session_timeout_ms=3000)
    run_id = uuid.uuid4().hex
    seen: list[str] = []
    got = {"after": asyncio.Event(), "later": asyncio.Event()}

    async def handler(envelope: Envelope) -> None:
        event = envelope.event
        if event.run_id != run_id:
            return
        seen.append(event.message)
        if event.message == "poison":
            raise RuntimeError("cannot handle this")
        if event.message in got:
            got[event.message].set()

    first = Bus(settings, service)
    first.subscribe(topics.RUN_STATUS, handler)
    dead_letter = first._dead_letter
    failures = []

    async def dead_letter_fails_once(*args, **kwargs):
        if not failures and "cannot handle this" in args[-1]:  # other tests' events go as they come
            failures.append(1)
            raise ConnectionError("dead-letter topic unreachable")
        await dead_letter(*args, **kwargs)

    first._dead_letter = dead_letter_fails_once
    async with running(first, "tansu"):
        for i, text in enumerate(["first", "poison", "after"]):
            await first.publish(RunProgress(run_id=run_id, message=text), event_id=f"{run_id}-{i}")
        await asyncio.wait_for(got["after"].wait(), 30)
    # the poison message was tried, its dead-letter failed, so it was rewound and tried again
    assert seen == ["first", "poison", "poison", "poison", "poison", "after"]

    second = Bus(settings, service)  # same service, same group: it resumes after what was handled
    second.subscribe(topics.RUN_STATUS, handler)
    seen.clear()
    async with running(second, "tansu"):
        await second.publish(RunProgress(run_id=run_id, message="later"), event_id=f"{run_id}-3")
        await asyncio.wait_for(got["later"].wait(), 30)
    assert seen == ["later"]

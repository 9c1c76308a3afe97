"""One record the broker cannot take never holds up the others: it is parked, listed and replayed.
Runs on the real broker (Tansu), whose request limit is Kafka's 1 MiB."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.contracts import topics
from services.kit.admin import parked_view
from services.kit.bus import Bus
from services.kit.dead_letters import read_dead_letters
from services.kit.outbox import OutboxRelay
from services.kit.settings import Settings
from services.kit.store import OutboxRecord, SqliteStore


def record(body: bytes, key: str) -> OutboxRecord:
    return OutboxRecord(topic=topics.RUNS, key=key, headers={"ce_type": "run.requested", "ce_id": key}, body=body)


async def keys_on_the_topic(bootstrap: str, wanted: set[str], timeout_s: float = 20.0) -> set[str]:
    consumer = AIOKafkaConsumer(topics.RUNS, bootstrap_servers=bootstrap, group_id=f"t-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest")
    await consumer.start()
    seen: set[str] = set()
    try:
        async with asyncio.timeout(timeout_s):
            while not wanted <= seen:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    seen |= {m.key.decode() for m in messages if m.key}
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return seen & wanted


@pytest.fixture
async def relay(tansu, tmp_path):
    store = SqliteStore(str(tmp_path / "service.db"))
    await store.start()
    bus = Bus(Settings(kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False), f"test-{uuid.uuid4().hex[:8]}")
    await bus.start()
    try:
        yield OutboxRelay(store, bus)
    finally:
        await bus.stop()
        await store.close()


async def test_an_oversize_record_is_parked_and_the_records_after_it_are_published(relay, tansu):
    tag = uuid.uuid4().hex[:8]
    before, huge, after = f"{tag}-before", f"{tag}-huge", f"{tag}-after"
    await relay.store.save("runs", tag, {"n": 1}, expected_version=None, events=[
        record(b"{}", before), record(b"x" * (2 * 2**20), huge), record(b"{}", after)])
    assert await relay.drain() == 2
    assert await keys_on_the_topic(tansu.bootstrap, {before, after}) == {before, after}
    parked = await relay.store.outbox_parked()
    assert [p.record.key for p in parked] == [huge] and relay.parked == 1
    assert "MessageSizeTooLarge" in parked[0].reason
    shown = parked_view("test", parked[0])  # what feather admin outbox list prints
    assert shown["type"] == "run.requested" and shown["event_id"] == huge and shown["bytes"] == 2 * 2**20
    assert await relay.store.outbox_pending() == []  # nothing left to block the queue

    # an operator replays it: it goes back to the end of the queue, and is parked again, still
    # without holding up what was written after it
    await relay.store.outbox_replay([parked[0].record.seq])
    await relay.store.save("runs", f"{tag}-2", {"n": 1}, expected_version=None, events=[record(b"{}", f"{tag}-later")])
    assert await relay.drain() == 1
    assert await keys_on_the_topic(tansu.bootstrap, {f"{tag}-later"}) == {f"{tag}-later"}
    assert [p.record.key for p in await relay.store.outbox_parked()] == [huge]


async def test_a_broker_that_is_away_parks_nothing(tmp_path):
    store = SqliteStore(str(tmp_path / "service.db"))
    await store.start()
    bus = Bus(Settings(kafka_bootstrap="127.0.0.1:1", kafka_idempotence=False), "test-away")
    relay = OutboxRelay(store, bus)
    await store.save("runs", "r", {"n": 1}, expected_version=None, events=[record(b"{}", "k")])
    with pytest.raises(Exception):
        await relay.drain()  # the relay's loop backs off and tries again later
    assert await store.outbox_parked() == [] and len(await store.outbox_pending()) == 1
    await store.close()


async def test_dead_letters_are_listed_with_their_origin_and_error(tansu):
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    key = uuid.uuid4().hex
    try:
        await producer.send_and_wait(topics.dead_letter(topics.RUNS), b"poison", key=key.encode(), headers=[
            ("ce_type", b"run.requested"), ("dlq_error", b"ValueError: bad"), ("dlq_topic", topics.RUNS.encode()),
            ("dlq_group", b"feather-executor")])
    finally:
        await producer.stop()
    letters = [letter for letter in await read_dead_letters(Settings(kafka_bootstrap=tansu.bootstrap)) if letter.key == key.encode()]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.origin == topics.RUNS and letter.headers["dlq_error"] == "ValueError: bad"
    assert letter.body == b"poison" and letter.original_headers() == {"ce_type": "run.requested"}
    assert letter.id == f"{letter.topic}:{letter.partition}:{letter.offset}"

"""Reading the dead-letter topics, and sending a dead letter back to where it came from.

A consumer that keeps failing on a message publishes it to ``<topic>.dlq`` with the error and
its origin in the headers (see bus.py). Kafka topics are append-only, so a replayed letter
stays in its dead-letter topic; the caller records which ones it sent again.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.contracts import topics
from services.kit.kafka_security import client_options
from services.kit.settings import Settings

DLQ_HEADERS = ("dlq_error", "dlq_topic", "dlq_group")


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the dead-letter topic
    partition: int
    offset: int
    key: bytes | None
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def origin(self) -> str:
        return self.headers.get("dlq_topic") or self.topic.removesuffix(".dlq")

    def original_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k not in DLQ_HEADERS}


async def read_dead_letters(settings: Settings, *, limit: int = 1000, timeout_s: float = 10.0) -> list[DeadLetter]:
    """Every dead letter on the catalogue's dead-letter topics, oldest first per partition, up
    to ``limit``; reads from the start to the end offsets seen when it began."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, group_id=None,
                                **client_options(settings))
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        existing = await consumer.topics()  # also loads the partitions of every topic
        parts = [TopicPartition(t, p) for t in (topics.dead_letter(t) for t in topics.ALL) if t in existing
                 for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        left = {tp for tp in parts if ends[tp] > 0}
        async with asyncio.timeout(timeout_s):
            while left and len(found) < limit:
                batch = await consumer.getmany(*left, timeout_ms=500)
                for tp, messages in batch.items():
                    for m in messages:
                        if m.offset < ends[tp]:
                            found.append(DeadLetter(m.topic, m.partition, m.offset, m.key,
                                                    {k: v.decode(errors="replace") for k, v in m.headers or ()},
                                                    m.value or b""))
                    if (await consumer.position(tp)) >= ends[tp]:
                        left.discard(tp)
                for tp in list(left):
                    if (await consumer.position(tp)) >= ends[tp]:
                        left.discard(tp)
    finally:
        await consumer.stop()
    return found[:limit]


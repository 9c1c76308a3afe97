"""Consumer offsets, committed in the background once their messages are handled.

Committing after every message puts a broker round trip between each message and the next, and
on a busy run path that is the largest share of the broker's work. Here a message's offset is
only recorded when its handler is done; a background task commits what was recorded a few times
a second. Delivery stays at-least-once (nothing is committed before it is handled); a crash
replays at most the last interval's messages, which every handler tolerates (they are
idempotent).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger("feather.bus")


class Commits:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.pending: dict[AIOKafkaConsumer, dict[TopicPartition, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def handled(self, consumer: object, topic: str, partition: int, offset: int) -> None:
        """``offset`` of ``topic``/``partition`` is handled: the next start is after it."""
        if isinstance(consumer, AIOKafkaConsumer):  # the in-memory test broker has no offsets
            self.pending.setdefault(consumer, {})[TopicPartition(topic, partition)] = offset + 1

    def drop(self) -> None:
        """Forget what is not committed yet: the consumers are being replaced."""
        self.pending.clear()

    async def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for consumer, offsets in pending.items():
            try:
                await asyncio.wait_for(consumer.commit(offsets), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # revoked partition, stopped consumer: the next owner replays
                log.info("offset commit skipped: %s", exc)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if self.pending:
                await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="offset-commits")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

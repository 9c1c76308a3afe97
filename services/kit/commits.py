"""Consumer offsets, committed in the background once their messages are handled.

Committing after every message puts a broker round trip between each message and the next, and
on a busy run path that is the largest share of the broker's work. Here a message's offset is
only recorded when its handler is done; a background task commits what was recorded a few times
a second. Delivery stays at-least-once (nothing is committed before it is handled); a crash
replays what was handled since the last commit, which every handler tolerates (they are
idempotent).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger("feather.bus")

Offsets = dict[TopicPartition, int]


class Commits:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.epoch = 0  # bumped whenever the consumers are replaced
        self.pending: dict[AIOKafkaConsumer, Offsets] = {}
        self._task: asyncio.Task[None] | None = None

    def handled(self, consumer: object, topic: str, partition: int, offset: int, *, epoch: int) -> None:
        """``offset`` of ``topic``/``partition`` is handled: the group resumes after it.

        ``epoch`` is ``self.epoch`` as it was when the message was taken: a message taken by
        consumers that have since been replaced is not committed, it replays.
        """
        if epoch != self.epoch or not isinstance(consumer, AIOKafkaConsumer):
            return  # (the in-memory test broker has no offsets)
        self._merge(consumer, {TopicPartition(topic, partition): offset + 1})

    def drop(self) -> None:
        """The consumers are being replaced: forget what they have not committed yet.

        A commit under way is canceled too: the client retries a commit until the broker
        answers, and a broker that comes back empty must not receive the old positions, or the
        new consumers would skip the first records of the new topics.
        """
        self.epoch += 1
        self.pending.clear()
        if self._task is not None:
            self._task.cancel()
            self._task = asyncio.create_task(self._run(), name="offset-commits")

    def _merge(self, consumer: AIOKafkaConsumer, offsets: Offsets) -> None:
        mine = self.pending.setdefault(consumer, {})
        for tp, offset in offsets.items():
            mine[tp] = max(offset, mine.get(tp, 0))

    async def flush(self) -> None:
        pending, self.pending, epoch = self.pending, {}, self.epoch
        for consumer, offsets in pending.items():
            # a partition given to another member meanwhile is theirs to commit
            assigned = consumer.assignment()
            offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
            if not offsets:
                continue
            try:
                await asyncio.wait_for(consumer.commit(offsets), 5.0)
            except asyncio.CancelledError:
                if epoch == self.epoch:
                    self._merge(consumer, offsets)
                raise
            except Exception as exc:  # a rebalance under way: try again with the next flush
                log.info("offset commit postponed: %s", exc)
                if epoch == self.epoch:
                    self._merge(consumer, offsets)

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

"""The outbox relay: publishes what the store recorded, in order, until the broker has it.

A service writes its state and the events that state change implies in one store write. The
relay is the only thing that sends them. It wakes immediately when nudged after a write, and
also polls, so events written while the broker was down go out once it is back.
"""
from __future__ import annotations

import asyncio
import logging

from services.contracts.envelope import Codec, codec as default_codec
from services.contracts.events import Event
from services.kit.bus import Bus
from services.kit.store.port import OutboxRecord, Store

log = logging.getLogger("feather.outbox")


def record(event: Event, *, source: str, event_id: str | None = None,
           codec: Codec = default_codec) -> OutboxRecord:
    headers, body = codec.encode(event, source=source, event_id=event_id)
    return OutboxRecord(topic=event.topic, key=event.key(), headers=headers, body=body)


class OutboxRelay:
    def __init__(self, store: Store, bus: Bus, *, poll_s: float = 1.0, batch: int = 200) -> None:
        self.store = store
        self.bus = bus
        self.poll_s = poll_s
        self.batch = batch
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def nudge(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Publish everything pending; returns how many records went out."""
        sent = 0
        while True:
            pending = await self.store.outbox_pending(self.batch)
            if not pending:
                return sent
            done: list[int] = []
            try:
                for rec in pending:
                    await self.bus.publish_raw(rec.topic, rec.key, dict(rec.headers), rec.body)
                    assert rec.seq is not None
                    done.append(rec.seq)
            finally:
                if done:
                    await self.store.outbox_mark_sent(done)
                    sent += len(done)
                    self.published += len(done)

    async def _run(self) -> None:
        backoff = self.poll_s
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.drain()
                backoff = self.poll_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: keep the records, try again later
                log.warning("outbox relay: publish failed, will retry: %s", exc)
                backoff = min(max(backoff * 2, 0.2), 5.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            try:
                await asyncio.wait_for(self.drain(), timeout=2.0)
            except Exception:  # the broker may be gone at shutdown; the records stay in the store
                pass

"""The outbox relay: publishes what the store recorded, in order, until the broker has it.

A service writes its state and the events that state change implies in one store write. The
relay is the only thing that sends them. It wakes immediately when nudged after a write, and
also polls, so events written while the broker was down go out once it is back.

A record the broker refuses for what it is (too large, a topic that cannot exist), rather than
because the broker is away, is tried a few times and then parked: kept in the store with the
reason, counted, listed by ``feather admin outbox list`` and sent again by ``... replay``. The
records behind it go out meanwhile, so one bad record never holds up a service's events.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError, TopicAuthorizationFailedError
from faststream.exceptions import FastStreamException

from services.contracts.envelope import Codec, codec as default_codec
from services.contracts.events import Event
from services.kit.bus import Bus
from services.kit.tracing import current_traceparent
from services.kit.store.port import OutboxRecord, Store

log = logging.getLogger("feather.outbox")
# a produce can be retried for the producer's request timeout (10 s) before a broker takes it
RESEND_WINDOW_S = 15.0
KEEP_S = 60.0
KEEP_MAX = 10_000
PARK_AFTER = 3  # tries of a record the broker refuses for what it is
# what the broker says about a record itself; anything else (timeouts, lost connections) is
# about the broker, and every record waits for it to come back
RECORD_ERRORS = (MessageSizeTooLargeError, InvalidTopicError, TopicAuthorizationFailedError, ValueError, TypeError)


def about_the_record(exc: BaseException) -> bool:
    # FastStream's own errors (some are ValueErrors) say the producer is not ready: that is the broker's state
    return isinstance(exc, RECORD_ERRORS) and not isinstance(exc, FastStreamException)


def record(event: Event, *, source: str, event_id: str | None = None, codec: Codec = default_codec,
           sign: Callable[[bytes], str] | None = None) -> OutboxRecord:
    headers, body = codec.encode(event, source=source, event_id=event_id, traceparent=current_traceparent(),
                                 sign=sign)
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
        # what went out lately, to send again when the broker comes back: a record produced just
        # as it went away may have been taken by an emptied broker that then lost it
        self._recent: collections.deque[tuple[float, OutboxRecord]] = collections.deque()
        self._rejoins_seen = 0
        self.parked = 0  # parked by this relay since it started

    def nudge(self) -> None:
        self._wake.set()

    async def _resend_recent(self) -> None:
        """After the broker came back, publish again what went out shortly before it went away
        (consumers ignore what they already have, by event id)."""
        if self.bus.rejoins == self._rejoins_seen or self.bus.back_after is None:
            return
        since = self.bus.back_after - RESEND_WINDOW_S
        for sent_at, rec in list(self._recent):
            if sent_at >= since:
                await self.bus.publish_raw(rec.topic, rec.key, dict(rec.headers), rec.body)
        self._rejoins_seen = self.bus.rejoins

    async def drain(self) -> int:
        """Publish everything pending; returns how many records went out."""
        sent = 0
        await self._resend_recent()
        while True:
            pending = await self.store.outbox_pending(self.batch)
            if not pending:
                return sent
            done: list[int] = []
            try:
                for rec in pending:
                    assert rec.seq is not None
                    if await self._publish(rec):
                        done.append(rec.seq)
                        self._remember(rec)
            finally:
                if done:
                    await self.store.outbox_mark_sent(done)
                    sent += len(done)
                    self.published += len(done)

    async def _publish(self, rec: OutboxRecord) -> bool:
        """Send one record; False when it was parked instead. Raises while the broker is away."""
        for attempt in range(1, PARK_AFTER + 1):
            try:
                await self.bus.publish_raw(rec.topic, rec.key, dict(rec.headers), rec.body)
                return True
            except Exception as exc:
                if not about_the_record(exc):
                    raise
                if attempt == PARK_AFTER:
                    assert rec.seq is not None
                    reason = f"{type(exc).__name__}: {exc}"
                    await self.store.outbox_park(rec.seq, reason)
                    self.parked += 1
                    log.error("outbox relay: parked record %s for %s (%d bytes): %s",
                              rec.seq, rec.topic, len(rec.body), reason)
        return False

    def _remember(self, rec: OutboxRecord) -> None:
        now = time.monotonic()
        self._recent.append((now, rec))
        while self._recent and (self._recent[0][0] < now - KEEP_S or len(self._recent) > KEEP_MAX):
            self._recent.popleft()

    async def _run(self) -> None:
        backoff = self.poll_s
        retry = 0.0  # after a failed publish: from 0.2 s, doubling up to 5 s, whatever the poll
        me = asyncio.current_task()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
                backoff, retry = self.poll_s, 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: keep the records, try again later
                if me is not None and me.cancelling():
                    # a cancel that arrived as an inner wait timed out can surface as that
                    # timeout's error instead; stopping must still stop
                    raise asyncio.CancelledError from exc
                log.warning("outbox relay: publish failed, will retry: %s", exc)
                backoff = retry = min(max(retry * 2, 0.2), 5.0)

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

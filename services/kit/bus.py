"""The bus: FastStream's KafkaBroker with feather's delivery rules.

- Producer: acks=all (and idempotence where the broker supports it).
- Consumers: one group per service; an offset is committed only after its message is handled.
- A handler that keeps failing is retried a bounded number of times, then the message goes to
  ``<topic>.dlq`` with the error in its headers and is committed, so a partition never stalls.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy

from services.contracts import topics
from services.contracts.envelope import Codec, Envelope, UnknownEvent, codec as default_codec, signed_bytes
from services.contracts.events import Event
from services.kit.settings import Settings
from services.kit.identity import Identity
from services.kit.kafka_security import broker_security, client_options
from services.kit.tracing import NoOpTracer, Tracer, consumer_span, current_traceparent

log = logging.getLogger("feather.bus")

Handler = Callable[[Envelope], Awaitable[None]]
LOOK_AGAIN_S = 30.0  # the longest the watch goes without asking the broker for its topics


@dataclass
class _Group:
    group_id: str
    from_latest: bool
    urgent: bool = False
    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    traced: dict[str, bool] = field(default_factory=dict)  # by topic: does handling a message make a span


async def _whole_message(message: KafkaMessage) -> KafkaMessage:
    return message


async def _close_quietly(admin: AIOKafkaAdminClient) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(admin.close(), 3.0)


class Bus:
    def __init__(self, settings: Settings, service: str, *, codec: Codec = default_codec) -> None:
        self.settings = settings
        self.service = service
        self.codec = codec
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=settings.kafka_idempotence,
            linger_ms=0,
            client_id=f"feather-{service}",
            logger=None,
            graceful_timeout=10.0,
            request_timeout_ms=10_000,
            security=broker_security(settings),
        )
        self._groups: dict[str, _Group] = {}
        self._registered = False
        self._admin: AIOKafkaAdminClient | None = None
        self._closing: set[asyncio.Task[None]] = set()
        # a connection to the broker kept open, unused, by the watch: its end is the broker's
        self._sentinel: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        # set while the broker has this catalogue's topics: a record produced to a restarted,
        # empty broker before they are made again can land in a topic that is then made anew
        self._topics_ready = asyncio.Event()
        self._topics_ready.set()  # cleared when the broker goes away, set again once they are made
        # when the broker was last seen gone, once it is back: what was produced around then may
        # have gone into a broker that then lost it (an emptied broker's topics made anew)
        self.back_after: float | None = None
        self.rejoins = 0
        self.on_dead_letter: Callable[[str, str], None] | None = None  # (topic, group), for metrics
        self.tracer: Tracer = NoOpTracer()
        # signs what this service sends and checks what others send (None: it can do neither,
        # so events that must be signed are refused)
        self.identity: Identity | None = None

    def subscribe(self, topic: str, handler: Handler, *, group: str | None = None,
                  from_latest: bool = False, urgent: bool = False, traced: bool = True) -> None:
        """Call ``handler`` for every event on ``topic``; call before ``start``.

        All subscriptions of one group share one consumer: several consumers in one group with
        different topics would make every join rebalance the others. Handling a message is a span
        of its event's trace unless every subscription of the group to that topic says
        ``traced=False``: for handlers that only mirror other services' events, whose span per
        event would say nothing the trace does not already hold.
        """
        group_id = group or f"feather-{self.service}"
        spec = self._groups.setdefault(group_id, _Group(group_id, from_latest))
        spec.handlers.setdefault(topic, []).append(handler)
        spec.urgent = spec.urgent or urgent
        spec.traced[topic] = spec.traced.get(topic, False) or traced

    def register(self) -> None:
        """Turn the subscriptions into consumers (``start`` does it; in-memory tests call it)."""
        if self._registered:
            return
        for group_id, spec in self._groups.items():
            self.broker.subscriber(
                *spec.handlers,
                group_id=group_id,
                # offsets are committed once handled (see consume)
                ack_policy=AckPolicy.MANUAL,
                auto_offset_reset="latest" if spec.from_latest else "earliest",
                # a short fetch wait costs broker CPU, so only groups on a request's path use it
                fetch_max_wait_ms=self.settings.kafka_fetch_wait_ms if spec.urgent
                else self.settings.kafka_background_fetch_wait_ms,
                session_timeout_ms=self.settings.kafka_session_timeout_ms,
                heartbeat_interval_ms=max(100, self.settings.kafka_session_timeout_ms // 3),
                # the fetch loop wakes on its own replies, on consumption and on rebalance; this is
                # only how often it also looks without cause (aiokafka's 200 ms wakes an idle
                # consumer five times a second)
                consumer_timeout_ms=1000,
                # hand the handler FastStream's message as it is: asking for it through an
                # annotation makes the dependency injector fetch it on a worker thread, per message
                decoder=_whole_message,
            )(self._consumer(spec))
        self._registered = True

    def _consumer(self, spec: "_Group") -> Callable[[KafkaMessage], Awaitable[None]]:
        async def consume(message):  # type: ignore[no-untyped-def]  # a KafkaMessage, see register
            raw = message.raw_message
            try:
                await self._handle(spec, raw.topic, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # even the dead-letter publish failed: rewind, so the message comes back
                await message.nack()
                raise
            await message.ack()  # committed only once handled

        return consume

    async def _handle(self, spec: "_Group", topic: str, message: KafkaMessage) -> None:
        """Every handler of ``topic`` gets the event, each retried a few times and then the
        message dead-lettered; raises only if the dead-letter publish itself fails."""
        try:
            envelope = self.codec.decode(dict(message.headers), message.body)
        except (UnknownEvent, ValueError) as exc:
            await self._dead_letter(spec, topic, message, f"undecodable: {exc}")
            return
        if (untrusted := self._untrusted(envelope, dict(message.headers), message.body)) is not None:
            await self._dead_letter(spec, topic, message, untrusted)  # kept for an operator to see
            return
        if not spec.traced.get(topic, True):
            await self._handle_envelope(spec, topic, message, envelope)
            return
        with consumer_span(self.tracer, topic, spec.group_id, envelope.traceparent, envelope.type):
            await self._handle_envelope(spec, topic, message, envelope)

    def _untrusted(self, envelope: Envelope, headers: dict[str, str], body: bytes) -> str | None:
        """Why an event that must be signed by its producer cannot be trusted; None if it can."""
        allowed = envelope.event.signed_by
        if not allowed:
            return None
        if envelope.sender not in allowed:
            return f"untrusted: {envelope.type} is sent by {' or '.join(sorted(allowed))} only, not {envelope.sender!r}"
        if not envelope.signature:
            return f"untrusted: {envelope.type} from {envelope.sender} is not signed"
        if self.identity is None or not self.identity.signed_by(envelope.sender, signed_bytes(headers, body),
                                                                envelope.signature):
            return f"untrusted: the signature of {envelope.type} does not hold for {envelope.sender}'s key"
        return None

    async def _handle_envelope(self, spec: "_Group", topic: str, message: KafkaMessage, envelope: Envelope) -> None:
        retries = self.settings.handler_retries
        for handler in spec.handlers.get(topic, ()):
            for attempt in range(1, retries + 1):
                try:
                    await handler(envelope)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the handler's own failure: retry, then dead-letter
                    log.warning("%s: %s failed (attempt %d/%d): %s", self.service, envelope.type,
                                attempt, retries, exc)
                    if attempt == retries:
                        await self._dead_letter(spec, topic, message, f"{type(exc).__name__}: {exc}")
                        return
                    # about 1.5 s in all by default: long enough to ride out a store failover
                    await asyncio.sleep(min(0.05 * 2**attempt, 2.0))

    async def _dead_letter(self, spec: "_Group", topic: str, message: KafkaMessage, error: str) -> None:
        if self.on_dead_letter is not None:
            self.on_dead_letter(topic, spec.group_id)
        headers = {k: v for k, v in dict(message.headers).items() if isinstance(v, str)}
        headers.update({"dlq_error": error[:1000], "dlq_topic": topic, "dlq_group": spec.group_id})
        log.error("%s: dead-lettering a message from %s: %s", self.service, topic, error)
        raw = message.raw_message
        await self.broker.publish(message.body, topics.dead_letter(topic),
                                  key=getattr(raw, "key", None), headers=headers)

    async def publish(self, event: Event, *, event_id: str | None = None) -> None:
        """Send ``event`` now, outside the outbox (advisory events: progress, a run started), as
        part of the trace it is sent in, like an event the outbox records."""
        headers, body = self.codec.encode(event, source=f"feather/{self.service}", event_id=event_id,
                                          traceparent=current_traceparent(),
                                          sign=None if self.identity is None else self.identity.sign)
        await self.publish_raw(event.topic, event.key(), headers, body)

    async def publish_raw(self, topic: str, key: str, headers: dict[str, str], body: bytes) -> None:
        if not self._topics_ready.is_set():
            try:
                async with asyncio.timeout(5.0):  # unlike wait_for, never swallows a cancel
                    await self._topics_ready.wait()
            except TimeoutError:
                raise ConnectionError("the broker's topics are not there yet") from None
        await self.broker.publish(body, topic, key=key.encode(), headers=dict(headers))

    async def lag(self) -> dict[tuple[str, str], int]:
        """Messages on each (group, topic) not yet handled: the partitions' ends less the committed
        offsets, over the partitions this instance holds. Empty while not connected."""
        found: dict[tuple[str, str], int] = {}
        for subscriber in self.broker.subscribers:
            consumer = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            try:
                for tp in consumer.assignment():
                    end = consumer.highwater(tp)
                    if end is None:
                        continue
                    committed = await asyncio.wait_for(consumer.committed(tp), 2.0) or 0
                    key = (subscriber.group_id or "", tp.topic)
                    found[key] = found.get(key, 0) + max(0, end - committed)
            except Exception:  # a rebalance or the broker away: no figure this time
                continue
        return found

    async def ensure_topics(self) -> None:
        """Create the catalogue's topics (and their dead-letter topics) if they are missing."""
        wanted = [*topics.ALL, *(topics.dead_letter(t) for t in topics.ALL)]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, **client_options(self.settings))
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            new = [NewTopic(t, self.settings.kafka_partitions, 1) for t in wanted if t not in existing]
            if new:
                try:
                    await admin.create_topics(new)
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()

    async def _topics(self) -> set[str]:
        # one connection kept for these checks: opening one twice a second costs both sides
        if self._admin is None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, request_timeout_ms=2000,
                                        **client_options(self.settings))
            try:
                await admin.start()
            except BaseException:
                self._discard(admin)
                raise
            self._admin = admin
        try:
            return set(await self._admin.list_topics())
        except BaseException:
            admin, self._admin = self._admin, None
            self._discard(admin)
            raise

    def _discard(self, admin: AIOKafkaAdminClient | None) -> None:
        """Close an admin client in the background: it may be mid-request on a broker that is
        gone, and whoever gives it up (often a task being canceled) must not wait on it."""
        if admin is not None:
            task = asyncio.get_running_loop().create_task(_close_quietly(admin))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _watch(self) -> None:
        """Stop consuming while the broker is away; rejoin from scratch when it is back.

        A broker that restarts empty (the embedded one keeps everything in memory) has lost the
        topics and the committed offsets. A consumer that kept its old in-memory positions would
        skip the first records of the new topics and commit past them, so consumers are stopped
        as soon as the broker is unreachable and started fresh once it answers again: they resume
        from the committed offsets on a durable broker, or from the start of the new topics on an
        emptied one. Every handler is idempotent, so reading something twice is harmless.
        """
        away = False
        away_since = time.monotonic()
        while True:
            await self._until_next_look(away)
            try:
                present = await asyncio.wait_for(self._topics(), 5.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                if not away:
                    log.warning("%s: the broker is unreachable; pausing consumers", self.service)
                    away = True
                    away_since = time.monotonic()
                    self._topics_ready.clear()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self.broker.stop(), 15.0)
                continue
            if away or not set(topics.ALL) <= present:
                log.warning("%s: the broker is back; recreating topics and rejoining", self.service)
                self._topics_ready.clear()
                try:
                    await self.ensure_topics()
                    self._topics_ready.set()
                    if not away:
                        await self.broker.stop()
                        away_since = time.monotonic()
                    await self.broker.start()
                    away = False
                    self.back_after = away_since
                    self.rejoins += 1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("%s: rejoining failed, will retry: %s", self.service, exc)

    async def _until_next_look(self, away: bool) -> None:
        """Wait until the broker is worth looking at again: soon while it is away; otherwise when
        the connection this bus holds open to it closes (the broker stopped, or restarted and
        lost its topics), and at the latest after LOOK_AGAIN_S. So an idle platform asks its
        broker nothing. Only in plaintext: a TLS or SASL listener may drop a connection that
        never shakes hands, so there the bus looks every ``bus_watch_s``."""
        if away or self.settings.kafka_security_protocol != "PLAINTEXT":
            await asyncio.sleep(self.settings.bus_watch_s)
            return
        if self._sentinel is None:
            # opened before the look that follows the wait, so a restart between the two is seen
            host, _, port = self.settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
            try:
                self._sentinel = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 2.0)
            except (OSError, ValueError, asyncio.TimeoutError):
                await asyncio.sleep(self.settings.bus_watch_s)
                return
            return  # look now, with the connection in place
        reader, writer = self._sentinel
        try:
            # the broker never writes on a connection that asked nothing: any return is its end
            await asyncio.wait_for(reader.read(1), LOOK_AGAIN_S)
        except (OSError, asyncio.TimeoutError):
            pass
        self._sentinel = None
        writer.close()

    async def start(self) -> None:
        self.register()
        await self.ensure_topics()
        await self.broker.start()
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.service}-bus-watch")

    async def stop(self) -> None:
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait([watcher], timeout=5.0)
        if self._sentinel is not None:
            self._sentinel[1].close()
            self._sentinel = None
        admin, self._admin = self._admin, None
        self._discard(admin)
        if self._closing:
            await asyncio.wait(list(self._closing), timeout=3.0)
        await self.broker.stop()

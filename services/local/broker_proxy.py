"""A Kafka-protocol proxy that ``feather up`` puts in front of its embedded broker, so that a
consumer's Fetch is answered as soon as a record for it arrives, as Kafka answers it.

Tansu answers a Fetch that finds nothing by looking again at fractions of the Fetch's wait, and
a Produce wakes no waiting Fetch: consumers would have to choose between a long wait (latency)
and a short one (a round trip every few milliseconds for each consumer, even when idle). Here
every byte passes through unchanged, except:

- a Fetch whose partitions hold nothing past the offsets it asks for (their high watermarks are
  known from the broker's earlier answers) is held here, without asking the broker;
- it goes on with a wait of 0 as soon as the broker acknowledges a Produce to its topic, and
  the broker answers at once with the record; or when its wait runs out, and the broker answers
  at once that there is nothing.

A consumer that asks to wait more than 500 ms hears of a record 50 ms after it arrives, so that
the consumers on a run's path, which ask to wait 500 ms, go first. A Fetch that names fewer partitions than the client's last one is held 5 ms at most: the client
keeps the records of the others until its handler takes them, and then wants those partitions
again, which it cannot ask for while this Fetch is out.

Responses on a connection keep the order of their requests: a held Fetch holds the requests
behind it on its connection (aiokafka keeps one Fetch in flight per connection, and sends little
else on it). Requests of versions the proxy does not read pass through as they are.

    python -m services.local.broker_proxy --listen 127.0.0.1:9092 --upstream 127.0.0.1:9093
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import struct
from collections import deque
from typing import Any

from aiokafka.protocol import fetch

log = logging.getLogger("feather.broker_proxy")
PRODUCE, FETCH = 0, 1
TopicPartition = tuple[str, int]


# the versions read here (aiokafka sends v4 to v11); others pass through untouched
FETCH_REQUESTS = {cls.API_VERSION: cls for name, cls in vars(fetch).items()
                  if name.startswith("FetchRequest_v") and 4 <= cls.API_VERSION <= 11}
PRODUCE_VERSIONS = range(3, 9)
PARTIAL_WAIT_S = 0.005  # the longest a Fetch naming fewer partitions than the last is held
# The fetch waits consumers behind the proxy ask for. A held Fetch is answered as soon as a record
# arrives, so a long wait costs no latency; it only sets how often an idle consumer asks (kept
# under the clients' 10 s request timeout).
URGENT_WAIT_MS = 5000  # the consumers on a run's path
BACKGROUND_WAIT_MS = 8000  # the others
# A consumer that asks to wait longer than the urgent ones is in no hurry: it hears of a record
# BACKGROUND_DELAY_S later, so that on a small machine the consumers on a run's path handle it
# first, as they do when the broker is polled less often for the others.
BACKGROUND_DELAY_S = 0.05


class _Reader:
    """Reads a response or request body in place, skipping what it does not need (records)."""

    def __init__(self, data: bytes, at: int) -> None:
        self.data, self.at = data, at

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return value

    def skip(self, size: int) -> None:
        self.at += size

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        text = self.data[self.at:self.at + length].decode()
        self.at += length
        return text

    def skip_bytes(self) -> None:
        length = self.take(">i")  # before adding: ``self.at += self.take(...)`` would lose the take's advance
        self.at += max(length, 0)


def _produced_to(frame: bytes) -> tuple[int, list[TopicPartition]]:
    """A Produce request's acks and the partitions it writes to (v3 to v8)."""
    body = _Reader(frame, _body_at(frame))
    body.string()  # transactional id
    acks = body.take(">h")
    body.skip(4)  # timeout
    tps = []
    for _ in range(body.take(">i")):
        topic = body.string() or ""
        for _ in range(body.take(">i")):
            tps.append((topic, body.take(">i")))
            body.skip_bytes()  # the records
    return acks, tps


def _high_watermarks(frame: bytes, version: int) -> list[tuple[TopicPartition, int, int]]:
    """(partition, error code, high watermark) of each partition a Fetch response (v4 to v11) answers."""
    body = _Reader(frame, 4)  # after the correlation id (response header v0)
    body.skip(4)  # throttle time
    if version >= 7:
        body.skip(6)  # error code, session id
    found = []
    for _ in range(body.take(">i")):
        topic = body.string() or ""
        for _ in range(body.take(">i")):
            partition, error, high = body.take(">i"), body.take(">h"), body.take(">q")
            body.skip(8 if version < 5 else 16)  # last stable offset (and log start offset)
            body.skip(16 * max(body.take(">i"), 0))  # aborted transactions
            if version >= 11:
                body.skip(4)  # preferred read replica
            body.skip_bytes()  # the records
            found.append(((topic, partition), error, high))
    return found


def _field(request_class: Any, *names: str) -> int:
    """Where the first of ``names`` is among a Fetch request's partition fields."""
    topics = request_class.SCHEMA.fields[request_class.SCHEMA.names.index("topics")].array_of
    partitions = topics.fields[1].array_of
    return next(partitions.names.index(n) for n in names if n in partitions.names)


def _body_at(frame: bytes) -> int:
    """Where a request's body starts: after api key, version, correlation id and client id
    (request header v1, which every version read here uses)."""
    (length,) = struct.unpack_from(">h", frame, 8)
    return 10 + max(length, 0)


# where each version's partition entries keep the offset asked for
FETCH_OFFSET_AT = {version: _field(cls, "fetch_offset", "offset") for version, cls in FETCH_REQUESTS.items()}


class Watermarks:
    """What the proxy knows of each partition: its high watermark as the broker last said; and
    the Fetches held, by topic.

    A produced record wakes every Fetch held on its topic, not only those asking for its
    partition: a consumer keeps one Fetch in flight per broker, and leaves out of it the
    partitions whose records it has not handed over yet, so the record it wants next may be on a
    partition its held Fetch does not name. Woken, that Fetch goes on with no wait, and the
    consumer asks again for every partition it wants.
    """

    def __init__(self) -> None:
        self.known: dict[TopicPartition, int] = {}
        self.produced_count: dict[TopicPartition, int] = {}
        self.waiting: dict[str, set[asyncio.Event]] = {}

    def nothing_new(self, offsets: dict[TopicPartition, int]) -> bool:
        return bool(offsets) and all(tp in self.known and offset >= self.known[tp] for tp, offset in offsets.items())

    def produced(self, tp: TopicPartition) -> None:
        self.produced_count[tp] = self.produced_count.get(tp, 0) + 1
        self.known.pop(tp, None)  # past what was known: the next Fetch asks the broker
        for woken in self.waiting.get(tp[0], ()):
            woken.set()

    def answered(self, tp: TopicPartition, high_watermark: int, produced_before: int) -> None:
        # an answer computed before a Produce it crossed on the way must not hide that record
        if self.produced_count.get(tp, 0) == produced_before:
            self.known[tp] = high_watermark

    async def wait(self, topics: set[str], timeout_s: float) -> bool:
        """Until a record is produced to one of ``topics`` (True) or ``timeout_s`` passes (False)."""
        woken = asyncio.Event()
        for topic in topics:
            self.waiting.setdefault(topic, set()).add(woken)
        try:
            async with asyncio.timeout(timeout_s):
                await woken.wait()
            return True
        except TimeoutError:
            return False
        finally:
            for topic in topics:
                self.waiting[topic].discard(woken)
                if not self.waiting[topic]:
                    del self.waiting[topic]


class BrokerProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.watermarks = Watermarks()
        self.held = 0  # Fetches answered without the broker's waiting, since start
        self.connections: set[asyncio.Task[None]] = set()

    async def serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        if me is not None:
            self.connections.add(me)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            # the broker is away: the client sees what it would see without the proxy, and what
            # was known of the partitions goes (a broker that comes back empty starts again at 0)
            self.watermarks.known.clear()
            client_writer.close()
            if me is not None:
                self.connections.discard(me)
            return
        expected: deque[tuple[int, int, Any]] = deque()  # what each response on the way answers
        answers = asyncio.create_task(self._answers(up_reader, client_writer, expected))
        fetched: list[frozenset[TopicPartition]] = [frozenset()]  # what this client's last Fetch named
        try:
            while (frame := await _read_frame(client_reader)) is not None:
                frame, context = await self._request(frame, fetched)
                if context is not None:
                    expected.append(context)
                up_writer.writelines((struct.pack(">i", len(frame)), frame))
                await up_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            answers.cancel()
            with contextlib.suppress(BaseException):
                await answers
            for writer in (up_writer, client_writer):
                writer.close()
            if me is not None:
                self.connections.discard(me)

    async def _request(self, frame: bytes, fetched: list[frozenset[TopicPartition]]
                       ) -> tuple[bytes, tuple[int, int, Any] | None]:
        """The frame to send on (held first, when it is a Fetch with nothing to find) and what
        its response will answer; None when no response comes (a Produce with acks 0)."""
        api_key, version = struct.unpack_from(">hh", frame, 0)
        try:
            if api_key == FETCH and version in FETCH_REQUESTS:
                return await self._fetch(frame, FETCH_REQUESTS[version], fetched)
            if api_key == PRODUCE and version in PRODUCE_VERSIONS:
                acks, tps = _produced_to(frame)
                if acks == 0:
                    for tp in tps:
                        self.watermarks.produced(tp)
                    return frame, None
                return frame, (api_key, version, tps)
        except Exception:  # a request the proxy cannot read goes on as it is
            log.debug("could not read request %s v%s", api_key, version, exc_info=True)
        return frame, (api_key, version, None)

    async def _fetch(self, frame: bytes, request_class: Any, fetched: list[frozenset[TopicPartition]]
                     ) -> tuple[bytes, tuple[int, int, Any]]:
        body_at = _body_at(frame)
        request = request_class.decode(frame[body_at:])
        at = FETCH_OFFSET_AT[request_class.API_VERSION]
        offsets = {(topic, p[0]): p[at] for topic, partitions in request.topics for p in partitions}
        # fewer partitions than last time: the client still holds records of the others, and
        # its next Fetch, for them too, cannot go while this one is held
        partial = frozenset(offsets) < fetched[0]
        fetched[0] = frozenset(offsets)
        if request.max_wait_time > 0 and self.watermarks.nothing_new(offsets):
            self.held += 1
            wait_s = request.max_wait_time / 1000
            woken = await self.watermarks.wait({topic for topic, _ in offsets},
                                               min(wait_s, PARTIAL_WAIT_S) if partial else wait_s)
            if woken and request.max_wait_time > URGENT_WAIT_MS:
                await asyncio.sleep(BACKGROUND_DELAY_S)
            # woken or timed out, the broker answers at once: with what is there, or nothing
            changed = bytearray(frame)
            struct.pack_into(">i", changed, body_at + 4, 0)  # max_wait_time, after replica_id
            frame = bytes(changed)
        produced = {tp: self.watermarks.produced_count.get(tp, 0) for tp in offsets}
        return frame, (FETCH, request_class.API_VERSION, produced)

    async def _answers(self, up_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                       expected: deque[tuple[int, int, Any]]) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while (frame := await _read_frame(up_reader)) is not None:
                api_key, version, context = expected.popleft()
                if context is not None:
                    try:
                        self._learn(api_key, version, context, frame)
                    except Exception:
                        log.debug("could not read response %s v%s", api_key, version, exc_info=True)
                client_writer.writelines((struct.pack(">i", len(frame)), frame))
                await client_writer.drain()
        client_writer.close()

    def _learn(self, api_key: int, version: int, context: Any, frame: bytes) -> None:
        if api_key == PRODUCE:
            # whether or not each partition took its records: a needless wake costs one empty Fetch
            for tp in context:
                self.watermarks.produced(tp)
        elif api_key == FETCH:
            for tp, error, high in _high_watermarks(frame, version):
                if error == 0 and tp in context:
                    self.watermarks.answered(tp, high, context[tp])


async def _read_frame(reader: asyncio.StreamReader) -> bytes | None:
    try:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def main(listen: tuple[str, int], upstream: tuple[str, int]) -> None:
    proxy = BrokerProxy(upstream)
    server = await asyncio.start_server(proxy.serve, *listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
        for task in list(proxy.connections):
            task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Wake-on-produce proxy in front of the embedded broker.")
    parser.add_argument("--listen", required=True, type=_address)
    parser.add_argument("--upstream", required=True, type=_address)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.listen, args.upstream))

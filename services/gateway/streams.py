"""A run as Server-Sent Events: ``GET /v1/runs/{id}/stream``.

Events: ``progress`` (fraction, message), ``output`` (the outputs so far: the whole of them, so
a reader that missed some loses nothing), then once the run ends ``logs`` (the model's owner
only), ``error`` (a run that did not succeed) and ``done`` (the run as ``GET /v1/runs/{id}``
answers it), and the stream closes. Each event has an ``id``: while the run goes, the executor's
sequence number of that progress or output; ``Last-Event-ID`` resumes after it, starting with what
the run holds now if it is newer. Comments keep the connection open while nothing happens.

The events come from this replica's reply consumer, which sees every run status event; what the
run held before the stream began comes from the store, read after listening starts, so nothing
falls in between.
"""
from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from services.contracts.events import TERMINAL_STATUSES, Event, RunCompleted, RunOutput, RunProgress
from services.gateway.projections import completed_fields
from services.gateway.views import run_view

KEEPALIVE_S = 15.0
READERS_PER_RUN = 50
END = 1 << 62  # ids of the closing events: after any sequence number a run can reach


class Reader:
    """One stream's events waiting to be sent. Each output event holds the whole outputs so far,
    so only the latest is kept: a reader that falls behind, or stops reading, holds one."""

    def __init__(self) -> None:
        self.events: deque[Event] = deque(maxlen=100)  # progress and the end
        self.output: RunOutput | None = None
        self.ready = asyncio.Event()

    def put(self, event: Event) -> None:
        if isinstance(event, RunOutput):
            self.output = event
        else:
            self.events.append(event)
        self.ready.set()

    async def get(self) -> Event:
        while not (self.events or self.output):
            self.ready.clear()
            await self.ready.wait()
        # in the order of their sequence numbers; the end comes last
        first = self.events[0] if self.events else None
        if self.output is not None and (first is None or isinstance(first, RunCompleted)
                                        or (getattr(first, "seq", None) or 0) > self.output.seq):
            found, self.output = self.output, None
            return found
        return self.events.popleft()


class TooManyReaders(Exception):
    pass


class Streams:
    """The live readers of each run's events in this replica."""

    def __init__(self) -> None:
        self.readers: dict[str, set[Reader]] = {}

    def listen(self, run_id: str) -> Reader:
        readers = self.readers.setdefault(run_id, set())
        if len(readers) >= READERS_PER_RUN:
            raise TooManyReaders(run_id)
        reader = Reader()
        readers.add(reader)
        return reader

    def leave(self, run_id: str, reader: Reader) -> None:
        readers = self.readers.get(run_id)
        if readers is not None:
            readers.discard(reader)
            if not readers:
                del self.readers[run_id]

    def publish(self, event: Event) -> None:
        for reader in self.readers.get(getattr(event, "run_id", ""), ()):
            reader.put(event)


def _sse(kind: str, event_id: int, data: Any) -> str:
    return f"event: {kind}\nid: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def last_seen(header: str | None) -> int:
    try:
        return max(0, int(header or 0))
    except ValueError:
        return 0


async def events(streams: Streams, reader: Reader, store: Any, run_id: str, viewer: str | None,
                 token: str | None, after: int) -> AsyncIterator[str]:
    """The stream of ``reader``, which ``streams.listen`` gave before the answer began."""
    try:
        run = await store.get("runs", run_id)
        if run is None:
            return
        if run["status"] in TERMINAL_STATUSES:
            for part in _closing(run, viewer, token, after):
                yield part
            return
        progress_seq, output_seq = run.get("progress_seq", 0), run.get("output_seq", 0)
        if run.get("progress") and progress_seq > after:
            yield _sse("progress", progress_seq, run["progress"])
        if run.get("outputs") and output_seq > after:
            yield _sse("output", output_seq, {"outputs": run_view(run, viewer=viewer, token=token)["outputs"]})
        seen = max(after, progress_seq, output_seq)
        while True:
            try:
                event = await asyncio.wait_for(reader.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": still running\n\n"
                current = await store.get("runs", run_id)  # an end this replica's consumer missed
                if current is not None and current["status"] in TERMINAL_STATUSES:
                    for part in _closing(current, viewer, token, after):
                        yield part
                    return
                continue
            if isinstance(event, RunCompleted):
                ended = {**run, **completed_fields(event)}
                for part in _closing(ended, viewer, token, after):
                    yield part
                return
            if isinstance(event, (RunProgress, RunOutput)) and event.seq is not None and event.seq > seen:
                seen = event.seq
                if isinstance(event, RunProgress):
                    yield _sse("progress", event.seq, {"fraction": event.fraction, "message": event.message})
                else:
                    yield _sse("output", event.seq, {"outputs": run_view({**run, "outputs": event.outputs},
                                                                       viewer=viewer, token=token)["outputs"]})
    finally:
        streams.leave(run_id, reader)


def _closing(run: dict[str, Any], viewer: str | None, token: str | None, after: int) -> list[str]:
    shown = run_view(run, viewer=viewer, token=token)
    parts = []
    if after < END:
        parts.append(_sse("output", END, {"outputs": shown["outputs"]}))
    if shown["logs"] is not None and after < END + 1:
        parts.append(_sse("logs", END + 1, {"logs": shown["logs"]}))
    if run["status"] != "succeeded" and after < END + 2:
        parts.append(_sse("error", END + 2, {"status": run["status"], "error": shown["error"]}))
    parts.append(_sse("done", END + 3, shown))
    return parts

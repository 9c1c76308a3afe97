"""A run's Server-Sent Events, read by either client, resumed with Last-Event-ID when the
connection drops."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._errors import FeatherError

RESUMES = 5  # reconnections one stream may take before the error is the caller's


@dataclass(frozen=True)
class StreamEvent:
    """One event of a run's stream: `event` is progress, output, logs, error or done; `data` its
    JSON (`output`: {"outputs": the outputs so far}; `done`: the whole run)."""
    event: str
    id: str | None
    data: Any = field(default=None)


class _Parser:
    """Server-Sent Events lines into events (comments and unknown fields are skipped)."""

    def __init__(self) -> None:
        self.kind, self.id, self.data = "message", None, []

    def feed(self, line: str) -> StreamEvent | None:
        if line == "":
            if not self.data:
                self.kind = "message"
                return None
            found = StreamEvent(self.kind, self.id, json.loads("\n".join(self.data)))
            self.kind, self.data = "message", []
            return found
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self.kind = value
        elif name == "id":
            self.id = value
        elif name == "data":
            self.data.append(value)
        return None


def _lines_to_events(lines: Iterable[str], parser: _Parser) -> Iterator[StreamEvent]:
    for line in lines:
        found = parser.feed(line)
        if found is not None:
            yield found


_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout)


def events(http: httpx.Client, url: str) -> Iterator[StreamEvent]:
    last: str | None = None
    for _ in range(RESUMES + 1):
        parser = _Parser()
        try:
            with http.stream("GET", url, headers={"Last-Event-ID": last} if last else {},
                             timeout=httpx.Timeout(30, read=60)) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise FeatherError(f"streaming the run answered {answer.status_code}: {answer.text[:200]}",
                                       status_code=answer.status_code)
                for event in _lines_to_events(answer.iter_lines(), parser):
                    last = event.id or last
                    yield event
                    if event.event == "done":
                        return
        except _DROPPED:
            continue  # resumed after the last event seen
    raise FeatherError(f"the stream of {url} kept dropping")


async def aevents(http: httpx.AsyncClient, url: str) -> AsyncIterator[StreamEvent]:
    last: str | None = None
    for _ in range(RESUMES + 1):
        parser = _Parser()
        try:
            async with http.stream("GET", url, headers={"Last-Event-ID": last} if last else {},
                                   timeout=httpx.Timeout(30, read=60)) as answer:
                if answer.status_code >= 400:
                    await answer.aread()
                    raise FeatherError(f"streaming the run answered {answer.status_code}: {answer.text[:200]}",
                                       status_code=answer.status_code)
                async for line in answer.aiter_lines():
                    event = parser.feed(line)
                    if event is None:
                        continue
                    last = event.id or last
                    yield event
                    if event.event == "done":
                        return
        except _DROPPED:
            continue
    raise FeatherError(f"the stream of {url} kept dropping")

"""The reply path: a request waiting for its run learns the outcome from the bus, not by polling.

Each gateway replica reads ``feather.run-status`` in a consumer group of its own, so every replica
sees every RunCompleted and wakes the requests it holds.
"""
from __future__ import annotations

import asyncio

from services.contracts.envelope import Envelope
from services.contracts.events import RunCompleted
from services.gateway.projections import Projections
from services.gateway.streams import Streams


class Replies:
    def __init__(self, projections: Projections) -> None:
        self.projections = projections
        self.waiting: dict[str, asyncio.Future[RunCompleted]] = {}
        self.reported: set[str] = set()  # waiting runs that sent RunStarted or RunProgress
        self.streams = Streams()  # the readers of runs' event streams held here

    def expect(self, run_id: str) -> asyncio.Future[RunCompleted]:
        future: asyncio.Future[RunCompleted] = asyncio.get_running_loop().create_future()
        self.waiting[run_id] = future
        return future

    def completed(self, run_id: str) -> RunCompleted | None:
        """The completion of a run held here, if an answer can be built from it alone.

        Not for a run that reported progress: its last progress is only in the store.
        """
        future = self.waiting.get(run_id)
        if future is None or not future.done() or run_id in self.reported:
            return None
        return future.result()

    def forget(self, run_id: str) -> None:
        self.waiting.pop(run_id, None)
        self.reported.discard(run_id)

    async def on_projected_run(self, envelope: Envelope) -> None:
        """The shared projection's consumer: records every run event, and also wakes a request
        held here whose completion the reply consumer has not seen.

        That consumer starts at the end of the topic whenever it (re)joins, after a broker
        restart for instance, so a completion written while it was joining reaches only this
        one, which resumes from its committed offsets.
        """
        await self.projections.on_run(envelope)
        event = envelope.event
        future = self.waiting.get(event.run_id) if isinstance(event, RunCompleted) else None
        if future is not None and not future.done():
            future.set_result(event)

    async def on_run(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, RunCompleted) and event.run_id in self.streams.readers:
            # recorded before the stream says it is done, so that a GET after it agrees
            await self.projections.record_completion(envelope)
        self.streams.publish(event)
        future = self.waiting.get(event.run_id)
        if future is None:
            return
        if not isinstance(event, RunCompleted):
            self.reported.add(event.run_id)
            return
        # record it first, so the answer and a later GET /v1/runs/{id} agree; the run count
        # is not part of the answer, so the request need not wait for it
        await self.projections.record_completion(envelope)
        if not future.done():
            future.set_result(event)
        await self.projections.count_completion(envelope)

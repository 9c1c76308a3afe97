"""The executor: every accepted RunRequested ends in exactly one RunCompleted.

A request is first recorded as a job in the executor's store (then the message is committed),
and the job runs in the background; a restart resumes jobs that had not finished.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any

from services.contracts import topics
from services.contracts.envelope import Envelope, stable_id
from services.contracts.events import ImageBuilt, RunCompleted, RunRequested
from services.executor.backends.local import LocalBackend
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query

log = logging.getLogger("feather.executor")
RUNTIME_WAIT_S = 60.0
MAX_ATTEMPTS = 2  # a job interrupted by an executor crash is tried once more, then failed


class Executor:
    def __init__(self, ctx: ServiceContext, backend: Backend, *, max_concurrent: int = 64) -> None:
        self.ctx = ctx
        self.backend = backend
        self.slots = asyncio.Semaphore(max_concurrent)
        self.tasks: set[asyncio.Task[None]] = set()
        self.runtime_ready: dict[str, asyncio.Event] = {}

    async def on_build(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, ImageBuilt):
            key = f"{event.model_id}@{event.version}"
            await self.ctx.store.apply("runtimes", key, {"runtime": event.runtime}, event_id=envelope.id)
            self.runtime_ready.setdefault(key, asyncio.Event()).set()

    async def on_run(self, envelope: Envelope) -> None:
        event = envelope.event
        if not isinstance(event, RunRequested):
            return
        job = {"status": "queued", "attempts": 0, "request": event.model_dump(mode="json")}
        try:
            await self.ctx.save("jobs", event.run_id, job, expected_version=None)
        except Conflict:
            return  # redelivered: the job is already recorded and runs (or ran) once
        self.schedule(event.run_id)

    def schedule(self, run_id: str) -> None:
        task = asyncio.create_task(self.execute(run_id), name=f"run {run_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def resume(self) -> None:
        for status in ("queued", "running"):
            cursor = None
            while True:
                page = await self.ctx.store.find("jobs", Query(where={"status": status}, limit=200, cursor=cursor))
                for doc in page.items:
                    self.schedule(doc["_id"])
                if not (cursor := page.next_cursor):
                    break

    async def _runtime(self, model_id: str, version: int) -> dict[str, Any] | None:
        key = f"{model_id}@{version}"
        ready = self.runtime_ready.setdefault(key, asyncio.Event())
        doc = await self.ctx.store.get("runtimes", key)
        if doc is None:
            # the build event may still be on its way: runs and builds are separate topics
            try:
                await asyncio.wait_for(ready.wait(), RUNTIME_WAIT_S)
            except asyncio.TimeoutError:
                return None
            doc = await self.ctx.store.get("runtimes", key)
        return doc["runtime"] if doc else None

    async def execute(self, run_id: str) -> None:
        async with self.slots:
            job = await self.ctx.store.get("jobs", run_id)
            if job is None or job["status"] not in ("queued", "running"):
                return
            request = RunRequested.model_validate(job["request"])
            started_at = datetime.now(timezone.utc)
            if job["attempts"] >= MAX_ATTEMPTS:
                outcome = StepOutcome("failed", error="the executor stopped during this run, twice")
            else:
                job = {**_fields(job), "status": "running", "attempts": job["attempts"] + 1,
                       "_v": await self.ctx.store.save(
                           "jobs", run_id, {**_fields(job), "status": "running", "attempts": job["attempts"] + 1},
                           expected_version=job["_v"])}
                outcome = await self._run(request)
            await self._complete(run_id, job, request, outcome, started_at)

    async def _run(self, request: RunRequested) -> StepOutcome:
        runtime = await self._runtime(request.model_id, request.version)
        if runtime is None:
            return StepOutcome("failed", error=f"version {request.version} of {request.model_id} has no runtime")
        call = StepCall(request.run_id, request.model_id, request.version, request.step,
                        request.inputs, runtime, request.deadline_s)
        try:
            return await self.backend.run(call)
        except Exception as exc:  # a backend bug must still end the run
            log.exception("run %s: backend error", request.run_id)
            return StepOutcome("failed", error=f"internal error: {exc}")

    async def _complete(self, run_id: str, job: dict[str, Any], request: RunRequested,
                        outcome: StepOutcome, started_at: datetime) -> None:
        completed = RunCompleted(
            run_id=run_id, model_id=request.model_id, version=request.version, step=request.step,
            status=outcome.status, outputs=outcome.outputs, error=outcome.error, logs=outcome.logs[-65536:],
            requested_at=request.requested_at, started_at=started_at,
            queue_ms=max(0.0, (started_at - request.requested_at).total_seconds() * 1000),
            predict_ms=outcome.predict_ms)
        doc = {**_fields(job), "status": outcome.status, "error": outcome.error}
        await self.ctx.save("jobs", run_id, doc, expected_version=job["_v"],
                            events=[self.ctx.outbox(completed, event_id=stable_id(run_id, "completed"))])

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.backend.close()


def _fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "_v")}


def subscribe(ctx: ServiceContext) -> None:
    executor = Executor(ctx, LocalBackend(max_workers_per_version=ctx.settings.workers_per_version))
    ctx.state["executor"] = executor
    ctx.bus.subscribe(topics.BUILDS, executor.on_build)
    ctx.bus.subscribe(topics.RUNS, executor.on_run)

"""The executor's use cases: every accepted RunRequested ends in exactly one RunCompleted.

A request is first recorded as a job in the executor's store (then the message is committed),
and the job runs in the background; a restart resumes jobs that had not finished. Plain
functions of ``Executor``, the dependencies ``bootstrap`` wires.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from feather.rules import fill_inputs

from services.contracts.envelope import Envelope, stable_id
from services.contracts.events import (ImageBuilt, RunCancelRequested, RunCompleted, RunOutput, RunProgress,
                                       RunRequested, RunStarted, deadline_at)
from services.contracts.files import files_in
from services.contracts.steps import keep_declared, link_step
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.batching import Batcher
from services.executor.jobs import Jobs
from services.executor.metrics import ExecutorMetrics
from services.executor.runtimes import Runtimes, outside_of
from services.kit.body_limit import human_size
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query

log = logging.getLogger("feather.executor")
MAX_ATTEMPTS = 2  # a job interrupted by an executor crash is tried once more, then failed
STARTED_AFTER_S = 0.25  # runs that end sooner than this never announce RunStarted
PROGRESS_EVERY_S = 0.1
ERROR_MAX = 4096  # characters of a failed run's error; the traceback and logs say the rest


@dataclass
class Executor:
    """What the executor's handlers work with."""
    ctx: ServiceContext
    backend: Backend
    runtimes: Runtimes
    metrics: ExecutorMetrics
    jobs: Jobs = field(default_factory=Jobs)
    batcher: Batcher | None = None  # steps that take batches; by default over ``backend``

    def __post_init__(self) -> None:
        if self.batcher is None:
            self.batcher = Batcher(self.backend)


async def on_build(ex: Executor, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, ImageBuilt):
        if (outside := outside_of(event.runtime, ex.ctx.settings.data_dir)) is not None:
            log.error("%s version %s: refusing a runtime outside the data folder (%s)", event.model_id,
                      event.version, outside)
            return
        fresh = await ex.runtimes.record(event.model_id, event.version, event.runtime, event_id=envelope.id)
        if fresh:  # not for builds read again after a restart
            ex.jobs.background(ex.backend.prestart(event.model_id, event.version, event.runtime))


async def on_run(ex: Executor, envelope: Envelope) -> None:
    event = envelope.event
    if isinstance(event, RunCancelRequested):
        ex.jobs.cancel(event.run_id)
    if not isinstance(event, RunRequested):
        return
    job = {"status": "queued", "attempts": 0, "request": event.model_dump(mode="json")}
    try:
        version = await ex.ctx.save("jobs", event.run_id, job, expected_version=None)
    except Conflict:
        return  # redelivered: the job is already recorded and runs (or ran) once
    ex.jobs.start(event.run_id, execute(ex, event.run_id, {**job, "_id": event.run_id, "_v": version}))


async def resume(ex: Executor) -> None:
    """Jobs left unfinished by a previous executor start again, counting one more attempt."""
    for status in ("queued", "running"):
        cursor = None
        while True:
            page = await ex.ctx.store.find("jobs", Query(where={"status": status}, limit=200, cursor=cursor))
            for doc in page.items:
                fields = {**doc, "status": "queued", "attempts": doc["attempts"] + 1}
                with contextlib.suppress(Conflict):
                    await ex.ctx.store.save("jobs", doc["_id"], fields, expected_version=doc["_v"])
                    ex.jobs.start(doc["_id"], execute(ex, doc["_id"]))
            if not (cursor := page.next_cursor):
                break


async def execute(ex: Executor, run_id: str, job: dict[str, Any] | None = None) -> None:
    """Run a recorded job; ``job`` is the document just written, when the caller has it."""
    if job is None:
        job = await ex.ctx.store.get("jobs", run_id)
    if job is None or job["status"] not in ("queued", "running"):
        return
    request = RunRequested.model_validate(job["request"])
    steps: list[dict[str, Any]] | None = None
    started_at = datetime.now(timezone.utc)
    attributes = {"feather.run_id": run_id, "feather.model": request.model_id, "feather.version": request.version}
    # one span for the whole run: the queueing, each step, and the RunCompleted it ends with
    with ex.ctx.tracer.start_as_current_span(f"run {request.model_id}", attributes=attributes):
        try:
            with ex.ctx.tracer.start_as_current_span("queue"):  # how long the run waited for a slot
                await ex.jobs.slots.acquire()
            try:
                started_at = datetime.now(timezone.utc)
                # a job is only written again when it ends: a restart counts the attempt instead
                if job["attempts"] >= MAX_ATTEMPTS:
                    outcome = StepOutcome("failed", error="the executor stopped during this run, twice")
                else:
                    outcome, steps = await run_steps(ex, request)
            finally:
                ex.jobs.slots.release()
        except asyncio.CancelledError:
            if not ex.jobs.canceled(run_id):
                raise  # shutting down: the job stays recorded and is resumed on the next start
            outcome = StepOutcome("canceled", error="the run was canceled")
        await complete(ex, job, request, outcome, started_at, steps)


async def run_steps(ex: Executor, request: RunRequested) -> tuple[StepOutcome, list[dict[str, Any]] | None]:
    """Run the request's step, or each step of its chain in turn, within the run's deadline."""
    runtime = await ex.runtimes.get(request.model_id, request.version)
    if runtime is None:
        return StepOutcome("failed", error=f"version {request.version} of {request.model_id} has no runtime"), None
    announce = asyncio.get_running_loop().call_later(STARTED_AFTER_S, _announce, ex, request)
    reporter = _Reporter(ex, request, runtime.get("outputs"))
    try:
        chain = request.chain or [{"step": request.step, "inputs": list(request.inputs)}]
        carried: dict[str, Any] = {}
        done: list[dict[str, Any]] = []
        outcome = StepOutcome("failed", error="no step ran")
        predict_ms = 0.0
        ends = deadline_at(request.requested_at, request.deadline_s)
        for i, link in enumerate(chain):
            inputs = request.inputs if i == 0 else fill_inputs(
                link_step(link), carried, (request.choices or {}).get(link["step"], {}))
            left = (ends - datetime.now(timezone.utc)).total_seconds()  # each step gets what remains
            if left <= 0:
                outcome = StepOutcome("timed_out", predict_ms=predict_ms,
                                      error=f"the run exceeded its deadline of {request.deadline_s:g}s")
                break
            reporter.step = link["step"]
            call = StepCall(request.run_id, request.model_id, request.version, link["step"], inputs, runtime,
                            left, on_progress=reporter.progress, on_output=reporter.output)
            with ex.ctx.tracer.start_as_current_span(f"step {link['step']}", attributes={
                    "feather.backend": str(runtime.get("backend", "local"))}) as span:
                assert ex.batcher is not None
                outcome = await ex.batcher.run(call)
                span.set_attribute("feather.status", outcome.status)
            predict_ms += outcome.predict_ms
            if outcome.status != "succeeded":
                break
            outputs = keep_declared(outcome.outputs or {}, runtime.get("outputs"), link["step"])
            outcome = StepOutcome("succeeded", outputs=outputs, logs=outcome.logs, predict_ms=predict_ms)
            carried.update(inputs)
            carried.update(outputs)
            done.append({"step": link["step"], "outputs": outputs})
        steps = done if request.chain else None
        if outcome.status == "succeeded":
            size = len(json.dumps({"outputs": outcome.outputs, "steps": steps}, separators=(",", ":")).encode())
            if size > (limit := ex.ctx.settings.max_outputs_kb * 1024):
                return StepOutcome("failed", logs=outcome.logs, predict_ms=predict_ms, error=(
                    f"the outputs take {human_size(size)} as JSON, over the limit of {human_size(limit)}; "
                    "return large values as files")), None
        return outcome, steps
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a bug here must still end the run
        log.exception("run %s: executor error", request.run_id)
        return StepOutcome("failed", error=f"internal error: {exc}"), None
    finally:
        announce.cancel()


def _announce(ex: Executor, request: RunRequested) -> None:
    _fire(ex, RunStarted(run_id=request.run_id, model_id=request.model_id, version=request.version))


class _Reporter:
    """A run's progress and a generator step's outputs so far, as RunProgress and RunOutput
    events: at most one of each per PROGRESS_EVERY_S, numbered in one sequence so that a
    stream's reader can resume after the last it saw."""

    def __init__(self, ex: Executor, request: RunRequested, declared: dict[str, list[str]] | None = None) -> None:
        self.ex, self.run_id, self.declared = ex, request.run_id, declared
        self.seq = 0
        self.last = {"progress": 0.0, "output": 0.0}
        self.step = request.step

    def _due(self, kind: str, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self.last[kind] < PROGRESS_EVERY_S:
            return False
        self.last[kind] = now
        self.seq += 1
        return True

    def progress(self, fraction: float | None, message: str) -> None:
        if self._due("progress", force=fraction == 1.0):
            _fire(self.ex, RunProgress(run_id=self.run_id, fraction=fraction, message=message[:500], seq=self.seq))

    def output(self, outputs: dict[str, Any]) -> None:
        """Outputs so far pass the checks the final ones do: only the declared ones, within the
        size limit, and no file but inline ones (stored files are named by the run's end)."""
        outputs = keep_declared(outputs, self.declared, self.step)
        if any("path" in v or not str(v.get("url", "")).startswith("data:")
               for v in files_in(outputs, produced=True)):
            return
        if len(json.dumps(outputs, separators=(",", ":"))) > self.ex.ctx.settings.max_outputs_kb * 1024:
            return
        if self._due("output"):
            _fire(self.ex, RunOutput(run_id=self.run_id, outputs=outputs, seq=self.seq))


def _fire(ex: Executor, event: RunStarted | RunProgress | RunOutput) -> None:
    """Progress is advisory: sent straight to the bus, and dropped if the broker is away."""
    async def send() -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ex.ctx.bus.publish(event), 5.0)
    if ex.ctx.bus_ready.is_set():
        asyncio.get_running_loop().create_task(send())


async def complete(ex: Executor, job: dict[str, Any], request: RunRequested, outcome: StepOutcome,
                   started_at: datetime, steps: list[dict[str, Any]] | None) -> None:
    """Record how the run ended, and announce it, in one write."""
    run_id = request.run_id
    completed = RunCompleted(
        run_id=run_id, model_id=request.model_id, version=request.version, step=request.step,
        status=outcome.status, outputs=outcome.outputs, steps=steps,
        error=None if outcome.error is None else outcome.error[:ERROR_MAX],
        traceback=str(outcome.details.get("traceback", ""))[-65536:], logs=outcome.logs[-65536:],
        requested_at=request.requested_at, started_at=started_at,
        queue_ms=max(0.0, (started_at - request.requested_at).total_seconds() * 1000),
        predict_ms=outcome.predict_ms)
    doc = {**job, "status": outcome.status, "error": outcome.error}
    await ex.ctx.save("jobs", run_id, doc, expected_version=job["_v"],
                      events=[ex.ctx.outbox(completed, event_id=stable_id(run_id, "completed"))])
    ex.metrics.ended(request.model_id, request.version, outcome.status,
                     (completed.completed_at - request.requested_at).total_seconds(), outcome.predict_ms / 1000)

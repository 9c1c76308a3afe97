"""The executor's use cases: every accepted RunRequested ends in exactly one RunCompleted.

A request is first recorded as a job in the executor's store (then the message is committed),
and the job runs in the background under a lease (``leases``): jobs an executor left unfinished,
because it stopped or died, are claimed by whichever executor sees them first. Plain functions
of ``Executor``, the dependencies ``bootstrap`` wires.
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
from services.executor.leases import Leases
from services.executor.metrics import ExecutorMetrics
from services.executor.runtimes import Runtimes, outside_of
from services.kit.body_limit import human_size
from services.kit.runtime import ServiceContext
from services.kit.store import CONFLICT_TRIES, Conflict

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
    leases: Leases = field(init=False)

    def __post_init__(self) -> None:
        if self.batcher is None:
            self.batcher = Batcher(self.backend)
        self.leases = Leases(self.ctx.store, self.ctx.settings.instance_id, self.ctx.settings.job_lease_s)


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
    job = {"status": "queued", "attempts": 0, "request": event.model_dump(mode="json"), **ex.leases.terms()}
    try:
        version = await ex.ctx.save("jobs", event.run_id, job, expected_version=None)
    except Conflict:
        return  # redelivered: the job is already recorded and runs (or ran) once
    ex.leases.hold({**job, "_id": event.run_id, "_v": version})
    ex.jobs.start(event.run_id, execute(ex, event.run_id))


async def take_over(ex: Executor) -> int:
    """Start the jobs other executors left (their leases ran out) or this one left in an
    earlier life, each counting one more attempt; returns how many."""
    taken = 0
    async for doc in ex.leases.claimable_jobs():
        if await ex.leases.claim(doc) is not None:
            ex.jobs.start(doc["_id"], execute(ex, doc["_id"]))
            taken += 1
    return taken


async def keep_leases(ex: Executor) -> None:
    """Renew the leases of the jobs held, stop the ones held no longer, and claim the ones left."""
    loop = asyncio.get_running_loop()
    next_claim = loop.time() + ex.leases.lease_s
    while True:
        await asyncio.sleep(ex.leases.renew_every_s)
        try:
            for run_id in await ex.leases.renew():
                log.warning("run %s: another executor holds it now; stopping it here", run_id)
                ex.jobs.cancel(run_id)
            if loop.time() >= next_claim:
                next_claim = loop.time() + ex.leases.lease_s
                if taken := await take_over(ex):
                    log.warning("took over %d job(s) whose executor stopped renewing them", taken)
        except Exception:  # the store is away: the next round tries again
            log.exception("renewing the jobs' leases failed")


async def execute(ex: Executor, run_id: str) -> None:
    """Run a recorded job this executor holds."""
    job = await ex.leases.current(run_id)
    if not ex.leases.ours(job):
        ex.leases.release(run_id)
        return
    assert job is not None
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
                # a job is only written again when it ends (and to renew its lease): a
                # restart counts the attempt instead
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
        await complete(ex, request, outcome, started_at, steps)


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


async def complete(ex: Executor, request: RunRequested, outcome: StepOutcome,
                   started_at: datetime, steps: list[dict[str, Any]] | None) -> None:
    """Record how the run ended, and announce it, in one write; only while this executor
    holds the job (one that took it over answers it instead)."""
    run_id = request.run_id
    completed = RunCompleted(
        run_id=run_id, model_id=request.model_id, version=request.version, step=request.step,
        status=outcome.status, outputs=outcome.outputs, steps=steps,
        error=None if outcome.error is None else outcome.error[:ERROR_MAX],
        traceback=str(outcome.details.get("traceback", ""))[-65536:], logs=outcome.logs[-65536:],
        requested_at=request.requested_at, started_at=started_at,
        queue_ms=max(0.0, (started_at - request.requested_at).total_seconds() * 1000),
        predict_ms=outcome.predict_ms)
    events = [ex.ctx.outbox(completed, event_id=stable_id(run_id, "completed"))]
    try:
        for _ in range(CONFLICT_TRIES):
            job = await ex.leases.current(run_id)
            if not ex.leases.ours(job):
                log.warning("run %s ended here as %s, but another executor holds it now", run_id, outcome.status)
                return
            assert job is not None
            try:
                await ex.ctx.save("jobs", run_id, {**job, "status": outcome.status, "error": outcome.error},
                                  expected_version=job["_v"], events=events)
                break
            except Conflict:  # its lease was renewed (or taken) meanwhile
                await ex.leases.refresh(run_id)
        else:
            raise Conflict(f"jobs/{run_id} kept changing while its end was written")
    finally:
        ex.leases.release(run_id)
    ex.metrics.ended(request.model_id, request.version, outcome.status,
                     (completed.completed_at - request.requested_at).total_seconds(), outcome.predict_ms / 1000)

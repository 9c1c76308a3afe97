"""The executor: every accepted RunRequested ends in exactly one RunCompleted.

A request is first recorded as a job in the executor's store (then the message is committed),
and the job runs in the background; a restart resumes jobs that had not finished.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from feather.rules import fill_inputs

from services.contracts import topics
from services.contracts.envelope import Envelope, stable_id
from services.contracts.events import (ImageBuilt, RunCancelRequested, RunCompleted, RunProgress,
                                       RunRequested, RunStarted, deadline_at)
from services.contracts.steps import keep_declared, link_step
from services.contracts.versions import version_key
from services.executor.backends.by_runtime import ByRuntime
from services.executor.backends.local import LocalBackend, PoolConfig
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.limits import Limits
from services.executor.sandbox import Sandbox
from services.kit.body_limit import human_size
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query

log = logging.getLogger("feather.executor")
RUNTIME_WAIT_S = 60.0
MAX_ATTEMPTS = 2  # a job interrupted by an executor crash is tried once more, then failed
STARTED_AFTER_S = 0.25  # runs that end sooner than this never announce RunStarted
PROGRESS_EVERY_S = 0.1
ERROR_MAX = 4096  # characters of a failed run's error; the traceback and logs say the rest


class Executor:
    def __init__(self, ctx: ServiceContext, backend: Backend, *, max_concurrent: int = 64) -> None:
        self.ctx = ctx
        self.backend = backend
        self.slots = asyncio.Semaphore(max_concurrent)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.canceling: set[str] = set()
        self.runtime_ready: dict[str, asyncio.Event] = {}
        self.runtimes: dict[str, dict[str, Any]] = {}

    async def on_build(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, ImageBuilt):
            key = version_key(event.model_id, event.version)
            fresh = await self.ctx.store.apply("runtimes", key, {"runtime": event.runtime}, event_id=envelope.id)
            self.runtimes[key] = event.runtime
            self.runtime_ready.setdefault(key, asyncio.Event()).set()
            prestart = getattr(self.backend, "prestart", None)
            if prestart is not None and fresh:  # not for builds read again after a restart
                asyncio.create_task(prestart(event.model_id, event.version, event.runtime))

    async def on_run(self, envelope: Envelope) -> None:
        event = envelope.event
        if isinstance(event, RunCancelRequested):
            await self.cancel(event.run_id)
        if not isinstance(event, RunRequested):
            return
        job = {"status": "queued", "attempts": 0, "request": event.model_dump(mode="json")}
        try:
            version = await self.ctx.save("jobs", event.run_id, job, expected_version=None)
        except Conflict:
            return  # redelivered: the job is already recorded and runs (or ran) once
        self.schedule(event.run_id, {**job, "_id": event.run_id, "_v": version})

    def schedule(self, run_id: str, job: dict[str, Any] | None = None) -> None:
        task = asyncio.create_task(self.execute(run_id, job), name=f"run {run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(run_id, None))

    async def cancel(self, run_id: str) -> None:
        task = self.tasks.get(run_id)
        if task is not None and not task.done():
            self.canceling.add(run_id)
            task.cancel()

    async def resume(self) -> None:
        """Jobs left unfinished by a previous executor start again, counting one more attempt."""
        for status in ("queued", "running"):
            cursor = None
            while True:
                page = await self.ctx.store.find("jobs", Query(where={"status": status}, limit=200, cursor=cursor))
                for doc in page.items:
                    fields = {**doc, "status": "queued", "attempts": doc["attempts"] + 1}
                    with contextlib.suppress(Conflict):
                        await self.ctx.store.save("jobs", doc["_id"], fields, expected_version=doc["_v"])
                        self.schedule(doc["_id"])
                if not (cursor := page.next_cursor):
                    break

    async def _runtime(self, model_id: str, version: int) -> dict[str, Any] | None:
        key = version_key(model_id, version)
        if key in self.runtimes:  # a version's runtime only changes through on_build
            return self.runtimes[key]
        ready = self.runtime_ready.setdefault(key, asyncio.Event())
        doc = await self.ctx.store.get("runtimes", key)
        if doc is None:
            # the build event may still be on its way: runs and builds are separate topics
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ready.wait(), RUNTIME_WAIT_S)
            doc = await self.ctx.store.get("runtimes", key)
        if doc is None:
            return None
        self.runtimes[key] = doc["runtime"]
        return doc["runtime"]

    async def execute(self, run_id: str, job: dict[str, Any] | None = None) -> None:
        """Run a recorded job; ``job`` is the document just written, when the caller has it."""
        if job is None:
            job = await self.ctx.store.get("jobs", run_id)
        if job is None or job["status"] not in ("queued", "running"):
            return
        request = RunRequested.model_validate(job["request"])
        steps: list[dict[str, Any]] | None = None
        started_at = datetime.now(timezone.utc)
        try:
            async with self.slots:
                started_at = datetime.now(timezone.utc)
                # a job is only written again when it ends: a restart counts the attempt instead
                if job["attempts"] >= MAX_ATTEMPTS:
                    outcome = StepOutcome("failed", error="the executor stopped during this run, twice")
                else:
                    outcome, steps = await self._run(request)
        except asyncio.CancelledError:
            if run_id not in self.canceling:
                raise  # shutting down: the job stays recorded and is resumed on the next start
            outcome = StepOutcome("canceled", error="the run was canceled")
        self.canceling.discard(run_id)
        await self._complete(run_id, job, request, outcome, started_at, steps)

    async def _run(self, request: RunRequested) -> tuple[StepOutcome, list[dict[str, Any]] | None]:
        runtime = await self._runtime(request.model_id, request.version)
        if runtime is None:
            return StepOutcome("failed", error=f"version {request.version} of {request.model_id} has no runtime"), None
        announce = asyncio.get_running_loop().call_later(STARTED_AFTER_S, self._announce, request)
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
                call = StepCall(request.run_id, request.model_id, request.version, link["step"], inputs, runtime,
                                left, on_progress=self._reporter(request))
                outcome = await self.backend.run(call)
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
                if size > (limit := self.ctx.settings.max_outputs_kb * 1024):
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

    def _announce(self, request: RunRequested) -> None:
        self._fire(RunStarted(run_id=request.run_id, model_id=request.model_id, version=request.version))

    def _reporter(self, request: RunRequested):
        last = [0.0]

        def report(fraction: float | None, message: str) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or fraction == 1.0:
                last[0] = now
                self._fire(RunProgress(run_id=request.run_id, fraction=fraction, message=message[:500]))
        return report

    def _fire(self, event: RunStarted | RunProgress) -> None:
        """Progress is advisory: sent straight to the bus, and dropped if the broker is away."""
        async def send() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ctx.bus.publish(event), 5.0)
        if self.ctx.bus_ready.is_set():
            asyncio.get_running_loop().create_task(send())

    async def _complete(self, run_id: str, job: dict[str, Any], request: RunRequested, outcome: StepOutcome,
                        started_at: datetime, steps: list[dict[str, Any]] | None) -> None:
        completed = RunCompleted(
            run_id=run_id, model_id=request.model_id, version=request.version, step=request.step,
            status=outcome.status, outputs=outcome.outputs, steps=steps,
            error=None if outcome.error is None else outcome.error[:ERROR_MAX],
            traceback=str(outcome.details.get("traceback", ""))[-65536:], logs=outcome.logs[-65536:],
            requested_at=request.requested_at, started_at=started_at,
            queue_ms=max(0.0, (started_at - request.requested_at).total_seconds() * 1000),
            predict_ms=outcome.predict_ms)
        doc = {**job, "status": outcome.status, "error": outcome.error}
        await self.ctx.save("jobs", run_id, doc, expected_version=job["_v"],
                            events=[self.ctx.outbox(completed, event_id=stable_id(run_id, "completed"))])

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.backend.close()


def subscribe(ctx: ServiceContext) -> None:
    settings = ctx.settings
    limits = Limits(memory_mb=settings.worker_memory_mb, pids=settings.worker_pids, cpus=settings.worker_cpus,
                    run_cpu_s=settings.worker_run_cpu_s, tmp_mb=settings.worker_tmp_mb,
                    output_mb=settings.worker_output_mb, file_mb=settings.worker_file_mb)
    sandbox = Sandbox(settings.data_dir / "sandbox", limits, mode=settings.sandbox, worker_uid=settings.worker_uid,
                      worker_user=settings.worker_user, seccomp_python=settings.seccomp_python,
                      forbidden=[settings.data_dir], workers_total=settings.workers_total,
                      runtimes=[settings.data_dir / "envs", settings.data_dir / "code"])
    ctx.state["sandbox"] = sandbox
    config = PoolConfig(min_workers=settings.workers_min, max_workers=settings.workers_per_version,
                        max_total=settings.workers_total, idle_s=settings.worker_idle_s,
                        idle_grace_s=settings.worker_idle_grace_s)
    backends: dict[str, Backend] = {"local": LocalBackend(ctx.blobs, sandbox, config)}
    if settings.runtime_backend == "lambda":
        from services.executor.backends.aws_lambda import LambdaBackend
        backends["lambda"] = LambdaBackend(ctx.blobs, region=settings.aws_region, endpoint_url=settings.aws_endpoint,
                                           payload_bucket=settings.s3_bucket, s3_endpoint_url=settings.s3_endpoint)
    executor = Executor(ctx, ByRuntime(backends))
    ctx.state["executor"] = executor
    # builds in a group of their own: the runs consumer polls often, and every topic it reads
    # is more work for each of those polls
    ctx.bus.subscribe(topics.BUILDS, executor.on_build, group="feather-executor-builds")
    ctx.bus.subscribe(topics.RUNS, executor.on_run, urgent=True)

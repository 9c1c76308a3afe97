"""Local backend: pools of warm, sandboxed worker processes per model version.

A pool keeps between ``min_workers`` and ``max_workers`` workers of one version; a run waits in
order for a free worker and is never turned away as "busy". Across all pools the total number of
workers is capped (each has a memory limit, so this is the memory budget): when a new worker is
needed at the cap, the least recently used idle worker of another version is stopped. Idle
workers are reaped after ``idle_s``.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.contracts.files import SCHEME, files_in
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.backends.worker import Worker, WorkerDied
from services.executor.files import RunFiles
from services.executor.sandbox import Sandbox, SandboxUnavailable
from services.kit.blobs import BlobStore


@dataclass(frozen=True)
class PoolConfig:
    min_workers: int = 0
    max_workers: int = 2
    max_total: int = 8
    idle_s: float = 300.0
    idle_grace_s: float = 1.0  # an idle worker must be quiet over each of these


QUIET_SHARE = 0.2  # of a core: more than this after a step returned is work nobody asked for
BUDGET_CHECK_S = 0.5


class Pool:
    def __init__(self, runtime: dict[str, Any], backend: "LocalBackend") -> None:
        self.runtime = runtime
        self.backend = backend
        self.idle: deque[Worker] = deque()
        self.size = 0
        self.queue: deque[object] = deque()  # one token per waiting acquire, oldest first

    async def acquire(self) -> Worker:
        """Waiters are served first come, first served: a newcomer never takes the worker that was
        just released while an earlier waiter is still waking up."""
        free = self.backend.free
        turn = object()
        async with free:
            self.queue.append(turn)
            try:
                while self.queue[0] is not turn or not (
                        self.idle or (self.size < self.backend.config.max_workers
                                      and await self.backend.make_room(self))):
                    await free.wait()
            finally:
                self.queue.remove(turn)
                free.notify_all()  # the next in line looks again
            if self.idle:
                return self.idle.pop()
            self.size += 1
            self.backend.total += 1
        try:
            return await Worker.start(self.runtime, self.backend.sandbox)
        except BaseException:
            await self.forget()
            raise

    async def grow(self) -> bool:
        """Start one more worker and park it idle, if the limits allow; False when they do not."""
        async with self.backend.free:
            if self.size >= self.backend.config.max_workers or not await self.backend.make_room(self):
                return False
            self.size += 1
            self.backend.total += 1
        try:
            worker = await Worker.start(self.runtime, self.backend.sandbox)
        except BaseException:
            await self.forget()
            raise
        await self.release(worker)
        return True

    async def forget(self) -> None:
        async with self.backend.free:
            self.size -= 1
            self.backend.total -= 1
            self.backend.free.notify_all()

    async def release(self, worker: Worker) -> None:
        if not worker.alive:
            await worker.kill()
            await self.forget()
            return
        worker.last_used = time.monotonic()
        worker.cpu_mark = worker.cpu_seconds()
        async with self.backend.free:
            self.idle.append(worker)
            self.backend.free.notify_all()
        asyncio.get_running_loop().call_later(self.backend.config.idle_grace_s, self._check_quiet, worker,
                                              worker.cpu_mark, worker.runs)

    def _check_quiet(self, worker: Worker, cpu_before: float, runs: int) -> None:
        """A worker that computes while idle (a thread left spinning, or one that wakes later)
        would steal CPU from other runs: it is replaced. Checked every grace period while idle."""
        if worker not in self.idle or worker.runs != runs:
            return  # serving another run, which its CPU budget covers
        grace = self.backend.config.idle_grace_s
        used = worker.cpu_seconds()
        if used - cpu_before > grace * QUIET_SHARE:
            self.idle.remove(worker)
            self.backend.background(self._replace(worker))
        else:
            worker.cpu_mark = used  # the next run's CPU budget counts from here
            asyncio.get_running_loop().call_later(grace, self._check_quiet, worker, used, runs)

    async def _replace(self, worker: Worker) -> None:
        await worker.kill()
        await self.forget()


async def _late(call: StepCall) -> StepOutcome:
    return StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")


class LocalBackend(Backend):
    def __init__(self, blobs: BlobStore, sandbox: Sandbox, config: PoolConfig = PoolConfig()) -> None:
        self.blobs = blobs
        self.sandbox = sandbox
        self.config = config
        self.pools: dict[tuple[str, int], Pool] = {}
        self.free = asyncio.Condition()
        self.total = 0
        self._background: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None

    def pool(self, call_or_key: StepCall | tuple[str, int], runtime: dict[str, Any]) -> Pool:
        key = call_or_key if isinstance(call_or_key, tuple) else (call_or_key.model_id, call_or_key.version)
        if key not in self.pools:
            self.pools[key] = Pool(runtime, self)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap())
        return self.pools[key]

    def background(self, work: Any) -> asyncio.Task[None]:
        """Run ``work`` to its end even if whoever started it is canceled (a reference is kept)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def make_room(self, wanting: Pool) -> bool:
        """Called holding ``free``: True when one more worker may start for ``wanting``."""
        if self.total < self.config.max_total:
            return True
        idle = [(w.last_used, w, p) for p in self.pools.values() if p is not wanting for w in p.idle]
        if not idle:
            return False
        _, victim, pool = min(idle, key=lambda item: item[0])
        pool.idle.remove(victim)
        pool.size -= 1
        self.total -= 1
        self.background(victim.kill())
        return True

    def workers(self) -> dict[str, int]:
        idle = sum(len(pool.idle) for pool in self.pools.values())
        return {"idle": idle, "busy": self.total - idle}

    async def prestart(self, model_id: str, version: int, runtime: dict[str, Any]) -> None:
        pool = self.pool((model_id, version), runtime)
        for _ in range(max(0, self.config.min_workers - pool.size)):
            with contextlib.suppress(WorkerDied, OSError, SandboxUnavailable):
                if not await pool.grow():
                    return

    async def run(self, call: StepCall) -> StepOutcome:
        return (await self._serve([call], batched=False))[0]

    async def run_batch(self, calls: Sequence[StepCall]) -> list[StepOutcome]:
        calls = list(calls)
        started = asyncio.get_running_loop().time()
        outcomes = await self._serve(calls, batched=True)
        if outcomes is not None:
            return outcomes
        # the worker failed as a whole (it crashed, ran out of memory or CPU time, or answered out
        # of step): which run's input did it cannot be told, so each runs again alone, and a run
        # fails only for what its own input does
        spent = asyncio.get_running_loop().time() - started
        return list(await asyncio.gather(*(
            self.run(dataclasses.replace(call, deadline_s=call.deadline_s - spent)) if call.deadline_s > spent
            else _late(call) for call in calls)))

    async def _serve(self, calls: list[StepCall], batched: bool) -> list[StepOutcome] | None:
        """One worker serves ``calls``: one run, or a batch of runs of one step. Each run keeps
        its own deadline (the worker is stopped at the last of them), and a batch has the CPU
        budget of all its runs together. None when a batch's worker failed as a whole."""
        first = calls[0]
        pool = self.pool(first, first.runtime)
        loop = asyncio.get_running_loop()
        # one deadline per run for all of it: waiting for a worker, starting it, running
        deadlines = [loop.time() + call.deadline_s for call in calls]
        latest = max(deadlines)
        try:
            async with asyncio.timeout_at(latest):
                worker = await pool.acquire()
        except TimeoutError:
            return [StepOutcome("timed_out", error=f"no worker of this model was free within the run's deadline "
                                                   f"of {call.deadline_s:g}s") for call in calls]
        except (WorkerDied, OSError, SandboxUnavailable) as exc:
            return [StepOutcome("failed", error=str(exc) or "the model's worker could not start")] * len(calls)
        worker.runs += 1
        # the run keeps its own descriptor of the output folder: the worker's closes when it stops
        files = RunFiles(worker.inputs_dir, worker.outputs_dir,
                         outputs_fd=None if worker.outputs_fd is None else os.dup(worker.outputs_fd),
                         max_output_bytes=self.sandbox.limits.output_mb * 2**20)
        # the CPU the worker had used when it was last seen idle is this call's baseline
        budget = self.sandbox.limits.run_cpu_s * len(calls)
        worker.budget_check = loop.call_later(self._budget_every, self._check_budget, worker, worker.cpu_mark, budget)
        try:
            try:
                inputs = [await files.materialize(self.blobs, call.inputs,
                                                  inside=lambda p: self.sandbox.inside(p, worker.scratch))
                          for call in calls]
                folder = self.sandbox.outputs_inside(worker.scratch)
                async with asyncio.timeout_at(latest):
                    replies = await worker.call_batch(calls, inputs, folder) if batched \
                        else [await worker.call(first, inputs[0], folder)]
            except TimeoutError:
                await worker.kill()  # a worker past its deadline may hold anything: replace it
                return [StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")
                        for call in calls]
            except asyncio.CancelledError:
                await worker.kill()  # canceled mid-step: its answer would arrive for the wrong run
                raise
            except Exception as exc:  # the worker died, or is out of step with us: replace it
                await worker.kill()
                if len(calls) > 1:
                    return None  # run_batch tells the runs apart
                if worker.over_budget:
                    return [StepOutcome("timed_out", error=f"the run used more than its CPU time budget of "
                                                           f"{budget:g}s")]
                reason = exc if isinstance(exc, (WorkerDied, OSError)) else f"{type(exc).__name__}: {exc}"
                return [StepOutcome("failed", error=f"the model's worker crashed: {reason}")]
            answered = loop.time()
            return [StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")
                    if answered > deadline else await self._collect(call, reply, files, worker)
                    for call, reply, deadline in zip(calls, replies, deadlines, strict=True)]
        finally:
            if worker.budget_check is not None:
                worker.budget_check.cancel()
                worker.budget_check = None
            # the worker goes back to its pool whatever happens to this task meanwhile
            await asyncio.shield(self.background(self._finish(pool, worker, files)))

    async def _collect(self, call: StepCall, reply: dict[str, Any], files: RunFiles, worker: Worker) -> StepOutcome:
        """One run's outcome from the worker's answer for it, its files stored."""
        if not reply.get("ok"):
            return StepOutcome("failed", error=reply.get("error") or "the step failed", logs=reply.get("logs", ""),
                               predict_ms=reply.get("predict_ms", 0.0),
                               details={"traceback": reply.get("traceback", "")})
        given = {v["url"] for v in files_in(call.inputs)}
        named = [v["url"] for v in files_in(reply.get("outputs") or {})
                 if str(v["url"]).startswith(SCHEME) and v["url"] not in given]
        if named:  # a stored file is readable through the run that holds it: only its own
            return StepOutcome("failed", error=f"an output names a stored file the step did not make: "
                                               f"{str(named[0])[:80]}")
        try:
            outputs = await files.store_outputs(self.blobs, reply.get("outputs") or {},
                                                outside=lambda p: self.sandbox.outside(p, worker.outputs_dir))
        except (ValueError, OSError) as exc:  # outputs the executor refuses to collect
            return StepOutcome("failed", error=str(exc))
        return StepOutcome("succeeded", outputs=outputs, logs=reply.get("logs", ""),
                           predict_ms=reply.get("predict_ms", 0.0))

    async def _finish(self, pool: Pool, worker: Worker, files: RunFiles) -> None:
        """Empty the run's folders and return the worker; one that left too much is replaced."""
        try:
            clean = files.tidy() or await asyncio.to_thread(files.clear)
        except Exception:
            clean = False
        finally:
            files.close()
        if not clean:
            await worker.kill()
        await pool.release(worker)

    @property
    def _budget_every(self) -> float:
        return min(BUDGET_CHECK_S, self.sandbox.limits.run_cpu_s / 4)

    def _check_budget(self, worker: Worker, start: float, budget: float) -> None:
        """Stops a run whose threads and processes together used more CPU time than allowed."""
        if worker.cpu_seconds() - start > budget:
            worker.over_budget = True
            worker.proc.kill()
        elif worker.alive:
            worker.budget_check = asyncio.get_running_loop().call_later(self._budget_every, self._check_budget,
                                                                        worker, start, budget)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.config.idle_s / 2))
            now = time.monotonic()
            async with self.free:
                for pool in self.pools.values():
                    keep = max(self.config.min_workers, 0)
                    while len(pool.idle) > 0 and pool.size > keep and now - pool.idle[0].last_used > self.config.idle_s:
                        victim = pool.idle.popleft()
                        pool.size -= 1
                        self.total -= 1
                        self.background(victim.kill())
                self.free.notify_all()

    async def close(self) -> None:
        if self._reaper:
            self._reaper.cancel()
        for pool in self.pools.values():
            while pool.idle:
                await pool.idle.pop().kill()

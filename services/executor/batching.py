"""Adaptive batching: runs of a batch step of one version wait here to go to a worker together.

A step that declares ``batch`` (``max_size``, ``max_wait_ms``) has its calls queued by model,
version and step. A batch leaves when it is full, or when its oldest call has waited
``max_wait_ms``, and at most ``slots`` batches of one step are out at once: while they are, the
queue fills, so the busier the step the larger its batches, and an idle one answers a lone run
after ``max_wait_ms`` at most. Each call keeps its own outcome; a run canceled while it waits
leaves the queue, and one canceled while its batch runs only stops waiting for it.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from feather import Batch

from services.executor.backends.port import Backend, StepCall, StepOutcome

log = logging.getLogger("feather.executor")


def batch_of(call: StepCall) -> tuple[int, float] | None:
    """The step's largest batch and longest wait in seconds, when it takes batches."""
    spec = (call.runtime.get("batches") or {}).get(call.step)
    if not isinstance(spec, dict):
        return None
    try:
        size, wait_ms = int(spec["max_size"]), float(spec["max_wait_ms"])
    except (KeyError, TypeError, ValueError):
        return None
    # whatever a runtime record says, no batch is larger or slower than a manifest may ask
    return max(1, min(size, Batch.MAX_SIZE)), max(0.0, min(wait_ms, Batch.MAX_WAIT_MS)) / 1000


@dataclass
class _Waiting:
    call: StepCall
    answer: asyncio.Future[StepOutcome]
    since: float  # loop time it joined the queue
    gone: bool = False  # its run was canceled: it hears nothing more of its batch


@dataclass
class _Queue:
    size: int
    wait_s: float
    slots: asyncio.Semaphore
    waiting: deque[_Waiting] = field(default_factory=deque)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Task[None] | None = None
    out: int = 0  # batches sent and not yet answered


class Batcher:
    def __init__(self, backend: Backend, slots: int = 2) -> None:
        self.backend = backend
        self.slots = max(1, slots)  # batches of one step out at once: a version's workers
        self.queues: dict[tuple[str, int, str], _Queue] = {}
        self._batches: set[asyncio.Task[None]] = set()

    async def run(self, call: StepCall) -> StepOutcome:
        spec = batch_of(call)
        if spec is None:
            return await self.backend.run(call)
        loop = asyncio.get_running_loop()
        key = (call.model_id, call.version, call.step)
        queue = self.queues.get(key)
        if queue is None:
            queue = self.queues[key] = _Queue(*spec, slots=asyncio.Semaphore(self.slots))
        waiting = _Waiting(call, loop.create_future(), loop.time())
        waiting.call = dataclasses.replace(call, on_progress=_heard_while_waited(waiting, call))
        queue.waiting.append(waiting)
        queue.arrived.set()
        if queue.sender is None or queue.sender.done():
            queue.sender = asyncio.create_task(self._send(key, queue), name=f"batches of {call.step}")
        # each run is answered by its own deadline, whether it still waits or its batch runs on
        expiry = loop.call_at(waiting.since + call.deadline_s, _expire, queue, waiting)
        try:
            return await asyncio.shield(waiting.answer)
        except asyncio.CancelledError:
            waiting.gone = True
            with contextlib.suppress(ValueError):
                queue.waiting.remove(waiting)  # still waiting: it leaves; else its batch goes on
            raise
        finally:
            expiry.cancel()

    async def _send(self, key: tuple[str, int, str], queue: _Queue) -> None:
        loop = asyncio.get_running_loop()
        while queue.waiting:
            await queue.slots.acquire()
            try:
                # the batch fills until it is full or its oldest call has waited long enough
                while queue.waiting and len(queue.waiting) < queue.size:
                    left = queue.waiting[0].since + queue.wait_s - loop.time()
                    if left <= 0:
                        break
                    queue.arrived.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(queue.arrived.wait(), left)
                batch = [queue.waiting.popleft() for _ in range(min(queue.size, len(queue.waiting)))]
            except BaseException:
                queue.slots.release()
                raise
            if not batch:
                queue.slots.release()
                continue
            queue.out += 1
            task = asyncio.create_task(self._run(key, queue, batch, loop.time()))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
        self._forget(key, queue)

    def _forget(self, key: tuple[str, int, str], queue: _Queue) -> None:
        """A queue with nothing waiting or out goes: versions come and go."""
        if self.queues.get(key) is queue and not queue.waiting and not queue.out:
            del self.queues[key]

    async def _run(self, key: tuple[str, int, str], queue: _Queue, batch: list[_Waiting], now: float) -> None:
        try:
            open_ = [w for w in batch if not w.answer.done()]  # not past its deadline already
            calls = [dataclasses.replace(w.call, deadline_s=w.call.deadline_s - (now - w.since)) for w in open_]
            try:
                outcomes = await self.backend.run_batch(calls) if calls else []
                if len(outcomes) != len(calls):
                    raise RuntimeError(f"the backend answered {len(outcomes)} of {len(calls)} runs")
            except Exception as exc:  # a bug below must still answer every run
                log.exception("batch of %s: backend error", batch[0].call.step)
                outcomes = [StepOutcome("failed", error=f"internal error: {exc}")] * len(calls)
            for waiting, outcome in zip(open_, outcomes, strict=True):
                if not waiting.answer.done():  # it may have reached its deadline meanwhile
                    waiting.answer.set_result(outcome)
        finally:
            for waiting in batch:  # shutting down: the runs stay recorded, to be resumed
                if not waiting.answer.done():
                    waiting.answer.cancel()
            queue.slots.release()
            queue.out -= 1
            if queue.sender is None or queue.sender.done():
                self._forget(key, queue)

    async def close(self) -> None:
        """Stop sending: runs still waiting and those in a batch are canceled (they stay recorded,
        to be resumed by the next executor)."""
        queues = list(self.queues.values())
        for queue in queues:
            while queue.waiting:
                queue.waiting.popleft().answer.cancel()
        tasks = [*self._batches, *(q.sender for q in queues if q.sender is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.queues.clear()


def _expire(queue: _Queue, waiting: _Waiting) -> None:
    with contextlib.suppress(ValueError):
        queue.waiting.remove(waiting)
    if not waiting.answer.done():
        waiting.answer.set_result(StepOutcome("timed_out", error=f"the run exceeded its deadline of "
                                                                 f"{waiting.call.deadline_s:g}s"))


def _heard_while_waited(waiting: _Waiting, call: StepCall) -> Any:
    """The run's progress callback, silent once the run is answered or gone."""
    if call.on_progress is None:
        return None
    report = call.on_progress

    def progress(fraction: float | None, message: str) -> None:
        if not (waiting.gone or waiting.answer.done()):
            report(fraction, message)
    return progress

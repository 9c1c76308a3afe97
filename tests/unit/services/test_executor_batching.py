"""The executor's batcher: runs of a batch step wait to go to a worker together."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

import pytest

from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.batching import Batcher, batch_of


class Recording(Backend):
    """Answers each run with its own input doubled, after ``delay``, and keeps every batch."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[list[str]] = []
        self.single: list[str] = []
        self.out = 0
        self.most_out = 0

    async def run(self, call: StepCall) -> StepOutcome:
        self.single.append(call.run_id)
        return StepOutcome("succeeded", outputs={"y": call.inputs["x"] * 2})

    async def run_batch(self, calls: Sequence[StepCall]) -> list[StepOutcome]:
        self.batches.append([c.run_id for c in calls])
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.out -= 1
        return [StepOutcome("succeeded", outputs={"y": c.inputs["x"] * 2}) for c in calls]


def _call(i: int, *, step: str = "double", size: int = 4, wait_ms: float = 20, deadline: float = 30.0,
          version: int = 1) -> StepCall:
    runtime = {"batches": {"double": {"max_size": size, "max_wait_ms": wait_ms}}}
    return StepCall(f"r{i}", "o/m", version, step, {"x": i}, runtime, deadline)


async def test_waiting_runs_go_together_and_each_gets_its_own_answer() -> None:
    backend = Recording(delay=0.05)
    batcher = Batcher(backend, slots=1)
    outcomes = await asyncio.gather(*(batcher.run(_call(i)) for i in range(10)))
    assert [o.outputs["y"] for o in outcomes] == [i * 2 for i in range(10)]
    assert [len(b) for b in backend.batches] == [4, 4, 2]  # full batches leave at once, in order
    assert [r for b in backend.batches for r in b] == [f"r{i}" for i in range(10)]
    assert backend.most_out == 1 and batcher.queues == {}


async def test_a_lone_run_waits_no_longer_than_max_wait() -> None:
    backend = Recording()
    batcher = Batcher(backend)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await batcher.run(_call(1, wait_ms=30))
    assert 0.03 <= loop.time() - started < 1.0
    assert backend.batches == [["r1"]]


async def test_while_the_slots_are_busy_the_next_batch_fills() -> None:
    backend = Recording(delay=0.1)
    batcher = Batcher(backend, slots=2)
    tasks = []
    for i in range(9):  # one at a time: the first two take both slots, the others queue
        tasks.append(asyncio.create_task(batcher.run(_call(i, size=8, wait_ms=0))))
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks)
    assert backend.most_out == 2
    assert sorted(map(len, backend.batches)) == [1, 1, 7]  # the seven waited for a slot, together


async def test_steps_and_versions_are_batched_apart_and_other_steps_pass_through() -> None:
    backend = Recording()
    batcher = Batcher(backend)
    await asyncio.gather(batcher.run(_call(1)), batcher.run(_call(2, version=2)), batcher.run(_call(3, step="other")))
    assert sorted(backend.batches) == [["r1"], ["r2"]] and backend.single == ["r3"]


async def test_a_run_canceled_while_waiting_leaves_the_batch() -> None:
    backend = Recording()
    batcher = Batcher(backend)
    kept = asyncio.create_task(batcher.run(_call(1, wait_ms=50)))
    gone = asyncio.create_task(batcher.run(_call(2, wait_ms=50)))
    await asyncio.sleep(0.01)
    gone.cancel()
    assert (await kept).outputs == {"y": 2}
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert backend.batches == [["r1"]]


async def test_a_run_canceled_while_its_batch_runs_does_not_stop_the_others() -> None:
    backend = Recording(delay=0.05)
    batcher = Batcher(backend)
    tasks = [asyncio.create_task(batcher.run(_call(i, size=3, wait_ms=0))) for i in range(3)]
    await asyncio.sleep(0.02)
    tasks[1].cancel()
    assert (await tasks[0]).status == (await tasks[2]).status == "succeeded"
    assert backend.batches == [["r0", "r1", "r2"]]


async def test_a_run_whose_deadline_passed_while_waiting_is_not_sent() -> None:
    backend = Recording(delay=0.05)
    batcher = Batcher(backend, slots=1)
    busy = asyncio.create_task(batcher.run(_call(0, size=1, wait_ms=0)))
    await asyncio.sleep(0.01)
    late = await batcher.run(_call(1, size=1, wait_ms=0, deadline=0.02))
    assert not busy.done()  # answered at its own deadline, not once a slot freed
    await busy
    assert late.status == "timed_out" and "deadline of 0.02s" in late.error
    assert backend.batches == [["r0"]]


async def test_a_run_in_a_batch_is_answered_at_its_own_deadline_and_the_others_go_on() -> None:
    backend = Recording(delay=0.2)
    batcher = Batcher(backend)
    hasty = asyncio.create_task(batcher.run(_call(1, size=2, wait_ms=0, deadline=0.05)))
    patient = asyncio.create_task(batcher.run(_call(2, size=2, wait_ms=0)))
    first = (await asyncio.wait([hasty, patient], return_when=asyncio.FIRST_COMPLETED))[0]
    assert first == {hasty} and hasty.result().status == "timed_out"
    assert (await patient).outputs == {"y": 4} and backend.batches == [["r1", "r2"]]


async def test_a_run_canceled_in_a_batch_hears_no_more_of_its_progress() -> None:
    heard: list[str] = []

    class Reporting(Recording):
        async def run_batch(self, calls):
            await asyncio.sleep(0.05)
            for call in calls:
                call.on_progress(0.5, "half")
            return await super().run_batch(calls)

    batcher = Batcher(Reporting())
    calls = [dataclasses.replace(_call(i, size=2, wait_ms=0), on_progress=lambda f, m, i=i: heard.append(f"r{i}"))
             for i in range(2)]
    tasks = [asyncio.create_task(batcher.run(c)) for c in calls]
    await asyncio.sleep(0.01)
    tasks[0].cancel()
    await tasks[1]
    assert heard == ["r1"]


async def test_a_backend_that_answers_too_few_runs_fails_each_rather_than_losing_it() -> None:
    class Short(Recording):
        async def run_batch(self, calls):
            return (await super().run_batch(calls))[:-1]
    batcher = Batcher(Short())
    outcomes = await asyncio.gather(*(batcher.run(_call(i, size=2, wait_ms=0)) for i in range(2)))
    assert [o.status for o in outcomes] == ["failed", "failed"] and "answered 1 of 2" in outcomes[0].error


async def test_closing_cancels_the_runs_still_waiting() -> None:
    batcher = Batcher(Recording(delay=10), slots=1)
    running = asyncio.create_task(batcher.run(_call(1, size=1, wait_ms=0)))
    waiting = asyncio.create_task(batcher.run(_call(2, size=1, wait_ms=0)))
    await asyncio.sleep(0.01)
    await batcher.close()
    for task in (running, waiting):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert batcher.queues == {}


async def test_a_failing_backend_still_answers_every_run() -> None:
    class Broken(Recording):
        async def run_batch(self, calls):
            raise RuntimeError("boom")
    batcher = Batcher(Broken())
    outcomes = await asyncio.gather(*(batcher.run(_call(i)) for i in range(2)))
    assert {(o.status, o.error) for o in outcomes} == {("failed", "internal error: boom")}


async def test_closing_cancels_runs_in_a_batch_so_they_resume_on_the_next_start() -> None:
    batcher = Batcher(Recording(delay=10))
    task = asyncio.create_task(batcher.run(_call(1, wait_ms=0)))
    await asyncio.sleep(0.01)
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("spec, expected", [
    ({"max_size": 8, "max_wait_ms": 10}, (8, 0.01)),
    ({"max_size": 10_000, "max_wait_ms": 1e9}, (64, 1.0)),  # a runtime record cannot ask for more
    ({"max_size": "x", "max_wait_ms": 1}, None),
    ("no", None),
])
def test_batch_of_reads_and_bounds_the_runtime_record(spec, expected) -> None:
    call = StepCall("r", "o/m", 1, "double", {}, {"batches": {"double": spec}}, 1.0)
    assert batch_of(call) == expected

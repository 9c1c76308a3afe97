"""The executor's use cases, through the bus: attempts, redeliveries, chains, deadlines, cancel."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from functools import partial

from harness import publish, started

from services.contracts.events import ImageBuilt, RunCancelRequested, RunCompleted, RunRequested
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.bootstrap import bootstrap

RUNTIME = {"backend": "scripted", "outputs": {"find": ["digits", "count"], "read": ["text"], "echo": ["text"]}}
CHAIN = [{"step": "find", "inputs": ["image"], "kinds": {"image": "image"}},
         {"step": "read", "inputs": ["digits", "image"], "kinds": {"digits": "pick_list", "image": "image"}}]


class Scripted(Backend):
    """Answers each step from ``answers`` (a function of the call); records every call."""

    def __init__(self, answers=None) -> None:
        self.calls: list[StepCall] = []
        self.answers = answers or (lambda call: StepOutcome("succeeded", outputs={"text": call.inputs.get("text")}))
        self.prestarted: list[tuple[str, int]] = []

    async def run(self, call: StepCall) -> StepOutcome:
        self.calls.append(call)
        answer = self.answers(call)
        return await answer if asyncio.iscoroutine(answer) else answer

    async def prestart(self, model_id: str, version: int, runtime: dict) -> None:
        self.prestarted.append((model_id, version))


def executor(tmp_path, backend: Backend):
    return started("executor", partial(bootstrap, backend=backend), tmp_path)


async def ready(service) -> None:
    await publish(service, ImageBuilt(model_id="t/m", version=1, build_id="t/m@1", runtime=RUNTIME))


def request(run_id: str, **fields) -> RunRequested:
    return RunRequested(run_id=run_id, model_id="t/m", version=1, **{"step": "echo", "inputs": {"text": "hi"},
                                                                     **fields})


async def test_a_request_delivered_twice_runs_once(tmp_path):
    backend = Scripted()
    async with executor(tmp_path, backend) as (service, events):
        await ready(service)
        twice = request("r1")
        await publish(service, twice, event_id="e1")
        await publish(service, twice, event_id="e1")
        done = await events.first(RunCompleted)
        await asyncio.sleep(0.1)
    assert done.status == "succeeded" and done.outputs == {"text": "hi"}
    assert len(backend.calls) == 1 and len(events.of(RunCompleted)) == 1
    assert backend.prestarted == [("t/m", 1)]  # a new build warms the backend once


async def test_a_job_interrupted_once_runs_again_and_one_interrupted_twice_fails(tmp_path):
    backend = Scripted()
    async with executor(tmp_path, Scripted()) as (first, _):
        # what an executor that died mid-run leaves behind
        for run_id, attempts in (("again", 0), ("twice", 1)):
            job = {"status": "running", "attempts": attempts, "request": request(run_id).model_dump(mode="json")}
            await first.ctx.store.save("jobs", run_id, job, expected_version=None)
            await first.ctx.store.apply("runtimes", "t/m@1", {"runtime": RUNTIME}, event_id="built")
        await first.executor.jobs.close()
    async with executor(tmp_path, backend) as (service, events):
        again = await events.first(RunCompleted, lambda e: e.run_id == "again")
        twice = await events.first(RunCompleted, lambda e: e.run_id == "twice")
        jobs = {k: await service.ctx.store.get("jobs", k) for k in ("again", "twice")}
    assert again.status == "succeeded" and jobs["again"]["attempts"] == 1
    assert twice.status == "failed" and "stopped during this run, twice" in twice.error
    assert [c.run_id for c in backend.calls] == ["again"]  # the twice-interrupted job never ran a third time


async def test_a_chain_fills_each_step_from_the_earlier_ones_within_one_deadline(tmp_path):
    def answers(call: StepCall) -> StepOutcome:
        if call.step == "find":
            return StepOutcome("succeeded", outputs={"digits": {"choices": ["4", "8"], "selected": ["4", "8"]},
                                                     "count": 2, "undeclared": 1})
        return StepOutcome("succeeded", outputs={"text": ",".join(call.inputs["digits"]["selected"])})
    backend = Scripted(answers)
    requested_at = datetime.now(timezone.utc) - timedelta(seconds=10)  # accepted 10 s ago
    async with executor(tmp_path, backend) as (service, events):
        await ready(service)
        await publish(service, request("c1", step="find", inputs={"image": "i"}, chain=CHAIN, deadline_s=60,
                                       requested_at=requested_at,
                                       choices={"read": {"digits": {"selected": ["8"]}}}))
        done = await events.first(RunCompleted)
    find, read = backend.calls
    assert read.inputs == {"digits": {"choices": ["4", "8"], "selected": ["8"]}, "image": "i"}
    assert done.status == "succeeded" and done.outputs == {"text": "8"}
    assert done.steps[0] == {"step": "find", "outputs": {"digits": {"choices": ["4", "8"], "selected": ["4", "8"]},
                                                         "count": 2}}  # only what the step declares
    # the deadline counts from acceptance, and the second step gets what the first left
    assert find.deadline_s <= 50 and read.deadline_s <= find.deadline_s


async def test_a_failing_step_ends_the_chain_and_a_spent_deadline_runs_nothing(tmp_path):
    backend = Scripted(lambda call: StepOutcome("failed", error="no digits found"))
    async with executor(tmp_path, backend) as (service, events):
        await ready(service)
        await publish(service, request("f1", step="find", inputs={"image": "i"}, chain=CHAIN))
        await publish(service, request("late", requested_at=datetime.now(timezone.utc) - timedelta(seconds=120),
                                       deadline_s=60))
        failed = await events.first(RunCompleted, lambda e: e.run_id == "f1")
        late = await events.first(RunCompleted, lambda e: e.run_id == "late")
    assert failed.status == "failed" and failed.error == "no digits found"
    assert [c.step for c in backend.calls] == ["find"]
    assert late.status == "timed_out" and "deadline of 60s" in late.error


async def test_cancel_ends_a_running_step_as_canceled(tmp_path):
    began = asyncio.Event()

    async def forever(call: StepCall) -> StepOutcome:
        began.set()
        await asyncio.Event().wait()
        raise AssertionError("never answers")
    backend = Scripted(forever)
    async with executor(tmp_path, backend) as (service, events):
        await ready(service)
        await publish(service, request("x1"))
        await asyncio.wait_for(began.wait(), 10)
        await publish(service, RunCancelRequested(run_id="x1"))
        done = await events.first(RunCompleted)
        job = await service.ctx.store.get("jobs", "x1")
    assert done.status == "canceled" and job["status"] == "canceled"


async def test_outputs_over_the_limit_fail_the_run_with_the_sizes(tmp_path):
    backend = Scripted(lambda call: StepOutcome("succeeded", outputs={"text": "x" * 3000}))
    async with started("executor", partial(bootstrap, backend=backend), tmp_path, max_outputs_kb=2) as (service, events):
        await ready(service)
        await publish(service, request("big"))
        done = await events.first(RunCompleted)
    assert done.status == "failed" and "over the limit of 2 KiB" in done.error


async def test_ended_runs_are_counted_by_model_version_and_status(tmp_path):
    from prometheus_client import generate_latest

    backend = Scripted(lambda call: StepOutcome("failed", error="no") if call.inputs["text"] == "bad"
                       else StepOutcome("succeeded", outputs={"text": "ok"}))
    async with executor(tmp_path, backend) as (service, events):
        await ready(service)
        for i, text in enumerate(["a", "b", "bad"]):
            await publish(service, request(f"m{i}", inputs={"text": text}))
        for i in range(3):
            await events.first(RunCompleted, lambda e, i=i: e.run_id == f"m{i}")
        text = generate_latest(service.ctx.metrics.registry).decode()
    assert 'feather_runs_total{model="t/m",status="succeeded",version="1"} 2.0' in text
    assert 'feather_runs_total{model="t/m",status="failed",version="1"} 1.0' in text
    assert 'feather_run_duration_seconds_count{model="t/m",status="succeeded"} 2.0' in text

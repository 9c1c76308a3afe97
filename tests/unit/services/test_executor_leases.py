"""Several executors on one store: a job runs under its holder's lease, is left alone while the
lease is renewed, is taken over once it runs out or is given up, and is ended by its holder only;
a build only one of them read is found by the others."""
from __future__ import annotations

import asyncio
import time
from functools import partial

from harness import publish, started
from test_executor_handlers import RUNTIME, Scripted, ready, request

from services.contracts.events import RunCompleted
from services.executor import handlers
from services.executor.backends.port import StepCall, StepOutcome
from services.executor.bootstrap import bootstrap
from services.executor.leases import Leases

LEASE_S = 0.6


def executor(tmp_path, backend, name: str):
    return started("executor", partial(bootstrap, backend=backend), tmp_path, instance_id=name, job_lease_s=LEASE_S)


def slow(seconds: float, began: asyncio.Event | None = None):
    async def answer(call: StepCall) -> StepOutcome:
        if began is not None:
            began.set()
        await asyncio.sleep(seconds)
        return StepOutcome("succeeded", outputs={"text": call.inputs.get("text")})
    return answer


async def begun(service, run_id: str, began: asyncio.Event) -> None:
    """``run_id`` sent to ``service`` and begun by its backend."""
    await ready(service)
    await publish(service, request(run_id))
    await asyncio.wait_for(began.wait(), 10)


async def seed(service, run_id: str, **fields) -> None:
    """A job as another executor left it in the shared store."""
    job = {"status": "queued", "attempts": 0, "request": request(run_id).model_dump(mode="json"), **fields}
    await service.ctx.store.save("jobs", run_id, job, expected_version=None)
    await service.ctx.store.apply("runtimes", "t/m@1", {"runtime": RUNTIME}, event_id="built")


async def test_a_job_is_left_to_its_live_holder_and_taken_over_once_its_lease_runs_out(tmp_path):
    backend = Scripted()
    async with executor(tmp_path, backend, "b") as (service, events):
        runs_out = time.time() + 1.0
        await seed(service, "theirs", holder="a", lease_until=runs_out)
        assert await handlers.take_over(service.executor) == 0  # "a" still holds it
        done = await events.first(RunCompleted, timeout=10)
        job = await service.ctx.store.get("jobs", "theirs")
    assert done.run_id == "theirs" and done.status == "succeeded"
    assert backend.calls and time.time() >= runs_out
    assert job["holder"] == "b" and job["attempts"] == 1 and job["status"] == "succeeded"


async def test_a_running_job_keeps_its_lease_so_another_executor_takes_nothing(tmp_path):
    began = asyncio.Event()
    running, idle = Scripted(slow(4 * LEASE_S, began)), Scripted()
    async with executor(tmp_path / "shared", running, "a") as (a, a_events), \
            executor(tmp_path / "shared", idle, "b") as (b, b_events):
        await begun(a, "long", began)
        taken = []
        for _ in range(6):  # through several of the lease's lengths
            await asyncio.sleep(LEASE_S / 2)
            taken.append(await handlers.take_over(b.executor))
        done = await a_events.first(RunCompleted, timeout=10)
        job = await a.ctx.store.get("jobs", "long")
    assert taken == [0] * 6 and not idle.calls and not b_events.of(RunCompleted)
    assert done.status == "succeeded" and job["holder"] == "a" and job["attempts"] == 0


async def test_a_job_taken_over_is_stopped_and_never_ended_by_its_old_holder(tmp_path):
    began = asyncio.Event()
    async with executor(tmp_path, Scripted(slow(30, began)), "a") as (a, events):
        await begun(a, "stolen", began)
        # what another executor does once it believes "a" dead
        other = Leases(a.ctx.store, "b", 60)
        assert await other.claim(await a.ctx.store.get("jobs", "stolen")) is not None
        for _ in range(50):  # "a" notices at its next renewal and stops the run
            await asyncio.sleep(0.1)
            if "stolen" not in a.executor.jobs.tasks:
                break
        job = await a.ctx.store.get("jobs", "stolen")
    assert "stolen" not in a.executor.jobs.tasks
    assert not events.of(RunCompleted)
    assert job["holder"] == "b" and job["status"] == "queued" and job["attempts"] == 1


async def test_a_stopping_executor_gives_its_jobs_up_to_the_next_one_at_once(tmp_path):
    began = asyncio.Event()
    async with executor(tmp_path, Scripted(slow(30, began)), "a") as (a, _):
        await begun(a, "handed", began)
    backend = Scripted()
    async with started("executor", partial(bootstrap, backend=backend), tmp_path, instance_id="b",
                       job_lease_s=60) as (b, events):
        done = await events.first(RunCompleted, timeout=5)  # long before a lease of 60 s ran out
        job = await b.ctx.store.get("jobs", "handed")
    assert done.run_id == "handed" and done.status == "succeeded"
    assert job["holder"] == "b" and job["attempts"] == 1


async def test_an_executor_started_again_under_its_name_takes_its_jobs_back_at_once(tmp_path):
    backend = Scripted()
    async with started("executor", partial(bootstrap, backend=backend), tmp_path, instance_id="a",
                       job_lease_s=60) as (a, events):
        await seed(a, "mine", holder="a", lease_until=time.time() + 60)
        assert await handlers.take_over(a.executor) == 1
        done = await events.first(RunCompleted, timeout=5)
    assert done.run_id == "mine" and done.status == "succeeded"


async def test_a_runtime_recorded_by_another_executor_is_found_while_a_run_waits_for_it(tmp_path):
    from services.executor.runtimes import Runtimes
    from services.kit.store import SqliteStore

    store = SqliteStore(str(tmp_path / "jobs.db"))
    await store.start()
    try:
        here, there = Runtimes(store, wait_s=5), Runtimes(store, wait_s=5)
        waiting = asyncio.create_task(here.get("t/m", 1))  # the build's event went to "there" alone
        await asyncio.sleep(0.3)
        await there.record("t/m", 1, RUNTIME, event_id="built")
        found = await asyncio.wait_for(waiting, 2)
    finally:
        await store.close()
    assert found == RUNTIME

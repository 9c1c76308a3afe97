"""A batch step on real worker processes: one call for several runs, each run its own outcome
and its own files, one bad input failing only its run."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from test_local_pool import _runtime_of

from services.contracts.files import blob_key, file_id
from services.executor.backends.local import LocalBackend, PoolConfig
from services.executor.backends.port import StepCall
from services.executor.batching import Batcher
from services.executor.sandbox import Limits, Sandbox
from services.kit.blobs.local import LocalBlobStore

APP = '''import os
import feather as ft

model = ft.Model("batched")


@model.step(inputs=[ft.Number("x"), ft.Text("name")],
            outputs=[ft.Number("y"), ft.Number("size"), ft.Number("pid"), ft.File("note")],
            batch=ft.Batch(max_size=8, max_wait_ms=50))
def double(x, name):
    ft.progress(0.5, f"{len(x)} at once")
    if 13 in x:
        raise ValueError("13 is unlucky")
    if "crash" in name:  # what no exception handler sees: the worker process itself goes
        os._exit(3)
    return [(v * 2, len(x), os.getpid(), f"for {n}".encode()) for v, n in zip(x, name)]
'''


@pytest.fixture
def runtime(tmp_path: Path) -> dict:
    return {**_runtime_of(tmp_path, APP, "batched"), "batches": {"double": {"max_size": 8, "max_wait_ms": 50}}}


@pytest.fixture
async def backend(tmp_path: Path):
    sandbox = Sandbox(tmp_path / "sandbox", Limits(), mode="off")
    pool = LocalBackend(LocalBlobStore(str(tmp_path / "blobs")), sandbox, PoolConfig(max_workers=1))
    yield pool
    await pool.close()


def _call(i: int, runtime: dict, progress: list | None = None) -> StepCall:
    return StepCall(f"r{i}", "t/batched", 1, "double", {"x": i, "name": f"run {i}"}, runtime, 30.0,
                    on_progress=None if progress is None else lambda f, m: progress.append((i, f, m)))


async def test_runs_waiting_together_are_one_call_and_each_keeps_its_answer(runtime, backend) -> None:
    batcher = Batcher(backend, slots=1)
    progress: list = []
    outcomes = await asyncio.gather(*(batcher.run(_call(i, runtime, progress)) for i in (1, 2, 13, 4, 5)))
    assert [o.status for o in outcomes] == ["succeeded", "succeeded", "failed", "succeeded", "succeeded"]
    assert "13 is unlucky" in outcomes[2].error and "ValueError" in outcomes[2].details["traceback"]
    good = [o.outputs for o in outcomes if o.status == "succeeded"]
    assert [o["y"] for o in good] == [2, 4, 8, 10]
    # all five went in one call, which failed; its halves were called again until 13 was alone
    assert (1, 0.5, "5 at once") in progress and [o["size"] for o in good] == [2, 2, 2, 2]
    # each run's file is its own, stored under its own id
    notes = [o["note"] for o in good]
    assert len({n["url"] for n in notes}) == 4
    blobs = backend.blobs
    assert [await blobs.get(blob_key(file_id(n["url"]))) for n in notes] == [b"for run 1", b"for run 2",
                                                                              b"for run 4", b"for run 5"]
    assert {i for i, _, m in progress if m == "5 at once"} == {1, 2, 13, 4, 5}  # each run hears it


async def test_a_batch_on_its_own_and_a_single_run_are_served_alike(runtime, backend) -> None:
    alone = await backend.run(_call(3, runtime))
    together = await backend.run_batch([_call(6, runtime), _call(7, runtime)])
    assert alone.outputs["size"] == 1 and [o.outputs["size"] for o in together] == [2, 2]
    assert [o.outputs["y"] for o in together] == [12, 14]


async def test_an_input_that_crashes_the_worker_fails_only_its_own_run(runtime, backend) -> None:
    calls = [_call(1, runtime), StepCall("crasher", "t/batched", 1, "double", {"x": 2, "name": "crash"}, runtime, 30.0),
             _call(3, runtime)]
    outcomes = await backend.run_batch(calls)
    assert [o.status for o in outcomes] == ["succeeded", "failed", "succeeded"]
    assert "exited with code 3" in outcomes[1].error
    assert [o.outputs["size"] for o in (outcomes[0], outcomes[2])] == [1, 1]  # each ran again, alone


async def test_a_run_with_a_short_deadline_is_answered_before_its_batch_ends(runtime, backend, tmp_path) -> None:
    slow = {**runtime, **_runtime_of(tmp_path, APP.replace("ft.progress(0.5", "__import__('time').sleep(0.6); "
                                                                    "ft.progress(0.5"), "slow")}
    await backend.run(StepCall("warm", "t/slow", 1, "double", {"x": 0, "name": ""}, slow, 30.0))
    batcher = Batcher(backend)
    hasty = asyncio.create_task(batcher.run(StepCall("hasty", "t/slow", 1, "double", {"x": 1, "name": "a"}, slow, 0.3)))
    patient = asyncio.create_task(batcher.run(StepCall("patient", "t/slow", 1, "double", {"x": 2, "name": "b"},
                                                       slow, 30.0)))
    done, _ = await asyncio.wait([hasty, patient], return_when=asyncio.FIRST_COMPLETED)
    assert done == {hasty} and hasty.result().status == "timed_out"
    assert (await patient).status == "succeeded" and patient.result().outputs["y"] == 4

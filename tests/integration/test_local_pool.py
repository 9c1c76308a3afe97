"""Warm worker pools: reuse, limits, waiting in order, eviction under the budget, idle reaping."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from feather._bundle import pack
from services.builder.local_env import unpack_code
from services.executor.backends.local import LocalBackend, PoolConfig
from services.executor.backends.port import StepCall
from services.executor.sandbox import Limits, Sandbox
from services.kit.blobs.local import LocalBlobStore

APP = '''import os, time
import feather as ft

model = ft.Model("pid")


@model.step(inputs=[ft.Number("sleep")], outputs=[ft.Number("pid")])
def pid(sleep: float) -> int:
    time.sleep(sleep)
    return os.getpid()
'''


@pytest.fixture
def runtime(tmp_path: Path) -> dict:
    source = tmp_path / "src" / "app.py"
    source.parent.mkdir()
    source.write_text(APP)
    code = tmp_path / "code"
    unpack_code(pack(str(source)), code)
    # this interpreter has everything the model needs; the pool is what is under test
    return {"backend": "local", "python": sys.executable, "app_dir": str(code)}


def backend(tmp_path: Path, **config) -> LocalBackend:
    sandbox = Sandbox(tmp_path / "sandbox", Limits(), mode="off")
    return LocalBackend(LocalBlobStore(str(tmp_path / "blobs")), sandbox, PoolConfig(**config))


def call(i: int, runtime: dict, version: int = 1, sleep: float = 0.0) -> StepCall:
    return StepCall(f"r{i}", "t/pid", version, "pid", {"sleep": sleep}, runtime, 30.0)


async def test_workers_stay_warm_and_are_reused(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=2)
    pids = {(await pool.run(call(i, runtime))).outputs["pid"] for i in range(10)}
    assert len(pids) == 1  # one at a time: the same warm worker every time
    await pool.close()


async def test_a_burst_waits_for_workers_and_none_is_refused(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=2)
    outcomes = await asyncio.gather(*(pool.run(call(i, runtime, sleep=0.05)) for i in range(30)))
    assert [o.status for o in outcomes] == ["succeeded"] * 30
    assert len({o.outputs["pid"] for o in outcomes}) == 2  # never more than max_workers
    assert pool.total == 2
    await pool.close()


async def test_waiting_runs_are_served_in_order(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=1)
    await pool.run(call(0, runtime))  # warm
    finished: list[int] = []

    async def one(i: int) -> None:
        await pool.run(call(i, runtime, sleep=0.02))
        finished.append(i)

    tasks = []
    for i in range(1, 9):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0.005)  # submitted in this order
    await asyncio.gather(*tasks)
    assert finished == list(range(1, 9))
    await pool.close()


async def test_a_newcomer_does_not_take_the_worker_an_earlier_waiter_was_woken_for(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=1)
    models = pool.pool(call(0, runtime), runtime)
    worker = await models.acquire()  # the only worker, busy
    earlier = asyncio.create_task(models.acquire())
    await asyncio.sleep(0)  # waiting now
    newcomer = asyncio.create_task(models.acquire())  # runs before the earlier waiter wakes
    await models.release(worker)
    assert await asyncio.wait_for(earlier, 5) is worker
    await asyncio.sleep(0.05)
    assert not newcomer.done()  # still in line behind it
    await models.release(worker)
    assert await asyncio.wait_for(newcomer, 5) is worker
    await models.release(worker)
    await pool.close()


async def test_the_least_recently_used_idle_worker_makes_room(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=2, max_total=2)
    first = (await pool.run(call(1, runtime, version=1))).outputs["pid"]
    second = (await pool.run(call(2, runtime, version=2))).outputs["pid"]
    await pool.run(call(3, runtime, version=2))  # version 2 used last; version 1 is the LRU
    third = (await pool.run(call(4, runtime, version=3))).outputs["pid"]
    assert pool.total == 2
    assert pool.pools[("t/pid", 1)].size == 0  # evicted
    assert pool.pools[("t/pid", 2)].size == 1 and third not in (first, second)
    await asyncio.sleep(0.2)
    assert not Path(f"/proc/{first}").exists() or Path(f"/proc/{first}/status").read_text().find("Z (zombie)") >= 0
    await pool.close()


async def test_idle_workers_are_reaped(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=2, idle_s=0.4)
    pid = (await pool.run(call(1, runtime))).outputs["pid"]
    assert pool.total == 1
    for _ in range(40):
        await asyncio.sleep(0.1)
        if pool.total == 0:
            break
    assert pool.total == 0
    assert (await pool.run(call(2, runtime))).outputs["pid"] != pid  # a fresh worker
    await pool.close()


async def test_prestart_keeps_the_minimum_warm(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=2, min_workers=2)
    await pool.prestart("t/pid", 1, runtime)
    assert pool.pools[("t/pid", 1)].size == 2 and len(pool.pools[("t/pid", 1)].idle) == 2
    await pool.close()


# --- every path gives its worker back, or stops it ------------------------------------------

SLOW = '''import os, time
import feather as ft


def load():
    time.sleep(float(os.environ.get("SLOW_LOAD_S", "3")))


model = ft.Model("slow", load=load)


@model.step(inputs=[ft.Number("sleep")], outputs=[ft.Number("pid")])
def pid(sleep: float) -> int:
    time.sleep(sleep)
    return os.getpid()
'''


def _runtime_of(tmp_path: Path, source: str, name: str) -> dict:
    app = tmp_path / name / "app.py"
    app.parent.mkdir()
    app.write_text(source)
    code = tmp_path / f"code-{name}"
    unpack_code(pack(str(app)), code)
    return {"backend": "local", "python": sys.executable, "app_dir": str(code)}


def _live_children() -> list[int]:
    import subprocess
    import os
    out = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


async def test_a_cold_start_cut_off_by_the_deadline_leaves_no_worker_behind(tmp_path):
    pool = backend(tmp_path, max_workers=1)
    slow = _runtime_of(tmp_path, SLOW, "slow")
    before = _live_children()
    outcome = await pool.run(StepCall("r1", "t/slow", 1, "pid", {"sleep": 0}, slow, 1.0))
    assert outcome.status == "timed_out" and "no worker" in outcome.error
    await asyncio.sleep(0.3)
    assert pool.pools[("t/slow", 1)].size == 0 and pool.total == 0
    assert _live_children() == before, "the half-started worker is still running"
    await pool.close()


async def test_a_run_canceled_again_while_it_finishes_still_gives_its_worker_back(tmp_path, runtime):
    pool = backend(tmp_path, max_workers=1)
    await pool.run(call(0, runtime))
    task = asyncio.create_task(pool.run(call(1, runtime, sleep=5)))
    await asyncio.sleep(0.3)
    for _ in range(50):  # a redelivered cancel lands while the first one is being handled
        task.cancel()
        await asyncio.sleep(0)
    with pytest.raises(asyncio.CancelledError):
        await task
    after = await asyncio.wait_for(pool.run(call(2, runtime)), 20)
    assert after.status == "succeeded", after
    assert pool.pools[("t/pid", 1)].size == 1 and pool.total == 1
    await pool.close()


async def test_a_bad_progress_report_is_ignored_and_the_run_goes_on(tmp_path):
    app = '''import feather as ft

model = ft.Model("noisy")


@model.step(inputs=[ft.Text("text")], outputs=[ft.Text("text")])
def echo(text: str) -> str:
    ft.progress(0.5, "half")
    return text
'''
    pool = backend(tmp_path, max_workers=1)
    noisy = _runtime_of(tmp_path, app, "noisy")
    reports = []
    first = await pool.run(StepCall("r1", "t/noisy", 1, "echo", {"text": "a"}, noisy, 30.0,
                                    on_progress=lambda f, m: reports.append((f, m))))
    second = await pool.run(StepCall("r2", "t/noisy", 1, "echo", {"text": "b"}, noisy, 30.0))
    assert first.status == second.status == "succeeded" and second.outputs == {"text": "b"}
    assert reports == [(0.5, "half")]
    await pool.close()

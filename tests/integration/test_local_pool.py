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

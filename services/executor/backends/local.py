"""Local backend: warm worker processes per model version, fed over pipes.

Each worker is ``python -m feather.runtime.worker`` started with the version's own environment;
it loads the model once and then answers one JSON line per request. A pool keeps up to
``max_workers`` of them per version; runs beyond that wait in order for a free worker.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import deque
from pathlib import Path
from typing import Any

import feather

from services.executor.backends.port import Backend, StepCall, StepOutcome

log = logging.getLogger("feather.executor.local")
SDK_PATH = str(Path(feather.__file__).resolve().parent.parent)
READY_TIMEOUT_S = 120.0


class WorkerDied(RuntimeError):
    pass


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, runtime: dict[str, Any]) -> "Worker":
        app_dir = runtime["app_dir"]
        env = {**os.environ, "PYTHONPATH": SDK_PATH, "PYTHONUNBUFFERED": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        proc = await asyncio.create_subprocess_exec(
            runtime["python"], "-m", "feather.runtime.worker", "--app", str(Path(app_dir) / "app.py"),
            cwd=app_dir, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, limit=64 * 2**20)
        worker = cls(proc)
        hello = await asyncio.wait_for(worker._read(), READY_TIMEOUT_S)
        if hello.get("type") != "ready":
            await worker.kill()
            raise WorkerDied(f"model failed to load: {hello.get('error', hello)}")
        return worker

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            code = await self.proc.wait()
            raise WorkerDied(f"worker exited with code {code}")
        return json.loads(line)

    async def call(self, call: StepCall) -> dict[str, Any]:
        assert self.proc.stdin is not None
        request = {"id": call.run_id, "step": call.step, "inputs": call.inputs, "output_dir": call.output_dir}
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        await self.proc.stdin.drain()
        while True:
            message = await self._read()
            if message.get("type") == "progress":
                if call.on_progress is not None:
                    call.on_progress(message.get("fraction"), str(message.get("message", "")))
                continue
            return message

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        await self.proc.wait()


class Pool:
    """Warm workers of one version. Waiting callers are served first come, first served."""

    def __init__(self, runtime: dict[str, Any], max_workers: int) -> None:
        self.runtime = runtime
        self.max_workers = max_workers
        self.idle: deque[Worker] = deque()
        self.size = 0
        self._free = asyncio.Condition()

    async def acquire(self) -> Worker:
        async with self._free:
            while not self.idle and self.size >= self.max_workers:
                await self._free.wait()
            if self.idle:
                return self.idle.pop()
            self.size += 1
        try:
            return await Worker.start(self.runtime)
        except BaseException:
            async with self._free:
                self.size -= 1
                self._free.notify()
            raise

    async def release(self, worker: Worker) -> None:
        async with self._free:
            if worker.alive:
                self.idle.append(worker)
            else:
                self.size -= 1
            self._free.notify()

    async def close(self) -> None:
        while self.idle:
            await self.idle.pop().kill()


class LocalBackend(Backend):
    def __init__(self, *, max_workers_per_version: int = 2) -> None:
        self.max_workers = max_workers_per_version
        self.pools: dict[tuple[str, int], Pool] = {}

    async def run(self, call: StepCall) -> StepOutcome:
        pool = self.pools.setdefault((call.model_id, call.version), Pool(call.runtime, self.max_workers))
        try:
            worker = await pool.acquire()
        except (WorkerDied, asyncio.TimeoutError, OSError) as exc:
            return StepOutcome("failed", error=str(exc) or "the model's worker could not start")
        try:
            reply = await asyncio.wait_for(worker.call(call), timeout=call.deadline_s)
        except asyncio.TimeoutError:
            await worker.kill()  # a worker past its deadline may hold anything: replace it
            return StepOutcome("timed_out", error=f"the run exceeded its deadline of {call.deadline_s:g}s")
        except (WorkerDied, BrokenPipeError, ConnectionResetError) as exc:
            await worker.kill()
            return StepOutcome("failed", error=f"the model's worker crashed: {exc}")
        except asyncio.CancelledError:
            await worker.kill()  # canceled mid-step: its answer would arrive for the wrong run
            raise
        finally:
            await pool.release(worker)
        if reply.get("ok"):
            return StepOutcome("succeeded", outputs=reply.get("outputs") or {},
                               logs=reply.get("logs", ""), predict_ms=reply.get("predict_ms", 0.0))
        return StepOutcome("failed", error=reply.get("error") or "the step failed",
                           logs=reply.get("logs", ""), predict_ms=reply.get("predict_ms", 0.0),
                           details={"traceback": reply.get("traceback", "")})

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()

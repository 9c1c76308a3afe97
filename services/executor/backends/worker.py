"""One warm worker: ``python -m feather.runtime.worker`` in the model's environment, in a sandbox.

Requests and answers are JSON lines over the worker's stdin and stdout.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import feather

from services.executor.backends.port import StepCall
from services.executor.sandbox import Sandbox

SDK_PATH = str(Path(feather.__file__).resolve().parent.parent)
READY_TIMEOUT_S = 120.0
_ids = itertools.count(1)


class WorkerDied(RuntimeError):
    pass


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process, worker_id: str, scratch: Path, sandbox: Sandbox) -> None:
        self.proc = proc
        self.id = worker_id
        self.scratch = scratch
        self.sandbox = sandbox
        self.last_used = time.monotonic()
        self.runs = 0
        self.over_budget = False
        self.cpu_mark = 0.0  # CPU used when it was last released, the next run's baseline
        self.budget_check: asyncio.TimerHandle | None = None
        self.released = False
        self.stopping = False
        self.inputs_dir = scratch / "run" / "in"
        self.outputs_dir = scratch / "run" / "out"  # where the executor finds what it wrote (set once ready)
        self.outputs_fd: int | None = None  # that folder, held open

    @classmethod
    async def start(cls, runtime: dict[str, Any], sandbox: Sandbox) -> "Worker":
        sandbox.require()
        app_dir = runtime["app_dir"]
        mounts = sandbox.mounts_for(runtime, SDK_PATH) if sandbox.enabled else []
        worker_id = f"w{os.getpid()}-{next(_ids)}"
        scratch = sandbox.scratch(worker_id)
        argv, fds = sandbox.command([runtime["python"], "-m", "feather.runtime.worker", "--app",
                                     str(Path(app_dir) / "app.py")],
                                    runtime_mounts=mounts, scratch=scratch, chdir=app_dir)
        home = "/tmp" if sandbox.enabled else str(scratch / "tmp")
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": SDK_PATH, "PYTHONUNBUFFERED": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "HOME": home, "TMPDIR": home,
               "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # host-specific BLAS fixes still apply
            if name in os.environ:
                env[name] = os.environ[name]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=app_dir, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, limit=64 * 2**20, pass_fds=fds,
                preexec_fn=sandbox.preexec(worker_id))
        except BaseException as exc:
            sandbox.release(worker_id)
            if isinstance(exc, subprocess.SubprocessError):  # the child could not join its limits
                raise WorkerDied(f"the model's worker could not start: {exc}") from None
            raise
        finally:
            for fd in fds:
                os.close(fd)
        worker = cls(proc, worker_id, scratch, sandbox)
        try:
            hello = await asyncio.wait_for(worker._read(), READY_TIMEOUT_S)
            if hello.get("type") != "ready":
                raise WorkerDied(f"the model failed to load: {hello.get('error', hello)}")
            worker.cpu_mark = worker.cpu_seconds()
            worker.outputs_dir, worker.outputs_fd = sandbox.outputs_dir(scratch, proc.pid)
        except BaseException as exc:
            # whatever stopped the start (a failure, or the run's deadline cancelling it) stops
            # the process too: a worker nobody counts must not live on
            await asyncio.shield(worker.kill())
            if isinstance(exc, WorkerDied):
                raise
            if isinstance(exc, (asyncio.TimeoutError, ValueError, OSError, IndexError)):
                raise WorkerDied(f"the model's worker did not start: {exc}") from None
            raise
        return worker

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            line = await self.proc.stdout.readline()
        except ValueError:  # a line past the pipe's limit: the stream is out of step for good
            raise WorkerDied("it sent an answer larger than 64 MiB") from None
        if not line:
            code = await self.proc.wait()
            raise WorkerDied(self._exit_reason(code))
        try:
            message = json.loads(line)
        except ValueError:
            raise WorkerDied("it wrote something that is not protocol JSON") from None
        if not isinstance(message, dict):
            raise WorkerDied("it wrote something that is not protocol JSON")
        return message

    def _exit_reason(self, code: int) -> str:
        if self.sandbox.out_of_memory(self.id):
            return f"it ran out of memory (limit {self.sandbox.limits.memory_mb} MB)"
        if code < 0:
            return f"it was killed by signal {-code}"
        return f"it exited with code {code}"

    async def call(self, call: StepCall, inputs: dict[str, Any], output_dir: str) -> dict[str, Any]:
        request = {"id": call.run_id, "step": call.step, "inputs": inputs, "output_dir": output_dir}
        return await self._exchange(request, [call])

    async def call_batch(self, calls: list[StepCall], inputs: list[dict[str, Any]],
                         output_dir: str) -> list[dict[str, Any]]:
        """Several runs of one batch step in one request: each run's answer, in order, with the
        logs and time of the whole batch."""
        request = {"id": f"batch-{uuid.uuid4().hex}", "step": calls[0].step, "output_dir": output_dir,
                   "batch": [{"id": call.run_id, "inputs": given} for call, given in zip(calls, inputs, strict=True)]}
        message = await self._exchange(request, calls)
        shared = {"logs": message.get("logs", ""), "predict_ms": message.get("predict_ms", 0.0)}
        if not message.get("ok"):  # the request itself was refused: every run fails with it
            return [message] * len(calls)
        results = message.get("results")
        if not isinstance(results, list) or [r.get("id") if isinstance(r, dict) else None for r in results] \
                != [call.run_id for call in calls]:
            raise WorkerDied("it answered a batch with results for other runs")  # never mix runs up
        return [{**result, **shared} for result in results]

    async def _exchange(self, request: dict[str, Any], calls: list[StepCall]) -> dict[str, Any]:
        """Send one request and read to its result; progress goes to every run it serves, and a
        generator step's outputs so far to its one run."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        await self.proc.stdin.drain()
        while True:
            message = await self._read()
            if message.get("type") == "progress":
                fraction = message.get("fraction")
                if message.get("id") == request["id"] and (
                        fraction is None or isinstance(fraction, (int, float)) and 0 <= fraction <= 1):
                    for call in calls:
                        if call.on_progress is not None:
                            call.on_progress(fraction, str(message.get("message", "")))
                continue
            if message.get("type") == "output":
                outputs = message.get("outputs")
                if "batch" not in request and calls[0].on_output is not None and message.get("id") == request["id"] \
                        and isinstance(outputs, dict):
                    calls[0].on_output(outputs)
                continue
            if message.get("id") != request["id"]:  # never hand one run's answer to another
                raise WorkerDied("it answered for another run")
            return message

    def cpu_seconds(self) -> float:
        """CPU time this worker has used since it started, all its processes and threads together."""
        return self.sandbox.cpu_seconds(self.id, self.proc.pid)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and not self.stopping

    async def kill(self) -> None:
        """Stop the worker and remove what it had; once, however often it is asked."""
        if self.alive:
            self.stopping = True  # from now on it serves nobody, even before its exit is seen
            self.proc.kill()
        await self.proc.wait()
        if not self.released:
            self.released = True
            if self.outputs_fd is not None:
                os.close(self.outputs_fd)
                self.outputs_fd = None
            # its processes inside the sandbox may still be going down: their groups are removed
            # when empty, which may take a moment, off the event loop
            await asyncio.to_thread(self.sandbox.release, self.id)

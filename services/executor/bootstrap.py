"""The executor's wiring: the sandbox and backends its settings name, or the ones a test gives."""
from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

from services.contracts import topics
from services.executor import handlers
from services.executor.backends.by_runtime import ByRuntime
from services.executor.backends.local import LocalBackend, PoolConfig
from services.executor.backends.port import Backend
from services.executor.batching import Batcher
from services.executor.limits import Limits
from services.executor.metrics import ExecutorMetrics
from services.executor.runtimes import Runtimes
from services.executor.sandbox import Sandbox
from services.kit.runtime import Service, ServiceContext
from services.kit.settings import Settings


class ExecutorService(Service):
    def __init__(self, ctx: ServiceContext, backend: Backend, sandbox: Sandbox | None) -> None:
        super().__init__(ctx)
        self.sandbox = sandbox
        self._leases: asyncio.Task[None] | None = None
        metrics = ExecutorMetrics(ctx.metrics.registry)
        # as many batches of a step out at once as a version has workers
        self.executor = handlers.Executor(ctx, backend, Runtimes(ctx.store), metrics,
                                          batcher=Batcher(backend, slots=ctx.settings.workers_per_version))

        async def refresh() -> None:
            metrics.runs_in_flight.set(len(self.executor.jobs.tasks))
            for state, count in backend.workers().items():
                metrics.workers.labels(state).set(count)
        ctx.metrics.on_scrape(refresh)

    def subscribe(self) -> None:
        # builds in a group of their own: the runs consumer polls often, and every topic it reads
        # is more work for each of those polls
        self.ctx.bus.subscribe(topics.BUILDS, partial(handlers.on_build, self.executor),
                               group="feather-executor-builds")
        self.ctx.bus.subscribe(topics.RUNS, partial(handlers.on_run, self.executor), urgent=True)

    async def start(self) -> None:
        await handlers.take_over(self.executor)
        self._leases = asyncio.create_task(handlers.keep_leases(self.executor), name="job-leases")

    async def stop(self) -> None:
        if self._leases is not None:
            self._leases.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leases
        await self.executor.jobs.close()
        assert self.executor.batcher is not None
        await self.executor.batcher.close()
        # the runs stopped here go to whichever executor claims them first, without waiting for their leases
        with contextlib.suppress(Exception):
            await self.executor.leases.give_up()
        await self.executor.backend.close()

    def health(self) -> dict[str, Any]:
        return {"sandbox": self.sandbox.health()} if self.sandbox is not None else {}


def sandbox_of(settings: Settings) -> Sandbox:
    limits = Limits(memory_mb=settings.worker_memory_mb, pids=settings.worker_pids, cpus=settings.worker_cpus,
                    run_cpu_s=settings.worker_run_cpu_s, tmp_mb=settings.worker_tmp_mb,
                    output_mb=settings.worker_output_mb, file_mb=settings.worker_file_mb)
    return Sandbox(settings.data_dir / "sandbox", limits, mode=settings.sandbox, worker_uid=settings.worker_uid,
                   worker_user=settings.worker_user, seccomp_python=settings.seccomp_python,
                   forbidden=[settings.data_dir], workers_total=settings.workers_total,
                   runtimes=[settings.data_dir / "envs", settings.data_dir / "code"])


def backends_of(ctx: ServiceContext, sandbox: Sandbox) -> Backend:
    settings = ctx.settings
    config = PoolConfig(min_workers=settings.workers_min, max_workers=settings.workers_per_version,
                        max_total=settings.workers_total, idle_s=settings.worker_idle_s,
                        idle_grace_s=settings.worker_idle_grace_s)
    backends: dict[str, Backend] = {"local": LocalBackend(ctx.blobs, sandbox, config)}
    if settings.runtime_backend == "lambda":
        from services.executor.backends.aws_lambda import LambdaBackend
        backends["lambda"] = LambdaBackend(ctx.blobs, region=settings.aws_region, endpoint_url=settings.aws_endpoint,
                                           payload_bucket=settings.s3_bucket, s3_endpoint_url=settings.s3_endpoint)
    return ByRuntime(backends)


def bootstrap(ctx: ServiceContext, *, backend: Backend | None = None) -> ExecutorService:
    """The executor on ``ctx``; ``backend`` replaces the sandboxed local (and Lambda) backends."""
    sandbox = None
    if backend is None:
        sandbox = sandbox_of(ctx.settings)
        backend = backends_of(ctx, sandbox)
    return ExecutorService(ctx, backend, sandbox)

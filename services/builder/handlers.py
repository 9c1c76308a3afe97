"""The builder turns each published version into a runnable runtime, once."""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

from services.builder import domain
from services.builder.build_log import BuildLog
from services.builder.local_env import LocalEnvironments, unpack_code
from services.contracts import topics
from services.contracts.envelope import Envelope, stable_id
from services.contracts.events import BuildFailed, BuildStarted, ImageBuilt, ModelPublished
from services.contracts.steps import declared_outputs
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query

log = logging.getLogger("feather.builder")


class Builder:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.envs = LocalEnvironments(ctx.settings.data_dir, timeout_s=domain.BUILD_TIMEOUT_S,
                                      find_links=ctx.settings.build_find_links,
                                      max_env_mb=ctx.settings.build_max_env_mb)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.lambda_images = None
        if ctx.settings.runtime_backend == "lambda":
            from services.builder.lambda_image import LambdaImageBuilder
            s = ctx.settings
            self.lambda_images = LambdaImageBuilder(
                role_arn=s.lambda_role_arn or "", region=s.aws_region, endpoint_url=s.aws_endpoint,
                memory_mb=s.lambda_memory_mb, timeout_s=s.lambda_timeout_s, architecture=s.lambda_architecture)

    async def on_model(self, envelope: Envelope) -> None:
        event = envelope.event
        if not isinstance(event, ModelPublished):
            return
        bid = domain.build_id(event.model_id, event.version)
        if await self.ctx.store.get("builds", bid) is None:
            started = BuildStarted(model_id=event.model_id, version=event.version, build_id=bid)
            try:
                await self.ctx.save("builds", bid, {"status": "building",
                                                    "request": event.model_dump(mode="json")},
                                    expected_version=None,
                                    events=[self.ctx.outbox(started, event_id=stable_id(bid, "started"))])
            except Conflict:
                return  # a redelivery raced us; the first one builds
        self.schedule(bid)

    def schedule(self, bid: str) -> None:
        if bid not in self.tasks or self.tasks[bid].done():
            self.tasks[bid] = asyncio.create_task(self.build(bid), name=f"build {bid}")

    async def resume(self) -> None:
        """Builds interrupted by a restart are done again from the start."""
        cursor = None
        while True:
            page = await self.ctx.store.find("builds", Query(where={"status": "building"}, limit=100, cursor=cursor))
            for doc in page.items:
                self.schedule(doc["_id"])
            if not (cursor := page.next_cursor):
                return

    async def build(self, bid: str) -> None:
        doc = await self.ctx.store.get("builds", bid)
        if doc is None or doc["status"] != "building":
            return
        request = ModelPublished.model_validate(doc["request"])
        started = time.perf_counter()
        runtime: dict[str, Any] | None = None
        error = ""
        log_key = f"builds/{request.model_id}/{request.version}/log.txt"
        data_dir = self.ctx.settings.data_dir.resolve()
        hidden = {str(data_dir): "$DATA", str(Path.home()): "~", sys.base_prefix: "$PYTHON"}
        async with BuildLog(self.ctx.blobs, log_key, hidden) as lines:
            lines(f"building {bid} (python {request.python}, {len(request.requirements)} requirements)")
            try:
                bundle = await self.ctx.blobs.get(request.bundle.key)
                if self.lambda_images is not None:
                    runtime = await self.lambda_images.build(request.model_id, request.version, bundle,
                                                             request.requirements, request.python, lines)
                else:
                    runtime = await self._local(request, bundle, lines)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = str(exc) or type(exc).__name__
                lines(f"build failed: {error}")
            duration_ms = (time.perf_counter() - started) * 1000
            lines(f"{'built' if runtime else 'failed'} in {duration_ms / 1000:.1f}s")
        log_ref = await lines.flush()  # after the follower stopped, so this write is the last
        await self._finish(bid, doc, request, runtime, error, log_ref, duration_ms)

    async def _local(self, request: ModelPublished, bundle: bytes, lines: BuildLog) -> dict[str, Any]:
        code_dir = self.ctx.settings.data_dir / "code" / request.owner / request.model_name / str(request.version)
        code_dir.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(unpack_code, bundle, code_dir, max_members=self.ctx.settings.max_bundle_members,
                                max_unpacked_mb=self.ctx.settings.max_bundle_unpacked_mb)
        lines("code unpacked")
        locked = await self.envs.lock(request.requirements, request.python, lines)
        key = domain.env_key(locked.splitlines(), request.python)
        env = await self.envs.ensure(key, locked, request.python, lines)
        return {"backend": "local", "python": str(env.python), "env_dir": str(env.path), "app_dir": str(code_dir),
                "interpreter": env.interpreter, "env_key": key, "reused": env.reused}

    async def _finish(self, bid: str, doc: dict[str, Any], request: ModelPublished, runtime: dict[str, Any] | None,
                      error: str, log_ref: Any, duration_ms: float) -> None:
        if runtime is not None:
            # what each step may return, so the executor passes on nothing else
            runtime = {**runtime, "outputs": declared_outputs(request.manifest)}
            outcome = ImageBuilt(model_id=request.model_id, version=request.version, build_id=bid,
                                 runtime=runtime, log=log_ref, duration_ms=duration_ms,
                                 reused=bool(runtime.get("reused", False)))
        else:
            outcome = BuildFailed(model_id=request.model_id, version=request.version, build_id=bid,
                                  error=error, log=log_ref)
        await self.ctx.save("builds", bid, {**doc, "status": "ready" if runtime else "failed",
                                            "runtime": runtime, "error": error or None},
                            expected_version=doc["_v"],
                            events=[self.ctx.outbox(outcome, event_id=stable_id(bid, "outcome"))])
        log.info("build %s: %s in %.0f ms", bid, "ready" if runtime else f"failed ({error})", duration_ms)




def subscribe(ctx: ServiceContext) -> None:
    builder = Builder(ctx)
    ctx.state["builder"] = builder
    ctx.bus.subscribe(topics.MODELS, builder.on_model)

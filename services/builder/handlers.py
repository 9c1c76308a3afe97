"""The builder's use cases: each published version becomes a runnable runtime, once.

Plain functions of ``Builder``, the dependencies ``bootstrap`` wires.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Histogram

from services.builder import domain
from services.builder.build_log import BuildLog
from services.builder.runtimes import RuntimeMaker
from services.contracts.envelope import Envelope, stable_id
from services.contracts.events import BuildFailed, BuildStarted, ImageBuilt, ModelPublished
from services.contracts.steps import declared_batches, declared_outputs
from services.kit.runtime import ServiceContext
from services.kit.store import Conflict, Query

log = logging.getLogger("feather.builder")


@dataclass
class Builder:
    """What the builder's handlers work with."""
    ctx: ServiceContext
    runtimes: RuntimeMaker
    build_seconds: Histogram  # by outcome: built or failed
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # the builds under way here


async def on_model(b: Builder, envelope: Envelope) -> None:
    event = envelope.event
    if not isinstance(event, ModelPublished):
        return
    bid = domain.build_id(event.model_id, event.version)
    if await b.ctx.store.get("builds", bid) is None:
        started = BuildStarted(model_id=event.model_id, version=event.version, build_id=bid)
        try:
            await b.ctx.save("builds", bid, {"status": "building", "request": event.model_dump(mode="json")},
                             expected_version=None,
                             events=[b.ctx.outbox(started, event_id=stable_id(bid, "started"))])
        except Conflict:
            return  # a redelivery raced us; the first one builds
    schedule(b, bid)


def schedule(b: Builder, bid: str) -> None:
    if bid not in b.tasks or b.tasks[bid].done():
        b.tasks[bid] = asyncio.create_task(build(b, bid), name=f"build {bid}")


async def resume(b: Builder) -> None:
    """Builds interrupted by a restart are done again from the start."""
    cursor = None
    while True:
        page = await b.ctx.store.find("builds", Query(where={"status": "building"}, limit=100, cursor=cursor))
        for doc in page.items:
            schedule(b, doc["_id"])
        if not (cursor := page.next_cursor):
            return


async def build(b: Builder, bid: str) -> None:
    doc = await b.ctx.store.get("builds", bid)
    if doc is None or doc["status"] != "building":
        return
    request = ModelPublished.model_validate(doc["request"])
    started = time.perf_counter()
    runtime: dict[str, Any] | None = None
    error = ""
    log_key = f"builds/{request.model_id}/{request.version}/log.txt"
    data_dir = b.ctx.settings.data_dir.resolve()
    hidden = {str(data_dir): "$DATA", str(Path.home()): "~", sys.base_prefix: "$PYTHON"}
    async with BuildLog(b.ctx.blobs, log_key, hidden) as lines:
        lines(f"building {bid} (python {request.python}, {len(request.requirements)} requirements)")
        try:
            bundle = await b.ctx.blobs.get(request.bundle.key)
            runtime = await b.runtimes.make(request, bundle, lines)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            lines(f"build failed: {error}")
        duration_ms = (time.perf_counter() - started) * 1000
        lines(f"{'built' if runtime else 'failed'} in {duration_ms / 1000:.1f}s")
    log_ref = await lines.flush()  # after the follower stopped, so this write is the last
    await finish(b, doc, request, runtime, error, log_ref, duration_ms)


async def finish(b: Builder, doc: dict[str, Any], request: ModelPublished, runtime: dict[str, Any] | None,
                 error: str, log_ref: Any, duration_ms: float) -> None:
    """Record the build's outcome and announce it (ImageBuilt or BuildFailed) in one write."""
    bid = doc["_id"]
    if runtime is not None:
        # what each step may return, so the executor passes on nothing else, and which take batches
        runtime = {**runtime, "outputs": declared_outputs(request.manifest),
                   "batches": declared_batches(request.manifest)}
        outcome: ImageBuilt | BuildFailed = ImageBuilt(
            model_id=request.model_id, version=request.version, build_id=bid, runtime=runtime, log=log_ref,
            duration_ms=duration_ms, reused=bool(runtime.get("reused", False)))
    else:
        outcome = BuildFailed(model_id=request.model_id, version=request.version, build_id=bid,
                              error=error, log=log_ref)
    await b.ctx.save("builds", bid, {**doc, "status": "ready" if runtime else "failed",
                                     "runtime": runtime, "error": error or None},
                     expected_version=doc["_v"], events=[b.ctx.outbox(outcome, event_id=stable_id(bid, "outcome"))])
    b.build_seconds.labels("built" if runtime else "failed").observe(duration_ms / 1000)
    log.info("build %s: %s in %.0f ms", bid, "ready" if runtime else f"failed ({error})", duration_ms)

"""The builder's use cases, through the bus: one build per version, and what each outcome announces."""
from __future__ import annotations

import asyncio
from functools import partial

from harness import publish, started

from services.builder.bootstrap import bootstrap
from services.builder.runtimes import RuntimeMaker
from services.contracts.events import BuildFailed, BuildStarted, ImageBuilt, ModelPublished

MANIFEST = {"name": "m", "steps": [{"name": "echo", "inputs": [], "outputs": [{"name": "text", "kind": "text"}],
                                    "input_schema": {"type": "object"}}]}


class Scripted(RuntimeMaker):
    def __init__(self, error: str | None = None) -> None:
        self.error = error
        self.made: list[int] = []

    async def make(self, request, bundle, log):
        self.made.append(request.version)
        log("installing nothing")
        await asyncio.sleep(0.05)
        if self.error:
            raise RuntimeError(self.error)
        return {"backend": "scripted", "bundle_bytes": len(bundle)}


async def published(service, version: int = 1) -> ModelPublished:
    ref = await service.ctx.blobs.put(f"bundles/t/m/{version}.tar.gz", b"bundle", "application/gzip")
    return ModelPublished(model_id="t/m", owner="t", model_name="m", version=version, manifest=MANIFEST, bundle=ref)


async def test_a_version_is_built_once_however_often_it_is_published(tmp_path):
    maker = Scripted()
    async with started("builder", partial(bootstrap, runtimes=maker), tmp_path) as (service, events):
        event = await published(service)
        for _ in range(3):
            await publish(service, event)
        built = await events.first(ImageBuilt)
        await asyncio.sleep(0.2)
        doc = await service.ctx.store.get("builds", "t/m@1")
        log = (await service.ctx.blobs.get(built.log.key)).decode()
    assert maker.made == [1] and len(events.of(ImageBuilt)) == 1 and len(events.of(BuildStarted)) == 1
    # the executor passes on only the outputs the manifest declares, and batches the steps it says
    assert built.runtime == {"backend": "scripted", "bundle_bytes": 6, "outputs": {"echo": ["text"]}, "batches": {}}
    assert doc["status"] == "ready" and "installing nothing" in log and "built in" in log


async def test_a_failed_build_says_why_in_the_event_and_the_log(tmp_path):
    async with started("builder", partial(bootstrap, runtimes=Scripted("no such package: nump")),
                       tmp_path) as (service, events):
        await publish(service, await published(service))
        failed = await events.first(BuildFailed)
        doc = await service.ctx.store.get("builds", "t/m@1")
        log = (await service.ctx.blobs.get(failed.log.key)).decode()
    assert failed.error == "no such package: nump" and doc["status"] == "failed"
    assert "build failed: no such package: nump" in log
    assert events.of(ImageBuilt) == []


async def test_a_build_interrupted_by_a_restart_is_done_again(tmp_path):
    maker = Scripted()
    async with started("builder", partial(bootstrap, runtimes=Scripted()), tmp_path) as (first, _):
        request = await published(first, version=2)
        await first.ctx.store.save("builds", "t/m@2", {"status": "building", "request": request.model_dump(mode="json")},
                                   expected_version=None)
    async with started("builder", partial(bootstrap, runtimes=maker), tmp_path) as (service, events):
        built = await events.first(ImageBuilt)
    assert built.version == 2 and maker.made == [2]

"""Events that change what code runs or what a caller sees are handled only when their producer
signed them: a forged ImageBuilt, RunCompleted or ModelUpdated is dead-lettered and changes
nothing. Each test first shows the forgery that used to get through, then the signed event that
still does."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from functools import partial

import pytest
from harness import publish, started

from services.contracts.envelope import codec
from services.contracts.events import ImageBuilt, ModelPublished, ModelUpdated, RunCompleted
from services.contracts.blobs import BlobRef
from services.executor.backends.port import Backend, StepCall, StepOutcome
from services.executor.bootstrap import bootstrap as executor_bootstrap
from services.gateway.bootstrap import bootstrap as gateway_bootstrap
from services.kit.identity import Identity, new_key_pair
from services.kit.settings import Settings

MANIFEST = {"manifest_version": 1, "name": "m", "steps": [{"name": "echo", "inputs": [], "outputs": [
    {"name": "text", "kind": "text"}], "input_schema": {"type": "object"}, "interactive": []}]}


class Echo(Backend):
    def __init__(self) -> None:
        self.calls: list[StepCall] = []

    async def run(self, call: StepCall) -> StepOutcome:
        self.calls.append(call)
        return StepOutcome("succeeded", outputs={"text": "hi"})


async def forge(service, event, *, source: str, key: Identity | None = None, tamper: bool = False) -> None:
    """Put ``event`` on the bus claiming ``source``, signed with ``key`` (or not at all)."""
    headers, body = codec.encode(event, source=f"feather/{source}", sign=None if key is None else key.sign)
    if tamper:
        body = body.replace(b'"private"', b'"public"')
    await service.ctx.bus.publish_raw(event.topic, event.key(), headers, body)


def stranger(name: str, tmp_path) -> Identity:
    """A key that claims to be ``name`` but is not the one this platform knows."""
    private, _ = new_key_pair()
    return Identity.of(name, Settings(data_dir=tmp_path / "elsewhere", service_key=private))


@pytest.mark.parametrize("how", ["unsigned", "signed by another key", "sent by another service", "tampered"])
async def test_a_forged_image_built_does_not_repoint_a_version(tmp_path, how) -> None:
    backend = Echo()
    async with started("executor", partial(executor_bootstrap, backend=backend), tmp_path) as (service, events):
        runtime = {"backend": "local", "python": "/usr/bin/python3", "app_dir": "/tmp/evil"}
        forged = ImageBuilt(model_id="t/m", version=1, build_id="t/m@1", runtime=runtime)
        if how == "unsigned":
            await forge(service, forged, source="builder")
        elif how == "signed by another key":
            await forge(service, forged, source="builder", key=stranger("builder", tmp_path))
        elif how == "sent by another service":
            await publish(service, forged, sender="gateway")
        else:  # the builder's real signature, over a body that was then changed
            honest = ImageBuilt(model_id="t/m", version=1, build_id="t/m@1", runtime={"backend": "scripted", "x": 1})
            headers, _ = codec.encode(honest, source="feather/builder", sign=Identity.of("builder", service.ctx.settings).sign)
            await service.ctx.bus.publish_raw(forged.topic, forged.key(), headers, forged.model_dump_json().encode())
        await publish(service, ImageBuilt(model_id="t/m", version=2, build_id="t/m@2", runtime={"backend": "scripted"}))
        await asyncio.wait_for(_recorded(service, "t/m@2"), 10)  # the signed one, sent after, is in
        assert await service.ctx.store.get("runtimes", "t/m@1") is None


async def test_a_signed_runtime_outside_the_data_folder_is_refused_and_one_inside_runs(tmp_path) -> None:
    backend = Echo()
    async with started("executor", partial(executor_bootstrap, backend=backend), tmp_path) as (service, events):
        outside = {"backend": "local", "python": "/usr/bin/python3", "app_dir": str(tmp_path / ".." / "x")}
        await publish(service, ImageBuilt(model_id="t/m", version=1, build_id="t/m@1", runtime=outside))
        inside = {"backend": "scripted", "python": str(tmp_path / "envs" / "e" / "bin" / "python"),
                  "app_dir": str(tmp_path / "code" / "t" / "m" / "2")}
        await publish(service, ImageBuilt(model_id="t/m", version=2, build_id="t/m@2", runtime=inside))
        await asyncio.wait_for(_recorded(service, "t/m@2"), 10)
        assert await service.ctx.store.get("runtimes", "t/m@1") is None
        assert (await service.ctx.store.get("runtimes", "t/m@2"))["runtime"] == inside


async def _recorded(service, key: str) -> None:
    while await service.ctx.store.get("runtimes", key) is None:
        await asyncio.sleep(0.02)


async def _eventually(check, timeout: float = 10) -> None:
    async def loop() -> None:
        while not await check():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(loop(), timeout)


async def test_a_forged_model_update_does_not_make_a_private_model_public(tmp_path) -> None:
    async with started("gateway", gateway_bootstrap, tmp_path) as (service, events):
        store = service.ctx.store
        await publish(service, ModelPublished(model_id="ann/m", owner="ann", model_name="m", version=1,
                                              manifest=MANIFEST, bundle=BlobRef(key="b", size=1, sha256="0" * 64)))
        await publish(service, ModelUpdated(model_id="ann/m", visibility="private"))
        await _eventually(lambda: _visibility(store, "private"))
        await forge(service, ModelUpdated(model_id="ann/m", visibility="public"), source="registry")
        await forge(service, ModelUpdated(model_id="ann/m", visibility="public"), source="registry",
                    key=stranger("registry", tmp_path))
        await publish(service, ModelUpdated(model_id="ann/m", visibility="public"), sender="executor")
        await forge(service, ModelUpdated(model_id="ann/m", visibility="private"), source="registry",
                    key=Identity.of("registry", service.ctx.settings), tamper=True)
        await asyncio.sleep(0.5)
        assert await _visibility(store, "private")
        await publish(service, ModelUpdated(model_id="ann/m", description="signed"))  # the real one goes through
        await _eventually(lambda: _description(store, "signed"))
        assert await _visibility(store, "private")


async def _visibility(store, wanted: str) -> bool:
    doc = await store.get("models", "ann/m")
    return doc is not None and doc.get("visibility") == wanted


async def _description(store, wanted: str) -> bool:
    doc = await store.get("models", "ann/m")
    return doc is not None and doc.get("description") == wanted


async def test_a_forged_run_completed_does_not_rewrite_what_the_caller_sees(tmp_path) -> None:
    async with started("gateway", gateway_bootstrap, tmp_path) as (service, events):
        store = service.ctx.store
        now = datetime.now(timezone.utc)
        await store.save("runs", "r1", {"model_id": "ann/m", "version": 1, "step": "echo", "status": "queued",
                                        "created_at": now.isoformat()}, expected_version=None)
        lie = RunCompleted(run_id="r1", model_id="ann/m", version=1, step="echo", status="succeeded",
                           outputs={"text": "a lie"}, requested_at=now)
        await forge(service, lie, source="executor")
        await forge(service, lie, source="executor", key=stranger("executor", tmp_path))
        await publish(service, lie, sender="telemetry")
        await asyncio.sleep(0.5)
        assert await _status(store, "queued")
        await publish(service, RunCompleted(run_id="r1", model_id="ann/m", version=1, step="echo",
                                            status="succeeded", outputs={"text": "true"}, requested_at=now))
        await _eventually(lambda: _status(store, "succeeded"))
        assert (await store.get("runs", "r1"))["outputs"] == {"text": "true"}


async def _status(store, wanted: str) -> bool:
    doc = await store.get("runs", "r1")
    return doc is not None and doc.get("status") == wanted

"""Publishing: a version per distinct bundle, retried when another publish of the model wins the race."""
from __future__ import annotations

import io
import json
import tarfile

import pytest
from harness import started

from services.contracts.events import ModelPublished
from services.kit.store import Conflict
from services.registry import services
from services.registry.bootstrap import bootstrap
from services.registry.services import Refused

MANIFEST = {"manifest_version": 1, "name": "m", "steps": [{"name": "echo", "inputs": [], "outputs": [{"name": "text", "kind": "text"}],
                                    "input_schema": {"type": "object"}}]}


def bundle(description: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in (("feather.json", json.dumps({**MANIFEST, "description": description}).encode()),
                           ("app.py", b"import feather\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def publish(ctx, data: bytes) -> dict:
    return await services.publish(ctx, "ann", data, await services.parse(ctx, data))


class Racing:
    """A store on which, just before this publish writes the model, another publish writes it first."""

    def __init__(self, store, other) -> None:
        self.store, self.other, self.lost = store, other, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def save(self, collection, key, doc, **kwargs):
        if collection == "models" and self.other is not None:
            other, self.other = self.other, None
            await other()
        try:
            return await self.store.save(collection, key, doc, **kwargs)
        except Conflict:
            self.lost += 1
            raise


async def test_a_publish_that_loses_the_race_becomes_the_next_version(tmp_path):
    async with started("registry", bootstrap, tmp_path) as (service, events):
        ctx = service.ctx
        real = ctx.store
        racing = Racing(real, lambda: publish(ctx, bundle("first")))  # the other publish's writes go through
        ctx.store = racing
        answer = await publish(ctx, bundle("second"))
        ctx.store = real
        model = await real.get("models", "ann/m")
        versions = [await real.get("versions", f"ann/m@{n}") for n in (1, 2)]
        announced = [await events.first(ModelPublished, lambda e, n=n: e.version == n) for n in (1, 2)]
    assert racing.lost == 1 and answer["version"] == 2 and answer["created"]
    assert model["latest_version"] == 2 and model["description"] == "second"
    assert [v["status"] for v in versions] == ["building", "building"]
    assert [e.description for e in announced] == ["first", "second"]


async def test_the_same_bundle_again_is_no_new_version(tmp_path):
    async with started("registry", bootstrap, tmp_path) as (service, _):
        first = await publish(service.ctx, bundle("same"))
        again = await publish(service.ctx, bundle("same"))
    assert first["version"] == again["version"] == 1 and not again["created"]


async def test_a_publish_that_keeps_losing_is_refused_with_409(tmp_path):
    class AlwaysLosing(Racing):
        async def save(self, collection, key, doc, **kwargs):
            if collection == "models":
                raise Conflict(key)
            return await self.store.save(collection, key, doc, **kwargs)

    async with started("registry", bootstrap, tmp_path) as (service, _):
        real = service.ctx.store
        service.ctx.store = AlwaysLosing(real, None)
        with pytest.raises(Refused) as refused:
            await publish(service.ctx, bundle("x"))
        service.ctx.store = real
        assert await real.get("models", "ann/m") is None
    assert refused.value.status == 409


async def test_quotas_refuse_a_model_past_the_limit(tmp_path):
    async with started("registry", bootstrap, tmp_path, quota_versions=1) as (service, _):
        await publish(service.ctx, bundle("one"))
        with pytest.raises(Refused) as refused:
            await publish(service.ctx, bundle("two"))
    assert refused.value.status == 403 and "at most 1 versions" in refused.value.reason

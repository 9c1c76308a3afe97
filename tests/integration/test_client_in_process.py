"""feather.AsyncClient against the real gateway app, in-process (httpx ASGI transport), over Tansu.

The gateway learns about the model the way it always does, from ModelPublished and ImageBuilt
on the bus; no executor runs here, so runs stay queued and can be canceled.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

import feather
from services.contracts.blobs import BlobRef
from services.contracts.events import ImageBuilt, ModelPublished
from services.gateway.app import create_app
from services.gateway.sweeper import GRACE_S, sweep_once
from services.kit.bus import Bus
from services.kit.settings import Settings
from senders import send_as_producer

TOKEN = "ft_in_process_token"
MANIFEST = {
    "manifest_version": 1, "name": "greeter", "description": "says hello", "python": "3.11",
    "steps": [{
        "name": "greet", "description": None, "interactive": [],
        "inputs": [{"name": "name", "kind": "text", "label": "Name", "description": None, "required": True,
                    "default": None, "props": {"max_length": 5}, "schema": {"type": "string", "maxLength": 5}}],
        "outputs": [{"name": "greeting", "kind": "text", "label": "Greeting", "description": None, "props": {},
                     "schema": {"type": "string"}}],
        "input_schema": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}},
                         "required": ["name"], "additionalProperties": False},
    }],
}


async def test_async_client_against_the_gateway_app(tansu, tmp_path):
    settings = Settings(kafka_bootstrap=tansu.bootstrap, kafka_idempotence=False, data_dir=tmp_path,
                        kafka_session_timeout_ms=3000, admin_user="ann", admin_token=TOKEN)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.service.ctx
        await asyncio.wait_for(ctx.bus_ready.wait(), 60)
        bus = Bus(settings, "test-registry")
        await bus.start()
        try:
            ref = BlobRef(key="bundles/ann/greeter/1.tar.gz", size=1, sha256="0" * 64)
            await send_as_producer(bus, ModelPublished(model_id="ann/greeter", owner="ann", model_name="greeter", version=1,
                                             description="says hello", manifest=MANIFEST, bundle=ref))
            await send_as_producer(bus, ImageBuilt(model_id="ann/greeter", version=1, build_id="ann/greeter@1",
                                         runtime={"backend": "local"}))
        finally:
            await bus.stop()

        transport = httpx.ASGITransport(app=app)
        async with feather.AsyncClient("http://gateway.test", token=TOKEN, transport=transport) as client:
            assert (await client.me())["username"] == "ann"
            for _ in range(200):
                try:
                    if (await client.model("ann/greeter"))["status"] == "ready":
                        break
                except feather.NotFound:
                    pass
                await asyncio.sleep(0.05)
            model = await client.model("ann/greeter")
            assert model["status"] == "ready" and model["manifest"]["steps"][0]["name"] == "greet"

            with pytest.raises(feather.InvalidInput) as caught:
                await client.submit("ann/greeter", name="far too long")
            assert caught.value.field == "name"
            with pytest.raises(feather.NotFound):
                await client.model("ann/nothing")

            job = await client.submit("ann/greeter", name="Bo")
            assert (await job.status()) == "queued"
            canceled = await client.cancel(job.id)
            assert canceled.id == job.id

            # nothing executes here: past its deadline the sweeper ends the run, so it is never stuck
            stuck = await client.submit("ann/greeter", name="Cy")
            assert await sweep_once(ctx) == 0  # not late yet
            later = datetime.now(timezone.utc) + timedelta(seconds=300 + GRACE_S + 1)
            assert await sweep_once(ctx, now=later) >= 1
            ended = await client.get_run(stuck.id)
            assert ended.status == "timed_out" and "deadline" in ended.error

            uploaded = await client.upload(b"some bytes", name="data.bin")
            assert uploaded["url"].startswith("feather:files/")
            assert await client.download(uploaded) == b"some bytes"

        anonymous = feather.AsyncClient("http://gateway.test", token=None, transport=httpx.ASGITransport(app=app))
        async with anonymous:
            with pytest.raises(feather.Unauthorized):
                await anonymous.me()

"""The ``api`` fixture: one HTTP API, served three ways, each with the model ``spell/app.py``.

- ``gateway``: the real gateway in-process, with the real executor in-process running the model
  in warm workers (sandbox off: the sandbox is not what these tests are about), both on the
  embedded broker; the test publishes the registry's and builder's events itself.
- ``dev``: ``feather dev``'s preview server, in-process.
- ``fake``: the fake platform the SDK's tests run against.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import feather.runtime
import httpx
import pytest
from feather._bundle import pack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "sdk"))
from sdk_fake_platform import TOKEN, make_platform  # noqa: E402

from services.builder.local_env import unpack_code  # noqa: E402
from services.contracts.blobs import BlobRef  # noqa: E402
from services.contracts.events import ImageBuilt, ModelPublished  # noqa: E402
from services.contracts.steps import declared_outputs  # noqa: E402
from services.kit.bus import Bus  # noqa: E402
from services.kit.settings import Settings  # noqa: E402
from services.local.dev import create_dev_app  # noqa: E402
from senders import host_interpreter_in, send_as_producer

APP = Path(__file__).resolve().parent / "spell" / "app.py"
TARGETS = ("gateway", "dev", "fake")


@dataclass
class Api:
    name: str
    http: httpx.AsyncClient
    model: str  # owner/name the model is served as

    @property
    def runs(self) -> str:
        return f"/v1/models/{self.model}/runs"


@contextlib.asynccontextmanager
async def _gateway(tmp_path: Path, bootstrap: str) -> AsyncIterator[Api]:
    from services.executor.app import create_app as executor_app
    from services.gateway.app import create_app as gateway_app

    settings = Settings(data_dir=tmp_path / "data", kafka_bootstrap=bootstrap, kafka_idempotence=False,
                        kafka_session_timeout_ms=3000, sandbox="off",
                        instance_id=uuid.uuid4().hex[:8])
    gateway, executor = gateway_app(settings), executor_app(settings)
    code = tmp_path / "data" / "code" / "spell"
    unpack_code(pack(APP), code)
    manifest = feather.runtime.load(APP).model.manifest()
    async with gateway.router.lifespan_context(gateway), executor.router.lifespan_context(executor):
        for app in (gateway, executor):
            await asyncio.wait_for(app.state.service.ctx.bus_ready.wait(), 60)
        model_id = f"api-{uuid.uuid4().hex[:6]}/spell"  # the broker outlives each test
        owner = model_id.split("/")[0]
        bus = Bus(settings, "test-registry")
        await bus.start()
        try:
            ref = BlobRef(key="bundles/none", size=1, sha256="0" * 64)
            await send_as_producer(bus, ModelPublished(model_id=model_id, owner=owner, model_name="spell", version=1,
                                             manifest=manifest, bundle=ref))
            runtime = {"backend": "local", "python": host_interpreter_in(settings.data_dir), "app_dir": str(code),
                       "outputs": declared_outputs(manifest)}
            await send_as_producer(bus, ImageBuilt(model_id=model_id, version=1, build_id=f"{model_id}@1", runtime=runtime))
        finally:
            await bus.stop()
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            for _ in range(400):
                if (await http.get(f"/v1/models/{model_id}")).json().get("status") == "ready":
                    break
                await asyncio.sleep(0.05)
            yield Api("gateway", http, model_id)


@contextlib.asynccontextmanager
async def _dev() -> AsyncIterator[Api]:
    app = create_dev_app(APP)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:7860") as http:
            yield Api("dev", http, "dev/spell")


@contextlib.asynccontextmanager
async def _fake(tmp_path: Path) -> AsyncIterator[Api]:
    app, _ = make_platform(tmp_path)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fake.test",
                                 headers=headers) as http:
        published = await http.post("/v1/models", files={"bundle": ("b.tar.gz", pack(APP), "application/gzip")})
        assert published.status_code == 201, published.text
        yield Api("fake", http, "ann/spell")


@pytest.fixture(params=TARGETS)
async def api(request, tmp_path) -> AsyncIterator[Api]:
    if request.param == "gateway":
        target = _gateway(tmp_path, request.getfixturevalue("tansu").bootstrap)
    elif request.param == "dev":
        target = _dev()
    else:
        target = _fake(tmp_path)
    async with target as served:
        yield served

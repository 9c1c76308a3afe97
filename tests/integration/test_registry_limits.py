"""The registry app, in-process (httpx ASGI transport), refusing oversize bundles with 413.

No broker runs here: the refusals happen before anything is stored or published, and the one
bundle that is accepted leaves its event in the outbox.
"""
from __future__ import annotations

import io
import json
import tarfile

import httpx
import pytest
from streams import Zeros, longest_stall

from services.kit.identity import Identity
from services.kit.settings import Settings
from services.local.platform import free_port
from services.registry.app import create_app

MANIFEST = {"manifest_version": 1, "name": "hello",
            "steps": [{"name": "greet", "input_schema": {"type": "object"}, "outputs": [{"name": "g"}]}]}


def bundle(*zeros: tuple[str, int], requirements: bytes | None = b"numpy>=2\n") -> bytes:
    out = io.BytesIO()
    files = {"feather.json": json.dumps(MANIFEST).encode(), "app.py": b"x = 1\n"}
    if requirements is not None:
        files["requirements.txt"] = requirements
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, size in zeros:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, Zeros(size))
    return out.getvalue()


@pytest.fixture
async def registry(tmp_path):
    # a port nothing listens on: the bus keeps retrying in the background, the API serves
    # an unpacked limit high enough that a bomb takes the parser about a second to reach its end
    settings = Settings(data_dir=tmp_path, kafka_bootstrap=f"127.0.0.1:{free_port()}", max_bundle_mb=1,
                        max_bundle_unpacked_mb=1024)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://registry.test",
                                     headers=Identity.of("gateway", settings).headers("registry", "ann"),
                                     timeout=60) as client:
            yield client


async def publish(client: httpx.AsyncClient, data: bytes) -> httpx.Response:
    return await client.post("/internal/models", files={"bundle": ("bundle.tar.gz", data, "application/gzip")})


async def test_a_normal_bundle_is_still_published(registry):
    answer = await publish(registry, bundle())
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "hello" and answer.json()["version"] == 1


async def test_an_upload_over_the_limit_is_refused(registry):
    answer = await publish(registry, bytes(2**20 + 1000))  # within the body's allowance, over the bundle's
    assert answer.status_code == 413, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "bundle"] and problem["type"] == "too_large"
    assert "bundle: larger than 1 MiB" in problem["msg"]


async def test_a_gzip_bomb_is_refused_while_the_event_loop_keeps_serving(registry):
    # 400 MiB of zeros to inflate (within the unpacked limit) before a 64 MiB requirements.txt
    data = bundle(("weights.bin", 400 * 2**20), ("requirements.txt", 64 * 2**20), requirements=None)
    assert len(data) < 2**20
    answer, stall, _ = await longest_stall(publish(registry, data))
    assert answer.status_code == 413, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "bundle", "requirements.txt"] and problem["type"] == "too_large"
    assert "larger than 64 KiB" in problem["msg"]
    # parsing ran on a worker thread: the loop was never held for long (generous for a busy machine)
    assert stall < 0.5
